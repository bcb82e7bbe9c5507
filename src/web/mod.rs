//! Request plumbing shared by every route: application state, the page context, CSRF-checked
//! forms, rendering and error pages.

pub mod assets;
pub mod banner;
pub mod compress;
pub mod context;
pub mod csrf;
pub mod csv;
pub mod error_page;
pub mod render;
pub mod screen;
pub mod shared;
pub mod shop;
pub mod state;
pub mod stream;
pub mod stream_slots;
pub mod uploads;

pub use context::{Meta, PageContext};
pub use csrf::CsrfForm;
pub use render::{redirect, render, render_catalog_page, render_with_status};
pub use state::AppState;

use actix_web::HttpRequest;

/// The client address used for rate limits. `X-Forwarded-For` is believed only when the shop is
/// configured to sit behind a trusted reverse proxy.
pub fn client_ip(req: &HttpRequest, trust_forwarded: bool) -> String {
    if trust_forwarded && let Some(ip) = req.connection_info().realip_remote_addr() {
        return ip.to_string();
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}
