//! Request plumbing shared by every route: application state, the page context, CSRF-checked
//! forms, rendering and error pages.

pub mod assets;
pub mod banner;
pub mod compress;
pub mod context;
pub mod csrf;
pub mod csv;
pub mod error_page;
pub mod escape;
pub mod rejections;
pub mod render;
pub mod screen;
pub mod state;
pub mod stream;
pub mod stream_slots;
pub mod uploads;

pub use context::{LoggedIn, Meta, PageContext};
pub use csrf::CsrfForm;
pub use render::{redirect, render, render_catalog_page, render_with_status};
pub use state::AppState;

use actix_web::HttpRequest;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// A query string carrying a control character (`%00`, say) is refused with 400 and says why: no
/// one types one, and PostgreSQL cannot compare NUL in text (searches would fail with a 500). A
/// path carrying one names nothing the shop has: the friendly 404.
pub async fn refuse_control_characters(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    use crate::domain::text::has_encoded_control;
    let (path, q) = (req.uri().path(), req.query_string());
    let refusal = if has_encoded_control(path) {
        Some(crate::error::AppError::NotFound)
    } else if has_encoded_control(q) {
        Some(crate::error::AppError::ControlCharacters)
    } else {
        None
    };
    if let Some(error) = refusal {
        // A response, not an error, so that the error pages dress it like any other 404 or 400.
        let response = actix_web::HttpResponse::from_error(error);
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// The client address used for rate limits, login history, the audit log and risk flags. Behind
/// the kit's nginx (`trust_forwarded`), it is the address nginx itself appended to
/// `X-Forwarded-For` (`$proxy_add_x_forwarded_for`): the last entry. Every entry before it, and
/// any `Forwarded` header, came from the client and may be anything.
pub fn client_ip(req: &HttpRequest, trust_forwarded: bool) -> String {
    let peer = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    if !trust_forwarded {
        return peer;
    }
    let values: Vec<&str> = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
    appended_by_proxy(&values).unwrap_or(peer)
}

/// The last address in the `X-Forwarded-For` headers (several headers read as one list).
fn appended_by_proxy(values: &[&str]) -> Option<String> {
    let last = values.iter().flat_map(|v| v.split(',')).map(str::trim).rfind(|a| !a.is_empty())?;
    last.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::appended_by_proxy;

    #[test]
    fn the_proxy_appended_address_wins_over_what_the_client_wrote() {
        assert_eq!(appended_by_proxy(&["203.0.113.9"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(appended_by_proxy(&["1.2.3.4, 203.0.113.9"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(appended_by_proxy(&["1.2.3.4", "5.6.7.8, 203.0.113.9"]).as_deref(), Some("203.0.113.9"));
        assert_eq!(appended_by_proxy(&["2001:db8::1"]).as_deref(), Some("2001:db8::1"));
        assert_eq!(appended_by_proxy(&["1.2.3.4, not-an-ip"]), None, "garbage: fall back to the peer");
        assert_eq!(appended_by_proxy(&[]), None);
        assert_eq!(appended_by_proxy(&[" , "]), None);
    }
}
