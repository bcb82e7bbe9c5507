//! Check-in challenges and their posts (`domain::checkin` decides days and streaks).

use super::{Db, is_unique_violation};
use crate::domain::checkin::Challenge;
use crate::domain::moderation::Visibility;
use crate::domain::{CheckInId, CohortId, CourseId, UserId};

/// A course's challenge with its prompts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub first_day: i64,
    pub days: i64,
    pub prompts: String,
}

impl ChallengeRow {
    pub fn challenge(&self) -> Challenge {
        Challenge { first_day: self.first_day, days: self.days }
    }
}

pub async fn challenge(db: &Db, course_id: CourseId) -> Result<Option<ChallengeRow>, sqlx::Error> {
    sqlx::query_as("SELECT first_day, days, prompts FROM checkin_challenges WHERE course_id = $1")
        .bind(course_id)
        .fetch_optional(db.read())
        .await
}

pub async fn save_challenge(db: &Db, course_id: CourseId, c: &ChallengeRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO checkin_challenges (course_id, first_day, days, prompts, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (course_id) DO UPDATE SET first_day = $2, days = $3, prompts = $4, updated_at = $5",
    )
    .bind(course_id)
    .bind(c.first_day)
    .bind(c.days)
    .bind(&c.prompts)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

pub async fn remove_challenge(db: &Db, course_id: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM checkin_challenges WHERE course_id = $1").bind(course_id).execute(db.write()).await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Post {
    pub id: CheckInId,
    pub course_id: CourseId,
    pub user_id: UserId,
    /// The author's nickname.
    pub author: String,
    pub day: i64,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub status: Visibility,
    pub created_at: i64,
}

const POST: &str = "SELECT p.id, p.course_id, p.user_id, u.nickname AS author, p.day, p.body, p.status, p.created_at \
     FROM check_ins p JOIN users u ON u.id = p.user_id";

/// Today's post; false when the learner has posted today already (one a day).
/// The post carries the cohort its author is in.
pub async fn post(
    db: &Db,
    (course_id, cohort_id): (CourseId, Option<CohortId>),
    user_id: UserId,
    day: i64,
    body: &str,
    status: Visibility,
    now: i64,
) -> Result<Option<CheckInId>, sqlx::Error> {
    let done = sqlx::query_scalar(
        "INSERT INTO check_ins (course_id, cohort_id, user_id, day, body, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(course_id)
    .bind(cohort_id)
    .bind(user_id)
    .bind(day)
    .bind(body)
    .bind(status.as_str())
    .bind(now)
    .fetch_one(db.write())
    .await;
    match done {
        Ok(id) => Ok(Some(id)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The days a learner checked in (any status: a hidden post still counts for its author).
pub async fn days_of(db: &Db, course_id: CourseId, user_id: UserId) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT day FROM check_ins WHERE course_id = $1 AND user_id = $2 ORDER BY day")
        .bind(course_id)
        .bind(user_id)
        .fetch_all(db.read())
        .await
}

/// The course's wall: its latest shown posts.
pub async fn wall(db: &Db, course_id: CourseId, limit: i64) -> Result<Vec<Post>, sqlx::Error> {
    let sql =
        format!("{POST} WHERE p.course_id = $1 AND p.status = 'shown' ORDER BY p.created_at DESC, p.id DESC LIMIT $2");
    sqlx::query_as(&sql).bind(course_id).bind(limit).fetch_all(db.read()).await
}

/// A cohort's wall: the latest shown posts of its learners.
pub async fn cohort_wall(db: &Db, cohort_id: CohortId, limit: i64) -> Result<Vec<Post>, sqlx::Error> {
    let sql =
        format!("{POST} WHERE p.cohort_id = $1 AND p.status = 'shown' ORDER BY p.created_at DESC, p.id DESC LIMIT $2");
    sqlx::query_as(&sql).bind(cohort_id).bind(limit).fetch_all(db.read()).await
}

pub async fn mine(db: &Db, course_id: CourseId, user_id: UserId) -> Result<Vec<Post>, sqlx::Error> {
    let sql = format!("{POST} WHERE p.course_id = $1 AND p.user_id = $2 ORDER BY p.day DESC");
    sqlx::query_as(&sql).bind(course_id).bind(user_id).fetch_all(db.read()).await
}

/// The author deletes their post; false when it is not theirs.
pub async fn delete_own(db: &Db, id: CheckInId, user_id: UserId) -> Result<Option<CourseId>, sqlx::Error> {
    sqlx::query_scalar("DELETE FROM check_ins WHERE id = $1 AND user_id = $2 RETURNING course_id")
        .bind(id)
        .bind(user_id)
        .fetch_optional(db.write())
        .await
}

/// Staff hide or show a post; false when it was already so (or is gone).
pub async fn set_status(db: &Db, id: CheckInId, to: Visibility) -> Result<bool, sqlx::Error> {
    let sql = super::status_update_sql("check_ins", &Visibility::sources_of(to), to, "", 1)?;
    Ok(sqlx::query(&sql).bind(id).execute(db.write()).await?.rows_affected() == 1)
}

/// Posts for staff, held first, then the newest; with the course title.
pub async fn for_staff(db: &Db, limit: i64) -> Result<Vec<(Post, String)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        post: Post,
        title: String,
    }
    let sql =
        "SELECT p.id, p.course_id, p.user_id, u.nickname AS author, p.day, p.body, p.status, p.created_at, c.title \
         FROM check_ins p JOIN users u ON u.id = p.user_id JOIN courses c ON c.id = p.course_id \
         ORDER BY CASE WHEN p.status = 'held' THEN 0 ELSE 1 END, p.created_at DESC, p.id DESC LIMIT $1"
            .to_string();
    let rows: Vec<Row> = sqlx::query_as(&sql).bind(limit).fetch_all(db.read()).await?;
    Ok(rows.into_iter().map(|r| (r.post, r.title)).collect())
}
