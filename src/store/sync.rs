//! The sync API's keys, nonces, record versions and batch log.

use std::collections::HashMap;

use super::{Db, in_list};
use crate::domain::{SyncKeyId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncKey {
    pub id: SyncKeyId,
    pub key_id: String,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn create_key(
    db: &Db,
    key_id: &str,
    secret: &str,
    label: &str,
    by: UserId,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sync_keys (key_id, secret, label, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(key_id)
    .bind(secret)
    .bind(label)
    .bind(by)
    .bind(now)
    .fetch_one(db.write())
    .await
}

pub async fn keys(db: &Db) -> Result<Vec<SyncKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, key_id, label, created_at, last_used_at, revoked_at FROM sync_keys ORDER BY revoked_at IS NOT NULL, id DESC",
    )
    .fetch_all(db.read())
    .await
}

/// Revokes a key; false when there is no such active key.
pub async fn revoke_key(db: &Db, id: SyncKeyId, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE sync_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The secret of an active key.
pub async fn secret_of(db: &Db, key_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT secret FROM sync_keys WHERE key_id = $1 AND revoked_at IS NULL")
        .bind(key_id)
        .fetch_optional(db.write())
        .await
}

/// Records a nonce; false when the key used it already. Nonces older than `forget_before` go.
pub async fn claim_nonce(
    db: &Db,
    key_id: &str,
    nonce: &str,
    now: i64,
    forget_before: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM sync_nonces WHERE seen_at < $1").bind(forget_before).execute(db.write()).await?;
    let done = sqlx::query(
        "INSERT INTO sync_nonces (key_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT (key_id, nonce) DO NOTHING",
    )
    .bind(key_id)
    .bind(nonce)
    .bind(now)
    .execute(db.write())
    .await?;
    sqlx::query("UPDATE sync_keys SET last_used_at = $1 WHERE key_id = $2")
        .bind(now)
        .bind(key_id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The newest event applied to each of these records.
pub async fn versions(db: &Db, keys: &[String]) -> Result<HashMap<String, i64>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(500) {
        let sql =
            format!("SELECT record_key, event_at FROM sync_versions WHERE record_key IN ({})", in_list(chunk.len()));
        let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
        for key in chunk {
            query = query.bind(key);
        }
        found.extend(query.fetch_all(db.read()).await?);
    }
    Ok(found)
}

/// Remembers the events applied; an older one never replaces a newer one.
pub async fn save_versions(db: &Db, applied: &[(String, i64)]) -> Result<(), sqlx::Error> {
    for chunk in applied.chunks(500) {
        let values: Vec<String> = (0..chunk.len()).map(|r| format!("(${}, ${})", r * 2 + 1, r * 2 + 2)).collect();
        let sql = format!(
            "INSERT INTO sync_versions (record_key, event_at) VALUES {} ON CONFLICT (record_key) DO UPDATE \
             SET event_at = excluded.event_at WHERE sync_versions.event_at < excluded.event_at",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (key, at) in chunk {
            query = query.bind(key).bind(*at);
        }
        query.execute(db.write()).await?;
    }
    Ok(())
}

/// One batch received.
pub struct Batch<'a> {
    pub key_id: &'a str,
    pub records: i64,
    pub applied: i64,
    pub skipped: i64,
    pub rejected: i64,
    /// Milliseconds.
    pub newest_event_at: Option<i64>,
}

pub async fn log_batch(db: &Db, batch: &Batch<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sync_batches (key_id, received_at, records, applied, skipped, rejected, newest_event_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(batch.key_id)
    .bind(now)
    .bind(batch.records)
    .bind(batch.applied)
    .bind(batch.skipped)
    .bind(batch.rejected)
    .bind(batch.newest_event_at)
    .execute(db.write())
    .await?;
    Ok(())
}

/// What the back office and /metrics show.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// When the last batch arrived (seconds).
    pub last_received_at: Option<i64>,
    /// The newest event of the last batch (seconds).
    pub last_event_at: Option<i64>,
    /// (Shanghai day start, records received, applied, rejected), newest first.
    pub days: Vec<(i64, i64, i64, i64)>,
}

impl Status {
    /// How far the shop was behind the mini program when the last batch arrived.
    pub fn lag_secs(&self) -> Option<i64> {
        Some((self.last_received_at? - self.last_event_at?).max(0))
    }
}

pub async fn status(db: &Db, since: i64) -> Result<Status, sqlx::Error> {
    let last: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT received_at, newest_event_at FROM sync_batches ORDER BY id DESC LIMIT 1")
            .fetch_optional(db.read())
            .await?;
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT received_at, records, applied, rejected FROM sync_batches WHERE received_at >= $1 ORDER BY received_at",
    )
    .bind(since)
    .fetch_all(db.read())
    .await?;
    let mut days: Vec<(i64, i64, i64, i64)> = Vec::new();
    for (at, records, applied, rejected) in rows {
        let day = crate::domain::stats::shanghai_day(at);
        match days.last_mut() {
            Some(last) if last.0 == day => {
                last.1 += records;
                last.2 += applied;
                last.3 += rejected;
            }
            _ => days.push((day, records, applied, rejected)),
        }
    }
    days.reverse();
    Ok(Status { last_received_at: last.map(|l| l.0), last_event_at: last.and_then(|l| l.1).map(|ms| ms / 1000), days })
}
