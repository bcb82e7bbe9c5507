//! Health for load balancers and orchestrators. `/healthz` is cheap (the process answers and the
//! database takes a query); `/readyz` also asks Redis and storage, each within a few seconds, and
//! says which one failed. Both are plain text and never cached.

use std::future::Future;
use std::time::Duration;

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, get, web};
use subtle::ConstantTimeEq;

use crate::web::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(prometheus);
}

/// 200 when the database answers, 503 otherwise. Plain text for load balancers.
#[get("/healthz")]
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => plain(HttpResponse::Ok(), "ok".into()),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "health check: database unreachable");
            plain(HttpResponse::ServiceUnavailable(), "database unavailable".into())
        }
    }
}

/// 200 when the database, Redis (if sessions live there) and storage all answer; else 503. One
/// line per dependency: `database: ok`, `storage: unavailable`…
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut lines = Vec::new();
    let mut ready = true;
    let mut check = |name: &str, outcome: anyhow::Result<()>| {
        if let Err(e) = &outcome {
            tracing::warn!(dependency = name, error = format!("{e:#}"), "readiness: not ready");
            ready = false;
        }
        lines.push(format!("{name}: {}", if outcome.is_ok() { "ok" } else { "unavailable" }));
    };
    check("database", within(state.db.ping()).await);
    if let Some(client) = &state.redis {
        check("redis", within(ping_redis(client)).await);
    }
    let storage = async { state.media.stat("readyz").await.map(|_| ()) };
    check("storage", within(storage).await);
    let builder = if ready { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    plain(builder, lines.join("\n") + "\n")
}

/// Prometheus metrics, for the bearer of `metrics_token` only (404 when none is set, so the shop
/// does not say it has them).
#[get("/metrics")]
async fn prometheus(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = state.settings.metrics_token.as_deref() else { return HttpResponse::NotFound().finish() };
    let presented = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let expected = format!("Bearer {token}");
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return HttpResponse::Unauthorized().insert_header((WWW_AUTHENTICATE, "Bearer")).finish();
    }
    for (pool, handle) in [("read", state.db.read()), ("write", state.db.write())] {
        metrics::gauge!("db_pool_connections", "pool" => pool).set(f64::from(handle.size()));
        metrics::gauge!("db_pool_idle_connections", "pool" => pool).set(handle.num_idle() as f64);
    }
    let now = crate::domain::time::now();
    if let Ok(sync) = crate::store::sync::status(&state.db, now - 86_400).await {
        if let Some(at) = sync.last_received_at {
            metrics::gauge!("sync_last_received_timestamp_seconds").set(at as f64);
        }
        if let Some(lag) = sync.lag_secs() {
            metrics::gauge!("sync_lag_seconds").set(lag as f64);
        }
    }
    let Some(handle) = crate::telemetry::metrics() else { return HttpResponse::NotFound().finish() };
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

async fn ping_redis(client: &redis::Client) -> anyhow::Result<()> {
    let mut connection = client.get_multiplexed_async_connection().await?;
    let pong: String = redis::cmd("PING").query_async(&mut connection).await?;
    anyhow::ensure!(pong == "PONG", "Redis answered {pong}");
    Ok(())
}

/// A dependency that does not answer within 3 s is as good as down.
async fn within(check: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(3), check).await.map_err(|_| anyhow::anyhow!("no answer within 3 s"))?
}

fn plain(mut builder: HttpResponseBuilder, body: String) -> HttpResponse {
    builder.insert_header((CACHE_CONTROL, "no-store")).content_type("text/plain").body(body)
}
