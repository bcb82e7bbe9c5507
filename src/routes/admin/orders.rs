//! Orders for support staff: search by number, phone, course, status and dates (with a CSV
//! export); an order's page with its payments, notifications and refunds; manual close and
//! manual refund, both audited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::Fen;
use crate::domain::numbers::OrderNo;
use crate::domain::order::OrderStatus;
use crate::domain::time::{now, shanghai_day_start, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::order_search::{self, Notification, OrderQuery, Payment};
use crate::store::orders::{self, Order};
use crate::store::refunds::{self, Approval, Approved, Created, NewRefund, Refund};
use crate::store::users::{self, User};
use crate::web::csv::Csv;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

const SEARCH_LIMIT: i64 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(search).service(detail).service(close).service(refund);
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    pub q: String,
    pub course: String,
    pub status: String,
    pub from: String,
    pub to: String,
    pub format: String,
}

impl SearchQuery {
    fn to_query(&self, state: &AppState) -> OrderQuery {
        let catalog = state.catalog.snapshot();
        OrderQuery {
            text: self.q.trim().to_string(),
            course_id: catalog.all_courses().into_iter().find(|c| c.slug == self.course).map(|c| c.id),
            status: OrderStatus::parse(&self.status),
            from: shanghai_day_start(&self.from),
            until: shanghai_day_start(&self.to).map(|t| t + 86_400),
        }
    }

