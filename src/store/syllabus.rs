//! Chapters and lessons as staff edit them: add, rename, reorder, free-preview flag. Positions are
//! renumbered 1..n on every move, so a move is a swap with the neighbour.

use super::Db;
use super::rows::Flag;
use crate::domain::catalog::LessonKind;
use crate::domain::{ChapterId, CourseId, LessonId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LessonRow {
    pub id: LessonId,
    pub chapter_id: ChapterId,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub kind: LessonKind,
    pub duration_secs: i64,
    #[sqlx(try_from = "Flag")]
    pub free_preview: bool,
    #[sqlx(try_from = "Flag")]
    pub has_media: bool,
}

#[derive(Debug, Clone)]
pub struct ChapterRow {
    pub id: ChapterId,
    pub title: String,
    pub lessons: Vec<LessonRow>,
}

pub async fn for_course(db: &Db, course_id: CourseId) -> Result<Vec<ChapterRow>, sqlx::Error> {
    let chapters: Vec<(ChapterId, String)> =
        sqlx::query_as("SELECT id, title FROM chapters WHERE course_id = $1 ORDER BY position, id")
            .bind(course_id)
            .fetch_all(db.read())
            .await?;
    let lessons: Vec<LessonRow> = sqlx::query_as(
        "SELECT id, chapter_id, title, kind, duration_secs, free_preview, \
         CASE WHEN media_key IS NOT NULL OR hls_dir IS NOT NULL THEN 1 ELSE 0 END AS has_media \
         FROM lessons WHERE course_id = $1 ORDER BY position, id",
    )
    .bind(course_id)
    .fetch_all(db.read())
    .await?;
    let mut rows: Vec<ChapterRow> =
        chapters.into_iter().map(|(id, title)| ChapterRow { id, title, lessons: Vec::new() }).collect();
    for lesson in lessons {
        if let Some(chapter) = rows.iter_mut().find(|c| c.id == lesson.chapter_id) {
            chapter.lessons.push(lesson);
        }
    }
    Ok(rows)
}

pub async fn add_chapter(db: &Db, course_id: CourseId, title: &str) -> Result<ChapterId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO chapters (course_id, title, position) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(position), 0) + 1 FROM chapters WHERE course_id = $1)) RETURNING id",
    )
    .bind(course_id)
    .bind(title)
    .fetch_one(db.write())
    .await
}

/// The course a chapter belongs to.
pub async fn chapter_course(db: &Db, chapter_id: ChapterId) -> Result<Option<CourseId>, sqlx::Error> {
    sqlx::query_scalar("SELECT course_id FROM chapters WHERE id = $1").bind(chapter_id).fetch_optional(db.read()).await
}

pub async fn lesson_course(db: &Db, lesson_id: LessonId) -> Result<Option<CourseId>, sqlx::Error> {
    sqlx::query_scalar("SELECT course_id FROM lessons WHERE id = $1").bind(lesson_id).fetch_optional(db.read()).await
}

pub struct NewLesson<'a> {
    pub title: &'a str,
    pub kind: LessonKind,
    pub duration_secs: i64,
    pub free_preview: bool,
}

pub async fn add_lesson(
    db: &Db,
    course_id: CourseId,
    chapter_id: ChapterId,
    l: &NewLesson<'_>,
) -> Result<LessonId, sqlx::Error> {
    let id = sqlx::query_scalar(
        "INSERT INTO lessons (course_id, chapter_id, title, kind, duration_secs, free_preview, position) \
         VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(position), 0) + 1 FROM lessons WHERE chapter_id = $2)) RETURNING id",
    )
    .bind(course_id)
    .bind(chapter_id)
    .bind(l.title)
    .bind(l.kind.as_str())
    .bind(l.duration_secs)
    .bind(i64::from(l.free_preview))
    .fetch_one(db.write())
    .await;
    db.lessons_changed();
    id
}

