//! The switchover checklist's live tests: the SMS provider sends a test text to the staff
//! member's own phone (the result is kept in the audit log, where the checklist reads it), and
//! every real payment provider answers an order query.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, post, web};

use super::gate::{Change, audit};
use crate::domain::sms::{Kind, Message};
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::admin::gate::{Staff, area};
use crate::store::Db;
use crate::web::{AppState, CsrfForm, redirect};

/// A test text counts as the SMS check for this long.
pub const SMS_TEST_VALID_SECS: i64 = 7 * 86_400;
const SMS_TEST_ACTION: &str = "switchover.sms_test";
/// The checklist waits this long for a gateway.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(test_sms);
}

/// Sends a sign-in-code text with a code shown on the page, so the operator can compare it with
/// the one that reached their phone.
#[post("/admin/switchover/test-sms")]
async fn test_sms(
    Staff(ctx, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(_): CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    if !staff.phone.is_number() || state.sms.providers().is_empty() {
        return Ok(redirect("/admin/switchover?sms_test=none#checklist"));
    }
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    let message = Message::new(Kind::LoginCode, &ctx.shop.sms_code, &[("code", code.as_str())]);
    let sent = state.sms.send(&staff.phone, &message).await;
    let (ok, detail) = match &sent {
        Ok(receipt) => (true, serde_json::json!({ "provider": receipt.provider, "code": code })),
        Err(e) => (false, serde_json::json!({ "provider": e.provider, "error": format!("{} {}", e.code, e.message) })),
    };
    let change = Change {
        action: SMS_TEST_ACTION,
        target_type: "sms",
        target_id: staff.phone.masked(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "ok": ok, "detail": detail }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    let to = if ok {
        format!("/admin/switchover?sms_test={code}#checklist")
    } else {
        "/admin/switchover?sms_test=failed#checklist".into()
    };
    Ok(redirect(&to))
}

/// When a test text last went out (a provider accepted it), if one did.
pub async fn last_sms_test(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT created_at, after_json FROM audit_log WHERE action = $1 ORDER BY created_at DESC, id DESC LIMIT 20",
    )
    .bind(SMS_TEST_ACTION)
    .fetch_all(db.read())
    .await?;
    Ok(rows.into_iter().find(|(_, after)| after.contains("\"ok\":true")).map(|(at, _)| at))
}

/// Every real provider (the sandbox is not one) answers a query for an order it has never seen.
pub async fn payments_answer(state: &AppState) -> bool {
    let probe = format!("KDPROBE{}", now());
    let real: Vec<_> = state.providers.all().filter(|p| p.name() != crate::pay::sandbox::NAME).collect();
    if real.is_empty() {
        return false;
    }
    for provider in real {
        match tokio::time::timeout(PROBE_TIMEOUT, provider.query(&probe)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(
                    provider = provider.name(),
                    error = format!("{e:#}"),
                    "the payment provider did not answer the readiness query"
                );
                return false;
            }
            Err(_) => return false,
        }
    }
    true
}
