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

/// Learners who own the course now (bought or given), for a live session's reminder.
pub async fn owners(db: &Db, course_id: crate::domain::CourseId) -> Result<Vec<crate::domain::UserId>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM entitlements WHERE course_id = $1 AND revoked_at IS NULL")
        .bind(course_id)
        .fetch_all(db.read())
        .await
}
