//! Alibaba Cloud SMS (dysmsapi 2017-05-25 `SendSms`), signed with ACS3-HMAC-SHA256 (the V3
//! request signature): the parameters travel in the query, the body is empty.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Kind, Message, Receipt, SendError, SmsSender, Template};
use crate::domain::Phone;

pub const NAME: &str = "aliyun";
pub const DEFAULT_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com";
const ACTION: &str = "SendSms";
const VERSION: &str = "2017-05-25";
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

pub struct Aliyun {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sign_name: String,
    pub endpoint: String,
    pub templates: HashMap<Kind, Template>,
    pub http: reqwest::Client,
}

/// RFC 3986 percent-encoding as Alibaba Cloud signs it: only `A-Z a-z 0-9 - _ . ~` stay.
pub fn percent_encode(value: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, KEEP).to_string()
}

/// `a=1&b=2`, sorted by name, names and values encoded.
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    encoded.sort();
    encoded.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The `Authorization` header for a request whose signed headers (lower-case names: `host` and
/// the `x-acs-*` ones, `x-acs-content-sha256` among them) are `headers`.
pub fn authorization(
    key_id: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
) -> String {
    let signed: Vec<&str> = headers.keys().map(String::as_str).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let payload_hash = headers.get("x-acs-content-sha256").cloned().unwrap_or_else(|| hex_sha256(b""));
    let canonical =
        format!("{method}\n{path}\n{}\n{canonical_headers}\n{signed}\n{payload_hash}", canonical_query(query));
    let to_sign = format!("{ALGORITHM}\n{}", hex_sha256(canonical.as_bytes()));
    let signature = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("{ALGORITHM} Credential={key_id},SignedHeaders={signed},Signature={signature}")
}

/// `host[:port]` of an endpoint URL, as the request's Host header carries it.
pub fn host_of(endpoint: &str) -> String {
    match reqwest::Url::parse(endpoint) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Answer {
    code: String,
    message: String,
    biz_id: String,
}

/// Throttling, quota and outages, where the other provider may do better.
fn transient(code: &str) -> bool {
    matches!(
        code,
        "isv.BUSINESS_LIMIT_CONTROL"
            | "isv.DAY_LIMIT_CONTROL"
            | "isv.AMOUNT_NOT_ENOUGH"
            | "isv.OUT_OF_SERVICE"
            | "isp.SYSTEM_ERROR"
            | "ServiceUnavailable"
            | "template_missing"
    ) || code.starts_with("Throttling")
}

impl Aliyun {
    fn fail(&self, code: &str, message: impl Into<String>) -> SendError {
        SendError { provider: NAME, code: code.to_string(), message: message.into(), transient: transient(code) }
    }
}

impl SmsSender for Aliyun {
    fn providers(&self) -> Vec<&'static str> {
        vec![NAME]
    }

    fn templates(&self) -> Vec<super::TemplateUse> {
        super::template_uses(NAME, &self.templates)
    }

    fn send<'a>(&'a self, phone: &'a Phone, message: &'a Message) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(async move {
            let template = self
                .templates
                .get(&message.kind)
                .ok_or_else(|| self.fail("template_missing", format!("no template for {}", message.kind.as_str())))?;
            let params: serde_json::Map<String, serde_json::Value> =
                template.params.iter().map(|p| (p.clone(), message.param(p).into())).collect();
            let query = BTreeMap::from([
                ("PhoneNumbers".to_string(), phone.as_str().to_string()),
                ("SignName".to_string(), self.sign_name.clone()),
                ("TemplateCode".to_string(), template.id.clone()),
                ("TemplateParam".to_string(), serde_json::Value::Object(params).to_string()),
            ]);
            let mut nonce = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut nonce);
            let date = time::OffsetDateTime::now_utc()
                .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
                .unwrap_or_default();
            let headers = BTreeMap::from([
                ("host".to_string(), host_of(&self.endpoint)),
                ("x-acs-action".to_string(), ACTION.to_string()),
                ("x-acs-content-sha256".to_string(), hex_sha256(b"")),
                ("x-acs-date".to_string(), date),
                ("x-acs-signature-nonce".to_string(), hex::encode(nonce)),
                ("x-acs-version".to_string(), VERSION.to_string()),
            ]);
            let auth = authorization(&self.access_key_id, &self.access_key_secret, "POST", "/", &query, &headers);
            let url = format!("{}/?{}", self.endpoint.trim_end_matches('/'), canonical_query(&query));
            let mut request = self.http.post(url).header("Authorization", auth);
            for (name, value) in headers.iter().filter(|(name, _)| *name != "host") {
                request = request.header(name, value);
            }
            let response = request.send().await.map_err(|e| SendError::unreachable(NAME, e))?;
            let status = response.status();
            let body = response.text().await.map_err(|e| SendError::unreachable(NAME, e))?;
            let answer: Answer = serde_json::from_str(&body).unwrap_or_default();
            if status.is_server_error() {
                let code = if answer.code.is_empty() { "ServiceUnavailable" } else { answer.code.as_str() };
                return Err(SendError { transient: true, ..self.fail(code, super::short(&body)) });
            }
            if answer.code == "OK" {
                return Ok(Receipt { provider: NAME, send_id: answer.biz_id });
            }
            let code = if answer.code.is_empty() { format!("http_{}", status.as_u16()) } else { answer.code };
            Err(self.fail(&code, answer.message))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alibaba Cloud's own worked example of the V3 signature (the RunInstances request in "V3
    /// request structure and signature"): every input fixed, the published signature out.
    #[test]
    fn reproduces_the_published_v3_signature() {
        let query = BTreeMap::from([
            ("ImageId".to_string(), "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd".to_string()),
            ("RegionId".to_string(), "cn-shanghai".to_string()),
        ]);
        let headers = BTreeMap::from([
            ("host".to_string(), "ecs.cn-shanghai.aliyuncs.com".to_string()),
            ("x-acs-action".to_string(), "RunInstances".to_string()),
            ("x-acs-content-sha256".to_string(), hex_sha256(b"")),
            ("x-acs-date".to_string(), "2023-10-26T10:22:32Z".to_string()),
            ("x-acs-signature-nonce".to_string(), "3156853299f313e23d1673dc12e1703d".to_string()),
            ("x-acs-version".to_string(), "2014-05-26".to_string()),
        ]);
        assert_eq!(
            authorization("YourAccessKeyId", "YourAccessKeySecret", "POST", "/", &query, &headers),
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;\
             x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    #[test]
    fn encodes_the_way_alibaba_signs() {
        assert_eq!(percent_encode("a b*c~d/é+="), "a%20b%2Ac~d%2F%C3%A9%2B%3D");
        assert_eq!(percent_encode("【课店】"), "%E3%80%90%E8%AF%BE%E5%BA%97%E3%80%91");
        let q = BTreeMap::from([("b".to_string(), String::new()), ("a".to_string(), "x y".to_string())]);
        assert_eq!(canonical_query(&q), "a=x%20y&b=");
    }

    #[test]
    fn throttle_quota_and_outages_are_worth_another_provider() {
        for code in ["isv.BUSINESS_LIMIT_CONTROL", "isv.AMOUNT_NOT_ENOUGH", "Throttling.User", "isp.SYSTEM_ERROR"] {
            assert!(transient(code), "{code}");
        }
        for code in ["isv.MOBILE_NUMBER_ILLEGAL", "SignatureDoesNotMatch", "isv.SMS_TEMPLATE_ILLEGAL"] {
            assert!(!transient(code), "{code}");
        }
    }
}
