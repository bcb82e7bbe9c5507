//! The SMS providers, from a TOML file named by `sms_config` (key files and secrets stay out of
//! the main configuration, like the payment ones):
//!
//! ```toml
//! primary = "aliyun"            # or "tencent"
//! secondary = "tencent"         # optional: tried once when the primary is throttled or down
//!
//! [aliyun]
//! access_key_id = "LTAI…"
//! access_key_secret = "…"
//! sign_name = "课店"
//! [aliyun.templates]
//! login_code = { id = "SMS_100000001", params = ["code"] }
//!
//! [tencent]
//! secret_id = "AKID…"
//! secret_key = "…"
//! sdk_app_id = "1400000000"
//! sign_name = "课店"
//! [tencent.templates]
//! login_code = { id = "1000001", params = ["code"] }
//! ```

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::aliyun::{self, Aliyun};
use super::failover::Failover;
use super::tencent::{self, Tencent};
use super::{Kind, SmsSender, Template};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    primary: String,
    secondary: Option<String>,
    aliyun: Option<AliyunFile>,
    tencent: Option<TencentFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliyunFile {
    access_key_id: String,
    access_key_secret: String,
    sign_name: String,
    endpoint: Option<String>,
    #[serde(default)]
    templates: HashMap<String, TemplateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TencentFile {
    secret_id: String,
    secret_key: String,
    sdk_app_id: String,
    sign_name: String,
    region: Option<String>,
    endpoint: Option<String>,
    #[serde(default)]
    templates: HashMap<String, TemplateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    id: String,
    /// The kind's parameters the template uses, in its order; all of them by default.
    params: Option<Vec<String>>,
}

/// Each configured kind with its template id and parameters, checked against the kind.
fn templates(
    provider: &str,
    files: HashMap<String, TemplateFile>,
) -> anyhow::Result<HashMap<Kind, (String, Vec<String>)>> {
    let mut out = HashMap::new();
    for (key, t) in files {
        let kind = Kind::parse(&key).with_context(|| format!("[{provider}.templates] {key}: no such kind"))?;
        let params = t.params.unwrap_or_else(|| kind.params().iter().map(|p| p.to_string()).collect());
        if let Some(unknown) = params.iter().find(|p| !kind.params().contains(&p.as_str())) {
            bail!("[{provider}.templates] {key}: {unknown} is not one of {:?}", kind.params());
        }
        if t.id.trim().is_empty() {
            bail!("[{provider}.templates] {key}: id is empty");
        }
        out.insert(kind, (t.id, params));
    }
    Ok(out)
}

/// The senders the file describes, primary first.
pub fn load(path: &Path) -> anyhow::Result<Failover> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: File = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(3))
        .build()?;
    let mut providers: HashMap<&str, Box<dyn SmsSender>> = HashMap::new();
    if let Some(a) = file.aliyun {
        let templates = templates(aliyun::NAME, a.templates)?
            .into_iter()
            .map(|(k, (id, params))| (k, Template { id, params }))
            .collect();
        providers.insert(
            aliyun::NAME,
            Box::new(Aliyun {
                access_key_id: a.access_key_id,
                access_key_secret: a.access_key_secret,
                sign_name: a.sign_name,
                endpoint: a.endpoint.unwrap_or_else(|| aliyun::DEFAULT_ENDPOINT.into()),
                templates,
                http: http.clone(),
            }),
        );
    }
    if let Some(t) = file.tencent {
        let templates = templates(tencent::NAME, t.templates)?
            .into_iter()
            .map(|(k, (id, params))| (k, Template { id, params }))
            .collect();
        providers.insert(
            tencent::NAME,
            Box::new(Tencent {
                secret_id: t.secret_id,
                secret_key: t.secret_key,
                sdk_app_id: t.sdk_app_id,
                sign_name: t.sign_name,
                region: t.region.unwrap_or_else(|| "ap-guangzhou".into()),
                endpoint: t.endpoint.unwrap_or_else(|| tencent::DEFAULT_ENDPOINT.into()),
                templates,
                http,
            }),
        );
    }
    let mut take =
        |name: &str| providers.remove(name).with_context(|| format!("{name} is named but has no [{name}] section"));
    let primary = take(&file.primary)?;
    let secondary = match &file.secondary {
        Some(name) if *name == file.primary => bail!("secondary must differ from primary"),
        Some(name) => Some(take(name)?),
        None => None,
    };
    Ok(Failover { primary, secondary })
}
