//! Coupon codes: what the pay page looks up, and what staff make, change and count.

use super::Db;
use crate::domain::coupon::{CouponRule, CouponValue};
use crate::domain::coupon_form::CouponTerms;
use crate::domain::{CouponId, CourseId, Fen};

#[derive(Debug, Clone)]
pub struct Coupon {
    pub id: CouponId,
    pub code: String,
    /// What staff call it (buyers see the code and what it takes off).
    pub name: String,
    pub rule: CouponRule,
    pub disabled_at: Option<i64>,
}

impl Coupon {
    /// What staff may still change: name, window and limits.
    pub fn terms(&self) -> CouponTerms {
        CouponTerms {
            name: self.name.clone(),
            valid_from: self.rule.valid_from,
            valid_until: self.rule.valid_until,
            total_limit: self.rule.total_limit,
            per_user_limit: self.rule.per_user_limit,
            new_buyers_only: self.rule.new_buyers_only,
        }
    }
}

const COLUMNS: &str = "id, code, name, kind, value, min_spend_fen, valid_from, valid_until, total_limit, per_user_limit, \
     course_id, new_buyers_only, disabled_at";

pub async fn find_by_code(db: &Db, code: &str) -> Result<Option<Coupon>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM coupons WHERE code = $1");
    let row: Option<CouponRow> = sqlx::query_as(&sql).bind(code).fetch_optional(db.read()).await?;
    row.map(CouponRow::into_coupon).transpose()
}

/// A coupon by id, for the back office.
pub async fn get(db: &Db, id: CouponId) -> Result<Option<Coupon>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM coupons WHERE id = $1");
    let row: Option<CouponRow> = sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await?;
    row.map(CouponRow::into_coupon).transpose()
}

#[derive(sqlx::FromRow)]
struct CouponRow {
    id: CouponId,
    code: String,
    name: String,
    kind: String,
    value: i64,
    min_spend_fen: Fen,
    valid_from: i64,
    valid_until: i64,
    total_limit: Option<i64>,
    per_user_limit: Option<i64>,
    course_id: Option<CourseId>,
    new_buyers_only: i64,
    disabled_at: Option<i64>,
}

impl CouponRow {
    fn into_coupon(self) -> Result<Coupon, sqlx::Error> {
        // A kind the shop never writes is an error, not a quietly fixed discount.
        let value = match self.kind.as_str() {
            "percent" => CouponValue::PercentOff(self.value),
            "fixed" => CouponValue::Fixed(Fen(self.value)),
            other => return Err(sqlx::Error::Decode(format!("coupon kind {other:?} is not a stored word").into())),
        };
        Ok(Coupon {
            id: self.id,
            code: self.code,
            name: self.name,
            rule: CouponRule {
                value,
                min_spend: self.min_spend_fen,
                valid_from: self.valid_from,
                valid_until: self.valid_until,
                total_limit: self.total_limit,
                per_user_limit: self.per_user_limit,
                course_id: self.course_id,
                new_buyers_only: self.new_buyers_only != 0,
                disabled: self.disabled_at.is_some(),
            },
            disabled_at: self.disabled_at,
        })
    }
}

pub async fn find_by_id(db: &Db, id: CouponId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT code FROM coupons WHERE id = $1").bind(id).fetch_optional(db.read()).await
}

pub struct NewCoupon<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub value: CouponValue,
    pub min_spend: Fen,
    pub valid_from: i64,
    pub valid_until: i64,
    pub total_limit: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub course_id: Option<CourseId>,
    pub new_buyers_only: bool,
}

