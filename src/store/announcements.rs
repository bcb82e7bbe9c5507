//! Announcements: site banners, and messages fanned out to learners' message centres in one
//! INSERT … SELECT (one row per recipient, inside the transaction that records the message).

use super::Db;
use crate::domain::{AnnouncementId, CourseId, UserId};

crate::domain::words::stored_word! {
    /// A banner across the site, or a message to learners' message centres.
    pub enum AnnouncementKind { Banner => "banner", Message => "message" }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Announcement {
    pub id: AnnouncementId,
    #[sqlx(try_from = "String")]
    pub kind: AnnouncementKind,
    pub title: String,
    pub body: String,
    pub link: String,
    pub course_title: Option<String>,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub recipients: i64,
    pub created_at: i64,
}

impl Announcement {
    pub fn is_live(&self, now: i64) -> bool {
        self.starts_at <= now && self.ends_at.is_none_or(|end| now < end)
    }
}

const COLUMNS: &str = "a.id, a.kind, a.title, a.body, a.link, c.title AS course_title, a.starts_at, \
     a.ends_at, a.recipients, a.created_at";
const FROM: &str = "FROM announcements a LEFT JOIN courses c ON c.id = a.course_id";

pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Announcement>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {FROM} ORDER BY a.id DESC LIMIT $1");
    sqlx::query_as(&sql).bind(limit).fetch_all(db.read()).await
}

/// Banners that have not ended (current or scheduled), soonest first.
pub async fn banners(db: &Db, now: i64) -> Result<Vec<Announcement>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE a.kind = 'banner' AND (a.ends_at IS NULL OR a.ends_at > $1) ORDER BY a.starts_at, a.id"
    );
    sqlx::query_as(&sql).bind(now).fetch_all(db.read()).await
}

pub struct NewBanner<'a> {
    pub title: &'a str,
    pub link: &'a str,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub staff_id: UserId,
}

pub async fn create_banner(db: &Db, b: &NewBanner<'_>, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO announcements (kind, title, link, starts_at, ends_at, created_by, created_at) \
         VALUES ('banner', $1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(b.title)
    .bind(b.link)
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(b.staff_id)
    .bind(now)
    .fetch_one(db.write())
    .await
}

/// Ends a banner now; false when it had already ended.
pub async fn end_banner(db: &Db, id: AnnouncementId, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE announcements SET ends_at = $1 WHERE id = $2 AND kind = 'banner' AND (ends_at IS NULL OR ends_at > $1)",
    )
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub struct NewMessage<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// None: every learner; Some: the course's current holders.
    pub course_id: Option<CourseId>,
    pub staff_id: UserId,
}

/// Records the message and puts it in each recipient's message centre; returns (id, recipients).
pub async fn send_message(db: &Db, m: &NewMessage<'_>, now: i64) -> Result<(AnnouncementId, i64), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let audience = if m.course_id.is_some() { "course" } else { "all" };
    let id: AnnouncementId = sqlx::query_scalar(
        "INSERT INTO announcements (kind, title, body, audience, course_id, starts_at, created_by, created_at) \
         VALUES ('message', $1, $2, $3, $4, $5, $6, $5) RETURNING id",
    )
    .bind(m.title)
    .bind(m.body)
    .bind(audience)
    .bind(m.course_id)
    .bind(now)
    .bind(m.staff_id)
    .fetch_one(&mut *tx)
    .await?;
    let link = "/me/messages";
    let sent = match m.course_id {
        Some(course_id) => {
            sqlx::query(
                "INSERT INTO user_messages (user_id, kind, ref_no, note, link, created_at, announcement_id) \
                 SELECT e.user_id, 'announcement', '', $1, $2, $3, $4 FROM entitlements e \
                 JOIN users u ON u.id = e.user_id WHERE e.course_id = $5 AND e.revoked_at IS NULL AND u.status <> 'banned'",
            )
            .bind(m.title)
            .bind(link)
            .bind(now)
            .bind(id)
            .bind(course_id)
            .execute(&mut *tx)
            .await?
        }
        None => {
            sqlx::query(
                "INSERT INTO user_messages (user_id, kind, ref_no, note, link, created_at, announcement_id) \
                 SELECT id, 'announcement', '', $1, $2, $3, $4 FROM users WHERE role = 'learner' AND status <> 'banned'",
            )
            .bind(m.title)
            .bind(link)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
        }
    };
    let recipients = sent.rows_affected() as i64;
    sqlx::query("UPDATE announcements SET recipients = $1 WHERE id = $2")
        .bind(recipients)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    db.users_changed();
    Ok((id, recipients))
}
