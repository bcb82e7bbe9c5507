//! 绑定手机号: after a WeChat-only sign-in (an imported buyer known by unionid), the shop asks
//! once, skippably, for a phone number proved by SMS code, so the learner can also sign in
//! outside WeChat. A number that already has an account takes this one in (the code sent to
//! that number is the other account's consent): what each side owns ends up together.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::accounts::{Retry, asker, browser_of, check_code, next_of, puzzle_for, respond, send_code, start_session};
use super::forms::{FieldErrors, code_format_error, phone_error};
use crate::auth::human_check;
use crate::domain::Phone;
use crate::domain::text::parse_sms_code;
use crate::domain::time::now;
use crate::error::AppError;
use crate::store::audit::{self, NewEntry};
use crate::store::phone_binding::{self, Bound};
use crate::store::users::{self, User};
use crate::web::{AppState, CsrfForm, Meta, PageContext, client_ip, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(submit);
}

/// Where a WeChat sign-in continues: the binding page first, once, for a WeChat-only account.
pub async fn after_wechat_sign_in(state: &AppState, user: &User, dest: String) -> Result<String, AppError> {
    if user.phone.is_number() || !phone_binding::ask_once(&state.db, user.id, now()).await? {
        return Ok(dest);
    }
    Ok(format!("/me/phone?{}", serde_urlencoded::to_string([("next", dest.as_str())]).unwrap_or_default()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BindForm {
    action: String,
    phone: String,
    code: String,
    next: String,
    slide: String,
}

#[derive(Template)]
#[template(path = "me/phone.html")]
struct BindPage {
    ctx: PageContext,
    meta: Meta,
    phone: String,
    next: String,
    notice: String,
    puzzle: String,
    errors: FieldErrors,
}

fn page(ctx: PageContext, phone: String, next: String, retry: Retry) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("bind_phone_title"), ctx.shop_name()), ctx.t("bind_phone_intro"));
    let (status, retry_after) = (retry.status, retry.retry_after);
    let puzzle = puzzle_for(&ctx, retry.puzzle)?;
    respond(
        &BindPage { ctx, meta, phone, next, notice: retry.notice, puzzle, errors: retry.errors },
        status,
        retry_after,
    )
}

fn wechat_only(ctx: &PageContext) -> Result<Option<&User>, AppError> {
    let user = ctx.signed_in()?;
    Ok((!user.phone.is_number()).then_some(user))
}

#[get("/me/phone")]
async fn show(ctx: PageContext, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let next = next_of(&serde_urlencoded::from_str::<BindForm>(req.query_string()).unwrap_or_default().next);
    if wechat_only(&ctx)?.is_none() {
        return Ok(redirect(&next));
    }
    page(ctx, String::new(), next, Retry::with_errors(StatusCode::OK, FieldErrors::default()))
}

#[post("/me/phone")]
async fn submit(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BindForm>,
) -> Result<HttpResponse, AppError> {
    let next = next_of(&form.next);
    let Some(user) = wechat_only(&ctx)?.cloned() else { return Ok(redirect(&next)) };
    let typed: String = form.phone.chars().take(32).collect();
    let ip = client_ip(&req, state.settings.trust_forwarded);
    if form.action == "send_code" {
        let human = human_check::answer(&ctx.typed_session(), &form.slide, now());
        let retry = send_code(&state, ctx.lang, &form.phone, &asker(&req, &state, &ip, human)).await?;
        return page(ctx, typed, next, retry);
    }
    let mut errors = FieldErrors::default();
    let phone = Phone::parse(&form.phone).map_err(|e| errors.add("phone", phone_error(ctx.lang, e))).ok();
    let code = parse_sms_code(&form.code).map_err(|e| errors.add("code", code_format_error(ctx.lang, e))).ok();
    let (Some(phone), Some(code)) = (phone, code) else {
        return page(ctx, typed, next, Retry::invalid(errors));
    };
    if let Some(retry) = check_code(&state, ctx.lang, &phone, &code, &browser_of(&req, &state)).await? {
        return page(ctx, typed, next, retry);
    }
    let at = now();
    match phone_binding::bind(&state.db, user.id, &phone, at).await? {
        Bound::Set => {
            tracing::info!(user_id = %user.id, "phone bound to a WeChat-only account");
            Ok(redirect(&next))
        }
        Bound::Merged { into, moved } => {
            let Some(account) = users::find_by_id(&state.db, into).await? else { return Err(AppError::NotFound) };
            let entry = NewEntry {
                staff_id: account.id,
                action: "account.merge",
                target_type: "user",
                target_id: &user.id.to_string(),
                before: serde_json::json!({ "user_id": user.id }),
                after: serde_json::json!({ "user_id": account.id, "moved": moved }),
                note: "",
                ip: &ip,
            };
            audit::record(&state.db, entry, at).await?;
            tracing::info!(from = %user.id, into = %account.id, "WeChat-only account merged into the phone's account");
            start_session(&ctx, &req, &state, &account, "sms").await?;
            Ok(redirect(&next))
        }
        Bound::Refused => {
            let retry = Retry::error(StatusCode::CONFLICT, "phone", ctx.t("bind_phone_refused"));
            page(ctx, typed, next, retry)
        }
    }
}
