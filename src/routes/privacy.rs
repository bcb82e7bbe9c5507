//! 我的数据与注销: a learner downloads what the shop holds about them, or deletes their account
//! (confirmed by an SMS code to the account's phone, and a box ticked knowing it is final).

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::{FieldErrors, code_format_error};
use crate::auth::codes::{self, CodeError};
use crate::auth::human_check::Answer;
use crate::domain::text::parse_sms_code;
use crate::domain::time::{now, shanghai_date_compact};
use crate::error::AppError;
use crate::store::audit::{self, NewEntry};
use crate::store::personal_data::{self, Erasure};
use crate::store::users::User;
use crate::web::{AppState, CsrfForm, Meta, PageContext, client_ip, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(privacy_page).service(export).service(delete).service(deleted_page);
}

#[derive(Template)]
#[template(path = "me/privacy.html")]
struct PrivacyPage {
    ctx: PageContext,
    meta: Meta,
    user: User,
    notice: String,
    confirmed: bool,
    errors: FieldErrors,
}

fn render_page(
    ctx: PageContext,
    user: User,
    notice: String,
    confirmed: bool,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("privacy_title"), ctx.shop_name()), ctx.t("site_description"));
    render_with_status(&PrivacyPage { ctx, meta, user, notice, confirmed, errors }, status)
}

#[get("/me/privacy")]
async fn privacy_page(ctx: PageContext) -> Result<HttpResponse, AppError> {
    let Some(user) = ctx.user.clone() else {
        return Ok(redirect("/login?next=%2Fme%2Fprivacy"));
    };
    render_page(ctx, user, String::new(), false, FieldErrors::default(), StatusCode::OK)
}

/// The learner's data as a JSON file. Reading only; never cached on the way.
#[get("/me/privacy/export")]
async fn export(ctx: PageContext, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(user) = ctx.user.clone() else {
        return Ok(redirect("/login?next=%2Fme%2Fprivacy"));
    };
    let now = now();
    // Progress reported in the last second is included too.
    state.progress.flush(&state.db).await?;
    let data = personal_data::export(&state.db, user.id, now).await?;
    let body = serde_json::to_vec_pretty(&data).map_err(|e| AppError::Internal(e.into()))?;
    tracing::info!(user_id = %user.id, "personal data exported");
    let file = format!("attachment; filename=\"kedian-my-data-{}.json\"", shanghai_date_compact(now));
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, file))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .body(body))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteForm {
    action: String,
    code: String,
    confirm: String,
}

#[post("/me/privacy/delete")]
async fn delete(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = ctx.user.clone() else {
        return Ok(redirect("/login?next=%2Fme%2Fprivacy"));
    };
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let confirmed = form.confirm == "on";
    let mut errors = FieldErrors::default();
    if form.action == "send_code" {
        let template = state.shop.get().sms_code.clone();
        // Signed in as the phone, the learner is its owner: strangers' codes do not hold them.
        let asker = codes::Asker { owner: true, ..super::accounts::asker(&req, &state, &ip, Answer::None) };
        return match codes::send(&state.db, state.sms.as_ref(), &state.code_key, &user.phone, &asker, &template, now())
            .await
        {
            Ok(_) => {
                let notice = ctx.lang.tf("code_sent", &[("phone", &user.phone.masked())]);
                render_page(ctx, user, notice, confirmed, errors, StatusCode::OK)
            }
            Err(CodeError::RateLimited(secs)) => {
                let message = format!("{}{}", ctx.t("err_code_too_often"), ctx.lang.wait_message(secs));
                errors.add("code", message);
                render_page(ctx, user, String::new(), confirmed, errors, StatusCode::TOO_MANY_REQUESTS)
            }
            // The owner is never asked for the puzzle (see `codes::gate`); were they, they wait.
            Err(CodeError::HumanCheck) => {
                errors.add("code", ctx.t("err_code_too_often"));
                render_page(ctx, user, String::new(), confirmed, errors, StatusCode::TOO_MANY_REQUESTS)
            }
            Err(CodeError::NotDelivered) => {
                errors.add("code", ctx.t("err_sms_not_delivered"));
                render_page(ctx, user, String::new(), confirmed, errors, StatusCode::SERVICE_UNAVAILABLE)
            }
            Err(e) => Err(AppError::Internal(e.into())),
        };
    }
    let code = parse_sms_code(&form.code).map_err(|e| errors.add("code", code_format_error(ctx.lang, e))).ok();
    if !confirmed {
        errors.add("confirm", ctx.t("err_delete_confirm"));
    }
    let Some(code) = code.filter(|_| errors.is_empty()) else {
        return render_page(ctx, user, String::new(), confirmed, errors, StatusCode::BAD_REQUEST);
    };
    let browser = super::accounts::browser_of(&req, &state);
    if let Err(e) = codes::verify(&state.db, &state.code_key, &user.phone, &browser, &code, now()).await {
        errors.add("code", super::forms::code_error(ctx.lang, e)?);
        return render_page(ctx, user, String::new(), confirmed, errors, StatusCode::BAD_REQUEST);
    }
    let now = now();
    state.progress.flush(&state.db).await?;
    let orders = crate::store::orders::count_for_user(&state.db, user.id).await?;
    let photos = crate::store::attachments::personal_file_keys_of(&state.db, user.id).await?;
    match personal_data::erase(&state.db, user.id, now).await? {
        // Their reviews are gone: the averages on the cards are counted again, and their photos
        // and homework files leave the store.
        Erasure::Done => {
            crate::routes::admin::catalog::reload(&state).await?;
            for key in photos {
                if let Err(e) = state.uploads.delete(&key).await {
                    tracing::warn!(key, error = format!("{e:#}"), "a deleted account's review photo was not deleted");
                }
            }
        }
        // Deleted a moment ago by a double submit.
        Erasure::Gone => return Ok(redirect("/me/privacy/deleted")),
        refused => {
            let (key, status) = match refused {
                Erasure::Staff => ("err_delete_staff", StatusCode::FORBIDDEN),
                _ => ("err_delete_refund_open", StatusCode::CONFLICT),
            };
            errors.add("confirm", ctx.t(key));
            return render_page(ctx, user, String::new(), confirmed, errors, status);
        }
    }
    let entry = NewEntry {
        staff_id: user.id,
        action: "user.delete",
        target_type: "user",
        target_id: &user.id.to_string(),
        before: serde_json::json!({ "status": user.status.as_str(), "orders_kept": orders }),
        after: serde_json::json!({ "status": "deleted" }),
        note: "本人申请注销（短信验证码确认）",
        ip: &ip,
    };
    audit::record(&state.db, entry, now).await?;
    tracing::info!(user_id = %user.id, orders_kept = orders, "account deleted by its owner");
    ctx.typed_session().log_out();
    Ok(redirect("/me/privacy/deleted"))
}

#[derive(Template)]
#[template(path = "me/deleted.html")]
struct DeletedPage {
    ctx: PageContext,
    meta: Meta,
}

#[get("/me/privacy/deleted")]
async fn deleted_page(ctx: PageContext) -> Result<HttpResponse, AppError> {
    let meta = ctx.meta(&format!("{} - {}", ctx.t("account_deleted_title"), ctx.shop_name()), "");
    render_with_status(&DeletedPage { ctx, meta }, StatusCode::OK)
}
