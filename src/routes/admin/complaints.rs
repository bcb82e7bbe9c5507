//! The staff side of complaints: the queue with its first-reply clock, a complaint with its
//! conversation, replying (also to WeChat Pay for platform complaints), resolving, and linking
//! the refund that settles it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::AttachmentId;
use crate::domain::complaint::{ComplaintStatus, Sla, sla};
use crate::domain::numbers::ComplaintNo;
use crate::domain::refund::looks_like_refund_no;
use crate::domain::time::now;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::routes::complaints::{ComplaintView, Said, conversation};
use crate::routes::forms::FieldErrors;
use crate::store::attachments::{self, Attachment, Owner};
use crate::store::complaints::{self, Complaint};
use crate::store::refunds;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status, uploads};

const QUEUE_LIMIT: i64 = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(queue).service(detail).service(reply).service(link_refund).service(file);
}

/// The SLA clock as staff read it: "due in 5 h", "overdue by 2 h", "answered".
pub struct Clock {
    pub text: String,
    pub overdue: bool,
}

fn clock(lang: Lang, c: &Complaint, now: i64) -> Clock {
    let hours = |secs: i64| ((secs + 3599) / 3600).to_string();
    match sla(c.first_reply_due, c.first_replied_at, now) {
        Sla::Met => Clock { text: lang.t("sla_met").into(), overdue: false },
        Sla::Late => Clock { text: lang.t("sla_late").into(), overdue: false },
        Sla::Due(left) => Clock { text: lang.tf("sla_due_in", &[("n", &hours(left))]), overdue: false },
        Sla::Overdue(by) => Clock { text: lang.tf("sla_overdue", &[("n", &hours(by))]), overdue: true },
    }
}

#[derive(Template)]
#[template(path = "admin/complaints.html")]
struct QueuePage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    filter: String,
    filters: Vec<(&'static str, &'static str)>,
    rows: Vec<(ComplaintView, Clock)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QueueQuery {
    status: String,
}

#[get("/admin/complaints")]
async fn queue(
    Staff(ctx, _, _): Staff<area::Complaints>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: QueueQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let status = ComplaintStatus::parse(&q.status);
    let at = now();
    let rows = complaints::queue(&state.db, status, QUEUE_LIMIT)
        .await?
        .into_iter()
        .map(|c| {
            let clock = clock(ctx.lang, &c, at);
            (ComplaintView::new(ctx.lang, c), clock)
        })
        .collect();
    let mut filters = vec![("", ctx.t("admin_filter_waiting"))];
    filters.extend(ComplaintStatus::ALL.iter().map(|s| (s.as_str(), ctx.t(s.label_key()))));
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_complaints"), ctx.shop_name()), "");
    let filter = status.map(|s| s.as_str().to_string()).unwrap_or_default();
    render_with_status(&QueuePage { ctx: &ctx, meta, filter, filters, rows }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "admin/complaint.html")]
struct DetailPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: ComplaintView,
    clock: Clock,
    said: Vec<Said>,
    files: Vec<Attachment>,
    body_input: String,
    refund_input: String,
    errors: FieldErrors,
}

async fn staff_complaint(state: &AppState, no: &ComplaintNo) -> Result<Complaint, AppError> {
    complaints::find(&state.db, no).await?.ok_or(AppError::NotFound)
}

async fn detail_page(
    ctx: PageContext,
    state: &AppState,
    c: Complaint,
    inputs: (String, String),
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let said = conversation(ctx.lang, complaints::messages(&state.db, c.id).await?);
    let files = attachments::list(&state.db, Owner::Complaint(c.id)).await?;
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} {} - {}", ctx.t("admin_complaints"), c.complaint_no, ctx.shop_name()), "");
    let clock = clock(ctx.lang, &c, now());
    let view = ComplaintView::new(ctx.lang, c);
    let (body_input, refund_input) = inputs;
    let page = DetailPage { ctx: &ctx, meta, view, clock, said, files, body_input, refund_input, errors };
    render_with_status(&page, status)
}

