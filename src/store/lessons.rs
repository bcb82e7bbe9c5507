//! Lesson content (media keys, article bodies, notes, live links), HLS keys and learning progress.

use std::collections::HashMap;

use super::Db;
use super::rows::Present;
use crate::domain::{CourseId, LessonId, UserId};

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct LessonContent {
    pub media_key: Option<String>,
    pub hls_dir: Option<String>,
    pub body: Option<String>,
    pub notes: String,
    pub live_url: Option<String>,
    /// The lesson's assignment (作业), if it has one.
    pub assignment: Option<String>,
    /// How long its media plays, as measured at upload (None: not measured).
    pub media_duration_secs: Option<i64>,
}

/// Lesson content in memory (see `store::cache`). HLS keys are not kept: a player asks for one
/// once per playback, and a key read fresh always matches the playlist and segments read fresh
/// from storage, also in the seconds after `kedian media package` re-encrypted a lesson from
/// another process.
pub struct LessonCache {
    content: super::cache::EpochCache<LessonId, Option<LessonContent>>,
}

impl Default for LessonCache {
    fn default() -> Self {
        LessonCache { content: super::cache::EpochCache::new(super::Topic::Lessons) }
    }
}

impl LessonCache {
    pub fn sweep(&self) {
        self.content.sweep();
    }

    pub async fn content(&self, db: &Db, lesson_id: LessonId) -> Result<Option<LessonContent>, sqlx::Error> {
        self.content.get_or_load(db, lesson_id, || content(db, lesson_id)).await
    }
}

pub async fn content(db: &Db, lesson_id: LessonId) -> Result<Option<LessonContent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT media_key, hls_dir, body, notes, live_url, assignment, media_duration_secs FROM lessons WHERE id = $1",
    )
    .bind(lesson_id)
    .fetch_optional(db.read())
    .await
}

/// A new media file for the lesson, with how long it plays when that was measured; any older HLS
/// rendition stops being served (a new one is packaged from this file).
pub async fn set_media_key(
    db: &Db,
    lesson_id: LessonId,
    key: &str,
    duration_secs: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE lessons SET media_key = $1, hls_dir = NULL, media_duration_secs = $2 WHERE id = $3")
        .bind(key)
        .bind(duration_secs)
        .bind(lesson_id)
        .execute(db.write())
        .await?;
    db.lessons_changed();
    Ok(())
}

/// Records a packaged HLS rendition and its key together.
pub async fn set_hls(db: &Db, lesson_id: LessonId, dir: &str, key_hex: &str, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    sqlx::query(
        "INSERT INTO hls_keys (lesson_id, key_hex, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (lesson_id) DO UPDATE SET key_hex = $2, created_at = $3",
    )
    .bind(lesson_id)
    .bind(key_hex)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE lessons SET hls_dir = $1 WHERE id = $2").bind(dir).bind(lesson_id).execute(&mut *tx).await?;
    tx.commit().await?;
    db.lessons_changed();
    Ok(())
}

pub async fn hls_key(db: &Db, lesson_id: LessonId) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let hex_key: Option<String> = sqlx::query_scalar("SELECT key_hex FROM hls_keys WHERE lesson_id = $1")
        .bind(lesson_id)
        .fetch_optional(db.read())
        .await?;
    Ok(hex_key.and_then(|k| hex::decode(k).ok()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Progress {
    pub last_position_secs: i64,
    pub furthest_secs: i64,
    #[sqlx(rename = "completed_at", try_from = "Present")]
    pub completed: bool,
    pub updated_at: i64,
}

/// One learner's position in one lesson, as written to `lesson_progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressRow {
    pub user_id: UserId,
    pub lesson_id: LessonId,
    pub course_id: CourseId,
    pub last_position_secs: i64,
    pub furthest_secs: i64,
    pub duration_secs: i64,
    pub completed_at: Option<i64>,
    pub updated_at: i64,
}

/// Rows per statement: 100 × 8 parameters stays under every SQLite build's limit.
const ROWS_PER_STATEMENT: usize = 100;

/// Writes gathered reports in one transaction, a multi-row upsert per 100 rows. Keeps the furthest
/// position and the first completion; a row never goes back to an older report. `rows` holds one
/// row per (user, lesson).
pub async fn record_progress_batch(db: &Db, rows: &[ProgressRow]) -> Result<(), sqlx::Error> {
    let furthest = super::dialect::greatest(db.backend(), "lesson_progress.furthest_secs", "excluded.furthest_secs");
    let mut tx = db.write().begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO lesson_progress (user_id, lesson_id, course_id, last_position_secs, furthest_secs, duration_secs, completed_at, updated_at) \
             VALUES {} \
             ON CONFLICT (user_id, lesson_id) DO UPDATE SET last_position_secs = excluded.last_position_secs, \
             furthest_secs = {furthest}, duration_secs = excluded.duration_secs, \
             completed_at = COALESCE(lesson_progress.completed_at, excluded.completed_at), updated_at = excluded.updated_at \
             WHERE lesson_progress.updated_at <= excluded.updated_at",
            super::values_list(chunk.len(), 8)
        );
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = query
                .bind(r.user_id)
                .bind(r.lesson_id)
                .bind(r.course_id)
                .bind(r.last_position_secs)
                .bind(r.furthest_secs)
                .bind(r.duration_secs)
                .bind(r.completed_at)
                .bind(r.updated_at);
        }
        query.execute(&mut *tx).await?;
    }
    let mut days: Vec<(UserId, i64)> =
        rows.iter().map(|r| (r.user_id, crate::domain::stats::shanghai_day(r.updated_at))).collect();
    days.sort_unstable();
    days.dedup();
    for chunk in days.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO learner_days (user_id, day) VALUES {} ON CONFLICT DO NOTHING",
            super::values_list(chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql);
        for (user_id, day) in chunk {
            query = query.bind(*user_id).bind(*day);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// The learner's progress in one course, by lesson.
pub async fn course_progress(
    db: &Db,
    user_id: UserId,
    course_id: CourseId,
) -> Result<HashMap<LessonId, Progress>, sqlx::Error> {
    let rows: Vec<Located> = sqlx::query_as(
        "SELECT lesson_id, course_id, last_position_secs, furthest_secs, completed_at, updated_at FROM lesson_progress \
         WHERE user_id = $1 AND course_id = $2",
    )
    .bind(user_id)
    .bind(course_id)
    .fetch_all(db.read())
    .await?;
    Ok(rows.into_iter().map(|r| (r.lesson_id, r.progress)).collect())
}

/// The learner's progress in every course: course → lesson → progress.
pub async fn all_progress(
    db: &Db,
    user_id: UserId,
) -> Result<HashMap<CourseId, HashMap<LessonId, Progress>>, sqlx::Error> {
    let rows: Vec<Located> = sqlx::query_as(
        "SELECT lesson_id, course_id, last_position_secs, furthest_secs, completed_at, updated_at FROM lesson_progress \
         WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await?;
    let mut by_course: HashMap<CourseId, HashMap<LessonId, Progress>> = HashMap::new();
    for r in rows {
        by_course.entry(r.course_id).or_default().insert(r.lesson_id, r.progress);
    }
    Ok(by_course)
}

/// A lesson's progress with where it belongs.
#[derive(sqlx::FromRow)]
struct Located {
    course_id: CourseId,
    lesson_id: LessonId,
    #[sqlx(flatten)]
    progress: Progress,
}
