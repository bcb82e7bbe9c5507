//! Tencent Cloud SMS (`SendSms`, version 2021-01-11), signed with TC3-HMAC-SHA256: a JSON body,
//! and template parameters as an ordered list (`{1}`, `{2}`… in the template).

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Kind, Message, Receipt, SendError, SmsSender, Template};
use crate::domain::Phone;

pub const NAME: &str = "tencent";
pub const DEFAULT_ENDPOINT: &str = "https://sms.tencentcloudapi.com";
pub const SERVICE: &str = "sms";
const ACTION: &str = "SendSms";
const VERSION: &str = "2021-01-11";
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

pub struct Tencent {
    pub secret_id: String,
    pub secret_key: String,
    pub sdk_app_id: String,
    pub sign_name: String,
    pub region: String,
    pub endpoint: String,
    pub templates: HashMap<Kind, Template>,
    pub http: reqwest::Client,
}

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The `Authorization` header of a POST with a JSON `payload` to `host` at `timestamp`.
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    host: &str,
    timestamp: i64,
    payload: &str,
) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .and_then(|t| t.format(time::macros::format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_default();
    let signed = "content-type;host";
    let canonical = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\n\n{signed}\n{}",
        hex::encode(Sha256::digest(payload.as_bytes()))
    );
    let scope = format!("{date}/{service}/tc3_request");
    let to_sign = format!("{ALGORITHM}\n{timestamp}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let key = hmac(&hmac(&hmac(format!("TC3{secret_key}").as_bytes(), &date), service), "tc3_request");
    let signature = hex::encode(hmac(&key, &to_sign));
    format!("{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed}, Signature={signature}")
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Envelope {
    response: Answer,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Answer {
    error: Option<ApiError>,
    send_status_set: Vec<Status>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ApiError {
    code: String,
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Status {
    serial_no: String,
    code: String,
    message: String,
}

/// Throttling, quota and outages, where the other provider may do better.
fn transient(code: &str) -> bool {
    code.starts_with("RequestLimitExceeded")
        || code.starts_with("LimitExceeded")
        || code.starts_with("InternalError")
        || code == "FailedOperation.InsufficientBalanceInSmsPackage"
        || code == "ResourceUnavailable"
        || code == "template_missing"
}

impl Tencent {
    fn fail(&self, code: &str, message: impl Into<String>) -> SendError {
        SendError { provider: NAME, code: code.to_string(), message: message.into(), transient: transient(code) }
    }
}

impl SmsSender for Tencent {
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
            let params: Vec<&str> = template.params.iter().map(|p| message.param(p)).collect();
            let payload = serde_json::json!({
                "PhoneNumberSet": [format!("+86{}", phone.as_str())],
                "SmsSdkAppId": self.sdk_app_id,
                "SignName": self.sign_name,
                "TemplateId": template.id,
                "TemplateParamSet": params,
            })
            .to_string();
            let timestamp = crate::domain::time::now();
            let host = super::aliyun::host_of(&self.endpoint);
            let auth = authorization(&self.secret_id, &self.secret_key, SERVICE, &host, timestamp, &payload);
            let response = self
                .http
                .post(&self.endpoint)
                .header("Authorization", auth)
                .header("Content-Type", CONTENT_TYPE)
                .header("X-TC-Action", ACTION)
                .header("X-TC-Version", VERSION)
                .header("X-TC-Timestamp", timestamp.to_string())
                .header("X-TC-Region", &self.region)
                .body(payload)
                .send()
                .await
                .map_err(|e| SendError::unreachable(NAME, e))?;
            let status = response.status();
            let body = response.text().await.map_err(|e| SendError::unreachable(NAME, e))?;
            if status.is_server_error() {
                return Err(SendError { transient: true, ..self.fail("InternalError", super::short(&body)) });
            }
            let answer = serde_json::from_str::<Envelope>(&body).unwrap_or_default().response;
            if let Some(error) = answer.error {
                return Err(self.fail(&error.code, error.message));
            }
            match answer.send_status_set.into_iter().next() {
                Some(s) if s.code == "Ok" => Ok(Receipt { provider: NAME, send_id: s.serial_no }),
                Some(s) => Err(self.fail(&s.code, s.message)),
                None => Err(self.fail(&format!("http_{}", status.as_u16()), super::short(&body))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tencent Cloud's own worked example of TC3-HMAC-SHA256 (CVM DescribeInstances at
    /// 1551113065, in "Signature v3"), in both of the forms the documentation has published it.
    #[test]
    fn reproduces_the_published_tc3_signatures() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let example =
            |id: &str, key: &str| authorization(id, key, "cvm", "cvm.tencentcloudapi.com", 1_551_113_065, payload);
        assert_eq!(
            example("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert!(
            example("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******")
                .ends_with("Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c")
        );
    }

    #[test]
    fn throttle_quota_and_outages_are_worth_another_provider() {
        for code in ["RequestLimitExceeded", "LimitExceeded.PhoneNumberDailyLimit", "InternalError.Timeout"] {
            assert!(transient(code), "{code}");
        }
        for code in ["AuthFailure.SignatureFailure", "InvalidParameterValue.IncorrectPhoneNumber"] {
            assert!(!transient(code), "{code}");
        }
    }
}
