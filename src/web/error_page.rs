//! Turns every error response that is not already a page (a 404 from routing, a 403 from the
//! CSRF check, a 429, a 500, actix's own 400/405/413) into a localized page: never a bare
//! status, never a stack trace.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use askama::Template;

use super::render::HTML;
use crate::error::ErrorPageKind;
use crate::i18n::Lang;

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage {
    lang: Lang,
    status: u16,
    heading: &'static str,
    message: String,
}

impl ErrorPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

pub fn render_error_page<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // A page or a deliberate API answer (JSON to a payment gateway) stays as it is; only bare
    // statuses and actix's own plain-text errors become pages.
    let deliberate =
        res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| !v.starts_with("text/plain"));
    // Load balancers read /healthz and /readyz as plain text.
    if deliberate || matches!(res.request().path(), "/healthz" | "/readyz") {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let lang = Lang::from_request(res.request());
    let status = res.status();
    let kind = res.response().extensions().get::<ErrorPageKind>().copied();
    let (heading, message) = describe(lang, status, kind);
    let page = ErrorPage { lang, status: status.as_u16(), heading, message };
    let body = page.render().unwrap_or_else(|_| format!("{} {}", status.as_u16(), heading));
    let (req, mut response) = res.into_parts();
    let headers = response.headers_mut();
    // The body is replaced: what described the old one (a compressor's gzip) no longer holds.
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(HTML));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let response = response.set_body(BoxBody::new(body)).map_into_right_body::<B>();
    let response: actix_web::HttpResponse<EitherBody<B, BoxBody>> = response;
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response)))
}

fn describe(lang: Lang, status: StatusCode, kind: Option<ErrorPageKind>) -> (&'static str, String) {
    match (status, kind) {
        (_, Some(ErrorPageKind::Csrf)) => (lang.t("error_csrf_title"), lang.t("error_csrf_body").into()),
        (_, Some(ErrorPageKind::ControlCharacters)) => {
            (lang.t("error_control_title"), lang.t("error_control_body").into())
        }
        (_, Some(ErrorPageKind::Storage)) => (lang.t("error_storage_title"), lang.t("error_storage_body").into()),
        (_, Some(ErrorPageKind::RateLimited(secs))) => (lang.t("error_429_title"), lang.wait_message(secs)),
        (StatusCode::NOT_FOUND, _) => (lang.t("error_404_title"), lang.t("error_404_body").into()),
        (StatusCode::FORBIDDEN, _) => (lang.t("error_403_title"), lang.t("error_403_body").into()),
        (StatusCode::TOO_MANY_REQUESTS, _) => (lang.t("error_429_title"), lang.t("error_429_body").into()),
        (StatusCode::PAYLOAD_TOO_LARGE, _) => (lang.t("error_413_title"), lang.t("error_413_body").into()),
        (s, _) if s.is_client_error() => (lang.t("error_400_title"), lang.t("error_400_body").into()),
        _ => (lang.t("error_500_title"), lang.t("error_500_body").into()),
    }
}
