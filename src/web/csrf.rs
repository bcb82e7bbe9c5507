//! `CsrfForm<T>`: a url-encoded form whose `csrf_token` matches the session's (compared in
//! constant time) and whose `Origin`, when sent, is this shop. Anything else is a 403 page
//! and the handler never runs.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::http::header::ORIGIN;
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::auth::session::TypedSession;
use crate::domain::text::has_forbidden_control;
use crate::error::AppError;

pub const FORM_LIMIT_BYTES: usize = 64 * 1024;

pub struct CsrfForm<T>(pub T);

/// A form with nothing but its CSRF token (a button).
#[derive(serde::Deserialize, Default)]
pub struct NoFields {}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = Bytes::from_request(&req, payload);
        Box::pin(async move {
            if !origin_allowed(&req) {
                tracing::warn!(origin = ?req.headers().get(ORIGIN), "form from a foreign origin refused");
                return Err(AppError::Csrf);
            }
            let body = body.await.map_err(|_| AppError::BadRequest)?;
            if body.len() > FORM_LIMIT_BYTES {
                return Err(AppError::BadRequest);
            }
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| AppError::BadRequest)?;
            let sent = pairs.iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v.as_str()).unwrap_or("");
            check_token(&req, sent)?;
            if pairs.iter().any(|(k, v)| has_forbidden_control(k) || has_forbidden_control(v)) {
                return Err(AppError::ControlCharacters);
            }
            let form = serde_urlencoded::from_bytes(&body).map_err(|_| AppError::BadRequest)?;
            Ok(CsrfForm(form))
        })
    }
}

/// For small JSON posts from page scripts: the token travels in `X-CSRF-Token`.
pub fn check_header(req: &HttpRequest) -> Result<(), AppError> {
    let sent = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    check_token(req, sent)
}

/// The Origin (when sent) is this shop and `sent` is the session's token.
pub fn check_token(req: &HttpRequest, sent: &str) -> Result<(), AppError> {
    if !origin_allowed(req) {
        return Err(AppError::Csrf);
    }
    let session = req.get_session();
    let expected = TypedSession(&session).csrf_token().unwrap_or_default();
    if expected.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(AppError::Csrf);
    }
    Ok(())
}

/// No Origin header (older browsers, some in-app browsers) passes on the token alone; a present
/// one must be this shop's public origin or the origin the request was addressed to.
fn origin_allowed(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if let Some(state) = req.app_data::<Data<AppState>>()
        && origin.eq_ignore_ascii_case(&state.settings.public_url)
    {
        return true;
    }
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    origin.eq_ignore_ascii_case(&own)
}
