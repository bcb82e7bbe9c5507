//! Questions under lessons and their answers (`domain::qa` holds the rules). A learner sees the
//! shown posts and their own held ones; staff see everything in the back office.

use sqlx::{Any, Transaction};

use super::Db;
use super::messages::{self, NewMessage};
use super::rows::Flag;
use crate::domain::message::MessageKind;
use crate::domain::moderation::Visibility;
use crate::domain::qa::tells_asker;
use crate::domain::{AnswerId, LessonId, QuestionId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Question {
    pub id: QuestionId,
    pub lesson_id: LessonId,
    pub user_id: UserId,
    /// The asker's nickname.
    pub author: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub status: Visibility,
    pub best_answer_id: Option<AnswerId>,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Answer {
    pub id: AnswerId,
    pub question_id: QuestionId,
    pub user_id: UserId,
    pub author: String,
    pub body: String,
    #[sqlx(try_from = "Flag")]
    pub by_staff: bool,
    #[sqlx(try_from = "String")]
    pub status: Visibility,
    pub created_at: i64,
}

const QUESTION: &str = "SELECT q.id, q.lesson_id, q.user_id, u.nickname AS author, q.body, q.status, q.best_answer_id, \
     q.created_at FROM lesson_questions q JOIN users u ON u.id = q.user_id";
const ANSWER: &str = "SELECT a.id, a.question_id, a.user_id, u.nickname AS author, a.body, a.by_staff, a.status, \
     a.created_at FROM lesson_answers a JOIN users u ON u.id = a.user_id";

pub async fn ask(
    db: &Db,
    lesson_id: LessonId,
    user_id: UserId,
    body: &str,
    status: Visibility,
    now: i64,
) -> Result<QuestionId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO lesson_questions (lesson_id, user_id, body, status, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(lesson_id)
    .bind(user_id)
    .bind(body)
    .bind(status.as_str())
    .bind(now)
    .fetch_one(db.write())
    .await
}

pub async fn find(db: &Db, id: QuestionId) -> Result<Option<Question>, sqlx::Error> {
    sqlx::query_as(&format!("{QUESTION} WHERE q.id = $1")).bind(id).fetch_optional(db.read()).await
}

/// A lesson's questions as `viewer` sees them, the newest first, each with its answers (the best
/// one first, then in order).
pub async fn for_lesson(
    db: &Db,
    lesson_id: LessonId,
    viewer: UserId,
    limit: i64,
) -> Result<Vec<(Question, Vec<Answer>)>, sqlx::Error> {
    let questions: Vec<Question> = sqlx::query_as(&format!(
        "{QUESTION} WHERE q.lesson_id = $1 AND (q.status = 'shown' OR q.user_id = $2) AND q.status <> 'hidden' \
         ORDER BY q.id DESC LIMIT $3"
    ))
    .bind(lesson_id)
    .bind(viewer)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let answers: Vec<Answer> = sqlx::query_as(&format!(
        "{ANSWER} WHERE a.question_id IN (SELECT id FROM lesson_questions WHERE lesson_id = $1) \
         AND (a.status = 'shown' OR a.user_id = $2) AND a.status <> 'hidden' ORDER BY a.id"
    ))
    .bind(lesson_id)
    .bind(viewer)
    .fetch_all(db.read())
    .await?;
    Ok(with_answers(questions, answers))
}

fn with_answers(questions: Vec<Question>, answers: Vec<Answer>) -> Vec<(Question, Vec<Answer>)> {
    questions
        .into_iter()
        .map(|q| {
            let mut own: Vec<Answer> = answers.iter().filter(|a| a.question_id == q.id).cloned().collect();
            own.sort_by_key(|a| (Some(a.id) != q.best_answer_id, a.id));
            (q, own)
        })
        .collect()
}

pub struct NewAnswer<'a> {
    pub question: &'a Question,
    pub user_id: UserId,
    pub by_staff: bool,
    pub body: &'a str,
    pub status: Visibility,
    /// Where the asker reads it, and the lesson's title for their message.
    pub link: &'a str,
    pub lesson_title: &'a str,
}

/// Saves an answer; a shown answer by someone else tells the asker in the same transaction.
pub async fn answer(db: &Db, new: &NewAnswer<'_>, now: i64) -> Result<AnswerId, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let id: AnswerId = sqlx::query_scalar(
        "INSERT INTO lesson_answers (question_id, user_id, body, by_staff, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.question.id)
    .bind(new.user_id)
    .bind(new.body)
    .bind(i64::from(new.by_staff))
    .bind(new.status.as_str())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if new.status == Visibility::Shown && tells_asker(new.user_id, new.question.user_id) {
        send_answered(&mut tx, new.question.user_id, new.lesson_title, new.link, now).await?;
    }
    tx.commit().await?;
    db.users_changed();
    Ok(id)
}

async fn send_answered(
    tx: &mut Transaction<'static, Any>,
    asker: UserId,
    lesson_title: &str,
    link: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let when = crate::domain::time::shanghai_minutes(now);
    let message = NewMessage {
        user_id: asker,
        kind: MessageKind::QuestionAnswered,
        ref_no: &when,
        amount: None,
        note: lesson_title,
        link,
    };
    messages::send(tx, &message, now).await
}

/// An answer the filter held, shown now by staff: its asker hears of it as of any other answer,
/// in the moderation decision's transaction.
pub(crate) async fn answer_shown(
    tx: &mut Transaction<'static, Any>,
    answer_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    let found: Option<(UserId, UserId, QuestionId, LessonId, String, String)> = sqlx::query_as(
        "SELECT q.user_id, a.user_id, q.id, l.id, l.title, c.slug FROM lesson_answers a \
         JOIN lesson_questions q ON q.id = a.question_id JOIN lessons l ON l.id = q.lesson_id \
         JOIN courses c ON c.id = l.course_id WHERE a.id = $1",
    )
    .bind(answer_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((asker, answerer, question, lesson, title, slug)) = found else { return Ok(()) };
    if !tells_asker(answerer, asker) {
        return Ok(());
    }
    let link = format!("/courses/{slug}/lessons/{lesson}/questions#question-{question}");
    send_answered(tx, asker, &title, &link, now).await
}

pub async fn find_answer(db: &Db, id: AnswerId) -> Result<Option<Answer>, sqlx::Error> {
    sqlx::query_as(&format!("{ANSWER} WHERE a.id = $1")).bind(id).fetch_optional(db.read()).await
}

/// Marks a shown answer of this question as the best one; false when it is not (or no longer) so.
pub async fn pick_best(db: &Db, question_id: QuestionId, answer_id: AnswerId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE lesson_questions SET best_answer_id = $1 WHERE id = $2 AND EXISTS \
         (SELECT 1 FROM lesson_answers a WHERE a.id = $1 AND a.question_id = $2 AND a.status = 'shown')",
    )
    .bind(answer_id)
    .bind(question_id)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Staff hide or show a question; false when it was already so.
pub async fn set_question_status(db: &Db, id: QuestionId, to: Visibility) -> Result<bool, sqlx::Error> {
    let sql = super::status_update_sql("lesson_questions", &Visibility::sources_of(to), to, "", 1)?;
    Ok(sqlx::query(&sql).bind(id).execute(db.write()).await?.rows_affected() == 1)
}

/// Staff hide or show an answer; a hidden answer stops being the best one.
pub async fn set_answer_status(db: &Db, id: AnswerId, to: Visibility) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let sql = super::status_update_sql("lesson_answers", &Visibility::sources_of(to), to, "", 1)?;
    let changed = sqlx::query(&sql).bind(id).execute(&mut *tx).await?.rows_affected() == 1;
    if changed && to == Visibility::Hidden {
        sqlx::query("UPDATE lesson_questions SET best_answer_id = NULL WHERE best_answer_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// A question in the staff list, with where it was asked and whether staff answered it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub question: Question,
    pub course_slug: String,
    pub course_title: String,
    pub lesson_title: String,
    #[sqlx(try_from = "Flag")]
    pub staff_answered: bool,
}

/// Questions no staff member has answered first (oldest first), then the latest answered; every
/// status, with all their answers.
pub async fn for_staff(db: &Db, limit: i64) -> Result<Vec<(Listed, Vec<Answer>)>, sqlx::Error> {
    let answered = "EXISTS (SELECT 1 FROM lesson_answers s WHERE s.question_id = q.id AND s.by_staff = 1)";
    let listed: Vec<Listed> = sqlx::query_as(&format!(
        "SELECT q.id, q.lesson_id, q.user_id, u.nickname AS author, q.body, q.status, q.best_answer_id, q.created_at, \
         c.slug AS course_slug, c.title AS course_title, l.title AS lesson_title, \
         CASE WHEN {answered} THEN 1 ELSE 0 END AS staff_answered \
         FROM lesson_questions q JOIN users u ON u.id = q.user_id JOIN lessons l ON l.id = q.lesson_id \
         JOIN courses c ON c.id = l.course_id \
         ORDER BY CASE WHEN {answered} THEN 1 ELSE 0 END, CASE WHEN {answered} THEN -q.id ELSE q.id END LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let ids: Vec<i64> = listed.iter().map(|l| l.question.id.0).collect();
    let answers: Vec<Answer> = if ids.is_empty() {
        Vec::new()
    } else {
        let sql = format!("{ANSWER} WHERE a.question_id IN ({}) ORDER BY a.id", super::in_list(ids.len()));
        let mut query = sqlx::query_as(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        query.fetch_all(db.read()).await?
    };
    Ok(listed
        .into_iter()
        .map(|l| {
            let own = answers.iter().filter(|a| a.question_id == l.question.id).cloned().collect();
            (l, own)
        })
        .collect())
}

/// Questions waiting for a staff answer (the back office's count).
pub async fn unanswered_count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM lesson_questions q WHERE q.status <> 'hidden' AND NOT EXISTS \
         (SELECT 1 FROM lesson_answers s WHERE s.question_id = q.id AND s.by_staff = 1)",
    )
    .fetch_one(db.read())
    .await
}
