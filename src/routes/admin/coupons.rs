//! Coupons, for operators: make one (fixed or percentage off, minimum spend, window, total and
//! per-buyer limits, one course or all, new buyers only), change its name, window and limits,
//! switch it off or on, see which orders reserved, used and released it, export those as CSV,
//! and copy the link that brings a buyer to it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::gate::{Change, Staff, SwitchPath, area, audit, switch_change};
use crate::domain::CouponId;
use crate::domain::coupon::CouponValue;
use crate::domain::coupon_form::{RawCoupon, parse_new, parse_terms};
use crate::domain::phone::Phone;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::coupons::{offer, window};
use crate::routes::forms::FieldErrors;
use crate::store::coupons::{self, CouponSummary, NewCoupon, Redemption};
use crate::store::course_admin::{self, CourseRow};
use crate::web::csrf::NoFields;
use crate::web::csv::Csv;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

/// Orders shown on a coupon's page; the CSV has them all.
const SHOWN_REDEMPTIONS: i64 = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(export_list)
        .service(export)
        .service(detail)
        .service(update)
        .service(switch);
}

/// A coupon as a row: its summary, what it gives, its window, the course it is for.
pub struct CouponLine {
    pub summary: CouponSummary,
    pub offer: String,
    pub window: String,
    pub course: String,
    /// active, scheduled, expired or disabled.
    pub state: &'static str,
}

impl CouponLine {
    fn new(ctx: &PageContext, state: &AppState, summary: CouponSummary, at: i64) -> CouponLine {
        let rule = &summary.coupon.rule;
        let course = match rule.course_id.and_then(|id| super::course_by_id(state, id)) {
            Some(c) => c.title.clone(),
            None => ctx.t("coupon_for_all").to_string(),
        };
        let state = if rule.disabled {
            "disabled"
        } else if at >= rule.valid_until {
            "expired"
        } else if at < rule.valid_from {
            "scheduled"
        } else {
            "active"
        };
        CouponLine {
            offer: offer(ctx, rule),
            window: window(ctx, rule.valid_from, rule.valid_until),
            course,
            state,
            summary,
        }
    }

