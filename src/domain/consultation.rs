//! Consultations (一对一咨询, #19): a slot is held while its order is pending, taken when paid,
//! and may be moved up to the cancellation limit before it starts.

const HOUR: i64 = 3_600;

/// Where a slot stands for a buyer who wants it at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Free,
    /// Held by a pending order until `until` (its payment deadline).
    Held {
        until: i64,
    },
    Booked,
}

/// Whether a buyer may pick the slot starting at `starts_at`: free (or its hold lapsed), and
/// still ahead of the cancellation limit (a slot too close to book cannot be cancelled either).
pub fn may_pick(slot: Slot, starts_at: i64, now: i64, cancel_hours: i64) -> bool {
    let open = match slot {
        Slot::Free => true,
        Slot::Held { until } => until <= now,
        Slot::Booked => false,
    };
    open && now < starts_at - cancel_hours.max(0) * HOUR
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
        assert!(!may_pick(Slot::Held { until: early + 60 }, START, early, 24), "held by a pending order");
        assert!(may_pick(Slot::Held { until: early }, START, early, 24), "the hold lapsed with its order");
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
