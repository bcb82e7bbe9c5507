//! Learners for support staff: search by phone; a learner's orders, courses, refunds and logins;
//! grant or revoke a course with a reason; sign out everywhere; mute, ban or restore. Every change
//! is audited. Staff accounts can be signed out or banned by admins only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::UserId;
use crate::domain::staff::{AccountStatus, Role};
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::course_admin::{self, CourseRow};
use crate::store::entitlements::{self, Entitlement};
use crate::store::orders::{self, Order};
use crate::store::users::{self, Login, User};
use crate::store::{refunds, staff};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(search).service(detail).service(grant).service(revoke).service(sign_out).service(set_status);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchQuery {
    phone: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct SearchPage {
    ctx: PageContext,
    meta: Meta,
    phone: String,
    rows: Vec<(User, String)>,
}

#[get("/admin/users")]
async fn search(
    Staff(ctx, _, _): Staff<area::Users>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: SearchQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let rows = users::search(&state.db, &q.phone, 100)
        .await?
        .into_iter()
        .map(|u| {
            let at = shanghai_minutes(u.created_at);
            (u, at)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_users_nav"), ctx.shop_name()), "");
    render_with_status(&SearchPage { ctx, meta, phone: q.phone, rows }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct DetailPage {
    ctx: PageContext,
    meta: Meta,
    user: User,
    created: String,
    orders: Vec<(Order, String)>,
    courses: Vec<(Entitlement, String)>,
    refunds: Vec<refunds::Refund>,
    logins: Vec<(Login, String)>,
    all_courses: Vec<CourseRow>,
    statuses: Vec<(&'static str, &'static str)>,
    /// The grant and revoke forms: (path, title).
    actions: Vec<(&'static str, &'static str)>,
    form: GrantForm,
    errors: FieldErrors,
}

async fn detail_page(
    ctx: PageContext,
    state: &AppState,
    user: User,
    form: GrantForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let orders = orders::page_for_user(&state.db, user.id, 50, 0).await?.0.into_iter().map(|o| {
        let at = shanghai_minutes(o.created_at);
        (o, at)
    });
    let courses = entitlements::for_user(&state.db, user.id).await?.into_iter().map(|e| {
        let at = shanghai_minutes(e.granted_at);
        (e, at)
    });
    let logins = users::recent_logins(&state.db, &user, 20).await?.into_iter().map(|l| {
        let at = shanghai_minutes(l.created_at);
        (l, at)
    });
    let meta = ctx.meta(&format!("{} - {}", user.phone.masked(), ctx.shop_name()), "");
    let page = DetailPage {
        meta,
        created: shanghai_minutes(user.created_at),
        orders: orders.collect(),
        courses: courses.collect(),
        refunds: refunds::for_user(&state.db, user.id, 20).await?,
        logins: logins.collect(),
        all_courses: course_admin::list(&state.db).await?,
        statuses: AccountStatus::ALL.iter().map(|s| (s.as_str(), ctx.t(s.label_key()))).collect(),
        actions: vec![("grant", ctx.t("admin_grant")), ("revoke", ctx.t("admin_revoke"))],
        user,
        form,
        errors,
        ctx,
    };
    render_with_status(&page, status)
}

async fn find_user(state: &AppState, id: UserId) -> Result<User, AppError> {
    users::find_by_id(&state.db, id).await?.ok_or(AppError::NotFound)
}

/// Support may act on learners; only admins may act on staff accounts; nobody acts on an
/// account its owner deleted (it has no one behind it, and its data is gone by their wish).
fn may_act_on(staff: &User, user: &User) -> Result<(), AppError> {
    let deleted = user.status == crate::domain::staff::AccountStatus::Deleted;
    if deleted || (user.is_staff() && staff.role != Role::Admin) { Err(AppError::Forbidden) } else { Ok(()) }
}

#[get("/admin/users/{id}")]
async fn detail(
    Staff(ctx, _, _): Staff<area::Users>,
    id: web::Path<UserId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user = find_user(&state, *id).await?;
    detail_page(ctx, &state, user, GrantForm::default(), FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrantForm {
    course: String,
    reason: String,
}

/// Checks the course and reason; on error, the user's page again with the messages.
async fn checked(
    ctx: &PageContext,
    state: &AppState,
    form: &GrantForm,
) -> Result<(Option<std::sync::Arc<crate::catalog::Course>>, String, FieldErrors), AppError> {
    let mut errors = FieldErrors::default();
    let course = super::chosen_course(state, &form.course);
    if course.is_none() {
        errors.add("course", ctx.t("err_course_choose"));
    }
    let reason = form.reason.trim().to_string();
    match reason.chars().count() {
        0 => errors.add("reason", ctx.t("err_reason_required")),
        n if n > 200 => errors.add("reason", ctx.tf("err_text_long", &[("n", "200")])),
        _ => {}
    }
    Ok((course, reason, errors))
}

async fn change_course(
    Staff(ctx, staff, _): Staff<area::Users>,
    req: HttpRequest,
    state: &AppState,
    id: UserId,
    form: GrantForm,
    give: bool,
) -> Result<HttpResponse, AppError> {
    let user = find_user(state, id).await?;
    // Staff accounts (one's own too) are an admin's to change, as with signing out.
    may_act_on(&staff, &user)?;
    let (course, reason, mut errors) = checked(&ctx, state, &form).await?;
    let (Some(course), true) = (course, errors.is_empty()) else {
        return detail_page(ctx, state, user, form, errors, StatusCode::BAD_REQUEST).await;
    };
    let at = now();
    let changed = if give {
        entitlements::grant(&state.db, user.id, course.id, &reason, at).await?
    } else {
        entitlements::revoke(&state.db, user.id, course.id, &reason, at).await?
    };
    if !changed {
        errors.add("course", ctx.t(if give { "err_already_has_course" } else { "err_does_not_have_course" }));
        return detail_page(ctx, state, user, form, errors, StatusCode::CONFLICT).await;
    }
    let change = Change {
        action: if give { "user.grant" } else { "user.revoke" },
        target_type: "user",
        target_id: user.id.to_string(),
        before: serde_json::json!({ "course": course.slug, "has": !give }),
        after: serde_json::json!({ "course": course.slug, "has": give }),
        note: &reason,
    };
    audit(state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/users/{}", user.id)))
}

#[post("/admin/users/{id}/grant")]
async fn grant(
    staff: Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<UserId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<HttpResponse, AppError> {
    change_course(staff, req, &state, *id, form, true).await
}

#[post("/admin/users/{id}/revoke")]
async fn revoke(
    staff: Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<UserId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<HttpResponse, AppError> {
    change_course(staff, req, &state, *id, form, false).await
}

#[post("/admin/users/{id}/sign-out")]
async fn sign_out(
    Staff(_, staff, _): Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<UserId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let user = find_user(&state, *id).await?;
    may_act_on(&staff, &user)?;
    staff::sign_out_everywhere(&state.db, user.id, now()).await?;
    let change = Change {
        action: "user.sign_out",
        target_type: "user",
        target_id: user.id.to_string(),
        before: serde_json::json!({ "session_version": user.session_version }),
        after: serde_json::json!({ "session_version": user.session_version + 1 }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/users/{}", user.id)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatusForm {
    status: String,
    reason: String,
}

#[post("/admin/users/{id}/status")]
async fn set_status(
    Staff(ctx, staff, _): Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<UserId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let user = find_user(&state, *id).await?;
    may_act_on(&staff, &user)?;
    let mut errors = FieldErrors::default();
    let status = AccountStatus::parse(&form.status);
    if status.is_none() {
        errors.add("status", ctx.t("err_status_choose"));
    }
    let reason = form.reason.trim().to_string();
    if status != Some(AccountStatus::Active) && reason.is_empty() {
        errors.add("status_reason", ctx.t("err_reason_required"));
    } else if reason.chars().count() > 200 {
        errors.add("status_reason", ctx.tf("err_text_long", &[("n", "200")]));
    }
    let (Some(status), true) = (status, errors.is_empty()) else {
        return detail_page(ctx, &state, user, GrantForm::default(), errors, StatusCode::BAD_REQUEST).await;
    };
    if user.id == staff.id {
        return Err(AppError::Forbidden);
    }
    staff::set_status(&state.db, user.id, status, &reason, now()).await?;
    let change = Change {
        action: "user.status",
        target_type: "user",
        target_id: user.id.to_string(),
        before: serde_json::json!({ "status": user.status.as_str() }),
        after: serde_json::json!({ "status": status.as_str() }),
        note: &reason,
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/users/{}", user.id)))
}
