//! The official account (服务号) as a channel to buyers: its followers (user/get, then
//! user/info/batchget for their unionids) and template messages (message/template/send). All
//! calls carry the stable access token, shared by every instance, kept until five minutes
//! before it ends and fetched again once when WeChat says it is no longer valid.

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::WechatPay;
use crate::store::wechat_outbox::Follower;

/// A token is renewed this long before WeChat says it ends.
const RENEW_BEFORE_SECS: i64 = 300;
/// user/info/batchget takes at most this many openids.
pub const BATCH: usize = 100;

/// errcodes meaning the access token is invalid or expired: fetch a new one and try once more.
fn token_stale(errcode: i64) -> bool {
    matches!(errcode, 40001 | 40014 | 42001)
}

/// What WeChat answered a template message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Accepted { msgid: String },
    Refused(Refused),
}

/// WeChat's refusal of a template message: its errcode and errmsg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: i64,
    pub message: String,
}

impl Refused {
    /// Worth another try later: WeChat busy (-1), or a limit per minute (45009 is per day).
    pub fn transient(&self) -> bool {
        matches!(self.code, -1 | 45047)
    }
}

/// One template message: its fields by name, and where tapping it goes.
#[derive(Debug, Clone, Serialize)]
pub struct Template<'a> {
    pub template_id: &'a str,
    pub url: &'a str,
    pub fields: Vec<(&'a str, String)>,
}

impl WechatPay {
    /// Whether the official account's API can be used (it needs the account's secret).
    pub fn has_official_account(&self) -> bool {
        self.cfg.app_secret.is_some()
    }

    /// The stable access token (the same for every instance: one never invalidates another's).
    pub(super) async fn access_token(&self, now: i64) -> anyhow::Result<String> {
        if let Some((token, until)) = super::lock(&self.token).clone()
            && now < until
        {
            return Ok(token);
        }
        let secret = self.cfg.app_secret.as_deref().context("app_secret is not configured")?;
        let reply: Value = self
            .http
            .post(format!("{}/cgi-bin/stable_token", self.cfg.oauth_api_url))
            .json(&json!({ "grant_type": "client_credential", "appid": self.cfg.appid, "secret": secret, "force_refresh": false }))
            .send()
            .await?
            .json()
            .await?;
        let (Some(token), Some(expires_in)) =
            (reply.get("access_token").and_then(Value::as_str), reply.get("expires_in").and_then(Value::as_i64))
        else {
            bail!("stable_token refused: {}", reply.get("errmsg").and_then(Value::as_str).unwrap_or("no access_token"));
        };
        *super::lock(&self.token) = Some((token.to_string(), now + expires_in - RENEW_BEFORE_SECS));
        Ok(token.to_string())
    }

    fn forget_token(&self) {
        *super::lock(&self.token) = None;
    }

    /// Calls `path` with the token (POSTing `body` when there is one); a stale token is renewed
    /// once. The reply's errcode, when not 0, comes back inside the JSON for the caller to read.
    async fn oa_call(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        now: i64,
    ) -> anyhow::Result<Value> {
        for attempt in 0..2 {
            let token = self.access_token(now).await?;
            let mut q = vec![("access_token", token.as_str())];
            q.extend_from_slice(query);
            let url = format!("{}{path}?{}", self.cfg.oauth_api_url, serde_urlencoded::to_string(&q)?);
            let request = match body {
                Some(body) => self.http.post(url).json(body),
                None => self.http.get(url),
            };
            let reply: Value = request.send().await?.json().await?;
            let errcode = reply.get("errcode").and_then(Value::as_i64).unwrap_or(0);
            if attempt == 0 && token_stale(errcode) {
                self.forget_token();
                continue;
            }
            return Ok(reply);
        }
        bail!("{path}: the access token was refused twice")
    }

    /// One page of followers' openids (up to 10,000) and where the next page starts (None at
    /// the end).
    pub async fn followers(&self, next_openid: &str, now: i64) -> anyhow::Result<(Vec<String>, Option<String>)> {
        let reply = self.oa_call("/cgi-bin/user/get", &[("next_openid", next_openid)], None, now).await?;
        if let Some(code) = reply.get("errcode").and_then(Value::as_i64).filter(|c| *c != 0) {
            bail!("user/get refused: {code} {}", reply.get("errmsg").and_then(Value::as_str).unwrap_or(""));
        }
        let openids: Vec<String> = reply
            .pointer("/data/openid")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default();
        let next = reply.get("next_openid").and_then(Value::as_str).filter(|n| !n.is_empty());
        // The last page repeats the last openid as next_openid with a count of 0.
        let next = if openids.is_empty() { None } else { next.map(String::from) };
        Ok((openids, next))
    }

    /// The followers' unionids, up to `BATCH` openids at a time.
    pub async fn follower_info(&self, openids: &[String], now: i64) -> anyhow::Result<Vec<Follower>> {
        let list: Vec<Value> = openids.iter().map(|o| json!({ "openid": o, "lang": "zh_CN" })).collect();
        let reply = self.oa_call("/cgi-bin/user/info/batchget", &[], Some(&json!({ "user_list": list })), now).await?;
        if let Some(code) = reply.get("errcode").and_then(Value::as_i64).filter(|c| *c != 0) {
            bail!("user/info/batchget refused: {code} {}", reply.get("errmsg").and_then(Value::as_str).unwrap_or(""));
        }
        Ok(reply
            .get("user_info_list")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|u| {
                        Some(Follower {
                            openid: u.get("openid")?.as_str()?.to_string(),
                            unionid: u.get("unionid").and_then(Value::as_str).map(String::from),
                            subscribed: u.get("subscribe").and_then(Value::as_i64) == Some(1),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Sends one template message.
    pub async fn send_template(&self, openid: &str, template: &Template<'_>, now: i64) -> anyhow::Result<Sent> {
        let data: serde_json::Map<String, Value> =
            template.fields.iter().map(|(name, value)| (name.to_string(), json!({ "value": value }))).collect();
        let body = json!({ "touser": openid, "template_id": template.template_id, "url": template.url, "data": data });
        let reply = self.oa_call("/cgi-bin/message/template/send", &[], Some(&body), now).await?;
        let code = reply.get("errcode").and_then(Value::as_i64).unwrap_or(-1);
        if code == 0 {
            let msgid = reply.get("msgid").map(|m| m.to_string()).unwrap_or_default();
            return Ok(Sent::Accepted { msgid });
        }
        let message = reply.get("errmsg").and_then(Value::as_str).unwrap_or("").to_string();
        Ok(Sent::Refused(Refused { code, message }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_tokens_and_transient_refusals() {
        assert!(token_stale(40001) && token_stale(42001) && !token_stale(0) && !token_stale(43004));
        assert!(Refused { code: -1, message: String::new() }.transient());
        // 43004: the user does not follow; 40037: a wrong template id. Neither improves later.
        assert!(!Refused { code: 43004, message: String::new() }.transient());
        assert!(!Refused { code: 40037, message: String::new() }.transient());
    }
}
