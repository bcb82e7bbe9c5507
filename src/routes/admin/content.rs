//! Content, for support staff: the keyword filter (words that reject a learner's text, or let it
//! through held for review) and what it held: approve (a held nickname is then applied), hide,
//! or restore what was hidden.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::moderation::{HeldKind, Keyword, KeywordAction, QueueStatus};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{KeywordId, QueueItemId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::moderation::{self, Item};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(add_word).service(remove_word).service(decide);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WordForm {
    word: String,
    action: String,
}

#[derive(Template)]
#[template(path = "admin/content.html")]
struct ContentPage {
    ctx: PageContext,
    meta: Meta,
    keywords: Vec<Keyword>,
    items: Vec<(Item, String)>,
    form: WordForm,
    errors: FieldErrors,
}

async fn render_page(
    ctx: PageContext,
    state: &AppState,
    form: WordForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let items = moderation::queue(&state.db, 200)
        .await?
        .into_iter()
        .map(|i| {
            let at = shanghai_minutes(i.created_at);
            (i, at)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_content"), ctx.shop_name()), "");
    let keywords = moderation::keywords(&state.db).await?;
    render_with_status(&ContentPage { ctx, meta, keywords, items, form, errors }, status)
}

#[get("/admin/content")]
async fn page(Staff(ctx, _, _): Staff<area::Users>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    render_page(
        ctx,
        &state,
        WordForm { action: "hold".into(), ..WordForm::default() },
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

#[post("/admin/content/keywords")]
async fn add_word(
    Staff(ctx, staff, _): Staff<area::Users>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<WordForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let word = form.word.trim().to_string();
    if crate::domain::moderation::normalize(&word).is_empty() {
        errors.add("word", ctx.t("err_required"));
    } else if word.chars().count() > 40 {
        errors.add("word", ctx.tf("err_text_long", &[("n", "40")]));
    }
    let action = KeywordAction::parse(&form.action);
    if action.is_none() {
        errors.add("action", ctx.t("err_required"));
    }
    let (Some(action), true) = (action, errors.is_empty()) else {
        return render_page(ctx, &state, form, errors, StatusCode::BAD_REQUEST).await;
    };
    if !moderation::add_keyword(&state.db, &word, action, now()).await? {
        errors.add("word", ctx.t("err_keyword_exists"));
        return render_page(ctx, &state, form, errors, StatusCode::CONFLICT).await;
    }
    state.screen.reload(&state.db).await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "content.keyword_add",
        target_type: "keyword",
        target_id: word.clone(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "word": word, "action": action.as_str() }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/content"))
}

#[post("/admin/content/keywords/{id}/delete")]
async fn remove_word(
    Staff(_, staff, _): Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<KeywordId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let word = moderation::remove_keyword(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    state.screen.reload(&state.db).await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "content.keyword_remove",
        target_type: "keyword",
        target_id: word.clone(),
        before: serde_json::json!({ "word": word }),
        after: serde_json::Value::Null,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/content"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DecideForm {
    /// approve, hide or restore
    decision: String,
}

#[post("/admin/content/items/{id}")]
async fn decide(
    Staff(ctx, staff, _): Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<QueueItemId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    let item = moderation::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let (from, to) = match form.decision.as_str() {
        "approve" => (QueueStatus::Held, QueueStatus::Approved),
        "hide" => (QueueStatus::Held, QueueStatus::Hidden),
        "restore" => (QueueStatus::Hidden, QueueStatus::Approved),
        _ => {
            let mut errors = FieldErrors::default();
            errors.add("decision", ctx.t("err_required"));
            return render_page(ctx, &state, WordForm::default(), errors, StatusCode::BAD_REQUEST).await;
        }
    };
    if !moderation::decide(&state.db, &item, from, to, staff.id, now()).await? {
        // Someone decided first: show where it stands.
        return Ok(redirect("/admin/content"));
    }
    let change = Change {
        action: "content.decide",
        target_type: "moderation",
        target_id: item.id.to_string(),
        before: serde_json::json!({ "status": item.status, "kind": item.kind }),
        after: serde_json::json!({ "status": to }),
        note: &item.text,
    };
    if item.kind == HeldKind::Review {
        super::catalog::reload(&state).await?;
    }
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/content"))
}
