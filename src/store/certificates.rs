//! Certificates and their per-course design (`domain::certificate` holds the rules). One
//! certificate per learner and course; revoking keeps it, with the reason, for its verify page.

use super::Db;
use crate::domain::certificate::{Design, code_from};
use crate::domain::{CertificateId, CourseId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Certificate {
    pub id: CertificateId,
    pub code: String,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub name: String,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: String,
}

const CERTIFICATE: &str =
    "SELECT id, code, user_id, course_id, name, issued_at, revoked_at, revoke_reason FROM certificates";

pub async fn design(db: &Db, course: CourseId) -> Result<Design, sqlx::Error> {
    type Row = (String, String, String, i64, i64, i64, i64, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT title, background, seal, name_top, course_top, date_top, seal_left, seal_top \
         FROM certificate_designs WHERE course_id = $1",
    )
    .bind(course)
    .fetch_optional(db.read())
    .await?;
    Ok(row.map_or_else(
        Design::default,
        |(title, background, seal, name_top, course_top, date_top, seal_left, seal_top)| Design {
            title,
            background,
            seal,
            name_top,
            course_top,
            date_top,
            seal_left,
            seal_top,
        },
    ))
}

pub async fn save_design(db: &Db, course: CourseId, d: &Design, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO certificate_designs (course_id, title, background, seal, name_top, course_top, date_top, \
         seal_left, seal_top, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (course_id) DO UPDATE SET title = excluded.title, background = excluded.background, \
         seal = excluded.seal, name_top = excluded.name_top, course_top = excluded.course_top, \
         date_top = excluded.date_top, seal_left = excluded.seal_left, seal_top = excluded.seal_top, \
         updated_at = excluded.updated_at",
    )
    .bind(course)
    .bind(&d.title)
    .bind(&d.background)
    .bind(&d.seal)
    .bind(d.name_top)
    .bind(d.course_top)
    .bind(d.date_top)
    .bind(d.seal_left)
    .bind(d.seal_top)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

pub async fn of_learner(db: &Db, user: UserId, course: CourseId) -> Result<Option<Certificate>, sqlx::Error> {
    sqlx::query_as(&format!("{CERTIFICATE} WHERE user_id = $1 AND course_id = $2"))
        .bind(user)
        .bind(course)
        .fetch_optional(db.read())
        .await
}

pub async fn by_code(db: &Db, code: &str) -> Result<Option<Certificate>, sqlx::Error> {
    sqlx::query_as(&format!("{CERTIFICATE} WHERE code = $1")).bind(code).fetch_optional(db.read()).await
}

pub async fn find(db: &Db, id: CertificateId) -> Result<Option<Certificate>, sqlx::Error> {
    sqlx::query_as(&format!("{CERTIFICATE} WHERE id = $1")).bind(id).fetch_optional(db.read()).await
}

/// A course's certificates, the newest first.
pub async fn for_course(db: &Db, course: CourseId) -> Result<Vec<Certificate>, sqlx::Error> {
    sqlx::query_as(&format!("{CERTIFICATE} WHERE course_id = $1 ORDER BY id DESC LIMIT 200"))
        .bind(course)
        .fetch_all(db.read())
        .await
}

/// Issues the learner's certificate under `name`, or returns the one they have (a double tap
/// issues one).
pub async fn issue(db: &Db, user: UserId, course: CourseId, name: &str, now: i64) -> Result<Certificate, sqlx::Error> {
    let code = code_from(&rand::random::<[u8; 12]>());
    sqlx::query(
        "INSERT INTO certificates (code, user_id, course_id, name, issued_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, course_id) DO NOTHING",
    )
    .bind(&code)
    .bind(user)
    .bind(course)
    .bind(name)
    .bind(now)
    .execute(db.write())
    .await?;
    sqlx::query_as(&format!("{CERTIFICATE} WHERE user_id = $1 AND course_id = $2"))
        .bind(user)
        .bind(course)
        .fetch_one(db.write())
        .await
}

/// Revokes a certificate; false when it was revoked already.
pub async fn revoke(db: &Db, id: CertificateId, reason: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE certificates SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(id)
            .execute(db.write())
            .await?
            .rows_affected();
    Ok(done > 0)
}
