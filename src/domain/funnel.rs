//! The takedown funnel: per Shanghai day since the switch, how many of the mini program's buyers
//! came back (signed in, studied, claimed an order, asked for a refund) against how many were
//! told (by SMS, by the official account). Each figure counts people, not events.

use std::collections::BTreeSet;

use super::stats::shanghai_day;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    SignedIn,
    Studied,
    Claimed,
    AskedRefund,
    ToldBySms,
    ToldByOfficialAccount,
}

impl Step {
    pub const ALL: [Step; 6] =
        [Step::SignedIn, Step::Studied, Step::Claimed, Step::AskedRefund, Step::ToldBySms, Step::ToldByOfficialAccount];

    pub fn label_key(self) -> &'static str {
        match self {
            Step::SignedIn => "funnel_signed_in",
            Step::Studied => "funnel_studied",
            Step::Claimed => "funnel_claimed",
            Step::AskedRefund => "funnel_refunds",
            Step::ToldBySms => "funnel_sms",
            Step::ToldByOfficialAccount => "funnel_oa",
        }
    }

    fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// One Shanghai day's people per step, in `Step::ALL` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub day: i64,
    pub people: [usize; 6],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    /// Newest day first, every day from the start to today (quiet days too).
    pub days: Vec<Day>,
    /// People per step over the whole window (someone back on two days counts once).
    pub total: [usize; 6],
}

/// Tallies `(step, user, at)` events from `since` to `now`; events outside are ignored.
pub fn tally(since: i64, now: i64, events: &[(Step, i64, i64)]) -> Funnel {
    let (first, last) = (shanghai_day(since), shanghai_day(now));
    let span = if now < since { 0 } else { usize::try_from(last - first + 1).unwrap_or(0) };
    let mut per_day: Vec<[BTreeSet<i64>; 6]> = (0..span).map(|_| Default::default()).collect();
    let mut total: [BTreeSet<i64>; 6] = Default::default();
    for &(step, user, at) in events {
        if at < since || at > now {
            continue;
        }
        let Ok(offset) = usize::try_from(shanghai_day(at) - first) else { continue };
        if let Some(day) = per_day.get_mut(offset) {
            day[step.index()].insert(user);
            total[step.index()].insert(user);
        }
    }
    let days = per_day
        .iter()
        .enumerate()
        .rev()
        .map(|(offset, sets)| Day { day: first + offset as i64, people: sets.each_ref().map(BTreeSet::len) })
        .collect();
    Funnel { days, total: total.each_ref().map(BTreeSet::len) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::day_start;

    #[test]
    fn people_per_shanghai_day_newest_first() {
        let day = shanghai_day(1_796_000_000);
        let start = day_start(day);
        let events = [
            (Step::SignedIn, 1, start + 10),
            (Step::SignedIn, 1, start + 20), // the same person twice the same day
            (Step::SignedIn, 2, start + 86_399),
            (Step::SignedIn, 1, start + 86_400), // the next Shanghai day (16:00 UTC)
            (Step::Claimed, 3, start + 86_500),
            (Step::ToldBySms, 1, start - 1), // before the switch: not counted
        ];
        let f = tally(start, start + 86_400 * 2 - 1, &events);
        assert_eq!(f.days.len(), 2);
        assert_eq!(f.days[0].day, day + 1, "newest first");
        assert_eq!(f.days[1].people[Step::SignedIn.index()], 2);
        assert_eq!(f.days[0].people[Step::SignedIn.index()], 1);
        assert_eq!(f.days[0].people[Step::Claimed.index()], 1);
        assert_eq!(f.total[Step::SignedIn.index()], 2, "back on two days counts once");
        assert_eq!(f.total[Step::ToldBySms.index()], 0);
    }

    #[test]
    fn quiet_days_are_shown_and_a_window_of_one_instant_is_one_day() {
        let start = day_start(shanghai_day(1_796_000_000));
        let f = tally(start, start + 86_400 * 3, &[]);
        assert_eq!(f.days.len(), 4);
        assert!(f.days.iter().all(|d| d.people == [0; 6]));
        assert_eq!(tally(start + 5, start + 5, &[(Step::Studied, 7, start + 5)]).total[1], 1);
        assert!(tally(start + 10, start, &[]).days.is_empty(), "an empty window");
    }
}
