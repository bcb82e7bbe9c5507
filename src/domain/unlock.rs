//! Scheduled unlocks (定时解锁): a lesson opens some Beijing days after the learner's start (their
//! purchase, or the membership term that opened the course), or at a given time for everyone.
//! Day 0 is the start's own day; day n opens at 00:00 Beijing time n days later.

use super::checkin::{day_number, day_start};

/// The most days after the start a lesson can wait.
pub const MAX_DAYS: i64 = 3650;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlock {
    /// Beijing days after the learner's start.
    AfterDays(i64),
    /// At this moment (unix seconds), whenever the learner started.
    At(i64),
}

impl Unlock {
    /// From the lesson's two columns; a day count wins if both were somehow set.
    pub fn from_columns(day: Option<i64>, at: Option<i64>) -> Option<Unlock> {
        match (day, at) {
            (Some(d), _) if d > 0 => Some(Unlock::AfterDays(d)),
            (_, Some(t)) => Some(Unlock::At(t)),
            _ => None,
        }
    }

    /// When it opens for a learner who started at `start`.
    pub fn opens_at(self, start: i64) -> i64 {
        match self {
            Unlock::AfterDays(n) => day_start(day_number(start) + n),
            Unlock::At(t) => t,
        }
    }

    /// Locked at `now` for a learner who started at `start`: when it opens.
    pub fn locked_until(self, start: i64, now: i64) -> Option<i64> {
        let opens = self.opens_at(start);
        (now < opens).then_some(opens)
    }
}

/// A days field that is not a whole number from 0 to `MAX_DAYS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadDays;

/// Staff's "days after the start" field: empty or 0 is at once; 1 to `MAX_DAYS` days.
pub fn parse_days(text: &str) -> Result<Option<i64>, BadDays> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(Some(n)),
        _ => Err(BadDays),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::{parse_shanghai_datetime, shanghai_minutes};

    fn at(text: &str) -> i64 {
        parse_shanghai_datetime(text).unwrap()
    }

    #[test]
    fn days_count_from_beijing_midnight_of_the_start() {
        for (start, days, opens) in [
            // Bought late in the evening: day 1 opens a few minutes later, at midnight.
            ("2026-12-07T23:58", 1, "2026-12-08 00:00"),
            // Bought just after midnight Beijing (still the day before in UTC).
            ("2026-12-08T00:05", 1, "2026-12-09 00:00"),
            ("2026-12-08T07:59", 2, "2026-12-10 00:00"),
            // A start on the last day of a month runs into the next month, and the next year.
            ("2027-01-31T09:00", 1, "2027-02-01 00:00"),
            ("2027-02-28T20:00", 1, "2027-03-01 00:00"),
            ("2028-02-28T20:00", 1, "2028-02-29 00:00"),
            ("2026-12-31T12:00", 3, "2027-01-03 00:00"),
            ("2026-11-30T23:59", 30, "2026-12-30 00:00"),
        ] {
            assert_eq!(shanghai_minutes(Unlock::AfterDays(days).opens_at(at(start))), opens, "{start} + {days}");
        }
    }

    #[test]
    fn a_lesson_is_locked_until_its_moment_to_the_second() {
        let start = at("2026-12-07T10:00");
        let opens = at("2026-12-08T00:00");
        let day1 = Unlock::AfterDays(1);
        assert_eq!(day1.locked_until(start, opens - 1), Some(opens));
        assert_eq!(day1.locked_until(start, opens), None);
        let fixed = Unlock::At(at("2026-12-20T20:00"));
        assert_eq!(fixed.locked_until(start, at("2026-12-20T19:59")), Some(at("2026-12-20T20:00")));
        assert_eq!(
            fixed.locked_until(at("2027-01-01T00:00"), at("2027-01-01T00:00")),
            None,
            "a late buyer finds it open"
        );
    }

    #[test]
    fn columns_and_the_staff_field_read_as_expected() {
        assert_eq!(Unlock::from_columns(None, None), None);
        assert_eq!(Unlock::from_columns(Some(0), None), None, "day 0 is at once");
        assert_eq!(Unlock::from_columns(Some(2), None), Some(Unlock::AfterDays(2)));
        assert_eq!(Unlock::from_columns(None, Some(5)), Some(Unlock::At(5)));
        for (text, read) in [("", Ok(None)), (" 0 ", Ok(None)), ("7", Ok(Some(7))), ("3650", Ok(Some(3650)))] {
            assert_eq!(parse_days(text), read, "{text:?}");
        }
        for text in ["-1", "3651", "1.5", "七", "1e3"] {
            assert_eq!(parse_days(text), Err(BadDays), "{text:?}");
        }
    }
}
