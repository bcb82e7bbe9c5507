//! What staff type into the coupon form, checked. Errors are (field, translation key) pairs shown
//! beside the fields, as in `course_form`.

use super::Fen;
use super::coupon::CouponValue;
use super::course_form::FieldError;
use super::time::{parse_shanghai_datetime, shanghai_datetime_value};

/// The form's fields as typed (amounts in yuan, times as `datetime-local` in Beijing time, the
/// flag as "1").
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawCoupon {
    pub code: String,
    pub name: String,
    /// "fixed" (so many yuan off) or "percent".
    pub kind: String,
    pub value: String,
    pub min_spend: String,
    /// A course id, or empty for every course.
    pub course: String,
    pub valid_from: String,
    pub valid_until: String,
    pub total_limit: String,
    pub per_user_limit: String,
    pub new_buyers_only: String,
}

/// What may still change once a coupon exists: its name, window and limits. The code, the value
/// and the course stay as buyers were shown them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CouponTerms {
    pub name: String,
    pub valid_from: i64,
    pub valid_until: i64,
    pub total_limit: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub new_buyers_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCouponInput {
    pub code: String,
    pub value: CouponValue,
    pub min_spend: Fen,
    pub terms: CouponTerms,
}

/// The most a fixed coupon takes off, and the most a minimum spend asks: ¥1,000,000.
const MAX_FEN: i64 = 100_000_000;

impl RawCoupon {
    /// A new coupon's defaults: 10% off, one per buyer, for 30 days from now.
    pub fn blank(now: i64) -> RawCoupon {
        RawCoupon {
            kind: "percent".into(),
            per_user_limit: "1".into(),
            valid_from: shanghai_datetime_value(now),
            valid_until: shanghai_datetime_value(now + 30 * 86_400),
            ..RawCoupon::default()
        }
    }

    /// The edit form filled in with a coupon's terms.
    pub fn from_terms(t: &CouponTerms) -> RawCoupon {
        let limit = |l: Option<i64>| l.map(|n| n.to_string()).unwrap_or_default();
        RawCoupon {
            name: t.name.clone(),
            valid_from: shanghai_datetime_value(t.valid_from),
            valid_until: shanghai_datetime_value(t.valid_until),
            total_limit: limit(t.total_limit),
            per_user_limit: limit(t.per_user_limit),
            new_buyers_only: if t.new_buyers_only { "1".into() } else { String::new() },
            ..RawCoupon::default()
        }
    }
}

/// A code buyers type on a phone: 3 to 32 letters, digits, `-` or `_`, kept in capitals (the pay
/// page compares in capitals too).
pub fn normalize_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    ((3..=32).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .then_some(code)
}

/// A new coupon: the code, what it takes off, from what spend, and its terms.
pub fn parse_new(raw: &RawCoupon, now: i64) -> Result<NewCouponInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let code = normalize_code(&raw.code);
    if code.is_none() {
        errors.push(("code", "err_coupon_code_format"));
    }
    let value = match (raw.kind.trim(), raw.value.trim()) {
        ("fixed", v) => Fen::parse_yuan(v).filter(|f| f.0 > 0 && f.0 <= MAX_FEN).map(CouponValue::Fixed),
        ("percent", v) => v.parse::<i64>().ok().filter(|p| (1..=100).contains(p)).map(CouponValue::PercentOff),
        _ => None,
    };
    if value.is_none() {
        errors.push(("value", if raw.kind.trim() == "fixed" { "err_coupon_fixed" } else { "err_coupon_percent" }));
    }
    let min_spend = match raw.min_spend.trim() {
        "" => Some(Fen::ZERO),
        v => Fen::parse_yuan(v).filter(|f| f.0 >= 0 && f.0 <= MAX_FEN),
    };
    if min_spend.is_none() {
        errors.push(("min_spend", "err_amount_format"));
    }
    let terms = parse_terms(raw, now, true);
    match (code, value, min_spend, terms) {
        (Some(code), Some(value), Some(min_spend), Ok(terms)) if errors.is_empty() => {
            Ok(NewCouponInput { code, value, min_spend, terms })
        }
        (.., Err(more)) => {
            errors.extend(more);
            Err(errors)
        }
        _ => Err(errors),
    }
}

