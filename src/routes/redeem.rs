//! Redeeming a code bought elsewhere (`/redeem`): the course is the learner's at once, through an
//! order of amount 0. Each refusal has its own words beside the field; codes that are not codes
//! count against the account and the address, which may then wait.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::FieldErrors;
use crate::domain::product::Delivery;
use crate::domain::rate::Limit;
use crate::domain::redeem::{RedeemError, check, hash, normalize};
use crate::domain::time::now;
use crate::error::AppError;
use crate::services::checkout;
use crate::store::redeem;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, client_ip, redirect, render_with_status};

/// Wrong codes one account may try in an hour.
pub const ACCOUNT_FAILURES: Limit = Limit::new(10, 3600);
/// Wrong codes from one address in an hour, whatever the accounts (carriers share addresses).
pub const ADDRESS_FAILURES: Limit = Limit::new(30, 3600);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(redeem_page).service(submit);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RedeemQuery {
    course: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RedeemForm {
    code: String,
    course: String,
}

#[derive(Template)]
#[template(path = "redeem/form.html")]
struct RedeemPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    code: String,
    /// The course page the learner came from, if any: (slug, title).
    course: Option<(String, String)>,
    /// The purchase agreement redeeming accepts (a code's order is a purchase paid elsewhere).
    agreement: Option<std::sync::Arc<crate::store::agreements::Agreement>>,
    errors: FieldErrors,
}

fn page(
    ctx: PageContext,
    state: &AppState,
    code: String,
    course_slug: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let course = state.catalog.snapshot().course(course_slug).map(|c| (c.slug.clone(), c.title.clone()));
    let meta = ctx.meta(&format!("{} - {}", ctx.t("redeem_title"), ctx.shop_name()), "");
    let agreement = state.agreements.current().purchase.clone();
    render_with_status(&RedeemPage { ctx: &ctx, meta, code, course, agreement, errors }, status)
}

#[get("/redeem")]
async fn redeem_page(
    LoggedIn(ctx, _): LoggedIn,
    q: web::Query<RedeemQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    page(ctx, &state, String::new(), &q.course, FieldErrors::default(), StatusCode::OK)
}

#[post("/redeem")]
async fn submit(
    LoggedIn(ctx, user): LoggedIn,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RedeemForm>,
) -> Result<HttpResponse, AppError> {
    let at = now();
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let shown: String = form.code.chars().take(40).collect();
    let refuse = |ctx: PageContext, message: String, status: StatusCode| {
        let mut errors = FieldErrors::default();
        errors.add("code", message);
        page(ctx, &state, shown.clone(), &form.course, errors, status)
    };
    let (mine, here) = redeem::failures_since(&state.db, user.id, &ip, at - 3600).await?;
    if let Some(secs) = ACCOUNT_FAILURES.retry_after(&mine, at).max(ADDRESS_FAILURES.retry_after(&here, at)) {
        let minutes = ((secs + 59) / 60).to_string();
        let message = ctx.tf("redeem_wait", &[("minutes", &minutes)]);
        return refuse(ctx, message, StatusCode::TOO_MANY_REQUESTS);
    }
    if form.code.trim().is_empty() {
        let message = ctx.t("redeem_empty").to_string();
        return refuse(ctx, message, StatusCode::BAD_REQUEST);
    }
    let found = match normalize(&form.code) {
        Some(code) => redeem::find(&state.db, &hash(&code)).await?,
        None => None,
    };
    let Some(found) = found else {
        redeem::record_failure(&state.db, user.id, &ip, at).await?;
        let message = ctx.t(RedeemError::Unknown.message_key()).to_string();
        return refuse(ctx, message, StatusCode::BAD_REQUEST);
    };
    let course = state.catalog.snapshot().course_by_id(found.course_id).cloned();
    let mut verdict = check(&found.state, at);
    if verdict.is_ok() {
        verdict = match &course {
            None => Err(RedeemError::Disabled),
            Some(c)
                if matches!(c.kind.delivery(), Delivery::Lessons | Delivery::Courses)
                    && state.access.owns(&state.db, user.id, c.id).await? =>
            {
                Err(RedeemError::Owned)
            }
            Some(_) => Ok(()),
        };
    }
    let (Ok(()), Some(course)) = (verdict, course) else {
        let e = verdict.err().unwrap_or(RedeemError::Disabled);
        let status = if e == RedeemError::Owned || e == RedeemError::Used {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        };
        let message = ctx.t(e.message_key()).to_string();
        return refuse(ctx, message, status);
    };
    match checkout::redeem(&state.db, &state.catalog, user.id, &course, found.id, at).await? {
        Some(order) => {
            tracing::info!(batch = %found.batch_id, channel = %found.channel, "code redeemed");
            super::orders::accept_purchase_agreement(&state, &order, &ip).await?;
            Ok(redirect(&format!("/orders/{}/done", order.order_no)))
        }
        None => {
            let message = ctx.t(RedeemError::Used.message_key()).to_string();
            refuse(ctx, message, StatusCode::CONFLICT)
        }
    }
}
