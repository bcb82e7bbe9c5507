//! The refund policy engine (seed 003): from the product kind, the refund terms snapshotted on
//! the order, the payment time, now, and how much has been consumed, it decides whether a refund
//! is due, how much, and says which rule decided, in both languages. Pure; staff may override.

use super::refund_terms::{Localized, RefundTerms};
use super::{Fen, ProductKind};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// What the learner has used of what they bought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumption {
    /// Share of the lessons completed or watched, in percent (0–100).
    pub consumed_pct: i64,
    /// Live courses: start times of every session (unix seconds).
    pub live_sessions: Vec<i64>,
    /// Memberships: the period length in days and how many periods were bought.
    pub membership_period_days: i64,
    pub membership_periods: i64,
    /// Consultations: the booked slot's start (unix seconds), if booked.
    pub consultation_slot: Option<i64>,
}

/// Shop-wide settings the terms do not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicySettings {
    /// Refund the current membership period too (pro rata by whole days left).
    pub membership_refund_current_period: bool,
    /// Consultations can be cancelled with a full refund up to this many hours before the slot.
    pub consultation_cancel_hours: i64,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings { membership_refund_current_period: false, consultation_cancel_hours: 24 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub eligible: bool,
    pub amount: Fen,
    pub rule: Localized,
}

pub struct Case<'a> {
    pub kind: ProductKind,
    pub terms: RefundTerms,
    /// What the buyer actually paid (after coupons).
    pub paid: Fen,
    /// Refunded already on this order.
    pub refunded: Fen,
    pub paid_at: i64,
    pub now: i64,
    pub consumption: &'a Consumption,
    pub settings: PolicySettings,
}

fn no(zh: String, en: String) -> Decision {
    Decision { eligible: false, amount: Fen::ZERO, rule: Localized { zh, en } }
}

/// `paid × numerator / denominator`, rounded down to the fen, never above `paid`.
fn share(paid: Fen, numerator: i64, denominator: i64) -> Fen {
    if denominator <= 0 || numerator <= 0 {
        return Fen::ZERO;
    }
    let n = i128::from(paid.0) * i128::from(numerator.min(denominator)) / i128::from(denominator);
    Fen(i64::try_from(n).unwrap_or(paid.0))
}

/// What is left to refund of an order: what was paid less what was refunded already.
pub fn left_to_refund(paid: Fen, refunded: Fen) -> Fen {
    (paid - refunded).max(Fen::ZERO)
}

/// An amount staff may refund (or approve): more than nothing, at most what is left.
pub fn may_refund(amount: Fen, left: Fen) -> bool {
    amount > Fen::ZERO && amount <= left
}

/// A request the shop approves and sends without staff: the policy grants it, and it asks for
/// something, but no more than the shop's auto-approval limit.
pub fn approves_itself(decision: &Decision, limit: Fen) -> bool {
    decision.eligible && decision.amount > Fen::ZERO && decision.amount <= limit
}

pub fn decide(c: &Case) -> Decision {
    let remaining = left_to_refund(c.paid, c.refunded);
    if c.paid.0 <= 0 {
        return no(
            "这笔订单没有实际付款，无需退款。".into(),
            "Nothing was paid on this order, so there is nothing to refund.".into(),
        );
    }
    if remaining.0 == 0 {
        return no("这笔订单已全额退款。".into(), "This order has already been refunded in full.".into());
    }
    if c.terms.non_refundable {
        return no(
            "本商品购买前已标明为不支持退款的促销商品。".into(),
            "This item was marked as a non-refundable promotion before purchase.".into(),
        );
    }
    let decision = match c.kind {
        // A bundle's consumption counts the lessons of all its courses (`refund::bundle_consumed_pct`).
        // A column's share counts the issues out so far.
        ProductKind::Recorded
        | ProductKind::Audio
        | ProductKind::Article
        | ProductKind::Bundle
        | ProductKind::Column => recorded(c),
        ProductKind::Live => live(c),
        ProductKind::Membership => membership(c),
        ProductKind::Consultation => consultation(c),
    };
    // Earlier partial refunds come off; the total never exceeds what was paid.
    Decision { amount: Fen(decision.amount.0.min(remaining.0)), ..decision }
}

