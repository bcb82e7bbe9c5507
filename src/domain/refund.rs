//! Refund requests: numbers, states and the legal moves between them, and the reasons offered.

use super::order::{looks_like_order_no, new_order_no};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// Submitted, waiting for staff (or for automatic approval).
    Pending,
    /// Approved and sent to the payment provider.
    Refunding,
    Refunded,
    Rejected,
    Withdrawn,
    /// The provider refused or gave up; staff retry under the same refund number.
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 6] = [
        RefundStatus::Pending,
        RefundStatus::Refunding,
        RefundStatus::Refunded,
        RefundStatus::Rejected,
        RefundStatus::Withdrawn,
        RefundStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Refunding => "refunding",
            RefundStatus::Refunded => "refunded",
            RefundStatus::Rejected => "rejected",
            RefundStatus::Withdrawn => "withdrawn",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<RefundStatus> {
        RefundStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            RefundStatus::Pending => "refund_status_pending",
            RefundStatus::Refunding => "refund_status_refunding",
            RefundStatus::Refunded => "refund_status_refunded",
            RefundStatus::Rejected => "refund_status_rejected",
            RefundStatus::Withdrawn => "refund_status_withdrawn",
            RefundStatus::Failed => "refund_status_failed",
        }
    }

    /// Open requests block a second one on the same order.
    pub fn is_open(self) -> bool {
        matches!(self, RefundStatus::Pending | RefundStatus::Refunding | RefundStatus::Failed)
    }

    /// pending → refunding | rejected | withdrawn; refunding → refunded | failed;
    /// failed → refunding (a retry) | rejected. Nothing leaves refunded, rejected or withdrawn.
    pub fn can_become(self, next: RefundStatus) -> bool {
        use RefundStatus::*;
        matches!(
            (self, next),
            (Pending, Refunding)
                | (Pending, Rejected)
                | (Pending, Withdrawn)
                | (Refunding, Refunded)
                | (Refunding, Failed)
                | (Failed, Refunding)
                | (Failed, Rejected)
        )
    }
}

impl TryFrom<String> for RefundStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        RefundStatus::parse(&value).ok_or_else(|| format!("refund status {value}"))
    }
}

/// The reasons a learner can pick; the text box says the rest.
pub const REASONS: [&str; 6] =
    ["not_as_described", "quality", "bought_by_mistake", "duplicate", "cannot_play", "other"];

pub fn reason_label_key(code: &str) -> &'static str {
    match code {
        "not_as_described" => "refund_reason_not_as_described",
        "quality" => "refund_reason_quality",
        "bought_by_mistake" => "refund_reason_bought_by_mistake",
        "duplicate" => "refund_reason_duplicate",
        "cannot_play" => "refund_reason_cannot_play",
        "group_failed" => "refund_reason_group_failed",
        "group_late" => "refund_reason_group_late",
        _ => "refund_reason_other",
    }
}

/// `R` and an order-style number: the Shanghai date and 12 random characters.
pub fn new_refund_no(now: i64) -> String {
    format!("R{}", new_order_no(now))
}

pub fn looks_like_refund_no(value: &str) -> bool {
    value.strip_prefix('R').is_some_and(looks_like_order_no)
}

/// Share of the lessons completed, in whole percent rounded down (0 when there are none).
pub fn consumed_pct(completed: usize, total: usize) -> i64 {
    (completed.min(total) * 100).checked_div(total).map_or(0, |pct| pct as i64)
}

/// A bundle's share consumed: the lessons completed across its courses over all their lessons,
/// so finishing one short course of a long bundle is a small share of it. Each course's count
/// is held to its own lessons.
pub fn bundle_consumed_pct(courses: &[(usize, usize)]) -> i64 {
    let completed = courses.iter().map(|(done, total)| (*done).min(*total)).sum();
    let total = courses.iter().map(|(_, total)| *total).sum();
    consumed_pct(completed, total)
}

super::words::stored_word! {
    /// A step in a refund's history, as the learner's timeline shows it.
    pub enum RefundEvent {
        Submitted => "submitted",
        Approved => "approved",
        AutoApproved => "auto_approved",
        Processing => "processing",
        Refunded => "refunded",
        Rejected => "rejected",
        Withdrawn => "withdrawn",
        Failed => "failed",
        Retried => "retried",
    }
}

impl RefundEvent {
    /// The timeline's words for it (approval by staff or by the rule reads the same).
    pub fn step_key(self) -> &'static str {
        match self {
            RefundEvent::Submitted => "refund_step_submitted",
            RefundEvent::Approved | RefundEvent::AutoApproved => "refund_step_approved",
            RefundEvent::Processing => "refund_step_processing",
            RefundEvent::Refunded => "refund_step_refunded",
            RefundEvent::Rejected => "refund_step_rejected",
            RefundEvent::Withdrawn => "refund_step_withdrawn",
            RefundEvent::Failed => "refund_step_failed",
            RefundEvent::Retried => "refund_step_retried",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RefundStatus::*;

    #[test]
    fn transitions() {
        let legal = [
            (Pending, Refunding),
            (Pending, Rejected),
            (Pending, Withdrawn),
            (Refunding, Refunded),
            (Refunding, Failed),
            (Failed, Refunding),
            (Failed, Rejected),
        ];
        for from in RefundStatus::ALL {
            assert_eq!(RefundStatus::parse(from.as_str()), Some(from));
            for to in RefundStatus::ALL {
                assert_eq!(from.can_become(to), legal.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
        let open: Vec<_> = RefundStatus::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [Pending, Refunding, Failed]);
    }

    #[test]
    fn refund_numbers() {
        let no = new_refund_no(1_795_278_600);
        assert!(no.starts_with("R20261122") && no.len() == 21, "{no}");
        assert!(looks_like_refund_no(&no));
        assert!(!looks_like_refund_no(&no[1..]));
        assert!(!looks_like_refund_no("R../../etc/passwd"));
        assert!(!looks_like_refund_no(""));
    }

    #[test]
    fn consumption_share_rounds_down() {
        assert_eq!(consumed_pct(0, 0), 0);
        assert_eq!(consumed_pct(1, 5), 20);
        assert_eq!(consumed_pct(1, 6), 16);
        assert_eq!(consumed_pct(2, 3), 66);
        assert_eq!(consumed_pct(9, 3), 100);
    }

    #[test]
    fn a_bundle_counts_the_lessons_of_all_its_courses() {
        // (per course: completed, lessons) → share of the bundle
        let table: [(&[(usize, usize)], i64); 7] = [
            (&[], 0),
            (&[(0, 7), (0, 13)], 0),
            // A whole 7-lesson course of a 20-lesson bundle: 35%, not 50% (half the courses).
            (&[(7, 7), (0, 13)], 35),
            (&[(1, 7), (1, 13)], 10),
            (&[(7, 7), (13, 13)], 100),
            // A count beyond a course's lessons (lessons removed since) is held to that course.
            (&[(9, 7), (0, 13)], 35),
            // A course without lessons adds nothing either way.
            (&[(0, 0), (2, 4)], 50),
        ];
        for (courses, want) in table {
            assert_eq!(bundle_consumed_pct(courses), want, "{courses:?}");
        }
    }
}
