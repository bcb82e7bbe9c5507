//! Coupons and the price breakdown of an order. The server recomputes this on every pay page;
//! what the browser shows is never trusted.

use super::Fen;
use crate::domain::CourseId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponValue {
    /// So many fen off, never more than the price.
    Fixed(Fen),
    /// So many percent off (1 to 100); the discount is rounded down to the fen.
    PercentOff(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRule {
    pub value: CouponValue,
    pub min_spend: Fen,
    /// Valid from this time (inclusive) until `valid_until` (exclusive), unix seconds.
    pub valid_from: i64,
    pub valid_until: i64,
    pub total_limit: Option<i64>,
    pub per_user_limit: Option<i64>,
    /// Only for this course, when set.
    pub course_id: Option<CourseId>,
    /// Only for a buyer who never paid an order before.
    pub new_buyers_only: bool,
    /// Switched off by staff: no new order takes it (orders holding it keep it).
    pub disabled: bool,
}

/// Redemptions held by orders that are pending or paid (closed orders give theirs back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CouponUsage {
    pub total: i64,
    pub by_this_user: i64,
    /// The buyer has an order that was paid (even if refunded since).
    pub buyer_paid_before: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponError {
    Disabled,
    NotStarted,
    Expired,
    BelowMinimum(Fen),
    WrongCourse,
    UsedUp,
    UserLimitReached,
    NewBuyersOnly,
}

impl CouponError {
    pub fn message_key(self) -> &'static str {
        match self {
            CouponError::Disabled => "coupon_disabled",
            CouponError::NotStarted => "coupon_not_started",
            CouponError::Expired => "coupon_expired",
            CouponError::BelowMinimum(_) => "coupon_below_minimum",
            CouponError::WrongCourse => "coupon_wrong_course",
            CouponError::UsedUp => "coupon_used_up",
            CouponError::UserLimitReached => "coupon_user_limit",
            CouponError::NewBuyersOnly => "coupon_new_buyers_only",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breakdown {
    pub price: Fen,
    pub discount: Fen,
    pub amount: Fen,
}

impl Breakdown {
    pub fn without_coupon(price: Fen) -> Breakdown {
        Breakdown { price, discount: Fen::ZERO, amount: price }
    }
}

/// Applies a coupon to a course's price for one buyer at `now`.
pub fn apply_coupon(
    price: Fen,
    course_id: CourseId,
    rule: &CouponRule,
    usage: CouponUsage,
    now: i64,
) -> Result<Breakdown, CouponError> {
    if rule.disabled {
        return Err(CouponError::Disabled);
    }
    if now < rule.valid_from {
        return Err(CouponError::NotStarted);
    }
    if now >= rule.valid_until {
        return Err(CouponError::Expired);
    }
    if rule.course_id.is_some_and(|id| id != course_id) {
        return Err(CouponError::WrongCourse);
    }
    if price < rule.min_spend {
        return Err(CouponError::BelowMinimum(rule.min_spend));
    }
    if rule.total_limit.is_some_and(|limit| usage.total >= limit) {
        return Err(CouponError::UsedUp);
    }
    if rule.per_user_limit.is_some_and(|limit| usage.by_this_user >= limit) {
        return Err(CouponError::UserLimitReached);
    }
    if rule.new_buyers_only && usage.buyer_paid_before {
        return Err(CouponError::NewBuyersOnly);
    }
    let discount = match rule.value {
        CouponValue::Fixed(off) => off.0.clamp(0, price.0),
        CouponValue::PercentOff(pct) => {
            let pct = i128::from(pct.clamp(0, 100));
            // i128: no overflow even for absurd prices; the result is at most `price`.
            i64::try_from(i128::from(price.0) * pct / 100).unwrap_or(price.0)
        }
    };
    Ok(Breakdown { price, discount: Fen(discount), amount: Fen(price.0 - discount) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn rule(value: CouponValue) -> CouponRule {
        CouponRule {
            value,
            min_spend: Fen(0),
            valid_from: NOW - 10,
            valid_until: NOW + 10,
            total_limit: None,
            per_user_limit: None,
            course_id: None,
            new_buyers_only: false,
            disabled: false,
        }
    }

    fn apply(price: i64, r: &CouponRule) -> Result<(i64, i64), CouponError> {
        apply_coupon(Fen(price), CourseId(7), r, CouponUsage::default(), NOW).map(|b| (b.discount.0, b.amount.0))
    }

    #[test]
    fn fixed_amounts() {
        assert_eq!(apply(19900, &rule(CouponValue::Fixed(Fen(5000)))), Ok((5000, 14900)));
        assert_eq!(apply(3000, &rule(CouponValue::Fixed(Fen(5000)))), Ok((3000, 0)), "never below zero");
        assert_eq!(apply(0, &rule(CouponValue::Fixed(Fen(5000)))), Ok((0, 0)));
    }

    #[test]
    fn percentages_round_the_discount_down() {
        assert_eq!(apply(19900, &rule(CouponValue::PercentOff(20))), Ok((3980, 15920)));
        assert_eq!(apply(999, &rule(CouponValue::PercentOff(15))), Ok((149, 850)), "149.85 fen off → 149");
        assert_eq!(apply(1, &rule(CouponValue::PercentOff(50))), Ok((0, 1)));
        assert_eq!(apply(19900, &rule(CouponValue::PercentOff(100))), Ok((19900, 0)));
        assert_eq!(apply(i64::MAX, &rule(CouponValue::PercentOff(50))), Ok((i64::MAX / 2, i64::MAX - i64::MAX / 2)));
    }

    #[test]
    fn validity_window_edges() {
        let r = rule(CouponValue::Fixed(Fen(100)));
        let at = |t| apply_coupon(Fen(1000), CourseId(7), &r, CouponUsage::default(), t).map(|b| b.amount.0);
        assert_eq!(at(NOW - 11), Err(CouponError::NotStarted));
        assert_eq!(at(NOW - 10), Ok(900), "from is inclusive");
        assert_eq!(at(NOW + 9), Ok(900));
        assert_eq!(at(NOW + 10), Err(CouponError::Expired), "until is exclusive");
    }

    #[test]
    fn minimum_spend_edges() {
        let r = CouponRule { min_spend: Fen(10000), ..rule(CouponValue::Fixed(Fen(1000))) };
        assert_eq!(apply(9999, &r), Err(CouponError::BelowMinimum(Fen(10000))));
        assert_eq!(apply(10000, &r), Ok((1000, 9000)), "exactly the minimum qualifies");
    }

    #[test]
    fn course_restriction() {
        let r = CouponRule { course_id: Some(CourseId(8)), ..rule(CouponValue::Fixed(Fen(100))) };
        assert_eq!(apply(1000, &r), Err(CouponError::WrongCourse));
        assert!(apply_coupon(Fen(1000), CourseId(8), &r, CouponUsage::default(), NOW).is_ok());
    }

    #[test]
    fn limits() {
        let r = CouponRule { total_limit: Some(3), per_user_limit: Some(1), ..rule(CouponValue::Fixed(Fen(100))) };
        let with = |total, mine| {
            apply_coupon(
                Fen(1000),
                CourseId(7),
                &r,
                CouponUsage { total, by_this_user: mine, ..CouponUsage::default() },
                NOW,
            )
            .is_ok()
        };
        assert!(with(2, 0));
        assert_eq!(
            apply_coupon(
                Fen(1000),
                CourseId(7),
                &r,
                CouponUsage { total: 3, by_this_user: 0, ..CouponUsage::default() },
                NOW
            ),
            Err(CouponError::UsedUp)
        );
        assert_eq!(
            apply_coupon(
                Fen(1000),
                CourseId(7),
                &r,
                CouponUsage { total: 1, by_this_user: 1, ..CouponUsage::default() },
                NOW
            ),
            Err(CouponError::UserLimitReached)
        );
    }

    #[test]
    fn new_buyers_only() {
        let r = CouponRule { new_buyers_only: true, ..rule(CouponValue::Fixed(Fen(100))) };
        let returning = CouponUsage { buyer_paid_before: true, ..CouponUsage::default() };
        assert_eq!(apply(1000, &r), Ok((100, 900)), "a first purchase qualifies");
        assert_eq!(apply_coupon(Fen(1000), CourseId(7), &r, returning, NOW), Err(CouponError::NewBuyersOnly));
        let anyone = rule(CouponValue::Fixed(Fen(100)));
        assert!(apply_coupon(Fen(1000), CourseId(7), &anyone, returning, NOW).is_ok());
    }

    #[test]
    fn a_disabled_coupon_says_so_before_anything_else() {
        let r = CouponRule { disabled: true, valid_until: NOW - 1, ..rule(CouponValue::Fixed(Fen(100))) };
        assert_eq!(apply(1000, &r), Err(CouponError::Disabled));
    }
}
