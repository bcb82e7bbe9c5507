//! SMS verification codes. Only a keyed hash of each code is stored.

use super::Db;
use super::rows::Present;
use crate::domain::SignInCodeId;

/// Codes sent for login and registration share one purpose: both prove the phone is yours.
pub const PURPOSE_AUTH: &str = "auth";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCode {
    pub id: SignInCodeId,
    pub code_hash: String,
    pub expires_at: i64,
    pub attempts: i64,
    #[sqlx(rename = "consumed_at", try_from = "Present")]
    pub consumed: bool,
}

/// Stores a new code unless a rate limit says to wait. The check and the insert are one
/// transaction on the single writer (SQLite) or under advisory locks on the address and the phone
/// (PostgreSQL), so concurrent requests cannot slip past a limit together.
///
/// `decide` gets the codes (time, requester; oldest first) sent to this phone since `phone_since`
/// and the send times from this address since `ip_since`, and refuses with its own reason.
pub async fn insert_unless_limited<E: From<sqlx::Error>>(
    db: &Db,
    new: &NewCode<'_>,
    decide: impl FnOnce(&[(i64, String)], &[i64]) -> Result<(), E>,
) -> Result<(), E> {
    let mut tx = db.write().begin().await?;
    for key in [new.ip, new.phone] {
        super::dialect::lock(db.backend(), &mut tx, key).await?;
    }
    let to_phone: Vec<(i64, String)> = sqlx::query_as(
        "SELECT created_at, requester FROM sms_codes WHERE phone = $1 AND created_at > $2 ORDER BY created_at",
    )
    .bind(new.phone)
    .bind(new.phone_since)
    .fetch_all(&mut *tx)
    .await?;
    let from_ip: Vec<i64> =
        sqlx::query_scalar("SELECT created_at FROM sms_codes WHERE ip = $1 AND created_at > $2 ORDER BY created_at")
            .bind(new.ip)
            .bind(new.ip_since)
            .fetch_all(&mut *tx)
            .await?;
    if let Err(refused) = decide(&to_phone, &from_ip) {
        tx.rollback().await?;
        return Err(refused);
    }
    sqlx::query(
        "INSERT INTO sms_codes (phone, purpose, code_hash, ip, created_at, expires_at, requester) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.phone)
    .bind(new.purpose)
    .bind(new.code_hash)
    .bind(new.ip)
    .bind(new.now)
    .bind(new.expires_at)
    .bind(new.requester)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub struct NewCode<'a> {
    pub phone: &'a str,
    pub purpose: &'a str,
    pub code_hash: &'a str,
    pub ip: &'a str,
    /// The browser that asked (see `auth::codes::browser_id`).
    pub requester: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub phone_since: i64,
    pub ip_since: i64,
}

/// The newest code sent to this phone for this purpose at `requester`'s asking, if any.
pub async fn latest(db: &Db, phone: &str, purpose: &str, requester: &str) -> Result<Option<StoredCode>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, code_hash, expires_at, attempts, consumed_at FROM sms_codes \
         WHERE phone = $1 AND purpose = $2 AND requester = $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(phone)
    .bind(purpose)
    .bind(requester)
    .fetch_optional(db.read())
    .await
}

/// Counts a wrong try; returns the attempts now recorded, or None if the code was already burned
/// or used (a concurrent try got there first).
pub async fn record_wrong_attempt(db: &Db, id: SignInCodeId, max_attempts: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sms_codes SET attempts = attempts + 1 \
         WHERE id = $1 AND attempts < $2 AND consumed_at IS NULL RETURNING attempts",
    )
    .bind(id)
    .bind(max_attempts)
    .fetch_optional(db.write())
    .await
}

/// Marks a code used; false when another request used or burned it first.
pub async fn consume(db: &Db, id: SignInCodeId, max_attempts: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sms_codes SET consumed_at = $1 \
         WHERE id = $2 AND consumed_at IS NULL AND attempts < $3 AND expires_at > $1",
    )
    .bind(now)
    .bind(id)
    .bind(max_attempts)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_older_than(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sms_codes WHERE created_at < $1").bind(cutoff).execute(db.write()).await?;
    Ok(done.rows_affected())
}
