//! Cohorts (营期): a course sold in runs that start together. Each has a start day, a number of
//! seats and a sale window; the buyer picks one, and the course's scheduled lessons count from the
//! cohort's start instead of the purchase.

use super::checkin::{Challenge, day_number, day_start};
use super::{CohortId, CourseId, LessonId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    pub id: CohortId,
    pub course_id: CourseId,
    pub name: String,
    /// 00:00 Beijing time of its first day.
    pub starts_at: i64,
    pub capacity: i64,
    pub sale_starts_at: i64,
    /// The last moment it can be bought.
    pub sale_ends_at: i64,
    /// Live lessons it holds at its own time.
    pub sessions: Vec<LiveSession>,
}

/// A live lesson a cohort holds at its own time, in its own room when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub lesson_id: LessonId,
    pub starts_at: i64,
    /// None: the lesson's own room.
    pub live_url: Option<String>,
}

/// Why a cohort cannot be bought now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    NotYet,
    Ended,
    Full,
}

impl Closed {
    /// Its words, as a translation key.
    pub fn key(self) -> &'static str {
        match self {
            Closed::NotYet => "cohort_not_yet",
            Closed::Ended => "cohort_ended",
            Closed::Full => "cohort_full",
        }
    }
}

impl Cohort {
    /// Whether a buyer may take a seat at `now` when `taken` seats are held (paid, or held by an
    /// order still waiting for payment).
    pub fn may_join(&self, now: i64, taken: i64) -> Result<(), Closed> {
        if now < self.sale_starts_at {
            Err(Closed::NotYet)
        } else if now > self.sale_ends_at {
            Err(Closed::Ended)
        } else if taken >= self.capacity {
            Err(Closed::Full)
        } else {
            Ok(())
        }
    }

    pub fn seats_left(&self, taken: i64) -> i64 {
        (self.capacity - taken).max(0)
    }

    pub fn session(&self, lesson_id: LessonId) -> Option<&LiveSession> {
        self.sessions.iter().find(|s| s.lesson_id == lesson_id)
    }

    /// The course's check-in challenge as this cohort runs it: its `days` from the cohort's first
    /// day, whatever day staff set for learners outside cohorts.
    pub fn challenge(&self, days: i64) -> Challenge {
        Challenge { first_day: day_number(self.starts_at), days }
    }

    /// Day n of the cohort at `now` (day 1 is its first day), or None before it starts.
    pub fn day_of(&self, now: i64) -> Option<i64> {
        (now >= self.starts_at).then(|| day_number(now) - day_number(self.starts_at) + 1)
    }
}

/// The start of a cohort whose first day is `date_start` (any moment of that Beijing day).
pub fn start_of_day(date_start: i64) -> i64 {
    day_start(day_number(date_start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::parse_shanghai_datetime;

    fn at(text: &str) -> i64 {
        parse_shanghai_datetime(text).unwrap()
    }

    fn cohort(capacity: i64) -> Cohort {
        Cohort {
            id: CohortId(1),
            course_id: CourseId(1),
            name: "第 1 期".into(),
            starts_at: at("2027-01-31T00:00"),
            capacity,
            sale_starts_at: at("2027-01-01T10:00"),
            sale_ends_at: at("2027-01-30T23:59"),
            sessions: vec![LiveSession { lesson_id: LessonId(7), starts_at: at("2027-02-02T20:00"), live_url: None }],
        }
    }

    #[test]
    fn a_cohort_sells_within_its_window_while_seats_last() {
        let c = cohort(2);
        assert_eq!(c.may_join(at("2027-01-01T09:59"), 0), Err(Closed::NotYet));
        assert_eq!(c.may_join(at("2027-01-01T10:00"), 0), Ok(()));
        assert_eq!(c.may_join(at("2027-01-30T23:59"), 1), Ok(()), "the last minute still sells");
        assert_eq!(c.may_join(at("2027-01-30T23:59") + 1, 0), Err(Closed::Ended));
        assert_eq!(c.may_join(at("2027-01-15T12:00"), 2), Err(Closed::Full));
        assert_eq!(c.may_join(at("2027-01-15T12:00"), 3), Err(Closed::Full), "over-full stays full");
        assert_eq!((c.seats_left(0), c.seats_left(2), c.seats_left(5)), (2, 0, 0));
        assert_eq!(Closed::Full.key(), "cohort_full");
    }

    #[test]
    fn days_of_a_cohort_starting_on_the_last_day_of_a_month() {
        let c = cohort(10);
        assert_eq!(c.day_of(at("2027-01-30T23:59")), None);
        assert_eq!(c.day_of(at("2027-01-31T00:00")), Some(1));
        assert_eq!(c.day_of(at("2027-02-01T00:00")), Some(2));
        assert_eq!(c.day_of(at("2027-03-01T08:00")), Some(30));
        assert_eq!(start_of_day(at("2027-01-31T15:30")), at("2027-01-31T00:00"));
    }

    #[test]
    fn a_cohorts_check_in_runs_from_its_first_day() {
        let c = cohort(10);
        let challenge = c.challenge(3);
        assert_eq!(challenge.day_of(day_number(at("2027-01-30T23:59"))), None, "the day before it starts");
        assert_eq!(challenge.day_of(day_number(at("2027-01-31T00:00"))), Some(1));
        assert_eq!(challenge.day_of(day_number(at("2027-02-02T23:59"))), Some(3), "across the month's end");
        assert_eq!(challenge.day_of(day_number(at("2027-02-03T00:00"))), None, "over after its days");
        assert_eq!(c.session(LessonId(7)).map(|s| s.starts_at), Some(at("2027-02-02T20:00")));
        assert_eq!(c.session(LessonId(8)), None);
    }
}
