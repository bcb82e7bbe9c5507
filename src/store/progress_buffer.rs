//! Progress reports, gathered in memory and written in one transaction per short interval
//! (`jobs::progress`).
//! Thousands of players report every few seconds; one write each would queue them all behind
//! SQLite's single writer. A crash loses at most the last interval, never an older position, and
//! every read of progress sees the reports still waiting here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::cache::EpochCache;
use super::changes::Change;
use super::lessons::{self, Progress, ProgressRow};
use super::{Db, Topic};
use crate::domain::{CourseId, LessonId, UserId};

/// Reports not yet written: learner → lesson → report. Keyed by learner so a page reads only
/// its own learner's reports, however many others wait.
type Waiting = HashMap<UserId, HashMap<LessonId, ProgressRow>>;
/// A learner's progress: course → lesson → progress.
type LearnerProgress = HashMap<CourseId, HashMap<LessonId, Progress>>;

pub struct ProgressBuffer {
    inner: Mutex<Inner>,
    /// Each learner's stored progress (course → lesson → progress), in memory; a batch written
    /// updates its learners' copies here and drops them on every other instance.
    stored: EpochCache<UserId, Arc<LearnerProgress>>,
}

impl Default for ProgressBuffer {
    fn default() -> Self {
        ProgressBuffer { inner: Mutex::default(), stored: EpochCache::new(Topic::Progress) }
    }
}

#[derive(Default)]
struct Inner {
    /// Reports not yet written, one per (user, lesson), merged.
    pending: Waiting,
    /// The batch being written now: still laid over what readers load until it has committed.
    writing: Waiting,
}

impl Inner {
    /// Puts `row` in `pending`, merged with the report waiting for its lesson.
    fn add(&mut self, row: ProgressRow) {
        let lessons = self.pending.entry(row.user_id).or_default();
        let merged = match lessons.get(&row.lesson_id) {
            Some(waiting) => merge(waiting, &row),
            None => row,
        };
        lessons.insert(row.lesson_id, merged);
    }

    /// The learner's reports in the batch being written, then those still pending (newer).
    fn waiting_for(&self, user_id: UserId) -> impl Iterator<Item = &ProgressRow> {
        [&self.writing, &self.pending].into_iter().filter_map(move |w| w.get(&user_id)).flat_map(HashMap::values)
    }
}

/// `newer` over `older` for the same learner and lesson: the newer position, the furthest
/// position of both, the first completion.
pub fn merge(older: &ProgressRow, newer: &ProgressRow) -> ProgressRow {
    let (older, newer) = if newer.updated_at >= older.updated_at { (older, newer) } else { (newer, older) };
    ProgressRow {
        furthest_secs: older.furthest_secs.max(newer.furthest_secs),
        completed_at: match (older.completed_at, newer.completed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        ..*newer
    }
}

impl ProgressBuffer {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a report. Reports close together (a learner pausing and playing) only replace the
    /// one waiting for the same lesson: they cost no write, so none is refused.
    pub fn offer(&self, row: ProgressRow) {
        self.lock().add(row);
    }

    /// The learner's stored progress in a course with the reports still waiting here laid over it.
    pub async fn course_progress(
        &self,
        db: &Db,
        user_id: UserId,
        course_id: CourseId,
    ) -> Result<HashMap<LessonId, Progress>, sqlx::Error> {
        let waiting: Vec<ProgressRow> =
            self.lock().waiting_for(user_id).filter(|r| r.course_id == course_id).copied().collect();
        let stored = self.stored(db, user_id).await?;
        let mut progress = stored.get(&course_id).cloned().unwrap_or_default();
        for row in &waiting {
            lay_over(&mut progress, row);
        }
        Ok(progress)
    }

    /// The same for every course of the learner: course → lesson → progress.
    pub async fn all_progress(
        &self,
        db: &Db,
        user_id: UserId,
    ) -> Result<HashMap<CourseId, HashMap<LessonId, Progress>>, sqlx::Error> {
        // Taken before the stored rows are read: a batch that commits in between is then in
        // either one or both, never in neither.
        let waiting: Vec<ProgressRow> = self.lock().waiting_for(user_id).copied().collect();
        let stored = self.stored(db, user_id).await?;
        let mut progress = (*stored).clone();
        for row in &waiting {
            lay_over(progress.entry(row.course_id).or_default(), row);
        }
        Ok(progress)
    }

    /// What is stored for the learner. Read after taking the waiting reports (see `all_progress`).
    async fn stored(&self, db: &Db, user_id: UserId) -> Result<Arc<LearnerProgress>, sqlx::Error> {
        self.stored
            .get_or_load(db, user_id, || async move { Ok(Arc::new(lessons::all_progress(db, user_id).await?)) })
            .await
    }

    pub fn sweep(&self) {
        self.stored.sweep();
    }

    /// Drops the copies of these learners' stored progress (written by another instance).
    pub fn forget(&self, learners: impl IntoIterator<Item = UserId>) {
        self.stored.forget(learners);
    }

    /// How many reports wait to be written.
    pub fn pending(&self) -> usize {
        self.lock().pending.values().map(HashMap::len).sum()
    }

    /// Writes what has gathered in one transaction. On failure the reports go back, under any
    /// that arrived meanwhile, to be tried at the next flush.
    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let batch: Vec<ProgressRow> = {
            let mut inner = self.lock();
            let taken = std::mem::take(&mut inner.pending);
            let batch = taken.values().flat_map(HashMap::values).copied().collect();
            inner.writing = taken;
            batch
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let written = lessons::record_progress_batch(db, &batch).await;
        if written.is_ok() {
            // This instance knows what it wrote: its copies take the batch as the upsert stored
            // it; the other instances drop theirs.
            let mut by_learner: HashMap<UserId, Vec<&ProgressRow>> = HashMap::new();
            for row in &batch {
                by_learner.entry(row.user_id).or_default().push(row);
            }
            self.stored.amend(by_learner.keys().copied(), |learner, progress| {
                let mut updated = (**progress).clone();
                for row in by_learner.get(learner).into_iter().flatten() {
                    store_over(updated.entry(row.course_id).or_default(), row);
                }
                *progress = Arc::new(updated);
            });
            for learner in by_learner.keys() {
                db.tell_others(Change::Progress(*learner));
            }
        }
        let mut inner = self.lock();
        inner.writing.clear();
        match written {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                for row in batch {
                    inner.add(row);
                }
                Err(e)
            }
        }
    }
}

