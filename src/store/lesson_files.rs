//! Files attached to lessons for their buyers. The catalog lists them (`Lesson::files`); the caller
//! reloads it after a change here.

use super::Db;
use crate::domain::{LessonFileId, LessonId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredFile {
    pub id: LessonFileId,
    pub lesson_id: LessonId,
    pub file_name: String,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: i64,
}

pub async fn add(
    db: &Db,
    lesson: LessonId,
    file_name: &str,
    storage_key: &str,
    content_type: &str,
    size_bytes: i64,
    now: i64,
) -> Result<LessonFileId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO lesson_files (lesson_id, file_name, storage_key, content_type, size_bytes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(lesson)
    .bind(file_name)
    .bind(storage_key)
    .bind(content_type)
    .bind(size_bytes)
    .bind(now)
    .fetch_one(db.write())
    .await
}

pub async fn find(db: &Db, id: LessonFileId) -> Result<Option<StoredFile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, lesson_id, file_name, storage_key, content_type, size_bytes FROM lesson_files WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
}

/// Removes the row; the caller deletes the stored bytes.
pub async fn remove(db: &Db, id: LessonFileId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM lesson_files WHERE id = $1").bind(id).execute(db.write()).await?;
    Ok(())
}
