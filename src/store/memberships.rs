//! Membership terms: each paid membership order is one stretch of time, starting where the
//! learner's last term ends (`domain::membership::extend`). Access to the courses a term's plan
//! covers lasts while a term runs; a refund ends its order's term and moves the later ones up.

use sqlx::{Any, Transaction};

use super::Db;
use crate::domain::membership::{Period, Scope, extend};
use crate::domain::{CourseId, OrderId, UserId};

/// One term with its plan's scope.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Term {
    pub plan_id: CourseId,
    pub order_id: OrderId,
    pub starts_at: i64,
    pub ends_at: i64,
    #[sqlx(try_from = "String", rename = "membership_scope")]
    pub scope: ScopeWord,
}

/// A stored scope word read as a `Scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeWord(pub Scope);

impl From<String> for ScopeWord {
    fn from(value: String) -> Self {
        ScopeWord(Scope::parse(&value))
    }
}

/// A learner's terms, oldest first (ended and refunded ones have `ends_at <= starts_at` or lie
/// in the past).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub terms: Vec<Term>,
}

impl Timeline {
    /// The term running at `now`.
    pub fn at(&self, now: i64) -> Option<&Term> {
        self.terms.iter().find(|t| t.starts_at <= now && now < t.ends_at)
    }

    /// When the membership ends: the last term's end, if any term was ever bought.
    pub fn ends_at(&self) -> Option<i64> {
        self.terms.iter().filter(|t| t.ends_at > t.starts_at).map(|t| t.ends_at).max()
    }

    /// Ever a member, now lapsed.
    pub fn lapsed(&self, now: i64) -> bool {
        self.ends_at().is_some_and(|end| end <= now)
    }
}

pub async fn timeline(db: &Db, user_id: UserId) -> Result<Timeline, sqlx::Error> {
    let terms = sqlx::query_as(
        "SELECT t.plan_id, t.order_id, t.starts_at, t.ends_at, c.membership_scope FROM membership_terms t \
         JOIN courses c ON c.id = t.plan_id WHERE t.user_id = $1 ORDER BY t.starts_at, t.id",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await?;
    Ok(Timeline { terms })
}

/// A paid membership order's term, in the payment's transaction: from the end of the learner's
/// last term still running, or from the payment. Once per order.
pub(crate) async fn start_for_order(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    user_id: UserId,
    plan_id: CourseId,
    order_id: OrderId,
    paid_at: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    // Two membership payments of one learner at once must not both start at the same end.
    super::dialect::lock(db.backend(), tx, &format!("membership:{user_id}")).await?;
    let period: Option<String> = sqlx::query_scalar("SELECT membership_period FROM courses WHERE id = $1")
        .bind(plan_id)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    let period = period.as_deref().and_then(Period::parse).unwrap_or(Period::Year);
    let current_end: Option<i64> =
        sqlx::query_scalar("SELECT MAX(ends_at) FROM membership_terms WHERE user_id = $1 AND ends_at > starts_at")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
    let (starts_at, ends_at) = extend(current_end, paid_at, period, 1);
    sqlx::query(
        "INSERT INTO membership_terms (user_id, plan_id, order_id, starts_at, ends_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(plan_id)
    .bind(order_id)
    .bind(starts_at)
    .bind(ends_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The order's term, for the refund engine.
pub async fn term_of_order(db: &Db, order_id: OrderId) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT starts_at, ends_at FROM membership_terms WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(db.read())
        .await
}

/// A refunded membership order: its term ends now (or never starts), and the learner's later
/// terms move up by what was cut, so no gap is left. In the refund's transaction.
pub(crate) async fn end_for_refund(
    tx: &mut Transaction<'static, Any>,
    order_id: OrderId,
    now: i64,
) -> Result<(), sqlx::Error> {
    let found: Option<(i64, UserId, i64, i64)> = sqlx::query_as(
        "SELECT id, user_id, starts_at, ends_at FROM membership_terms WHERE order_id = $1 AND ended_early_at IS NULL",
    )
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, user_id, starts_at, ends_at)) = found else { return Ok(()) };
    let new_end = now.clamp(starts_at, ends_at);
    let cut = ends_at - new_end;
    sqlx::query("UPDATE membership_terms SET ends_at = $1, ended_early_at = $2 WHERE id = $3")
        .bind(new_end)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if cut > 0 {
        sqlx::query(
            "UPDATE membership_terms SET starts_at = starts_at - $1, ends_at = ends_at - $1 \
             WHERE user_id = $2 AND id <> $3 AND starts_at >= $4",
        )
        .bind(cut)
        .bind(user_id)
        .bind(id)
        .bind(ends_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A member as the back office lists them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    pub user_id: UserId,
    pub phone: String,
    pub nickname: String,
    pub since: i64,
    pub ends_at: i64,
    pub terms: i64,
}

/// Members, the ones whose membership ends soonest first; lapsed ones after the running ones.
pub async fn list(db: &Db, now: i64, limit: i64) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.user_id, COALESCE(u.phone, '') AS phone, u.nickname, MIN(t.starts_at) AS since, MAX(t.ends_at) AS ends_at, COUNT(*) AS terms \
         FROM membership_terms t JOIN users u ON u.id = t.user_id WHERE t.ends_at > t.starts_at \
         GROUP BY t.user_id, u.phone, u.nickname \
         ORDER BY CASE WHEN MAX(t.ends_at) > $1 THEN 0 ELSE 1 END, MAX(t.ends_at) LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// Members at `at`, with the scope of the term they are in.
pub async fn members_at(db: &Db, at: i64) -> Result<Vec<(UserId, Scope)>, sqlx::Error> {
    let rows: Vec<(UserId, String)> = sqlx::query_as(
        "SELECT t.user_id, c.membership_scope FROM membership_terms t JOIN courses c ON c.id = t.plan_id \
         WHERE t.starts_at <= $1 AND t.ends_at > $1",
    )
    .bind(at)
    .fetch_all(db.read())
    .await?;
    Ok(rows.into_iter().map(|(user_id, scope)| (user_id, Scope::parse(&scope))).collect())
}

/// Learners whose membership ends within `days` from now: (learner, end).
pub async fn ending_within(db: &Db, now: i64, days: i64) -> Result<Vec<(UserId, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, MAX(ends_at) FROM membership_terms WHERE ends_at > starts_at GROUP BY user_id \
         HAVING MAX(ends_at) > $1 AND MAX(ends_at) <= $2",
    )
    .bind(now)
    .bind(now + days * 86_400)
    .fetch_all(db.read())
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(starts_at: i64, ends_at: i64) -> Term {
        Term { plan_id: CourseId(1), order_id: OrderId(1), starts_at, ends_at, scope: ScopeWord(Scope::All) }
    }

    #[test]
    fn the_running_term_and_the_end() {
        let t = Timeline { terms: vec![term(0, 100), term(100, 200), term(150, 150)] };
        assert_eq!(t.at(99).map(|t| t.starts_at), Some(0));
        assert_eq!(t.at(100).map(|t| t.starts_at), Some(100), "the next term from the second the first ends");
        assert!(t.at(200).is_none(), "over at the end's second");
        assert_eq!(t.ends_at(), Some(200));
        assert!(!t.lapsed(199));
        assert!(t.lapsed(200));
        assert!(!Timeline::default().lapsed(0), "never a member is not lapsed");
    }
}
