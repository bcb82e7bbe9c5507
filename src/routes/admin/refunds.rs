//! The staff side of refunds: the queue, a request with its order, consumption and evidence, and
//! the decisions (approve in full or in part, reject with a reason, retry a failed refund).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::numbers::RefundNo;
use crate::domain::refund::{RefundStatus, reason_label_key};
use crate::domain::refund_policy::{Decision, may_refund};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AttachmentId, Fen};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::routes::refunds::{Step, timeline};
use crate::store::attachments::{self, Attachment, Owner};
use crate::store::orders::{self, Order};
use crate::store::refunds::{self, Approval, Approved, Refund};
use crate::store::users::{self, User};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status, uploads};

const QUEUE_LIMIT: i64 = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(queue).service(detail).service(approve).service(reject).service(retry).service(file);
}

#[derive(Template)]
#[template(path = "admin/refunds.html")]
struct QueuePage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    filter: String,
    filters: Vec<(&'static str, &'static str)>,
    rows: Vec<(Refund, String)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QueueQuery {
    status: String,
}

#[get("/admin/refunds")]
async fn queue(
    Staff(ctx, _, _): Staff<area::Refunds>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: QueueQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let status = RefundStatus::parse(&q.status);
    let rows = refunds::queue(&state.db, status, QUEUE_LIMIT)
        .await?
        .into_iter()
        .map(|r| {
            let at = shanghai_minutes(r.created_at);
            (r, at)
        })
        .collect();
    let mut filters = vec![("", ctx.t("admin_filter_open"))];
    filters.extend(RefundStatus::ALL.iter().map(|s| (s.as_str(), ctx.t(s.label_key()))));
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_refunds"), ctx.shop_name()), "");
    let filter = status.map(|s| s.as_str().to_string()).unwrap_or_default();
    render_with_status(&QueuePage { ctx: &ctx, meta, filter, filters, rows }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "admin/refund.html")]
struct DetailPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    refund: Refund,
    order: Order,
    buyer: Option<User>,
    reason_label: &'static str,
    /// What the policy says now, and the share of lessons completed now.
    now_decision: Decision,
    now_pct: i64,
    left: Fen,
    steps: Vec<Step>,
    notes: Vec<(String, String)>,
    files: Vec<Attachment>,
    amount_input: String,
    note_input: String,
    reason_input: String,
    /// An issued 发票 on the order: a refund means reversing it (红冲).
    invoice_issued: Option<Fen>,
    errors: FieldErrors,
}

async fn staff_refund(state: &AppState, refund_no: &RefundNo) -> Result<Refund, AppError> {
    refunds::find(&state.db, refund_no).await?.ok_or(AppError::NotFound)
}

struct Inputs {
    amount: String,
    note: String,
    reason: String,
}

async fn detail_page(
    ctx: PageContext,
    state: &AppState,
    refund: Refund,
    inputs: Option<Inputs>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let order = orders::find(&state.db, &refund.order_no).await?.ok_or(AppError::NotFound)?;
    let (now_decision, now_pct) = state.assess_refund(&order).await?;
    let events = refunds::events(&state.db, refund.id).await?;
    let notes = events
        .iter()
        .filter(|e| !e.note.is_empty())
        .map(|e| (shanghai_minutes(e.created_at), format!("{}: {}", e.kind, e.note)))
        .collect();
    let left = order.left_to_refund();
    let inputs = inputs.unwrap_or_else(|| Inputs {
        amount: if refund.policy_eligible { refund.policy_amount } else { left }.yuan_string(),
        note: String::new(),
        reason: String::new(),
    });
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} {} - {}", ctx.t("admin_refunds"), refund.refund_no, ctx.shop_name()), "");
    let page = DetailPage {
        buyer: users::find_by_id(&state.db, refund.user_id).await?,
        reason_label: ctx.t(reason_label_key(&refund.reason_code)),
        steps: timeline(ctx.lang, &events),
        files: attachments::list(&state.db, Owner::Refund(refund.id)).await?,
        invoice_issued: crate::store::invoices::issued_amount(&state.db, order.id).await?,
        notes,
        now_decision,
        now_pct,
        left,
        amount_input: inputs.amount,
        note_input: inputs.note,
        reason_input: inputs.reason,
        errors,
        ctx: &ctx,
        meta,
        refund,
        order,
    };
    render_with_status(&page, status)
}

