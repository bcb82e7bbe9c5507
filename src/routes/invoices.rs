//! 发票, the buyer's side: on a paid order, ask for an invoice (personal or company title, email);
//! follow its state; download the PDF once staff attach it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::forms::FieldErrors;
use super::orders::buyers_order;
use crate::domain::Fen;
use crate::domain::invoice::{InvoiceStatus, RawInvoice, invoice_amount, parse_request};
use crate::domain::numbers::OrderNo;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::store::attachments::Attachment;
use crate::store::invoices::{self, Invoice};
use crate::store::orders::Order;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(invoice_page).service(request).service(withdraw).service(invoice_file);
}

/// What an invoice for this order can be for; zero when there is none to ask for: not paid,
/// refunded in full, free, or paid elsewhere (a redeem code's money was taken by its seller).
pub fn invoiceable(order: &Order) -> Fen {
    let paid_here = !matches!(order.pay_provider.as_deref(), Some("free") | Some(crate::store::redeem::PROVIDER));
    if !order.status.grants_access() || !paid_here {
        return Fen::ZERO;
    }
    invoice_amount(order.amount, order.refunded)
}

#[derive(Template)]
#[template(path = "orders/invoice.html")]
struct InvoicePage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    order: Order,
    amount: Fen,
    invoice: Option<Invoice>,
    issued_at: String,
    form: RawInvoice,
    errors: FieldErrors,
}

fn render(
    ctx: PageContext,
    order: Order,
    invoice: Option<Invoice>,
    form: RawInvoice,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("invoice_title"), ctx.shop_name()), &order.item_title);
    let amount = invoiceable(&order);
    let issued_at = invoice.as_ref().and_then(|i| i.issued_at).map(shanghai_minutes).unwrap_or_default();
    render_with_status(&InvoicePage { ctx: &ctx, meta, order, amount, invoice, issued_at, form, errors }, status)
}

#[get("/orders/{order_no}/invoice")]
async fn invoice_page(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    let invoice = invoices::for_order(&state.db, order.id).await?;
    if invoice.is_none() && invoiceable(&order).is_free() {
        return Ok(redirect(&format!("/orders/{}", order.order_no)));
    }
    // A request not issued yet can still be corrected: its form starts from what was asked.
    let form = match &invoice {
        Some(i) => RawInvoice {
            title_kind: i.title_kind.as_str().into(),
            title: i.title.clone(),
            tax_number: i.tax_number.clone(),
            email: i.email.clone(),
        },
        None => RawInvoice { title_kind: "personal".into(), ..RawInvoice::default() },
    };
    render(ctx, order, invoice, form, FieldErrors::default(), StatusCode::OK)
}

#[post("/orders/{order_no}/invoice")]
async fn request(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RawInvoice>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    let back = format!("/orders/{}/invoice", order.order_no);
    let asked = invoices::for_order(&state.db, order.id).await?;
    if asked.as_ref().is_some_and(|i| i.status != InvoiceStatus::Requested) {
        // Issued: what it says is in the tax system now; support staff reissue it.
        return Ok(redirect(&back));
    }
    let amount = invoiceable(&order);
    if asked.is_none() && amount.is_free() {
        return Ok(redirect(&format!("/orders/{}", order.order_no)));
    }
    let input = match parse_request(&form) {
        Ok(input) => input,
        Err(found) => {
            let mut errors = FieldErrors::default();
            for (field, key) in found {
                errors.add(field, ctx.t(key));
            }
            return render(ctx, order, asked, form, errors, StatusCode::BAD_REQUEST);
        }
    };
    // Either way the page then shows what is stored: a request issued meanwhile stays as issued,
    // and a second tab's request finds the first one's.
    match asked {
        Some(i) => {
            invoices::correct(&state.db, i.id, &input, now()).await?;
        }
        None => {
            invoices::create(&state.db, order.id, order.user_id, &input, amount, now()).await?;
        }
    }
    Ok(redirect(&back))
}

/// The invoice's PDF: to its buyer, and to staff who handle orders.
/// 撤回申请: a request staff have not issued is taken back; an issued one stays (staff reissue).
#[post("/orders/{order_no}/invoice/withdraw")]
async fn withdraw(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    if let Some(i) = invoices::for_order(&state.db, order.id).await?
        && invoices::withdraw(&state.db, i.id, order.user_id).await?
    {
        tracing::info!(order_no = %order.order_no, invoice = %i.id, "invoice request withdrawn");
    }
    Ok(redirect(&format!("/orders/{}/invoice", order.order_no)))
}

#[get("/orders/{order_no}/invoice/file")]
async fn invoice_file(
    ctx: PageContext,
    req: HttpRequest,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    let invoice = invoices::for_order(&state.db, order.id).await?.ok_or(AppError::NotFound)?;
    download(&req, &state, &invoice).await
}

/// Sends an issued invoice's PDF (the caller has checked who asks).
pub(crate) async fn download(req: &HttpRequest, state: &AppState, invoice: &Invoice) -> Result<HttpResponse, AppError> {
    let (Some(key), Some(name), Some(size)) = (&invoice.file_key, &invoice.file_name, invoice.file_size) else {
        return Err(AppError::NotFound);
    };
    let file = Attachment {
        id: crate::domain::AttachmentId(0),
        user_id: invoice.user_id,
        storage_key: key.clone(),
        content_type: "application/pdf".into(),
        size_bytes: size,
        file_name: name.clone(),
    };
    crate::web::uploads::download(req, state.uploads.as_ref(), &file).await
}