#[get("/admin/complaints/{no}")]
async fn detail(
    Staff(ctx, _, _): Staff<area::Complaints>,
    no: web::Path<ComplaintNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let c = staff_complaint(&state, &no).await?;
    detail_page(ctx, &state, c, Default::default(), FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReplyForm {
    body: String,
    #[serde(default)]
    resolve: String,
}

#[post("/admin/complaints/{no}/reply")]
async fn reply(
    Staff(ctx, staff, _): Staff<area::Complaints>,
    req: HttpRequest,
    no: web::Path<ComplaintNo>,
    state: web::Data<AppState>,
    form: CsrfForm<ReplyForm>,
) -> Result<HttpResponse, AppError> {
    let staff_id = staff.id;
    let c = staff_complaint(&state, &no).await?;
    let body = form.0.body.trim().to_string();
    let resolve = form.0.resolve == "1";
    let n = body.chars().count();
    let mut errors = FieldErrors::default();
    if n == 0 {
        errors.add("body", ctx.t("err_text_empty"));
    } else if n > 1000 {
        errors.add("body", ctx.tf("err_text_long", &[("n", "1000")]));
    }
    if !errors.is_empty() {
        return detail_page(ctx, &state, c, (body, String::new()), errors, StatusCode::BAD_REQUEST).await;
    }
    // A platform complaint is answered on the platform too; if WeChat refuses, nothing is recorded.
    if let Some(external_id) = c.external_id.as_deref() {
        let sent = match &state.wechat {
            Some(wechat) => {
                let replied = wechat.respond_to_complaint(external_id, &body).await;
                match replied {
                    Ok(()) if resolve => wechat.complete_complaint(external_id).await,
                    other => other,
                }
            }
            None => Err(anyhow::anyhow!("WeChat Pay is not configured")),
        };
        if let Err(e) = sent {
            tracing::warn!(complaint_no = %c.complaint_no, error = format!("{e:#}"), "reply to WeChat Pay failed");
            errors.add("body", ctx.t("err_platform_reply"));
            return detail_page(ctx, &state, c, (body, String::new()), errors, StatusCode::BAD_GATEWAY).await;
        }
    }
    complaints::reply(&state.db, &c, staff_id, &body, resolve, now()).await?;
    tracing::info!(complaint_no = %c.complaint_no, %staff_id, resolve, "complaint answered");
    let change = Change {
        action: if resolve { "complaint.resolve" } else { "complaint.reply" },
        target_type: "complaint",
        target_id: c.complaint_no.clone(),
        before: serde_json::json!({ "status": c.status.as_str() }),
        after: serde_json::json!({ "status": if resolve { "resolved" } else { "answered" } }),
        note: &body,
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/complaints/{}", c.complaint_no)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LinkForm {
    refund_no: String,
}

#[post("/admin/complaints/{no}/link-refund")]
async fn link_refund(
    Staff(ctx, staff, _): Staff<area::Complaints>,
    req: HttpRequest,
    no: web::Path<ComplaintNo>,
    state: web::Data<AppState>,
    form: CsrfForm<LinkForm>,
) -> Result<HttpResponse, AppError> {
    let c = staff_complaint(&state, &no).await?;
    let refund_no = form.0.refund_no.trim().to_string();
    let refund = if looks_like_refund_no(&refund_no) { refunds::find(&state.db, &refund_no).await? } else { None };
    // Only a refund of the complaining learner (or of the complaint's order) can settle it.
    let fits = refund.as_ref().filter(|r| Some(r.user_id) == c.user_id || c.order_no.as_deref() == Some(&r.order_no));
    let Some(refund) = fits else {
        let mut errors = FieldErrors::default();
        errors.add("refund_no", ctx.t("err_link_refund"));
        return detail_page(ctx, &state, c, (String::new(), refund_no), errors, StatusCode::BAD_REQUEST).await;
    };
    complaints::link_refund(&state.db, c.id, refund.id, now()).await?;
    let change = Change {
        action: "complaint.link_refund",
        target_type: "complaint",
        target_id: c.complaint_no.clone(),
        before: serde_json::json!({ "refund_no": c.refund_no }),
        after: serde_json::json!({ "refund_no": refund.refund_no }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/complaints/{}", c.complaint_no)))
}

#[get("/admin/complaints/{no}/files/{id}")]
async fn file(
    Staff(_, _, _): Staff<area::Complaints>,
    req: actix_web::HttpRequest,
    path: web::Path<(ComplaintNo, AttachmentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (no, id) = path.into_inner();
    let c = staff_complaint(&state, &no).await?;
    let found = attachments::find(&state.db, Owner::Complaint(c.id), id).await?.ok_or(AppError::NotFound)?;
    uploads::download(&req, state.uploads.as_ref(), &found).await
}
