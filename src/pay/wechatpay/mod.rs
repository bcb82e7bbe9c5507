//! WeChat Pay API v3: JSAPI (inside WeChat, with the payer's openid from the official account's
//! OAuth), H5 (other mobile browsers) and Native (a QR code on a PC); query, close, refund.
//! Requests are signed WECHATPAY2-SHA256-RSA2048; responses and notifications are verified with
//! the platform certificate or the WeChat Pay public key, within a 5-minute timestamp window;
//! notification resources are decrypted with AEAD_AES_256_GCM.

pub mod complaints;
pub mod config;
pub mod crypto;
pub mod official_account;
pub mod profit_sharing;
pub mod share;

use actix_web::HttpResponse;
use anyhow::{Context, anyhow, bail};
use futures_util::future::BoxFuture;
use rand::Rng;
use rand::distributions::Alphanumeric;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

pub use config::WechatConfig;

use super::{
    Channel, JsapiParams, Notice, PaidNotice, PayAction, PayRequest, PaymentProvider, QueryResult, RefundRequest,
    RefundState, VerifyError,
};
use crate::domain::Fen;
use crate::domain::time::now;

pub const NAME: &str = "wechatpay";
const WINDOW_SECS: i64 = 300;

pub struct WechatPay {
    cfg: WechatConfig,
    http: reqwest::Client,
    /// The JS-SDK's jsapi_ticket and until when it is used (`share`).
    ticket: std::sync::Mutex<Option<(String, i64)>>,
    /// The official account's stable access token and until when it is used.
    token: std::sync::Mutex<Option<(String, i64)>>,
}

/// A panic while holding a cached value leaves a plain value behind: keep using it.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn nonce() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

#[derive(Deserialize)]
struct Amount {
    total: i64,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct Transaction {
    appid: String,
    mchid: String,
    out_trade_no: String,
    transaction_id: Option<String>,
    trade_state: String,
    success_time: Option<String>,
    amount: Option<Amount>,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    associated_data: Option<String>,
    nonce: String,
}

/// The resource of a REFUND.* notification.
#[derive(Deserialize)]
struct RefundResource {
    mchid: String,
    out_trade_no: String,
    out_refund_no: String,
    refund_status: String,
}

/// The resource of a COMPLAINT.* notification.
#[derive(Deserialize)]
struct ComplaintResource {
    complaint_id: String,
    action_type: Option<String>,
}

#[derive(Deserialize)]
struct ProfitSharingResource {
    mchid: String,
    out_order_no: String,
    receiver: SharingReceiver,
}

#[derive(Deserialize)]
struct SharingReceiver {
    account: String,
    amount: i64,
}

#[derive(Deserialize)]
struct Event {
    event_type: String,
    resource: Resource,
}

fn rfc3339(value: &str) -> Option<i64> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

impl WechatPay {
    pub fn new(cfg: WechatConfig) -> anyhow::Result<WechatPay> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("kedian/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WechatPay { cfg, http, ticket: std::sync::Mutex::default(), token: std::sync::Mutex::default() })
    }

    /// Whether JSAPI can be offered (it needs the official account's secret for openids).
    pub fn has_jsapi(&self) -> bool {
        self.cfg.app_secret.is_some()
    }

    fn authorization(&self, method: &str, path: &str, body: &str) -> String {
        let (ts, nonce) = (now().to_string(), nonce());
        let signature = crypto::sign(&self.cfg.private_key, &crypto::message(&[method, path, &ts, &nonce, body]));
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{ts}\",serial_no=\"{}\"",
            self.cfg.mchid, self.cfg.serial_no
        )
    }

