//! A course's quiz bank, its quizzes' settings, and learners' attempts (`domain::quiz` holds the
//! rules). An attempt's questions are drawn when it starts and kept with it, so answering a
//! question not drawn, or saving after it closed, changes no row.

use rand::seq::SliceRandom;
use sqlx::{Any, Transaction};

use super::messages::{self, NewMessage};
use super::rows::Flag;
use super::{Db, dialect};
use crate::domain::message::MessageKind;
use crate::domain::quiz::{AttemptStatus, Outcome, QuestionKind, Quiz, QuizSettings, grade, outcome};
use crate::domain::{AttemptId, BankQuestionId, CourseId, LessonId, QuizId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BankQuestion {
    pub id: BankQuestionId,
    pub course_id: CourseId,
    pub lesson_id: Option<LessonId>,
    #[sqlx(try_from = "String")]
    pub kind: QuestionKind,
    pub body: String,
    pub choices: String,
    pub answer_key: String,
    pub explanation: String,
    pub points: i64,
    #[sqlx(try_from = "Flag")]
    pub retired: bool,
}

impl BankQuestion {
    pub fn choice_list(&self) -> Vec<&str> {
        self.choices.lines().collect()
    }
}

const QUESTION: &str = "SELECT id, course_id, lesson_id, kind, body, choices, answer_key, explanation, points, retired \
     FROM quiz_questions";

/// A question as staff typed it and `domain::quiz::check_question` passed it.
pub struct NewQuestion<'a> {
    pub lesson_id: Option<LessonId>,
    pub kind: QuestionKind,
    pub body: &'a str,
    pub choices: &'a [String],
    pub key: &'a str,
    pub explanation: &'a str,
    pub points: i64,
}

pub async fn add_question(
    db: &Db,
    course: CourseId,
    q: &NewQuestion<'_>,
    now: i64,
) -> Result<BankQuestionId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO quiz_questions (course_id, lesson_id, kind, body, choices, answer_key, explanation, points, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(course)
    .bind(q.lesson_id)
    .bind(q.kind.as_str())
    .bind(q.body.trim())
    .bind(q.choices.join("\n"))
    .bind(q.key)
    .bind(q.explanation.trim())
    .bind(q.points)
    .bind(now)
    .fetch_one(db.write())
    .await
}

/// Changes a question. Attempts already graded keep their points; what they show is the new text.
pub async fn update_question(db: &Db, id: BankQuestionId, q: &NewQuestion<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE quiz_questions SET lesson_id = $1, kind = $2, body = $3, choices = $4, answer_key = $5, \
         explanation = $6, points = $7 WHERE id = $8",
    )
    .bind(q.lesson_id)
    .bind(q.kind.as_str())
    .bind(q.body.trim())
    .bind(q.choices.join("\n"))
    .bind(q.key)
    .bind(q.explanation.trim())
    .bind(q.points)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(())
}

/// A retired question is drawn no more; attempts that drew it keep it.
pub async fn set_retired(db: &Db, id: BankQuestionId, retired: bool) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE quiz_questions SET retired = $1 WHERE id = $2")
        .bind(i64::from(retired))
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(())
}

pub async fn find_question(db: &Db, id: BankQuestionId) -> Result<Option<BankQuestion>, sqlx::Error> {
    sqlx::query_as(&format!("{QUESTION} WHERE id = $1")).bind(id).fetch_optional(db.read()).await
}

/// Every question of a course, retired ones too, in the order they were written.
pub async fn bank(db: &Db, course: CourseId) -> Result<Vec<BankQuestion>, sqlx::Error> {
    sqlx::query_as(&format!("{QUESTION} WHERE course_id = $1 ORDER BY id")).bind(course).fetch_all(db.read()).await
}

/// How a question fared in graded answers: how many times it was graded and how many of those
/// fell short of its points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuestionStats {
    pub graded: i64,
    pub wrong: i64,
}

pub async fn question_stats(
    db: &Db,
    course: CourseId,
) -> Result<std::collections::HashMap<BankQuestionId, QuestionStats>, sqlx::Error> {
    let rows: Vec<(BankQuestionId, i64, i64)> = sqlx::query_as(
        "SELECT a.question_id, COUNT(*), CAST(COALESCE(SUM(CASE WHEN a.awarded < a.points THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM attempt_answers a JOIN quiz_questions q ON q.id = a.question_id \
         WHERE q.course_id = $1 AND a.awarded IS NOT NULL GROUP BY a.question_id",
    )
    .bind(course)
    .fetch_all(db.read())
    .await?;
    Ok(rows.into_iter().map(|(id, graded, wrong)| (id, QuestionStats { graded, wrong })).collect())
}

