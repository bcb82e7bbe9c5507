//! Agreements, for administrators: publish a new version of the user or purchase agreement
//! (Markdown, sanitised when shown; published versions never change), see every version and how
//! many accepted it. A new user agreement is asked of signed-in learners on their next page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::gate::{Change, Staff, area, audit};
use crate::domain::agreement::{RawAgreement, parse_agreement};
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::agreements::{self, Agreement};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(publish);
}

#[derive(Template)]
#[template(path = "admin/agreements.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    /// Each version, when it was published, how many accepted it.
    versions: Vec<(Agreement, String, i64)>,
    form: RawAgreement,
    errors: FieldErrors,
}

async fn page(
    ctx: PageContext,
    state: &AppState,
    form: RawAgreement,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let versions = agreements::versions(&state.db)
        .await?
        .into_iter()
        .map(|(a, n)| {
            let at = shanghai_minutes(a.published_at);
            (a, at, n)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_agreements"), ctx.shop_name()), "");
    render_with_status(&ListPage { ctx, meta, versions, form, errors }, status)
}

#[get("/admin/agreements")]
async fn list(
    Staff(ctx, _, _): Staff<area::Administration>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = RawAgreement { kind: "purchase".into(), ..RawAgreement::default() };
    page(ctx, &state, form, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/agreements")]
async fn publish(
    Staff(ctx, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RawAgreement>,
) -> Result<HttpResponse, AppError> {
    let input = match parse_agreement(&form) {
        Ok(input) => input,
        Err(found) => {
            let mut errors = FieldErrors::default();
            for (field, key) in found {
                errors.add(field, ctx.t(key));
            }
            return page(ctx, &state, form, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    let version = agreements::publish(&state.db, &input, staff.id, now()).await?;
    state.reload_agreements().await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "agreement.publish",
        target_type: "agreement",
        target_id: format!("{}:{version}", input.kind),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "kind": input.kind, "version": version, "title": input.title, "body": input.body }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/agreements"))
}
