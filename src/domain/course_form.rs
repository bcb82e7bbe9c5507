//! What staff type into the course editor, checked: every rule a course must satisfy before the
//! shop sells it. Errors are (field, translation key) pairs shown beside the fields.

use super::membership::{Period, Scope};
use super::time::{parse_shanghai_datetime, shanghai_datetime_value};
use super::{Fen, ProductKind};
use crate::domain::product::Delivery;

/// The editor's fields as typed (prices in yuan, flags as "1").
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawCourse {
    pub slug: String,
    pub kind: String,
    pub category_id: String,
    pub instructor_id: String,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    pub cover_url: String,
    pub price: String,
    pub original_price: String,
    /// When the limited-time price ends, as `datetime-local` in Beijing time; empty for none.
    pub sale_ends_at: String,
    pub outcomes: String,
    pub audience: String,
    pub non_refundable: String,
    pub refund_window_days: String,
    pub refund_max_consumed_pct: String,
    /// Membership products: month, quarter or year, and all or selected courses.
    pub membership_period: String,
    pub membership_scope: String,
    /// none, free, only or price; with price, the member price in yuan.
    pub member_rule: String,
    pub member_price: String,
    pub consult_minutes: String,
    pub featured: String,
    pub position: String,
    /// The course's own commission (percent); empty for the shop's default.
    pub commission: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CourseInput {
    pub slug: String,
    pub kind: ProductKind,
    pub category_id: super::CategoryId,
    pub instructor_id: super::InstructorId,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    pub cover_url: String,
    pub price_fen: i64,
    pub original_price_fen: i64,
    pub sale_ends_at: Option<i64>,
    pub outcomes: String,
    pub audience: String,
    pub non_refundable: bool,
    pub refund_window_days: i64,
    pub refund_max_consumed_pct: i64,
    /// Derived from the period (kept for older readers of the column).
    pub membership_days: Option<i64>,
    pub membership_period: Option<&'static str>,
    pub membership_scope: &'static str,
    pub member_rule: &'static str,
    pub member_price_fen: Option<i64>,
    pub consult_minutes: Option<i64>,
    pub featured: bool,
    pub position: i64,
    /// Basis points; None: the shop's default commission applies.
    pub commission_bp: Option<i64>,
}

impl RawCourse {
    /// The form filled in with a saved course.
    pub fn from_input(c: &CourseInput) -> RawCourse {
        let flag = |b: bool| if b { "1".to_string() } else { String::new() };
        RawCourse {
            slug: c.slug.clone(),
            kind: c.kind.as_str().to_string(),
            category_id: c.category_id.to_string(),
            instructor_id: c.instructor_id.to_string(),
            title: c.title.clone(),
            subtitle: c.subtitle.clone(),
            description: c.description.clone(),
            cover_url: c.cover_url.clone(),
            price: Fen(c.price_fen).yuan_string(),
            original_price: Fen(c.original_price_fen).yuan_string(),
            sale_ends_at: c.sale_ends_at.map(shanghai_datetime_value).unwrap_or_default(),
            outcomes: c.outcomes.clone(),
            audience: c.audience.clone(),
            non_refundable: flag(c.non_refundable),
            refund_window_days: c.refund_window_days.to_string(),
            refund_max_consumed_pct: c.refund_max_consumed_pct.to_string(),
            membership_period: c.membership_period.unwrap_or_default().to_string(),
            membership_scope: c.membership_scope.to_string(),
            member_rule: c.member_rule.to_string(),
            member_price: c.member_price_fen.map(|f| Fen(f).yuan_string()).unwrap_or_default(),
            consult_minutes: c.consult_minutes.map(|m| m.to_string()).unwrap_or_default(),
            featured: flag(c.featured),
            position: c.position.to_string(),
            commission: c
                .commission_bp
                .and_then(|bp| u32::try_from(bp).ok())
                .and_then(super::commission::Rate::from_bp)
                .map(super::commission::Rate::percent_string)
                .unwrap_or_default(),
        }
    }

    /// A new course's defaults: the shop's usual refund terms.
    pub fn blank() -> RawCourse {
        RawCourse {
            kind: "recorded".into(),
            membership_period: "month".into(),
            membership_scope: "selected".into(),
            member_rule: "none".into(),
            refund_window_days: "7".into(),
            refund_max_consumed_pct: "20".into(),
            position: "0".into(),
            ..RawCourse::default()
        }
    }
}

pub type FieldError = (&'static str, &'static str);

fn text(value: &str, max: usize, field: &'static str, required: bool, errors: &mut Vec<FieldError>) -> String {
    let value = value.trim().to_string();
    if required && value.is_empty() {
        errors.push((field, "err_required"));
    } else if value.chars().count() > max {
        errors.push((field, "err_too_long"));
    } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        errors.push((field, "err_invalid_chars"));
    }
    value
}

