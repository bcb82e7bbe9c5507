//! Background work that runs beside the web server.

pub mod memory;
pub mod orders;
pub mod progress;
pub mod refunds;
pub mod sms;

use std::time::Duration;

use crate::domain::time::now;
use crate::store::sessions::DbSessionStore;
use crate::store::{Db, limits, sms as sms_codes};

/// Hourly: forget expired sessions, old SMS codes and old login failures. Nothing here is
/// business data; the windows kept are longer than any rule that reads them.
pub fn spawn_cleanup(db: Db, sessions: Option<DbSessionStore>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = cleanup(&db, sessions.as_ref()).await {
                tracing::warn!(error = format!("{e:#}"), "cleanup failed; will retry");
            }
        }
    });
}

pub async fn cleanup(db: &Db, sessions: Option<&DbSessionStore>) -> anyhow::Result<()> {
    let now = now();
    let codes = sms_codes::delete_older_than(db, now - 2 * 86_400).await?;
    let failures = limits::delete_older_than(db, now - 86_400).await?;
    let expired = match sessions {
        Some(store) => store.purge_expired().await?,
        None => 0,
    };
    tracing::debug!(codes, failures, expired, "cleanup done");
    Ok(())
}