pub async fn update_lesson(db: &Db, lesson_id: LessonId, l: &NewLesson<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE lessons SET title = $1, kind = $2, duration_secs = $3, free_preview = $4 WHERE id = $5")
        .bind(l.title)
        .bind(l.kind.as_str())
        .bind(l.duration_secs)
        .bind(i64::from(l.free_preview))
        .bind(lesson_id)
        .execute(db.write())
        .await?;
    db.lessons_changed();
    Ok(())
}

pub async fn rename_chapter(db: &Db, chapter_id: ChapterId, title: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE chapters SET title = $1 WHERE id = $2")
        .bind(title)
        .bind(chapter_id)
        .execute(db.write())
        .await?;
    Ok(())
}

/// What the syllabus editor moves: a chapter among its course's, a lesson among its chapter's.
#[derive(Debug, Clone, Copy)]
pub enum SyllabusItem {
    Chapter(ChapterId),
    Lesson(LessonId),
}

/// Moves a chapter or a lesson one place up or down among its siblings, in one transaction.
pub async fn move_item(db: &Db, item: SyllabusItem, up: bool) -> Result<(), sqlx::Error> {
    let (table, scope, id) = match item {
        SyllabusItem::Chapter(id) => ("chapters", "course_id", id.0),
        SyllabusItem::Lesson(id) => ("lessons", "chapter_id", id.0),
    };
    let mut tx = db.write().begin().await?;
    let sql = format!(
        "SELECT id FROM {table} WHERE {scope} = (SELECT {scope} FROM {table} WHERE id = $1) ORDER BY position, id"
    );
    let mut ids: Vec<i64> = sqlx::query_scalar(&sql).bind(id).fetch_all(&mut *tx).await?;
    if let Some(i) = ids.iter().position(|x| *x == id) {
        let j = if up { i.checked_sub(1) } else { Some(i + 1).filter(|j| *j < ids.len()) };
        if let Some(j) = j {
            ids.swap(i, j);
        }
    }
    let update = format!("UPDATE {table} SET position = $1 WHERE id = $2");
    for (position, item) in ids.iter().enumerate() {
        sqlx::query(&update).bind(position as i64 + 1).bind(item).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// A lesson with everything its page can show, for the lesson editor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LessonDetail {
    pub id: LessonId,
    pub course_id: CourseId,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub kind: LessonKind,
    pub duration_secs: i64,
    #[sqlx(try_from = "Flag")]
    pub free_preview: bool,
    pub body: String,
    pub notes: String,
    pub live_url: String,
    pub starts_at: Option<i64>,
    pub assignment: String,
    pub unlock_day: Option<i64>,
    pub unlock_at: Option<i64>,
    pub media_key: Option<String>,
    pub hls_dir: Option<String>,
}

pub async fn lesson_detail(db: &Db, id: LessonId) -> Result<Option<LessonDetail>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, course_id, title, kind, duration_secs, free_preview, COALESCE(body, '') AS body, notes, \
         COALESCE(live_url, '') AS live_url, starts_at, COALESCE(assignment, '') AS assignment, unlock_day, unlock_at, \
         media_key, hls_dir FROM lessons WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
}

pub struct LessonContentInput<'a> {
    /// An article's text (Markdown); None clears it.
    pub body: Option<&'a str>,
    pub notes: &'a str,
    pub live_url: Option<&'a str>,
    pub starts_at: Option<i64>,
    /// The lesson's assignment (作业); None: none.
    pub assignment: Option<&'a str>,
    /// Scheduled unlock: Beijing days after the learner's start, or a moment (at most one).
    pub unlock_day: Option<i64>,
    pub unlock_at: Option<i64>,
}

pub async fn update_lesson_content(db: &Db, id: LessonId, c: &LessonContentInput<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE lessons SET body = $1, notes = $2, live_url = $3, starts_at = $4, assignment = $5, unlock_day = $6, \
         unlock_at = $7 WHERE id = $8",
    )
    .bind(c.body)
    .bind(c.notes)
    .bind(c.live_url)
    .bind(c.starts_at)
    .bind(c.assignment)
    .bind(c.unlock_day)
    .bind(c.unlock_at)
    .bind(id)
    .execute(db.write())
    .await?;
    db.lessons_changed();
    Ok(())
}
