//! Gifts (送给朋友): the buyer picks how many copies and the name to sign with, pays as usual, and
//! gets one link per copy on the order (with a poster); a friend opens a link, signs in and
//! claims the course into their own order of amount 0.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use super::forms::FieldErrors;
use crate::catalog::Course;
use crate::domain::gift::{CopyState, MAX_COPIES, MAX_SENDER_CHARS, RawGift, link_code, looks_like_code, parse_gift};
use crate::domain::numbers::{OrderNo, Slug};
use crate::domain::redeem::hash;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::services::checkout::{self, Purchase};
use crate::store::gifts::{self, Found};
use crate::store::orders::Order;
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(form).service(submit).service(gift_page).service(claim).service(poster);
}

/// A course on sale that can be given, or a 404.
fn giftable(state: &AppState, slug: &str) -> Result<std::sync::Arc<Course>, AppError> {
    let course = state.catalog.snapshot().course(slug).cloned().ok_or(AppError::NotFound)?;
    if !course.published || !course.giftable(now()) {
        return Err(AppError::NotFound);
    }
    Ok(course)
}

#[derive(Template)]
#[template(path = "gifts/form.html")]
struct FormPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    raw: RawGift,
    max_copies: i64,
    max_sender: usize,
    errors: FieldErrors,
}

fn form_page(
    ctx: PageContext,
    course: &Course,
    raw: RawGift,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("gift_title"), course.title), &course.subtitle);
    let page = FormPage { ctx: &ctx, meta, course, raw, max_copies: MAX_COPIES, max_sender: MAX_SENDER_CHARS, errors };
    render_with_status(&page, status)
}

#[get("/courses/{slug}/gift")]
async fn form(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = giftable(&state, &slug)?;
    let raw = RawGift { copies: "1".into(), sender: user.nickname.clone() };
    form_page(ctx, &course, raw, FieldErrors::default(), StatusCode::OK)
}

#[post("/courses/{slug}/gift")]
async fn submit(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
    CsrfForm(raw): CsrfForm<RawGift>,
) -> Result<HttpResponse, AppError> {
    let course = giftable(&state, &slug)?;
    let gift = match parse_gift(&raw) {
        Ok(gift) => gift,
        Err(found) => {
            let mut errors = FieldErrors::default();
            for (field, key) in found {
                errors.add(field, ctx.t(key));
            }
            return form_page(ctx, &course, raw, errors, StatusCode::BAD_REQUEST);
        }
    };
    let at = now();
    // The friend is not the buyer: a gift costs the course's price now, never a member price.
    let purchase = Purchase { user_id: user.id, course: &course, price: course.price_at(at), slot: None, cohort: None };
    let ttl = state.settings.order_ttl_minutes * 60;
    let order = checkout::begin_gift(&state.db, &purchase, &gift, &state.gift_key, ttl, at).await?;
    Ok(redirect(&format!("/orders/{}/pay", order.order_no)))
}

/// A link's copy, or a 404 for anything that is not one (or whose order was never paid).
async fn found(state: &AppState, code: &str) -> Result<Found, AppError> {
    if !looks_like_code(code) {
        return Err(AppError::NotFound);
    }
    let found = gifts::find(&state.db, &hash(code)).await?.ok_or(AppError::NotFound)?;
    if found.order.paid_at.is_none() {
        return Err(AppError::NotFound);
    }
    Ok(found)
}

#[derive(Template)]
#[template(path = "gifts/gift.html")]
struct GiftPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    code: &'a str,
    sender: &'a str,
    course: Option<std::sync::Arc<Course>>,
    state: CopyState,
    /// Where a friend who claimed it learns.
    learn_href: String,
    /// The purchase agreement claiming accepts (the friend's order is a purchase paid by another).
    agreement: Option<std::sync::Arc<crate::store::agreements::Agreement>>,
    errors: FieldErrors,
}

async fn gift_page_for(
    ctx: PageContext,
    state: &AppState,
    code: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let found = found(state, code).await?;
    let visitor = ctx.user.as_ref().map(|u| u.id.0);
    let copy_state = CopyState::of(found.claimed_by.map(|u| u.0), found.withdrawn, visitor);
    let course = state.catalog.snapshot().course_by_id(found.order.course_id).cloned();
    let learn_href = course.as_ref().map(|c| format!("/courses/{}", c.slug)).unwrap_or_default();
    let ctx = ctx.with_csrf()?;
    let title = ctx.tf("gift_from", &[("name", sender_name(&ctx, &found.order))]);
    let meta = ctx.meta(&format!("{title} - {}", ctx.shop_name()), &found.order.item_title);
    let page = GiftPage {
        ctx: &ctx,
        meta,
        code,
        sender: sender_name(&ctx, &found.order),
        course,
        state: copy_state,
        learn_href,
        agreement: state.agreements.current().purchase.clone(),
        errors,
    };
    let mut response = render_with_status(&page, status)?;
    // A link meant for one friend stays out of search engines.
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-robots-tag"),
        actix_web::http::header::HeaderValue::from_static("noindex"),
    );
    Ok(response)
}

