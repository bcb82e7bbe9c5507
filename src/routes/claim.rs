//! 找回已购课程: a learner signed in by phone types the order number or the WeChat Pay
//! transaction number from their WeChat bill; an imported order that no reachable account holds
//! becomes theirs, with its course and progress. Guessing is limited per account and per
//! address; an order whose owner can sign in is never moved (an owner with a phone is told by
//! SMS that someone tried). Every claim is in the audit log, and staff can undo it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::accounts::respond;
use super::forms::FieldErrors;
use crate::domain::claim::{self, Holder, Verdict};
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::store::audit::{self, NewEntry};
use crate::store::claims::{self, Match};
use crate::store::users::User;
use crate::web::{AppState, CsrfForm, Meta, PageContext, client_ip, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(submit);
}

/// An order the page reports: title, amount, when it was paid.
pub struct Found {
    pub title: String,
    pub amount: String,
    pub paid_at: String,
    /// The course's page (its lessons are open to the learner now).
    pub href: String,
}

#[derive(Template)]
#[template(path = "me/claim.html")]
struct ClaimPage {
    ctx: PageContext,
    meta: Meta,
    number: String,
    claimed: Vec<Found>,
    /// Shown above the form: already yours, or what else was found.
    notice: String,
    errors: FieldErrors,
    has_phone: bool,
}

fn page(ctx: PageContext, user: &User, number: String) -> Result<ClaimPage, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("claim_title"), ctx.shop_name()), ctx.t("claim_intro"));
    Ok(ClaimPage {
        ctx,
        meta,
        number,
        claimed: Vec::new(),
        notice: String::new(),
        errors: FieldErrors::default(),
        has_phone: user.phone.is_number(),
    })
}

#[get("/me/claim")]
async fn show(ctx: PageContext) -> Result<HttpResponse, AppError> {
    let Some(user) = ctx.user.clone() else { return Ok(redirect(&ctx.login_href())) };
    respond(&page(ctx, &user, String::new())?, StatusCode::OK, None)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClaimForm {
    number: String,
}

fn found(state: &AppState, m: &Match) -> Found {
    let course = state.catalog.snapshot().course_by_id(m.course_id).map(|c| c.slug.clone());
    Found {
        title: m.item_title.clone(),
        amount: m.amount.to_string(),
        paid_at: m.paid_at.map(shanghai_minutes).unwrap_or_default(),
        href: course.map(|slug| format!("/courses/{slug}")).unwrap_or_else(|| "/me/courses".into()),
    }
}

#[post("/me/claim")]
async fn submit(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ClaimForm>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = ctx.user.clone() else { return Ok(redirect(&ctx.login_href())) };
    let typed: String = form.number.chars().take(80).collect();
    let mut page = page(ctx, &user, typed.clone())?;
    let fail = |mut page: ClaimPage, status: StatusCode, message: String, retry: Option<i64>| {
        page.errors.add("number", message);
        respond(&page, status, retry)
    };
    if !page.has_phone {
        let message = page.ctx.t("claim_err_no_phone").to_string();
        return fail(page, StatusCode::FORBIDDEN, message, None);
    }
    let Some(number) = claim::receipt_number(&typed) else {
        let message = page.ctx.t("claim_err_format").to_string();
        return fail(page, StatusCode::BAD_REQUEST, message, None);
    };
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let at = now();
    let (by_user, by_ip) = claims::misses_since(&state.db, user.id, &ip, at - claim::PER_ACCOUNT.window_secs).await?;
    let wait = claim::PER_ACCOUNT.retry_after(&by_user, at).or(claim::PER_ADDRESS.retry_after(&by_ip, at));
    if let Some(secs) = wait {
        let message = page.ctx.tf("claim_err_limited", &[("mins", &((secs + 59) / 60).to_string())]);
        return fail(page, StatusCode::TOO_MANY_REQUESTS, message, Some(secs));
    }
    let matches = claims::find(&state.db, &number).await?;
    claims::record_attempt(&state.db, user.id, &ip, !matches.is_empty(), at).await?;
    if matches.is_empty() {
        let message = page.ctx.t("claim_err_not_found").to_string();
        return fail(page, StatusCode::NOT_FOUND, message, None);
    }
    let mut refused: Option<Verdict> = None;
    for m in &matches {
        let holder = Holder {
            is_claimant: m.holder_id == user.id,
            has_phone: m.holder_has_phone(),
            signed_in: m.holder_signed_in == 1,
        };
        match claim::verdict(holder) {
            Verdict::Claim => {
                let Some(claim_id) = claims::claim(&state.db, m, user.id, at).await? else { continue };
                let entry = NewEntry {
                    staff_id: user.id,
                    action: "receipt.claim",
                    target_type: "order",
                    target_id: &m.order_id.to_string(),
                    before: serde_json::json!({ "user_id": m.holder_id }),
                    after: serde_json::json!({ "user_id": user.id, "claim": claim_id, "matched_by": m.matched_by }),
                    note: "",
                    ip: &ip,
                };
                audit::record(&state.db, entry, at).await?;
                tracing::info!(user_id = %user.id, order_id = %m.order_id, %claim_id, "order claimed by receipt");
                page.claimed.push(found(&state, m));
            }
            Verdict::AlreadyYours => page.notice = page.ctx.t("claim_already_yours").to_string(),
            Verdict::OwnedByPhone => {
                tell_owner(&state, m, at).await?;
                tracing::warn!(user_id = %user.id, order_id = %m.order_id, "claim refused: the order's owner has a phone");
                refused = Some(Verdict::OwnedByPhone);
            }
            Verdict::OwnedByWechat => refused = refused.or(Some(Verdict::OwnedByWechat)),
        }
    }
    if page.claimed.is_empty()
        && let Some(verdict) = refused
    {
        let key = if verdict == Verdict::OwnedByPhone { "claim_err_owned_phone" } else { "claim_err_owned_wechat" };
        let message = page.ctx.t(key).to_string();
        return fail(page, StatusCode::CONFLICT, message, None);
    }
    respond(&page, StatusCode::OK, None)
}

/// The owner of an order someone else tried to claim hears of it, once a day per order.
async fn tell_owner(state: &AppState, m: &Match, now: i64) -> Result<(), AppError> {
    let day = crate::domain::stats::shanghai_day(now);
    let mut tx = state.db.write().begin().await?;
    crate::store::sms_outbox::enqueue(
        &mut tx,
        &format!("claim-attempt:{}:{day}", m.order_id),
        crate::domain::sms::Kind::ClaimAttempt,
        &m.holder_phone,
        &[("no", &m.order_no)],
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
