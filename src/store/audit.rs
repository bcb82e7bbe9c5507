//! The audit log: every change a staff member makes, with the state before and after.

use serde_json::Value;

use super::Db;
use crate::domain::{AuditEntryId, UserId};

pub struct NewEntry<'a> {
    pub staff_id: UserId,
    /// `course.update`, `order.close`, `user.grant`, …
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Value,
    pub after: Value,
    pub note: &'a str,
    pub ip: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: AuditEntryId,
    pub staff_id: UserId,
    #[sqlx(rename = "phone")]
    pub staff_phone: String,
    #[sqlx(rename = "nickname")]
    pub staff_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    #[sqlx(rename = "before_json")]
    pub before: String,
    #[sqlx(rename = "after_json")]
    pub after: String,
    pub note: String,
    pub ip: String,
    pub created_at: i64,
}

pub async fn record(db: &Db, entry: NewEntry<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (staff_id, action, target_type, target_id, before_json, after_json, note, ip, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(entry.staff_id)
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(entry.target_id)
    .bind(entry.before.to_string())
    .bind(entry.after.to_string())
    .bind(entry.note)
    .bind(entry.ip)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub staff_id: Option<UserId>,
    /// An action, or its prefix (`order` matches `order.close`).
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// Newest first. Every condition is optional; an empty value means "any".
pub async fn search(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    let sql = "SELECT a.id, a.staff_id, u.phone, u.nickname, a.action, a.target_type, a.target_id, a.before_json, \
               a.after_json, a.note, a.ip, a.created_at FROM audit_log a JOIN users u ON u.id = a.staff_id \
               WHERE ($1 = 0 OR a.staff_id = $1) AND ($2 = '' OR a.action = $2 OR a.action LIKE $3) \
               AND ($4 = '' OR a.target_type = $4) AND ($5 = '' OR a.target_id = $5) \
               AND a.created_at >= $6 AND a.created_at < $7 ORDER BY a.id DESC LIMIT $8";
    sqlx::query_as(sql)
        .bind(filter.staff_id.map_or(0, |id| id.0))
        .bind(&filter.action)
        .bind(format!("{}.%", filter.action))
        .bind(&filter.target_type)
        .bind(&filter.target_id)
        .bind(filter.from.unwrap_or(0))
        .bind(filter.until.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(db.read())
        .await
}
