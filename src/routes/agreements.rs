//! Agreements, the learner's side: every published version readable at its own address (what a
//! buyer accepted stays readable after a newer one), and accepting a new user agreement from the
//! notice pages show until then.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::agreement::AgreementKind;
use crate::domain::text::safe_next;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::media::article::SanitizedHtml;
use crate::store::agreements::{self, Agreement};
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, client_ip, redirect, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(accept).service(current_page).service(version_page);
}

#[derive(Template)]
#[template(path = "agreements/show.html")]
struct AgreementPage {
    ctx: PageContext,
    meta: Meta,
    agreement: Agreement,
    html: SanitizedHtml,
    published: String,
    /// The newest version, when this one is older.
    newer: Option<i64>,
}

fn kind_of(word: &str) -> Result<AgreementKind, AppError> {
    AgreementKind::parse(word).ok_or(AppError::NotFound)
}

fn show(ctx: PageContext, state: &AppState, agreement: Agreement) -> Result<HttpResponse, AppError> {
    let current = state.agreements.current();
    let newest = match agreement.kind {
        AgreementKind::User => current.user.as_ref(),
        AgreementKind::Purchase => current.purchase.as_ref(),
    };
    let newer = newest.map(|a| a.version).filter(|v| *v > agreement.version);
    let meta = ctx.meta(&format!("{} - {}", agreement.title, ctx.shop_name()), &agreement.title);
    let html = SanitizedHtml::from_markdown(&agreement.body);
    let published = shanghai_minutes(agreement.published_at);
    render(&AgreementPage { ctx, meta, agreement, html, published, newer })
}

#[get("/agreements/{kind}")]
async fn current_page(
    ctx: PageContext,
    kind: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let current = state.agreements.current();
    let found = match kind_of(&kind)? {
        AgreementKind::User => current.user.clone(),
        AgreementKind::Purchase => current.purchase.clone(),
    };
    let agreement = found.ok_or(AppError::NotFound)?;
    show(ctx, &state, (*agreement).clone())
}

#[get("/agreements/{kind}/{version}")]
async fn version_page(
    ctx: PageContext,
    path: web::Path<(String, i64)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (kind, version) = path.into_inner();
    let agreement = agreements::find(&state.db, kind_of(&kind)?, version).await?.ok_or(AppError::NotFound)?;
    show(ctx, &state, agreement)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    version: String,
    next: String,
}

/// The notice's 同意: accepts the user agreement it showed, if it is still the current one (a
/// newer one published meanwhile is asked for next).
#[post("/agreements/accept")]
async fn accept(
    LoggedIn(_, user): LoggedIn,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let current = state.agreements.current().user.clone();
    if let Some(agreement) = current.filter(|a| form.version.trim() == a.version.to_string()) {
        let ip = client_ip(&req, state.settings.trust_forwarded);
        agreements::accept(&state.db, user.id, &agreement, None, &ip, now()).await?;
    }
    Ok(redirect(&safe_next(&form.next).unwrap_or_else(|| "/".into())))
}