    /// This search as a query string with `format=csv`.
    pub fn csv_href(&self) -> String {
        let query = serde_urlencoded::to_string([
            ("q", self.q.as_str()),
            ("course", self.course.as_str()),
            ("status", self.status.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("format", "csv"),
        ])
        .unwrap_or_default();
        format!("/admin/orders?{query}")
    }
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct SearchPage {
    ctx: PageContext,
    meta: Meta,
    q: SearchQuery,
    courses: Vec<(String, String)>,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<(Order, String, String)>,
}

#[get("/admin/orders")]
async fn search(
    Staff(ctx, _, _): Staff<area::Orders>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: SearchQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let found = order_search::search(&state.db, &q.to_query(&state), SEARCH_LIMIT).await?;
    if q.format == "csv" {
        let mut csv = Csv::new(&[
            "order_no",
            "phone",
            "item",
            "status",
            "amount_yuan",
            "refunded_yuan",
            "created_at",
            "paid_at",
            "provider",
            "txn_id",
        ]);
        for (o, phone) in &found {
            csv.row(&[
                &o.order_no,
                phone,
                &o.item_title,
                o.status.as_str(),
                &o.amount.yuan_string(),
                &o.refunded.yuan_string(),
                &shanghai_minutes(o.created_at),
                &o.paid_at.map(shanghai_minutes).unwrap_or_default(),
                o.pay_provider.as_deref().unwrap_or(""),
                o.provider_txn_id.as_deref().unwrap_or(""),
            ]);
        }
        return Ok(csv.response("orders.csv"));
    }
    let rows = found
        .into_iter()
        .map(|(o, phone)| {
            let at = shanghai_minutes(o.created_at);
            (o, phone, at)
        })
        .collect();
    let catalog = state.catalog.snapshot();
    let courses = catalog.all_courses().into_iter().map(|c| (c.slug.clone(), c.title.clone())).collect();
    let statuses = OrderStatus::ALL.iter().map(|s| (s.as_str(), ctx.t(s.label_key()))).collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_orders"), ctx.shop_name()), "");
    render_with_status(&SearchPage { ctx, meta, q, courses, statuses, rows }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct DetailPage {
    ctx: PageContext,
    meta: Meta,
    order: Order,
    buyer: Option<User>,
    payments: Vec<(Payment, String)>,
    notifications: Vec<(Notification, String)>,
    refunds: Vec<Refund>,
    open_refund: Option<String>,
    left: Fen,
    created: String,
    paid: String,
    closed: String,
    inputs: Inputs,
    /// An issued 发票 on the order: a refund means reversing it (红冲).
    invoice_issued: Option<Fen>,
    /// The purchase agreement the buyer accepted by paying: (version, title, when).
    agreement: Option<(i64, String, String)>,
    /// A gift's copies: (number, who claimed it, when claimed or taken back).
    gift_copies: Vec<(i64, String, String)>,
    errors: FieldErrors,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Inputs {
    amount: String,
    reason: String,
}

async fn detail_page(
    ctx: PageContext,
    state: &AppState,
    order: Order,
    inputs: Inputs,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let buyer = users::find_by_id(&state.db, order.user_id).await?;
    let payments = order_search::payments_for(&state.db, order.id).await?.into_iter().map(|p| {
        let at = shanghai_minutes(p.paid_at);
        (p, at)
    });
    let notifications = order_search::notifications_for(&state.db, &order.order_no, 50).await?.into_iter().map(|n| {
        let at = shanghai_minutes(n.received_at);
        (n, at)
    });
    let meta = ctx.meta(&format!("{} {} - {}", ctx.t("admin_order"), order.order_no, ctx.shop_name()), "");
    let page = DetailPage {
        meta,
        buyer,
        payments: payments.collect(),
        notifications: notifications.collect(),
        refunds: refunds::for_order(&state.db, order.id).await?,
        open_refund: refunds::open_for_order(&state.db, order.id).await?,
        left: order.left_to_refund(),
        created: shanghai_minutes(order.created_at),
        paid: order.paid_at.map(shanghai_minutes).unwrap_or_default(),
        closed: order.closed_at.map(shanghai_minutes).unwrap_or_default(),
        invoice_issued: crate::store::invoices::issued_amount(&state.db, order.id).await?,
        agreement: crate::store::agreements::for_order(&state.db, order.id)
            .await?
            .map(|(version, title, at)| (version, title, shanghai_minutes(at))),
        gift_copies: crate::store::gifts::copies(&state.db, order.id)
            .await?
            .into_iter()
            .map(|c| {
                let at = c.claimed_at.or(c.withdrawn_at).map(shanghai_minutes).unwrap_or_default();
                (c.seq + 1, c.claimer.unwrap_or_default(), at)
            })
            .collect(),
        order,
        inputs,
        errors,
        ctx,
    };
    render_with_status(&page, status)
}

async fn find_order(state: &AppState, no: &OrderNo) -> Result<Order, AppError> {
    orders::find(&state.db, no).await?.ok_or(AppError::NotFound)
}

#[get("/admin/orders/{no}")]
async fn detail(
    Staff(ctx, _, _): Staff<area::Orders>,
    no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = find_order(&state, &no).await?;
    detail_page(ctx, &state, order, Inputs::default(), FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CloseForm {
    reason: String,
}

/// A required reason of at most 200 characters.
fn reason_of(ctx: &PageContext, errors: &mut FieldErrors, text: &str) -> String {
    let reason = text.trim().to_string();
    match reason.chars().count() {
        0 => errors.add("reason", ctx.t("err_reason_required")),
        n if n > 200 => errors.add("reason", ctx.tf("err_text_long", &[("n", "200")])),
        _ => {}
    }
    reason
}

#[post("/admin/orders/{no}/close")]
async fn close(
    Staff(ctx, staff, _): Staff<area::Orders>,
    req: HttpRequest,
    no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CloseForm>,
) -> Result<HttpResponse, AppError> {
    let order = find_order(&state, &no).await?;
    let mut errors = FieldErrors::default();
    let reason = reason_of(&ctx, &mut errors, &form.reason);
    if order.status != OrderStatus::Pending {
        errors.add("reason", ctx.t("err_order_not_pending"));
    }
    if !errors.is_empty() {
        let status = if order.status == OrderStatus::Pending { StatusCode::BAD_REQUEST } else { StatusCode::CONFLICT };
        return detail_page(ctx, &state, order, Inputs { amount: String::new(), reason }, errors, status).await;
    }
    if orders::close(&state.db, order.id, "staff", now()).await? {
        let change = Change {
            action: "order.close",
            target_type: "order",
            target_id: order.order_no.clone(),
            before: serde_json::json!({ "status": order.status.as_str() }),
            after: serde_json::json!({ "status": "closed", "close_reason": "staff" }),
            note: &reason,
        };
        audit(&state, &req, &staff, change).await?;
    }
    Ok(redirect(&format!("/admin/orders/{}", order.order_no)))
}

#[post("/admin/orders/{no}/refund")]
async fn refund(
    Staff(ctx, staff, _): Staff<area::Orders>,
    req: HttpRequest,
    no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<Inputs>,
) -> Result<HttpResponse, AppError> {
    let order = find_order(&state, &no).await?;
    let mut errors = FieldErrors::default();
    let reason = reason_of(&ctx, &mut errors, &form.reason);
    let left = order.left_to_refund();
    let amount = Fen::parse_yuan(form.amount.trim());
    match amount {
        None => errors.add("amount", ctx.t("err_amount_format")),
        Some(a) if a.0 <= 0 || a > left => {
            errors.add("amount", ctx.tf("err_refund_amount_range", &[("max", &left.to_string())]))
        }
        Some(_) => {}
    }
    let open = refunds::open_for_order(&state.db, order.id).await?;
    if !order.is_refundable() || open.is_some() || order.pay_provider.is_none() {
        errors.add("amount", ctx.t("err_order_not_refundable"));
    }
    let (Some(amount), Some(provider), true) = (amount, order.pay_provider.clone(), errors.is_empty()) else {
        let status =
            if open.is_some() || !order.is_refundable() { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST };
        let inputs = Inputs { amount: form.amount.trim().to_string(), reason };
        return detail_page(ctx, &state, order, inputs, errors, status).await;
    };
    let (decision, pct) = state.assess_refund(&order).await?;
    let new = NewRefund {
        order_id: order.id,
        user_id: order.user_id,
        reason_code: "other",
        reason_text: &reason,
        decision: &decision,
        consumed_pct: pct,
        submitted_by: "staff",
    };
    let at = now();
    let Created::New(id, refund_no, _) = refunds::create(&state.db, &new, &[], at).await? else {
        // A learner's request landed a moment ago: staff decide on that one instead.
        return Ok(redirect(&format!("/admin/orders/{}", order.order_no)));
    };
    let approval = Approval { amount, note: &reason, staff_id: Some(staff.id), provider: &provider };
    if state.refunder.approve_and_send(id, &approval, at).await? == Approved::Yes {
        let change = Change {
            action: "order.refund",
            target_type: "order",
            target_id: order.order_no.clone(),
            before: serde_json::json!({ "status": order.status.as_str(), "refunded_fen": order.refunded.0 }),
            after: serde_json::json!({ "refund_no": refund_no, "amount_fen": amount.0 }),
            note: &reason,
        };
        audit(&state, &req, &staff, change).await?;
    }
    Ok(redirect(&format!("/admin/orders/{}", order.order_no)))
}
