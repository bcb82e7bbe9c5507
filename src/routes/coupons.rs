//! A coupon's shared link (`/coupons/{code}`): what it takes off and on what, in plain words. A
//! usable one is remembered in the session, goes on the visitor's next order by itself, and is
//! filled in on the pay page when it does not fit.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::catalog::Course;
use crate::domain::coupon::{CouponRule, CouponValue};
use crate::domain::coupon_form::normalize_code;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::store::coupons::{self, Coupon};
use crate::web::{AppState, Meta, PageContext, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show);
}

/// "立减 ¥20.00 · 满 ¥99.00 可用": what a coupon gives, for buyers and staff alike.
pub(crate) fn offer(ctx: &PageContext, rule: &CouponRule) -> String {
    let value = match rule.value {
        CouponValue::Fixed(off) => ctx.tf("coupon_fixed_off", &[("amount", &off.to_string())]),
        CouponValue::PercentOff(pct) => ctx.tf("coupon_percent_off", &[("pct", &pct.to_string())]),
    };
    let spend = if rule.min_spend.is_free() {
        ctx.t("coupon_any_spend").to_string()
    } else {
        ctx.tf("coupon_min_spend", &[("min", &rule.min_spend.to_string())])
    };
    format!("{value} · {spend}")
}

/// "2026-12-07 10:00 至 2027-01-06 10:00（北京时间）": a coupon's or a redeem batch's window.
pub(crate) fn window(ctx: &PageContext, valid_from: i64, valid_until: i64) -> String {
    let (from, until) = (shanghai_minutes(valid_from), shanghai_minutes(valid_until));
    ctx.tf("coupon_window", &[("from", &from), ("until", &until)])
}

#[derive(Template)]
#[template(path = "coupons/show.html")]
struct CouponPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    coupon: Coupon,
    offer: String,
    window: String,
    course: Option<std::sync::Arc<Course>>,
    /// Why it cannot be used now (a translation key), or empty.
    closed: &'static str,
}

#[get("/coupons/{code}")]
async fn show(ctx: PageContext, code: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let code = normalize_code(&code).ok_or(AppError::NotFound)?;
    let coupon = coupons::find_by_code(&state.db, &code).await?.ok_or(AppError::NotFound)?;
    let at = now();
    let closed = if coupon.rule.disabled {
        "coupon_disabled"
    } else if at >= coupon.rule.valid_until {
        "coupon_expired"
    } else {
        ""
    };
    if closed.is_empty() {
        ctx.typed_session().note_coupon(&coupon.code)?;
    }
    let course = coupon.rule.course_id.and_then(|id| state.catalog.snapshot().course_by_id(id).cloned());
    let offer = offer(&ctx, &coupon.rule);
    let window = window(&ctx, coupon.rule.valid_from, coupon.rule.valid_until);
    let meta = ctx.meta(&format!("{} {} - {}", ctx.t("coupon_code"), offer, ctx.shop_name()), "");
    render(&CouponPage { ctx: &ctx, meta, coupon, offer, window, course, closed })
}