    /// Checks `Wechatpay-Serial/Timestamp/Nonce/Signature` over a body.
    fn verify_signed(&self, headers: &HeaderMap, body: &str, now: i64) -> Result<(), VerifyError> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).ok_or(VerifyError::BadSignature);
        let key = self.cfg.platform.key_for(get("Wechatpay-Serial")?).ok_or(VerifyError::BadSignature)?;
        let ts = get("Wechatpay-Timestamp")?;
        let at: i64 = ts.parse().map_err(|_| VerifyError::Stale)?;
        if (now - at).abs() > WINDOW_SECS {
            return Err(VerifyError::Stale);
        }
        let message = crypto::message(&[ts, get("Wechatpay-Nonce")?, body]);
        if crypto::verify(key, &message, get("Wechatpay-Signature")?) { Ok(()) } else { Err(VerifyError::BadSignature) }
    }

    /// A signed API call; a response with a body must carry a valid platform signature.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.cfg.base_url))
            .header("Authorization", self.authorization(method.as_str(), path, &body))
            .header("Accept", "application/json");
        if !body.is_empty() {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().await.with_context(|| format!("WeChat Pay {path}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        if text.is_empty() {
            return Ok((status, Value::Null));
        }
        self.verify_signed(&headers, &text, now())
            .map_err(|e| anyhow!("WeChat Pay response to {path} not trusted: {e}"))?;
        Ok((status, serde_json::from_str(&text).context("WeChat Pay response is not JSON")?))
    }

    fn jsapi_params(&self, prepay_id: &str) -> JsapiParams {
        let (ts, nonce) = (now().to_string(), nonce());
        let package = format!("prepay_id={prepay_id}");
        let pay_sign = crypto::sign(&self.cfg.private_key, &crypto::message(&[&self.cfg.appid, &ts, &nonce, &package]));
        JsapiParams {
            app_id: self.cfg.appid.clone(),
            time_stamp: ts,
            nonce_str: nonce,
            package,
            sign_type: "RSA".into(),
            pay_sign,
        }
    }

    /// Where to send the buyer for the official account's silent OAuth (snsapi_base).
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        self.authorize_url_with_scope(redirect_uri, state, "snsapi_base")
    }

    /// OAuth with a scope: `snsapi_userinfo` asks the learner's consent and gives the unionid.
    pub fn authorize_url_with_scope(&self, redirect_uri: &str, state: &str, scope: &str) -> String {
        let q = serde_urlencoded::to_string([
            ("appid", self.cfg.appid.as_str()),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
        ])
        .unwrap_or_default();
        format!("{}?{q}#wechat_redirect", self.cfg.oauth_authorize_url)
    }

    /// Exchanges an OAuth code for the payer's openid.
    pub async fn openid_for_code(&self, code: &str) -> anyhow::Result<String> {
        Ok(self.identity_for_code(code).await?.0)
    }

    /// Exchanges an OAuth code for (openid, unionid when the account is bound to an open
    /// platform).
    pub async fn identity_for_code(&self, code: &str) -> anyhow::Result<(String, Option<String>)> {
        let secret = self.cfg.app_secret.as_deref().context("app_secret is not configured")?;
        self.exchange_code(&self.cfg.appid, secret, code).await
    }

    /// The PC QR sign-in page (the website application's `snsapi_login`), when one is set up.
    pub fn qr_login_url(&self, redirect_uri: &str, state: &str) -> Option<String> {
        let (appid, _) = self.cfg.web_app.as_ref()?;
        let q = serde_urlencoded::to_string([
            ("appid", appid.as_str()),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", "snsapi_login"),
            ("state", state),
        ])
        .ok()?;
        Some(format!("{}?{q}#wechat_redirect", self.cfg.qrconnect_url))
    }

    /// Exchanges a QR sign-in code for (the website application's openid, the unionid).
    pub async fn web_identity_for_code(&self, code: &str) -> anyhow::Result<(String, Option<String>)> {
        let (appid, secret) = self.cfg.web_app.as_ref().context("web_appid and web_secret are not configured")?;
        self.exchange_code(appid, secret, code).await
    }

    async fn exchange_code(&self, appid: &str, secret: &str, code: &str) -> anyhow::Result<(String, Option<String>)> {
        let q = serde_urlencoded::to_string([
            ("appid", appid),
            ("secret", secret),
            ("code", code),
            ("grant_type", "authorization_code"),
        ])?;
        let reply: Value = self
            .http
            .get(format!("{}/sns/oauth2/access_token?{q}", self.cfg.oauth_api_url))
            .send()
            .await?
            .json()
            .await?;
        let unionid = reply.get("unionid").and_then(Value::as_str).map(String::from);
        match reply.get("openid").and_then(Value::as_str) {
            Some(openid) => Ok((openid.to_string(), unionid)),
            None => bail!("OAuth code refused: {}", reply.get("errmsg").and_then(Value::as_str).unwrap_or("no openid")),
        }
    }

    fn transaction(&self, t: Transaction) -> Result<QueryResult, VerifyError> {
        if t.appid != self.cfg.appid || t.mchid != self.cfg.mchid {
            return Err(VerifyError::WrongMerchant);
        }
        Ok(match t.trade_state.as_str() {
            "SUCCESS" => {
                let amount = t.amount.ok_or_else(|| VerifyError::Malformed("no amount".into()))?;
                QueryResult::Paid(PaidNotice {
                    order_no: t.out_trade_no,
                    txn_id: t.transaction_id.ok_or_else(|| VerifyError::Malformed("no transaction_id".into()))?,
                    amount: Fen(amount.total),
                    currency: amount.currency.unwrap_or_else(|| "CNY".into()),
                    paid_at: t.success_time.as_deref().and_then(rfc3339).unwrap_or_else(now),
                })
            }
            "CLOSED" | "REVOKED" | "PAYERROR" => QueryResult::Closed,
            _ => QueryResult::NotPaid,
        })
    }
}

