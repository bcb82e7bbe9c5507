//! Alipay (open platform, RSA2): alipay.trade.wap.pay in mobile browsers, alipay.trade.page.pay
//! on a PC, asynchronous notifications (verified, then checked for app_id, out_trade_no,
//! total_amount and seller_id; answered with the literal `success`), query, close and refunds.

use std::collections::BTreeMap;
use std::path::Path;

use actix_web::HttpResponse;
use anyhow::{Context, anyhow, bail};
use futures_util::future::BoxFuture;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::signing::{private_key_from_pem, public_key_from_pem, sign, verify};
use super::{
    Channel, Notice, PaidNotice, PayAction, PayRequest, PaymentProvider, QueryResult, RefundRequest, RefundState,
    VerifyError,
};
use crate::domain::Fen;
use crate::domain::time::{now, parse_shanghai_seconds, shanghai_seconds};
use crate::pay::signing::{PrivateKey, PublicKey};

pub const NAME: &str = "alipay";
/// How far a notification's `notify_time` may be from the shop's clock (as for WeChat Pay).
const NOTIFY_WINDOW_SECS: i64 = 300;

#[derive(Clone)]
pub struct AlipayConfig {
    pub app_id: String,
    /// The merchant's PID (2088…): notifications must name it as seller_id.
    pub seller_id: String,
    pub private_key: PrivateKey,
    pub alipay_public_key: PublicKey,
    pub gateway_url: String,
    pub notify_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    app_id: Option<String>,
    seller_id: Option<String>,
    private_key_file: Option<String>,
    alipay_public_key_file: Option<String>,
    gateway_url: Option<String>,
}

/// Reads the merchant file named by `alipay_config`; the error says what is missing.
pub fn load_config(path: &Path, public_url: &str) -> Result<AlipayConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let need =
        |name: &str, v: Option<String>| v.filter(|s| !s.trim().is_empty()).ok_or_else(|| format!("{name} is missing"));
    let read = |name: &str, v: Option<String>| -> Result<String, String> {
        let file = need(name, v)?;
        std::fs::read_to_string(dir.join(&file)).map_err(|e| format!("{name}: cannot read {file}: {e}"))
    };
    Ok(AlipayConfig {
        app_id: need("app_id", file.app_id)?,
        seller_id: need("seller_id", file.seller_id)?,
        private_key: private_key_from_pem(&read("private_key_file", file.private_key_file)?)
            .map_err(|e| e.to_string())?,
        alipay_public_key: public_key_from_pem(&read("alipay_public_key_file", file.alipay_public_key_file)?)
            .map_err(|e| e.to_string())?,
        gateway_url: file.gateway_url.unwrap_or_else(|| "https://openapi.alipay.com/gateway.do".into()),
        notify_url: format!("{public_url}/pay/notify/alipay"),
    })
}

