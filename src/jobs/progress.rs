//! Writes the progress reports gathered in `store::progress_buffer`.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Db;
use crate::store::progress_buffer::ProgressBuffer;

/// How often gathered reports are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Flushes every `FLUSH_EVERY` until the process ends (the server flushes once more on shutdown).
pub fn spawn(buffer: Arc<ProgressBuffer>, db: Db) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = buffer.flush(&db).await {
                tracing::warn!(error = %e, pending = buffer.pending(), "writing progress failed; will retry");
            }
        }
    });
}
