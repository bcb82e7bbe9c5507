//! Booking a consultation: the buyer picks one of the open slots and pays for it; a booked slot
//! can be moved up to the cancellation limit (`domain::consultation`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::FieldErrors;
use super::orders::{buyers_order, purchase_href};
use crate::catalog::Course;
use crate::domain::SlotId;
use crate::domain::numbers::{OrderNo, Slug};
use crate::domain::product::Delivery;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::services::checkout::Purchase;
use crate::store::consultations::{self, SlotRow};
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, client_ip, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(book_page).service(book).service(reschedule);
}

/// A slot as the buyer picks it.
pub struct SlotChoice {
    pub id: SlotId,
    pub when: String,
    pub minutes: i64,
}

impl SlotChoice {
    pub fn of(slot: &SlotRow) -> SlotChoice {
        SlotChoice { id: slot.id, when: shanghai_minutes(slot.starts_at), minutes: slot.minutes }
    }
}

/// The first second a slot may start and still be picked or moved to: now plus the limit.
pub(crate) fn earliest(state: &AppState, at: i64) -> i64 {
    at + state.settings.consultation_cancel_hours * 3600
}

pub(crate) async fn open_choices(state: &AppState, course: &Course, at: i64) -> Result<Vec<SlotChoice>, AppError> {
    Ok(consultations::open(&state.db, course.id, earliest(state, at)).await?.iter().map(SlotChoice::of).collect())
}

#[derive(Template)]
#[template(path = "consultations/book.html")]
struct BookPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    slots: Vec<SlotChoice>,
    cancel_hours: i64,
    errors: FieldErrors,
}

fn consultation(state: &AppState, slug: &Slug) -> Result<std::sync::Arc<Course>, AppError> {
    let course = state.catalog.snapshot().course(slug).cloned().ok_or(AppError::NotFound)?;
    if course.kind.delivery() != Delivery::Session {
        return Err(AppError::NotFound);
    }
    Ok(course)
}

async fn render_book(
    ctx: &PageContext,
    state: &AppState,
    course: &Course,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let slots = open_choices(state, course, now()).await?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("book_title"), course.title), &course.subtitle);
    let cancel_hours = state.settings.consultation_cancel_hours;
    render_with_status(&BookPage { ctx, meta, course, slots, cancel_hours, errors }, status)
}

#[get("/courses/{slug}/book")]
async fn book_page(
    LoggedIn(ctx, _): LoggedIn,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = consultation(&state, &slug)?;
    let ctx = ctx.with_csrf()?;
    render_book(&ctx, &state, &course, FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SlotForm {
    slot_id: String,
}

#[post("/courses/{slug}/book")]
async fn book(
    LoggedIn(ctx, user): LoggedIn,
    req: HttpRequest,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SlotForm>,
) -> Result<HttpResponse, AppError> {
    let course = consultation(&state, &slug)?;
    let mut errors = FieldErrors::default();
    let Ok(slot_id) = form.slot_id.trim().parse::<SlotId>() else {
        errors.add("slot_id", ctx.t("err_slot_required"));
        return render_book(&ctx, &state, &course, errors, StatusCode::BAD_REQUEST).await;
    };
    let at = now();
    let purchase = Purchase {
        user_id: user.id,
        course: &course,
        price: course.price_at(at),
        slot: Some((slot_id, earliest(&state, at))),
        cohort: None,
    };
    let ip = client_ip(&req, state.settings.trust_forwarded);
    match purchase_href(&state, &purchase, &ctx.typed_session(), &ip, at).await? {
        Some(href) => Ok(redirect(&href)),
        None => {
            errors.add("slot_id", ctx.t("err_slot_taken"));
            render_book(&ctx, &state, &course, errors, StatusCode::CONFLICT).await
        }
    }
}

#[post("/orders/{order_no}/reschedule")]
async fn reschedule(
    ctx: PageContext,
    order_no: web::Path<OrderNo>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SlotForm>,
) -> Result<HttpResponse, AppError> {
    let order = buyers_order(&ctx, &state, &order_no).await?;
    let Ok(slot_id) = form.slot_id.trim().parse::<SlotId>() else {
        let mut errors = FieldErrors::default();
        errors.add("slot_id", ctx.t("err_slot_required"));
        return super::orders::render_detail(ctx, &state, order, errors, StatusCode::BAD_REQUEST).await;
    };
    let moved = order.status.grants_access()
        && consultations::reschedule(&state.db, order.id, slot_id, earliest(&state, now())).await?;
    if !moved {
        let mut errors = FieldErrors::default();
        errors.add("slot_id", ctx.t("slot_not_moved"));
        return super::orders::render_detail(ctx, &state, order, errors, StatusCode::CONFLICT).await;
    }
    ctx.typed_session().set_flash("slot_moved")?;
    Ok(redirect(&format!("/orders/{}", order.order_no)))
}