/// The terms from the form. An empty start is `now` for a new coupon; the end must come after
/// both the start and now (staff end a coupon early by switching it off).
pub fn parse_terms(raw: &RawCoupon, now: i64, new: bool) -> Result<CouponTerms, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = raw.name.trim().to_string();
    if name.is_empty() {
        errors.push(("name", "err_required"));
    } else if name.chars().count() > 40 {
        errors.push(("name", "err_too_long"));
    } else if name.chars().any(char::is_control) {
        errors.push(("name", "err_invalid_chars"));
    }
    let window = parse_window(&raw.valid_from, &raw.valid_until, now, new, &mut errors);
    let total_limit = limit(&raw.total_limit, 10_000_000, "total_limit", &mut errors);
    let per_user_limit = limit(&raw.per_user_limit, 1_000, "per_user_limit", &mut errors);
    let new_buyers_only = raw.new_buyers_only == "1";
    match window {
        Some((valid_from, valid_until)) if errors.is_empty() => {
            Ok(CouponTerms { name, valid_from, valid_until, total_limit, per_user_limit, new_buyers_only })
        }
        _ => Err(errors),
    }
}

/// A validity window typed as two `datetime-local` values in Beijing time: (from, until). An
/// empty start is `now` when `empty_from_is_now`; the end must come after both the start and
/// now (staff end something early by switching it off). Errors go to `valid_from`/`valid_until`.
pub fn parse_window(
    from: &str,
    until: &str,
    now: i64,
    empty_from_is_now: bool,
    errors: &mut Vec<FieldError>,
) -> Option<(i64, i64)> {
    let valid_from = match from.trim() {
        "" if empty_from_is_now => Some(now),
        v => parse_shanghai_datetime(v),
    };
    if valid_from.is_none() {
        errors.push(("valid_from", "err_datetime"));
    }
    let valid_until = match parse_shanghai_datetime(until.trim()) {
        None => {
            errors.push(("valid_until", "err_datetime"));
            None
        }
        Some(until) if until <= now || valid_from.is_some_and(|from| until <= from) => {
            errors.push(("valid_until", "err_coupon_window"));
            None
        }
        Some(until) => Some(until),
    };
    valid_from.zip(valid_until)
}

