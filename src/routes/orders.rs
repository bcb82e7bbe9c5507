//! Buying: create an order, the pay page with coupons, the order history and detail, cancel.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::FieldErrors;
use crate::auth::session::TypedSession;
use crate::catalog::Course;
use crate::domain::CohortId;
use crate::domain::coupon::{CouponError, apply_coupon};
use crate::domain::membership::{MemberRule, covers, price_for};
use crate::domain::numbers::OrderNo;
use crate::domain::order::OrderStatus;
use crate::domain::product::Delivery;
use crate::domain::refund_terms::refund_sentence;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::pay::{Browser, Channel, JsapiParams, PaidNotice, PayAction, PayRequest};
use crate::services::checkout::{self, Checkout, Purchase};
use crate::services::confirm;
use crate::store::agreements::Agreement;
use crate::store::orders::{self, Attached, Order, PaymentOutcome};
use crate::store::refunds::{self, Refund};
use crate::store::{coupons, users::User};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, client_ip, redirect, render, render_with_status};

pub const PER_PAGE: i64 = 20;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(buy)
        .service(list)
        .service(detail)
        .service(pay_page)
        .service(start_payment)
        .service(coupon)
        .service(cancel)
        .service(return_page)
        .service(done_page)
        .service(order_status);
}

/// The logged-in buyer's own order; a visitor is sent to sign in.
pub(crate) async fn buyers_order(ctx: &PageContext, state: &AppState, order_no: &OrderNo) -> Result<Order, AppError> {
    own_order(state, order_no, ctx.signed_in()?).await
}

/// The buyer's order as it stands once its gateway was asked: they are back from the cashier
/// (see `services::confirm`), so a payment whose notification is late turns paid now.
async fn after_return(state: &AppState, order: Order) -> Result<Order, AppError> {
    let queries = &state.return_queries;
    if confirm::on_return(&state.db, &state.providers, &state.catalog, queries, &order, now()).await? {
        return orders::find_for_user(&state.db, &order.order_no, order.user_id).await?.ok_or(AppError::NotFound);
    }
    Ok(order)
}

/// The buyer's own order by number; anything else is a 404, exactly like a missing order.
async fn own_order(state: &AppState, order_no: &OrderNo, user: &User) -> Result<Order, AppError> {
    orders::find_for_user(&state.db, order_no, user.id).await?.ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "orders/owned.html")]
struct OwnedPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
}

/// Why a cohort (营期) cannot be bought, said on its own page (the course lists the others).
#[derive(Template)]
#[template(path = "orders/cohort_closed.html")]
struct CohortClosedPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    reason: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BuyForm {
    /// The cohort picked, for a course sold in cohorts.
    cohort: String,
}

#[tracing::instrument(skip_all, fields(slug = %slug))]
#[post("/courses/{slug}/buy")]
async fn buy(
    ctx: PageContext,
    req: HttpRequest,
    slug: web::Path<crate::domain::numbers::Slug>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BuyForm>,
) -> Result<HttpResponse, AppError> {
    let catalog = state.catalog.snapshot();
    let course = catalog.course(&slug).cloned().ok_or(AppError::NotFound)?;
    let Some(user) = &ctx.user else {
        return Ok(redirect(&format!("/login?next=/courses/{}", course.slug)));
    };
    // A consultation is bought again for each session, a membership for each period; the rest once.
    if matches!(course.kind.delivery(), Delivery::Lessons | Delivery::Courses)
        && crate::store::entitlements::owns_now(&state.db, user.id, course.id).await?
    {
        let meta = ctx.meta(&course.title, &course.subtitle);
        return render(&OwnedPage { ctx: &ctx, meta, course: &course });
    }
    // A cohort must be picked, and open: said here with a 4xx (the seat itself is taken under a
    // lock when the order is made, where a race sends the buyer back to the course).
    let cohort = form.cohort.trim().parse::<CohortId>().ok();
    if !course.cohorts.is_empty() {
        let picked = course.cohorts.iter().find(|c| Some(c.id) == cohort);
        let closed = match picked {
            None => Some((StatusCode::BAD_REQUEST, "cohort_required")),
            Some(c) => {
                let taken = crate::store::cohorts::taken_by_cohort(&state.db, course.id, now()).await?;
                let taken = taken.get(&c.id).copied().unwrap_or(0);
                c.may_join(now(), taken).err().map(|why| (StatusCode::CONFLICT, why.key()))
            }
        };
        if let Some((status, reason)) = closed {
            let meta = ctx.meta(&course.title, &course.subtitle);
            return render_with_status(&CohortClosedPage { ctx: &ctx, meta, course: &course, reason }, status);
        }
    }
    super::distribution::bind_noted(&ctx, &req, &state, user).await?;
    let ip = client_ip(&req, state.settings.trust_forwarded);
    Ok(redirect(&begin_purchase(&state, user, &course, cohort, &ctx.typed_session(), &ip).await?))
}