fn recorded(c: &Case) -> Decision {
    let (days, pct) = (c.terms.window_days, c.terms.max_consumed_pct);
    if c.now >= c.paid_at + days * DAY {
        return no(
            format!("已超过购买后 {days} 天的退款期限。"),
            format!("The {days}-day refund window after purchase has passed."),
        );
    }
    if c.consumption.consumed_pct >= pct {
        return no(
            format!("学习进度已达 {}%，超过可退款的 {pct}%。", c.consumption.consumed_pct),
            format!("{}% of the course is consumed, not under the {pct}% limit.", c.consumption.consumed_pct),
        );
    }
    Decision {
        eligible: true,
        amount: c.paid,
        rule: Localized {
            zh: format!("购买后 {days} 天内且学习进度不足 {pct}%，全额退款。"),
            en: format!("Within {days} days of purchase and under {pct}% consumed: full refund."),
        },
    }
}

fn live(c: &Case) -> Decision {
    let sessions = &c.consumption.live_sessions;
    let total = sessions.len() as i64;
    let held = sessions.iter().filter(|at| **at <= c.now).count() as i64;
    if held == 0 {
        return Decision {
            eligible: true,
            amount: c.paid,
            rule: Localized {
                zh: "首场直播尚未开始，全额退款。".into(),
                en: "The first live session has not started: full refund.".into(),
            },
        };
    }
    let left = total - held;
    if left <= 0 {
        return no(
            "所有直播场次均已进行，不再退款。".into(),
            "Every live session has been held; no refund is due.".into(),
        );
    }
    Decision {
        eligible: true,
        amount: share(c.paid, left, total),
        rule: Localized {
            zh: format!("已进行 {held}/{total} 场，按未进行的 {left} 场比例退款。"),
            en: format!("{held} of {total} sessions held: refund for the {left} not yet held, pro rata."),
        },
    }
}

fn membership(c: &Case) -> Decision {
    let (period, periods) = (c.consumption.membership_period_days.max(1), c.consumption.membership_periods.max(1));
    if c.now < c.paid_at {
        return Decision {
            eligible: true,
            amount: c.paid,
            rule: Localized {
                zh: "这段会员期尚未开始，全额退款。".into(),
                en: "This membership period has not started yet: full refund.".into(),
            },
        };
    }
    let elapsed_days = ((c.now - c.paid_at).max(0)) / DAY;
    let started = (elapsed_days / period + 1).min(periods);
    if c.settings.membership_refund_current_period {
        let days_left = (periods * period - elapsed_days).max(0);
        if days_left == 0 {
            return no("会员期已全部用完。".into(), "The whole membership has been used.".into());
        }
        return Decision {
            eligible: true,
            amount: share(c.paid, days_left, periods * period),
            rule: Localized {
                zh: format!("按剩余的 {days_left} 天比例退款。"),
                en: format!("Refund for the {days_left} days left, pro rata."),
            },
        };
    }
    let unused = periods - started;
    if unused <= 0 {
        return no(
            "当前会员周期不退款，且没有未开始的完整周期。".into(),
            "The current period is not refunded and no whole period is left unused.".into(),
        );
    }
    Decision {
        eligible: true,
        amount: share(c.paid, unused, periods),
        rule: Localized {
            zh: format!("当前周期不退，退还未使用的 {unused} 个完整周期。"),
            en: format!("The current period is kept; {unused} unused whole periods are refunded."),
        },
    }
}

