//! Who may learn what: every write to `entitlements` (an order's grant, a full refund's
//! revocation, staff grants and revocations with their reason) and the access checks. The import
//! writes its own in bulk (`import::write`).

use std::sync::Arc;

use sqlx::{Any, Transaction};

use super::Db;
use super::memberships::{self, Timeline};
use crate::domain::catalog::Course;
use crate::domain::cohort::Cohort;
use crate::domain::membership::covers;
use crate::domain::{CohortId, CourseId, OrderId, UserId};

/// The courses each learner may learn now, in memory (see `store::cache`), and their membership
/// terms.
pub struct AccessCache {
    owned: super::cache::EpochCache<UserId, Arc<Vec<Held>>>,
    memberships: super::cache::EpochCache<UserId, Arc<Timeline>>,
}

impl Default for AccessCache {
    fn default() -> Self {
        AccessCache {
            owned: super::cache::EpochCache::new(super::Topic::Access),
            memberships: super::cache::EpochCache::new(super::Topic::Access),
        }
    }
}

impl AccessCache {
    pub fn sweep(&self) {
        self.owned.sweep();
        self.memberships.sweep();
    }

    pub async fn owned(&self, db: &Db, user_id: UserId) -> Result<Arc<Vec<Held>>, sqlx::Error> {
        self.owned.get_or_load(db, user_id, || async move { Ok(Arc::new(owned(db, user_id).await?)) }).await
    }

    /// Bought or given: the course is the learner's whatever their membership does.
    pub async fn owns(&self, db: &Db, user_id: UserId, course_id: CourseId) -> Result<bool, sqlx::Error> {
        Ok(self.owned(db, user_id).await?.iter().any(|h| h.course_id == course_id))
    }

    pub async fn membership(&self, db: &Db, user_id: UserId) -> Result<Arc<Timeline>, sqlx::Error> {
        self.memberships
            .get_or_load(db, user_id, || async move { Ok(Arc::new(memberships::timeline(db, user_id).await?)) })
            .await
    }

    /// The cohort (营期) the learner holds the course in, for a course sold in cohorts.
    pub async fn cohort_of<'c>(
        &self,
        db: &Db,
        user_id: UserId,
        course: &'c Course,
    ) -> Result<Option<&'c Cohort>, sqlx::Error> {
        if course.cohorts.is_empty() {
            return Ok(None);
        }
        let held = self.owned(db, user_id).await?;
        let id = held.iter().find(|h| h.course_id == course.id).and_then(|h| h.cohort_id);
        Ok(course.cohorts.iter().find(|c| Some(c.id) == id))
    }

    /// Owned, or opened by the membership term running at `now`.
    pub async fn may_learn(&self, db: &Db, user_id: UserId, course: &Course, now: i64) -> Result<bool, sqlx::Error> {
        if self.owns(db, user_id, course.id).await? {
            return Ok(true);
        }
        self.member_covers(db, user_id, course, now).await
    }

    /// Since when the learner may learn the course, or None when they may not: their cohort's
    /// start or the grant, or for a course their membership opens, the first term that opened it
    /// (a renewal does not restart a schedule). Scheduled unlocks count from it.
    pub async fn learning_since(
        &self,
        db: &Db,
        user_id: UserId,
        course: &Course,
        now: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        if let Some(held) = self.owned(db, user_id).await?.iter().find(|h| h.course_id == course.id) {
            return Ok(Some(held.start));
        }
        let timeline = self.membership(db, user_id).await?;
        let opens = |scope: &memberships::ScopeWord| covers(scope.0, course.kind, course.member_rule);
        if !timeline.at(now).is_some_and(|term| opens(&term.scope)) {
            return Ok(None);
        }
        Ok(timeline.terms.iter().filter(|t| opens(&t.scope) && t.starts_at <= now).map(|t| t.starts_at).min())
    }

    /// The running term's plan opens this course.
    pub async fn member_covers(
        &self,
        db: &Db,
        user_id: UserId,
        course: &Course,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let timeline = self.membership(db, user_id).await?;
        Ok(timeline.at(now).is_some_and(|term| covers(term.scope.0, course.kind, course.member_rule)))
    }
}

/// (course, granted at) of every course the learner may learn now.
/// A course the learner may learn now, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Held {
    pub course_id: CourseId,
    pub granted_at: i64,
    /// The cohort (营期) they are in, for a course sold in cohorts.
    pub cohort_id: Option<CohortId>,
    /// Where its scheduled lessons count from: the cohort's start, else the grant.
    pub start: i64,
}

