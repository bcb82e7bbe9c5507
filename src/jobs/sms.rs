//! Sends the SMS outbox: due rows are claimed one sender at a time, sent in the shop's wording
//! through the configured provider(s), and marked sent, queued again (a transient refusal, with
//! a growing wait) or failed. A row a stopped process left mid-send is settled as uncertain
//! rather than sent twice.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::Phone;
use crate::domain::sms::{Kind, Message};
use crate::domain::time::now;
use crate::sms::SmsSender;
use crate::store::Db;
use crate::store::shop_settings::ShopCache;
use crate::store::sms_outbox::{self, MAX_ATTEMPTS};

/// Texts per second at most (carriers and providers throttle bursts).
const PER_RUN: i64 = 20;

pub fn spawn(db: Db, sender: Arc<dyn SmsSender>, shop: ShopCache) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if !super::hold(&db, "sms", Duration::from_secs(1)).await {
                continue;
            }
            crate::telemetry::job_ran("sms");
            if let Err(e) = run_once(&db, sender.as_ref(), &shop, now()).await {
                tracing::warn!(error = format!("{e:#}"), "SMS outbox run failed; will retry");
            }
        }
    });
}

/// The shop's wording of a kind: the back office's for codes and refunds, else the default.
pub fn wording(shop: &ShopCache, kind: Kind) -> String {
    let settings = shop.get();
    match kind {
        Kind::LoginCode => settings.sms_code.clone(),
        Kind::RefundRefunded => settings.sms_refund.clone(),
        other => other.default_wording().to_string(),
    }
}

/// Seconds before another try after `attempts` transient refusals: 30 s, 2, 8, 32 minutes.
pub(crate) fn retry_delay(attempts: i64) -> i64 {
    30 * 4_i64.pow(u32::try_from(attempts.clamp(1, 4) - 1).unwrap_or(0))
}

/// Sends what is due; returns how many texts it handled.
pub async fn run_once(db: &Db, sender: &dyn SmsSender, shop: &ShopCache, now: i64) -> anyhow::Result<usize> {
    let interrupted = sms_outbox::settle_interrupted(db, now).await?;
    if interrupted > 0 {
        tracing::warn!(
            texts = interrupted,
            "texts left mid-send by a stopped process are marked uncertain, not resent"
        );
    }
    let due = sms_outbox::claim_due(db, now, PER_RUN).await?;
    let mut broadcasts = Vec::new();
    for item in &due {
        let (Some(kind), Ok(phone)) = (item.kind, Phone::parse(&item.phone)) else {
            sms_outbox::mark_failed(db, item.id, "", "invalid", "unknown kind or phone", None, now).await?;
            continue;
        };
        let params: Vec<(&str, &str)> = item.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let message = Message::new(kind, &wording(shop, kind), &params);
        match sender.send(&phone, &message).await {
            Ok(receipt) => {
                metrics::counter!("sms_sent_total", "provider" => receipt.provider.to_string()).increment(1);
                sms_outbox::mark_sent(db, item.id, receipt.provider, &receipt.send_id, now).await?
            }
            Err(e) => {
                let retry = (e.transient && item.attempts < MAX_ATTEMPTS).then(|| now + retry_delay(item.attempts));
                tracing::warn!(outbox = item.id.0, provider = e.provider, code = %e.code, retry = retry.is_some(), "text not sent");
                metrics::counter!("sms_failed_total", "provider" => e.provider.to_string()).increment(1);
                sms_outbox::mark_failed(db, item.id, e.provider, &e.code, &e.message, retry, now).await?;
            }
        }
        if let Some(id) = item.broadcast_id
            && !broadcasts.contains(&id)
        {
            broadcasts.push(id);
        }
    }
    for id in broadcasts {
        sms_outbox::update_broadcast(db, id, now).await?;
    }
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time() {
        assert_eq!((1..=5).map(retry_delay).collect::<Vec<_>>(), [30, 120, 480, 1920, 1920]);
        assert_eq!(retry_delay(0), 30);
    }
}
