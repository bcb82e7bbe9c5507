//! Which backups to keep: the newest of each of the last 24 hours and of each of the last 14 days
//! (Shanghai days), plus always the newest one. The rest may go.

use std::collections::HashSet;

pub const HOURLY: i64 = 24;
pub const DAILY: i64 = 14;

/// Indexes into `taken_at` (unix seconds of each backup) of the backups to delete.
pub fn to_delete(taken_at: &[i64], now: i64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..taken_at.len()).collect();
    // Newest first, so the first backup seen in an hour or a day is the one kept.
    order.sort_by_key(|i| std::cmp::Reverse(taken_at[*i]));
    let mut keep = HashSet::new();
    let (mut hours, mut days) = (HashSet::new(), HashSet::new());
    for (rank, i) in order.iter().enumerate() {
        let t = taken_at[*i];
        let hour = t.div_euclid(3600);
        let day = (t + 8 * 3600).div_euclid(86_400);
        let in_hours = now - t < HOURLY * 3600 && hours.insert(hour);
        let in_days = now - t < DAILY * 86_400 && days.insert(day);
        if rank == 0 || in_hours || in_days {
            keep.insert(*i);
        }
    }
    let mut gone: Vec<usize> = (0..taken_at.len()).filter(|i| !keep.contains(i)).collect();
    gone.sort_unstable();
    gone
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_260_600;

    #[test]
    fn one_an_hour_for_a_day_then_one_a_day_for_two_weeks() {
        // Every 20 minutes for 20 days.
        let taken: Vec<i64> = (0..20 * 72).map(|k| NOW - k * 1200).collect();
        let gone = to_delete(&taken, NOW);
        let kept: Vec<i64> = (0..taken.len()).filter(|i| !gone.contains(i)).map(|i| taken[i]).collect();
        let recent = kept.iter().filter(|t| NOW - **t < 24 * 3600).count();
        assert!((24..=25).contains(&recent), "about one an hour in the last day: {recent}");
        assert!(kept.iter().all(|t| NOW - t < 15 * 86_400), "nothing older than two weeks");
        assert!(kept.len() <= HOURLY as usize + DAILY as usize + 1, "{}", kept.len());
        assert!(kept.contains(&NOW), "the newest stays");
    }

    #[test]
    fn the_newest_always_stays() {
        let ancient = NOW - 400 * 86_400;
        assert_eq!(to_delete(&[ancient], NOW), Vec::<usize>::new());
        assert_eq!(to_delete(&[ancient, ancient - 10], NOW), vec![1]);
        assert!(to_delete(&[], NOW).is_empty());
    }
}
