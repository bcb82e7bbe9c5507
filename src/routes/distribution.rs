//! The distributor centre (推广中心) in 我的: apply, then a link, a poster and what it earned.
//! And `?ref=CODE` on the home and course pages, which binds the visitor to that distributor.
//! The copy invites and never pressures (seed 004 lesson 16): no "share to unlock", no red
//! packets, no countdown to share.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::FieldErrors;
use crate::domain::commission::{
    Balances, Program, WithdrawalError, looks_like_referral_code, new_referral_code, referred_state_key,
};
use crate::domain::time::{now, shanghai_date, shanghai_minutes};
use crate::domain::{Fen, Phone};
use crate::error::AppError;
use crate::store::commissions::{self, Referred};
use crate::store::distributors::{self, Application, Distributor};
use crate::store::payouts::{self, Payout};
use crate::store::users::User;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, client_ip, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(centre).service(apply).service(withdraw);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RefQuery {
    r#ref: String,
}

/// The active distributor whose `?ref=CODE` this request carries, while the programme runs.
pub(crate) async fn referring_distributor(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<Distributor>, AppError> {
    if !state.shop.get().distribution.enabled {
        return Ok(None);
    }
    let q: RefQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    if !looks_like_referral_code(&q.r#ref) {
        return Ok(None);
    }
    Ok(distributors::find_by_code(&state.db, &q.r#ref).await?.filter(|d| d.status.is_distributor()))
}

/// A page visited with `?ref=CODE` of a distributor: a signed-in learner is bound now; a visitor
/// is remembered in the session and bound at their first purchase.
pub(crate) async fn note_visit(ctx: &PageContext, req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    let Some(distributor) = referring_distributor(req, state).await? else { return Ok(()) };
    match &ctx.user {
        Some(user) => {
            let ip = client_ip(req, state.settings.trust_forwarded);
            let program = state.shop.get().distribution;
            distributors::follow(&state.db, user.id, distributor.user_id, &program, &ip, now()).await?;
        }
        None => ctx.typed_session().note_referral(&distributor.code, now())?,
    }
    Ok(())
}

/// At a purchase: the link the buyer followed before signing in, bound now (as of when they
/// followed it).
pub(crate) async fn bind_noted(
    ctx: &PageContext,
    req: &HttpRequest,
    state: &AppState,
    user: &User,
) -> Result<(), AppError> {
    let session = ctx.typed_session();
    let Some((code, at)) = session.referral() else { return Ok(()) };
    session.forget_referral();
    let program = state.shop.get().distribution;
    let Some(distributor) = distributors::find_by_code(&state.db, &code).await? else { return Ok(()) };
    if program.enabled && distributor.status.is_distributor() {
        let ip = client_ip(req, state.settings.trust_forwarded);
        distributors::follow(&state.db, user.id, distributor.user_id, &program, &ip, at.min(now())).await?;
    }
    Ok(())
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct ApplyForm {
    real_name: String,
    contact_phone: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "me/distribution.html")]
struct CentrePage {
    ctx: PageContext,
    meta: Meta,
    program: Program,
    me: Option<Distributor>,
    form: ApplyForm,
    errors: FieldErrors,
    link: String,
    courses: Vec<PromotedCourse>,
    balances: Balances,
    referred: Vec<Referred>,
    /// What may be asked for now, the withdrawal form and past withdrawals.
    requestable: Fen,
    withdrawal: WithdrawForm,
    payouts: Vec<Payout>,
}

/// A course as the distributor promotes it: their link to it and their poster of it.
pub struct PromotedCourse {
    /// The id of its link's box, for 复制链接.
    pub input_id: String,
    pub title: String,
    pub price: Fen,
    pub link: String,
    pub poster: String,
}

impl CentrePage {
    fn applied_at(&self) -> String {
        self.me.as_ref().map(|d| shanghai_minutes(d.applied_at)).unwrap_or_default()
    }

    fn settles_on(&self, r: &Referred) -> String {
        shanghai_date(r.settles_at)
    }

    fn when(&self, at: &i64) -> String {
        shanghai_minutes(*at)
    }

    fn is(&self, status: &str) -> bool {
        self.me.as_ref().is_some_and(|d| d.status.as_str() == status)
    }
}

async fn page(
    ctx: PageContext,
    state: &AppState,
    user: &User,
    (form, withdrawal): (ApplyForm, WithdrawForm),
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("dist_title"), ctx.shop_name()), ctx.t("site_description"));
    let program = state.shop.get().distribution;
    let me = distributors::find(&state.db, user.id).await?;
    let (link, balances, referred, requestable, payouts) = match &me {
        Some(d) if d.status.is_distributor() => (
            ctx.absolute(&format!("/?ref={}", d.code)),
            commissions::balances(&state.db, user.id).await?,
            commissions::referred(&state.db, user.id, 50).await?,
            payouts::requestable(&state.db, user.id).await?,
            payouts::for_distributor(&state.db, user.id, 20).await?,
        ),
        _ => (String::new(), Balances::default(), Vec::new(), Fen::ZERO, Vec::new()),
    };
    // Each course on sale with the distributor's own link and poster, ready to copy.
    let courses = match &me {
        Some(d) if d.status.is_distributor() => state
            .catalog
            .snapshot()
            .courses
            .iter()
            .map(|c| PromotedCourse {
                input_id: format!("link-{}", c.slug),
                title: c.title.clone(),
                price: c.price,
                link: ctx.absolute(&format!("/courses/{}?ref={}", c.slug, d.code)),
                poster: format!("/courses/{}/poster.png?ref={}", c.slug, d.code),
            })
            .collect(),
        _ => Vec::new(),
    };
    let page = CentrePage {
        ctx,
        meta,
        program,
        me,
        form,
        errors,
        link,
        courses,
        balances,
        referred,
        requestable,
        withdrawal,
        payouts,
    };
    render_with_status(&page, status)
}

#[get("/me/distribution")]
async fn centre(LoggedIn(ctx, user): LoggedIn, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let form = ApplyForm { contact_phone: user.phone.as_str().to_string(), ..ApplyForm::default() };
    page(ctx, &state, &user, (form, WithdrawForm::default()), FieldErrors::default(), StatusCode::OK).await
}

#[post("/me/distribution/apply")]
async fn apply(
    LoggedIn(ctx, user): LoggedIn,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ApplyForm>,
) -> Result<HttpResponse, AppError> {
    if !state.shop.get().distribution.enabled {
        return Err(AppError::NotFound);
    }
    let mut errors = FieldErrors::default();
    let real_name = form.real_name.trim();
    if real_name.is_empty() || real_name.chars().count() > 20 || real_name.chars().any(char::is_control) {
        errors.add("real_name", ctx.t("dist_err_name"));
    }
    let phone = Phone::parse(form.contact_phone.trim());
    if phone.is_err() {
        errors.add("contact_phone", ctx.t("err_phone_invalid"));
    }
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        errors.add("reason", ctx.tf("err_text_long", &[("n", "200")]));
    }
    let (Ok(phone), true) = (phone, errors.is_empty()) else {
        return page(ctx, &state, &user, (form.clone(), WithdrawForm::default()), errors, StatusCode::BAD_REQUEST)
            .await;
    };
    let application = Application { real_name, contact_phone: phone.as_str(), reason };
    if distributors::apply(&state.db, user.id, &application, &new_referral_code(), now()).await? {
        tracing::info!(user_id = %user.id, "distributor application");
        ctx.typed_session().set_flash("dist_applied")?;
    }
    Ok(redirect("/me/distribution"))
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct WithdrawForm {
    /// Yuan, as typed.
    amount: String,
    /// Where to send it: an Alipay account, a bank card (as the distributor writes it).
    account: String,
}

/// A withdrawal of settled commission (frozen distributors cannot withdraw).
#[post("/me/distribution/withdraw")]
async fn withdraw(
    LoggedIn(ctx, user): LoggedIn,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<WithdrawForm>,
) -> Result<HttpResponse, AppError> {
    let me = distributors::find(&state.db, user.id).await?.ok_or(AppError::NotFound)?;
    if me.status != distributors::Status::Approved {
        return Err(AppError::Forbidden);
    }
    let program = state.shop.get().distribution;
    let mut errors = FieldErrors::default();
    let amount = Fen::parse_yuan(form.amount.trim());
    if amount.is_none() {
        errors.add("amount", ctx.t("err_amount_format"));
    }
    let account = form.account.trim();
    if account.is_empty() || account.chars().count() > 100 || account.chars().any(char::is_control) {
        errors.add("account", ctx.t("dist_err_account"));
    }
    if let (Some(amount), true) = (amount, errors.is_empty()) {
        let limits = payouts::Limits { minimum: program.payout_min, monthly: program.payout_monthly };
        match payouts::request(&state.db, user.id, amount, account, &limits, now()).await? {
            payouts::Requested::Made(_) => {
                tracing::info!(user_id = %user.id, %amount, "withdrawal requested");
                ctx.typed_session().set_flash("dist_withdrawal_requested")?;
                return Ok(redirect("/me/distribution"));
            }
            payouts::Requested::Refused(why) => {
                let message = match why {
                    WithdrawalError::BelowMinimum => {
                        ctx.tf("dist_err_minimum", &[("min", &program.payout_min.yuan_string())])
                    }
                    WithdrawalError::MoreThanAvailable => ctx.t("dist_err_available").to_string(),
                    WithdrawalError::MonthlyLimit => {
                        ctx.tf("dist_err_monthly", &[("limit", &program.payout_monthly.yuan_string())])
                    }
                };
                errors.add("amount", message);
            }
        }
    }
    let blank = ApplyForm::default();
    page(ctx, &state, &user, (blank, form.clone()), errors, StatusCode::BAD_REQUEST).await
}

/// The 待结算 / 已结算 word of a referred order.
pub fn state_key(r: &Referred) -> &'static str {
    referred_state_key(r.state, r.commission, r.reversed)
}
