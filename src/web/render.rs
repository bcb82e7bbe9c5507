use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, LOCATION, VARY};
use actix_web::web::Bytes;
use askama::Template;

use super::PageContext;
use crate::catalog::{CachedPage, Catalog};
use crate::error::AppError;

pub const HTML: &str = "text/html; charset=utf-8";

thread_local! {
    /// Each worker renders into one buffer it keeps and copies the page out once: a fresh String
    /// regrown a dozen times per page cost more than the copy.
    static PAGE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A buffer larger than this (an unusually long page) is not kept.
const KEPT_BUFFER_BYTES: usize = 256 * 1024;

fn page_bytes<T: Template>(page: &T) -> Result<Bytes, askama::Error> {
    PAGE.with(|buffer| {
        // A page rendered while rendering another (never today) gets a buffer of its own.
        let Ok(mut buffer) = buffer.try_borrow_mut() else { return page.render().map(Bytes::from) };
        buffer.clear();
        let rendered = page.render_into(&mut *buffer).map(|()| Bytes::copy_from_slice(buffer.as_bytes()));
        if buffer.capacity() > KEPT_BUFFER_BYTES {
            *buffer = String::new();
        }
        rendered
    })
}

pub fn render<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    render_with_status(page, StatusCode::OK)
}

/// Pages rendered per request are personal or carry a CSRF token: no cache keeps them, not even
/// the browser's on a shared computer (ASVS 8.2.1). Anonymous catalog pages, which are neither,
/// are `render_catalog_page`'s.
pub fn render_with_status<T: Template>(page: &T, status: StatusCode) -> Result<HttpResponse, AppError> {
    let body = page_bytes(page)?;
    Ok(HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, HTML))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .body(body))
}

/// Catalog pages: an anonymous visitor gets the HTML rendered for the first anonymous visitor of
/// the same language and URL since the catalog was last loaded; logged-in pages are personal and
/// always rendered.
pub fn render_catalog_page<T: Template>(
    ctx: &PageContext,
    catalog: &Catalog,
    page: impl FnOnce() -> T,
) -> Result<HttpResponse, AppError> {
    if ctx.user.is_some() {
        return render(&page());
    }
    if let Some(cached) = cached_catalog_page(ctx, catalog) {
        return Ok(cached);
    }
    let page = cached_page(page_bytes(&page())?);
    catalog.pages.put(catalog_page_key(ctx), page.clone());
    Ok(cached_response(ctx, page))
}

/// Compressed once here instead of on every request.
fn cached_page(plain: Bytes) -> CachedPage {
    let gzip = super::compress::gzip(&plain).unwrap_or_default();
    CachedPage { plain, gzip }
}

fn catalog_page_key(ctx: &PageContext) -> String {
    let banner = ctx.banner.as_ref().map_or(0, |b| b.id.0);
    format!("{}|{banner}|{}|{}", ctx.lang.code(), ctx.shop.revision, ctx.path)
}

/// `render_catalog_page` for a page that reads the database too (a course's reviews): the read
/// happens only when the page is not cached.
pub async fn render_catalog_page_loading<T: Template, Fut>(
    ctx: &PageContext,
    catalog: &Catalog,
    page: impl FnOnce() -> Fut,
) -> Result<HttpResponse, AppError>
where
    Fut: Future<Output = Result<T, AppError>>,
{
    if ctx.user.is_some() {
        return render(&page().await?);
    }
    if let Some(cached) = cached_catalog_page(ctx, catalog) {
        return Ok(cached);
    }
    let page = cached_page(page_bytes(&page().await?)?);
    catalog.pages.put(catalog_page_key(ctx), page.clone());
    Ok(cached_response(ctx, page))
}

/// The anonymous visitor's copy of a catalog page, when there is one: a handler asks first, before
/// it gathers what rendering would need.
pub fn cached_catalog_page(ctx: &PageContext, catalog: &Catalog) -> Option<HttpResponse> {
    if ctx.user.is_some() {
        return None;
    }
    catalog.pages.get(&catalog_page_key(ctx)).map(|page| cached_response(ctx, page))
}

fn cached_response(ctx: &PageContext, page: CachedPage) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((CONTENT_TYPE, HTML))
        .insert_header((CACHE_CONTROL, "private, no-cache"))
        .insert_header((VARY, "Cookie, Accept-Language, Accept-Encoding"));
    if ctx.gzip && !page.gzip.is_empty() {
        return response.insert_header((CONTENT_ENCODING, "gzip")).body(page.gzip);
    }
    response.body(page.plain)
}

/// 303 See Other: after a form POST the browser follows with a GET.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((LOCATION, to)).finish()
}
