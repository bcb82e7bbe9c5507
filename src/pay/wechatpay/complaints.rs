//! WeChat Pay consumer complaints (消费者投诉 2.0): the details behind a COMPLAINT.* notification,
//! the merchant's reply, and marking one handled. Signed and verified like every other call.

use anyhow::{Context, bail};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::WechatPay;

#[derive(Debug, Clone, Deserialize)]
pub struct OrderRef {
    pub out_trade_no: String,
}

/// A complaint as the platform describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct PlatformComplaint {
    pub complaint_id: String,
    /// PENDING, PROCESSING or PROCESSED.
    pub complaint_state: String,
    pub complaint_detail: String,
    #[serde(default)]
    pub problem_description: String,
    #[serde(default)]
    pub complaint_order_info: Vec<OrderRef>,
}

impl PlatformComplaint {
    pub fn order_no(&self) -> Option<&str> {
        self.complaint_order_info.first().map(|o| o.out_trade_no.as_str())
    }
}

fn valid_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("not a WeChat complaint id: {id:?}");
    }
    Ok(())
}

impl WechatPay {
    pub async fn complaint(&self, complaint_id: &str) -> anyhow::Result<PlatformComplaint> {
        valid_id(complaint_id)?;
        let path = format!("/v3/merchant-service/complaints-v2/{complaint_id}");
        let (status, reply) = self.call(Method::GET, &path, None).await?;
        if !(200..300).contains(&status) {
            bail!("WeChat Pay complaint query failed ({status}): {reply}");
        }
        serde_json::from_value(reply).context("WeChat Pay complaint details")
    }

    /// Replies to the payer on the platform (shown to them in WeChat).
    pub async fn respond_to_complaint(&self, complaint_id: &str, text: &str) -> anyhow::Result<()> {
        valid_id(complaint_id)?;
        let path = format!("/v3/merchant-service/complaints-v2/{complaint_id}/response");
        let content: String = text.chars().take(200).collect();
        let body = json!({ "complainted_mchid": self.cfg.mchid, "response_content": content });
        let (status, reply) = self.call(Method::POST, &path, Some(&body)).await?;
        if !(200..300).contains(&status) {
            bail!("WeChat Pay complaint reply failed ({status}): {reply}");
        }
        Ok(())
    }

    /// Tells the platform the complaint is handled.
    pub async fn complete_complaint(&self, complaint_id: &str) -> anyhow::Result<()> {
        valid_id(complaint_id)?;
        let path = format!("/v3/merchant-service/complaints-v2/{complaint_id}/complete");
        let body = json!({ "complainted_mchid": self.cfg.mchid });
        let (status, reply) = self.call(Method::POST, &path, Some(&body)).await?;
        if !(200..300).contains(&status) {
            bail!("WeChat Pay complaint completion failed ({status}): {reply}");
        }
        Ok(())
    }
}
