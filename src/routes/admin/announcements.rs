//! Announcements, for operators: a site banner (now or scheduled, with an optional end and
//! link; learners can close it) and messages to every learner or to a course's buyers, which land
//! in their message centre with an unread count in the header.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::AnnouncementId;
use crate::domain::text::safe_next;
use crate::domain::time::{now, parse_shanghai_datetime, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::announcements::{self, Announcement, AnnouncementKind, NewBanner, NewMessage};
use crate::store::course_admin::{self, CourseRow};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(publish_banner).service(send_message).service(end_banner);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BannerForm {
    title: String,
    link: String,
    starts_at: String,
    ends_at: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MessageForm {
    subject: String,
    body: String,
    course: String,
}

#[derive(Template)]
#[template(path = "admin/announcements.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Announcement, String, bool)>,
    courses: Vec<CourseRow>,
    banner: BannerForm,
    message: MessageForm,
    errors: FieldErrors,
}

async fn page(
    ctx: PageContext,
    state: &AppState,
    banner: BannerForm,
    message: MessageForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let at = now();
    let rows = announcements::recent(&state.db, 100)
        .await?
        .into_iter()
        .map(|a| {
            let when = shanghai_minutes(a.starts_at);
            let live = a.kind == AnnouncementKind::Banner && a.ends_at.is_none_or(|until| until > at);
            (a, when, live)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_announcements"), ctx.shop_name()), "");
    let courses = course_admin::list(&state.db).await?;
    render_with_status(&ListPage { ctx, meta, rows, courses, banner, message, errors }, status)
}

#[get("/admin/announcements")]
async fn list(
    Staff(ctx, _, _): Staff<area::Announcements>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    page(ctx, &state, BannerForm::default(), MessageForm::default(), FieldErrors::default(), StatusCode::OK).await
}

fn required_text(ctx: &PageContext, errors: &mut FieldErrors, field: &'static str, value: &str, max: usize) -> String {
    let value = value.trim().to_string();
    match value.chars().count() {
        0 => errors.add(field, ctx.t("err_required")),
        n if n > max => errors.add(field, ctx.tf("err_text_long", &[("n", &max.to_string())])),
        _ => {}
    }
    value
}

#[post("/admin/announcements/banner")]
async fn publish_banner(
    Staff(ctx, staff, _): Staff<area::Announcements>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BannerForm>,
) -> Result<HttpResponse, AppError> {
    let at = now();
    let mut errors = FieldErrors::default();
    let title = required_text(&ctx, &mut errors, "title", &form.title, 80);
    let link = form.link.trim().to_string();
    // Only the shop's own pages or an https address: a banner must not become a phishing link.
    if !link.is_empty() && safe_next(&link).is_none() && !(link.starts_with("https://") && link.len() <= 300) {
        errors.add("link", ctx.t("err_banner_link"));
    }
    let starts_at = if form.starts_at.trim().is_empty() { Some(at) } else { parse_shanghai_datetime(&form.starts_at) };
    if starts_at.is_none() {
        errors.add("starts_at", ctx.t("err_schedule_time"));
    }
    let ends_at = if form.ends_at.trim().is_empty() {
        Ok(None)
    } else {
        parse_shanghai_datetime(&form.ends_at).map(Some).ok_or(())
    };
    let ends_at = match (ends_at, starts_at) {
        (Ok(Some(end)), Some(start)) if end <= start.max(at) => Err(()),
        (other, _) => other,
    };
    if ends_at.is_err() {
        errors.add("ends_at", ctx.t("err_banner_end"));
    }
    let (Some(starts_at), Ok(ends_at), true) = (starts_at, ends_at, errors.is_empty()) else {
        return page(ctx, &state, form, MessageForm::default(), errors, StatusCode::BAD_REQUEST).await;
    };
    let new = NewBanner { title: &title, link: &link, starts_at, ends_at, staff_id: staff.id };
    let id = announcements::create_banner(&state.db, &new, at).await?;
    state.banners.reload(&state.db, at).await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "announcement.banner",
        target_type: "announcement",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "title": title, "link": link, "starts_at": starts_at, "ends_at": ends_at }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/announcements"))
}

#[post("/admin/announcements/message")]
async fn send_message(
    Staff(ctx, staff, _): Staff<area::Announcements>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<MessageForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let title = required_text(&ctx, &mut errors, "subject", &form.subject, 80);
    let body = required_text(&ctx, &mut errors, "body", &form.body, 2000);
    let course_id = if form.course.is_empty() {
        None
    } else {
        let found = super::chosen_course(&state, &form.course);
        if found.is_none() {
            errors.add("course", ctx.t("err_course_choose"));
        }
        found.map(|c| c.id)
    };
    if !errors.is_empty() {
        return page(ctx, &state, BannerForm::default(), form, errors, StatusCode::BAD_REQUEST).await;
    }
    let new = NewMessage { title: &title, body: &body, course_id, staff_id: staff.id };
    let (id, recipients) = announcements::send_message(&state.db, &new, now()).await?;
    let change = Change {
        action: "announcement.message",
        target_type: "announcement",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "title": title, "course_id": course_id, "recipients": recipients }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/announcements"))
}

#[post("/admin/announcements/{id}/end")]
async fn end_banner(
    Staff(_, staff, _): Staff<area::Announcements>,
    req: HttpRequest,
    id: web::Path<AnnouncementId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let at = now();
    if !announcements::end_banner(&state.db, *id, at).await? {
        return Err(AppError::NotFound);
    }
    state.banners.reload(&state.db, at).await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "announcement.end",
        target_type: "announcement",
        target_id: id.to_string(),
        before: serde_json::json!({ "live": true }),
        after: serde_json::json!({ "ends_at": at }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/announcements"))
}