/// Makes (or reuses) the buyer's order for `course` and says where to go: its pay page, or the
/// order itself for a free course. Also where login continues when it was for a purchase. A
/// consultation goes to its slots first; a course the buyer's membership opens, or one sold to
/// members only, back to its page (to learn, or to join). A coupon whose link the buyer followed
/// (`noted`) goes on the new order when it fits. `ip` is the buyer's, for the purchase agreement
/// a free order accepts.
pub(crate) async fn begin_purchase(
    state: &AppState,
    user: &User,
    course: &Course,
    cohort: Option<CohortId>,
    noted: &TypedSession<'_>,
    ip: &str,
) -> Result<String, AppError> {
    let at = now();
    if course.kind.delivery() == Delivery::Session {
        return Ok(format!("/courses/{}/book", course.slug));
    }
    // A course sold in cohorts is bought from its list of cohorts.
    if !course.cohorts.is_empty() && cohort.is_none() {
        return Ok(format!("/courses/{}#cohorts", course.slug));
    }
    let membership = crate::store::memberships::timeline(&state.db, user.id).await?;
    let term = membership.at(at);
    if term.is_some_and(|t| covers(t.scope.0, course.kind, course.member_rule))
        || course.member_rule == MemberRule::Only
    {
        return Ok(format!("/courses/{}", course.slug));
    }
    let price = price_for(course.price_at(at), course.member_rule, term.is_some());
    let purchase = Purchase { user_id: user.id, course, price, slot: None, cohort };
    purchase_href(state, &purchase, noted, ip, at).await?.ok_or(AppError::NotFound)
}

/// The purchase agreement a free claim of `course` accepts, shown beside its button: for a
/// course that costs nothing now, when one is published.
pub(crate) fn claim_agreement(state: &AppState, course: &Course) -> Option<Arc<Agreement>> {
    let free = course.price_at(now()).is_free() && course.kind.delivery() != Delivery::Session;
    free.then(|| state.agreements.current().purchase.clone()).flatten()
}

/// Taking an order (starting its payment, or claiming it when it costs nothing) accepts the
/// purchase agreement shown beside the button, once per order.
pub(crate) async fn accept_purchase_agreement(state: &AppState, order: &Order, ip: &str) -> Result<(), AppError> {
    if let Some(agreement) = state.agreements.current().purchase.clone() {
        crate::store::agreements::accept(&state.db, order.user_id, &agreement, Some(order.id), ip, now()).await?;
    }
    Ok(())
}

/// Where a purchase continues: its pay page, or the order when it was free; None when the
/// consultation slot it picked was taken meanwhile.
pub(crate) async fn purchase_href(
    state: &AppState,
    purchase: &Purchase<'_>,
    noted: &TypedSession<'_>,
    ip: &str,
    at: i64,
) -> Result<Option<String>, AppError> {
    let ttl = state.settings.order_ttl_minutes * 60;
    Ok(match checkout::begin(&state.db, &state.catalog, purchase, ttl, at).await? {
        Checkout::ToPay(order) => {
            if let Some(code) = noted.coupon().filter(|_| order.coupon_id.is_none()) {
                // Quietly: a coupon that does not fit stays filled in on the pay page, which says why.
                if attach_code(state, &order, &code, at).await?.is_ok() {
                    noted.forget_coupon();
                }
            }
            Some(format!("/orders/{}/pay", order.order_no))
        }
        Checkout::Claimed(order) => {
            if claim_agreement(state, purchase.course).is_some() {
                accept_purchase_agreement(state, &order, ip).await?;
            }
            Some(format!("/orders/{}/done", order.order_no))
        }
        Checkout::SlotTaken => None,
        Checkout::CohortClosed(why) => {
            noted.set_flash(why.key())?;
            Some(format!("/courses/{}#cohorts", purchase.course.slug))
        }
    })
}