fn consultation(c: &Case) -> Decision {
    let hours = c.settings.consultation_cancel_hours;
    match c.consumption.consultation_slot {
        Some(slot) if c.now > slot - hours * HOUR => no(
            format!("距预约时间已不足 {hours} 小时，不再退款。"),
            format!("Less than {hours} hours before the booked slot; no refund."),
        ),
        Some(_) => Decision {
            eligible: true,
            amount: c.paid,
            rule: Localized {
                zh: format!("预约时间 {hours} 小时前取消，全额退款。"),
                en: format!("Cancelled at least {hours} hours before the slot: full refund."),
            },
        },
        None => Decision {
            eligible: true,
            amount: c.paid,
            rule: Localized {
                zh: "尚未预约时间，全额退款。".into(), en: "No slot booked yet: full refund.".into()
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_left_is_paid_less_refunded_and_staff_refund_within_it() {
        assert_eq!(left_to_refund(Fen(9900), Fen(0)), Fen(9900));
        assert_eq!(left_to_refund(Fen(9900), Fen(4000)), Fen(5900));
        assert_eq!(left_to_refund(Fen(9900), Fen(9900)), Fen::ZERO);
        assert_eq!(left_to_refund(Fen(9900), Fen(10_000)), Fen::ZERO, "never negative");
        assert!(may_refund(Fen(1), Fen(5900)));
        assert!(may_refund(Fen(5900), Fen(5900)));
        assert!(!may_refund(Fen(5901), Fen(5900)));
        assert!(!may_refund(Fen::ZERO, Fen(5900)));
        assert!(!may_refund(Fen(-1), Fen(5900)));
        assert!(!may_refund(Fen(1), Fen::ZERO));
    }

    #[test]
    fn only_granted_requests_up_to_the_limit_approve_themselves() {
        let granted = |fen| Decision { eligible: true, amount: Fen(fen), rule: Localized::default() };
        let limit = Fen(20_000);
        assert!(approves_itself(&granted(1), limit));
        assert!(approves_itself(&granted(20_000), limit), "the limit itself is within it");
        assert!(!approves_itself(&granted(20_001), limit));
        assert!(!approves_itself(&granted(0), limit), "nothing to send");
        assert!(!approves_itself(&Decision { eligible: false, ..granted(100) }, limit), "staff decide");
        assert!(!approves_itself(&granted(100), Fen::ZERO), "a limit of 0 turns it off");
    }

    const T0: i64 = 1_800_000_000;

    fn case<'a>(kind: ProductKind, paid: i64, now: i64, consumption: &'a Consumption) -> Case<'a> {
        Case {
            kind,
            terms: RefundTerms::default(),
            paid: Fen(paid),
            refunded: Fen::ZERO,
            paid_at: T0,
            now,
            consumption,
            settings: PolicySettings::default(),
        }
    }

    fn verdict(d: Decision) -> (bool, i64) {
        (d.eligible, d.amount.0)
    }

    #[test]
    fn recorded_window_and_threshold_edges() {
        let used = |pct| Consumption { consumed_pct: pct, ..Default::default() };
        let table: &[(i64, i64, (bool, i64))] = &[
            (T0, 0, (true, 19900)),
            (T0 + 7 * DAY - 1, 19, (true, 19900)),
            (T0 + 7 * DAY, 0, (false, 0)),
            (T0 + 3 * DAY, 20, (false, 0)),
            (T0 + 3 * DAY, 19, (true, 19900)),
            (T0 + 30 * DAY, 100, (false, 0)),
        ];
        for (now, pct, expected) in table {
            let c = used(*pct);
            for kind in [ProductKind::Recorded, ProductKind::Audio, ProductKind::Article] {
                assert_eq!(
                    verdict(decide(&case(kind, 19900, *now, &c))),
                    *expected,
                    "{kind:?} at +{}s, {pct}%",
                    now - T0
                );
            }
        }
        let d = decide(&case(ProductKind::Recorded, 19900, T0, &used(5)));
        assert!(d.rule.zh.contains("7 天") && d.rule.en.contains("7 days"));
    }

    #[test]
    fn custom_terms_and_non_refundable_mark() {
        let c = Consumption::default();
        let mut k = case(ProductKind::Recorded, 1000, T0 + 10 * DAY, &c);
        k.terms = RefundTerms { window_days: 14, max_consumed_pct: 50, non_refundable: false };
        assert_eq!(verdict(decide(&k)), (true, 1000));
        k.terms.non_refundable = true;
        let d = decide(&k);
        assert_eq!(verdict(d.clone()), (false, 0));
        assert!(d.rule.zh.contains("不支持退款"));
    }

    #[test]
    fn coupons_zero_amounts_and_earlier_refunds() {
        let c = Consumption::default();
        // A coupon made it ¥159.20: that, not the list price, comes back.
        assert_eq!(verdict(decide(&case(ProductKind::Recorded, 15920, T0, &c))), (true, 15920));
        assert_eq!(verdict(decide(&case(ProductKind::Recorded, 0, T0, &c))), (false, 0));
        let mut k = case(ProductKind::Recorded, 15920, T0, &c);
        k.refunded = Fen(5000);
        assert_eq!(verdict(decide(&k)), (true, 10920), "earlier partial refunds subtracted");
        k.refunded = Fen(15920);
        assert_eq!(verdict(decide(&k)), (false, 0));
        k.refunded = Fen(99999);
        assert_eq!(verdict(decide(&k)), (false, 0), "never more than paid");
    }

    #[test]
    fn live_is_full_before_the_first_session_then_pro_rata() {
        let c = Consumption { live_sessions: vec![T0 + DAY, T0 + 8 * DAY, T0 + 15 * DAY], ..Default::default() };
        let at = |now| verdict(decide(&case(ProductKind::Live, 10000, now, &c)));
        assert_eq!(at(T0 + DAY - 1), (true, 10000));
        assert_eq!(at(T0 + DAY), (true, 6666), "1 of 3 held: two thirds, rounded down to the fen");
        assert_eq!(at(T0 + 8 * DAY), (true, 3333));
        assert_eq!(at(T0 + 15 * DAY), (false, 0));
        let mut k = case(ProductKind::Live, 10000, T0 + 2 * DAY, &c);
        k.refunded = Fen(5000);
        assert_eq!(verdict(decide(&k)), (true, 5000), "capped by what is left to refund");
    }

    #[test]
    fn membership_keeps_the_current_period() {
        let c = Consumption { membership_period_days: 30, membership_periods: 12, ..Default::default() };
        let at = |now| verdict(decide(&case(ProductKind::Membership, 69800, now, &c)));
        assert_eq!(at(T0), (true, 63983), "11 of 12 periods: 69800 × 11 / 12 = 63983.3");
        assert_eq!(at(T0 + 30 * DAY - 1), (true, 63983));
        assert_eq!(at(T0 + 30 * DAY), (true, 58166));
        assert_eq!(at(T0 + 360 * DAY), (false, 0));
        let one = Consumption { membership_period_days: 365, membership_periods: 1, ..Default::default() };
        assert_eq!(
            verdict(decide(&case(ProductKind::Membership, 69800, T0, &one))),
            (false, 0),
            "a single current period is kept"
        );
        let mut k = case(ProductKind::Membership, 36500, T0 + 100 * DAY, &one);
        k.settings.membership_refund_current_period = true;
        assert_eq!(verdict(decide(&k)), (true, 26500), "265 days left of 365 when configured");
    }

    #[test]
    fn a_membership_bought_ahead_is_refunded_in_full_until_it_starts() {
        let c = Consumption { membership_period_days: 30, membership_periods: 1, ..Default::default() };
        let ahead = case(ProductKind::Membership, 3000, T0 - 1, &c);
        let d = decide(&ahead);
        assert_eq!((d.eligible, d.amount), (true, Fen(3000)), "{}", d.rule.en);
        let started = case(ProductKind::Membership, 3000, T0, &c);
        assert!(!decide(&started).eligible, "from its first second the current period is kept");
        let mut pro_rata = case(ProductKind::Membership, 3000, T0 + 10 * DAY, &c);
        pro_rata.settings.membership_refund_current_period = true;
        assert_eq!(decide(&pro_rata).amount, Fen(2000), "20 of 30 days left");
    }

    #[test]
    fn consultation_until_24_hours_before() {
        let slot = T0 + 3 * DAY;
        let c = Consumption { consultation_slot: Some(slot), ..Default::default() };
        let at = |now| verdict(decide(&case(ProductKind::Consultation, 50000, now, &c)));
        assert_eq!(at(slot - 24 * HOUR), (true, 50000), "exactly 24 hours before still counts");
        assert_eq!(at(slot - 24 * HOUR + 1), (false, 0));
        assert_eq!(at(slot + HOUR), (false, 0));
        let unbooked = Consumption::default();
        assert_eq!(verdict(decide(&case(ProductKind::Consultation, 50000, T0 + 100 * DAY, &unbooked))), (true, 50000));
        let mut k = case(ProductKind::Consultation, 50000, slot - 10 * HOUR, &c);
        k.settings.consultation_cancel_hours = 6;
        assert_eq!(verdict(decide(&k)), (true, 50000), "configurable");
    }

    #[test]
    fn every_decision_explains_itself_in_both_languages() {
        let c = Consumption {
            live_sessions: vec![T0],
            membership_period_days: 30,
            membership_periods: 1,
            ..Default::default()
        };
        for kind in ProductKind::ALL.iter().copied() {
            for now in [T0, T0 + 400 * DAY] {
                let d = decide(&case(kind, 1000, now, &c));
                assert!(!d.rule.zh.is_empty() && !d.rule.en.is_empty(), "{kind:?}");
            }
        }
    }
}
