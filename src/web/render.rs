use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use askama::Template;

use crate::error::AppError;

pub const HTML: &str = "text/html; charset=utf-8";

pub fn render<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    render_with_status(page, StatusCode::OK)
}

/// Pages are personal or carry a CSRF token, so shared caches must not keep them.
pub fn render_with_status<T: Template>(
    page: &T,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let body = page.render()?;
    Ok(HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, HTML))
        .insert_header((CACHE_CONTROL, "private, no-cache"))
        .body(body))
}

/// 303 See Other: after a form POST the browser follows with a GET.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}
