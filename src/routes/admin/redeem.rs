//! Redeem codes, for operators: make a batch for a course or membership (up to 100,000 codes, a
//! window, the channel it is sold through), export it as CSV, switch a batch or one code off, see
//! who redeemed which code, and how many wrong codes were tried in the last day.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use futures_util::StreamExt;

use super::gate::{Change, Staff, SwitchPath, area, audit, switch_change};
use crate::domain::RedeemBatchId;
use crate::domain::phone::Phone;
use crate::domain::product::Delivery;
use crate::domain::redeem::{RawBatch, derive_code, grouped, hash, normalize, parse_batch};
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::course_admin::{self, CourseRow};
use crate::store::redeem::{self, Batch, CodeSwitch, NewBatch, Redeemed};
use crate::web::csrf::NoFields;
use crate::web::csv::Csv;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

const SHOWN_REDEEMED: i64 = 200;
/// CSV rows derived per chunk of the streamed export.
const EXPORT_CHUNK: i64 = 2000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(create).service(export).service(detail).service(disable_code).service(switch);
}

/// A batch as a row: the batch, its course's title, its window in Beijing time.
pub struct BatchLine {
    pub batch: Batch,
    pub course: String,
    pub window: String,
}

impl BatchLine {
    fn new(ctx: &PageContext, state: &AppState, batch: Batch) -> BatchLine {
        let course = super::course_by_id(state, batch.course_id).map(|c| c.title.clone()).unwrap_or_default();
        let window = crate::routes::coupons::window(ctx, batch.valid_from, batch.valid_until);
        BatchLine { batch, course, window }
    }
}

#[derive(Template)]
#[template(path = "admin/redeem.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    lines: Vec<BatchLine>,
    courses: Vec<CourseRow>,
    /// Wrong codes in the last 24 hours: (tries, accounts, addresses).
    failures: (i64, i64, i64),
    form: RawBatch,
    errors: FieldErrors,
}

async fn list_page(
    ctx: PageContext,
    state: &AppState,
    form: RawBatch,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let lines = redeem::batches(&state.db).await?.into_iter().map(|b| BatchLine::new(&ctx, state, b)).collect();
    // Consultations are booked for a time, so a code cannot stand for one.
    let courses = course_admin::list(&state.db)
        .await?
        .into_iter()
        .filter(|c| c.kind.delivery() != Delivery::Session && c.price_fen > 0)
        .collect();
    let failures = redeem::failure_counts(&state.db, now() - 86_400).await?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_redeem"), ctx.shop_name()), "");
    render_with_status(&ListPage { ctx, meta, lines, courses, failures, form, errors }, status)
}

