//! Memberships (会员, #19): a period of access that a purchase starts or extends. Periods are
//! calendar months in Beijing time (a month from 31 January ends on the last day of February), and
//! access lasts up to the end's very second.

use time::{Date, Month, OffsetDateTime, UtcOffset};

use super::{Fen, ProductKind};
use crate::domain::product::Delivery;

const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month,
    Quarter,
    Year,
}

impl Period {
    pub fn months(self) -> u32 {
        match self {
            Period::Month => 1,
            Period::Quarter => 3,
            Period::Year => 12,
        }
    }

    pub fn parse(value: &str) -> Option<Period> {
        match value {
            "month" => Some(Period::Month),
            "quarter" => Some(Period::Quarter),
            "year" => Some(Period::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }
}

/// Which courses a membership opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every course sold on its own (not memberships or consultations).
    All,
    /// The courses marked for members (`MemberRule::Free` or `Only`).
    Selected,
}

impl Scope {
    pub fn parse(value: &str) -> Scope {
        if value == "all" { Scope::All } else { Scope::Selected }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Selected => "selected",
        }
    }
}

/// A membership product: how long one purchase lasts and what it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub period: Period,
    pub scope: Scope,
}

/// What members get on a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberRule {
    #[default]
    None,
    /// 会员免费: members learn it free; others may buy it.
    Free,
    /// 会员专享: only members learn it; it is not sold on its own.
    Only,
    /// 会员价: members pay this price.
    Price(Fen),
}

impl MemberRule {
    /// From the stored word and member price; a price rule without a price is no rule.
    pub fn from_parts(rule: &str, price: Option<i64>) -> MemberRule {
        match (rule, price) {
            ("free", _) => MemberRule::Free,
            ("only", _) => MemberRule::Only,
            ("price", Some(fen)) if fen >= 0 => MemberRule::Price(Fen(fen)),
            _ => MemberRule::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MemberRule::None => "none",
            MemberRule::Free => "free",
            MemberRule::Only => "only",
            MemberRule::Price(_) => "price",
        }
    }

    pub fn member_price(self) -> Option<Fen> {
        match self {
            MemberRule::Price(fen) => Some(fen),
            _ => None,
        }
    }
}

/// Whether a membership of this scope opens a course of this kind and rule.
pub fn covers(scope: Scope, kind: ProductKind, rule: MemberRule) -> bool {
    if kind.delivery() != Delivery::Lessons {
        return false;
    }
    match scope {
        Scope::All => !matches!(rule, MemberRule::Price(_)),
        Scope::Selected => matches!(rule, MemberRule::Free | MemberRule::Only),
    }
}

/// What a buyer pays: the member price when they are a member and it is lower.
pub fn price_for(price: Fen, rule: MemberRule, is_member: bool) -> Fen {
    match rule {
        MemberRule::Price(member) if is_member && member < price => member,
        _ => price,
    }
}

/// `date` plus `months` calendar months, on the same day or the month's last day.
fn add_months(date: Date, months: u32) -> Date {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months as i32;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u8 + 1);
    let month = Month::try_from(month).unwrap_or(Month::January);
    let last = month.length(year);
    Date::from_calendar_date(year, month, date.day().min(last)).unwrap_or(date)
}

/// `unix` plus `count` periods, at the same Beijing time of day.
pub fn after(unix: i64, period: Period, count: u32) -> i64 {
    let Ok(start) = OffsetDateTime::from_unix_timestamp(unix).map(|t| t.to_offset(SHANGHAI)) else { return unix };
    let date = add_months(start.date(), period.months().saturating_mul(count));
    date.with_time(start.time()).assume_offset(SHANGHAI).unix_timestamp()
}

/// A purchase of `count` periods at `now`: it starts now, or at the current end when the
/// membership is still running (renewing early loses nothing). Returns (starts_at, ends_at).
pub fn extend(current_end: Option<i64>, now: i64, period: Period, count: u32) -> (i64, i64) {
    let start = current_end.filter(|end| *end > now).unwrap_or(now);
    (start, after(start, period, count))
}

/// Access lasts until the end's second: on the last day a member still learns.
pub fn is_active(ends_at: Option<i64>, now: i64) -> bool {
    ends_at.is_some_and(|end| now < end)
}

/// Days from the start to now, rounded down, for the refund engine (`Consumption`).
pub fn days_used(starts_at: i64, now: i64) -> i64 {
    (now - starts_at).max(0) / 86_400
}

