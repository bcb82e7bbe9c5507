//! Group-buy (拼团, #20): a buyer opens a group by paying the group price, others join from its
//! link, and when the last seat is paid everyone learns at once. A group that does not fill in
//! time fails, and every member's payment is refunded; a payment that arrives for a full or
//! closed group is refunded too. Pure: the store applies these under a lock on the group.

/// A course's group offer: the group price, the seats, the hours a group has to fill, when
/// groups may be opened, and whether the shop completes a group one seat short at its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub course_id: super::CourseId,
    pub price: super::Fen,
    pub size: i64,
    pub fill_hours: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub complete_one_short: bool,
}

impl Offer {
    /// Groups may be opened now.
    pub fn is_on(&self, now: i64) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// Where a group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Made with its opener's order; nobody sees it until that order is paid.
    Pending,
    /// Paid by its opener, taking members until it fills or its time runs out.
    Open,
    /// Every seat paid: the members learn.
    Full,
    /// Time ran out first: every payment goes back.
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Open => "open",
            State::Full => "full",
            State::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<State> {
        [State::Pending, State::Open, State::Full, State::Failed].into_iter().find(|s| s.as_str() == value)
    }
}

/// A group state as stored; any other word is an error, not a quiet `Pending`.
impl TryFrom<String> for State {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        State::parse(&value).ok_or_else(|| format!("group state {value}"))
    }
}

/// A group's numbers at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub state: State,
    /// Paid members, the opener included.
    pub members: i64,
    pub size: i64,
    /// When it must be full (set when the opener pays).
    pub deadline: Option<i64>,
}

impl Group {
    pub fn seats_left(&self) -> i64 {
        (self.size - self.members).max(0)
    }

    /// Taking members now: open, not full, and its time not yet up.
    pub fn is_joinable(&self, now: i64) -> bool {
        self.state == State::Open && self.members < self.size && self.deadline.is_some_and(|d| now < d)
    }
}

/// Why a buyer may not join (or open) a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// They own the course already.
    Owns,
    /// They are in this group already.
    AlreadyIn,
    /// Full, failed, or its time is up.
    Closed,
}

/// Whether a buyer may start paying to join.
pub fn may_join(group: &Group, now: i64, owns: bool, already_in: bool) -> Result<(), Refused> {
    if owns {
        return Err(Refused::Owns);
    }
    if already_in {
        return Err(Refused::AlreadyIn);
    }
    if !group.is_joinable(now) {
        return Err(Refused::Closed);
    }
    Ok(())
}

/// What a verified payment does to its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The opener paid: the group opens with its deadline.
    Opens { deadline: i64 },
    /// A member joined; `fills` when theirs was the last seat.
    Joins { fills: bool },
    /// Too late (full, failed or out of time) or a second seat for the same buyer: refunded.
    Refund,
}

/// A payment for a seat in `group` at `paid_at`; `is_opener` for the order that made the group.
pub fn on_payment(group: &Group, is_opener: bool, already_in: bool, paid_at: i64, fill_secs: i64) -> Arrival {
    if already_in {
        return Arrival::Refund;
    }
    match group.state {
        State::Pending if is_opener => {
            if group.size <= 1 {
                return Arrival::Joins { fills: true };
            }
            Arrival::Opens { deadline: paid_at + fill_secs }
        }
        State::Open if group.is_joinable(paid_at) => Arrival::Joins { fills: group.members + 1 >= group.size },
        _ => Arrival::Refund,
    }
}

/// A group whose time is up: full after all when the shop completes groups one seat short (and
/// then nobody is refunded), failed otherwise. None while there is time left or it is settled.
pub fn at_deadline(group: &Group, now: i64, complete_one_short: bool) -> Option<State> {
    if group.state != State::Open || group.deadline.is_none_or(|d| now < d) {
        return None;
    }
    if group.members >= group.size {
        return Some(State::Full);
    }
    if complete_one_short && group.members + 1 >= group.size {
        return Some(State::Full);
    }
    Some(State::Failed)
}

