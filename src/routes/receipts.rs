//! Receipts that survive any channel: the buyer's printable receipt of a paid order (a page and a
//! PNG to keep), each with a QR code of a public verify page that confirms it is genuine. The
//! verify page shows only what the receipt already states, with the buyer masked.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::domain::numbers::OrderNo;
use crate::domain::receipt::{self, Stated};
use crate::domain::time::shanghai_minutes;
use crate::error::AppError;
use crate::store::orders::{self, Order};
use crate::web::{AppState, Meta, PageContext, render, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(receipt_png).service(receipt_page).service(verify);
}

/// What a receipt states, in the reader's words.
pub struct Receipt {
    pub order_no: String,
    pub title: String,
    pub amount: String,
    pub paid_at: String,
    pub buyer: String,
    pub txn: Option<String>,
    /// Refunded so far, when anything was.
    pub refunded: Option<String>,
    pub verify_url: String,
}

async fn receipt_of(state: &AppState, ctx: &PageContext, order: &Order) -> Result<Option<Receipt>, AppError> {
    let Some(paid_at) = order.paid_at else { return Ok(None) };
    let stated = Stated { order_no: &order.order_no, buyer_id: order.user_id.0, amount_fen: order.amount.0, paid_at };
    let code = receipt::code(&state.receipt_key, &stated);
    let buyer = match crate::store::users::find_by_id(&state.db, order.user_id).await? {
        Some(user) if user.phone.is_number() => user.phone.masked(),
        _ => ctx.t("receipt_buyer_wechat").to_string(),
    };
    Ok(Some(Receipt {
        order_no: order.order_no.clone(),
        title: order.item_title.clone(),
        amount: order.amount.to_string(),
        paid_at: shanghai_minutes(paid_at),
        buyer,
        txn: order.provider_txn_id.clone(),
        refunded: (!order.refunded.is_free()).then(|| order.refunded.to_string()),
        verify_url: format!("{}/receipts/{}/{code}", state.settings.public_url, order.order_no),
    }))
}

/// The buyer's own paid order's receipt; anything else is a 404 like a missing order.
async fn own_receipt(ctx: &PageContext, state: &AppState, order_no: &OrderNo) -> Result<Receipt, AppError> {
    let order = super::orders::buyers_order(ctx, state, order_no).await?;
    receipt_of(state, ctx, &order).await?.ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "orders/receipt.html")]
struct ReceiptPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    receipt: Receipt,
    qr: String,
}

#[get("/orders/{order_no}/receipt")]
async fn receipt_page(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let receipt = own_receipt(&ctx, &state, &order_no).await?;
    let qr = super::orders::qr_svg_data_uri(&receipt.verify_url)?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("receipt_title"), ctx.shop_name()), &receipt.title);
    render(&ReceiptPage { ctx: &ctx, meta, receipt, qr })
}

/// The same receipt as a picture, to keep in the phone's album.
#[get("/orders/{order_no}/receipt.png")]
async fn receipt_png(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let receipt = own_receipt(&ctx, &state, &order_no).await?;
    let lines = crate::media::receipt_image::Lines {
        shop_name: ctx.shop_name().to_string(),
        heading: ctx.t("receipt_title").to_string(),
        rows: receipt_rows(&ctx, &receipt),
        verify_hint: ctx.t("receipt_verify_hint").to_string(),
        verify_url: receipt.verify_url.clone(),
    };
    let png = web::block(move || crate::media::receipt_image::draw(&lines))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("receipt image: {e}")))?
        .map_err(AppError::Internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/png"))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .insert_header((CONTENT_DISPOSITION, format!("inline; filename=\"receipt-{}.png\"", receipt.order_no)))
        .body(png))
}

fn receipt_rows(ctx: &PageContext, receipt: &Receipt) -> Vec<(String, String)> {
    let mut rows = vec![
        (ctx.t("receipt_item").to_string(), receipt.title.clone()),
        (ctx.t("receipt_amount").to_string(), receipt.amount.clone()),
        (ctx.t("order_paid_at").to_string(), format!("{} {}", receipt.paid_at, ctx.t("beijing_time_note"))),
        (ctx.t("order_no").to_string(), receipt.order_no.clone()),
    ];
    if let Some(txn) = &receipt.txn {
        rows.push((ctx.t("order_txn").to_string(), txn.clone()));
    }
    rows.push((ctx.t("receipt_buyer").to_string(), receipt.buyer.clone()));
    if let Some(refunded) = &receipt.refunded {
        rows.push((ctx.t("receipt_refunded").to_string(), refunded.clone()));
    }
    rows
}

#[derive(Template)]
#[template(path = "orders/receipt_verify.html")]
struct VerifyPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    /// None: not a receipt this shop issued, or one altered since.
    receipt: Option<Receipt>,
}

/// Public: confirms a receipt by its code. A forged code and an unknown order look the same.
#[get("/receipts/{order_no}/{code}")]
async fn verify(
    ctx: PageContext,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (order_no, code) = path.into_inner();
    let order = match OrderNo::parse(&order_no) {
        Some(no) => orders::find(&state.db, no.as_str()).await?,
        None => None,
    };
    let genuine = order.filter(|o| {
        o.paid_at.is_some_and(|paid_at| {
            let stated = Stated { order_no: &o.order_no, buyer_id: o.user_id.0, amount_fen: o.amount.0, paid_at };
            receipt::genuine(&state.receipt_key, &stated, &code)
        })
    });
    let receipt = match &genuine {
        Some(order) => receipt_of(&state, &ctx, order).await?,
        None => None,
    };
    let meta =
        ctx.meta(&format!("{} - {}", ctx.t("receipt_verify_title"), ctx.shop_name()), ctx.t("receipt_verify_title"));
    let status = if receipt.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    render_with_status(&VerifyPage { ctx: &ctx, meta, receipt }, status)
}