/// The name a gift was signed with, or 一位朋友 when its giver has since deleted their account.
fn sender_name<'a>(ctx: &PageContext, order: &'a Order) -> &'a str {
    match order.gift_sender.as_str() {
        "" => ctx.t("gift_someone"),
        name => name,
    }
}

#[get("/gifts/{code}")]
async fn gift_page(
    ctx: PageContext,
    code: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    gift_page_for(ctx, &state, &code, FieldErrors::default(), StatusCode::OK).await
}

#[post("/gifts/{code}/claim")]
async fn claim(
    LoggedIn(ctx, user): LoggedIn,
    req: actix_web::HttpRequest,
    code: web::Path<String>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let found = found(&state, &code).await?;
    let refuse = |ctx: PageContext, key: &str, status: StatusCode| {
        let mut errors = FieldErrors::default();
        errors.add("claim", ctx.t(key));
        gift_page_for(ctx, &state, &code, errors, status)
    };
    match CopyState::of(found.claimed_by.map(|u| u.0), found.withdrawn, Some(user.id.0)) {
        CopyState::Claimed { by_visitor: true } => return Ok(redirect(&format!("/gifts/{code}"))),
        CopyState::Claimed { by_visitor: false } => return refuse(ctx, "gift_taken", StatusCode::CONFLICT).await,
        CopyState::Withdrawn => return refuse(ctx, "gift_withdrawn", StatusCode::CONFLICT).await,
        CopyState::Open => {}
    }
    let Some(course) = state.catalog.snapshot().course_by_id(found.order.course_id).cloned() else {
        return refuse(ctx, "gift_gone", StatusCode::CONFLICT).await;
    };
    if crate::store::entitlements::owns_now(&state.db, user.id, course.id).await? {
        return refuse(ctx, "gift_owned", StatusCode::CONFLICT).await;
    }
    let at = now();
    match checkout::claim_gift(&state.db, &state.catalog, user.id, &course, found.id, at).await? {
        Some(order) => {
            let ip = crate::web::client_ip(&req, state.settings.trust_forwarded);
            super::orders::accept_purchase_agreement(&state, &order, &ip).await?;
            Ok(redirect(&format!("/orders/{}/done", order.order_no)))
        }
        // Claimed or taken back a moment ago: the page says which.
        None => refuse(ctx, "gift_taken", StatusCode::CONFLICT).await,
    }
}

/// A copy on the buyer's order page: its link (while the shop's key still derives it), and who
/// claimed it, masked, and when.
pub struct CopyView {
    pub seq: i64,
    pub number: i64,
    /// The id of its link's field (for the copy button).
    pub input_id: String,
    /// The link; empty when the shop's key changed since the gift was bought.
    pub link: String,
    pub state_key: &'static str,
    pub claimer: String,
    pub at: String,
}

/// The copies of a paid gift order, for its buyer.
pub async fn copies(state: &AppState, order: &Order) -> Result<Vec<CopyView>, AppError> {
    if order.gift_copies == 0 || order.paid_at.is_none() {
        return Ok(Vec::new());
    }
    let copies = gifts::copies(&state.db, order.id).await?;
    Ok(copies
        .into_iter()
        .map(|c| {
            let code = link_code(&state.gift_key, order.id.0, c.seq);
            let link = if hash(&code) == c.code_hash {
                format!("{}/gifts/{code}", state.settings.public_url)
            } else {
                String::new()
            };
            let (state_key, at) = match (c.claimed_at, c.withdrawn_at) {
                (Some(at), _) => ("gift_copy_claimed", shanghai_minutes(at)),
                (None, Some(at)) => ("gift_copy_withdrawn", shanghai_minutes(at)),
                (None, None) => ("gift_copy_open", String::new()),
            };
            let claimer = c.claimer.as_deref().map(crate::domain::group::masked_name).unwrap_or_default();
            CopyView {
                seq: c.seq,
                number: c.seq + 1,
                input_id: format!("gift-link-{}", c.seq),
                link,
                state_key,
                claimer,
                at,
            }
        })
        .collect())
}

/// A copy's poster for the buyer to send: the course and a QR code of the link. Drawn for each
/// request and never stored: the link in it is the gift.
#[get("/orders/{order_no}/gifts/{seq}/poster.png")]
async fn poster(
    ctx: PageContext,
    path: web::Path<(OrderNo, i64)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (order_no, seq) = path.into_inner();
    let order = super::orders::buyers_order(&ctx, &state, &order_no).await?;
    let open = copies(&state, &order).await?.into_iter().find(|c| c.seq == seq && c.state_key == "gift_copy_open");
    let Some(copy) = open.filter(|c| !c.link.is_empty()) else { return Err(AppError::NotFound) };
    let course = state.catalog.snapshot().course_by_id(order.course_id).cloned().ok_or(AppError::NotFound)?;
    let invite = ctx.tf("gift_poster_invite", &[("name", sender_name(&ctx, &order))]);
    let input = super::poster::poster_input(&ctx, &course, copy.link, None, Some(invite))?;
    let png = super::poster::draw_with_cover(&state, input).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/png"))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .body(png))
}
