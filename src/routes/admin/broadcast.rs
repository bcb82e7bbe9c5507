//! Text messages to every learner or to a course's buyers (when the mini program goes down,
//! everyone must learn where the shop is now): the shop's link and the opt-out line are always in
//! them, opted-out and banned learners are skipped, and sending is throttled in the background.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, audit};
use crate::auth::sms::SmsSender;
use crate::domain::Phone;
use crate::domain::broadcast::{BroadcastError, compose};
use crate::domain::staff::Area;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::Db;
use crate::store::broadcasts::{self, Broadcast};
use crate::store::course_admin::{self, CourseRow};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

/// Carriers throttle bulk senders; 20 messages a second stays well inside common limits.
const PAUSE: Duration = Duration::from_millis(50);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(send);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BroadcastForm {
    text: String,
    course: String,
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
async fn page(ctx: PageContext, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff_only!(ctx, Area::Announcements);
    let form = BroadcastForm { text: format!("【{}】", ctx.shop_name()), course: String::new() };
    render_page(ctx, &state, form, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/broadcast")]
async fn send(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BroadcastForm>,
) -> Result<HttpResponse, AppError> {
    let staff = staff_only!(ctx, Area::Announcements);
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
    let Some(text) = text.filter(|_| errors.is_empty()) else {
        return render_page(ctx, &state, form, errors, StatusCode::BAD_REQUEST).await;
    };
    let phones = broadcasts::recipients(&state.db, course_id).await?;
    let id = broadcasts::create(&state.db, &text, course_id, phones.len() as i64, staff.id, now()).await?;
    tokio::spawn(deliver(state.db.clone(), state.sms.clone(), id, text.clone(), phones.clone()));
    let change = Change {
        action: "broadcast.send",
        target_type: "broadcast",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "text": text, "course_id": course_id, "recipients": phones.len() }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/broadcast"))
}

/// Sends one message after another, recording progress as it goes.
async fn deliver(db: Db, sms: Arc<dyn SmsSender>, id: i64, text: String, phones: Vec<String>) {
    let (mut sent, mut failed) = (0i64, 0i64);
    for (i, phone) in phones.iter().enumerate() {
        let delivered = match Phone::parse(phone) {
            Ok(phone) => sms.send(&phone, &text).await.is_ok(),
            Err(_) => false,
        };
        if delivered {
            sent += 1
        } else {
            failed += 1
        }
        if (i + 1) % 20 == 0
            && let Err(e) = broadcasts::record_progress(&db, id, sent, failed, None).await
        {
            tracing::warn!(broadcast = id, error = %e, "broadcast progress not recorded");
        }
        tokio::time::sleep(PAUSE).await;
    }
    if let Err(e) = broadcasts::record_progress(&db, id, sent, failed, Some(now())).await {
        tracing::warn!(broadcast = id, error = %e, "broadcast result not recorded");
    }
    tracing::info!(broadcast = id, sent, failed, "broadcast finished");
}
