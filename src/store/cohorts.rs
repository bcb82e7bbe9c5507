//! Cohorts (营期) of a course: seats held by paid learners and by orders still waiting for payment,
//! taken under a lock so two buyers never get the last seat; staff's list, learners, moves and
//! messages. The rules are `domain::cohort`.

use std::collections::HashMap;

use sqlx::{Any, Transaction};

use super::messages::{self, NewMessage};
use super::orders::{self, NewOrder, Order};
use super::{Db, dialect};
use crate::domain::cohort::{Closed, Cohort};
use crate::domain::message::MessageKind;
use crate::domain::order::OrderStatus;
use crate::domain::{CohortId, CourseId, LessonId, UserId};

/// Seats held in a cohort at `now`: its learners, and orders for it still payable (other than
/// `except`'s, whose own pending order is being replaced).
async fn taken(
    tx: &mut Transaction<'static, Any>,
    cohort: CohortId,
    except: UserId,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM entitlements WHERE cohort_id = $1 AND revoked_at IS NULL) + \
         (SELECT COUNT(*) FROM orders WHERE cohort_id = $1 AND status = 'pending' AND expires_at > $2 AND user_id <> $3)",
    )
    .bind(cohort)
    .bind(now)
    .bind(except)
    .fetch_one(&mut **tx)
    .await
}

/// Seats held in each cohort of a course, for its page.
pub async fn taken_by_cohort(db: &Db, course_id: CourseId, now: i64) -> Result<HashMap<CohortId, i64>, sqlx::Error> {
    let rows: Vec<(CohortId, i64)> = sqlx::query_as(
        "SELECT k.id, (SELECT COUNT(*) FROM entitlements e WHERE e.cohort_id = k.id AND e.revoked_at IS NULL) + \
         (SELECT COUNT(*) FROM orders o WHERE o.cohort_id = k.id AND o.status = 'pending' AND o.expires_at > $2) \
         FROM cohorts k WHERE k.course_id = $1",
    )
    .bind(course_id)
    .bind(now)
    .fetch_all(db.read())
    .await?;
    Ok(rows.into_iter().collect())
}

/// The buyer's order in `cohort` (`new.cohort_id`): their pending order for the course moves to it
/// or a new one holds the seat; a free course is paid and granted at once. Err when the cohort
/// cannot be bought now.
pub async fn order_in_cohort(
    db: &Db,
    new: &NewOrder<'_>,
    cohort: &Cohort,
    now: i64,
) -> Result<Result<Order, Closed>, sqlx::Error> {
    // A pending order past its deadline is closed first (its coupon goes back), as for any course.
    if let Some(lapsed) = orders::pending_for(db, new.user_id, new.course_id).await?.filter(|o| o.expires_at <= now) {
        orders::close(db, lapsed.id, "expired", now).await?;
    }
    let mut tx = db.write().begin().await?;
    dialect::lock(db.backend(), &mut tx, &format!("cohort:{}", cohort.id)).await?;
    dialect::lock(db.backend(), &mut tx, &format!("pending:{}:{}", new.user_id, new.course_id)).await?;
    if let Err(closed) = cohort.may_join(now, taken(&mut tx, cohort.id, new.user_id, now).await?) {
        tx.rollback().await?;
        return Ok(Err(closed));
    }
    let sql = format!(
        "SELECT {} FROM orders WHERE user_id = $1 AND course_id = $2 AND status = 'pending' AND gift_copies = 0",
        orders::COLUMNS
    );
    let pending: Option<Order> =
        sqlx::query_as(&sql).bind(new.user_id).bind(new.course_id).fetch_optional(&mut *tx).await?;
    let order = match pending {
        Some(order) if !new.price.is_free() => {
            sqlx::query("UPDATE orders SET cohort_id = $1, updated_at = $2 WHERE id = $3")
                .bind(cohort.id)
                .bind(now)
                .bind(order.id)
                .execute(&mut *tx)
                .await?;
            order
        }
        _ if new.price.is_free() => orders::insert_claimed(db, &mut tx, new, "free", now).await?,
        _ => orders::insert(&mut tx, new, OrderStatus::Pending, None, now).await?,
    };
    tx.commit().await?;
    db.orders_changed();
    if order.status.grants_access() {
        db.access_changed();
    }
    Ok(Ok(order))
}

pub struct NewCohort<'a> {
    pub name: &'a str,
    pub starts_at: i64,
    pub capacity: i64,
    pub sale_starts_at: i64,
    pub sale_ends_at: i64,
}

/// A new cohort; the caller reloads the catalog, which lists cohorts.
pub async fn create(db: &Db, course_id: CourseId, c: &NewCohort<'_>, now: i64) -> Result<CohortId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO cohorts (course_id, name, starts_at, capacity, sale_starts_at, sale_ends_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(course_id)
    .bind(c.name)
    .bind(c.starts_at)
    .bind(c.capacity)
    .bind(c.sale_starts_at)
    .bind(c.sale_ends_at)
    .bind(now)
    .fetch_one(db.write())
    .await
}

