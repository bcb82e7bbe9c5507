//! Staff accounts: their second factor, recovery codes, roles, and account status changes.

use super::Db;
use super::users::{self, AccountStatus, Role, User};
use crate::domain::UserId;

/// The sealed TOTP secret and the last step used, if a secret was ever made.
pub async fn totp_state(db: &Db, user_id: UserId) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT totp_secret, totp_last_step FROM users WHERE id = $1 AND totp_secret IS NOT NULL")
        .bind(user_id)
        .fetch_optional(db.read())
        .await
}

/// Stores a new secret awaiting confirmation (enrolment starts over).
pub async fn start_enrolment(db: &Db, user_id: UserId, sealed: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET totp_secret = $1, totp_enabled_at = NULL, totp_last_step = 0, updated_at = $2 WHERE id = $3",
    )
    .bind(sealed)
    .bind(now)
    .bind(user_id)
    .execute(db.write())
    .await?;
    db.users_changed();
    Ok(())
}

/// Records a used step, only if it is newer than the last one (two tabs cannot both use a code).
pub async fn use_step(db: &Db, user_id: UserId, step: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
        .bind(step)
        .bind(user_id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns TOTP on and replaces the recovery codes, in one transaction.
pub async fn finish_enrolment(db: &Db, user_id: UserId, code_hashes: &[String], now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    sqlx::query("UPDATE users SET totp_enabled_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    for hash in code_hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    db.users_changed();
    Ok(())
}

/// Spends a recovery code; false when it is unknown or already used.
pub async fn use_recovery_code(db: &Db, user_id: UserId, code_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(now)
            .bind(user_id)
            .bind(code_hash)
            .execute(db.write())
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn recovery_codes_left(db: &Db, user_id: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(db.read())
        .await
}

/// Clears the second factor: the next sign-in enrols again.
pub async fn reset_totp(db: &Db, user_id: UserId, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    sqlx::query("UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0, session_version = session_version + 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    db.users_changed();
    Ok(())
}

/// Everyone with a staff role, admins first.
pub async fn list(db: &Db) -> Result<Vec<User>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM users WHERE role <> 'learner' ORDER BY CASE role WHEN 'admin' THEN 0 WHEN 'operator' THEN 1 ELSE 2 END, id",
        users::COLUMNS
    );
    sqlx::query_as(&sql).fetch_all(db.read()).await
}

/// Changes the role; any role change signs the account out everywhere.
pub async fn set_role(db: &Db, user_id: UserId, role: Role, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET role = $1, session_version = session_version + 1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now)
        .bind(user_id)
        .execute(db.write())
        .await?;
    db.users_changed();
    Ok(())
}

/// Ends every session of the account (each remembers the version it began with).
pub async fn sign_out_everywhere(db: &Db, user_id: UserId, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET session_version = session_version + 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(db.write())
        .await?;
    db.users_changed();
    Ok(())
}

/// Mute, ban or restore; a ban also ends every session.
pub async fn set_status(
    db: &Db,
    user_id: UserId,
    status: AccountStatus,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let bump = i64::from(status == AccountStatus::Banned);
    sqlx::query(
        "UPDATE users SET status = $1, status_reason = $2, session_version = session_version + $3, updated_at = $4 WHERE id = $5",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(bump)
    .bind(now)
    .bind(user_id)
    .execute(db.write())
    .await?;
    db.users_changed();
    Ok(())
}
