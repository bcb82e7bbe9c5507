//! Failed sign-ins: per account for the lockout rule, and per address and network for the
//! limits that stop one source guessing across many accounts.

use super::Db;
use crate::domain::UserId;

pub async fn record_login_failure(db: &Db, user_id: UserId, ip: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (user_id, ip, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(ip)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Failure times for one account since `since`, oldest first.
pub async fn login_failures_since(db: &Db, user_id: UserId, since: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT created_at FROM login_failures WHERE user_id = $1 AND created_at > $2 ORDER BY created_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(db.write())
    .await
}

/// A correct SMS code proves the phone: its owner's password lock is lifted. Most accounts have
/// no failures to clear, and then the writer is not asked (on SQLite every sign-in would queue
/// for it once more).
pub async fn clear_login_failures(db: &Db, user_id: UserId) -> Result<(), sqlx::Error> {
    let any: Option<i64> = sqlx::query_scalar("SELECT user_id FROM login_failures WHERE user_id = $1 LIMIT 1")
        .bind(user_id)
        .fetch_optional(db.read())
        .await?;
    if any.is_some() {
        sqlx::query("DELETE FROM login_failures WHERE user_id = $1").bind(user_id).execute(db.write()).await?;
    }
    Ok(())
}

/// Any failed password or second-factor attempt, known account or not.
pub async fn record_auth_failure(db: &Db, ip: &str, net: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO auth_failures (ip, net, created_at) VALUES ($1, $2, $3)")
        .bind(ip)
        .bind(net)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Failure times from one address and from its network since `since`, each oldest first.
pub async fn auth_failures_since(
    db: &Db,
    ip: &str,
    net: &str,
    since: i64,
) -> Result<(Vec<i64>, Vec<i64>), sqlx::Error> {
    let by_ip = sqlx::query_scalar(
        "SELECT created_at FROM auth_failures WHERE ip = $1 AND created_at > $2 ORDER BY created_at",
    )
    .bind(ip)
    .bind(since)
    .fetch_all(db.read())
    .await?;
    let by_net = sqlx::query_scalar(
        "SELECT created_at FROM auth_failures WHERE net = $1 AND created_at > $2 ORDER BY created_at",
    )
    .bind(net)
    .bind(since)
    .fetch_all(db.read())
    .await?;
    Ok((by_ip, by_net))
}

pub async fn delete_older_than(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM login_failures WHERE created_at < $1").bind(cutoff).execute(db.write()).await?;
    let by_source =
        sqlx::query("DELETE FROM auth_failures WHERE created_at < $1").bind(cutoff).execute(db.write()).await?;
    Ok(done.rows_affected() + by_source.rows_affected())
}