/// An order with what the page needs to say about it.
pub struct OrderView {
    pub order: Order,
    pub status_key: &'static str,
    pub kind_key: &'static str,
    pub created: String,
    pub paid: String,
    pub closed: String,
    pub expires: String,
    /// Pending, but past its deadline: closed in all but name until the expiry job runs.
    pub lapsed: bool,
}

impl OrderView {
    pub fn new(order: Order) -> OrderView {
        let at = |t: Option<i64>| t.map(shanghai_minutes).unwrap_or_default();
        let lapsed = order.status == OrderStatus::Pending && order.expires_at <= now();
        OrderView {
            status_key: if lapsed { OrderStatus::Closed.label_key() } else { order.status.label_key() },
            lapsed,
            kind_key: order.item_kind.label_key(),
            created: shanghai_minutes(order.created_at),
            paid: at(order.paid_at),
            closed: at(order.closed_at),
            expires: shanghai_minutes(order.expires_at),
            order,
        }
    }

    pub fn status(&self) -> &'static str {
        if self.lapsed { OrderStatus::Closed.as_str() } else { self.order.status.as_str() }
    }

    /// Still payable.
    pub fn is_pending(&self) -> bool {
        self.order.status == OrderStatus::Pending && !self.lapsed
    }

    pub fn is_closed(&self) -> bool {
        self.order.status == OrderStatus::Closed || self.lapsed
    }

    /// Why a closed order closed, in words.
    pub fn close_reason_key(&self) -> &'static str {
        if self.lapsed {
            return "close_reason_expired";
        }
        match self.order.close_reason.as_deref() {
            Some("expired") => "close_reason_expired",
            Some("cancelled") => "close_reason_cancelled",
            Some("staff") => "close_reason_staff",
            Some("replaced") => "close_reason_replaced",
            _ => "close_reason_other",
        }
    }

    pub fn can_learn(&self) -> bool {
        self.order.status.grants_access()
    }

    /// The order opens lessons to start (a consultation opens a booking instead).
    pub fn opens_lessons(&self) -> bool {
        self.can_learn() && self.order.item_kind.delivery() != Delivery::Session && !self.is_gift()
    }

    /// Bought for friends: its copies are claimed through links, the buyer learns nothing from it.
    pub fn is_gift(&self) -> bool {
        self.order.gift_copies > 0
    }

    /// `×3`-style words for a gift's copies.
    pub fn gift_copies(&self) -> String {
        self.order.gift_copies.to_string()
    }

    /// 开始学习, or 去会员专区 for a membership.
    pub fn learn_label_key(&self) -> &'static str {
        if self.order.item_kind.delivery() == Delivery::MemberTerm { "member_zone_go" } else { "start_learning" }
    }

    /// The refund terms in the reader's language. In Chinese, the sentence kept with the order (what
    /// the buyer was shown); in English, the same terms worded from the order's stored rule.
    pub fn refund_terms(&self, lang: crate::i18n::Lang) -> String {
        match lang {
            crate::i18n::Lang::En => refund_sentence(self.order.item_kind, self.order.refund_terms).en,
            _ => self.order.refund_terms_shown.clone(),
        }
    }

    /// What the amount is: still due, paid (refunded or not), or only the order's (closed unpaid).
    pub fn amount_label_key(&self) -> &'static str {
        match self.order.status {
            OrderStatus::Pending => "order_amount_due",
            OrderStatus::Closed => "order_amount",
            OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => "order_paid_amount",
        }
    }
}

#[derive(Template)]
#[template(path = "orders/list.html")]
struct ListPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    orders: Vec<OrderView>,
    page: i64,
    total_pages: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    page: String,
}

