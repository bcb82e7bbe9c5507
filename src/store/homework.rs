//! Homework: one submission per learner and lesson, revised until staff review it; the review
//! (grade and comment) and its site message (作业反馈) commit together. Only the author and
//! staff ever read a submission.

use super::Db;
use super::messages::{self, NewMessage};
use crate::domain::homework::HomeworkStatus;
use crate::domain::message::MessageKind;
use crate::domain::{CohortId, LessonId, SubmissionId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Submission {
    pub id: SubmissionId,
    pub lesson_id: LessonId,
    pub user_id: UserId,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub status: HomeworkStatus,
    pub grade: String,
    pub comment: String,
    pub reviewed_at: Option<i64>,
    pub updated_at: i64,
}

impl Submission {
    pub fn is_reviewed(&self) -> bool {
        self.status == HomeworkStatus::Reviewed
    }
}

const COLUMNS: &str = "h.id, h.lesson_id, h.user_id, h.body, h.status, h.grade, h.comment, h.reviewed_at, h.updated_at";

pub async fn mine(db: &Db, lesson_id: LessonId, user_id: UserId) -> Result<Option<Submission>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM homework h WHERE h.lesson_id = $1 AND h.user_id = $2");
    sqlx::query_as(&sql).bind(lesson_id).bind(user_id).fetch_optional(db.read()).await
}

pub async fn find(db: &Db, id: SubmissionId) -> Result<Option<Submission>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM homework h WHERE h.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await
}

/// Submits or revises; None once it has been reviewed (a reviewed submission is final). It
/// carries the cohort its author is in.
pub async fn submit(
    db: &Db,
    (lesson_id, cohort_id): (LessonId, Option<CohortId>),
    user_id: UserId,
    body: &str,
    now: i64,
) -> Result<Option<SubmissionId>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO homework (lesson_id, user_id, body, status, created_at, updated_at, cohort_id) \
         VALUES ($1, $2, $3, 'submitted', $4, $4, $5) \
         ON CONFLICT (lesson_id, user_id) DO UPDATE SET body = $3, updated_at = $4, cohort_id = $5 \
         WHERE homework.status = 'submitted' RETURNING id",
    )
    .bind(lesson_id)
    .bind(user_id)
    .bind(body)
    .bind(now)
    .bind(cohort_id)
    .fetch_optional(db.write())
    .await
}

/// A submission in the staff queue, with the learner, the course, the lesson and the cohort.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Queued {
    #[sqlx(flatten)]
    pub submission: Submission,
    pub learner: String,
    pub course_title: String,
    pub lesson_title: String,
    pub assignment: String,
    /// The cohort's name, or empty.
    pub cohort: String,
}

/// Waiting ones first (oldest first), then the latest reviewed; only a cohort's when one is given.
pub async fn queue(db: &Db, cohort: Option<CohortId>, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
    let only = if cohort.is_some() { "WHERE h.cohort_id = $2" } else { "" };
    let sql = format!(
        "SELECT {COLUMNS}, u.nickname AS learner, c.title AS course_title, l.title AS lesson_title, \
         COALESCE(l.assignment, '') AS assignment, COALESCE(k.name, '') AS cohort FROM homework h \
         JOIN users u ON u.id = h.user_id JOIN lessons l ON l.id = h.lesson_id JOIN courses c ON c.id = l.course_id \
         LEFT JOIN cohorts k ON k.id = h.cohort_id {only} \
         ORDER BY CASE WHEN h.status = 'submitted' THEN 0 ELSE 1 END, \
         CASE WHEN h.status = 'submitted' THEN h.updated_at ELSE -h.updated_at END LIMIT $1"
    );
    let query = sqlx::query_as(&sql).bind(limit);
    match cohort {
        Some(cohort) => query.bind(cohort).fetch_all(db.read()).await,
        None => query.fetch_all(db.read()).await,
    }
}

/// Staff review a submission once, and the learner is told in the same transaction; false when
/// it was reviewed already.
pub async fn review(
    db: &Db,
    id: SubmissionId,
    grade: &str,
    comment: &str,
    staff_id: UserId,
    link: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let reviewed: Option<UserId> = sqlx::query_scalar(
        "UPDATE homework SET status = 'reviewed', grade = $1, comment = $2, reviewed_by = $3, reviewed_at = $4, updated_at = $4 \
         WHERE id = $5 AND status = 'submitted' RETURNING user_id",
    )
    .bind(grade)
    .bind(comment)
    .bind(staff_id)
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user_id) = reviewed else {
        tx.rollback().await?;
        return Ok(false);
    };
    let message =
        NewMessage { user_id, kind: MessageKind::HomeworkReviewed, ref_no: grade, amount: None, note: comment, link };
    messages::send(&mut tx, &message, now).await?;
    tx.commit().await?;
    db.users_changed();
    Ok(true)
}
