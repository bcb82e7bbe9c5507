//! Site messages to one learner: what happened to their refund or complaint. The page words each
//! kind in the reader's language.

use sqlx::{Any, Transaction};

use super::rows::Flag;
use super::{Db, sms_outbox};
use crate::domain::message::MessageKind;
use crate::domain::sms::Kind;
use crate::domain::time::shanghai_minutes;
use crate::domain::{Fen, UserId};

pub struct NewMessage<'a> {
    pub user_id: UserId,
    pub kind: MessageKind,
    pub ref_no: &'a str,
    pub amount: Option<Fen>,
    pub note: &'a str,
    pub link: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub ref_no: String,
    #[sqlx(rename = "amount_fen")]
    pub amount: Option<Fen>,
    pub note: String,
    pub link: String,
    /// An announcement's text (empty for other kinds).
    pub body: String,
    #[sqlx(try_from = "Flag")]
    pub unread: bool,
    pub created_at: i64,
}

/// Sent inside the transaction that made the news, so the message exists exactly when it happened;
/// its text, for the kinds that have one, is queued in the same transaction (once per message).
pub async fn send(tx: &mut Transaction<'static, Any>, m: &NewMessage<'_>, now: i64) -> Result<(), sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO user_messages (user_id, kind, ref_no, amount_fen, note, link, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id",
    )
    .bind(m.user_id)
    .bind(m.kind.as_str())
    .bind(m.ref_no)
    .bind(m.amount.map(|a| a.0))
    .bind(m.note)
    .bind(m.link)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let Some(kind) = m.kind.text() else { return Ok(()) };
    let (phone, agreed): (Option<String>, i64) =
        sqlx::query_as("SELECT phone, sms_reminders FROM users WHERE id = $1 AND status <> 'deleted'")
            .bind(m.user_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or((None, 0));
    // Reminders go by text only to learners who asked for them; the news of their own money always.
    let Some(phone) = phone.filter(|_| kind != Kind::Reminder || agreed == 1) else { return Ok(()) };
    let (amount, time) = (m.amount.map(|a| a.to_string()).unwrap_or_default(), shanghai_minutes(now));
    // A reminder's text is its note and its time the event's (in `ref_no`).
    let text = m.kind.reminder_text(m.note);
    let params = match kind {
        Kind::Reminder => [("text", text.as_str()), ("time", m.ref_no), ("no", "")],
        _ => [("no", m.ref_no), ("amount", amount.as_str()), ("time", time.as_str())],
    };
    let params: Vec<(&str, &str)> = params.into_iter().filter(|(name, _)| kind.params().contains(name)).collect();
    sms_outbox::enqueue(tx, &format!("message:{id}"), kind, &phone, &params, None, now).await
}

pub async fn recent(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<Message>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.kind, m.ref_no, m.amount_fen, m.note, m.link, m.created_at, \
         CASE WHEN m.read_at IS NULL THEN 1 ELSE 0 END AS unread, COALESCE(a.body, '') AS body FROM user_messages m \
         LEFT JOIN announcements a ON a.id = m.announcement_id WHERE m.user_id = $1 ORDER BY m.id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(db.read())
    .await
}

pub async fn mark_all_read(db: &Db, user_id: UserId, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("UPDATE user_messages SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(db.write())
        .await?;
    db.users_changed();
    Ok(done.rows_affected())
}
