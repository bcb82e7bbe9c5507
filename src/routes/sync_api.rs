//! `POST /api/sync/v1/records`: the mini program's back end keeps the shop in step as things
//! happen (docs/sync-api.md). Signed with HMAC-SHA256 by a key made in the back office; a request
//! is accepted once, within five minutes of its timestamp. Answers are JSON, errors included.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde_json::{Value, json};

use crate::domain::sync::{self, MAX_RECORDS, MAX_SKEW_SECS, Refusal};
use crate::domain::time::now;
use crate::import::sync::apply;
use crate::store::sync as store;
use crate::web::AppState;

pub const PATH: &str = "/api/sync/v1/records";
/// 1,000 records of a few hundred bytes each, with room to spare.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/api/sync/v1").app_data(web::PayloadConfig::new(MAX_BODY_BYTES)).service(records));
}

fn refuse(refusal: Refusal) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST))
        .json(json!({ "error": refusal.code(), "message": refusal.message() }))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The key that signed the request, once its signature, time and nonce pass.
async fn authenticate(req: &HttpRequest, state: &AppState, body: &[u8]) -> Result<String, HttpResponse> {
    let (key_id, timestamp, nonce, signature) = (
        header(req, "x-kedian-key"),
        header(req, "x-kedian-timestamp"),
        header(req, "x-kedian-nonce"),
        header(req, "x-kedian-signature"),
    );
    if [key_id, timestamp, nonce, signature].iter().any(|h| h.is_empty()) {
        return Err(refuse(Refusal::MissingHeaders));
    }
    let secret = store::secret_of(&state.db, key_id).await.map_err(|e| internal(&e.into()))?;
    let Some(secret) = secret else { return Err(refuse(Refusal::UnknownKey)) };
    let path = match req.query_string() {
        "" => req.path().to_string(),
        query => format!("{}?{query}", req.path()),
    };
    let message = sync::string_to_sign(req.method().as_str(), &path, timestamp, nonce, body);
    if !sync::verify(&secret, &message, signature) {
        tracing::warn!(key = key_id, "sync request with a bad signature");
        return Err(refuse(Refusal::BadSignature));
    }
    let at = now();
    if !sync::fresh(timestamp, at) {
        return Err(refuse(Refusal::StaleTimestamp));
    }
    if !sync::nonce_ok(nonce) {
        return Err(refuse(Refusal::BadNonce));
    }
    let first = store::claim_nonce(&state.db, key_id, nonce, at, at - 2 * MAX_SKEW_SECS)
        .await
        .map_err(|e| internal(&e.into()))?;
    if !first {
        return Err(refuse(Refusal::ReusedNonce));
    }
    Ok(key_id.to_string())
}

fn internal(e: &anyhow::Error) -> HttpResponse {
    tracing::error!(error = format!("{e:#}"), "sync request failed");
    HttpResponse::InternalServerError()
        .json(json!({ "error": "internal", "message": "the shop could not apply the batch; send it again" }))
}

#[post("/records")]
async fn records(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let key_id = match authenticate(&req, &state, &body).await {
        Ok(key) => key,
        Err(response) => return response,
    };
    // A NUL can only arrive escaped (JSON forbids it raw); the whole batch is refused.
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return refuse(Refusal::NulCharacter);
    }
    let records = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut o)) => match o.remove("records") {
            Some(Value::Array(records)) => records,
            _ => return refuse(Refusal::NotJson),
        },
        _ => return refuse(Refusal::NotJson),
    };
    if records.len() > MAX_RECORDS {
        return refuse(Refusal::TooManyRecords);
    }
    if records.is_empty() {
        return refuse(Refusal::NoRecords);
    }
    let outcome = match apply(&state.db, records).await {
        Ok(outcome) => outcome,
        Err(e) => return internal(&e),
    };
    let batch = store::Batch {
        key_id: &key_id,
        records: outcome.received as i64,
        applied: outcome.applied as i64,
        skipped: outcome.skipped as i64,
        rejected: outcome.rejected.len() as i64,
        newest_event_at: outcome.newest_event_at,
    };
    if let Err(e) = store::log_batch(&state.db, &batch, now()).await {
        return internal(&e.into());
    }
    for (result, n) in
        [("applied", outcome.applied), ("skipped", outcome.skipped), ("rejected", outcome.rejected.len())]
    {
        metrics::counter!("sync_records_total", "result" => result).increment(n as u64);
    }
    tracing::info!(
        key = key_id,
        received = outcome.received,
        applied = outcome.applied,
        skipped = outcome.skipped,
        rejected = outcome.rejected.len(),
        "sync batch"
    );
    // Nothing landed and something was wrong: the whole request is a client error.
    let status = if outcome.applied == 0 && outcome.skipped == 0 && !outcome.rejected.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status).json(&outcome)
}
