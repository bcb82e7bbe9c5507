//! Profit sharing (分账, API v3 `/v3/profitsharing/…`): the distributor's commission goes from a
//! held WeChat payment straight to their WeChat balance, or the held funds are released when
//! there is nothing to share. WeChat enforces the ratio cap itself; every call is retried under
//! the same `out_order_no`, which WeChat treats as one request.

use anyhow::bail;
use reqwest::Method;
use serde_json::{Value, json};

use super::WechatPay;
use crate::domain::Fen;

/// Where a split or a release stands at WeChat Pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitState {
    /// Accepted, still being processed (ask again later).
    Processing,
    Finished,
    /// Refused or closed, with WeChat's reason.
    Failed(String),
}

fn state_of(reply: &Value) -> SplitState {
    let receiver_failed = reply["receivers"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["result"] == "CLOSED"))
        .map(|r| r["fail_reason"].as_str().unwrap_or("CLOSED").to_string());
    match (reply["state"].as_str(), receiver_failed) {
        (_, Some(reason)) => SplitState::Failed(reason),
        (Some("FINISHED"), None) => SplitState::Finished,
        _ => SplitState::Processing,
    }
}

impl WechatPay {
    /// Adds the distributor's openid as a receiver (a repeat is harmless at WeChat).
    pub async fn add_receiver(&self, openid: &str) -> anyhow::Result<()> {
        let body = json!({
            "appid": self.cfg.appid,
            "type": "PERSONAL_OPENID",
            "account": openid,
            "relation_type": "DISTRIBUTOR",
        });
        let (status, reply) = self.call(Method::POST, "/v3/profitsharing/receivers/add", Some(&body)).await?;
        if !(200..300).contains(&status) {
            bail!("WeChat Pay refused the receiver ({status}): {reply}");
        }
        Ok(())
    }

    /// Splits `amount` of the payment `transaction_id` to `openid`, releasing the rest.
    pub async fn split(
        &self,
        transaction_id: &str,
        out_order_no: &str,
        openid: &str,
        amount: Fen,
        description: &str,
    ) -> anyhow::Result<SplitState> {
        let body = json!({
            "appid": self.cfg.appid,
            "transaction_id": transaction_id,
            "out_order_no": out_order_no,
            "receivers": [{ "type": "PERSONAL_OPENID", "account": openid, "amount": amount.0, "description": description }],
            "unfreeze_unsplit": true,
        });
        let (status, reply) = self.call(Method::POST, "/v3/profitsharing/orders", Some(&body)).await?;
        if status >= 500 || status == 429 {
            bail!("WeChat Pay profit sharing not accepted yet ({status}): {reply}");
        }
        if !(200..300).contains(&status) {
            return Ok(SplitState::Failed(reply["code"].as_str().unwrap_or("REFUSED").to_string()));
        }
        Ok(state_of(&reply))
    }

    /// Where a split or release stands.
    pub async fn query_split(&self, transaction_id: &str, out_order_no: &str) -> anyhow::Result<Option<SplitState>> {
        let path = format!("/v3/profitsharing/orders/{out_order_no}?transaction_id={transaction_id}");
        let (status, reply) = self.call(Method::GET, &path, None).await?;
        match status {
            404 => Ok(None),
            200..=299 => Ok(Some(state_of(&reply))),
            _ => bail!("WeChat Pay profit sharing query failed ({status}): {reply}"),
        }
    }

    /// Releases the held funds of a payment with nothing to share.
    pub async fn unfreeze(&self, transaction_id: &str, out_order_no: &str) -> anyhow::Result<SplitState> {
        let body = json!({
            "transaction_id": transaction_id,
            "out_order_no": out_order_no,
            "description": "无分账，解冻资金",
        });
        let (status, reply) = self.call(Method::POST, "/v3/profitsharing/orders/unfreeze", Some(&body)).await?;
        if status >= 500 || status == 429 {
            bail!("WeChat Pay unfreeze not accepted yet ({status}): {reply}");
        }
        if !(200..300).contains(&status) {
            return Ok(SplitState::Failed(reply["code"].as_str().unwrap_or("REFUSED").to_string()));
        }
        Ok(state_of(&reply))
    }
}
