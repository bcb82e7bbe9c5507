//! A learner's own notes on lessons, each at a moment of the lesson's media. Nobody else reads
//! them, staff included.

use super::Db;
use crate::domain::{LessonId, NoteId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Note {
    pub id: NoteId,
    pub lesson_id: LessonId,
    pub at_secs: i64,
    pub body: String,
    pub created_at: i64,
}

const NOTE: &str = "SELECT id, lesson_id, at_secs, body, created_at FROM learner_notes";

pub async fn add(
    db: &Db,
    lesson_id: LessonId,
    user_id: UserId,
    at_secs: i64,
    body: &str,
    now: i64,
) -> Result<NoteId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO learner_notes (lesson_id, user_id, at_secs, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(lesson_id)
    .bind(user_id)
    .bind(at_secs)
    .bind(body)
    .bind(now)
    .fetch_one(db.write())
    .await
}

/// One lesson's notes, in the order of the media.
pub async fn for_lesson(db: &Db, user_id: UserId, lesson_id: LessonId) -> Result<Vec<Note>, sqlx::Error> {
    sqlx::query_as(&format!("{NOTE} WHERE user_id = $1 AND lesson_id = $2 ORDER BY at_secs, id"))
        .bind(user_id)
        .bind(lesson_id)
        .fetch_all(db.read())
        .await
}

/// Every note of the learner, lesson by lesson (the caller orders lessons as the courses do).
pub async fn all(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<Note>, sqlx::Error> {
    sqlx::query_as(&format!("{NOTE} WHERE user_id = $1 ORDER BY lesson_id, at_secs, id LIMIT $2"))
        .bind(user_id)
        .bind(limit)
        .fetch_all(db.read())
        .await
}

/// Deletes the learner's own note; the lesson it was on, or None when it is not theirs.
pub async fn delete_own(db: &Db, id: NoteId, user_id: UserId) -> Result<Option<LessonId>, sqlx::Error> {
    sqlx::query_scalar("DELETE FROM learner_notes WHERE id = $1 AND user_id = $2 RETURNING lesson_id")
        .bind(id)
        .bind(user_id)
        .fetch_optional(db.write())
        .await
}