#[get("/orders")]
async fn list(
    LoggedIn(ctx, user): LoggedIn,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: ListQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let page = q.page.parse::<i64>().ok().filter(|p| *p >= 1).unwrap_or(1);
    let (list, total) = state
        .order_pages
        .get_or_load(&state.db, (user.id, page), || {
            orders::page_for_user(&state.db, user.id, PER_PAGE, (page - 1).saturating_mul(PER_PAGE))
        })
        .await?;
    let total_pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let meta = ctx.meta(&format!("{} - {}", ctx.t("orders_title"), ctx.shop_name()), ctx.t("site_description"));
    render(&ListPage { ctx: &ctx, meta, orders: list.into_iter().map(OrderView::new).collect(), page, total_pages })
}

#[derive(Template)]
#[template(path = "orders/detail.html")]
struct DetailPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: OrderView,
    provider_label: &'static str,
    refunds: Vec<Refund>,
    open_refund: Option<String>,
    can_refund: bool,
    /// 开始学习 opens the first (or next) lesson of the course bought.
    learn_href: String,
    booking: Option<Booking>,
    /// A closed order's course, still on sale: (slug, bought here with 重新购买 rather than on
    /// its own page).
    rebuy: Option<(String, bool)>,
    /// Paid with a redeem code: the channel the code was sold through (淘宝, 线下…).
    redeem_channel: Option<String>,
    /// 申请发票 or 查看发票, when there is an invoice to ask for or to see.
    invoice_link: Option<&'static str>,
    /// A paid gift: its copies, their links and who claimed them.
    gift_copies: Vec<super::gifts::CopyView>,
    /// A course a friend gave: the name the gift was signed with.
    gift_from: Option<String>,
    errors: FieldErrors,
}

/// A consultation order's slot: when, the meeting details around it, and where it may move.
pub struct Booking {
    pub when: String,
    pub minutes: i64,
    /// Shown from a day before the slot until it ends; empty otherwise.
    pub meeting: String,
    pub can_move: bool,
    pub choices: Vec<crate::routes::consultations::SlotChoice>,
}

/// The meeting details show from this long before a slot.
const MEETING_SHOWN_BEFORE_SECS: i64 = 24 * 3600;

async fn booking(state: &AppState, order: &Order) -> Result<Option<Booking>, AppError> {
    if order.item_kind.delivery() != Delivery::Session {
        return Ok(None);
    }
    let Some(slot) = crate::store::consultations::of_order(&state.db, order.id).await? else { return Ok(None) };
    let at = now();
    let booked = order.status.grants_access();
    let meeting = if booked
        && crate::domain::consultation::shows_meeting(slot.starts_at, slot.minutes, at, MEETING_SHOWN_BEFORE_SECS)
    {
        slot.meeting.clone()
    } else {
        String::new()
    };
    let can_move = booked
        && crate::domain::consultation::may_reschedule(slot.starts_at, at, state.settings.consultation_cancel_hours);
    let choices = match (can_move, state.catalog.snapshot().course_by_id(order.course_id)) {
        (true, Some(course)) => crate::routes::consultations::open_choices(state, course, at).await?,
        _ => Vec::new(),
    };
    Ok(Some(Booking { when: shanghai_minutes(slot.starts_at), minutes: slot.minutes, meeting, can_move, choices }))
}

#[get("/orders/{order_no}")]
async fn detail(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = after_return(&state, buyers_order(&ctx, &state, &order_no).await?).await?;
    render_detail(ctx, &state, order, FieldErrors::default(), StatusCode::OK).await
}

