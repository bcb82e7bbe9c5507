//! Coupon codes.

use super::Db;
use crate::domain::coupon::{CouponRule, CouponValue};
use crate::domain::{CouponId, CourseId, Fen};

#[derive(Debug, Clone)]
pub struct Coupon {
    pub id: CouponId,
    pub code: String,
    pub rule: CouponRule,
}

pub async fn find_by_code(db: &Db, code: &str) -> Result<Option<Coupon>, sqlx::Error> {
    let row: Option<CouponRow> = sqlx::query_as(
        "SELECT id, code, kind, value, min_spend_fen, valid_from, valid_until, total_limit, per_user_limit, course_id \
         FROM coupons WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(db.read())
    .await?;
    let Some(r) = row else { return Ok(None) };
    // A kind the shop never writes is an error, not a quietly fixed discount.
    let value = match r.kind.as_str() {
        "percent" => CouponValue::PercentOff(r.value),
        "fixed" => CouponValue::Fixed(Fen(r.value)),
        other => return Err(sqlx::Error::Decode(format!("coupon kind {other:?} is not a stored word").into())),
    };
    Ok(Some(Coupon {
        id: r.id,
        code: r.code,
        rule: CouponRule {
            value,
            min_spend: r.min_spend_fen,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            total_limit: r.total_limit,
            per_user_limit: r.per_user_limit,
            course_id: r.course_id,
        },
    }))
}

#[derive(sqlx::FromRow)]
struct CouponRow {
    id: CouponId,
    code: String,
    kind: String,
    value: i64,
    min_spend_fen: Fen,
    valid_from: i64,
    valid_until: i64,
    total_limit: Option<i64>,
    per_user_limit: Option<i64>,
    course_id: Option<CourseId>,
}

pub async fn find_by_id(db: &Db, id: CouponId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT code FROM coupons WHERE id = $1").bind(id).fetch_optional(db.read()).await
}

pub struct NewCoupon<'a> {
    pub code: &'a str,
    pub value: CouponValue,
    pub min_spend: Fen,
    pub valid_from: i64,
    pub valid_until: i64,
    pub total_limit: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub course_id: Option<CourseId>,
}

pub async fn create(db: &Db, c: &NewCoupon<'_>, now: i64) -> Result<CouponId, sqlx::Error> {
    let (kind, value) = match c.value {
        CouponValue::Fixed(f) => ("fixed", f.0),
        CouponValue::PercentOff(p) => ("percent", p),
    };
    sqlx::query_scalar(
        "INSERT INTO coupons (code, kind, value, min_spend_fen, valid_from, valid_until, total_limit, per_user_limit, course_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(c.code)
    .bind(kind)
    .bind(value)
    .bind(c.min_spend.0)
    .bind(c.valid_from)
    .bind(c.valid_until)
    .bind(c.total_limit)
    .bind(c.per_user_limit)
    .bind(c.course_id)
    .bind(now)
    .fetch_one(db.write())
    .await
}