#[get("/admin/redeem")]
async fn list(Staff(ctx, _, _): Staff<area::Catalog>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    list_page(ctx, &state, RawBatch::blank(now()), FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/redeem")]
async fn create(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RawBatch>,
) -> Result<HttpResponse, AppError> {
    let at = now();
    let course = super::chosen_course(&state, form.course.trim())
        .filter(|c| c.kind.delivery() != Delivery::Session && !c.price.is_free());
    let (input, course) = match (parse_batch(&form, at), course) {
        (Ok(input), Some(course)) => (input, course),
        (parsed, course) => {
            let mut errors = FieldErrors::default();
            if course.is_none() {
                errors.add("course", ctx.t("err_course_choose"));
            }
            for (field, key) in parsed.err().unwrap_or_default() {
                errors.add(field, ctx.t(key));
            }
            return list_page(ctx, &state, form, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    let new = NewBatch {
        course_id: course.id,
        channel: &input.channel,
        quantity: input.quantity,
        valid_from: input.valid_from,
        valid_until: input.valid_until,
        created_by: staff.id,
    };
    let id = redeem::create_batch(&state.db, &new, &state.redeem_key, at).await?;
    let change = Change {
        action: "redeem.create",
        target_type: "redeem_batch",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({
            "course_id": course.id, "channel": input.channel, "quantity": input.quantity,
            "valid_from": input.valid_from, "valid_until": input.valid_until,
        }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/redeem/{id}")))
}

#[derive(Template)]
#[template(path = "admin/redeem_batch.html")]
struct BatchPage {
    ctx: PageContext,
    meta: Meta,
    line: BatchLine,
    redeemed: Vec<(Redeemed, String, String)>,
    orders_link: bool,
    code: String,
    errors: FieldErrors,
}

async fn batch_page(
    ctx: PageContext,
    state: &AppState,
    id: RedeemBatchId,
    code: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let batch = redeem::batch(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let line = BatchLine::new(&ctx, state, batch);
    let redeemed = redeem::redeemed(&state.db, id, SHOWN_REDEEMED)
        .await?
        .into_iter()
        .map(|r| {
            let (buyer, at) = (Phone::from_stored(r.phone.clone()).masked(), shanghai_minutes(r.redeemed_at));
            (r, buyer, at)
        })
        .collect();
    let orders_link = ctx.user.as_ref().is_some_and(|u| u.role.may(crate::domain::staff::Area::Orders));
    let meta = ctx.meta(&format!("{} #{} - {}", ctx.t("admin_redeem"), id, ctx.shop_name()), "");
    render_with_status(&BatchPage { ctx, meta, line, redeemed, orders_link, code, errors }, status)
}

#[get("/admin/redeem/{id}")]
async fn detail(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<RedeemBatchId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    batch_page(ctx, &state, *id, String::new(), FieldErrors::default(), StatusCode::OK).await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

/// Switches one code off, typed as the learner would (a code given out by mistake, say).
#[post("/admin/redeem/{id}/code")]
async fn disable_code(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<RedeemBatchId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    redeem::batch(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let outcome = match normalize(&form.code) {
        Some(code) => redeem::disable_code(&state.db, *id, &hash(&code), now()).await?,
        None => CodeSwitch::NotInBatch,
    };
    let key = match outcome {
        CodeSwitch::Done(seq) => {
            let change = Change {
                action: "redeem.disable_code",
                target_type: "redeem_batch",
                target_id: id.to_string(),
                before: serde_json::json!({ "seq": seq, "disabled": false }),
                after: serde_json::json!({ "seq": seq, "disabled": true }),
                note: "",
            };
            audit(&state, &req, &staff, change).await?;
            return Ok(redirect(&format!("/admin/redeem/{id}")));
        }
        CodeSwitch::NotInBatch => "err_redeem_not_in_batch",
        CodeSwitch::Redeemed => "redeem_used",
        CodeSwitch::AlreadyOff => "redeem_disabled",
    };
    let mut errors = FieldErrors::default();
    errors.add("code", ctx.t(key));
    let shown = form.code.chars().take(40).collect();
    batch_page(ctx, &state, *id, shown, errors, StatusCode::BAD_REQUEST).await
}

#[post("/admin/redeem/{id}/{to}")]
async fn switch(
    Staff(_, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    path: web::Path<SwitchPath<RedeemBatchId>>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let off = path.off()?;
    redeem::batch(&state.db, path.id).await?.ok_or(AppError::NotFound)?;
    if redeem::set_batch_disabled(&state.db, path.id, off, now()).await? {
        let change = switch_change(("redeem.disable", "redeem.enable"), "redeem_batch", path.id.to_string(), off);
        audit(&state, &req, &staff, change).await?;
    }
    Ok(redirect(&format!("/admin/redeem/{}", path.id)))
}

/// Every code of the batch with its state, derived again from the shop's key and streamed in
/// chunks (100,000 codes never sit in memory at once). Each export is in the audit log: the file
/// is worth what the courses are.
#[get("/admin/redeem/{id}/codes.csv")]
async fn export(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<RedeemBatchId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let batch = redeem::batch(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if hash(&derive_code(&state.redeem_key, id.0, 0)) != batch.key_check {
        // The shop's key changed since: the codes it would write are not the ones given out.
        let mut errors = FieldErrors::default();
        errors.add("export", ctx.t("err_redeem_key_changed"));
        return batch_page(ctx, &state, id, String::new(), errors, StatusCode::CONFLICT).await;
    }
    let marked: std::collections::HashMap<i64, (Option<i64>, Option<i64>)> =
        redeem::marked_codes(&state.db, id).await?.into_iter().map(|(seq, r, d)| (seq, (r, d))).collect();
    let change = Change {
        action: "redeem.export",
        target_type: "redeem_batch",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "quantity": batch.quantity }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    let words = [ctx.t("admin_redeem_unused"), ctx.t("admin_redeem_redeemed"), ctx.t("admin_coupon_disabled")];
    let header = Csv::new(&[
        ctx.t("admin_redeem_seq"),
        ctx.t("redeem_code"),
        ctx.t("admin_status"),
        ctx.t("admin_redeem_redeemed_at"),
        ctx.t("admin_redeem_channel"),
    ])
    .into_bytes();
    let rows = ExportRows { key: state.redeem_key.clone(), batch: id, channel: batch.channel, marked, words };
    let chunks = futures_util::stream::iter((0..batch.quantity).step_by(EXPORT_CHUNK as usize)).map(move |start| {
        Ok::<_, std::convert::Infallible>(Bytes::from(rows.chunk(start..(start + EXPORT_CHUNK).min(batch.quantity))))
    });
    let body = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(header))]).chain(chunks);
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"redeem-{id}.csv\"")))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}

/// What the export writes for each code: derived from the key, with its state.
pub struct ExportRows {
    pub key: Vec<u8>,
    pub batch: RedeemBatchId,
    pub channel: String,
    /// Redeemed at, switched off at, by number; codes not here are unused.
    pub marked: std::collections::HashMap<i64, (Option<i64>, Option<i64>)>,
    /// The words for unused, redeemed and switched off.
    pub words: [&'static str; 3],
}

impl ExportRows {
    /// The CSV rows of codes `seqs` (numbered from 1 in the file).
    pub fn chunk(&self, seqs: std::ops::Range<i64>) -> Vec<u8> {
        let mut csv = Csv::continuing();
        for seq in seqs {
            let (word, at) = match self.marked.get(&seq) {
                Some((Some(at), _)) => (self.words[1], shanghai_minutes(*at)),
                Some((None, Some(_))) => (self.words[2], String::new()),
                _ => (self.words[0], String::new()),
            };
            let (number, code) = ((seq + 1).to_string(), grouped(&derive_code(&self.key, self.batch.0, seq)));
            csv.row(&[number.as_str(), code.as_str(), word, at.as_str(), self.channel.as_str()]);
        }
        csv.into_bytes()
    }
}
