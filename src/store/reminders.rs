//! Reminders sent once each: the event's key is written with its site message, in one
//! transaction, so however often the job runs (and on however many instances) one goes out.

use super::Db;
use super::messages::{self, NewMessage};

/// Sends the message unless this event was reminded of already; true when this call sent it.
pub async fn send_once(db: &Db, event_key: &str, message: &NewMessage<'_>, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let done = sqlx::query(
        "INSERT INTO reminders_sent (event_key, user_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT (event_key) DO NOTHING",
    )
    .bind(event_key)
    .bind(message.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    messages::send(&mut tx, message, now).await?;
    tx.commit().await?;
    db.users_changed();
    Ok(true)
}

/// Whether the learner agreed to reminders by text.
pub async fn sms_agreed(db: &Db, user_id: crate::domain::UserId) -> Result<bool, sqlx::Error> {
    let agreed: Option<i64> = sqlx::query_scalar("SELECT sms_reminders FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.read())
        .await?;
    Ok(agreed == Some(1))
}

pub async fn set_sms_agreed(
    db: &Db,
    user_id: crate::domain::UserId,
    agreed: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET sms_reminders = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(agreed))
        .bind(now)
        .bind(user_id)
        .execute(db.write())
        .await?;
    db.users_changed();
    Ok(())
}

/// Learners who own the course now (bought or given), with their cohort, for a live session's
/// reminder.
pub async fn owners(
    db: &Db,
    course_id: crate::domain::CourseId,
) -> Result<Vec<(crate::domain::UserId, Option<crate::domain::CohortId>)>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, cohort_id FROM entitlements WHERE course_id = $1 AND revoked_at IS NULL")
        .bind(course_id)
        .fetch_all(db.read())
        .await
}
