use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, get, web};

use crate::web::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz);
}

/// 200 when the database answers, 503 otherwise. Plain text for load balancers.
#[get("/healthz")]
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).content_type("text/plain").body("ok"),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "health check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .insert_header((CACHE_CONTROL, "no-store"))
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
