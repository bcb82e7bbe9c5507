//! Logs: `RUST_LOG` filters (default `info`). Plain text, coloured only on a terminal (a log
//! file or journald gets no escape codes), or with `log_format = "json"` one JSON object per
//! line. Each request's lines carry its request id and route (the span `tracing-actix-web` opens),
//! and `access_log` adds one line per request with its status and latency. Routes are logged as
//! patterns (`/orders/{order_no}`), never as the path and query, which can carry signatures.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// From the `log_format` setting; anything but `json` is text (the setting is checked when
    /// the settings load).
    pub fn from_setting(value: &str) -> LogFormat {
        if value == "json" { LogFormat::Json } else { LogFormat::Text }
    }
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // A second init (tests spawn many apps in one process) is harmless.
    let _ = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_target(false)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use (one per process: tests start many
/// shops in one); its handle renders `/metrics`.
pub fn metrics() -> Option<&'static PrometheusHandle> {
    const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
    PROMETHEUS.get_or_init(|| PrometheusBuilder::new().set_buckets(&BUCKETS).ok()?.install_recorder().ok()).as_ref()
}

/// A background job's run: counted, and its time kept, so lag is now minus the last run.
pub fn job_ran(job: &'static str) {
    metrics::counter!("job_runs_total", "job" => job).increment(1);
    metrics::gauge!("job_last_run_timestamp_seconds", "job" => job).set(crate::domain::time::now() as f64);
}

/// A request's route pattern, found once by `RequestSpan` for the span, the access log and the
/// metrics (actix matches the path against every route again on each `match_pattern`).
struct Route(String);

/// Paths a worker kept with their route pattern, and the longest path it keeps.
const ROUTES_KEPT: usize = 4096;
const LONGEST_KEPT_PATH: usize = 200;

thread_local! {
    /// Each worker's recent paths and their route patterns. Before routing, actix finds a path's
    /// pattern by trying every route's regex in turn (a tenth of an anonymous course page's
    /// work); the same pages are asked for again and again, and routes never change while
    /// serving. Visitors choose the paths, so the map hashes with SipHash and is emptied when full.
    static ROUTES: std::cell::RefCell<std::collections::HashMap<Box<str>, String>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn route_of(request: &ServiceRequest) -> String {
    let path = request.path();
    let find = || request.match_pattern().unwrap_or_else(|| "(unmatched)".to_string());
    if path.len() > LONGEST_KEPT_PATH {
        return find();
    }
    ROUTES.with(|routes| {
        let Ok(mut routes) = routes.try_borrow_mut() else { return find() };
        if let Some(route) = routes.get(path) {
            return route.clone();
        }
        if routes.len() >= ROUTES_KEPT {
            routes.clear();
        }
        let route = find();
        routes.insert(path.into(), route.clone());
        route
    })
}

/// Each request's span: its id, method and route pattern, and later its status. Not the target
/// with its query (tracing-actix-web's default): signed media URLs and `next=` links would land
/// in the logs.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = route_of(request);
        // Formatted only when the span is logged.
        let request_id = request.extensions().get::<RequestId>().copied();
        let span = tracing::info_span!(
            "request",
            request_id = request_id.map(tracing::field::display),
            method = %request.method(),
            route = %route,
            http.status_code = tracing::field::Empty,
        );
        request.extensions_mut().insert(Route(route));
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// One line per request: method, route pattern, status and latency, inside the request's span.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let route = match req.extensions_mut().remove::<Route>() {
        Some(Route(route)) => route,
        None => route_of(&req),
    };
    let response = next.call(req).await?;
    let elapsed = started.elapsed();
    let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    tracing::info!(method = %method, route, status, latency_ms, "request");
    metrics::counter!("http_requests_total", "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
    Ok(response)
}
