//! The learner's side of refunds: the request form with the computed amount and the rule, the
//! status page with its timeline, withdrawing, and the evidence downloads.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::forms::FieldErrors;
use super::orders::buyers_order;
use crate::domain::moderation::HeldKind;
use crate::domain::numbers::{OrderNo, RefundNo};
use crate::domain::refund::{REASONS, RefundEvent, RefundStatus, reason_label_key};
use crate::domain::refund_policy::{Decision, approves_itself};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AttachmentId, Fen, RefundId};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::store::attachments::{self, Attachment, Owner};
use crate::store::orders::Order;
use crate::store::refunds::{self, Approval, Created, NewRefund, Refund};
use crate::store::users::User;
use crate::web::csrf::NoFields;
use crate::web::uploads::{self, Rejected};
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

pub const MAX_EVIDENCE_FILES: usize = 5;
const MAX_REASON_CHARS: usize = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(form).service(submit).service(status_page).service(withdraw).service(evidence);
}

#[derive(Template)]
#[template(path = "refunds/form.html")]
struct FormPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    order: Order,
    decision: Decision,
    rule: String,
    reasons: Vec<(&'static str, &'static str)>,
    reason: String,
    detail: String,
    errors: FieldErrors,
    max_files: usize,
}

fn reasons(lang: Lang) -> Vec<(&'static str, &'static str)> {
    REASONS.iter().map(|code| (*code, lang.t(reason_label_key(code)))).collect()
}

fn rule_text(lang: Lang, rule: &crate::domain::refund_terms::Localized) -> String {
    if lang == Lang::En { rule.en.clone() } else { rule.zh.clone() }
}

async fn form_page(
    ctx: PageContext,
    state: &AppState,
    order: Order,
    reason: String,
    detail: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (decision, _) = state.assess_refund(&order).await?;
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("refund_title"), ctx.shop_name()), &order.item_title);
    let page = FormPage {
        rule: rule_text(ctx.lang, &decision.rule),
        reasons: reasons(ctx.lang),
        ctx: &ctx,
        meta,
        order,
        decision,
        reason,
        detail,
        errors,
        max_files: MAX_EVIDENCE_FILES,
    };
    render_with_status(&page, status)
}

#[get("/orders/{order_no}/refund")]
async fn form(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    if let Some(open) = refunds::open_for_order(&state.db, order.id).await? {
        return Ok(redirect(&format!("/refunds/{open}")));
    }
    if !order.is_refundable() {
        return Ok(redirect(&format!("/orders/{}", order.order_no)));
    }
    form_page(ctx, &state, order, String::new(), String::new(), FieldErrors::default(), StatusCode::OK).await
}

#[post("/orders/{order_no}/refund")]
async fn submit(
    LoggedIn(ctx, _): LoggedIn,
    req: HttpRequest,
    payload: web::Payload,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tmp = state.settings.uploads_dir().join("tmp");
    let upload = uploads::read(&req, payload, &tmp, MAX_EVIDENCE_FILES, &crate::domain::upload::EVIDENCE).await?;
    let order = buyers_order(&ctx, &state, &order_no).await?;
    if let Some(open) = refunds::open_for_order(&state.db, order.id).await? {
        return Ok(redirect(&format!("/refunds/{open}")));
    }
    if !order.is_refundable() {
        return Ok(redirect(&format!("/orders/{}", order.order_no)));
    }
    let lang = ctx.lang;
    let reason = upload.text("reason").trim().to_string();
    let detail = upload.text("detail").trim().to_string();
    let mut errors = FieldErrors::default();
    if !REASONS.contains(&reason.as_str()) {
        errors.add("reason", lang.t("err_refund_reason"));
    }
    let held = crate::routes::forms::screen(&state, lang, &detail, "detail", &mut errors);
    if detail.chars().count() > MAX_REASON_CHARS {
        errors.add("detail", lang.t("err_refund_detail_long"));
    } else if detail.is_empty() && reason == "other" {
        errors.add("detail", lang.t("err_refund_detail_needed"));
    }
    if let Some(why) = upload.rejected {
        errors.add("evidence", file_error(lang, why, MAX_EVIDENCE_FILES));
    }
    if !errors.is_empty() {
        return form_page(ctx, &state, order, reason, detail, errors, StatusCode::BAD_REQUEST).await;
    }
    let (decision, pct) = state.assess_refund(&order).await?;
    let kept = uploads::keep(state.uploads.as_ref(), "evidence", &upload.files).await?;
    let files: Vec<_> = kept.iter().map(|k| k.as_new(order.user_id)).collect();
    let new = NewRefund {
        order_id: order.id,
        user_id: order.user_id,
        reason_code: &reason,
        reason_text: &detail,
        decision: &decision,
        consumed_pct: pct,
        submitted_by: "learner",
    };
    let at = now();
    let (id, refund_no, decision) = match refunds::create(&state.db, &new, &files, at).await? {
        Created::New(id, no, stored) => (id, no, stored),
        Created::Existing(no) => {
            uploads::discard(state.uploads.as_ref(), &kept).await;
            return Ok(redirect(&format!("/refunds/{no}")));
        }
    };
    tracing::info!(refund_no, order_no = %order.order_no, eligible = decision.eligible, "refund requested");
    let link = format!("/admin/refunds/{refund_no}");
    crate::routes::forms::record_held(&state, order.user_id, HeldKind::Refund, &detail, held, &link).await?;
    auto_approve(&state, id, &order, &decision, at).await?;
    Ok(redirect(&format!("/refunds/{refund_no}")))
}