/// Creates or changes the quiz of `lesson` (None: the final exam); the caller reloads the catalog,
/// which holds quizzes.
pub async fn save_quiz(
    db: &Db,
    course: CourseId,
    lesson: Option<LessonId>,
    s: &QuizSettings,
    now: i64,
) -> Result<QuizId, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let existing: Option<QuizId> =
        sqlx::query_scalar("SELECT id FROM quizzes WHERE course_id = $1 AND COALESCE(lesson_id, 0) = COALESCE($2, 0)")
            .bind(course)
            .bind(lesson)
            .fetch_optional(&mut *tx)
            .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE quizzes SET title = $1, draw_count = $2, time_limit_mins = $3, pass_percent = $4, \
                 max_attempts = $5 WHERE id = $6",
            )
            .bind(&s.title)
            .bind(s.draw_count)
            .bind(s.time_limit_mins)
            .bind(s.pass_percent)
            .bind(s.max_attempts)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO quizzes (course_id, lesson_id, title, draw_count, time_limit_mins, pass_percent, \
                 max_attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(course)
            .bind(lesson)
            .bind(&s.title)
            .bind(s.draw_count)
            .bind(s.time_limit_mins)
            .bind(s.pass_percent)
            .bind(s.max_attempts)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    Ok(id)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    pub id: AttemptId,
    pub quiz_id: QuizId,
    pub user_id: UserId,
    #[sqlx(try_from = "String")]
    pub status: AttemptStatus,
    pub started_at: i64,
    pub deadline: Option<i64>,
    pub submitted_at: Option<i64>,
    pub score: Option<i64>,
    pub max_score: i64,
    /// 1 passed, 0 failed, NULL not yet graded (`Attempt::passed`).
    passed: Option<i64>,
}

impl Attempt {
    pub fn passed(&self) -> Option<bool> {
        self.passed.map(|p| p != 0)
    }
}

const ATTEMPT: &str = "SELECT id, quiz_id, user_id, status, started_at, deadline, submitted_at, score, max_score, passed FROM quiz_attempts";

pub async fn find_attempt(db: &Db, id: AttemptId) -> Result<Option<Attempt>, sqlx::Error> {
    sqlx::query_as(&format!("{ATTEMPT} WHERE id = $1")).bind(id).fetch_optional(db.read()).await
}

/// A learner's attempts at a quiz, the newest first.
pub async fn attempts_of(db: &Db, quiz: QuizId, user: UserId) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(&format!("{ATTEMPT} WHERE quiz_id = $1 AND user_id = $2 ORDER BY id DESC"))
        .bind(quiz)
        .bind(user)
        .fetch_all(db.read())
        .await
}

/// Whether the learner passed the quiz in any attempt.
pub async fn has_passed(db: &Db, quiz: QuizId, user: UserId) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM quiz_attempts WHERE quiz_id = $1 AND user_id = $2 AND passed = 1")
            .bind(quiz)
            .bind(user)
            .fetch_one(db.read())
            .await?;
    Ok(n > 0)
}

/// Why an attempt could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum StartRefused {
    AttemptsUsed,
    NoQuestions,
    /// Staff deleted the quiz a moment before.
    Deleted,
}

/// Starts an attempt, or returns the learner's open one. Questions are drawn from the quiz's pool
/// (its lesson's questions, or the whole bank for the exam) under a lock per learner and quiz, so
/// two taps never start two attempts past the limit.
pub async fn start(
    db: &Db,
    course: CourseId,
    quiz: &Quiz,
    user: UserId,
    now: i64,
) -> Result<Result<AttemptId, StartRefused>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    dialect::lock(db.backend(), &mut tx, &format!("attempt:{}:{}", quiz.id, user)).await?;
    let attempts: Vec<(AttemptId, String)> =
        sqlx::query_as("SELECT id, status FROM quiz_attempts WHERE quiz_id = $1 AND user_id = $2")
            .bind(quiz.id)
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
    if let Some((open, _)) = attempts.iter().find(|(_, status)| status == AttemptStatus::Open.as_str()) {
        return Ok(Ok(*open));
    }
    if !quiz.may_start(attempts.len() as i64) {
        return Ok(Err(StartRefused::AttemptsUsed));
    }
    let pool: Vec<(BankQuestionId, i64)> = sqlx::query_as(
        "SELECT id, points FROM quiz_questions WHERE course_id = $1 AND retired = 0 \
         AND ($2 IS NULL OR lesson_id = $2) ORDER BY id",
    )
    .bind(course)
    .bind(quiz.lesson_id)
    .fetch_all(&mut *tx)
    .await?;
    let drawn = draw(pool, quiz.draw_count);
    if drawn.is_empty() {
        return Ok(Err(StartRefused::NoQuestions));
    }
    let max_score: i64 = drawn.iter().map(|(_, points)| points).sum();
    let started = sqlx::query_scalar(
        "INSERT INTO quiz_attempts (quiz_id, user_id, status, started_at, deadline, max_score) \
         VALUES ($1, $2, 'open', $3, $4, $5) RETURNING id",
    )
    .bind(quiz.id)
    .bind(user)
    .bind(now)
    .bind(quiz.deadline(now))
    .bind(max_score)
    .fetch_one(&mut *tx)
    .await;
    let id: AttemptId = match started {
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => return Ok(Err(StartRefused::Deleted)),
        other => other?,
    };
    for (position, (question, points)) in drawn.iter().enumerate() {
        sqlx::query("INSERT INTO attempt_answers (attempt_id, question_id, position, points) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(question)
            .bind(position as i64)
            .bind(points)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(id))
}