/// Empty for no limit, else a whole number from 1 to `max`.
fn limit(raw: &str, max: i64, field: &'static str, errors: &mut Vec<FieldError>) -> Option<i64> {
    match raw.trim() {
        "" => None,
        v => {
            let n = v.parse::<i64>().ok().filter(|n| (1..=max).contains(n));
            if n.is_none() {
                errors.push((field, "err_number_range"));
            }
            n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn raw() -> RawCoupon {
        RawCoupon {
            code: " new-2027 ".into(),
            name: "新人立减".into(),
            kind: "fixed".into(),
            value: "20".into(),
            min_spend: "99".into(),
            valid_until: shanghai_datetime_value(NOW + 86_400),
            per_user_limit: "1".into(),
            ..RawCoupon::default()
        }
    }

    fn fields(r: Result<NewCouponInput, Vec<FieldError>>) -> Vec<&'static str> {
        r.err().unwrap_or_default().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn a_good_form() {
        let c = parse_new(&raw(), NOW).unwrap();
        assert_eq!(c.code, "NEW-2027", "trimmed and in capitals");
        assert_eq!(c.value, CouponValue::Fixed(Fen(2000)));
        assert_eq!(c.min_spend, Fen(9900));
        assert_eq!(c.terms.valid_from, NOW, "an empty start is now");
        assert_eq!((c.terms.total_limit, c.terms.per_user_limit), (None, Some(1)));
        assert!(!c.terms.new_buyers_only);
        let pct = parse_new(&RawCoupon { kind: "percent".into(), value: "15".into(), ..raw() }, NOW).unwrap();
        assert_eq!(pct.value, CouponValue::PercentOff(15));
    }

    #[test]
    fn codes() {
        assert_eq!(normalize_code("ab"), None, "too short to type on purpose");
        assert_eq!(normalize_code("abc"), Some("ABC".into()));
        assert_eq!(normalize_code(&"A".repeat(32)), Some("A".repeat(32)));
        assert_eq!(normalize_code(&"A".repeat(33)), None);
        assert_eq!(normalize_code("优惠券"), None);
        assert_eq!(normalize_code("NEW 2027"), None);
        assert_eq!(normalize_code("a_b-c"), Some("A_B-C".into()));
    }

    #[test]
    fn values() {
        let with =
            |kind: &str, value: &str| parse_new(&RawCoupon { kind: kind.into(), value: value.into(), ..raw() }, NOW);
        assert_eq!(fields(with("fixed", "0")), ["value"]);
        assert_eq!(fields(with("fixed", "0.01")), Vec::<&str>::new());
        assert_eq!(fields(with("fixed", "1000000")), Vec::<&str>::new());
        assert_eq!(fields(with("fixed", "1000000.01")), ["value"]);
        assert_eq!(fields(with("fixed", "abc")), ["value"]);
        assert_eq!(fields(with("percent", "0")), ["value"]);
        assert_eq!(fields(with("percent", "100")), Vec::<&str>::new());
        assert_eq!(fields(with("percent", "101")), ["value"]);
        assert_eq!(fields(with("percent", "12.5")), ["value"], "whole percents");
        assert_eq!(fields(with("gift", "10")), ["value"]);
        assert_eq!(fields(parse_new(&RawCoupon { min_spend: "-1".into(), ..raw() }, NOW)), ["min_spend"]);
    }

    #[test]
    fn windows() {
        let until = |t: i64| RawCoupon { valid_until: shanghai_datetime_value(t), ..raw() };
        assert_eq!(fields(parse_new(&until(NOW), NOW)), ["valid_until"], "ends now: never usable");
        assert_eq!(fields(parse_new(&until(NOW + 60), NOW)), Vec::<&str>::new());
        let later_start = RawCoupon {
            valid_from: shanghai_datetime_value(NOW + 7200),
            valid_until: shanghai_datetime_value(NOW + 3600),
            ..raw()
        };
        assert_eq!(fields(parse_new(&later_start, NOW)), ["valid_until"], "ends before it starts");
        assert_eq!(fields(parse_new(&RawCoupon { valid_until: String::new(), ..raw() }, NOW)), ["valid_until"]);
        assert_eq!(fields(parse_new(&RawCoupon { valid_from: "明天".into(), ..raw() }, NOW)), ["valid_from"]);
        let editing = RawCoupon { valid_from: String::new(), ..raw() };
        assert!(parse_terms(&editing, NOW, false).is_err(), "an edit keeps its start; empty is not now");
    }

    #[test]
    fn limits_and_names() {
        let with = |total: &str, per: &str| {
            parse_new(&RawCoupon { total_limit: total.into(), per_user_limit: per.into(), ..raw() }, NOW)
        };
        assert_eq!(fields(with("", "")), Vec::<&str>::new(), "both may be unlimited");
        assert_eq!(fields(with("0", "1")), ["total_limit"]);
        assert_eq!(fields(with("10000000", "1000")), Vec::<&str>::new());
        assert_eq!(fields(with("10000001", "1001")), ["total_limit", "per_user_limit"]);
        assert_eq!(fields(parse_new(&RawCoupon { name: " ".into(), ..raw() }, NOW)), ["name"]);
        assert_eq!(fields(parse_new(&RawCoupon { name: "名".repeat(41), ..raw() }, NOW)), ["name"]);
        assert_eq!(fields(parse_new(&RawCoupon { name: "a\u{7}b".into(), ..raw() }, NOW)), ["name"]);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let all_bad = RawCoupon {
            code: "x".into(),
            name: String::new(),
            kind: "fixed".into(),
            value: String::new(),
            min_spend: "x".into(),
            valid_from: "x".into(),
            valid_until: "x".into(),
            total_limit: "x".into(),
            per_user_limit: "x".into(),
            ..RawCoupon::default()
        };
        let mut got = fields(parse_new(&all_bad, NOW));
        got.sort_unstable();
        assert_eq!(
            got,
            ["code", "min_spend", "name", "per_user_limit", "total_limit", "valid_from", "valid_until", "value"]
        );
    }

    #[test]
    fn the_edit_form_round_trips() {
        let terms = parse_new(&RawCoupon { total_limit: "500".into(), new_buyers_only: "1".into(), ..raw() }, NOW)
            .unwrap()
            .terms;
        assert_eq!(parse_terms(&RawCoupon::from_terms(&terms), NOW, false), Ok(terms));
    }
}
