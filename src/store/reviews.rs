//! Reviews (评价): one per learner and course, editable by its author. `shown` ones count in the
//! course's average; a keyword can hold one for staff, and staff can hide and restore.

use super::Db;
use crate::domain::moderation::Visibility;
use crate::domain::{CourseId, ReviewId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Review {
    pub id: ReviewId,
    pub course_id: CourseId,
    pub user_id: UserId,
    /// The author's nickname, or their masked phone when they have none.
    pub author: String,
    pub stars: i64,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub status: Visibility,
    pub reply: String,
    pub reports: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Newest,
    Highest,
    /// Only reviews with photos, newest first.
    WithPhotos,
}

impl Order {
    pub fn parse(value: &str) -> Order {
        match value {
            "highest" => Order::Highest,
            "photos" => Order::WithPhotos,
            _ => Order::Newest,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Order::Newest => "newest",
            Order::Highest => "highest",
            Order::WithPhotos => "photos",
        }
    }
}

/// The author as shown: a nickname, else the phone with its middle masked.
const COLUMNS: &str = "r.id, r.course_id, r.user_id, \
     CASE WHEN u.nickname <> '' THEN u.nickname WHEN u.phone IS NOT NULL THEN SUBSTR(u.phone, 1, 3) || '****' || SUBSTR(u.phone, 8, 4) ELSE '' END AS author, \
     r.stars, r.body, r.status, r.reply, r.reports, r.created_at, r.updated_at";

/// A course's shown reviews, one page, and how many there are.
pub async fn shown(
    db: &Db,
    course_id: CourseId,
    order: Order,
    limit: i64,
    offset: i64,
) -> Result<Vec<Review>, sqlx::Error> {
    let (only, by) = match order {
        Order::Newest => ("", "r.updated_at DESC, r.id DESC"),
        Order::Highest => ("", "r.stars DESC, r.updated_at DESC, r.id DESC"),
        Order::WithPhotos => (
            "AND EXISTS (SELECT 1 FROM attachments a WHERE a.owner_kind = 'review' AND a.owner_id = r.id)",
            "r.updated_at DESC, r.id DESC",
        ),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id \
         WHERE r.course_id = $1 AND r.status = 'shown' {only} ORDER BY {by} LIMIT $2 OFFSET $3"
    );
    sqlx::query_as(&sql).bind(course_id).bind(limit).bind(offset).fetch_all(db.read()).await
}

pub async fn mine(db: &Db, course_id: CourseId, user_id: UserId) -> Result<Option<Review>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.course_id = $1 AND r.user_id = $2"
    );
    sqlx::query_as(&sql).bind(course_id).bind(user_id).fetch_optional(db.read()).await
}

pub async fn find(db: &Db, id: ReviewId) -> Result<Option<Review>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await
}

/// Writes the learner's review (a second one edits the first); `status` is shown or held.
pub async fn save(
    db: &Db,
    course_id: CourseId,
    user_id: UserId,
    stars: u8,
    body: &str,
    status: Visibility,
    now: i64,
) -> Result<ReviewId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO reviews (course_id, user_id, stars, body, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (course_id, user_id) DO UPDATE SET stars = $3, body = $4, \
         status = CASE WHEN reviews.status = 'hidden' THEN 'hidden' ELSE $5 END, updated_at = $6 RETURNING id",
    )
    .bind(course_id)
    .bind(user_id)
    .bind(i64::from(stars))
    .bind(body)
    .bind(status.as_str())
    .bind(now)
    .fetch_one(db.write())
    .await
}

/// (count, star total) of a course's shown reviews.
pub async fn stats(db: &Db, course_id: CourseId) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(stars), 0) AS BIGINT) FROM reviews WHERE course_id = $1 AND status = 'shown'")
        .bind(course_id)
        .fetch_one(db.write())
        .await
}

/// A learner reports a review once; false when they had already.
pub async fn report(db: &Db, review_id: ReviewId, user_id: UserId, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let done = sqlx::query(
        "INSERT INTO review_reports (review_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (review_id, user_id) DO NOTHING",
    )
    .bind(review_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let first = done.rows_affected() == 1;
    if first {
        sqlx::query("UPDATE reviews SET reports = reports + 1 WHERE id = $1").bind(review_id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(first)
}

/// Staff hide or show a review (or take it out of held); false when it was already so.
pub async fn set_status(db: &Db, id: ReviewId, to: Visibility, now: i64) -> Result<bool, sqlx::Error> {
    let sql = super::status_update_sql("reviews", &Visibility::sources_of(to), to, "updated_at = $2", 1)?;
    Ok(sqlx::query(&sql).bind(id).bind(now).execute(db.write()).await?.rows_affected() == 1)
}

/// The shop's public answer under a review (empty removes it).
pub async fn reply(db: &Db, id: ReviewId, text: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE reviews SET reply = $1, replied_at = $2 WHERE id = $3")
        .bind(text)
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Reviews for staff: reported and held first, then the newest; with the course title.
pub async fn for_staff(db: &Db, limit: i64) -> Result<Vec<(Review, String)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        review: Review,
        title: String,
    }
    let sql = format!(
        "SELECT {COLUMNS}, c.title FROM reviews r JOIN users u ON u.id = r.user_id JOIN courses c ON c.id = r.course_id \
         ORDER BY CASE WHEN r.status = 'held' OR (r.reports > 0 AND r.status = 'shown') THEN 0 ELSE 1 END, r.updated_at DESC, r.id DESC LIMIT $1"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql).bind(limit).fetch_all(db.read()).await?;
    Ok(rows.into_iter().map(|r| (r.review, r.title)).collect())
}