/// A new coupon; None when its code is taken.
pub async fn create(db: &Db, c: &NewCoupon<'_>, now: i64) -> Result<Option<CouponId>, sqlx::Error> {
    let (kind, value) = match c.value {
        CouponValue::Fixed(f) => ("fixed", f.0),
        CouponValue::PercentOff(p) => ("percent", p),
    };
    sqlx::query_scalar(
        "INSERT INTO coupons (code, kind, value, min_spend_fen, valid_from, valid_until, total_limit, per_user_limit, course_id, \
         created_at, name, new_buyers_only, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $10) ON CONFLICT (code) DO NOTHING RETURNING id",
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
    .bind(c.name)
    .bind(i64::from(c.new_buyers_only))
    .fetch_optional(db.write())
    .await
}

/// A coupon with how many orders hold it (reserved), paid with it (consumed), and gave it back
/// (released: closed unpaid).
pub struct CouponSummary {
    pub coupon: Coupon,
    pub reserved: i64,
    pub consumed: i64,
    pub released: i64,
}

#[derive(sqlx::FromRow)]
struct Counts {
    coupon_id: CouponId,
    reserved: i64,
    consumed: i64,
    released: i64,
}

/// Each coupon's redemptions by state; `WHERE` narrows them (binding $1), or is empty for all.
const COUNTS: &str = "SELECT coupon_id, \
     SUM(CASE WHEN status = 'reserved' THEN 1 ELSE 0 END) AS reserved, \
     SUM(CASE WHEN status = 'consumed' THEN 1 ELSE 0 END) AS consumed, \
     SUM(CASE WHEN status = 'released' THEN 1 ELSE 0 END) AS released \
     FROM coupon_redemptions";

/// Every coupon, newest first, with its counts.
pub async fn list(db: &Db) -> Result<Vec<CouponSummary>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM coupons ORDER BY id DESC");
    let rows: Vec<CouponRow> = sqlx::query_as(&sql).fetch_all(db.read()).await?;
    let counts: Vec<Counts> = sqlx::query_as(&format!("{COUNTS} GROUP BY coupon_id")).fetch_all(db.read()).await?;
    rows.into_iter()
        .map(|row| {
            let coupon = row.into_coupon()?;
            let c = counts.iter().find(|c| c.coupon_id == coupon.id);
            Ok(CouponSummary::new(coupon, c))
        })
        .collect()
}

/// One coupon with its counts.
pub async fn summary(db: &Db, id: CouponId) -> Result<Option<CouponSummary>, sqlx::Error> {
    let Some(coupon) = get(db, id).await? else { return Ok(None) };
    let counts: Option<Counts> = sqlx::query_as(&format!("{COUNTS} WHERE coupon_id = $1 GROUP BY coupon_id"))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    Ok(Some(CouponSummary::new(coupon, counts.as_ref())))
}

impl CouponSummary {
    fn new(coupon: Coupon, counts: Option<&Counts>) -> CouponSummary {
        let (reserved, consumed, released) = counts.map_or((0, 0, 0), |c| (c.reserved, c.consumed, c.released));
        CouponSummary { coupon, reserved, consumed, released }
    }
}

/// Changes a coupon's name, window and limits; false when there is no such coupon.
pub async fn update_terms(db: &Db, id: CouponId, t: &CouponTerms, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE coupons SET name = $1, valid_from = $2, valid_until = $3, total_limit = $4, per_user_limit = $5, \
         new_buyers_only = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(&t.name)
    .bind(t.valid_from)
    .bind(t.valid_until)
    .bind(t.total_limit)
    .bind(t.per_user_limit)
    .bind(i64::from(t.new_buyers_only))
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Switches a coupon off (or back on); false when it was already so, or does not exist.
pub async fn set_disabled(db: &Db, id: CouponId, disabled: bool, now: i64) -> Result<bool, sqlx::Error> {
    let sql = if disabled {
        "UPDATE coupons SET disabled_at = $1, updated_at = $1 WHERE id = $2 AND disabled_at IS NULL"
    } else {
        "UPDATE coupons SET disabled_at = NULL, updated_at = $1 WHERE id = $2 AND disabled_at IS NOT NULL"
    };
    Ok(sqlx::query(sql).bind(now).bind(id).execute(db.write()).await?.rows_affected() == 1)
}

/// One order that took the coupon.
#[derive(sqlx::FromRow)]
pub struct Redemption {
    pub order_no: String,
    pub phone: String,
    /// reserved, consumed or released.
    pub status: String,
    pub discount_fen: Fen,
    pub amount_fen: Fen,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The orders that took a coupon, newest first; at most `limit`.
pub async fn redemptions(db: &Db, id: CouponId, limit: i64) -> Result<Vec<Redemption>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.order_no, u.phone, r.status, o.discount_fen, o.amount_fen, r.created_at, r.updated_at \
         FROM coupon_redemptions r JOIN orders o ON o.id = r.order_id JOIN users u ON u.id = r.user_id \
         WHERE r.coupon_id = $1 ORDER BY r.id DESC LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(db.read())
    .await
}