/// How many questions an attempt at `quiz` has: its draw, or its whole pool.
pub async fn pool_size(db: &Db, course: CourseId, quiz: &Quiz) -> Result<i64, sqlx::Error> {
    let pool: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM quiz_questions WHERE course_id = $1 AND retired = 0 AND ($2 IS NULL OR lesson_id = $2)",
    )
    .bind(course)
    .bind(quiz.lesson_id)
    .fetch_one(db.read())
    .await?;
    Ok(if quiz.draw_count > 0 { pool.min(quiz.draw_count) } else { pool })
}

/// `count` questions in random order, or (0, or more than there are) all of them in bank order.
fn draw(mut pool: Vec<(BankQuestionId, i64)>, count: i64) -> Vec<(BankQuestionId, i64)> {
    let count = usize::try_from(count).unwrap_or(0);
    if count == 0 || count >= pool.len() {
        return pool;
    }
    pool.shuffle(&mut rand::thread_rng());
    pool.truncate(count);
    pool
}

/// One drawn question of an attempt, with what the learner saved and (once graded) was awarded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    #[sqlx(flatten)]
    pub question: BankQuestion,
    pub points: i64,
    pub response: String,
    pub awarded: Option<i64>,
}

pub async fn items(db: &Db, attempt: AttemptId) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query_as(
        "SELECT q.id, q.course_id, q.lesson_id, q.kind, q.body, q.choices, q.answer_key, q.explanation, \
         a.points AS points, q.retired, a.response, a.awarded FROM attempt_answers a \
         JOIN quiz_questions q ON q.id = a.question_id WHERE a.attempt_id = $1 ORDER BY a.position",
    )
    .bind(attempt)
    .fetch_all(db.read())
    .await
}

