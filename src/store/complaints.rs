//! Complaints from learners and from the payment platform, with their conversation. Status
//! moves: open (waiting for the shop) → answered (waiting for the learner) → open again on a
//! follow-up; resolved ends it (a follow-up reopens it).

use sqlx::{Any, Transaction};

use super::attachments::{self, NewAttachment, Owner};
use super::{Db, is_unique_violation, messages};
use crate::domain::complaint::{ComplaintStatus, new_complaint_no};
use crate::domain::message::MessageKind;
use crate::domain::{ComplaintId, LessonId, OrderId, RefundId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Complaint {
    pub id: ComplaintId,
    pub complaint_no: String,
    pub user_id: Option<UserId>,
    pub source: String,
    pub category: String,
    pub order_no: Option<String>,
    pub lesson_id: Option<LessonId>,
    pub description: String,
    pub contact_phone: String,
    #[sqlx(try_from = "String")]
    pub status: ComplaintStatus,
    pub refund_no: Option<String>,
    pub external_id: Option<String>,
    pub external_state: Option<String>,
    pub first_reply_due: i64,
    pub first_replied_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "c.id, c.complaint_no, c.user_id, c.source, c.category, o.order_no, c.lesson_id, c.description, \
     c.contact_phone, c.status, r.refund_no, c.external_id, c.external_state, c.first_reply_due, c.first_replied_at, \
     c.created_at, c.updated_at";
const FROM: &str =
    "FROM complaints c LEFT JOIN orders o ON o.id = c.order_id LEFT JOIN refund_requests r ON r.id = c.refund_id";

pub async fn find(db: &Db, complaint_no: &str) -> Result<Option<Complaint>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE c.complaint_no = $1");
    sqlx::query_as(&sql).bind(complaint_no).fetch_optional(db.read()).await
}

/// The complaint if it is this user's; anyone else's answers exactly like a missing one.
pub async fn find_for_user(db: &Db, complaint_no: &str, user_id: UserId) -> Result<Option<Complaint>, sqlx::Error> {
    Ok(find(db, complaint_no).await?.filter(|c| c.user_id == Some(user_id)))
}

/// How many complaints `user_id` filed since `since`.
pub async fn filed_since(db: &Db, user_id: UserId, since: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM complaints WHERE user_id = $1 AND created_at >= $2")
        .bind(user_id)
        .bind(since)
        .fetch_one(db.read())
        .await
}

/// How many follow-ups the learner wrote to their complaints since `since`.
pub async fn follow_ups_since(db: &Db, user_id: UserId, since: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM complaint_messages m JOIN complaints c ON c.id = m.complaint_id \
         WHERE c.user_id = $1 AND m.author = 'learner' AND m.created_at >= $2",
    )
    .bind(user_id)
    .bind(since)
    .fetch_one(db.read())
    .await
}

pub async fn for_user(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<Complaint>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE c.user_id = $1 ORDER BY c.id DESC LIMIT $2");
    sqlx::query_as(&sql).bind(user_id).bind(limit).fetch_all(db.read()).await
}

/// The staff queue: the ones waiting for the shop first, the earliest deadline first.
pub async fn queue(db: &Db, status: Option<ComplaintStatus>, limit: i64) -> Result<Vec<Complaint>, sqlx::Error> {
    match status {
        Some(status) => {
            let sql = format!("SELECT {COLUMNS} {FROM} WHERE c.status = $1 ORDER BY c.first_reply_due, c.id LIMIT $2");
            sqlx::query_as(&sql).bind(status.as_str()).bind(limit).fetch_all(db.read()).await
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} {FROM} WHERE c.status <> 'resolved' \
                 ORDER BY CASE WHEN c.status = 'open' THEN 0 ELSE 1 END, c.first_reply_due, c.id LIMIT $1"
            );
            sqlx::query_as(&sql).bind(limit).fetch_all(db.read()).await
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub author: String,
    pub body: String,
    pub created_at: i64,
}

pub async fn messages(db: &Db, complaint_id: ComplaintId) -> Result<Vec<Message>, sqlx::Error> {
    sqlx::query_as("SELECT author, body, created_at FROM complaint_messages WHERE complaint_id = $1 ORDER BY id")
        .bind(complaint_id)
        .fetch_all(db.read())
        .await
}