/// Policy-eligible requests up to the configured amount are approved and sent at once.
async fn auto_approve(
    state: &AppState,
    id: RefundId,
    order: &Order,
    decision: &Decision,
    at: i64,
) -> Result<(), AppError> {
    let limit = Fen(state.refund_auto_approve_fen());
    let Some(provider) = order.pay_provider.as_deref() else { return Ok(()) };
    if !approves_itself(decision, limit) {
        return Ok(());
    }
    let approval = Approval { amount: decision.amount, note: "", staff_id: None, provider };
    state.refunder.approve_and_send(id, &approval, at).await?;
    Ok(())
}

pub fn file_error(lang: Lang, why: Rejected, max: usize) -> String {
    match why {
        Rejected::TooLarge => lang.t("err_file_too_large").to_string(),
        Rejected::NotAllowed => lang.t("err_file_type").to_string(),
        Rejected::TooMany => lang.tf("err_file_too_many", &[("n", &max.to_string())]),
    }
}

/// One line of the timeline.
pub struct Step {
    pub label: &'static str,
    pub note: String,
    pub at: String,
}

pub fn timeline(lang: Lang, events: &[refunds::Event]) -> Vec<Step> {
    events
        .iter()
        .map(|e| Step {
            label: lang.t(e.kind.step_key()),
            // Staff notes on approval are internal; a rejection's reason is for the learner.
            note: if e.kind == RefundEvent::Rejected { e.note.clone() } else { String::new() },
            at: shanghai_minutes(e.created_at),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "refunds/status.html")]
struct StatusPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    refund: Refund,
    item_title: String,
    rule: String,
    reason_label: &'static str,
    steps: Vec<Step>,
    files: Vec<Attachment>,
    /// Where it stands: waiting for review, being refunded, done...
    stage: usize,
}

impl StatusPage<'_> {
    pub fn can_withdraw(&self) -> bool {
        self.refund.status == RefundStatus::Pending
    }
}

fn stage(status: RefundStatus) -> usize {
    match status {
        RefundStatus::Pending => 1,
        RefundStatus::Refunding | RefundStatus::Failed => 2,
        RefundStatus::Refunded | RefundStatus::Rejected | RefundStatus::Withdrawn => 3,
    }
}

async fn own_refund(state: &AppState, user: &User, refund_no: &RefundNo) -> Result<Refund, AppError> {
    refunds::find_for_user(&state.db, refund_no, user.id).await?.ok_or(AppError::NotFound)
}

#[get("/refunds/{refund_no}")]
async fn status_page(
    LoggedIn(ctx, user): LoggedIn,
    refund_no: web::Path<RefundNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let refund = own_refund(&state, &user, &refund_no).await?;
    let order = crate::store::orders::find(&state.db, &refund.order_no).await?.ok_or(AppError::NotFound)?;
    let steps = timeline(ctx.lang, &refunds::events(&state.db, refund.id).await?);
    let files = attachments::list(&state.db, Owner::Refund(refund.id)).await?;
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("refund_status_title"), ctx.shop_name()), &order.item_title);
    let page = StatusPage {
        rule: rule_text(ctx.lang, &refund.policy_rule),
        reason_label: ctx.t(reason_label_key(&refund.reason_code)),
        stage: stage(refund.status),
        item_title: order.item_title,
        ctx: &ctx,
        meta,
        refund,
        steps,
        files,
    };
    render_with_status(&page, StatusCode::OK)
}

#[post("/refunds/{refund_no}/withdraw")]
async fn withdraw(
    LoggedIn(_, user): LoggedIn,
    refund_no: web::Path<RefundNo>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let refund = own_refund(&state, &user, &refund_no).await?;
    if refunds::withdraw(&state.db, refund.id, user.id, now()).await? {
        tracing::info!(refund_no = %refund.refund_no, "refund request withdrawn");
    }
    Ok(redirect(&format!("/refunds/{}", refund.refund_no)))
}

#[get("/refunds/{refund_no}/files/{id}")]
async fn evidence(
    LoggedIn(_, user): LoggedIn,
    req: actix_web::HttpRequest,
    path: web::Path<(RefundNo, AttachmentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (refund_no, id) = path.into_inner();
    let refund = own_refund(&state, &user, &refund_no).await?;
    let file = attachments::find(&state.db, Owner::Refund(refund.id), id).await?.ok_or(AppError::NotFound)?;
    uploads::download(&req, state.uploads.as_ref(), &file).await
}