/// Changes a cohort; the caller reloads the catalog (a new first day moves its learners' schedule).
pub async fn update(db: &Db, id: CohortId, c: &NewCohort<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cohorts SET name = $1, starts_at = $2, capacity = $3, sale_starts_at = $4, sale_ends_at = $5 WHERE id = $6",
    )
    .bind(c.name)
    .bind(c.starts_at)
    .bind(c.capacity)
    .bind(c.sale_starts_at)
    .bind(c.sale_ends_at)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(())
}

/// The cohort holds a live lesson at its own time (and in its own room, when `live_url` is
/// given); the caller reloads the catalog.
pub async fn set_session(
    db: &Db,
    cohort: CohortId,
    lesson: LessonId,
    starts_at: i64,
    live_url: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cohort_live_sessions (cohort_id, lesson_id, starts_at, live_url) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (cohort_id, lesson_id) DO UPDATE SET starts_at = $3, live_url = $4",
    )
    .bind(cohort)
    .bind(lesson)
    .bind(starts_at)
    .bind(live_url)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Back to the lesson's own time and room.
pub async fn clear_session(db: &Db, cohort: CohortId, lesson: LessonId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cohort_live_sessions WHERE cohort_id = $1 AND lesson_id = $2")
        .bind(cohort)
        .bind(lesson)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Deletes a cohort nobody ever joined or ordered (nor posted or handed homework in); false when
/// someone did, and it stays. Under the cohort's lock, so no order slips in meanwhile.
pub async fn delete(db: &Db, id: CohortId) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    dialect::lock(db.backend(), &mut tx, &format!("cohort:{id}")).await?;
    let uses: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM orders WHERE cohort_id = $1) + (SELECT COUNT(*) FROM entitlements WHERE cohort_id = $1) \
         + (SELECT COUNT(*) FROM check_ins WHERE cohort_id = $1) + (SELECT COUNT(*) FROM homework WHERE cohort_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if uses > 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("DELETE FROM cohort_live_sessions WHERE cohort_id = $1").bind(id).execute(&mut *tx).await?;
    let done = sqlx::query("DELETE FROM cohorts WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// A learner in a cohort, with how far they are.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Learner {
    pub user_id: UserId,
    pub nickname: String,
    pub phone: String,
    pub completed: i64,
    pub check_ins: i64,
    /// Homework handed in while in this cohort.
    pub homework: i64,
}

/// A cohort's learners, the earliest to join first, with the lessons they finished and their
/// check-ins since the cohort started.
pub async fn learners(db: &Db, cohort: &Cohort) -> Result<Vec<Learner>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.nickname, u.phone, \
         (SELECT COUNT(*) FROM lesson_progress p WHERE p.user_id = u.id AND p.course_id = $2 \
          AND p.completed_at IS NOT NULL) AS completed, \
         (SELECT COUNT(*) FROM check_ins c WHERE c.user_id = u.id AND c.course_id = $2 AND c.created_at >= $3) AS check_ins, \
         (SELECT COUNT(*) FROM homework h WHERE h.user_id = u.id AND h.cohort_id = $1) AS homework \
         FROM entitlements e JOIN users u ON u.id = e.user_id \
         WHERE e.cohort_id = $1 AND e.revoked_at IS NULL ORDER BY e.granted_at, u.id",
    )
    .bind(cohort.id)
    .bind(cohort.course_id)
    .bind(cohort.starts_at)
    .fetch_all(db.read())
    .await
}

/// Moves a learner of the course to another of its cohorts; false when they were not in `from`.
pub async fn move_learner(
    db: &Db,
    user_id: UserId,
    course_id: CourseId,
    from: CohortId,
    to: CohortId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE entitlements SET cohort_id = $1 WHERE user_id = $2 AND course_id = $3 AND cohort_id = $4 \
         AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM cohorts WHERE id = $1 AND course_id = $3)",
    )
    .bind(to)
    .bind(user_id)
    .bind(course_id)
    .bind(from)
    .execute(db.write())
    .await?;
    db.access_changed();
    Ok(done.rows_affected() == 1)
}

/// A site message to every learner of the cohort, in one transaction; how many got it.
pub async fn message(db: &Db, cohort: &Cohort, text: &str, link: &str, now: i64) -> Result<usize, sqlx::Error> {
    let learners = learners(db, cohort).await?;
    let mut tx = db.write().begin().await?;
    for l in &learners {
        let m = NewMessage {
            user_id: l.user_id,
            kind: MessageKind::CohortNotice,
            ref_no: &cohort.name,
            amount: None,
            note: text,
            link,
        };
        messages::send(&mut tx, &m, now).await?;
    }
    tx.commit().await?;
    db.users_changed();
    Ok(learners.len())
}
