//! Staff sign-in: phone and password, then a TOTP code (or a recovery code). The first sign-in
//! enrols the authenticator app with a QR code and hands out ten recovery codes, once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, audit};
use crate::auth::{attempts, human_check, totp};
use crate::domain::staff::{Area, staff_session_alive};
use crate::domain::text::safe_next;
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::accounts::{AuthForm, SignIn, login_with_password, respond, start_session};
use crate::routes::forms::FieldErrors;
use crate::store::staff;
use crate::store::users::{self, User};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, Meta, PageContext, client_ip, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page).service(login).service(verify_page).service(verify).service(logout);
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    ctx: PageContext,
    meta: Meta,
    phone: String,
    next: String,
    notice: &'static str,
    /// The slider puzzle's nonce, when the account is paused for strangers.
    puzzle: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/verify.html")]
struct VerifyPage {
    ctx: PageContext,
    meta: Meta,
    next: String,
    /// Enrolment: the QR code (data URL) and the secret for typing in by hand.
    enrol: Option<(String, String)>,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/recovery.html")]
struct RecoveryPage {
    ctx: PageContext,
    meta: Meta,
    next: String,
    codes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    next: String,
    expired: String,
}

fn next_of(value: &str) -> String {
    safe_next(value).filter(|n| n.starts_with("/admin")).unwrap_or_else(|| "/admin".to_string())
}

fn is_signed_in_staff(ctx: &PageContext) -> bool {
    let alive = ctx.typed_session().staff_times().is_some_and(|(at, seen)| staff_session_alive(at, seen, now()));
    alive && ctx.user.as_ref().is_some_and(|u| u.role.may(Area::Dashboard))
}

fn meta(ctx: &PageContext) -> Meta {
    ctx.meta(&format!("{} - {}", ctx.t("admin_login_title"), ctx.shop_name()), "")
}

#[get("/admin/login")]
async fn login_page(ctx: PageContext, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let q: LoginQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    if is_signed_in_staff(&ctx) {
        return Ok(redirect(&next_of(&q.next)));
    }
    let ctx = ctx.with_csrf()?;
    let notice = if q.expired.is_empty() { "" } else { ctx.t("admin_session_expired") };
    let page = LoginPage {
        meta: meta(&ctx),
        phone: String::new(),
        next: next_of(&q.next),
        notice,
        puzzle: String::new(),
        errors: FieldErrors::default(),
        ctx,
    };
    render_with_status(&page, StatusCode::OK)
}

#[post("/admin/login")]
async fn login(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<AuthForm>,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let next = next_of(&form.next);
    let device = crate::routes::accounts::device_cookie(&req);
    let human = human_check::answer(&ctx.typed_session(), &form.slide, now());
    let refused = match login_with_password(&state, ctx.lang, &form, &ip, device.as_deref(), human, true).await? {
        SignIn::In(user) if user.is_banned() => (StatusCode::FORBIDDEN, ctx.t("err_account_banned")),
        SignIn::In(user) if !user.is_staff() => (StatusCode::FORBIDDEN, ctx.t("err_not_staff")),
        SignIn::In(user) => {
            ctx.typed_session().begin_staff_challenge(user.id, now(), human == human_check::Answer::Solved)?;
            let query = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
            return Ok(redirect(&format!("/admin/login/verify?{query}")));
        }
        SignIn::Retry(retry) => {
            let ctx = ctx.with_csrf()?;
            let page = LoginPage {
                meta: meta(&ctx),
                phone: form.phone.chars().take(32).collect(),
                next,
                notice: "",
                puzzle: crate::routes::accounts::puzzle_for(&ctx, retry.puzzle)?,
                errors: retry.errors,
                ctx,
            };
            return respond(&page, retry.status, retry.retry_after);
        }
    };
    let (status, message) = refused;
    let mut errors = FieldErrors::default();
    errors.add("phone", message);
    let ctx = ctx.with_csrf()?;
    let phone = form.phone.chars().take(32).collect();
    let page = LoginPage { meta: meta(&ctx), phone, next, notice: "", puzzle: String::new(), errors, ctx };
    render_with_status(&page, status)
}

/// The account that gave its password in this session within the last 10 minutes.
async fn challenged(ctx: &PageContext, state: &AppState) -> Result<Option<User>, AppError> {
    let Some(user_id) = ctx.typed_session().staff_challenge(now()) else { return Ok(None) };
    Ok(users::find_by_id(&state.db, user_id).await?.filter(|u| u.is_staff() && !u.is_banned()))
}

/// The secret being enrolled: the one made earlier in this enrolment, or a new one.
async fn enrolment_secret(state: &AppState, user: &User) -> Result<String, AppError> {
    let context = format!("user:{}", user.id);
    if let Some((sealed, _)) = staff::totp_state(&state.db, user.id).await?
        && let Ok(secret) = totp::open(&state.totp_key, &context, &sealed)
    {
        return Ok(secret);
    }
    let secret = totp::new_secret();
    staff::start_enrolment(&state.db, user.id, &totp::seal(&state.totp_key, &context, &secret)?, now()).await?;
    Ok(secret)
}

async fn verify_form(
    ctx: PageContext,
    state: &AppState,
    user: &User,
    next: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let enrol = if user.totp_enabled {
        None
    } else {
        let secret = enrolment_secret(state, user).await?;
        let url = totp::otpauth_url(&secret, ctx.shop_name(), &user.phone.masked());
        Some((totp::qr_data_url(&url).unwrap_or_default(), secret))
    };
    let ctx = ctx.with_csrf()?;
    render_with_status(&VerifyPage { meta: meta(&ctx), next, enrol, errors, ctx }, status)
}

#[get("/admin/login/verify")]
async fn verify_page(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let q: LoginQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let Some(user) = challenged(&ctx, &state).await? else {
        return Ok(redirect(&super::gate::staff_login_href(&next_of(&q.next))));
    };
    verify_form(ctx, &state, &user, next_of(&q.next), FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VerifyForm {
    code: String,
    recovery: String,
    next: String,
}

#[post("/admin/login/verify")]
async fn verify(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    let next = next_of(&form.next);
    let Some(user) = challenged(&ctx, &state).await? else {
        return Ok(redirect(&super::gate::staff_login_href(&next)));
    };
    let now = now();
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let device = crate::routes::accounts::device_cookie(&req);
    let known = crate::routes::accounts::is_known_device(&state, device.as_deref(), &user.phone);
    // A browser that solved the puzzle at the password step is not held here by the account's
    // pause, which strangers' wrong passwords can fill (its cap still holds).
    let solved = ctx.typed_session().staff_challenge_solved();
    if let Some(blocked) = attempts::check(&state.db, Some(user.id), &ip, known, solved, now).await? {
        let (reason, secs) = (blocked.message_key(true), blocked.secs());
        let mut errors = FieldErrors::default();
        errors.add("code", format!("{}{}", ctx.t(reason), ctx.lang.wait_message(secs)));
        let mut response = verify_form(ctx, &state, &user, next, errors, StatusCode::TOO_MANY_REQUESTS).await?;
        if let Ok(value) = secs.to_string().parse() {
            response.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let recovery = form.recovery.trim();
    let passed = if user.totp_enabled && !recovery.is_empty() {
        staff::use_recovery_code(&state.db, user.id, &totp::recovery_code_hash(recovery), now).await?
    } else {
        match staff::totp_state(&state.db, user.id).await? {
            Some((sealed, last_step)) => {
                let secret = totp::open(&state.totp_key, &format!("user:{}", user.id), &sealed)?;
                match totp::accept(&secret, &form.code, now, last_step) {
                    Some(step) => staff::use_step(&state.db, user.id, step).await?,
                    None => false,
                }
            }
            None => false,
        }
    };
    if !passed {
        attempts::failed(&state.db, Some(user.id), &ip, now).await?;
        let mut errors = FieldErrors::default();
        let (field, key) =
            if recovery.is_empty() { ("code", "err_totp_wrong") } else { ("recovery", "err_recovery_wrong") };
        errors.add(field, ctx.t(key));
        return verify_form(ctx, &state, &user, next, errors, StatusCode::BAD_REQUEST).await;
    }
    if user.totp_enabled {
        start_session(&ctx, &req, &state, &user, "staff").await?;
        tracing::info!(user_id = %user.id, recovery = !recovery.is_empty(), "staff signed in");
        let mut response = redirect(&next);
        crate::routes::accounts::remember_device(&mut response, &state, &user)?;
        return Ok(response);
    }
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    staff::finish_enrolment(&state.db, user.id, &hashes, now).await?;
    start_session(&ctx, &req, &state, &user, "staff").await?;
    let change = Change {
        action: "staff.totp_enrol",
        target_type: "user",
        target_id: user.id.to_string(),
        before: serde_json::json!({ "totp": false }),
        after: serde_json::json!({ "totp": true, "recovery_codes": codes.len() }),
        note: "",
    };
    audit(&state, &req, &user, change).await?;
    let ctx = ctx.with_csrf()?;
    let mut response = render_with_status(&RecoveryPage { meta: meta(&ctx), next, codes, ctx }, StatusCode::OK)?;
    crate::routes::accounts::remember_device(&mut response, &state, &user)?;
    Ok(response)
}

#[post("/admin/logout")]
async fn logout(ctx: PageContext, _form: CsrfForm<NoFields>) -> HttpResponse {
    ctx.typed_session().log_out();
    redirect("/admin/login")
}