/// A written report over the copy of what was stored, as the batch's upsert did it: a stored
/// report newer than it (another instance's) stays.
fn store_over(progress: &mut HashMap<LessonId, Progress>, row: &ProgressRow) {
    if progress.get(&row.lesson_id).is_none_or(|p| p.updated_at <= row.updated_at) {
        lay_over(progress, row);
    }
}

/// A report not yet written, over what is stored for its lesson.
fn lay_over(progress: &mut HashMap<LessonId, Progress>, row: &ProgressRow) {
    let stored = progress.get(&row.lesson_id).copied();
    let furthest = stored.map_or(row.furthest_secs, |p| p.furthest_secs.max(row.furthest_secs));
    progress.insert(
        row.lesson_id,
        Progress {
            last_position_secs: row.last_position_secs,
            furthest_secs: furthest,
            completed: row.completed_at.is_some() || stored.is_some_and(|p| p.completed),
            updated_at: row.updated_at,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at: i64, position: i64, furthest: i64, completed_at: Option<i64>) -> ProgressRow {
        ProgressRow {
            user_id: crate::domain::UserId(1),
            lesson_id: LessonId(2),
            course_id: crate::domain::CourseId(3),
            last_position_secs: position,
            furthest_secs: furthest,
            duration_secs: 100,
            completed_at,
            updated_at: at,
        }
    }

    #[test]
    fn the_newest_position_wins_and_the_furthest_and_first_completion_stay() {
        let a = row(10, 95, 95, Some(10));
        let b = row(20, 12, 12, None);
        let merged = merge(&a, &b);
        assert_eq!((merged.last_position_secs, merged.furthest_secs, merged.completed_at), (12, 95, Some(10)));
        assert_eq!(merge(&b, &a), merged, "the order of the arguments does not matter");
        let c = row(30, 99, 99, Some(30));
        assert_eq!(merge(&merged, &c).completed_at, Some(10), "the first completion is kept");
    }

    #[test]
    fn a_written_report_changes_the_copy_as_the_upsert_changed_the_row() {
        let mut copy = HashMap::new();
        store_over(&mut copy, &row(10, 50, 50, None));
        store_over(&mut copy, &row(20, 10, 10, Some(20)));
        let p = copy[&LessonId(2)];
        assert_eq!((p.last_position_secs, p.furthest_secs, p.completed, p.updated_at), (10, 50, true, 20));
        store_over(&mut copy, &row(15, 90, 90, None));
        let p = copy[&LessonId(2)];
        assert_eq!((p.last_position_secs, p.updated_at), (10, 20), "a newer stored report stays");
    }

    #[test]
    fn reports_close_together_are_merged_into_one_row() {
        let buffer = ProgressBuffer::default();
        buffer.offer(row(100, 40, 40, None));
        buffer.offer(row(100, 41, 41, None));
        buffer.offer(row(101, 12, 12, None));
        buffer.offer(ProgressRow { lesson_id: LessonId(9), ..row(101, 3, 3, None) });
        assert_eq!(buffer.pending(), 2, "one row per learner and lesson");
        let inner = buffer.lock();
        let kept = inner.pending[&crate::domain::UserId(1)].get(&LessonId(2)).unwrap();
        assert_eq!((kept.last_position_secs, kept.furthest_secs), (12, 41), "the latest position, the furthest");
    }
}