fn refund_state(reply: &Value) -> RefundState {
    match reply.get("status").and_then(Value::as_str) {
        Some("SUCCESS") => RefundState::Succeeded,
        Some("PROCESSING") => RefundState::Processing,
        Some(other) => RefundState::Failed(other.to_string()),
        None => RefundState::Failed(reply.get("message").and_then(Value::as_str).unwrap_or("no status").to_string()),
    }
}

impl PaymentProvider for WechatPay {
    fn name(&self) -> &'static str {
        NAME
    }

    fn channels(&self) -> Vec<Channel> {
        let mut channels = vec![Channel::WechatH5, Channel::WechatNative];
        if self.has_jsapi() {
            channels.insert(0, Channel::WechatJsapi);
        }
        channels
    }

    fn create<'a>(&'a self, req: &'a PayRequest<'a>, channel: Channel) -> BoxFuture<'a, anyhow::Result<PayAction>> {
        Box::pin(async move {
            let mut body = json!({
                "appid": self.cfg.appid,
                "mchid": self.cfg.mchid,
                "description": req.description.chars().take(120).collect::<String>(),
                "out_trade_no": req.order_no,
                "notify_url": self.cfg.notify_url,
                "amount": { "total": req.amount.0, "currency": "CNY" },
            });
            if req.profit_sharing {
                body["settle_info"] = json!({ "profit_sharing": true });
            }
            let path = match channel {
                Channel::WechatJsapi => {
                    body["payer"] = json!({ "openid": req.openid.context("JSAPI needs the payer's openid")? });
                    "/v3/pay/transactions/jsapi"
                }
                Channel::WechatH5 => {
                    body["scene_info"] = json!({ "payer_client_ip": req.client_ip, "h5_info": { "type": "Wap" } });
                    "/v3/pay/transactions/h5"
                }
                Channel::WechatNative => "/v3/pay/transactions/native",
                other => bail!("WeChat Pay does not offer {other:?}"),
            };
            let (status, reply) = self.call(Method::POST, path, Some(&body)).await?;
            if !(200..300).contains(&status) {
                bail!("WeChat Pay refused the payment ({status}): {reply}");
            }
            let field = |name: &str| {
                reply.get(name).and_then(Value::as_str).map(String::from).with_context(|| format!("no {name}"))
            };
            Ok(match channel {
                Channel::WechatJsapi => PayAction::JsApi(self.jsapi_params(&field("prepay_id")?)),
                Channel::WechatH5 => {
                    let back = serde_urlencoded::to_string([("redirect_url", req.return_url.as_str())])?;
                    PayAction::Redirect(format!("{}&{back}", field("h5_url")?))
                }
                _ => PayAction::QrCode(field("code_url")?),
            })
        })
    }

    fn verify_notification(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Notice, VerifyError> {
        let body = std::str::from_utf8(body).map_err(|_| VerifyError::Malformed("body is not UTF-8".into()))?;
        self.verify_signed(headers, body, now)?;
        let event: Event = serde_json::from_str(body).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if event.resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(VerifyError::Malformed(format!("algorithm {}", event.resource.algorithm)));
        }
        let plain = crypto::decrypt_resource(
            &self.cfg.api_v3_key,
            &event.resource.nonce,
            event.resource.associated_data.as_deref().unwrap_or(""),
            &event.resource.ciphertext,
        )
        .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let malformed = |e: serde_json::Error| VerifyError::Malformed(e.to_string());
        if event.event_type.starts_with("REFUND.") {
            let r: RefundResource = serde_json::from_slice(&plain).map_err(malformed)?;
            if r.mchid != self.cfg.mchid {
                return Err(VerifyError::WrongMerchant);
            }
            let state = match (event.event_type.as_str(), r.refund_status.as_str()) {
                ("REFUND.SUCCESS", "SUCCESS") => RefundState::Succeeded,
                (_, status) => RefundState::Failed(status.to_string()),
            };
            return Ok(Notice::Refund { order_no: r.out_trade_no, out_refund_no: r.out_refund_no, state });
        }
        if event.event_type.starts_with("PROFITSHARING.") {
            let p: ProfitSharingResource = serde_json::from_slice(&plain).map_err(malformed)?;
            if p.mchid != self.cfg.mchid {
                return Err(VerifyError::WrongMerchant);
            }
            return Ok(Notice::ProfitSharing {
                out_order_no: p.out_order_no,
                event: event.event_type,
                account: p.receiver.account,
                amount: Fen(p.receiver.amount),
            });
        }
        if event.event_type.starts_with("COMPLAINT.") {
            let c: ComplaintResource = serde_json::from_slice(&plain).map_err(malformed)?;
            let action = c.action_type.unwrap_or_else(|| event.event_type.clone());
            return Ok(Notice::Complaint { complaint_id: c.complaint_id, action });
        }
        let t: Transaction = serde_json::from_slice(&plain).map_err(malformed)?;
        let order_no = t.out_trade_no.clone();
        match self.transaction(t)? {
            QueryResult::Paid(notice) if event.event_type == "TRANSACTION.SUCCESS" => Ok(Notice::Paid(notice)),
            _ => Ok(Notice::Other { order_no, state: event.event_type }),
        }
    }

    fn acknowledge(&self) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }

    fn refuse(&self, why: &VerifyError) -> HttpResponse {
        HttpResponse::BadRequest().json(json!({ "code": "FAIL", "message": why.to_string() }))
    }

    fn query<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<QueryResult>> {
        Box::pin(async move {
            let path = format!("/v3/pay/transactions/out-trade-no/{order_no}?mchid={}", self.cfg.mchid);
            let (status, reply) = self.call(Method::GET, &path, None).await?;
            if status == 404 {
                return Ok(QueryResult::NotPaid);
            }
            if !(200..300).contains(&status) {
                bail!("WeChat Pay query failed ({status}): {reply}");
            }
            let t: Transaction = serde_json::from_value(reply)?;
            if t.out_trade_no != order_no {
                bail!("WeChat Pay answered for another order");
            }
            self.transaction(t).map_err(|e| anyhow!("{e}"))
        })
    }

    fn close<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let path = format!("/v3/pay/transactions/out-trade-no/{order_no}/close");
            let (status, reply) = self.call(Method::POST, &path, Some(&json!({ "mchid": self.cfg.mchid }))).await?;
            if !(200..300).contains(&status) {
                bail!("WeChat Pay close failed ({status}): {reply}");
            }
            Ok(())
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest<'a>) -> BoxFuture<'a, anyhow::Result<RefundState>> {
        Box::pin(async move {
            let body = json!({
                "out_trade_no": req.order_no,
                "out_refund_no": req.out_refund_no,
                "reason": req.reason,
                "amount": { "refund": req.amount.0, "total": req.order_amount.0, "currency": "CNY" },
            });
            let (status, reply) = self.call(Method::POST, "/v3/refund/domestic/refunds", Some(&body)).await?;
            if status >= 500 || status == 429 {
                // SYSTEM_ERROR, FREQUENCY_LIMITED: WeChat asks for a retry under the same out_refund_no.
                bail!("WeChat Pay refund not accepted yet ({status}): {reply}");
            }
            Ok(refund_state(&reply))
        })
    }

    fn query_refund<'a>(
        &'a self,
        _order_no: &'a str,
        out_refund_no: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<RefundState>> {
        Box::pin(async move {
            let (status, reply) =
                self.call(Method::GET, &format!("/v3/refund/domestic/refunds/{out_refund_no}"), None).await?;
            if status >= 500 || status == 429 {
                bail!("WeChat Pay refund query failed ({status}): {reply}");
            }
            Ok(refund_state(&reply))
        })
    }
}
