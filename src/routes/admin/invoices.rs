//! 发票 requests, for staff who handle orders: the queue (waiting oldest first), each request with
//! its order, issuing it (the PDF from the tax system and/or the 数电票 number, and the buyer is
//! told), the reversal (红冲) warning once the order is refunded, and a CSV for the accountant.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::InvoiceId;
use crate::domain::invoice::{InvoiceStatus, number_ok};
use crate::domain::phone::Phone;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::upload::INVOICE_PDF;
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::invoices::{self, Invoice, Issued};
use crate::web::csv::Csv;
use crate::web::uploads;
use crate::web::{AppState, Meta, PageContext, redirect, render_with_status};

const LIST_LIMIT: i64 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(export).service(detail).service(issue).service(replace).service(invoice_file);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    /// requested (the default), issued or all.
    status: String,
}

impl ListQuery {
    fn status(&self) -> Option<InvoiceStatus> {
        match self.status.as_str() {
            "all" => None,
            other => Some(InvoiceStatus::parse(other).unwrap_or(InvoiceStatus::Requested)),
        }
    }
}

/// A request as a row: the request, the buyer's masked phone, when it was asked for.
pub struct Line {
    pub invoice: Invoice,
    pub buyer: String,
    pub asked: String,
}

impl Line {
    fn new(invoice: Invoice) -> Line {
        let buyer = Phone::from_stored(invoice.phone.clone()).masked();
        let asked = shanghai_minutes(invoice.created_at);
        Line { invoice, buyer, asked }
    }
}

#[derive(Template)]
#[template(path = "admin/invoices.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    lines: Vec<Line>,
    /// requested, issued or all.
    shown: &'static str,
}

#[get("/admin/invoices")]
async fn list(
    Staff(ctx, _, _): Staff<area::Orders>,
    q: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let status = q.status();
    let lines = invoices::list(&state.db, status, LIST_LIMIT).await?.into_iter().map(Line::new).collect();
    let shown = status.map_or("all", InvoiceStatus::as_str);
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_invoices"), ctx.shop_name()), "");
    render_with_status(&ListPage { ctx, meta, lines, shown }, StatusCode::OK)
}

/// Every request in the chosen state, for the accountant (amounts in yuan, times in Beijing time).
#[get("/admin/invoices.csv")]
async fn export(
    Staff(ctx, _, _): Staff<area::Orders>,
    q: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let rows = invoices::list(&state.db, q.status(), i64::MAX).await?;
    let mut csv = Csv::new(&[
        ctx.t("order_no"),
        ctx.t("admin_item"),
        ctx.t("invoice_title_kind"),
        ctx.t("invoice_title_label"),
        ctx.t("invoice_tax_number"),
        ctx.t("invoice_email"),
        ctx.t("invoice_amount"),
        ctx.t("refund_already"),
        ctx.t("admin_status"),
        ctx.t("invoice_number"),
        ctx.t("admin_invoice_asked"),
        ctx.t("invoice_issued_at"),
    ]);
    for i in rows {
        csv.row(&[
            i.order_no.as_str(),
            i.item_title.as_str(),
            ctx.t(i.title_kind.label_key()),
            i.title.as_str(),
            i.tax_number.as_str(),
            i.email.as_str(),
            i.amount.yuan_string().as_str(),
            i.refunded.yuan_string().as_str(),
            ctx.t(i.status.label_key()),
            i.invoice_number.as_str(),
            shanghai_minutes(i.created_at).as_str(),
            i.issued_at.map(shanghai_minutes).unwrap_or_default().as_str(),
        ]);
    }
    Ok(csv.response("invoices.csv"))
}

#[derive(Template)]
#[template(path = "admin/invoice.html")]
struct DetailPage {
    ctx: PageContext,
    meta: Meta,
    line: Line,
    issued_at: String,
    number: String,
    errors: FieldErrors,
}

fn detail_page(
    ctx: PageContext,
    invoice: Invoice,
    number: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} {} - {}", ctx.t("admin_invoices"), invoice.order_no, ctx.shop_name()), "");
    let issued_at = invoice.issued_at.map(shanghai_minutes).unwrap_or_default();
    render_with_status(&DetailPage { ctx, meta, line: Line::new(invoice), issued_at, number, errors }, status)
}

