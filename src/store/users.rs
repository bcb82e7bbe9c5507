//! Accounts.

use super::rows::{Present, Text};
use super::{Db, is_unique_violation};
use crate::domain::{Phone, UserId};

pub use crate::domain::staff::{AccountStatus, Role};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: UserId,
    #[sqlx(try_from = "Text")]
    pub phone: Phone,
    pub nickname: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "Text")]
    pub role: Role,
    pub created_at: i64,
    #[sqlx(try_from = "Text")]
    pub status: AccountStatus,
    /// Sessions that began with another version have been signed out.
    pub session_version: i64,
    #[sqlx(rename = "totp_enabled_at", try_from = "Present")]
    pub totp_enabled: bool,
    /// The user agreement version this account last accepted (0: none).
    pub agreed_version: i64,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    pub fn is_banned(&self) -> bool {
        matches!(self.status, AccountStatus::Banned | AccountStatus::Deleted)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("phone already registered")]
    PhoneTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub(crate) const COLUMNS: &str =
    "id, phone, nickname, password_hash, role, created_at, status, session_version, totp_enabled_at, agreed_version";

pub async fn find_by_phone(db: &Db, phone: &Phone) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE phone = $1");
    sqlx::query_as(&sql).bind(phone.as_str()).fetch_optional(db.read()).await
}

pub async fn find_by_id(db: &Db, id: UserId) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await
}

/// Logged-in accounts with their unread count, in memory (see `store::cache`).
pub struct UserCache(super::cache::EpochCache<UserId, Option<(User, i64)>>);

impl Default for UserCache {
    fn default() -> Self {
        UserCache(super::cache::EpochCache::new(super::Topic::Users))
    }
}

impl UserCache {
    pub fn sweep(&self) {
        self.0.sweep();
    }

    pub async fn find_with_unread(&self, db: &Db, id: UserId) -> Result<Option<(User, i64)>, sqlx::Error> {
        self.0.get_or_load(db, id, || find_with_unread(db, id)).await
    }
}

/// The logged-in user with their unread site messages, in one query (it runs on every request).
pub async fn find_with_unread(db: &Db, id: UserId) -> Result<Option<(User, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, (SELECT COUNT(*) FROM user_messages m WHERE m.user_id = users.id AND m.read_at IS NULL) AS unread \
         FROM users WHERE id = $1"
    );
    let found: Option<WithUnread> = sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await?;
    Ok(found.map(|f| (f.user, f.unread)))
}

#[derive(sqlx::FromRow)]
struct WithUnread {
    #[sqlx(flatten)]
    user: User,
    unread: i64,
}

pub async fn create(
    db: &Db,
    phone: &Phone,
    nickname: &str,
    password_hash: Option<&str>,
    role: Role,
    now: i64,
) -> Result<User, CreateUserError> {
    let sql = format!(
        "INSERT INTO users (phone, nickname, password_hash, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
    );
    let result = sqlx::query_as(&sql)
        .bind(phone.as_str())
        .bind(nickname)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(db.write())
        .await;
    db.users_changed();
    match result {
        Ok(user) => Ok(user),
        Err(e) if is_unique_violation(&e) => Err(CreateUserError::PhoneTaken),
        Err(e) => Err(e.into()),
    }
}

pub async fn set_nickname(db: &Db, id: UserId, nickname: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET nickname = $1, updated_at = $2 WHERE id = $3")
        .bind(nickname)
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    db.users_changed();
    Ok(())
}

/// Sets a new password (and role): every session signed in with the old one ends.
pub async fn set_password_and_role(
    db: &Db,
    id: UserId,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, role = $2, session_version = session_version + 1, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    db.users_changed();
    db.sessions_changed();
    Ok(())
}

/// Accounts whose phone contains `digits` (all accounts when empty), newest first.
pub async fn search(db: &Db, digits: &str, limit: i64) -> Result<Vec<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE phone LIKE $1 ORDER BY id DESC LIMIT $2");
    let pattern = format!("%{}%", digits.chars().filter(char::is_ascii_digit).collect::<String>());
    sqlx::query_as(&sql).bind(pattern).bind(limit).fetch_all(db.read()).await
}

#[derive(Debug, Clone)]
pub struct Login {
    pub method: String,
    pub ip: String,
    pub user_agent: String,
    /// The session from this login still counts (no sign-out-everywhere since).
    pub current: bool,
    pub created_at: i64,
}

/// Remembers a login for the account's page (`method`: sms, password, staff).
pub async fn record_login(
    db: &Db,
    user: &User,
    method: &str,
    ip: &str,
    user_agent: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let agent: String = user_agent.chars().take(200).collect();
    sqlx::query(
        "INSERT INTO logins (user_id, method, ip, user_agent, session_version, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id)
    .bind(method)
    .bind(ip)
    .bind(agent)
    .bind(user.session_version)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

pub async fn recent_logins(db: &Db, user: &User, limit: i64) -> Result<Vec<Login>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT method, ip, user_agent, session_version, created_at FROM logins WHERE user_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(user.id)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(method, ip, user_agent, version, created_at)| Login {
            method,
            ip,
            user_agent,
            current: version == user.session_version,
            created_at,
        })
        .collect())
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(db.read()).await
}

/// A default nickname for a new account: 学员 + the last four digits.
pub fn default_nickname(phone: &Phone) -> String {
    format!("学员{}", &phone.as_str()[7..])
}

/// What the phone column holds for an account known only by WeChat (a buyer the mini program
/// never asked for a number): not a number, so nobody signs in by SMS as it and no SMS goes to
/// it; unique; and derived from the identity, so a second import or sync finds the same account.
pub fn wechat_only_phone(buyer_key: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{WECHAT_ONLY_PREFIX}{}", hex::encode(&Sha256::digest(buyer_key.as_bytes())[..8]))
}

pub const WECHAT_ONLY_PREFIX: &str = "wx:";
pub const WECHAT_ONLY_NICKNAME: &str = "微信学员";
