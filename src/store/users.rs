//! Accounts.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, is_unique_violation};
use crate::domain::Phone;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Learner,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Admin => "admin",
        }
    }

    fn parse(value: &str) -> Role {
        if value == "admin" { Role::Admin } else { Role::Learner }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub phone: Phone,
    pub nickname: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub created_at: i64,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("phone already registered")]
    PhoneTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

const COLUMNS: &str = "id, phone, nickname, password_hash, role, created_at";

fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        phone: Phone::from_stored(row.try_get("phone")?),
        nickname: row.try_get("nickname")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&row.try_get::<String, _>("role")?),
        created_at: row.try_get("created_at")?,
    })
}

pub async fn find_by_phone(db: &Db, phone: &Phone) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE phone = $1");
    let row = sqlx::query(&sql).bind(phone.as_str()).fetch_optional(db.read()).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(db.read()).await?;
    row.as_ref().map(from_row).transpose()
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
    let result = sqlx::query(&sql)
        .bind(phone.as_str())
        .bind(nickname)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(db.write())
        .await;
    match result {
        Ok(row) => Ok(from_row(&row)?),
        Err(e) if is_unique_violation(&e) => Err(CreateUserError::PhoneTaken),
        Err(e) => Err(e.into()),
    }
}

pub async fn set_nickname(db: &Db, id: i64, nickname: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET nickname = $1, updated_at = $2 WHERE id = $3")
        .bind(nickname)
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(())
}

pub async fn set_password_and_role(
    db: &Db,
    id: i64,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, role = $2, updated_at = $3 WHERE id = $4")
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(())
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(db.read()).await
}

/// A default nickname for a new account: 学员 + the last four digits.
pub fn default_nickname(phone: &Phone) -> String {
    format!("学员{}", &phone.as_str()[7..])
}