#[get("/admin/invoices/{id}")]
async fn detail(
    Staff(ctx, _, _): Staff<area::Orders>,
    id: web::Path<InvoiceId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let invoice = invoices::get(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    detail_page(ctx, invoice, String::new(), FieldErrors::default(), StatusCode::OK)
}

/// Issues the invoice: its PDF, its 数电票 number, or both.
#[post("/admin/invoices/{id}/issue")]
async fn issue(
    Staff(ctx, staff, _): Staff<area::Orders>,
    req: HttpRequest,
    payload: web::Payload,
    id: web::Path<InvoiceId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (upload, invoice) = read_form(&req, payload, &state, *id).await?;
    let number: String = upload.text("number").trim().to_string();
    let mut errors = FieldErrors::default();
    if invoice.status != InvoiceStatus::Requested {
        errors.add("number", ctx.t("err_invoice_issued"));
    } else if invoice.amount_now().is_free() {
        errors.add("number", ctx.t("err_invoice_refunded"));
    } else if let Some(why) = upload.rejected {
        errors.add("file", pdf_error(&ctx, why));
    } else if !number_ok(&number) {
        errors.add("number", ctx.t("err_invoice_number"));
    } else if number.is_empty() && upload.files.is_empty() {
        errors.add("number", ctx.t("err_invoice_nothing"));
    }
    if !errors.is_empty() {
        let status =
            if invoice.status == InvoiceStatus::Requested { StatusCode::BAD_REQUEST } else { StatusCode::CONFLICT };
        return detail_page(ctx, invoice, number, errors, status);
    }
    let kept = uploads::keep(state.uploads.as_ref(), "invoices", &upload.files).await.map_err(AppError::Internal)?;
    let file = kept.first().map(|k| (k.key.as_str(), k.file_name.as_str(), k.size));
    let issued = Issued { number: &number, file, staff_id: staff.id };
    if !invoices::issue(&state.db, &invoice, &issued, now()).await? {
        // Issued from another tab meanwhile: the file just kept is not needed.
        uploads::discard(state.uploads.as_ref(), &kept).await;
        return Ok(redirect(&format!("/admin/invoices/{id}")));
    }
    let change = Change {
        action: "invoice.issue",
        target_type: "invoice",
        target_id: id.to_string(),
        before: serde_json::json!({ "status": "requested" }),
        after: serde_json::json!({ "status": "issued", "number": number, "file": file.map(|(_, name, size)| (name, size)) }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/invoices/{id}")))
}

/// A posted invoice form (one PDF at most) and the invoice it is for.
async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    id: InvoiceId,
) -> Result<(uploads::UploadForm, Invoice), AppError> {
    let tmp = state.settings.uploads_dir().join("tmp");
    let upload = uploads::read(req, payload, &tmp, 1, &INVOICE_PDF).await?;
    let invoice = invoices::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
    Ok((upload, invoice))
}

/// Why an uploaded invoice file was refused.
fn pdf_error(ctx: &PageContext, why: uploads::Rejected) -> String {
    match why {
        uploads::Rejected::NotAllowed => ctx.t("err_invoice_pdf").to_string(),
        other => crate::routes::refunds::file_error(ctx.lang, other, 1),
    }
}

/// Replaces an issued invoice's PDF (and its number, when one is typed): a wrong file attached.
#[post("/admin/invoices/{id}/replace")]
async fn replace(
    Staff(ctx, staff, _): Staff<area::Orders>,
    req: HttpRequest,
    payload: web::Payload,
    id: web::Path<InvoiceId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (upload, invoice) = read_form(&req, payload, &state, *id).await?;
    let number: String = upload.text("replace_number").trim().to_string();
    let mut errors = FieldErrors::default();
    if invoice.status != InvoiceStatus::Issued {
        errors.add("replace_file", ctx.t("err_invoice_not_issued"));
    } else if let Some(why) = upload.rejected {
        errors.add("replace_file", pdf_error(&ctx, why));
    } else if upload.files.is_empty() {
        errors.add("replace_file", ctx.t("err_invoice_replace_nothing"));
    } else if !number_ok(&number) {
        errors.add("replace_number", ctx.t("err_invoice_number"));
    }
    if !errors.is_empty() {
        let status =
            if invoice.status == InvoiceStatus::Issued { StatusCode::BAD_REQUEST } else { StatusCode::CONFLICT };
        return detail_page(ctx, invoice, String::new(), errors, status);
    }
    let kept = uploads::keep(state.uploads.as_ref(), "invoices", &upload.files).await.map_err(AppError::Internal)?;
    let Some(new) = kept.first() else { return Err(AppError::BadRequest) };
    let file = (new.key.as_str(), new.file_name.as_str(), new.size);
    let typed = Some(number.as_str()).filter(|n| !n.is_empty());
    if !invoices::replace_file(&state.db, &invoice, file, typed, staff.id, now()).await? {
        // Not an issued invoice any more: the file just kept is not needed.
        uploads::discard(state.uploads.as_ref(), &kept).await;
        return Ok(redirect(&format!("/admin/invoices/{id}")));
    }
    let change = Change {
        action: "invoice.replace",
        target_type: "invoice",
        target_id: id.to_string(),
        before: serde_json::json!({
            "number": invoice.invoice_number,
            "file": (&invoice.file_name, invoice.file_size),
            "key": invoice.file_key,
        }),
        after: serde_json::json!({ "number": typed.unwrap_or(&invoice.invoice_number), "file": (&new.file_name, new.size) }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/invoices/{id}")))
}

#[get("/admin/invoices/{id}/file")]
async fn invoice_file(
    Staff(_, _, _): Staff<area::Orders>,
    req: HttpRequest,
    id: web::Path<InvoiceId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let invoice = invoices::get(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    crate::routes::invoices::download(&req, &state, &invoice).await
}
