//! Sends the official account's template messages from their outbox, and refreshes the
//! followers a message can reach (user/get, then user/info/batchget for their unionids).

use std::sync::Arc;
use std::time::Duration;

use crate::domain::time::now;
use crate::pay::wechatpay::WechatPay;
use crate::pay::wechatpay::official_account::{Sent, Template};
use crate::services::oa_notices::refresh_followers;
use crate::store::Db;
use crate::store::wechat_outbox::{self, MAX_ATTEMPTS, Payload};

/// Messages per second at most.
const PER_RUN: i64 = 20;

/// The followers are fetched again when the last fetch is older than this.
const FOLLOWERS_EVERY_SECS: i64 = 24 * 3600;

pub fn spawn(db: Db, wechat: Arc<WechatPay>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut followers_checked = 0;
        loop {
            tick.tick().await;
            if !super::hold(&db, "wechat_messages", Duration::from_secs(1)).await {
                continue;
            }
            crate::telemetry::job_ran("wechat_messages");
            let at = now();
            if let Err(e) = run_once(&db, &wechat, at).await {
                tracing::warn!(error = format!("{e:#}"), "template message run failed; will retry");
            }
            // Hourly: a daily refresh of who follows, so a takedown notice reaches today's followers.
            if at - followers_checked >= 3600 {
                followers_checked = at;
                let stale = wechat_outbox::last_fetched(&db)
                    .await
                    .ok()
                    .flatten()
                    .is_none_or(|t| at - t >= FOLLOWERS_EVERY_SECS);
                if stale && let Err(e) = refresh_followers(&db, &wechat, at).await {
                    tracing::warn!(error = format!("{e:#}"), "could not refresh the official account's followers");
                }
            }
        }
    });
}

pub async fn run_once(db: &Db, wechat: &WechatPay, now: i64) -> anyhow::Result<usize> {
    let interrupted = wechat_outbox::settle_interrupted(db, now).await?;
    if interrupted > 0 {
        tracing::warn!(messages = interrupted, "template messages left mid-send are marked uncertain, not resent");
    }
    let due = wechat_outbox::claim_due(db, now, PER_RUN).await?;
    for item in &due {
        let Ok(payload) = serde_json::from_str::<Payload>(&item.payload) else {
            wechat_outbox::mark_failed(db, item.id, "invalid", "unreadable payload", None, now).await?;
            continue;
        };
        let template = Template {
            template_id: &item.template_id,
            url: &payload.url,
            fields: payload.fields.iter().map(|(k, v)| (k.as_str(), v.clone())).collect(),
        };
        match wechat.send_template(&item.openid, &template, now).await {
            Ok(Sent::Accepted { msgid }) => {
                metrics::counter!("wechat_messages_sent_total").increment(1);
                wechat_outbox::mark_sent(db, item.id, &msgid, now).await?;
            }
            Ok(Sent::Refused(refused)) => {
                let retry = (refused.transient() && item.attempts < MAX_ATTEMPTS)
                    .then(|| now + super::sms::retry_delay(item.attempts));
                metrics::counter!("wechat_messages_failed_total").increment(1);
                wechat_outbox::mark_failed(db, item.id, &refused.code.to_string(), &refused.message, retry, now)
                    .await?;
            }
            Err(e) => {
                // Not answered: it may have gone out, so it is not sent again.
                tracing::warn!(outbox = item.id.0, error = format!("{e:#}"), "template message not answered");
                wechat_outbox::mark_failed(db, item.id, "unanswered", &format!("{e:#}"), None, now).await?;
            }
        }
    }
    Ok(due.len())
}