/// A member as the group page shows them: their nickname's first character, the rest hidden.
pub fn masked_name(nickname: &str) -> String {
    match nickname.chars().next() {
        Some(first) => format!("{first}**"),
        None => "**".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn open(members: i64, size: i64) -> Group {
        Group { state: State::Open, members, size, deadline: Some(T + DAY) }
    }

    #[test]
    fn the_opener_opens_and_members_fill_it() {
        let pending = Group { state: State::Pending, members: 0, size: 3, deadline: None };
        assert_eq!(on_payment(&pending, true, false, T, DAY), Arrival::Opens { deadline: T + DAY });
        assert_eq!(on_payment(&pending, false, false, T, DAY), Arrival::Refund, "only its opener opens it");
        assert_eq!(on_payment(&open(1, 3), false, false, T, DAY), Arrival::Joins { fills: false });
        assert_eq!(on_payment(&open(2, 3), false, false, T, DAY), Arrival::Joins { fills: true }, "the last seat");
    }

    #[test]
    fn late_and_double_payments_are_refunded() {
        assert_eq!(on_payment(&open(3, 3), false, false, T, DAY), Arrival::Refund, "full");
        assert_eq!(on_payment(&open(1, 3), false, false, T + DAY, DAY), Arrival::Refund, "at the deadline's second");
        assert_eq!(on_payment(&open(1, 3), false, true, T, DAY), Arrival::Refund, "one seat per buyer");
        let failed = Group { state: State::Failed, ..open(1, 3) };
        assert_eq!(on_payment(&failed, false, false, T, DAY), Arrival::Refund);
        let full = Group { state: State::Full, ..open(3, 3) };
        assert_eq!(on_payment(&full, false, false, T, DAY), Arrival::Refund);
    }

    #[test]
    fn joining_is_offered_only_to_newcomers_while_it_can_fill() {
        assert_eq!(may_join(&open(1, 3), T, false, false), Ok(()));
        assert_eq!(may_join(&open(1, 3), T, true, false), Err(Refused::Owns));
        assert_eq!(may_join(&open(1, 3), T, false, true), Err(Refused::AlreadyIn));
        assert_eq!(may_join(&open(3, 3), T, false, false), Err(Refused::Closed));
        assert_eq!(may_join(&open(1, 3), T + DAY, false, false), Err(Refused::Closed));
        let pending = Group { state: State::Pending, members: 0, size: 3, deadline: None };
        assert_eq!(may_join(&pending, T, false, false), Err(Refused::Closed), "not before its opener paid");
        assert_eq!(open(1, 3).seats_left(), 2);
    }

    #[test]
    fn time_running_out_fails_the_group_unless_it_is_completed() {
        assert_eq!(at_deadline(&open(2, 3), T + DAY - 1, false), None, "time left");
        assert_eq!(at_deadline(&open(2, 3), T + DAY, false), Some(State::Failed));
        assert_eq!(at_deadline(&open(2, 3), T + DAY, true), Some(State::Full), "one short, completed by the shop");
        assert_eq!(at_deadline(&open(1, 3), T + DAY, true), Some(State::Failed), "two short is not nearly full");
        let full = Group { state: State::Full, ..open(3, 3) };
        assert_eq!(at_deadline(&full, T + 2 * DAY, false), None, "settled groups stay");
        let failed = Group { state: State::Failed, ..open(1, 3) };
        assert_eq!(at_deadline(&failed, T + 2 * DAY, false), None, "failing twice refunds nothing twice");
    }

    #[test]
    fn names_are_masked() {
        assert_eq!(masked_name("小王同学"), "小**");
        assert_eq!(masked_name(""), "**");
    }

    #[test]
    fn only_the_stored_words_are_states() {
        assert_eq!(State::parse("bogus"), None);
        assert!(State::try_from("bogus".to_string()).is_err());
        for state in [State::Pending, State::Open, State::Full, State::Failed] {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
    }
}
