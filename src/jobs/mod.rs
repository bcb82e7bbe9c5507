//! Background work that runs beside the web server.

pub mod memory;
pub mod orders;
pub mod profit_sharing;
pub mod progress;
pub mod refunds;
pub mod reminders;
pub mod sms;
pub mod wechat_messages;

use std::time::Duration;

use crate::domain::time::now;
use crate::store::sessions::DbSessionStore;
use crate::store::{Db, limits, sms as sms_codes};

/// This process, among the instances sharing the database: random, new at every start.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| hex::encode(rand::random::<[u8; 8]>()))
}

/// True when this instance holds `job` for the next three intervals (at least a minute), so that
/// a job runs on one instance, and another takes it over when that one stops. A database error
/// counts as not holding it: the job waits for the next tick. On SQLite there is one instance by
/// design, and nothing is written.
pub async fn hold(db: &Db, job: &str, every: Duration) -> bool {
    if db.backend() == crate::store::Backend::Sqlite {
        return true;
    }
    let ttl = i64::try_from(every.as_secs().saturating_mul(3)).unwrap_or(i64::MAX).max(60);
    match crate::store::leases::take(db, job, instance_id(), now(), ttl).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(job, error = %e, "could not take the job's lease; skipping this run");
            false
        }
    }
}

/// Hourly: forget expired sessions, old SMS codes and old login failures. Nothing here is
/// business data; the windows kept are longer than any rule that reads them.
pub fn spawn_cleanup(db: Db, sessions: Option<DbSessionStore>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if !hold(&db, "cleanup", Duration::from_secs(3600)).await {
                continue;
            }
            if let Err(e) = cleanup(&db, sessions.as_ref()).await {
                tracing::warn!(error = format!("{e:#}"), "cleanup failed; will retry");
            }
        }
    });
}

pub async fn cleanup(db: &Db, sessions: Option<&DbSessionStore>) -> anyhow::Result<()> {
    let now = now();
    let codes = sms_codes::delete_older_than(db, now - 2 * 86_400).await?;
    let failures = limits::delete_older_than(db, now - 86_400).await?
        + crate::store::redeem::delete_failures_before(db, now - 86_400).await?;
    let rejected = crate::store::payment_notifications::prune_rejected(db, now).await?;
    let expired = match sessions {
        Some(store) => store.purge_expired().await?,
        None => 0,
    };
    tracing::debug!(codes, failures, expired, rejected, "cleanup done");
    Ok(())
}
