//! The merchant's WeChat Pay settings, from a TOML file named by `wechatpay_config`. Key files
//! are read relative to that file. An incomplete file means the provider is not offered.

use std::path::Path;

use serde::Deserialize;

use super::crypto;
use crate::pay::signing::{PrivateKey, PublicKey};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    mchid: Option<String>,
    appid: Option<String>,
    app_secret: Option<String>,
    merchant_serial_no: Option<String>,
    private_key_file: Option<String>,
    api_v3_key: Option<String>,
    platform_certificate_file: Option<String>,
    public_key_file: Option<String>,
    public_key_id: Option<String>,
    base_url: Option<String>,
    oauth_authorize_url: Option<String>,
    oauth_api_url: Option<String>,
    /// The open platform's website application (PC QR sign-in, snsapi_login).
    web_appid: Option<String>,
    web_secret: Option<String>,
    qrconnect_url: Option<String>,
}

/// How the platform's signatures are verified: merchants have either a platform certificate
/// or (since 2024) the WeChat Pay public key with its id.
#[derive(Clone)]
pub enum PlatformKey {
    Certificate { serial: String, key: PublicKey },
    PublicKey { id: String, key: PublicKey },
}

impl PlatformKey {
    /// The key for the `Wechatpay-Serial` a message names, if it is ours.
    pub fn key_for(&self, serial: &str) -> Option<&PublicKey> {
        match self {
            PlatformKey::Certificate { serial: s, key } | PlatformKey::PublicKey { id: s, key } => {
                (s.eq_ignore_ascii_case(serial)).then_some(key)
            }
        }
    }
}

#[derive(Clone)]
pub struct WechatConfig {
    pub mchid: String,
    pub appid: String,
    /// The official account's secret, for the payer's openid (JSAPI); without it JSAPI is off.
    pub app_secret: Option<String>,
    pub serial_no: String,
    pub private_key: PrivateKey,
    pub api_v3_key: Vec<u8>,
    pub platform: PlatformKey,
    pub base_url: String,
    pub oauth_authorize_url: String,
    pub oauth_api_url: String,
    /// The website application's appid and secret: the PC QR sign-in, which gives the same
    /// unionid as the official account and the mini program.
    pub web_app: Option<(String, String)>,
    pub qrconnect_url: String,
    pub notify_url: String,
}

/// Reads the file; the error says in plain words what is missing or wrong.
pub fn load(path: &Path, public_url: &str) -> Result<WechatConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let read = |name: &str, value: &Option<String>| -> Result<String, String> {
        let file = value.as_deref().ok_or_else(|| format!("{name} is missing"))?;
        std::fs::read_to_string(dir.join(file)).map_err(|e| format!("{name}: cannot read {file}: {e}"))
    };
    let need = |name: &str, value: Option<String>| {
        value.filter(|v| !v.trim().is_empty()).ok_or_else(|| format!("{name} is missing"))
    };
    let api_v3_key = need("api_v3_key", file.api_v3_key)?;
    if api_v3_key.len() != 32 {
        return Err("api_v3_key must be exactly 32 characters".into());
    }
    let private_key =
        crypto::private_key_from_pem(&read("private_key_file", &file.private_key_file)?).map_err(|e| e.to_string())?;
    let platform = match (&file.platform_certificate_file, &file.public_key_file) {
        (Some(_), _) => {
            let (serial, key) =
                crypto::certificate_from_pem(&read("platform_certificate_file", &file.platform_certificate_file)?)
                    .map_err(|e| e.to_string())?;
            PlatformKey::Certificate { serial, key }
        }
        (None, Some(_)) => PlatformKey::PublicKey {
            id: need("public_key_id", file.public_key_id)?,
            key: crypto::public_key_from_pem(&read("public_key_file", &file.public_key_file)?)
                .map_err(|e| e.to_string())?,
        },
        (None, None) => {
            return Err("either platform_certificate_file or public_key_file (with public_key_id) is needed".into());
        }
    };
    Ok(WechatConfig {
        mchid: need("mchid", file.mchid)?,
        appid: need("appid", file.appid)?,
        app_secret: file.app_secret.filter(|s| !s.is_empty()),
        serial_no: need("merchant_serial_no", file.merchant_serial_no)?,
        private_key,
        api_v3_key: api_v3_key.into_bytes(),
        platform,
        base_url: file.base_url.unwrap_or_else(|| "https://api.mch.weixin.qq.com".into()).trim_end_matches('/').into(),
        oauth_authorize_url: file
            .oauth_authorize_url
            .unwrap_or_else(|| "https://open.weixin.qq.com/connect/oauth2/authorize".into()),
        oauth_api_url: file
            .oauth_api_url
            .unwrap_or_else(|| "https://api.weixin.qq.com".into())
            .trim_end_matches('/')
            .into(),
        web_app: file.web_appid.filter(|s| !s.is_empty()).zip(file.web_secret.filter(|s| !s.is_empty())),
        qrconnect_url: file.qrconnect_url.unwrap_or_else(|| "https://open.weixin.qq.com/connect/qrconnect".into()),
        notify_url: format!("{public_url}/pay/notify/wechatpay"),
    })
}
