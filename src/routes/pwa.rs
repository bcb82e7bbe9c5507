//! The installable web app: the manifest (with the shop's name), the service worker at the root
//! (so its scope is the whole shop), and the page it shows offline.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::error::AppError;
use crate::web::{Meta, PageContext, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(manifest).service(worker).service(offline);
}

#[get("/manifest.webmanifest")]
async fn manifest(ctx: PageContext) -> HttpResponse {
    let name = ctx.shop_name().to_string();
    let body = serde_json::json!({
        "name": name,
        "short_name": name.chars().take(12).collect::<String>(),
        "description": ctx.t("site_description"),
        "lang": ctx.lang.code(),
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f7f8",
        "theme_color": "#0f766e",
        "icons": [
            { "src": "/static/img/icon-192.png", "sizes": "192x192", "type": "image/png" },
            { "src": "/static/img/icon-512.png", "sizes": "512x512", "type": "image/png" },
            { "src": "/static/img/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable" }
        ]
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/manifest+json"))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(body.to_string())
}

const WORKER: &str = include_str!("../../static/js/sw.js");

#[get("/sw.js")]
async fn worker() -> HttpResponse {
    // Browsers check for a new worker at most daily; no-cache makes them check on every visit.
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(WORKER)
}

#[derive(Template)]
#[template(path = "pages/offline.html")]
struct OfflinePage {
    ctx: PageContext,
    meta: Meta,
}

#[get("/offline")]
async fn offline(ctx: PageContext) -> Result<HttpResponse, AppError> {
    let meta = ctx.meta(&format!("{} - {}", ctx.t("offline_title"), ctx.shop_name()), "");
    render(&OfflinePage { ctx, meta })
}
