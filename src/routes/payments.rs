//! Provider-facing endpoints: notifications, and the sandbox cashier that plays a gateway.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::orders::OrderView;
use crate::domain::numbers::OrderNo;
use crate::domain::order::OrderStatus;
use crate::domain::time::now;
use crate::error::AppError;
use crate::services::fulfilment::{self, Answer};
use crate::store::orders::{self, Order};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render};

/// Notifications are small; anything bigger is not from a gateway.
const NOTIFY_LIMIT_BYTES: usize = 64 * 1024;
/// Refused notifications one address may send in ten minutes before it is not heard: a gateway's
/// are verified and never refused, so only junk meets this.
pub const REFUSED_NOTIFICATIONS: crate::domain::rate::Limit = crate::domain::rate::Limit::new(30, 10 * 60);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(notification).service(cashier).service(cashier_action);
}

#[post("/pay/notify/{provider}")]
async fn notification(
    provider: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let provider = state.providers.get(&provider).cloned().ok_or(AppError::NotFound)?;
    let ip = crate::web::client_ip(&req, state.settings.trust_forwarded);
    if let Some(secs) = state.notify_rejections.retry_after(&ip, now()) {
        return Err(AppError::RateLimited(secs));
    }
    if body.len() > NOTIFY_LIMIT_BYTES {
        state.notify_rejections.refused(&ip, now());
        return Err(AppError::BadRequest);
    }
    let answer =
        fulfilment::handle(&state.fulfilment(), provider.as_ref(), &notice_headers(req.headers()), &body).await;
    if matches!(answer, Answer::Refuse(_)) {
        state.notify_rejections.refused(&ip, now());
    }
    Ok(match answer {
        Answer::Acknowledge => provider.acknowledge(),
        Answer::Refuse(e) => provider.refuse(&e),
        // Not recorded as handled: the provider will send it again.
        Answer::TryAgain => {
            HttpResponse::InternalServerError().json(serde_json::json!({ "code": "FAIL", "message": "try again" }))
        }
    })
}

/// A notification's headers as the payment adapters read them (the `http` crate's, which their
/// HTTP client speaks too).
fn notice_headers(from: &actix_web::http::header::HeaderMap) -> reqwest::header::HeaderMap {
    let mut to = reqwest::header::HeaderMap::new();
    for (name, value) in from {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            to.append(name, value);
        }
    }
    to
}

#[derive(Template)]
#[template(path = "pay/sandbox.html")]
struct CashierPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: OrderView,
}

/// The sandbox cashier serves only the buyer of the order, and only while it is pending.
async fn cashier_order(ctx: &PageContext, state: &AppState, order_no: &OrderNo) -> Result<Option<Order>, AppError> {
    let (Some(user), Some(_)) = (&ctx.user, &state.sandbox) else { return Err(AppError::NotFound) };
    let order = orders::find_for_user(&state.db, order_no, user.id).await?.ok_or(AppError::NotFound)?;
    Ok((order.status == OrderStatus::Pending && order.pay_provider.as_deref() == Some("sandbox")).then_some(order))
}

#[get("/pay/sandbox/{order_no}")]
async fn cashier(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if ctx.user.is_none() {
        return Ok(redirect(&ctx.login_href()));
    }
    let Some(order) = cashier_order(&ctx, &state, &order_no).await? else {
        return Ok(redirect(&format!("/orders/{order_no}")));
    };
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("channel_sandbox"), ctx.shop_name()), &order.item_title);
    render(&CashierPage { ctx: &ctx, meta, view: OrderView::new(order) })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CashierForm {
    action: String,
}

#[tracing::instrument(skip_all, fields(order_no = %order_no))]
#[post("/pay/sandbox/{order_no}")]
async fn cashier_action(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CashierForm>,
) -> Result<HttpResponse, AppError> {
    let Some(order) = cashier_order(&ctx, &state, &order_no).await? else {
        return Ok(redirect(&format!("/orders/{order_no}")));
    };
    let (Some(sandbox), Some(provider)) = (&state.sandbox, state.providers.get(crate::pay::sandbox::NAME)) else {
        return Err(AppError::NotFound);
    };
    match form.action.as_str() {
        // 确认支付: the gateway takes the money and notifies the shop, as a real one does.
        // "lost" takes the money but drops the notification, to show reconciliation at work.
        "confirm" | "confirm_lost" => {
            let Some(signed) = sandbox.pay(&order.order_no, now()).await? else {
                return Ok(redirect(&format!("/orders/{}", order.order_no)));
            };
            if form.action == "confirm" {
                let mut headers = reqwest::header::HeaderMap::new();
                for (name, value) in &signed.headers {
                    if let (Ok(n), Ok(v)) = (name.parse::<reqwest::header::HeaderName>(), value.parse()) {
                        headers.insert(n, v);
                    }
                }
                fulfilment::handle(&state.fulfilment(), provider.as_ref(), &headers, signed.body.as_bytes()).await;
            }
            Ok(redirect(&format!("/orders/{}/return", order.order_no)))
        }
        // 取消: the buyer leaves the cashier; the order stays payable until it expires.
        _ => Ok(redirect(&format!("/orders/{}", order.order_no))),
    }
}