/// When a renewal reminder is due: `days` before the end, once.
pub fn reminder_due(ends_at: i64, days: i64, now: i64, already_reminded: bool) -> bool {
    !already_reminded && now < ends_at && now >= ends_at - days * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_open_the_courses_they_name() {
        use ProductKind::*;
        let price = MemberRule::Price(Fen(100));
        let table = [
            (Scope::All, Recorded, MemberRule::None, true),
            (Scope::All, Live, MemberRule::Only, true),
            (Scope::All, Audio, price, false),
            (Scope::All, Membership, MemberRule::None, false),
            (Scope::All, Consultation, MemberRule::Free, false),
            (Scope::Selected, Recorded, MemberRule::None, false),
            (Scope::Selected, Article, MemberRule::Free, true),
            (Scope::Selected, Recorded, MemberRule::Only, true),
            (Scope::Selected, Recorded, price, false),
        ];
        for (scope, kind, rule, opens) in table {
            assert_eq!(covers(scope, kind, rule), opens, "{scope:?} {kind:?} {rule:?}");
        }
    }

    #[test]
    fn member_prices_apply_to_members_only_and_never_raise() {
        let rule = MemberRule::Price(Fen(4900));
        assert_eq!(price_for(Fen(9900), rule, true), Fen(4900));
        assert_eq!(price_for(Fen(9900), rule, false), Fen(9900));
        assert_eq!(price_for(Fen(3900), rule, true), Fen(3900), "a sale below the member price wins");
        assert_eq!(price_for(Fen(9900), MemberRule::Free, true), Fen(9900));
        assert_eq!(MemberRule::from_parts("price", None), MemberRule::None);
        assert_eq!(MemberRule::from_parts("price", Some(-1)), MemberRule::None);
        assert_eq!(MemberRule::from_parts("only", None), MemberRule::Only);
        assert_eq!(MemberRule::from_parts("bogus", Some(1)), MemberRule::None);
    }
    use crate::domain::time::shanghai_minutes;

    fn at(text: &str) -> i64 {
        crate::domain::time::parse_shanghai_datetime(text).unwrap()
    }

    #[test]
    fn periods_are_calendar_months_in_beijing_time() {
        let table = [
            ("2026-01-31T10:00", Period::Month, 1, "2026-02-28 10:00"),
            ("2028-01-31T10:00", Period::Month, 1, "2028-02-29 10:00"),
            ("2026-11-30T23:30", Period::Month, 1, "2026-12-30 23:30"),
            ("2026-12-15T08:00", Period::Month, 1, "2027-01-15 08:00"),
            ("2026-11-30T09:00", Period::Quarter, 1, "2027-02-28 09:00"),
            ("2026-05-31T09:00", Period::Quarter, 2, "2026-11-30 09:00"),
            ("2028-02-29T12:00", Period::Year, 1, "2029-02-28 12:00"),
        ];
        for (start, period, count, end) in table {
            assert_eq!(shanghai_minutes(after(at(start), period, count)), end, "{start} + {count} {period:?}");
        }
    }

    #[test]
    fn buying_starts_or_extends_from_the_current_end() {
        let now = at("2026-11-30T12:00");
        let (start, end) = extend(None, now, Period::Month, 1);
        assert_eq!((start, shanghai_minutes(end).as_str()), (now, "2026-12-30 12:00"), "a new membership starts now");
        let running = at("2026-12-10T08:00");
        let (start, end) = extend(Some(running), now, Period::Month, 1);
        assert_eq!(
            (start, shanghai_minutes(end).as_str()),
            (running, "2027-01-10 08:00"),
            "renewing early loses nothing"
        );
        let lapsed = at("2026-11-01T08:00");
        assert_eq!(extend(Some(lapsed), now, Period::Year, 1).0, now, "a lapsed membership starts again now");
    }

    #[test]
    fn access_lasts_through_the_last_day() {
        let end = at("2026-12-30T12:00");
        assert!(is_active(Some(end), end - 1), "the last second");
        assert!(is_active(Some(end), at("2026-12-30T00:01")), "the morning of the last day");
        assert!(!is_active(Some(end), end), "over at the end");
        assert!(!is_active(None, end), "never a member");
    }

    #[test]
    fn days_used_and_reminders() {
        let start = at("2026-11-01T10:00");
        assert_eq!(days_used(start, start + 86_399), 0);
        assert_eq!(days_used(start, start + 86_400 * 3 + 5), 3);
        assert_eq!(days_used(start, start - 10), 0);
        let end = at("2026-12-01T10:00");
        assert!(!reminder_due(end, 3, end - 4 * 86_400, false), "too early");
        assert!(reminder_due(end, 3, end - 3 * 86_400, false), "three days before");
        assert!(!reminder_due(end, 3, end - 86_400, true), "once");
        assert!(!reminder_due(end, 3, end, false), "not after the end");
        assert_eq!(Period::parse("quarter"), Some(Period::Quarter));
        assert_eq!(Period::parse(Period::Year.as_str()), Some(Period::Year));
        assert_eq!(Period::parse("week"), None);
    }
}