pub async fn owned(db: &Db, user_id: UserId) -> Result<Vec<Held>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.course_id, e.granted_at, e.cohort_id, COALESCE(k.starts_at, e.granted_at) AS start \
         FROM entitlements e LEFT JOIN cohorts k ON k.id = e.cohort_id WHERE e.user_id = $1 AND e.revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entitlement {
    pub course_id: CourseId,
    #[sqlx(rename = "title")]
    pub course_title: String,
    #[sqlx(rename = "slug")]
    pub course_slug: String,
    /// order, staff, free, import…
    pub source: String,
    pub granted_at: i64,
    pub revoked_at: Option<i64>,
    pub note: String,
}

pub async fn for_user(db: &Db, user_id: UserId) -> Result<Vec<Entitlement>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.course_id, c.title, c.slug, e.source, e.granted_at, e.revoked_at, e.note FROM entitlements e \
         JOIN courses c ON c.id = e.course_id WHERE e.user_id = $1 ORDER BY e.granted_at DESC",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await
}

/// Gives the course by hand; false when the learner already has it.
pub async fn grant(db: &Db, user_id: UserId, course_id: CourseId, note: &str, now: i64) -> Result<bool, sqlx::Error> {
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
    db.access_changed();
    Ok(done.rows_affected() == 1)
}

/// Takes the course away; false when the learner did not have it.
pub async fn revoke(db: &Db, user_id: UserId, course_id: CourseId, note: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE entitlements SET revoked_at = $1, note = $2 WHERE user_id = $3 AND course_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(note)
    .bind(user_id)
    .bind(course_id)
    .execute(db.write())
    .await?;
    db.access_changed();
    Ok(done.rows_affected() == 1)
}

/// An order's course, granted in the order's own transaction (payment, a free claim): one row per
/// learner and course, brought back if it had been revoked.
pub(crate) async fn grant_for_order(
    tx: &mut Transaction<'static, Any>,
    user_id: UserId,
    course_id: CourseId,
    source: &str,
    order_id: Option<OrderId>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO entitlements (user_id, course_id, source, order_id, granted_at, cohort_id) \
         VALUES ($1, $2, $3, $4, $5, (SELECT cohort_id FROM orders WHERE id = $4)) \
         ON CONFLICT (user_id, course_id) DO UPDATE SET source = $3, order_id = $4, granted_at = $5, revoked_at = NULL, \
         cohort_id = excluded.cohort_id",
    )
    .bind(user_id)
    .bind(course_id)
    .bind(source)
    .bind(order_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A bundle's courses, granted in its order's transaction. A course the learner already has stays
/// as it was (so refunding the bundle later does not take back a course bought on its own); one
/// taken back earlier comes back under this order. Each new learner counts on their course.
pub(crate) async fn grant_bundle_items(
    tx: &mut Transaction<'static, Any>,
    user_id: UserId,
    bundle_id: CourseId,
    order_id: OrderId,
    now: i64,
) -> Result<(), sqlx::Error> {
    let granted: Vec<CourseId> = sqlx::query_scalar(
        "INSERT INTO entitlements (user_id, course_id, source, order_id, granted_at) \
         SELECT $1, course_id, 'bundle', $2, $3 FROM bundle_items WHERE bundle_id = $4 \
         ON CONFLICT (user_id, course_id) DO UPDATE SET source = 'bundle', order_id = $2, granted_at = $3, revoked_at = NULL \
         WHERE entitlements.revoked_at IS NOT NULL RETURNING course_id",
    )
    .bind(user_id)
    .bind(order_id)
    .bind(now)
    .bind(bundle_id)
    .fetch_all(&mut **tx)
    .await?;
    for course_id in granted {
        super::orders::bump_learners(tx, course_id).await?;
    }
    Ok(())
}

/// A fully refunded bundle takes back the courses it granted (not those the learner had already).
pub(crate) async fn revoke_bundle_items(
    tx: &mut Transaction<'static, Any>,
    user_id: UserId,
    order_id: OrderId,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE entitlements SET revoked_at = $1 WHERE user_id = $2 AND order_id = $3 AND source = 'bundle' AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A full refund takes back what its order granted (not a grant by staff or by another order).
pub(crate) async fn revoke_for_order(
    tx: &mut Transaction<'static, Any>,
    user_id: UserId,
    course_id: CourseId,
    order_id: OrderId,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE entitlements SET revoked_at = $1 WHERE user_id = $2 AND course_id = $3 AND order_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(course_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// True when the user may learn this course now, read fresh (the buy button's check); pages use
/// `AccessCache::owns`.
pub async fn owns_now(db: &Db, user_id: UserId, course_id: CourseId) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM entitlements WHERE user_id = $1 AND course_id = $2 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(course_id)
            .fetch_optional(db.read())
            .await?;
    Ok(found.is_some())
}