/// The order page; `errors` (a refused move of a booking) show beside their field.
pub(crate) async fn render_detail(
    ctx: PageContext,
    state: &AppState,
    order: Order,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let provider_label = provider_label(order.pay_provider.as_deref());
    let refunds = refunds::for_order(&state.db, order.id).await?;
    let open_refund = refunds.iter().find(|r| r.status.is_open()).map(|r| r.refund_no.clone());
    let can_refund = order.is_refundable();
    let course = state.catalog.snapshot().course_by_id(order.course_id).cloned();
    let rebuy = course
        .as_ref()
        .filter(|c| c.published)
        .map(|c| (c.slug.clone(), c.bought_directly() && order.group_id.is_none()));
    let (learn_href, _) = match order.item_kind.delivery() {
        Delivery::Courses => ("/me/courses".to_string(), None),
        _ => where_to_learn(state, course.as_ref(), order.user_id).await?,
    };
    let booking = booking(state, &order).await?;
    let redeem_channel = match order.pay_provider.as_deref() {
        Some(crate::store::redeem::PROVIDER) => crate::store::redeem::channel_of_order(&state.db, order.id).await?,
        _ => None,
    };
    let invoice_link = match order.paid_at {
        Some(_) if crate::store::invoices::for_order(&state.db, order.id).await?.is_some() => Some("invoice_view"),
        Some(_) if !super::invoices::invoiceable(&order).is_free() => Some("invoice_apply"),
        _ => None,
    };
    let gift_copies = super::gifts::copies(state, &order).await?;
    let gift_from = match order.pay_provider.as_deref() {
        Some(crate::store::gifts::PROVIDER) => crate::store::gifts::sender_of_claim(&state.db, order.id).await?,
        _ => None,
    };
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("order_title"), ctx.shop_name()), &order.item_title);
    let view = OrderView::new(order);
    let page = DetailPage {
        ctx: &ctx,
        meta,
        view,
        provider_label,
        refunds,
        open_refund,
        can_refund,
        learn_href,
        booking,
        rebuy,
        redeem_channel,
        invoice_link,
        gift_copies,
        gift_from,
        errors,
    };
    render_with_status(&page, status)
}

fn provider_label(provider: Option<&str>) -> &'static str {
    match provider {
        Some("sandbox") => "channel_sandbox",
        Some("wechatpay") => "channel_wechat",
        Some("alipay") => "channel_alipay",
        Some("free") => "channel_free",
        Some(crate::store::redeem::PROVIDER) => "channel_redeem",
        Some(crate::store::gifts::PROVIDER) => "channel_gift",
        Some(_) => "channel_other",
        None => "",
    }
}

#[derive(Template)]
#[template(path = "orders/pay.html")]
struct PayPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: OrderView,
    coupon_code: String,
    channels: Vec<Channel>,
    /// Inside WeChat, where Alipay is blocked: explain how to open the page in a browser.
    alipay_guide: bool,
    /// The purchase agreement paying accepts, when one is published.
    agreement: Option<Arc<Agreement>>,
    errors: FieldErrors,
}

async fn pay_page_for(
    ctx: PageContext,
    req: &HttpRequest,
    state: &AppState,
    order: Order,
    coupon_input: Option<String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let coupon_code = match (coupon_input, order.coupon_id) {
        (Some(input), _) => input,
        (None, Some(id)) => coupons::find_by_id(&state.db, id).await?.unwrap_or_default(),
        // A coupon link followed earlier fills the field in.
        (None, None) => ctx.typed_session().coupon().unwrap_or_default(),
    };
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("pay_title"), ctx.shop_name()), &order.item_title);
    let browser = browser_of(req);
    let channels = state.providers.channels().into_iter().map(|(c, _)| c).filter(|c| c.fits(browser)).collect();
    let alipay_guide = browser == Browser::WeChat && state.providers.get(crate::pay::alipay::NAME).is_some();
    let agreement = state.agreements.current().purchase.clone();
    let view = OrderView::new(order);
    render_with_status(
        &PayPage { ctx: &ctx, meta, view, coupon_code, channels, alipay_guide, agreement, errors },
        status,
    )
}

fn browser_of(req: &HttpRequest) -> Browser {
    Browser::from_user_agent(req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""))
}

