//! Keywords and the items they held.

use super::{Db, is_unique_violation};
use crate::domain::moderation::{HeldKind, Keyword, KeywordAction, QueueStatus, Visibility};
use crate::domain::{KeywordId, QueueItemId, UserId};

pub async fn keywords(db: &Db) -> Result<Vec<Keyword>, sqlx::Error> {
    sqlx::query_as("SELECT id, word, action FROM content_keywords ORDER BY action, word").fetch_all(db.read()).await
}

/// False when the word is already on the list.
pub async fn add_keyword(db: &Db, word: &str, action: KeywordAction, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("INSERT INTO content_keywords (word, action, created_at) VALUES ($1, $2, $3)")
        .bind(word)
        .bind(action.as_str())
        .bind(now)
        .execute(db.write())
        .await;
    match done {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn remove_keyword(db: &Db, id: KeywordId) -> Result<Option<String>, sqlx::Error> {
    let word: Option<String> = sqlx::query_scalar("SELECT word FROM content_keywords WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    sqlx::query("DELETE FROM content_keywords WHERE id = $1").bind(id).execute(db.write()).await?;
    Ok(word)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub id: QueueItemId,
    pub user_id: UserId,
    pub phone: String,
    #[sqlx(try_from = "String")]
    pub kind: HeldKind,
    pub text: String,
    pub matched: String,
    pub link: String,
    #[sqlx(try_from = "String")]
    pub status: QueueStatus,
    pub created_at: i64,
}

pub struct NewItem<'a> {
    pub user_id: UserId,
    pub kind: HeldKind,
    pub text: &'a str,
    pub matched: &'a str,
    pub link: &'a str,
}

pub async fn hold(db: &Db, item: &NewItem<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO moderation_items (user_id, kind, text, matched, link, status, created_at) VALUES ($1, $2, $3, $4, $5, 'held', $6)",
    )
    .bind(item.user_id)
    .bind(item.kind.as_str())
    .bind(item.text)
    .bind(item.matched)
    .bind(item.link)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Held items first (oldest first), then the latest decided ones.
pub async fn queue(db: &Db, limit: i64) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id, m.user_id, u.phone, m.kind, m.text, m.matched, m.link, m.status, m.created_at \
         FROM moderation_items m JOIN users u ON u.id = m.user_id \
         ORDER BY CASE WHEN m.status = 'held' THEN 0 ELSE 1 END, CASE WHEN m.status = 'held' THEN m.id ELSE -m.id END LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read()).await
}

pub async fn find(db: &Db, id: QueueItemId) -> Result<Option<Item>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id, m.user_id, u.phone, m.kind, m.text, m.matched, m.link, m.status, m.created_at \
         FROM moderation_items m JOIN users u ON u.id = m.user_id WHERE m.id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
}

/// Moves an item from one status to another; false when it was no longer in `from`. An
/// approved nickname is applied in the same transaction.
pub async fn decide(
    db: &Db,
    item: &Item,
    from: QueueStatus,
    to: QueueStatus,
    staff_id: UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let done = sqlx::query(
        "UPDATE moderation_items SET status = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(staff_id)
    .bind(now)
    .bind(item.id)
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    if item.kind == HeldKind::Nickname && to == QueueStatus::Approved {
        sqlx::query("UPDATE users SET nickname = $1, updated_at = $2 WHERE id = $3")
            .bind(&item.text)
            .bind(now)
            .bind(item.user_id)
            .execute(&mut *tx)
            .await?;
    }
    // A held review, check-in, question or answer comes out (or stays out) with the decision; its link names it.
    let table = match item.kind {
        HeldKind::Review => Some("reviews"),
        HeldKind::CheckIn => Some("check_ins"),
        HeldKind::Question => Some("lesson_questions"),
        HeldKind::Answer => Some("lesson_answers"),
        HeldKind::Nickname | HeldKind::Complaint | HeldKind::Refund => None,
    };
    if let Some(table) = table
        && let Some(id) = item.link.rsplit_once(&format!("#{}-", item.kind)).and_then(|(_, id)| id.parse::<i64>().ok())
    {
        sqlx::query(&format!("UPDATE {table} SET status = $1 WHERE id = $2 AND status IN ('held', 'shown', 'hidden')"))
            .bind(if to == QueueStatus::Approved { Visibility::Shown } else { Visibility::Hidden }.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if item.kind == HeldKind::Answer && to == QueueStatus::Approved {
            super::questions::answer_shown(&mut tx, id, now).await?;
        }
    }
    tx.commit().await?;
    db.users_changed();
    Ok(true)
}

pub async fn held_count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM moderation_items WHERE status = 'held'").fetch_one(db.read()).await
}