async fn add_message(
    tx: &mut Transaction<'static, Any>,
    complaint_id: ComplaintId,
    author: &str,
    staff_id: Option<UserId>,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO complaint_messages (complaint_id, author, staff_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(complaint_id)
    .bind(author)
    .bind(staff_id)
    .bind(body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct NewComplaint<'a> {
    pub user_id: UserId,
    pub category: &'a str,
    pub order_id: Option<OrderId>,
    pub lesson_id: Option<LessonId>,
    pub description: &'a str,
    pub contact_phone: &'a str,
    /// When the first reply is due.
    pub reply_due: i64,
}

pub async fn create(
    db: &Db,
    new: &NewComplaint<'_>,
    files: &[NewAttachment<'_>],
    now: i64,
) -> Result<String, sqlx::Error> {
    let complaint_no = new_complaint_no(now);
    let mut tx = db.write().begin().await?;
    let id: ComplaintId = sqlx::query_scalar(
        "INSERT INTO complaints (complaint_no, user_id, source, category, order_id, lesson_id, description, contact_phone, \
         status, first_reply_due, created_at, updated_at) VALUES ($1, $2, 'site', $3, $4, $5, $6, $7, 'open', $8, $9, $9) RETURNING id",
    )
    .bind(&complaint_no)
    .bind(new.user_id)
    .bind(new.category)
    .bind(new.order_id)
    .bind(new.lesson_id)
    .bind(new.description)
    .bind(new.contact_phone)
    .bind(new.reply_due)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    for file in files {
        attachments::add(&mut tx, Owner::Complaint(id), file, now).await?;
    }
    tx.commit().await?;
    Ok(complaint_no)
}

/// The learner adds to their complaint: it waits for the shop again.
pub async fn follow_up(
    db: &Db,
    id: ComplaintId,
    body: &str,
    files: &[NewAttachment<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    add_message(&mut tx, id, "learner", None, body, now).await?;
    for file in files {
        attachments::add(&mut tx, Owner::Complaint(id), file, now).await?;
    }
    sqlx::query("UPDATE complaints SET status = 'open', resolved_at = NULL, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A staff reply: the first one stops the SLA clock; the learner gets a site message.
pub async fn reply(
    db: &Db,
    c: &Complaint,
    staff_id: UserId,
    body: &str,
    resolve: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    add_message(&mut tx, c.id, "staff", Some(staff_id), body, now).await?;
    let status = if resolve { ComplaintStatus::Resolved } else { ComplaintStatus::Answered };
    sqlx::query(
        "UPDATE complaints SET status = $1, first_replied_at = COALESCE(first_replied_at, $2), updated_at = $2, \
         resolved_at = CASE WHEN $1 = 'resolved' THEN $2 ELSE NULL END WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(c.id)
    .execute(&mut *tx)
    .await?;
    if let Some(user_id) = c.user_id {
        let kind = if resolve { MessageKind::ComplaintResolved } else { MessageKind::ComplaintReply };
        let link = format!("/complaints/{}", c.complaint_no);
        let message =
            messages::NewMessage { user_id, kind, ref_no: &c.complaint_no, amount: None, note: body, link: &link };
        messages::send(&mut tx, &message, now).await?;
    }
    tx.commit().await?;
    db.users_changed();
    Ok(())
}

pub async fn link_refund(db: &Db, id: ComplaintId, refund_id: RefundId, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE complaints SET refund_id = $1, updated_at = $2 WHERE id = $3")
        .bind(refund_id)
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(())
}

/// A complaint as the payment platform reports it.
pub struct External<'a> {
    pub external_id: &'a str,
    pub state: &'a str,
    pub description: &'a str,
    pub order_no: Option<&'a str>,
    pub reply_due: i64,
}

/// Creates the complaint on first sight of the platform's id, or updates its state; returns its
/// number and whether it is new. A note goes into the conversation either way.
pub async fn upsert_external(db: &Db, e: &External<'_>, note: &str, now: i64) -> Result<(String, bool), sqlx::Error> {
    let existing: Option<(ComplaintId, String, Option<String>)> =
        sqlx::query_as("SELECT id, complaint_no, external_state FROM complaints WHERE external_id = $1")
            .bind(e.external_id)
            .fetch_optional(db.write())
            .await?;
    let mut tx = db.write().begin().await?;
    let (id, complaint_no, created) = match existing {
        Some((id, no, state)) => {
            let last: Option<String> = sqlx::query_scalar(
                "SELECT body FROM complaint_messages WHERE complaint_id = $1 AND author = 'platform' ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if state.as_deref() == Some(e.state) && last.as_deref() == Some(note) {
                // The platform sent the same notification again.
                tx.rollback().await?;
                return Ok((no, false));
            }
            sqlx::query("UPDATE complaints SET external_state = $1, updated_at = $2 WHERE id = $3")
                .bind(e.state)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            (id, no, false)
        }
        None => {
            let order: Option<(OrderId, UserId, String)> = match e.order_no {
                Some(no) => sqlx::query_as(
                    "SELECT o.id, o.user_id, u.phone FROM orders o JOIN users u ON u.id = o.user_id WHERE o.order_no = $1",
                )
                .bind(no)
                .fetch_optional(&mut *tx)
                .await?,
                None => None,
            };
            let complaint_no = new_complaint_no(now);
            let inserted = sqlx::query_scalar(
                "INSERT INTO complaints (complaint_no, user_id, source, category, order_id, description, contact_phone, \
                 status, external_id, external_state, first_reply_due, created_at, updated_at) \
                 VALUES ($1, $2, 'wechatpay', 'payment', $3, $4, $5, 'open', $6, $7, $8, $9, $9) RETURNING id",
            )
            .bind(&complaint_no)
            .bind(order.as_ref().map(|o| o.1))
            .bind(order.as_ref().map(|o| o.0))
            .bind(e.description)
            .bind(order.as_ref().map(|o| o.2.clone()).unwrap_or_default())
            .bind(e.external_id)
            .bind(e.state)
            .bind(e.reply_due)
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
            match inserted {
                Ok(id) => (id, complaint_no, true),
                // The same platform complaint arrived twice at once: the other one made it.
                Err(err) if is_unique_violation(&err) => {
                    tx.rollback().await?;
                    return Box::pin(upsert_external(db, e, note, now)).await;
                }
                Err(err) => return Err(err),
            }
        }
    };
    add_message(&mut tx, id, "platform", None, note, now).await?;
    tx.commit().await?;
    Ok((complaint_no, created))
}

/// Complaints waiting for the shop, and how many of them have missed their first-reply deadline.
pub async fn waiting(db: &Db, now: i64) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), \
         COALESCE(SUM(CASE WHEN first_replied_at IS NULL AND first_reply_due < $1 THEN 1 ELSE 0 END), 0) \
         FROM complaints WHERE status = 'open'",
    )
    .bind(now)
    .fetch_one(db.read())
    .await
}
