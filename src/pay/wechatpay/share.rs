//! The official account's JS-SDK share cards. A page inside WeChat asks for a signed `wx.config`
//! (the appId, a timestamp, a nonce and the SHA-1 signature over the jsapi_ticket and the page's
//! own URL), then sets the card's title, description and picture from its Open Graph tags. The
//! ticket comes from the stable access token (the same token for every instance, so one never
//! invalidates another's) and is kept until five minutes before it ends.

use anyhow::bail;
use serde::Serialize;
use serde_json::Value;

use super::{WechatPay, nonce};

/// A ticket is renewed this long before WeChat says it ends.
const RENEW_BEFORE_SECS: i64 = 300;

/// What `wx.config` needs, named as it names them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareConfig {
    pub app_id: String,
    pub timestamp: i64,
    pub nonce_str: String,
    pub signature: String,
}

/// The JS-SDK signature: SHA-1 (hex) of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`, the URL
/// without its fragment.
pub fn signature(ticket: &str, nonce: &str, timestamp: i64, url: &str) -> String {
    let url = url.split('#').next().unwrap_or(url);
    let plain = format!("jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}");
    hex::encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, plain.as_bytes()))
}

impl WechatPay {
    /// Whether share cards can be signed (they need the official account's secret).
    pub fn has_share(&self) -> bool {
        self.cfg.app_secret.is_some()
    }

    /// A signed `wx.config` for the page at `url`.
    pub async fn share_config(&self, url: &str, now: i64) -> anyhow::Result<ShareConfig> {
        let ticket = self.jsapi_ticket(now).await?;
        let nonce_str = nonce();
        Ok(ShareConfig {
            app_id: self.cfg.appid.clone(),
            timestamp: now,
            signature: signature(&ticket, &nonce_str, now, url),
            nonce_str,
        })
    }

    async fn jsapi_ticket(&self, now: i64) -> anyhow::Result<String> {
        if let Some((ticket, until)) = self.lock_ticket().clone()
            && now < until
        {
            return Ok(ticket);
        }
        let access_token = self.access_token(now).await?;
        let q = serde_urlencoded::to_string([("access_token", access_token.as_str()), ("type", "jsapi")])?;
        let reply: Value = self
            .http
            .get(format!("{}/cgi-bin/ticket/getticket?{q}", self.cfg.oauth_api_url))
            .send()
            .await?
            .json()
            .await?;
        let (Some(ticket), Some(expires_in)) =
            (reply.get("ticket").and_then(Value::as_str), reply.get("expires_in").and_then(Value::as_i64))
        else {
            bail!("getticket refused: {}", reply.get("errmsg").and_then(Value::as_str).unwrap_or("no ticket"));
        };
        *self.lock_ticket() = Some((ticket.to_string(), now + expires_in - RENEW_BEFORE_SECS));
        Ok(ticket.to_string())
    }

    fn lock_ticket(&self) -> std::sync::MutexGuard<'_, Option<(String, i64)>> {
        super::lock(&self.ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of WeChat's JS-SDK documentation (附录1).
    #[test]
    fn signs_as_the_documentation_does() {
        let ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
        let got = signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#frag");
        assert_eq!(got, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }
}