/// Saves answers to an open attempt (only its own questions; the caller has checked them).
/// False when the attempt was no longer open.
pub async fn save_responses(
    db: &Db,
    attempt: AttemptId,
    responses: &[(BankQuestionId, String)],
) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    if !is_open(&mut tx, attempt).await? {
        return Ok(false);
    }
    for (question, response) in responses {
        sqlx::query("UPDATE attempt_answers SET response = $1 WHERE attempt_id = $2 AND question_id = $3")
            .bind(response)
            .bind(attempt)
            .bind(question)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

async fn is_open(tx: &mut Transaction<'static, Any>, attempt: AttemptId) -> Result<bool, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM quiz_attempts WHERE id = $1")
        .bind(attempt)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(status.as_deref() == Some(AttemptStatus::Open.as_str()))
}

/// Closes an open attempt and grades what it saved (short answers wait for staff). Closing twice
/// changes nothing: the second call finds it closed.
pub async fn finish(db: &Db, attempt: AttemptId, pass_percent: i64, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let claimed =
        sqlx::query("UPDATE quiz_attempts SET status = 'pending', submitted_at = $1 WHERE id = $2 AND status = 'open'")
            .bind(now)
            .bind(attempt)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if claimed == 0 {
        return Ok(());
    }
    let rows: Vec<(BankQuestionId, String, String, i64, String)> = sqlx::query_as(
        "SELECT q.id, q.kind, q.answer_key, a.points, a.response FROM attempt_answers a \
         JOIN quiz_questions q ON q.id = a.question_id WHERE a.attempt_id = $1",
    )
    .bind(attempt)
    .fetch_all(&mut *tx)
    .await?;
    for (question, kind, key, points, response) in rows {
        let Some(kind) = QuestionKind::parse(&kind) else { continue };
        if let Some(right) = grade(kind, &key, &response) {
            sqlx::query("UPDATE attempt_answers SET awarded = $1 WHERE attempt_id = $2 AND question_id = $3")
                .bind(if right { points } else { 0 })
                .bind(attempt)
                .bind(question)
                .execute(&mut *tx)
                .await?;
        }
    }
    settle(&mut tx, attempt, pass_percent).await?;
    tx.commit().await
}

/// Writes the attempt's score from its answers; graded once nothing waits for staff.
async fn settle(
    tx: &mut Transaction<'static, Any>,
    attempt: AttemptId,
    pass_percent: i64,
) -> Result<Outcome, sqlx::Error> {
    let answers: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT points, awarded FROM attempt_answers WHERE attempt_id = $1")
            .bind(attempt)
            .fetch_all(&mut **tx)
            .await?;
    let result = outcome(&answers, pass_percent);
    let status = if result.passed.is_some() { AttemptStatus::Graded } else { AttemptStatus::Pending };
    sqlx::query("UPDATE quiz_attempts SET status = $1, score = $2, max_score = $3, passed = $4 WHERE id = $5")
        .bind(status.as_str())
        .bind(result.score)
        .bind(result.max_score)
        .bind(result.passed.map(i64::from))
        .bind(attempt)
        .execute(&mut **tx)
        .await?;
    Ok(result)
}

/// A quiz's attempts so far: (handed in, passed, learners who took it).
pub async fn summary(db: &Db, quiz: QuizId) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status <> 'open' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN passed = 1 THEN 1 ELSE 0 END), 0) AS BIGINT), COUNT(DISTINCT user_id) \
         FROM quiz_attempts WHERE quiz_id = $1",
    )
    .bind(quiz)
    .fetch_one(db.read())
    .await
}

/// Deletes a quiz nobody has attempted; false when someone has (their scores stay) or it is gone.
/// Its questions stay in the course's bank.
pub async fn delete_quiz(db: &Db, quiz: QuizId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM quizzes WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM quiz_attempts WHERE quiz_id = $1)",
    )
    .bind(quiz)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A short answer waiting for staff.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Ungraded {
    pub attempt_id: AttemptId,
    pub question_id: BankQuestionId,
    pub learner: String,
    pub body: String,
    pub response: String,
    pub points: i64,
    pub submitted_at: i64,
}

pub async fn ungraded(db: &Db, quiz: QuizId) -> Result<Vec<Ungraded>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id AS attempt_id, a.question_id, u.nickname AS learner, q.body, a.response, a.points, \
         COALESCE(t.submitted_at, 0) AS submitted_at FROM attempt_answers a \
         JOIN quiz_attempts t ON t.id = a.attempt_id JOIN quiz_questions q ON q.id = a.question_id \
         JOIN users u ON u.id = t.user_id \
         WHERE t.quiz_id = $1 AND t.status = 'pending' AND a.awarded IS NULL ORDER BY t.submitted_at, t.id, a.position",
    )
    .bind(quiz)
    .fetch_all(db.read())
    .await
}

/// Staff's points for a short answer of a submitted attempt; the attempt's score follows, and
/// once nothing waits for staff the learner is told, in the same transaction. None when there is
/// no such answer waiting (graded already, or not in this attempt).
pub async fn grade_short(
    db: &Db,
    attempt: &Attempt,
    question: BankQuestionId,
    awarded: i64,
    quiz: &Quiz,
    now: i64,
) -> Result<Option<Outcome>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let changed = sqlx::query(
        "UPDATE attempt_answers SET awarded = $1 WHERE attempt_id = $2 AND question_id = $3 AND awarded IS NULL \
         AND points >= $1 AND EXISTS (SELECT 1 FROM quiz_attempts WHERE id = $2 AND status = 'pending')",
    )
    .bind(awarded)
    .bind(attempt.id)
    .bind(question)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(None);
    }
    let result = settle(&mut tx, attempt.id, quiz.pass_percent).await?;
    if result.passed.is_some() {
        let when = crate::domain::time::shanghai_minutes(now);
        let link = format!("/attempts/{}", attempt.id);
        let message = NewMessage {
            user_id: attempt.user_id,
            kind: MessageKind::QuizGraded,
            ref_no: &when,
            amount: None,
            note: &quiz.title,
            link: &link,
        };
        messages::send(&mut tx, &message, now).await?;
    }
    tx.commit().await?;
    db.users_changed();
    Ok(Some(result))
}