fn number(value: &str, range: std::ops::RangeInclusive<i64>, field: &'static str, errors: &mut Vec<FieldError>) -> i64 {
    match value.trim().parse::<i64>() {
        Ok(n) if range.contains(&n) => n,
        _ => {
            errors.push((field, "err_number_range"));
            0
        }
    }
}

fn money(value: &str, field: &'static str, errors: &mut Vec<FieldError>) -> i64 {
    match Fen::parse_yuan(value.trim()) {
        Some(f) if f.0 >= 0 && f.0 <= 100_000_000 => f.0,
        _ => {
            errors.push((field, "err_amount_format"));
            0
        }
    }
}

/// Lower-case letters, digits and dashes, 2 to 60 long, not starting or ending with a dash: it
/// becomes the course's URL, which must never change once shared.
pub fn is_valid_slug(slug: &str) -> bool {
    (2..=60).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// A limited-time price needs a discount to end and an end still to come.
fn sale_end(raw: &str, discounted: bool, now: i64, errors: &mut Vec<FieldError>) -> Option<i64> {
    if raw.trim().is_empty() {
        return None;
    }
    match parse_shanghai_datetime(raw.trim()) {
        None => errors.push(("sale_ends_at", "err_datetime")),
        Some(_) if !discounted => errors.push(("sale_ends_at", "err_sale_needs_discount")),
        Some(at) if at <= now => errors.push(("sale_ends_at", "err_sale_end_past")),
        Some(at) => return Some(at),
    }
    None
}

/// What members get on this course: never anything on a membership or a consultation, only a
/// member price on a bundle (its courses open to members one by one); a member price must be
/// below the price.
fn member_terms(
    raw: &RawCourse,
    kind: Option<ProductKind>,
    price_fen: i64,
    errors: &mut Vec<FieldError>,
) -> (&'static str, Option<i64>) {
    let rule = raw.member_rule.trim();
    match kind.map(ProductKind::delivery) {
        Some(Delivery::MemberTerm | Delivery::Session) => return ("none", None),
        Some(Delivery::Courses) if rule != "price" => return ("none", None),
        Some(Delivery::Lessons | Delivery::Courses) | None => {}
    }
    match rule {
        "free" => ("free", None),
        "only" => ("only", None),
        "price" => {
            let member = Fen::parse_yuan(raw.member_price.trim()).map(|f| f.0).filter(|f| (0..price_fen).contains(f));
            if member.is_none() {
                errors.push(("member_price", "err_member_price"));
            }
            ("price", member)
        }
        _ => ("none", None),
    }
}

/// Checks the editor's fields; `now` dates the limited-time price's end.
pub fn validate(raw: &RawCourse, now: i64) -> Result<CourseInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let slug = raw.slug.trim().to_string();
    if !is_valid_slug(&slug) {
        errors.push(("slug", "err_slug"));
    }
    let kind = ProductKind::parse(raw.kind.trim());
    if kind.is_none() {
        errors.push(("kind", "err_required"));
    }
    let category_id = super::CategoryId(raw.category_id.trim().parse().unwrap_or(0));
    if category_id.0 <= 0 {
        errors.push(("category_id", "err_required"));
    }
    let instructor_id = super::InstructorId(raw.instructor_id.trim().parse().unwrap_or(0));
    if instructor_id.0 <= 0 {
        errors.push(("instructor_id", "err_required"));
    }
    let price_fen = money(&raw.price, "price", &mut errors);
    let original_price_fen = if raw.original_price.trim().is_empty() {
        price_fen
    } else {
        money(&raw.original_price, "original_price", &mut errors)
    };
    if original_price_fen < price_fen {
        errors.push(("original_price", "err_original_below_price"));
    }
    let sale_ends_at = sale_end(&raw.sale_ends_at, price_fen < original_price_fen, now, &mut errors);
    let delivery = kind.map(ProductKind::delivery);
    let plan = match delivery {
        Some(Delivery::MemberTerm) => match Period::parse(raw.membership_period.trim()) {
            Some(period) => Some(period),
            None => {
                errors.push(("membership_period", "err_required"));
                None
            }
        },
        Some(Delivery::Lessons | Delivery::Session | Delivery::Courses) | None => None,
    };
    let (member_rule, member_price_fen) = member_terms(raw, kind, price_fen, &mut errors);
    let consult_minutes = match delivery {
        Some(Delivery::Session) => Some(number(&raw.consult_minutes, 5..=600, "consult_minutes", &mut errors)),
        Some(Delivery::Lessons | Delivery::MemberTerm | Delivery::Courses) | None => None,
    };
    let input = CourseInput {
        kind: kind.unwrap_or(ProductKind::Recorded),
        category_id,
        instructor_id,
        title: text(&raw.title, 60, "title", true, &mut errors),
        subtitle: text(&raw.subtitle, 120, "subtitle", false, &mut errors),
        description: text(&raw.description, 20_000, "description", true, &mut errors),
        cover_url: text(&raw.cover_url, 500, "cover_url", false, &mut errors),
        price_fen,
        original_price_fen,
        sale_ends_at,
        outcomes: text(&raw.outcomes, 2000, "outcomes", false, &mut errors),
        audience: text(&raw.audience, 2000, "audience", false, &mut errors),
        non_refundable: raw.non_refundable == "1",
        refund_window_days: number(&raw.refund_window_days, 0..=365, "refund_window_days", &mut errors),
        refund_max_consumed_pct: number(&raw.refund_max_consumed_pct, 0..=100, "refund_max_consumed_pct", &mut errors),
        membership_days: plan.map(|p| i64::from(p.months()) * 30),
        membership_period: plan.map(Period::as_str),
        membership_scope: Scope::parse(raw.membership_scope.trim()).as_str(),
        member_rule,
        member_price_fen,
        consult_minutes,
        featured: raw.featured == "1",
        position: if raw.position.trim().is_empty() {
            0
        } else {
            number(&raw.position, -9999..=9999, "position", &mut errors)
        },
        commission_bp: if raw.commission.trim().is_empty() {
            None
        } else {
            match super::commission::Rate::parse_percent(&raw.commission) {
                Some(rate) => Some(i64::from(rate.bp())),
                None => {
                    errors.push(("commission", "err_percent"));
                    None
                }
            }
        },
        slug,
    };
    if errors.is_empty() { Ok(input) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30 12:00 Beijing time.
    const NOW: i64 = 1_796_011_200;

    fn good() -> RawCourse {
        RawCourse {
            slug: "rust-basics".into(),
            kind: "recorded".into(),
            category_id: "1".into(),
            instructor_id: "2".into(),
            title: "Rust 入门".into(),
            description: "从零开始".into(),
            price: "99".into(),
            original_price: "199.00".into(),
            refund_window_days: "7".into(),
            refund_max_consumed_pct: "20".into(),
            ..RawCourse::default()
        }
    }

    fn fields(raw: &RawCourse) -> Vec<&'static str> {
        validate(raw, NOW).err().unwrap_or_default().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn a_complete_course_passes_with_prices_in_fen() {
        let input = validate(&good(), NOW).unwrap();
        assert_eq!((input.price_fen, input.original_price_fen), (9900, 19900));
        assert_eq!((input.membership_days, input.consult_minutes), (None, None));
        let mut free = good();
        free.price = "0".into();
        free.original_price = String::new();
        assert_eq!(validate(&free, NOW).map(|c| (c.price_fen, c.original_price_fen)), Ok((0, 0)));
    }

    #[test]
    fn a_saved_course_fills_the_form_it_came_from() {
        let input = validate(&good(), NOW).unwrap();
        assert_eq!(validate(&RawCourse::from_input(&input), NOW), Ok(input));
    }

    #[test]
    fn slugs_are_url_safe() {
        for ok in ["ab", "rust-101", "a1"] {
            assert!(is_valid_slug(ok), "{ok}");
        }
        for bad in ["", "a", "Rust", "rust 101", "-rust", "rust-", "课程", "../x"] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut raw = good();
        raw.price = "-1".into();
        assert_eq!(fields(&raw), vec!["price"]);
        let mut raw = good();
        raw.original_price = "50".into();
        assert_eq!(fields(&raw), vec!["original_price"]);
        let mut raw = good();
        raw.refund_max_consumed_pct = "101".into();
        raw.title = " ".into();
        assert_eq!(fields(&raw), vec!["title", "refund_max_consumed_pct"]);
        let mut raw = good();
        raw.kind = "membership".into();
        assert_eq!(fields(&raw), vec!["membership_period"], "a membership needs its period");
        raw.membership_period = "year".into();
        raw.member_rule = "free".into();
        let plan = validate(&raw, NOW).unwrap();
        assert_eq!(
            (plan.membership_period, plan.membership_scope, plan.member_rule),
            (Some("year"), "selected", "none")
        );
        assert_eq!(validate(&RawCourse::from_input(&plan), NOW), Ok(plan), "the form shows it back");
        let mut raw = good();
        raw.member_rule = "price".into();
        assert_eq!(fields(&raw), vec!["member_price"], "a member price is needed");
        raw.member_price = "99".into();
        assert_eq!(fields(&raw), vec!["member_price"], "and below the price");
        raw.member_price = "49.5".into();
        let input = validate(&raw, NOW).unwrap();
        assert_eq!((input.member_rule, input.member_price_fen), ("price", Some(4950)));
        assert_eq!(validate(&RawCourse::from_input(&input), NOW), Ok(input));
        assert!(fields(&RawCourse::default()).len() >= 6, "an empty form names every required field");
    }

    #[test]
    fn a_limited_time_price_ends_in_the_future_on_a_discount() {
        let mut raw = good();
        raw.sale_ends_at = "2026-12-01T20:00".into();
        let input = validate(&raw, NOW).unwrap();
        assert_eq!(input.sale_ends_at, parse_shanghai_datetime("2026-12-01T20:00"));
        assert_eq!(validate(&RawCourse::from_input(&input), NOW), Ok(input), "the form shows it back");
        raw.sale_ends_at = "2026-11-30T12:00".into();
        assert_eq!(validate(&raw, NOW), Err(vec![("sale_ends_at", "err_sale_end_past")]), "the very second is past");
        raw.sale_ends_at = "明天".into();
        assert_eq!(validate(&raw, NOW), Err(vec![("sale_ends_at", "err_datetime")]));
        raw.sale_ends_at = "2026-12-01T20:00".into();
        raw.original_price = "99".into();
        assert_eq!(validate(&raw, NOW), Err(vec![("sale_ends_at", "err_sale_needs_discount")]));
        raw.sale_ends_at = " ".into();
        assert_eq!(validate(&raw, NOW).map(|c| c.sale_ends_at), Ok(None));
    }
}