#[get("/orders/{order_no}/pay")]
async fn pay_page(
    ctx: PageContext,
    req: HttpRequest,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = after_return(&state, buyers_order(&ctx, &state, &order_no).await?).await?;
    if order.status != OrderStatus::Pending || order.expires_at <= now() {
        return Ok(redirect(&format!("/orders/{}", order.order_no)));
    }
    pay_page_for(ctx, &req, &state, order, None, FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PayForm {
    channel: String,
}

#[tracing::instrument(skip_all, fields(order_no = %order_no))]
#[post("/orders/{order_no}/pay")]
async fn start_payment(
    ctx: PageContext,
    req: HttpRequest,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<PayForm>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    if order.status != OrderStatus::Pending || order.expires_at <= now() {
        return Ok(redirect(&format!("/orders/{}", order.order_no)));
    }
    accept_purchase_agreement(&state, &order, &client_ip(&req, state.settings.trust_forwarded)).await?;
    if order.amount.is_free() {
        // A coupon took the whole price: nothing to collect, so the order completes here.
        let notice = PaidNotice {
            order_no: order.order_no.clone(),
            txn_id: format!("free-{}", order.order_no),
            amount: order.amount,
            currency: "CNY".into(),
            paid_at: now(),
        };
        if let PaymentOutcome::Applied { course_id } =
            orders::apply_payment(&state.db, "free", &notice, None, now()).await?
        {
            state.catalog.count_sale(course_id);
        }
        return Ok(redirect(&format!("/orders/{}/done", order.order_no)));
    }
    let offered = state.providers.channels();
    let Some((channel, provider)) =
        Channel::parse(&form.channel).and_then(|c| offered.into_iter().find(|(o, _)| *o == c))
    else {
        let mut errors = FieldErrors::default();
        errors.add("channel", ctx.t("err_channel"));
        return pay_page_for(ctx, &req, &state, order, None, errors, StatusCode::BAD_REQUEST).await;
    };
    // A payment already started with another provider keeps its amount and provider.
    if order.pay_provider.as_deref().is_some_and(|p| p != provider.name()) {
        let mut errors = FieldErrors::default();
        errors.add("channel", ctx.t("err_channel_started"));
        return pay_page_for(ctx, &req, &state, order, None, errors, StatusCode::CONFLICT).await;
    }
    let openid = ctx.typed_session().wechat_openid();
    if channel == Channel::WechatJsapi
        && openid.is_none()
        && let Some(wechat) = &state.wechat
    {
        // First the payer's openid, from the official account's silent OAuth; then pay again.
        let token = ctx.typed_session().start_wechat_oauth(&order.order_no)?;
        let callback = format!("{}/pay/wechat/oauth", state.settings.public_url);
        return Ok(redirect(&wechat.authorize_url(&callback, &token)));
    }
    orders::start_payment(&state.db, order.id, provider.name(), channel, now()).await?;
    // A referred buyer's WeChat payment holds the distributor's share for profit sharing.
    let profit_sharing = provider.name() == "wechatpay"
        && crate::store::commissions::held_for_sharing(&state.db, &order, &state.shop.get().distribution, now())
            .await?;
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let request = PayRequest {
        profit_sharing,
        order_no: &order.order_no,
        amount: order.amount,
        description: &order.item_title,
        client_ip: &ip,
        openid: openid.as_deref(),
        return_url: format!("{}/orders/{}/return", state.settings.public_url, order.order_no),
    };
    let action = match provider.create(&request, channel).await {
        Ok(action) => action,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), provider = provider.name(), "creating the payment failed");
            // The buyer never got a way to pay this attempt: close it at the gateway (in case it
            // exists there) and let the order be paid another way, as the page suggests.
            if let Err(e) = provider.close(&order.order_no).await {
                tracing::warn!(order_no = %order.order_no, error = format!("{e:#}"), "closing the failed attempt failed");
            }
            orders::abandon_payment(&state.db, order.id, provider.name()).await?;
            let mut errors = FieldErrors::default();
            errors.add("channel", ctx.t("err_pay_failed"));
            return pay_page_for(ctx, &req, &state, order, None, errors, StatusCode::BAD_GATEWAY).await;
        }
    };
    let meta = ctx.meta(&format!("{} - {}", ctx.t("pay_title"), ctx.shop_name()), &order.item_title);
    match action {
        PayAction::Redirect(url) => Ok(redirect(&url)),
        PayAction::QrCode(code_url) => {
            let qr_data_uri = qr_svg_data_uri(&code_url)?;
            render(&QrPage { ctx: &ctx, meta, view: OrderView::new(order), qr_data_uri })
        }
        PayAction::JsApi(params) => render(&JsapiPage { ctx: &ctx, meta, view: OrderView::new(order), params }),
    }
}