/// `k1=v1&k2=v2` over the sorted, non-empty parameters, leaving out `sign` (and `sign_type` when
/// verifying notifications): the string RSA2 signs.
pub fn signing_string(params: &BTreeMap<String, String>, skip_sign_type: bool) -> String {
    params
        .iter()
        .filter(|(k, v)| !v.is_empty() && k.as_str() != "sign" && !(skip_sign_type && k.as_str() == "sign_type"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The raw JSON text of `"<key>": {...}` in a gateway response, exactly as sent (the signature
/// covers these bytes, not a re-serialization).
pub fn raw_json_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = &text[at..];
    let start = at + rest.find('{')?;
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text[start..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

pub struct Alipay {
    cfg: AlipayConfig,
    http: reqwest::Client,
}

impl Alipay {
    pub fn new(cfg: AlipayConfig) -> anyhow::Result<Alipay> {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
        Ok(Alipay { cfg, http })
    }

    /// The common parameters of a request for `method`, signed.
    fn signed_params(&self, method: &str, biz: &Value, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = [
            ("app_id", self.cfg.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("version", "1.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        p.insert("timestamp".into(), shanghai_seconds(now()));
        p.insert("biz_content".into(), biz.to_string());
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        let signature = sign(&self.cfg.private_key, &signing_string(&p, false));
        p.insert("sign".into(), signature);
        p
    }

    /// Calls an API method; the response node must carry Alipay's signature.
    async fn call(&self, method: &str, biz: Value) -> anyhow::Result<Value> {
        let params = self.signed_params(method, &biz, &[]);
        let text = self
            .http
            .post(&self.cfg.gateway_url)
            .form(&params)
            .send()
            .await
            .with_context(|| format!("Alipay {method}"))?
            .text()
            .await?;
        let node = format!("{}_response", method.replace('.', "_"));
        let raw = raw_json_value(&text, &node).ok_or_else(|| anyhow!("Alipay {method}: no {node}"))?;
        let reply: Value = serde_json::from_str(&text).context("Alipay response is not JSON")?;
        let signature = reply.get("sign").and_then(Value::as_str).unwrap_or_default();
        if !verify(&self.cfg.alipay_public_key, raw, signature) {
            bail!("Alipay {method}: response signature does not verify");
        }
        Ok(serde_json::from_str(raw)?)
    }

    fn paid_notice(&self, fields: &BTreeMap<String, String>) -> Result<Notice, VerifyError> {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        if get("app_id") != self.cfg.app_id || get("seller_id") != self.cfg.seller_id {
            return Err(VerifyError::WrongMerchant);
        }
        let order_no = get("out_trade_no");
        let state = get("trade_status");
        if !matches!(state.as_str(), "TRADE_SUCCESS" | "TRADE_FINISHED") {
            return Ok(Notice::Other { order_no, state });
        }
        let amount =
            Fen::parse_yuan(&get("total_amount")).ok_or_else(|| VerifyError::Malformed("total_amount".into()))?;
        let trade_no = get("trade_no");
        if order_no.is_empty() || trade_no.is_empty() {
            return Err(VerifyError::Malformed("out_trade_no or trade_no missing".into()));
        }
        Ok(Notice::Paid(PaidNotice { order_no, txn_id: trade_no, amount, currency: "CNY".into(), paid_at: now() }))
    }
}

fn code_ok(reply: &Value) -> bool {
    reply.get("code").and_then(Value::as_str) == Some("10000")
}

impl PaymentProvider for Alipay {
    fn name(&self) -> &'static str {
        NAME
    }

    fn channels(&self) -> Vec<Channel> {
        vec![Channel::AlipayWap, Channel::AlipayPage]
    }

    fn create<'a>(&'a self, req: &'a PayRequest<'a>, channel: Channel) -> BoxFuture<'a, anyhow::Result<PayAction>> {
        Box::pin(async move {
            let subject: String = req.description.chars().take(128).collect();
            let (method, product) = match channel {
                Channel::AlipayWap => ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
                Channel::AlipayPage => ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
                other => bail!("Alipay does not offer {other:?}"),
            };
            let mut biz = json!({
                "out_trade_no": req.order_no,
                "total_amount": req.amount.yuan_string(),
                "subject": subject,
                "product_code": product,
            });
            if channel == Channel::AlipayWap {
                biz["quit_url"] = json!(req.return_url);
            }
            let params = self.signed_params(
                method,
                &biz,
                &[("notify_url", &self.cfg.notify_url), ("return_url", &req.return_url)],
            );
            let query = serde_urlencoded::to_string(&params)?;
            // The buyer's browser carries the signed request to the gateway's cashier.
            Ok(PayAction::Redirect(format!("{}?{query}", self.cfg.gateway_url)))
        })
    }

    fn verify_notification(&self, _headers: &HeaderMap, body: &[u8], now: i64) -> Result<Notice, VerifyError> {
        let fields: BTreeMap<String, String> =
            serde_urlencoded::from_bytes(body).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let signature = fields.get("sign").ok_or(VerifyError::BadSignature)?;
        if fields.get("sign_type").map(String::as_str) != Some("RSA2") {
            return Err(VerifyError::BadSignature);
        }
        if !verify(&self.cfg.alipay_public_key, &signing_string(&fields, true), signature) {
            return Err(VerifyError::BadSignature);
        }
        // Each (re)send carries the time it was sent: one far from now is a replay, or a clock to fix.
        let sent = fields.get("notify_time").and_then(|t| parse_shanghai_seconds(t)).ok_or(VerifyError::Stale)?;
        if (now - sent).abs() > NOTIFY_WINDOW_SECS {
            return Err(VerifyError::Stale);
        }
        self.paid_notice(&fields)
    }

    fn acknowledge(&self) -> HttpResponse {
        HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("success")
    }

    fn refuse(&self, _why: &VerifyError) -> HttpResponse {
        // Anything but `success` makes Alipay send the notification again later.
        HttpResponse::BadRequest().content_type("application/json").body(r#"{"result":"failure"}"#)
    }

    fn query<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<QueryResult>> {
        Box::pin(async move {
            let reply = self.call("alipay.trade.query", json!({ "out_trade_no": order_no })).await?;
            if !code_ok(&reply) {
                return Ok(QueryResult::NotPaid);
            }
            let get = |k: &str| reply.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            if get("out_trade_no") != order_no {
                bail!("Alipay answered for another order");
            }
            Ok(match get("trade_status").as_str() {
                "TRADE_SUCCESS" | "TRADE_FINISHED" => QueryResult::Paid(PaidNotice {
                    order_no: order_no.to_string(),
                    txn_id: get("trade_no"),
                    amount: Fen::parse_yuan(&get("total_amount")).context("total_amount")?,
                    currency: "CNY".into(),
                    paid_at: now(),
                }),
                "TRADE_CLOSED" => QueryResult::Closed,
                _ => QueryResult::NotPaid,
            })
        })
    }

    fn close<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let reply = self.call("alipay.trade.close", json!({ "out_trade_no": order_no })).await?;
            // A trade the buyer never opened does not exist at Alipay: nothing to close.
            if code_ok(&reply) || reply.get("sub_code").and_then(Value::as_str) == Some("ACQ.TRADE_NOT_EXIST") {
                Ok(())
            } else {
                bail!("Alipay close failed: {reply}")
            }
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest<'a>) -> BoxFuture<'a, anyhow::Result<RefundState>> {
        Box::pin(async move {
            let biz = json!({
                "out_trade_no": req.order_no,
                "refund_amount": req.amount.yuan_string(),
                "out_request_no": req.out_refund_no,
                "refund_reason": req.reason,
            });
            let reply = self.call("alipay.trade.refund", biz).await?;
            if reply.get("sub_code").and_then(Value::as_str) == Some("ACQ.SYSTEM_ERROR") {
                // Alipay asks for a retry under the same out_request_no.
                bail!("Alipay refund: system error, will retry");
            }
            Ok(if code_ok(&reply) {
                RefundState::Succeeded
            } else {
                RefundState::Failed(reply.get("sub_msg").and_then(Value::as_str).unwrap_or("refused").to_string())
            })
        })
    }

    fn query_refund<'a>(
        &'a self,
        order_no: &'a str,
        out_refund_no: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<RefundState>> {
        Box::pin(async move {
            let biz = json!({ "out_trade_no": order_no, "out_request_no": out_refund_no });
            let reply = self.call("alipay.trade.fastpay.refund.query", biz).await?;
            Ok(match reply.get("refund_status").and_then(Value::as_str) {
                Some("REFUND_SUCCESS") => RefundState::Succeeded,
                _ if code_ok(&reply) => RefundState::Processing,
                _ => RefundState::Failed(reply.get("sub_msg").and_then(Value::as_str).unwrap_or("unknown").to_string()),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_string_sorts_and_skips() {
        let p: BTreeMap<String, String> = [("b", "2"), ("a", "1"), ("sign", "x"), ("sign_type", "RSA2"), ("empty", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(signing_string(&p, false), "a=1&b=2&sign_type=RSA2");
        assert_eq!(signing_string(&p, true), "a=1&b=2");
    }

    #[test]
    fn raw_json_value_keeps_the_exact_bytes() {
        let text =
            r#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","s":"a}\"{b","n":{"x":1}},"sign":"abc"}"#;
        assert_eq!(
            raw_json_value(text, "alipay_trade_query_response"),
            Some(r#"{"code":"10000","msg":"Success","s":"a}\"{b","n":{"x":1}}"#)
        );
        assert_eq!(raw_json_value(text, "other_response"), None);
        assert_eq!(raw_json_value(r#"{"k":{"unclosed":1"#, "k"), None);
    }
}
