//! Complaints: categories, states, numbers and the first-reply clock (seed 004: every complaint
//! must reach the shop, and be answered, before it reaches the platform).

use super::order::{looks_like_order_no, new_order_no};

pub const CATEGORIES: [&str; 6] = ["course_quality", "refund", "payment", "account", "content_report", "other"];

pub fn category_label_key(code: &str) -> &'static str {
    match code {
        "course_quality" => "complaint_cat_course_quality",
        "refund" => "complaint_cat_refund",
        "payment" => "complaint_cat_payment",
        "account" => "complaint_cat_account",
        "content_report" => "complaint_cat_content_report",
        _ => "complaint_cat_other",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintStatus {
    /// Waiting for the shop.
    Open,
    /// The shop replied; waiting for the learner.
    Answered,
    Resolved,
}

impl ComplaintStatus {
    pub const ALL: [ComplaintStatus; 3] = [ComplaintStatus::Open, ComplaintStatus::Answered, ComplaintStatus::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintStatus::Open => "open",
            ComplaintStatus::Answered => "answered",
            ComplaintStatus::Resolved => "resolved",
        }
    }

    pub fn parse(value: &str) -> Option<ComplaintStatus> {
        ComplaintStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            ComplaintStatus::Open => "complaint_status_open",
            ComplaintStatus::Answered => "complaint_status_answered",
            ComplaintStatus::Resolved => "complaint_status_resolved",
        }
    }
}

impl TryFrom<String> for ComplaintStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        ComplaintStatus::parse(&value).ok_or_else(|| format!("complaint status {value}"))
    }
}

/// `C` and an order-style number.
pub fn new_complaint_no(now: i64) -> String {
    format!("C{}", new_order_no(now))
}

pub fn looks_like_complaint_no(value: &str) -> bool {
    value.strip_prefix('C').is_some_and(looks_like_order_no)
}

/// Where a complaint stands against its first-reply deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    /// Answered in time, or resolved.
    Met,
    /// No reply yet; this many seconds are left.
    Due(i64),
    /// No reply and the deadline has passed by this many seconds.
    Overdue(i64),
    /// Replied, but after the deadline.
    Late,
}

pub fn sla(due: i64, first_replied_at: Option<i64>, now: i64) -> Sla {
    match first_replied_at {
        Some(at) if at <= due => Sla::Met,
        Some(_) => Sla::Late,
        None if now <= due => Sla::Due(due - now),
        None => Sla::Overdue(now - due),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reply_clock() {
        let due = 1_000;
        assert_eq!(sla(due, None, 400), Sla::Due(600));
        assert_eq!(sla(due, None, 1_000), Sla::Due(0));
        assert_eq!(sla(due, None, 1_001), Sla::Overdue(1));
        assert_eq!(sla(due, Some(1_000), 5_000), Sla::Met);
        assert_eq!(sla(due, Some(1_001), 5_000), Sla::Late);
    }

    #[test]
    fn numbers_and_states() {
        let no = new_complaint_no(1_795_278_600);
        assert!(looks_like_complaint_no(&no) && !looks_like_complaint_no(&no[1..]), "{no}");
        for s in ComplaintStatus::ALL {
            assert_eq!(ComplaintStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(category_label_key("nonsense"), "complaint_cat_other");
    }
}