#[get("/admin/refunds/{refund_no}")]
async fn detail(
    Staff(ctx, _, _): Staff<area::Refunds>,
    no: web::Path<RefundNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let refund = staff_refund(&state, &no).await?;
    detail_page(ctx, &state, refund, None, FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApproveForm {
    amount: String,
    #[serde(default)]
    note: String,
}

#[post("/admin/refunds/{refund_no}/approve")]
async fn approve(
    Staff(ctx, staff, _): Staff<area::Refunds>,
    req: HttpRequest,
    no: web::Path<RefundNo>,
    state: web::Data<AppState>,
    form: CsrfForm<ApproveForm>,
) -> Result<HttpResponse, AppError> {
    let staff_id = staff.id;
    let refund = staff_refund(&state, &no).await?;
    let decided = redirect(&format!("/admin/refunds/{}", refund.refund_no));
    if refund.status != RefundStatus::Pending {
        // Someone decided first (a second click, another colleague): show the outcome.
        return Ok(decided);
    }
    let order = orders::find(&state.db, &refund.order_no).await?.ok_or(AppError::NotFound)?;
    let left = order.left_to_refund();
    let (amount_text, note) = (form.0.amount.trim().to_string(), form.0.note.trim().to_string());
    let mut errors = FieldErrors::default();
    let amount = Fen::parse_yuan(&amount_text);
    match amount {
        None => errors.add("amount", ctx.t("err_amount_format")),
        Some(a) if !may_refund(a, left) => {
            errors.add("amount", ctx.tf("err_refund_amount_range", &[("max", &left.to_string())]))
        }
        Some(a) if a < left && note.is_empty() => errors.add("note", ctx.t("err_partial_needs_note")),
        Some(_) if note.chars().count() > 500 => errors.add("note", ctx.t("err_refund_detail_long")),
        Some(_) => {}
    }
    let (Some(amount), true) = (amount, errors.is_empty()) else {
        let still_pending =
            refunds::find_by_id(&state.db, refund.id).await?.is_some_and(|r| r.status == RefundStatus::Pending);
        if !still_pending {
            return Ok(decided);
        }
        let inputs = Inputs { amount: amount_text, note, reason: String::new() };
        return detail_page(ctx, &state, refund, Some(inputs), errors, StatusCode::BAD_REQUEST).await;
    };
    let Some(provider) = order.pay_provider.as_deref() else {
        errors.add("amount", ctx.t("err_refund_no_provider"));
        let inputs = Inputs { amount: amount_text, note, reason: String::new() };
        return detail_page(ctx, &state, refund, Some(inputs), errors, StatusCode::CONFLICT).await;
    };
    let at = now();
    let approval = Approval { amount, note: &note, staff_id: Some(staff_id), provider };
    match state.refunder.approve_and_send(refund.id, &approval, at).await? {
        Approved::Yes => {
            tracing::info!(refund_no = %refund.refund_no, %amount, %staff_id, "refund approved");
            let change = Change {
                action: "refund.approve",
                target_type: "refund",
                target_id: refund.refund_no.clone(),
                before: serde_json::json!({ "status": refund.status.as_str() }),
                after: serde_json::json!({ "status": "refunding", "amount_fen": amount.0 }),
                note: &note,
            };
            audit(&state, &req, &staff, change).await?;
        }
        Approved::NotPending | Approved::TooMuch => {
            tracing::info!(refund_no = %refund.refund_no, "refund already decided; approval ignored");
        }
    }
    Ok(decided)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RejectForm {
    reason: String,
}

#[post("/admin/refunds/{refund_no}/reject")]
async fn reject(
    Staff(ctx, staff, _): Staff<area::Refunds>,
    req: HttpRequest,
    no: web::Path<RefundNo>,
    state: web::Data<AppState>,
    form: CsrfForm<RejectForm>,
) -> Result<HttpResponse, AppError> {
    let staff_id = staff.id;
    let refund = staff_refund(&state, &no).await?;
    let reason = form.0.reason.trim().to_string();
    let n = reason.chars().count();
    if n == 0 || n > 500 {
        let mut errors = FieldErrors::default();
        errors.add("reason", if n == 0 { ctx.t("err_reject_reason") } else { ctx.t("err_refund_detail_long") });
        let inputs = Inputs { amount: String::new(), note: String::new(), reason };
        return detail_page(ctx, &state, refund, Some(inputs), errors, StatusCode::BAD_REQUEST).await;
    }
    if refunds::reject(&state.db, refund.id, staff_id, &reason, now()).await? {
        tracing::info!(refund_no = %refund.refund_no, %staff_id, "refund rejected");
        let change = Change {
            action: "refund.reject",
            target_type: "refund",
            target_id: refund.refund_no.clone(),
            before: serde_json::json!({ "status": refund.status.as_str() }),
            after: serde_json::json!({ "status": "rejected" }),
            note: &reason,
        };
        audit(&state, &req, &staff, change).await?;
    }
    Ok(redirect(&format!("/admin/refunds/{}", refund.refund_no)))
}

#[post("/admin/refunds/{refund_no}/retry")]
async fn retry(
    Staff(_, staff, _): Staff<area::Refunds>,
    req: HttpRequest,
    no: web::Path<RefundNo>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let refund = staff_refund(&state, &no).await?;
    let at = now();
    if state.refunder.retry_and_send(refund.id, at).await? {
        tracing::info!(refund_no = %refund.refund_no, "refund retried under the same number");
        let change = Change {
            action: "refund.retry",
            target_type: "refund",
            target_id: refund.refund_no.clone(),
            before: serde_json::json!({ "status": refund.status.as_str() }),
            after: serde_json::json!({ "status": "refunding" }),
            note: "",
        };
        audit(&state, &req, &staff, change).await?;
    }
    Ok(redirect(&format!("/admin/refunds/{}", refund.refund_no)))
}

#[get("/admin/refunds/{refund_no}/files/{id}")]
async fn file(
    Staff(_, _, _): Staff<area::Refunds>,
    req: actix_web::HttpRequest,
    path: web::Path<(RefundNo, AttachmentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (no, id) = path.into_inner();
    let refund = staff_refund(&state, &no).await?;
    let found = attachments::find(&state.db, Owner::Refund(refund.id), id).await?.ok_or(AppError::NotFound)?;
    uploads::download(&req, state.uploads.as_ref(), &found).await
}
