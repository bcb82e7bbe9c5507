//! Claims by receipt: the imported orders a receipt number matches, moving one (its access and
//! progress with it) to the learner in one transaction, the guesses made, and staff's undo.

use sqlx::{Any, Transaction};

use super::users::WECHAT_ONLY_PREFIX;
use super::{Db, Topic};
use crate::domain::order::OrderStatus;
use crate::domain::{ClaimId, CourseId, Fen, OrderId, UserId};

/// An imported or synced order a receipt number matches, with who holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Match {
    pub order_id: OrderId,
    pub order_no: String,
    pub course_id: CourseId,
    pub item_title: String,
    #[sqlx(rename = "amount_fen")]
    pub amount: Fen,
    pub paid_at: Option<i64>,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub holder_id: UserId,
    pub holder_phone: String,
    /// 1 when someone has signed in to the holding account.
    pub holder_signed_in: i64,
    /// `order` (the mini program's order number) or `transaction` (WeChat Pay's).
    pub matched_by: String,
}

impl Match {
    pub fn holder_has_phone(&self) -> bool {
        !self.holder_phone.starts_with(WECHAT_ONLY_PREFIX) && !self.holder_phone.starts_with("deleted:")
    }
}

/// The mini program's orders with this order number or WeChat Pay transaction number.
pub async fn find(db: &Db, number: &str) -> Result<Vec<Match>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id AS order_id, o.order_no, o.course_id, o.item_title, o.amount_fen, o.paid_at, o.status, \
         o.user_id AS holder_id, u.phone AS holder_phone, \
         CASE WHEN EXISTS (SELECT 1 FROM logins l WHERE l.user_id = o.user_id) THEN 1 ELSE 0 END AS holder_signed_in, \
         CASE WHEN o.external_id = $1 THEN 'order' ELSE 'transaction' END AS matched_by \
         FROM orders o JOIN users u ON u.id = o.user_id \
         WHERE o.external_id LIKE 'mp:%' AND (o.external_id = $1 OR (o.provider_txn_id = $2 AND o.provider_txn_id <> '')) \
         ORDER BY o.id",
    )
    .bind(format!("mp:{number}"))
    .bind(number)
    .fetch_all(db.read())
    .await
}

pub async fn record_attempt(db: &Db, user_id: UserId, ip: &str, found: bool, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO claim_attempts (user_id, ip, found, created_at) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(ip)
        .bind(i64::from(found))
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Times of the numbers that matched nothing since `since`, by this account and from this
/// address, oldest first.
pub async fn misses_since(db: &Db, user_id: UserId, ip: &str, since: i64) -> Result<(Vec<i64>, Vec<i64>), sqlx::Error> {
    let by_user = sqlx::query_scalar(
        "SELECT created_at FROM claim_attempts WHERE user_id = $1 AND found = 0 AND created_at > $2 ORDER BY created_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(db.write())
    .await?;
    let by_ip = sqlx::query_scalar(
        "SELECT created_at FROM claim_attempts WHERE ip = $1 AND found = 0 AND created_at > $2 ORDER BY created_at",
    )
    .bind(ip)
    .bind(since)
    .fetch_all(db.write())
    .await?;
    Ok((by_user, by_ip))
}

/// Moves the order's holding from one account to another: the order, the access it gave (or
/// nothing, when the other account has the course already) and the course's progress where the
/// other account has none.
async fn move_order(
    tx: &mut Transaction<'static, Any>,
    order_id: OrderId,
    course_id: CourseId,
    from: UserId,
    to: UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query("UPDATE orders SET user_id = $1, updated_at = $2 WHERE id = $3 AND user_id = $4")
        .bind(to)
        .bind(now)
        .bind(order_id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    let has: Option<i64> = sqlx::query_scalar("SELECT 1 FROM entitlements WHERE user_id = $1 AND course_id = $2")
        .bind(to)
        .bind(course_id)
        .fetch_optional(&mut **tx)
        .await?;
    if has.is_none() {
        sqlx::query("UPDATE entitlements SET user_id = $1 WHERE user_id = $2 AND course_id = $3 AND order_id = $4")
            .bind(to)
            .bind(from)
            .bind(course_id)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "UPDATE lesson_progress SET user_id = $1 WHERE user_id = $2 AND course_id = $3 AND NOT EXISTS \
         (SELECT 1 FROM lesson_progress p WHERE p.user_id = $1 AND p.lesson_id = lesson_progress.lesson_id)",
    )
    .bind(to)
    .bind(from)
    .bind(course_id)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Gives the learner the order, once: false when it moved meanwhile.
pub async fn claim(db: &Db, found: &Match, to: UserId, now: i64) -> Result<Option<ClaimId>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    if !move_order(&mut tx, found.order_id, found.course_id, found.holder_id, to, now).await? {
        return Ok(None);
    }
    let id: ClaimId = sqlx::query_scalar(
        "INSERT INTO receipt_claims (user_id, from_user_id, order_id, matched_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(to)
    .bind(found.holder_id)
    .bind(found.order_id)
    .bind(&found.matched_by)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    for topic in [Topic::Orders, Topic::Access, Topic::Progress] {
        db.changed(topic);
    }
    Ok(Some(id))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claim {
    pub id: ClaimId,
    pub user_id: UserId,
    pub phone: String,
    pub from_user_id: UserId,
    pub order_id: OrderId,
    pub order_no: String,
    pub item_title: String,
    pub matched_by: String,
    pub created_at: i64,
    pub undone_at: Option<i64>,
}

pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Claim>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.user_id, u.phone, c.from_user_id, c.order_id, o.order_no, o.item_title, c.matched_by, \
         c.created_at, c.undone_at FROM receipt_claims c JOIN users u ON u.id = c.user_id JOIN orders o ON o.id = c.order_id \
         ORDER BY c.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// Staff give the order back to the account it came from; None when there is no such claim
/// still standing.
pub async fn undo(db: &Db, id: ClaimId, staff: UserId, now: i64) -> Result<Option<Claim>, sqlx::Error> {
    let found: Option<(UserId, UserId, OrderId, CourseId)> = sqlx::query_as(
        "SELECT c.user_id, c.from_user_id, c.order_id, o.course_id FROM receipt_claims c JOIN orders o ON o.id = c.order_id \
         WHERE c.id = $1 AND c.undone_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    let Some((to, from, order_id, course_id)) = found else { return Ok(None) };
    let mut tx = db.write().begin().await?;
    if !move_order(&mut tx, order_id, course_id, to, from, now).await? {
        return Ok(None);
    }
    // The learner had the course already when they claimed: the order's access was not moved.
    sqlx::query(
        "INSERT INTO entitlements (user_id, course_id, source, order_id, granted_at) \
         SELECT $1, $2, 'import', $3, $4 WHERE NOT EXISTS (SELECT 1 FROM entitlements WHERE user_id = $1 AND course_id = $2)",
    )
    .bind(from)
    .bind(course_id)
    .bind(order_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE receipt_claims SET undone_at = $1, undone_by = $2 WHERE id = $3")
        .bind(now)
        .bind(staff)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    for topic in [Topic::Orders, Topic::Access, Topic::Progress] {
        db.changed(topic);
    }
    Ok(recent(db, 1000).await?.into_iter().find(|c| c.id == id))
}
