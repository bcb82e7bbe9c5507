//! Check-in challenges (打卡, #20): a course runs N days from a first day, one post a day per
//! learner. Days are Beijing calendar days: a post at 23:59:59 counts for that day, one a second
//! later for the next. A streak is the run of days checked in that ends today (or yesterday,
//! while today is still open).

const OFFSET: i64 = 8 * 3600;
const DAY: i64 = 86_400;

/// The Beijing calendar day of a moment, as a day number (days since 1970-01-01 in Beijing).
pub fn day_number(unix: i64) -> i64 {
    (unix + OFFSET).div_euclid(DAY)
}

/// The first second (00:00 Beijing) of a day number.
pub fn day_start(day: i64) -> i64 {
    day * DAY - OFFSET
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    pub first_day: i64,
    pub days: i64,
}

impl Challenge {
    /// Day 1, 2, … of the challenge, or None outside it.
    pub fn day_of(&self, day: i64) -> Option<i64> {
        (self.first_day..self.first_day + self.days).contains(&day).then(|| day - self.first_day + 1)
    }

    pub fn last_day(&self) -> i64 {
        self.first_day + self.days - 1
    }
}

/// Why a post is not taken today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotNow {
    NotStarted,
    Over,
    Already,
}

pub fn may_check_in(challenge: &Challenge, today: i64, already_today: bool) -> Result<(), NotNow> {
    if today < challenge.first_day {
        return Err(NotNow::NotStarted);
    }
    if today > challenge.last_day() {
        return Err(NotNow::Over);
    }
    if already_today {
        return Err(NotNow::Already);
    }
    Ok(())
}

/// A calendar day as the learner's calendar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Done,
    Missed,
    /// Today, not yet checked in.
    Open,
    Ahead,
}

/// Every day of the challenge with its mark.
pub fn calendar(challenge: &Challenge, done: &[i64], today: i64) -> Vec<(i64, Mark)> {
    (challenge.first_day..=challenge.last_day())
        .map(|day| {
            let mark = if done.contains(&day) {
                Mark::Done
            } else if day < today {
                Mark::Missed
            } else if day == today {
                Mark::Open
            } else {
                Mark::Ahead
            };
            (day, mark)
        })
        .collect()
}

/// Consecutive days checked in, ending today, or yesterday while today is still open.
pub fn streak(done: &[i64], today: i64) -> i64 {
    let mut day = if done.contains(&today) { today } else { today - 1 };
    let mut run = 0;
    while done.contains(&day) {
        run += 1;
        day -= 1;
    }
    run
}

/// The prompt of day `n` (1-based): the prompts' n-th line, or the last one when there are fewer.
pub fn prompt_for(prompts: &str, n: i64) -> &str {
    let lines: Vec<&str> = prompts.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let index = usize::try_from(n.max(1) - 1).unwrap_or(0);
    lines.get(index).or(lines.last()).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        crate::domain::time::parse_shanghai_seconds(text).unwrap()
    }

    #[test]
    fn days_turn_at_beijing_midnight() {
        let late = day_number(at("2026-12-01 23:59:59"));
        let next = day_number(at("2026-12-02 00:00:00"));
        assert_eq!(next, late + 1, "one second later is the next day");
        assert_eq!(day_number(at("2026-12-02 07:59:59")), next, "08:00 UTC is not the boundary");
        assert_eq!(day_start(next), at("2026-12-02 00:00:00"));
        assert_eq!(crate::domain::time::shanghai_date(day_start(late)), "2026-12-01");
    }

    #[test]
    fn streaks_count_back_from_today_or_yesterday() {
        assert_eq!(streak(&[10, 11, 12], 12), 3);
        assert_eq!(streak(&[10, 11, 12], 13), 3, "today still open keeps yesterday's run");
        assert_eq!(streak(&[10, 11, 12], 14), 0, "a missed day ends it");
        assert_eq!(streak(&[8, 10, 11], 11), 2);
        assert_eq!(streak(&[], 11), 0);
    }

    #[test]
    fn the_calendar_marks_each_day() {
        let c = Challenge { first_day: 100, days: 5 };
        let marks: Vec<Mark> = calendar(&c, &[100, 102], 102).into_iter().map(|(_, m)| m).collect();
        assert_eq!(marks, [Mark::Done, Mark::Missed, Mark::Done, Mark::Ahead, Mark::Ahead]);
        let marks: Vec<Mark> = calendar(&c, &[100], 101).into_iter().map(|(_, m)| m).collect();
        assert_eq!(marks[1], Mark::Open);
        assert_eq!((c.day_of(100), c.day_of(104), c.day_of(105), c.day_of(99)), (Some(1), Some(5), None, None));
    }

    #[test]
    fn posts_are_taken_once_a_day_while_the_challenge_runs() {
        let c = Challenge { first_day: 100, days: 3 };
        assert_eq!(may_check_in(&c, 99, false), Err(NotNow::NotStarted));
        assert_eq!(may_check_in(&c, 100, false), Ok(()));
        assert_eq!(may_check_in(&c, 102, false), Ok(()), "the last day");
        assert_eq!(may_check_in(&c, 103, false), Err(NotNow::Over));
        assert_eq!(may_check_in(&c, 101, true), Err(NotNow::Already));
    }

    #[test]
    fn prompts_by_day() {
        let prompts = "今天学到了什么？\n\n用一句话复述本课\n";
        assert_eq!(prompt_for(prompts, 1), "今天学到了什么？");
        assert_eq!(prompt_for(prompts, 2), "用一句话复述本课");
        assert_eq!(prompt_for(prompts, 9), "用一句话复述本课", "the last prompt repeats");
        assert_eq!(prompt_for("", 1), "");
    }
}
