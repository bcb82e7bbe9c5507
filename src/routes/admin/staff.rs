//! Staff accounts, for admins: add a colleague with a role and a first password (they enrol
//! TOTP at their first sign-in), change roles, reset a lost authenticator.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::auth::password;
use crate::domain::staff::Role;
use crate::domain::text::check_password;
use crate::domain::time::now;
use crate::domain::{Phone, UserId};
use crate::error::AppError;
use crate::routes::forms::{FieldErrors, password_error, phone_error};
use crate::store::staff;
use crate::store::users::{self, CreateUserError, User};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(add).service(set_role).service(reset_totp);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AddForm {
    phone: String,
    role: String,
    password: String,
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffPage {
    ctx: PageContext,
    meta: Meta,
    staff: Vec<User>,
    me: UserId,
    roles: Vec<(&'static str, &'static str)>,
    phone: String,
    role: String,
    errors: FieldErrors,
}

async fn page(
    ctx: PageContext,
    state: &AppState,
    me: UserId,
    form: AddForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_staff"), ctx.shop_name()), "");
    let roles = Role::STAFF.iter().map(|r| (r.as_str(), ctx.t(r.label_key()))).collect();
    let staff = staff::list(&state.db).await?;
    render_with_status(&StaffPage { ctx, meta, staff, me, roles, phone: form.phone, role: form.role, errors }, status)
}

#[get("/admin/staff")]
async fn list(
    Staff(ctx, me, _): Staff<area::Administration>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    page(ctx, &state, me.id, AddForm::default(), FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/staff")]
async fn add(
    Staff(ctx, me, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let phone = Phone::parse(&form.phone).map_err(|e| errors.add("phone", phone_error(ctx.lang, e))).ok();
    let role = Role::parse(&form.role).filter(|r| r.is_staff());
    if role.is_none() {
        errors.add("role", ctx.t("err_role"));
    }
    if let Err(e) = check_password(&form.password) {
        errors.add("password", password_error(ctx.lang, e));
    }
    let (Some(phone), Some(role), true) = (phone, role, errors.is_empty()) else {
        return page(ctx, &state, me.id, form, errors, StatusCode::BAD_REQUEST).await;
    };
    let hash = password::hash(form.password.clone()).await?;
    let at = now();
    let (user_id, before) = match users::find_by_phone(&state.db, &phone).await? {
        Some(user) => {
            users::set_password_and_role(&state.db, user.id, &hash, role, at).await?;
            staff::sign_out_everywhere(&state.db, user.id, at).await?;
            (user.id, serde_json::json!({ "role": user.role.as_str() }))
        }
        None => match users::create(&state.db, &phone, &users::default_nickname(&phone), Some(&hash), role, at).await {
            Ok(user) => (user.id, serde_json::json!(null)),
            Err(CreateUserError::PhoneTaken) => {
                errors.add("phone", ctx.t("err_phone_taken"));
                return page(ctx, &state, me.id, form, errors, StatusCode::CONFLICT).await;
            }
            Err(CreateUserError::Db(e)) => return Err(e.into()),
        },
    };
    let change = Change {
        action: "staff.add",
        target_type: "user",
        target_id: user_id.to_string(),
        before,
        after: serde_json::json!({ "role": role.as_str(), "phone": phone.masked() }),
        note: "",
    };
    audit(&state, &req, &me, change).await?;
    Ok(redirect("/admin/staff"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleForm {
    role: String,
}

async fn colleague(state: &AppState, id: UserId) -> Result<User, AppError> {
    users::find_by_id(&state.db, id).await?.filter(|u| u.is_staff()).ok_or(AppError::NotFound)
}

#[post("/admin/staff/{id}/role")]
async fn set_role(
    Staff(ctx, me, _): Staff<area::Administration>,
    req: HttpRequest,
    id: web::Path<UserId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let user = colleague(&state, *id).await?;
    let Some(role) = Role::parse(&form.role) else {
        let mut errors = FieldErrors::default();
        errors.add("role", ctx.t("err_role"));
        return page(ctx, &state, me.id, AddForm::default(), errors, StatusCode::BAD_REQUEST).await;
    };
    // An admin cannot demote themselves: the shop must never be left without one.
    if user.id == me.id {
        let mut errors = FieldErrors::default();
        errors.add("role", ctx.t("err_own_role"));
        return page(ctx, &state, me.id, AddForm::default(), errors, StatusCode::CONFLICT).await;
    }
    staff::set_role(&state.db, user.id, role, now()).await?;
    let change = Change {
        action: "staff.role",
        target_type: "user",
        target_id: user.id.to_string(),
        before: serde_json::json!({ "role": user.role.as_str() }),
        after: serde_json::json!({ "role": role.as_str() }),
        note: "",
    };
    audit(&state, &req, &me, change).await?;
    Ok(redirect("/admin/staff"))
}

#[post("/admin/staff/{id}/reset-totp")]
async fn reset_totp(
    Staff(_, me, _): Staff<area::Administration>,
    req: HttpRequest,
    id: web::Path<UserId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let user = colleague(&state, *id).await?;
    staff::reset_totp(&state.db, user.id, now()).await?;
    let change = Change {
        action: "staff.totp_reset",
        target_type: "user",
        target_id: user.id.to_string(),
        before: serde_json::json!({ "totp": user.totp_enabled }),
        after: serde_json::json!({ "totp": false }),
        note: "",
    };
    audit(&state, &req, &me, change).await?;
    Ok(redirect("/admin/staff"))
}
