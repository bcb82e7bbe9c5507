//! Consultations (一对一咨询, #19): a slot is held while its order is pending, taken when paid,
//! and may be moved up to the cancellation limit before it starts.

use super::order::OrderStatus;

const HOUR: i64 = 3_600;

/// Where a slot stands, from the order that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Free,
    /// Held by a pending order: a payment may still arrive until the order is closed, so the
    /// hold lasts until then, not merely until the payment deadline.
    Held,
    Booked,
}

impl Slot {
    /// No order, or one closed or refunded in full: free again.
    pub fn of(order: Option<OrderStatus>) -> Slot {
        match order {
            Some(OrderStatus::Pending) => Slot::Held,
            Some(status) if status.grants_access() => Slot::Booked,
            _ => Slot::Free,
        }
    }
}

/// Whether a buyer may pick the slot starting at `starts_at`: free, and still ahead of the
/// cancellation limit (a slot too close to book could not be cancelled either).
pub fn may_pick(slot: Slot, starts_at: i64, now: i64, cancel_hours: i64) -> bool {
    slot == Slot::Free && now < starts_at - cancel_hours.max(0) * HOUR
}

/// Moving a booked slot: allowed until the cancellation limit before it starts.
pub fn may_reschedule(starts_at: i64, now: i64, cancel_hours: i64) -> bool {
    now <= starts_at - cancel_hours.max(0) * HOUR
}

/// The meeting details show from `before_secs` before the start until the slot ends.
pub fn shows_meeting(starts_at: i64, minutes: i64, now: i64, before_secs: i64) -> bool {
    now >= starts_at - before_secs && now < starts_at + minutes * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_800_000_000;

    #[test]
    fn slots_are_picked_free_and_ahead_of_the_limit() {
        let early = START - 48 * HOUR;
        assert!(may_pick(Slot::Free, START, early, 24));
        assert!(!may_pick(Slot::Booked, START, early, 24), "never double-booked");
        assert!(!may_pick(Slot::Held, START, early, 24), "held by a pending order");
        assert_eq!(Slot::of(Some(OrderStatus::Pending)), Slot::Held, "held until the order is closed");
        assert_eq!(Slot::of(Some(OrderStatus::Closed)), Slot::Free, "its order closed unpaid");
        assert_eq!(Slot::of(Some(OrderStatus::Refunded)), Slot::Free, "refunded in full");
        assert_eq!(Slot::of(Some(OrderStatus::PartiallyRefunded)), Slot::Booked);
        assert_eq!(Slot::of(Some(OrderStatus::Paid)), Slot::Booked);
        assert_eq!(Slot::of(None), Slot::Free);
        assert!(!may_pick(Slot::Free, START, START - 24 * HOUR, 24), "too close to cancel, so too close to book");
        assert!(may_pick(Slot::Free, START, START - 24 * HOUR - 1, 24));
    }

    #[test]
    fn rescheduling_and_meeting_details_edges() {
        assert!(may_reschedule(START, START - 24 * HOUR, 24), "exactly at the limit");
        assert!(!may_reschedule(START, START - 24 * HOUR + 1, 24));
        assert!(may_reschedule(START, START - 1, 0), "no limit: until it starts");
        assert!(!shows_meeting(START, 60, START - 16 * 60, 15 * 60));
        assert!(shows_meeting(START, 60, START - 15 * 60, 15 * 60));
        assert!(shows_meeting(START, 60, START + 59 * 60, 15 * 60));
        assert!(!shows_meeting(START, 60, START + 60 * 60, 15 * 60), "over");
    }
}
