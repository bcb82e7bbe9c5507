//! Text messages to every learner or to a course's buyers (when the mini program goes down,
//! everyone must learn where the shop is now): the shop's link and the opt-out line are always in
//! them, opted-out and banned learners are skipped, and sending is throttled in the background.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::broadcast::{BroadcastError, compose};
use crate::domain::sms::Kind;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::broadcasts::{self, Broadcast};
use crate::store::course_admin::{self, CourseRow};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(send);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BroadcastForm {
    text: String,
    course: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "admin/broadcast.html")]
struct BroadcastPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Broadcast, String)>,
    courses: Vec<CourseRow>,
    form: BroadcastForm,
    errors: FieldErrors,
}

async fn render_page(
    ctx: PageContext,
    state: &AppState,
    form: BroadcastForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let rows = broadcasts::recent(&state.db, 50)
        .await?
        .into_iter()
        .map(|b| {
            let at = shanghai_minutes(b.created_at);
            (b, at)
        })
        .collect();
    let courses = course_admin::list(&state.db).await?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_broadcast"), ctx.shop_name()), "");
    render_with_status(&BroadcastPage { ctx, meta, rows, courses, form, errors }, status)
}

#[get("/admin/broadcast")]
async fn page(
    Staff(ctx, _, _): Staff<area::Announcements>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = BroadcastForm { text: format!("【{}】", ctx.shop_name()), ..BroadcastForm::default() };
    render_page(ctx, &state, form, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/broadcast")]
async fn send(
    Staff(ctx, staff, _): Staff<area::Announcements>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BroadcastForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let text = match compose(&form.text, &state.settings.public_url) {
        Ok(text) => Some(text),
        Err(e) => {
            let key = match e {
                BroadcastError::Empty => "err_required",
                BroadcastError::TooLong => "err_broadcast_long",
                BroadcastError::NoSignature => "err_sms_signature",
            };
            errors.add("text", ctx.t(key));
            None
        }
    };
    let course_id = match form.course.as_str() {
        "" => None,
        id => {
            let found = super::chosen_course(&state, id);
            if found.is_none() {
                errors.add("course", ctx.t("err_course_choose"));
            }
            found.map(|c| c.id)
        }
    };
    // A service notice (where the shop is now) or marketing, each its own approved template.
    let kind = if form.kind == Kind::TakedownNotice.as_str() { Kind::TakedownNotice } else { Kind::Marketing };
    let Some(text) = text.filter(|_| errors.is_empty()) else {
        return render_page(ctx, &state, form, errors, StatusCode::BAD_REQUEST).await;
    };
    let phones = broadcasts::recipients(&state.db, course_id).await?;
    // Queued as texts in the same transaction; the outbox job sends them, throttled, and a
    // restart carries on where it stopped.
    let new =
        broadcasts::NewBroadcast { text: &text, course_id, kind, url: &state.settings.public_url, staff_id: staff.id };
    let at = now();
    let id = broadcasts::create(&state.db, &new, &phones, at).await?;
    let template = &ctx.shop.wx_template_takedown;
    let official_account = state.wechat.as_ref().is_some_and(|w| w.has_official_account());
    if kind == Kind::TakedownNotice && official_account && !template.is_empty() {
        let payload = crate::services::oa_notices::takedown_payload(
            crate::domain::broadcast::without_signature(&form.text),
            &state.settings.public_url,
            at,
        );
        crate::services::oa_notices::queue_broadcast(&state.db, id, template, &payload, course_id, at).await?;
    }
    let change = Change {
        action: "broadcast.send",
        target_type: "broadcast",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "text": text, "kind": kind.as_str(), "course_id": course_id, "recipients": phones.len() }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/broadcast"))
}