    pub fn state_key(&self) -> &'static str {
        match self.state {
            "disabled" => "admin_coupon_disabled",
            "expired" => "admin_coupon_expired",
            "scheduled" => "admin_coupon_scheduled",
            _ => "admin_coupon_active",
        }
    }

    /// "12 / 500", or "12" without a total limit: orders that hold or used it.
    pub fn taken(&self) -> String {
        let taken = self.summary.reserved + self.summary.consumed;
        match self.summary.coupon.rule.total_limit {
            Some(limit) => format!("{taken} / {limit}"),
            None => taken.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/coupons.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    lines: Vec<CouponLine>,
    courses: Vec<CourseRow>,
    form: RawCoupon,
    errors: FieldErrors,
}

async fn list_page(
    ctx: PageContext,
    state: &AppState,
    form: RawCoupon,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let at = now();
    let lines = coupons::list(&state.db).await?.into_iter().map(|s| CouponLine::new(&ctx, state, s, at)).collect();
    let courses = course_admin::list(&state.db).await?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_coupons"), ctx.shop_name()), "");
    render_with_status(&ListPage { ctx, meta, lines, courses, form, errors }, status)
}

fn field_errors(ctx: &PageContext, errors: Vec<(&'static str, &'static str)>) -> FieldErrors {
    let mut out = FieldErrors::default();
    for (field, key) in errors {
        out.add(field, ctx.t(key));
    }
    out
}

#[get("/admin/coupons")]
async fn list(Staff(ctx, _, _): Staff<area::Catalog>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    list_page(ctx, &state, RawCoupon::blank(now()), FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/coupons")]
async fn create(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RawCoupon>,
) -> Result<HttpResponse, AppError> {
    let at = now();
    let parsed = parse_new(&form, at);
    let course = match form.course.trim() {
        "" => Ok(None),
        id => super::chosen_course(&state, id).map(|c| Some(c.id)).ok_or(("course", "err_course_choose")),
    };
    let (input, course_id) = match (parsed, course) {
        (Ok(input), Ok(course_id)) => (input, course_id),
        (parsed, course) => {
            let mut errors = parsed.err().unwrap_or_default();
            errors.extend(course.err());
            let errors = field_errors(&ctx, errors);
            return list_page(ctx, &state, form, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    let t = &input.terms;
    let new = NewCoupon {
        code: &input.code,
        name: &t.name,
        value: input.value,
        min_spend: input.min_spend,
        valid_from: t.valid_from,
        valid_until: t.valid_until,
        total_limit: t.total_limit,
        per_user_limit: t.per_user_limit,
        course_id,
        new_buyers_only: t.new_buyers_only,
    };
    let Some(id) = coupons::create(&state.db, &new, at).await? else {
        let mut errors = FieldErrors::default();
        errors.add("code", ctx.t("err_coupon_code_taken"));
        return list_page(ctx, &state, form, errors, StatusCode::CONFLICT).await;
    };
    let (kind, value) = match input.value {
        CouponValue::Fixed(f) => ("fixed", f.0),
        CouponValue::PercentOff(p) => ("percent", p),
    };
    let change = Change {
        action: "coupon.create",
        target_type: "coupon",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({
            "code": input.code, "kind": kind, "value": value, "min_spend_fen": input.min_spend.0,
            "course_id": course_id, "terms": t,
        }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/coupons/{id}")))
}

#[derive(Template)]
#[template(path = "admin/coupon.html")]
struct DetailPage {
    ctx: PageContext,
    meta: Meta,
    line: CouponLine,
    link: String,
    redemptions: Vec<(Redemption, String)>,
    /// The order numbers link to the orders page, for staff who may open it.
    orders_link: bool,
    form: RawCoupon,
    errors: FieldErrors,
}

async fn detail_page(
    ctx: PageContext,
    state: &AppState,
    id: CouponId,
    form: Option<RawCoupon>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let summary = coupons::summary(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let line = CouponLine::new(&ctx, state, summary, now());
    let coupon = &line.summary.coupon;
    let link = format!("{}/coupons/{}", state.settings.public_url, coupon.code);
    let form = form.unwrap_or_else(|| RawCoupon::from_terms(&coupon.terms()));
    let redemptions = coupons::redemptions(&state.db, id, SHOWN_REDEMPTIONS)
        .await?
        .into_iter()
        .map(|r| {
            let buyer = Phone::from_stored(r.phone.clone()).masked();
            (r, buyer)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", coupon.code, ctx.t("admin_coupons")), "");
    let orders_link = ctx.user.as_ref().is_some_and(|u| u.role.may(crate::domain::staff::Area::Orders));
    render_with_status(&DetailPage { ctx, meta, line, link, redemptions, orders_link, form, errors }, status)
}

#[get("/admin/coupons/{id}")]
async fn detail(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CouponId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    detail_page(ctx, &state, *id, None, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/coupons/{id}")]
async fn update(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CouponId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RawCoupon>,
) -> Result<HttpResponse, AppError> {
    let before = coupons::get(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let at = now();
    let terms = match parse_terms(&form, at, false) {
        Ok(terms) => terms,
        Err(errors) => {
            let errors = field_errors(&ctx, errors);
            return detail_page(ctx, &state, *id, Some(form), errors, StatusCode::BAD_REQUEST).await;
        }
    };
    coupons::update_terms(&state.db, *id, &terms, at).await?;
    let change = Change {
        action: "coupon.update",
        target_type: "coupon",
        target_id: id.to_string(),
        before: serde_json::json!(before.terms()),
        after: serde_json::json!(terms),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/coupons/{id}")))
}

#[post("/admin/coupons/{id}/{to}")]
async fn switch(
    Staff(_, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    path: web::Path<SwitchPath<CouponId>>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let off = path.off()?;
    coupons::get(&state.db, path.id).await?.ok_or(AppError::NotFound)?;
    // Switching to the state it is already in changes nothing and logs nothing.
    if coupons::set_disabled(&state.db, path.id, off, now()).await? {
        let change = switch_change(("coupon.disable", "coupon.enable"), "coupon", path.id.to_string(), off);
        audit(&state, &req, &staff, change).await?;
    }
    Ok(redirect(&format!("/admin/coupons/{}", path.id)))
}

/// Every coupon with its terms and how it has been used, as the list shows them, for a spreadsheet.
#[get("/admin/coupons.csv")]
async fn export_list(
    Staff(ctx, _, _): Staff<area::Catalog>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let at = now();
    let mut csv = Csv::new(&[
        ctx.t("coupon_code_label"),
        ctx.t("admin_coupon_name"),
        ctx.t("admin_coupon_offer"),
        ctx.t("coupon_new_buyers"),
        ctx.t("coupon_applies_to"),
        ctx.t("coupon_valid"),
        ctx.t("admin_coupon_csv_total"),
        ctx.t("admin_coupon_csv_per_user"),
        ctx.t("admin_coupon_reserved"),
        ctx.t("admin_coupon_consumed"),
        ctx.t("admin_coupon_released"),
        ctx.t("admin_status"),
    ]);
    let limit =
        |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| ctx.t("admin_coupon_csv_unlimited").to_string());
    for line in coupons::list(&state.db).await?.into_iter().map(|s| CouponLine::new(&ctx, &state, s, at)) {
        let (coupon, rule) = (&line.summary.coupon, &line.summary.coupon.rule);
        csv.row(&[
            coupon.code.as_str(),
            coupon.name.as_str(),
            line.offer.as_str(),
            if rule.new_buyers_only { ctx.t("admin_yes") } else { ctx.t("admin_no") },
            line.course.as_str(),
            line.window.as_str(),
            limit(rule.total_limit).as_str(),
            limit(rule.per_user_limit).as_str(),
            line.summary.reserved.to_string().as_str(),
            line.summary.consumed.to_string().as_str(),
            line.summary.released.to_string().as_str(),
            ctx.t(line.state_key()),
        ]);
    }
    Ok(csv.response("coupons.csv"))
}

/// Every order that took the coupon, for a spreadsheet (times in Beijing time, amounts in yuan).
#[get("/admin/coupons/{id}/orders.csv")]
async fn export(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CouponId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let coupon = coupons::get(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let rows = coupons::redemptions(&state.db, *id, i64::MAX).await?;
    let mut csv = Csv::new(&[
        ctx.t("order_no"),
        ctx.t("admin_buyer"),
        ctx.t("admin_coupon_use"),
        ctx.t("order_discount"),
        ctx.t("order_amount_due"),
        ctx.t("admin_coupon_taken_at"),
        ctx.t("admin_coupon_changed_at"),
    ]);
    for r in rows {
        csv.row(&[
            r.order_no.as_str(),
            Phone::from_stored(r.phone).masked().as_str(),
            ctx.t(use_key(&r.status)),
            r.discount_fen.yuan_string().as_str(),
            r.amount_fen.yuan_string().as_str(),
            shanghai_minutes(r.created_at).as_str(),
            shanghai_minutes(r.updated_at).as_str(),
        ]);
    }
    Ok(csv.response(&format!("coupon-{}.csv", coupon.code)))
}

/// 已占用 / 已使用 / 已退回, for a redemption's status.
pub fn use_key(status: &str) -> &'static str {
    match status {
        "consumed" => "admin_coupon_consumed",
        "released" => "admin_coupon_released",
        _ => "admin_coupon_reserved",
    }
}
