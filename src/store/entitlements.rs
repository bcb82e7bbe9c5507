//! Who may learn what, from the back office's side: a learner's courses, and grants and
//! revocations by staff (with the reason kept on the row).

use sqlx::Row;

use super::Db;

#[derive(Debug, Clone)]
pub struct Entitlement {
    pub course_id: i64,
    pub course_title: String,
    pub course_slug: String,
    /// order, staff, free, import…
    pub source: String,
    pub granted_at: i64,
    pub revoked_at: Option<i64>,
    pub note: String,
}

pub async fn for_user(db: &Db, user_id: i64) -> Result<Vec<Entitlement>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT e.course_id, c.title, c.slug, e.source, e.granted_at, e.revoked_at, e.note FROM entitlements e \
         JOIN courses c ON c.id = e.course_id WHERE e.user_id = $1 ORDER BY e.granted_at DESC",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Entitlement {
                course_id: r.try_get("course_id")?,
                course_title: r.try_get("title")?,
                course_slug: r.try_get("slug")?,
                source: r.try_get("source")?,
                granted_at: r.try_get("granted_at")?,
                revoked_at: r.try_get("revoked_at")?,
                note: r.try_get("note")?,
            })
        })
        .collect()
}

/// Gives the course by hand; false when the learner already has it.
pub async fn grant(db: &Db, user_id: i64, course_id: i64, note: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO entitlements (user_id, course_id, source, order_id, granted_at, note) VALUES ($1, $2, 'staff', NULL, $3, $4) \
         ON CONFLICT (user_id, course_id) DO UPDATE SET source = 'staff', order_id = NULL, granted_at = $3, revoked_at = NULL, note = $4 \
         WHERE entitlements.revoked_at IS NOT NULL",
    )
    .bind(user_id)
    .bind(course_id)
    .bind(now)
    .bind(note)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the course away; false when the learner did not have it.
pub async fn revoke(db: &Db, user_id: i64, course_id: i64, note: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE entitlements SET revoked_at = $1, note = $2 WHERE user_id = $3 AND course_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(note)
    .bind(user_id)
    .bind(course_id)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}
