//! Logs: `RUST_LOG` filters (default `info`); each request's lines carry its request id
//! (the span opened by `tracing-actix-web`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // A second init (tests spawn many apps in one process) is harmless.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