/// The QR code as an `<img>` source, so no markup is ever inserted unescaped.
pub(crate) fn qr_svg_data_uri(text: &str) -> Result<String, AppError> {
    use base64::Engine;
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(220, 220).quiet_zone(true).build();
    Ok(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
}

#[derive(Template)]
#[template(path = "orders/qr.html")]
struct QrPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: OrderView,
    qr_data_uri: String,
}

#[derive(Template)]
#[template(path = "orders/jsapi.html")]
struct JsapiPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: OrderView,
    params: JsapiParams,
}

/// The order's status as JSON, for the QR page to poll.
#[get("/orders/{order_no}/status")]
async fn order_status(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user = ctx.user.as_ref().ok_or(AppError::NotFound)?;
    let order = after_return(&state, own_order(&state, &order_no, user).await?).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "status": OrderView::new(order).status() })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CouponForm {
    code: String,
    action: String,
}

#[post("/orders/{order_no}/coupon")]
async fn coupon(
    ctx: PageContext,
    req: HttpRequest,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CouponForm>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    if order.status != OrderStatus::Pending {
        return Ok(redirect(&format!("/orders/{}", order.order_no)));
    }
    let now = now();
    let mut errors = FieldErrors::default();
    if order.pay_provider.is_some() {
        errors.add("code", ctx.t("coupon_locked"));
        return pay_page_for(ctx, &req, &state, order, Some(form.code), errors, StatusCode::CONFLICT).await;
    }
    if form.action == "remove" {
        orders::detach_coupon(&state.db, &order, now).await?;
        return Ok(redirect(&format!("/orders/{}/pay", order.order_no)));
    }
    let code = form.code.trim().to_uppercase();
    if code.is_empty() || code.chars().count() > 32 {
        errors.add("code", ctx.t(if code.is_empty() { "coupon_empty" } else { "coupon_unknown" }));
        let shown = form.code.chars().take(32).collect();
        return pay_page_for(ctx, &req, &state, order, Some(shown), errors, StatusCode::BAD_REQUEST).await;
    }
    let message = match attach_code(&state, &order, &code, now).await? {
        Ok(()) => {
            ctx.typed_session().forget_coupon();
            return Ok(redirect(&format!("/orders/{}/pay", order.order_no)));
        }
        Err(CodeRefused::Unknown) => ctx.t("coupon_unknown").to_string(),
        Err(CodeRefused::Rule(CouponError::BelowMinimum(min))) => {
            ctx.tf("coupon_below_minimum", &[("min", &min.to_string())])
        }
        Err(CodeRefused::Rule(other)) => ctx.t(other.message_key()).to_string(),
        Err(CodeRefused::Locked) => ctx.t("coupon_locked").to_string(),
    };
    errors.add("code", message);
    pay_page_for(ctx, &req, &state, order, Some(code), errors, StatusCode::BAD_REQUEST).await
}

/// Why a code did not go on an order.
enum CodeRefused {
    Unknown,
    Rule(CouponError),
    /// The payment has started: the amount is fixed.
    Locked,
}

/// Puts the coupon with this code (in capitals) on a pending order, if its rules allow.
async fn attach_code(
    state: &AppState,
    order: &Order,
    code: &str,
    now: i64,
) -> Result<Result<(), CodeRefused>, AppError> {
    let Some(found) = coupons::find_by_code(&state.db, code).await? else { return Ok(Err(CodeRefused::Unknown)) };
    let check = |usage| apply_coupon(order.price, order.course_id, &found.rule, usage, now);
    Ok(match orders::attach_coupon(&state.db, order, found.id, now, check).await? {
        Attached::Done(_) => Ok(()),
        Attached::Refused(e) => Err(CodeRefused::Rule(e)),
        Attached::Locked => Err(CodeRefused::Locked),
    })
}

