//! The official account's followers matched to buyers, and the template messages queued for
//! them: once per event and follower (the unique key), claimed one sender at a time, retried on
//! a transient refusal, and left as uncertain (never sent twice) when a process stopped mid-send.

use serde::{Deserialize, Serialize};

use super::Db;
use super::identities::{OPENID_OA, UNIONID};
use crate::domain::outbox::OutboxStatus;
use crate::domain::{CourseId, UserId, WechatMessageId};

/// A follower as user/info tells: the openid, the unionid when the account is bound to the open
/// platform, and whether they still follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    pub openid: String,
    pub unionid: Option<String>,
    pub subscribed: bool,
}

/// What a queued message carries besides its template id: where it leads and its fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub url: String,
    pub fields: Vec<(String, String)>,
}

pub const MAX_ATTEMPTS: i64 = 5;
/// A live sender settles a row within seconds; one `sending` for longer was left by a process
/// that stopped.
pub const INTERRUPTED_AFTER_SECS: i64 = 300;

/// Remembers what user/info said of these followers; one who unfollowed is forgotten.
pub async fn save_followers(db: &Db, followers: &[Follower], now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    for f in followers {
        if f.subscribed {
            sqlx::query(
                "INSERT INTO oa_followers (openid, unionid, fetched_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (openid) DO UPDATE SET unionid = excluded.unionid, fetched_at = excluded.fetched_at",
            )
            .bind(&f.openid)
            .bind(&f.unionid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("DELETE FROM oa_followers WHERE openid = $1").bind(&f.openid).execute(&mut *tx).await?;
        }
    }
    tx.commit().await
}

/// When the followers were last fetched (None: never, or nobody follows).
pub async fn last_fetched(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MAX(fetched_at) FROM oa_followers").fetch_one(db.read()).await
}

/// Followers not seen in the last full fetch have unfollowed.
pub async fn forget_unseen(db: &Db, fetched_before: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM oa_followers WHERE fetched_at < $1")
        .bind(fetched_before)
        .execute(db.write())
        .await?
        .rows_affected())
}

/// Accounts that came from the mini program or bought here (a paid order), with the follower
/// openid that reaches each: matched by unionid, or by the official account's own openid.
const REACHABLE: &str = "SELECT DISTINCT f.openid, u.id FROM oa_followers f \
     JOIN user_identities i ON (i.provider = $1 AND i.value = f.unionid) OR (i.provider = $2 AND i.value = f.openid) \
     JOIN users u ON u.id = i.user_id \
     WHERE u.status <> 'deleted' AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.paid_at IS NOT NULL)";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub followers: i64,
    /// Buyers a template message reaches.
    pub buyers: i64,
}

pub async fn reach(db: &Db) -> Result<Reach, sqlx::Error> {
    let followers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oa_followers").fetch_one(db.read()).await?;
    let buyers: i64 = sqlx::query_scalar(&format!("SELECT COUNT(DISTINCT r.id) FROM ({REACHABLE}) r"))
        .bind(UNIONID)
        .bind(OPENID_OA)
        .fetch_one(db.read())
        .await?;
    Ok(Reach { followers, buyers })
}

/// Queues one message per matched buyer's follower for `event_key` (only those who have
/// `course`, when one is given); a second call for the same event adds nothing. Returns how many
/// were queued.
pub async fn enqueue_for_buyers(
    db: &Db,
    event_key: &str,
    template_id: &str,
    payload: &str,
    course: Option<CourseId>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "INSERT INTO wechat_outbox (event_key, openid, user_id, template_id, payload, status, next_attempt_at, created_at, updated_at) \
         SELECT $3, r.openid, MIN(r.id), $4, $5, 'queued', $6, $6, $6 FROM ({REACHABLE}) r \
         WHERE $7 = 0 OR EXISTS (SELECT 1 FROM entitlements e WHERE e.user_id = r.id AND e.course_id = $7) \
         GROUP BY r.openid \
         ON CONFLICT (event_key, openid) DO NOTHING"
    );
    let done = sqlx::query(&sql)
        .bind(UNIONID)
        .bind(OPENID_OA)
        .bind(event_key)
        .bind(template_id)
        .bind(payload)
        .bind(now)
        .bind(course.map_or(0, |c| c.0))
        .execute(db.write())
        .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Queued {
    pub id: WechatMessageId,
    pub openid: String,
    pub template_id: String,
    pub payload: String,
    pub attempts: i64,
}

/// Claims up to `limit` due rows: each moves from queued to sending once.
pub async fn claim_due(db: &Db, now: i64, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
    let rows: Vec<Queued> = sqlx::query_as(
        "SELECT id, openid, template_id, payload, attempts FROM wechat_outbox \
         WHERE status = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for mut row in rows {
        let done = sqlx::query(
            "UPDATE wechat_outbox SET status = 'sending', attempts = attempts + 1, updated_at = $1 \
             WHERE id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(row.id)
        .execute(db.write())
        .await?;
        if done.rows_affected() == 1 {
            row.attempts += 1;
            claimed.push(row);
        }
    }
    Ok(claimed)
}

pub async fn mark_sent(db: &Db, id: WechatMessageId, msg_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE wechat_outbox SET status = 'sent', msg_id = $1, error_code = NULL, error_message = NULL, \
         sent_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind(msg_id)
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(())
}

/// A refusal: queued again at `retry_at`, or failed for good when there is none.
pub async fn mark_failed(
    db: &Db,
    id: WechatMessageId,
    code: &str,
    message: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE wechat_outbox SET status = $1, next_attempt_at = $2, error_code = $3, error_message = $4, updated_at = $5 \
         WHERE id = $6",
    )
    .bind(if retry_at.is_some() { OutboxStatus::Queued } else { OutboxStatus::Failed }.as_str())
    .bind(retry_at.unwrap_or(now))
    .bind(code)
    .bind(message.chars().take(300).collect::<String>())
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(())
}

pub async fn settle_interrupted(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE wechat_outbox SET status = 'uncertain', error_code = 'interrupted', updated_at = $1 \
         WHERE status = 'sending' AND updated_at < $2",
    )
    .bind(now)
    .bind(now - INTERRUPTED_AFTER_SECS)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected())
}

/// Per event: how many are queued, sent and failed (or uncertain).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventCount {
    pub event_key: String,
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
}

pub async fn counts(db: &Db, limit: i64) -> Result<Vec<EventCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_key, \
         CAST(SUM(CASE WHEN status IN ('queued', 'sending') THEN 1 ELSE 0 END) AS BIGINT) AS queued, \
         CAST(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS BIGINT) AS sent, \
         CAST(SUM(CASE WHEN status IN ('failed', 'uncertain') THEN 1 ELSE 0 END) AS BIGINT) AS failed \
         FROM wechat_outbox GROUP BY event_key ORDER BY MIN(created_at) DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// Messages that did not go out, newest first, for the failure list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Failure {
    pub id: WechatMessageId,
    pub event_key: String,
    pub user_id: Option<UserId>,
    #[sqlx(try_from = "String")]
    pub status: OutboxStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub updated_at: i64,
}

pub async fn failures(db: &Db, limit: i64) -> Result<Vec<Failure>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_key, user_id, status, error_code, error_message, updated_at FROM wechat_outbox \
         WHERE status IN ('failed', 'uncertain') ORDER BY updated_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// Messages sent per Shanghai day since `since` (for the takedown funnel).
pub async fn sent_user_ids_since(db: &Db, since: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, sent_at FROM wechat_outbox WHERE status = 'sent' AND sent_at >= $1 AND user_id IS NOT NULL",
    )
    .bind(since)
    .fetch_all(db.read())
    .await
}
