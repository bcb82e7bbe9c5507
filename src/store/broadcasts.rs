//! Broadcast text messages and the opt-out list.

use super::{Db, sms_outbox};
use crate::domain::broadcast::BroadcastStatus;
use crate::domain::sms::Kind;
use crate::domain::{BroadcastId, CourseId, UserId};

pub async fn set_opt_out(db: &Db, phone: &str, out: bool, now: i64) -> Result<(), sqlx::Error> {
    if out {
        sqlx::query("INSERT INTO sms_optouts (phone, created_at) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING")
            .bind(phone)
            .bind(now)
            .execute(db.write())
            .await?;
    } else {
        sqlx::query("DELETE FROM sms_optouts WHERE phone = $1").bind(phone).execute(db.write()).await?;
    }
    Ok(())
}

pub async fn opted_out(db: &Db, phone: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("SELECT phone FROM sms_optouts WHERE phone = $1")
        .bind(phone)
        .fetch_optional(db.read())
        .await?;
    Ok(found.is_some())
}

/// Learners to text: not banned, not opted out; a course's current holders when given.
pub async fn recipients(db: &Db, course_id: Option<CourseId>) -> Result<Vec<String>, sqlx::Error> {
    let base = "FROM users u WHERE u.role = 'learner' AND u.status NOT IN ('banned', 'deleted') \
                AND NOT EXISTS (SELECT 1 FROM sms_optouts o WHERE o.phone = u.phone)";
    match course_id {
        Some(course) => {
            let sql = format!(
                "SELECT u.phone {base} AND EXISTS (SELECT 1 FROM entitlements e WHERE e.user_id = u.id AND e.course_id = $1 \
                 AND e.revoked_at IS NULL) ORDER BY u.id"
            );
            sqlx::query_scalar(&sql).bind(course).fetch_all(db.read()).await
        }
        None => sqlx::query_scalar(&format!("SELECT u.phone {base} ORDER BY u.id")).fetch_all(db.read()).await,
    }
}

/// The broadcast and one outbox text per recipient, in one transaction: a restart resumes it,
/// and nobody gets it twice.
pub struct NewBroadcast<'a> {
    pub text: &'a str,
    pub course_id: Option<CourseId>,
    pub kind: Kind,
    pub url: &'a str,
    pub staff_id: UserId,
}

pub async fn create(db: &Db, new: &NewBroadcast<'_>, phones: &[String], now: i64) -> Result<BroadcastId, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let id: BroadcastId = sqlx::query_scalar(
        "INSERT INTO sms_broadcasts (text, course_id, total, status, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.text)
    .bind(new.course_id)
    .bind(i64::try_from(phones.len()).unwrap_or(i64::MAX))
    .bind(if phones.is_empty() { BroadcastStatus::Done } else { BroadcastStatus::Sending }.as_str())
    .bind(new.staff_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let params = [("text", new.text), ("url", new.url)];
    for phone in phones {
        sms_outbox::enqueue(&mut tx, &format!("broadcast:{id}:{phone}"), new.kind, phone, &params, Some(id), now)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Broadcast {
    pub id: BroadcastId,
    pub text: String,
    pub course_title: Option<String>,
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    #[sqlx(try_from = "String")]
    pub status: BroadcastStatus,
    pub created_at: i64,
}

pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Broadcast>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.id, b.text, c.title AS course_title, b.total, b.sent, b.failed, b.status, b.created_at \
         FROM sms_broadcasts b LEFT JOIN courses c ON c.id = b.course_id ORDER BY b.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await
}