#[tracing::instrument(skip_all, fields(order_no = %order_no))]
#[post("/orders/{order_no}/cancel")]
async fn cancel(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    if let Some(provider) = order.pay_provider.as_deref().and_then(|p| state.providers.get(p)) {
        // Close at the gateway first, so the buyer cannot pay a cancelled order.
        if let Err(e) = provider.close(&order.order_no).await {
            tracing::warn!(error = format!("{e:#}"), "closing the payment at the provider failed");
        }
    }
    if orders::close(&state.db, order.id, "cancelled", now()).await? {
        tracing::info!(order_no = %order.order_no, "order cancelled by the buyer");
    }
    Ok(redirect(&format!("/orders/{}", order.order_no)))
}

#[derive(Template)]
#[template(path = "orders/return.html")]
struct ReturnPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: OrderView,
}

/// Where the buyer lands after paying. The browser's word is never taken: the page waits for the
/// server to see the payment, refreshing itself every two seconds.
#[get("/orders/{order_no}/return")]
async fn return_page(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = after_return(&state, buyers_order(&ctx, &state, &order_no).await?).await?;
    if order.status != OrderStatus::Pending {
        return Ok(redirect(&format!("/orders/{}/done", order.order_no)));
    }
    let meta = ctx.meta(&format!("{} - {}", ctx.t("confirming_title"), ctx.shop_name()), &order.item_title);
    render(&ReturnPage { ctx: &ctx, meta, view: OrderView::new(order) })
}

/// Where 开始学习 / 去学习 goes for an order's buyer, and the lesson it opens: the next lesson of
/// the course, or the 会员专区 for a membership (or a course no longer in the catalog).
async fn where_to_learn(
    state: &AppState,
    course: Option<&std::sync::Arc<Course>>,
    user_id: crate::domain::UserId,
) -> Result<(String, Option<crate::catalog::Lesson>), AppError> {
    match course.filter(|c| c.kind.delivery() != Delivery::MemberTerm) {
        Some(course) => {
            let progress = state.progress.course_progress(&state.db, user_id, course.id).await?;
            let first = crate::routes::learn::continue_with(course, &progress);
            Ok((crate::routes::courses::continue_href(course, &progress), first))
        }
        None => Ok(("/me/courses#member".to_string(), None)),
    }
}

#[derive(Template)]
#[template(path = "orders/done.html")]
struct DonePage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: OrderView,
    learn_href: String,
    /// The lesson 去学习 opens, when it is a lesson.
    first: Option<crate::catalog::Lesson>,
}

/// 支付成功: where paying ends, with 去学习 and the lesson it opens. An order that is not paid
/// (still confirming, closed, refunded) goes where it belongs; a group seat to its group, a
/// consultation to its booking.
#[get("/orders/{order_no}/done")]
async fn done_page(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    match (order.status, order.group_id) {
        (OrderStatus::Pending, _) if order.expires_at <= now() => {
            return Ok(redirect(&format!("/orders/{}", order.order_no)));
        }
        (OrderStatus::Pending, _) => return Ok(redirect(&format!("/orders/{}/return", order.order_no))),
        (OrderStatus::Paid, Some(group)) => return Ok(redirect(&format!("/groups/{group}"))),
        // A gift's next step is sending its links, which its order page lists.
        (OrderStatus::Paid, None) if order.gift_copies > 0 => {
            return Ok(redirect(&format!("/orders/{}#gift-links", order.order_no)));
        }
        (OrderStatus::Paid, None) => {}
        _ => return Ok(redirect(&format!("/orders/{}", order.order_no))),
    }
    let course = state.catalog.snapshot().course_by_id(order.course_id).cloned();
    let (learn_href, first) = match order.item_kind.delivery() {
        Delivery::Session => (format!("/orders/{}#booking", order.order_no), None),
        // A bundle's courses are each learned from 我的课程.
        Delivery::Courses => ("/me/courses".to_string(), None),
        Delivery::Lessons | Delivery::MemberTerm => where_to_learn(&state, course.as_ref(), order.user_id).await?,
    };
    let title = if order.amount.is_free() { ctx.t("done_claimed") } else { ctx.t("done_paid") };
    let meta = ctx.meta(&format!("{title} - {}", ctx.shop_name()), &order.item_title);
    render(&DonePage { ctx: &ctx, meta, view: OrderView::new(order), learn_href, first })
}
