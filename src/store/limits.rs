//! Failed password logins, counted per account for the lockout rule.

use super::Db;

pub async fn record_login_failure(db: &Db, user_id: i64, ip: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (user_id, ip, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(ip)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Failure times for one account since `since`, oldest first.
pub async fn login_failures_since(db: &Db, user_id: i64, since: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT created_at FROM login_failures WHERE user_id = $1 AND created_at > $2 ORDER BY created_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(db.write())
    .await
}

pub async fn delete_older_than(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM login_failures WHERE created_at < $1").bind(cutoff).execute(db.write()).await?;
    Ok(done.rows_affected())
}
