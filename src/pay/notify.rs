//! Payment notifications: verify first, keep every one for audit, then fulfil idempotently.
//! Only a notification that was verified and recorded is ever answered with success.

use actix_web::HttpResponse;
use actix_web::http::header::HeaderMap;

use super::{Notice, PaymentProvider, VerifyError};
use crate::domain::time::now;
use crate::store::Db;
use crate::store::orders::{self, PaymentOutcome};
use crate::web::AppState;

/// Headers worth keeping (never cookies or credentials).
fn headers_json(headers: &HeaderMap) -> String {
    let kept: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "cookie" | "authorization"))
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("<binary>").into()))
        .collect();
    serde_json::Value::Object(kept).to_string()
}

async fn record(db: &Db, provider: &str, headers: &HeaderMap, body: &[u8], verdict: &str, order_no: Option<&str>) {
    let result = sqlx::query(
        "INSERT INTO payment_notifications (provider, received_at, headers, body, verdict, order_no) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(provider)
    .bind(now())
    .bind(headers_json(headers))
    .bind(String::from_utf8_lossy(body).into_owned())
    .bind(verdict)
    .bind(order_no)
    .execute(db.write())
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, provider, verdict, "could not record a payment notification");
    }
}

pub async fn handle(
    state: &AppState,
    provider: &dyn PaymentProvider,
    headers: &HeaderMap,
    body: &[u8],
) -> HttpResponse {
    let name = provider.name();
    let notice = match provider.verify_notification(headers, body, now()) {
        Ok(notice) => notice,
        Err(e) => {
            tracing::warn!(provider = name, error = %e, "payment notification rejected");
            record(&state.db, name, headers, body, &format!("rejected: {e}"), None).await;
            return provider.refuse(&e);
        }
    };
    let paid = match notice {
        Notice::Paid(paid) => paid,
        Notice::Other { order_no, state: trade_state } => {
            record(&state.db, name, headers, body, &format!("ignored: {trade_state}"), Some(&order_no)).await;
            return provider.acknowledge();
        }
    };
    match orders::apply_payment(&state.db, name, &paid, now()).await {
        Ok(outcome) => {
            let (verdict, ok) = match &outcome {
                PaymentOutcome::Applied { .. } => ("applied", true),
                PaymentOutcome::Duplicate => ("duplicate", true),
                PaymentOutcome::Late => ("late: queued for refund", true),
                PaymentOutcome::UnknownOrder => ("rejected: unknown order", false),
                PaymentOutcome::AmountMismatch => ("rejected: amount or currency mismatch", false),
            };
            record(&state.db, name, headers, body, verdict, Some(&paid.order_no)).await;
            tracing::info!(provider = name, order_no = %paid.order_no, verdict, "payment notification");
            if let PaymentOutcome::Applied { .. } = outcome
                && let Err(e) = state.catalog.reload(&state.db).await
            {
                tracing::warn!(error = format!("{e:#}"), "catalog reload after a sale failed");
            }
            if ok { provider.acknowledge() } else { provider.refuse(&VerifyError::Malformed(verdict.into())) }
        }
        Err(e) => {
            // Not recorded as handled: the provider will send it again.
            tracing::error!(error = %e, order_no = %paid.order_no, "fulfilment failed");
            HttpResponse::InternalServerError().json(serde_json::json!({ "code": "FAIL", "message": "try again" }))
        }
    }
}
