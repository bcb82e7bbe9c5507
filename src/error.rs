//! Errors split by audience: what the visitor can act on gets a status and a localized page
//! (rendered by `web::error_page`), everything else is logged once with its cause chain and
//! shown as a plain "something went wrong" page.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, LOCATION, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("CSRF token missing or wrong, or foreign origin")]
    Csrf,
    #[error("forbidden")]
    Forbidden,
    /// Not signed in (or not as staff): a 303 to the sign-in page, which comes back afterwards.
    #[error("sign in first at {0}")]
    SignIn(String),
    #[error("bad request")]
    BadRequest,
    /// A form or query carried a control character (see `domain::text::is_forbidden_control`).
    #[error("control characters in the input")]
    ControlCharacters,
    #[error("request body too large")]
    TooLarge,
    #[error("rate limited for {0} s")]
    RateLimited(i64),
    /// Media or upload storage did not answer: a 503 that says so, never half a file.
    #[error("storage unavailable: {0:#}")]
    StorageUnavailable(anyhow::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// Attached to error responses so the error-page middleware can say the right thing.
#[derive(Debug, Clone, Copy)]
pub enum ErrorPageKind {
    Csrf,
    ControlCharacters,
    RateLimited(i64),
    Storage,
}

impl AppError {
    pub fn storage(e: anyhow::Error) -> AppError {
        AppError::StorageUnavailable(e)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Csrf | AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::SignIn(_) => StatusCode::SEE_OTHER,
            AppError::BadRequest | AppError::ControlCharacters => StatusCode::BAD_REQUEST,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::SignIn(to) = self {
            return HttpResponse::SeeOther().insert_header((LOCATION, to.as_str())).finish();
        }
        let mut response = HttpResponse::new(self.status_code());
        match self {
            AppError::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            AppError::StorageUnavailable(e) => {
                tracing::error!(error = format!("{e:#}"), "storage unavailable");
                response.extensions_mut().insert(ErrorPageKind::Storage);
                response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("30"));
            }
            AppError::Csrf => {
                response.extensions_mut().insert(ErrorPageKind::Csrf);
            }
            AppError::ControlCharacters => {
                response.extensions_mut().insert(ErrorPageKind::ControlCharacters);
            }
            AppError::RateLimited(secs) => {
                response.extensions_mut().insert(ErrorPageKind::RateLimited(*secs));
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}
