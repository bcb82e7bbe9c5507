//! Refunds in flight: approved requests whose provider call failed or has not finished (and any
//! approval interrupted by a crash) are pushed again under the same refund number.

use std::time::Duration;

use crate::domain::time::now;
use crate::services::refunds::Refunder;
use crate::store::refunds;

/// A refund is asked about again once it has waited this long.
pub const RETRY_AFTER_SECS: i64 = 60;
const BATCH: i64 = 100;

pub fn spawn(refunder: Refunder, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !super::hold(&refunder.db, "refunds", every).await {
                continue;
            }
            crate::telemetry::job_ran("refunds");
            if let Err(e) = run_once(&refunder, now()).await {
                tracing::warn!(error = format!("{e:#}"), "refund job failed; will retry");
            }
        }
    });
}

pub async fn run_once(refunder: &Refunder, now: i64) -> anyhow::Result<()> {
    for refund in refunds::in_flight(&refunder.db, now - RETRY_AFTER_SECS, BATCH).await? {
        refunder.push(&refund, now).await?;
    }
    Ok(())
}
