//! Takedown mode: one switch for when the mini program is suspended. Every page then carries a
//! banner that cannot be closed, the home page pins the message, and learners are asked to save
//! the shop (bookmark, add to the home screen, open in the browser from WeChat).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::shop::TAKEDOWN_DEFAULT;
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::shop_settings;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(switch);
}

#[derive(Template)]
#[template(path = "admin/takedown.html")]
struct TakedownPage {
    ctx: PageContext,
    meta: Meta,
    on: bool,
    message: String,
    default_message: &'static str,
    errors: FieldErrors,
}

#[get("/admin/takedown")]
async fn show(Staff(ctx, _, _): Staff<area::Announcements>) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let on = ctx.shop.takedown.is_some();
    let message = ctx.shop.takedown.clone().unwrap_or_default();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_takedown"), ctx.shop_name()), "");
    let page =
        TakedownPage { ctx, meta, on, message, default_message: TAKEDOWN_DEFAULT, errors: FieldErrors::default() };
    render_with_status(&page, StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SwitchForm {
    /// on or off
    mode: String,
    message: String,
}

/// The settings that turn takedown mode on (with its message) or off.
pub fn takedown_pairs(on: bool, message: &str) -> Vec<(String, String)> {
    vec![
        ("takedown".to_string(), if on { "on".to_string() } else { String::new() }),
        ("takedown_message".to_string(), if on { message.trim().to_string() } else { String::new() }),
    ]
}

#[post("/admin/takedown")]
async fn switch(
    Staff(ctx, staff, _): Staff<area::Announcements>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Result<HttpResponse, AppError> {
    let on = match form.mode.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(AppError::BadRequest),
    };
    let message = form.message.trim();
    if message.chars().count() > 200 {
        let mut errors = FieldErrors::default();
        errors.add("message", ctx.tf("err_text_long", &[("n", "200")]));
        let ctx = ctx.with_csrf()?;
        let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_takedown"), ctx.shop_name()), "");
        let page = TakedownPage {
            on: ctx.shop.takedown.is_some(),
            message: message.to_string(),
            default_message: TAKEDOWN_DEFAULT,
            ctx,
            meta,
            errors,
        };
        return render_with_status(&page, StatusCode::BAD_REQUEST);
    }
    let before = state.shop.get().takedown.clone();
    let at = now();
    shop_settings::save(&state.db, &takedown_pairs(on, message), at).await?;
    state.shop.reload(&state.db).await?;
    let shop = state.shop.get();
    if let (true, None, Some(wechat)) = (on, &before, &state.wechat)
        && wechat.has_official_account()
        && !shop.wx_template_takedown.is_empty()
    {
        let text = if message.is_empty() { TAKEDOWN_DEFAULT } else { message };
        let payload = crate::services::oa_notices::takedown_payload(text, &state.settings.public_url, at);
        crate::services::oa_notices::queue_takedown_notice(&state.db, &shop.wx_template_takedown, &payload, at).await?;
    }
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: if on { "takedown.on" } else { "takedown.off" },
        target_type: "settings",
        target_id: "takedown".into(),
        before: serde_json::json!({ "takedown": before }),
        after: serde_json::json!({ "takedown": state.shop.get().takedown }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/takedown"))
}
