//! Gifts: a gift order with its copies (only the hashes of their link codes), a friend claiming a
//! copy into their own order of amount 0, and the copies a refund request takes back.

use sqlx::{Any, Row, Transaction};

use super::orders::{self, COLUMNS, NewOrder, Order};
use super::{Db, is_unique_violation};
use crate::domain::gift::link_code;
use crate::domain::message::MessageKind;
use crate::domain::order::OrderStatus;
use crate::domain::redeem::hash;
use crate::domain::refund_policy::Decision;
use crate::domain::{CourseId, Fen, OrderId, RefundId, UserId};

/// The provider word on the order a claimed copy gives the friend.
pub const PROVIDER: &str = "gift";

/// The buyer's gift order for the course: the pending one when it buys the same copies at the
/// same price under the same name, or a new one with its copies (a pending gift that differs is
/// closed as replaced). The copies are claimable once it is paid. Whether this call created it.
pub async fn order_gift(db: &Db, new: &NewOrder<'_>, key: &[u8], now: i64) -> Result<(Order, bool), sqlx::Error> {
    if let Some(order) = pending_gift(db, new.user_id, new.course_id).await? {
        let same =
            order.gift_copies == new.gift_copies && order.gift_sender == new.gift_sender && order.price == new.price;
        if same && order.expires_at > now {
            return Ok((order, false));
        }
        orders::close(db, order.id, if same { "expired" } else { "replaced" }, now).await?;
    }
    let mut tx = db.write().begin().await?;
    match orders::insert(&mut tx, new, OrderStatus::Pending, None, now).await {
        Ok(order) => {
            let values = super::values_list(usize::try_from(order.gift_copies).unwrap_or(0), 3);
            let sql = format!("INSERT INTO gifts (order_id, seq, code_hash) VALUES {values}");
            let mut query = sqlx::query(&sql);
            for seq in 0..order.gift_copies {
                query = query.bind(order.id).bind(seq).bind(hash(&link_code(key, order.id.0, seq)));
            }
            query.execute(&mut *tx).await?;
            tx.commit().await?;
            db.orders_changed();
            Ok((order, true))
        }
        Err(e) if is_unique_violation(&e) => {
            tx.rollback().await?;
            Ok((pending_gift(db, new.user_id, new.course_id).await?.ok_or(e)?, false))
        }
        Err(e) => Err(e),
    }
}

async fn pending_gift(db: &Db, user_id: UserId, course_id: CourseId) -> Result<Option<Order>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND course_id = $2 AND status = 'pending' AND gift_copies > 0"
    );
    sqlx::query_as(&sql).bind(user_id).bind(course_id).fetch_optional(db.read()).await
}

/// A copy found by its link, with its gift order.
pub struct Found {
    pub id: i64,
    pub order: Order,
    pub claimed_by: Option<UserId>,
    pub withdrawn: bool,
}

pub async fn find(db: &Db, code_hash: &str) -> Result<Option<Found>, sqlx::Error> {
    let row = sqlx::query("SELECT id, order_id, claimed_by, withdrawn_at FROM gifts WHERE code_hash = $1")
        .bind(code_hash)
        .fetch_optional(db.read())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let order_id: OrderId = row.try_get(1)?;
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE id = $1");
    let order: Order = sqlx::query_as(&sql).bind(order_id).fetch_one(db.read()).await?;
    Ok(Some(Found {
        id: row.try_get(0)?,
        order,
        claimed_by: row.try_get(2)?,
        withdrawn: row.try_get::<Option<i64>, _>(3)?.is_some(),
    }))
}

/// Gives copy `gift_id` to the friend through `new` (their order of amount 0): the copy is taken,
/// the order paid and the course granted, and the buyer told, in one transaction. None when the
/// copy was taken, taken back, or its order is no longer paid meanwhile.
pub async fn claim(db: &Db, gift_id: i64, new: &NewOrder<'_>, now: i64) -> Result<Option<Order>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    // The gift order's row is the lock a refund request takes too: a copy is claimed or taken
    // back, never both.
    let gift_order: Option<(OrderId, String, UserId)> = sqlx::query_as(
        "UPDATE orders SET updated_at = updated_at WHERE id = (SELECT order_id FROM gifts WHERE id = $1) \
         AND status IN ('paid', 'partially_refunded') RETURNING id, order_no, user_id",
    )
    .bind(gift_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((gift_order_id, gift_order_no, giver)) = gift_order else {
        tx.rollback().await?;
        return Ok(None);
    };
    // The order first, so the copy is taken with it in one statement; a copy gone meanwhile
    // rolls the order back.
    let order = orders::insert_claimed(db, &mut tx, new, PROVIDER, now).await?;
    let taken = sqlx::query(
        "UPDATE gifts SET claimed_by = $1, claimed_at = $2, claim_order_id = $3 \
         WHERE id = $4 AND claimed_by IS NULL AND withdrawn_at IS NULL",
    )
    .bind(new.user_id)
    .bind(now)
    .bind(order.id)
    .bind(gift_id)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    let message = super::messages::NewMessage {
        user_id: giver,
        kind: MessageKind::GiftClaimed,
        ref_no: &gift_order_no,
        amount: None,
        note: &order.item_title,
        link: &format!("/orders/{gift_order_no}"),
    };
    super::messages::send(&mut tx, &message, now).await?;
    tx.commit().await?;
    tracing::debug!(%gift_order_id, "gift copy claimed");
    db.orders_changed();
    db.access_changed();
    db.users_changed();
    Ok(Some(order))
}

/// A copy of a gift order as its buyer sees it.
pub struct Copy {
    pub seq: i64,
    /// What the link's code must hash to (the shop's key may have changed since).
    pub code_hash: String,
    /// The friend's chosen name, if it was claimed.
    pub claimer: Option<String>,
    pub claimed_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
}

pub async fn copies(db: &Db, order_id: OrderId) -> Result<Vec<Copy>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT g.seq, g.code_hash, u.nickname, g.claimed_at, g.withdrawn_at FROM gifts g LEFT JOIN users u ON u.id = g.claimed_by \
         WHERE g.order_id = $1 ORDER BY g.seq",
    )
    .bind(order_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Copy {
                seq: row.try_get(0)?,
                code_hash: row.try_get(1)?,
                claimer: row.try_get(2)?,
                claimed_at: row.try_get(3)?,
                withdrawn_at: row.try_get(4)?,
            })
        })
        .collect()
}

/// How many copies of a gift order were claimed.
pub async fn claimed_count(db: &Db, order_id: OrderId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM gifts WHERE order_id = $1 AND claimed_by IS NOT NULL")
        .bind(order_id)
        .fetch_one(db.read())
        .await
}

/// The name on the gift a friend's order came from (for their order page).
pub async fn sender_of_claim(db: &Db, claim_order_id: OrderId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o.gift_sender FROM gifts g JOIN orders o ON o.id = g.order_id WHERE g.claim_order_id = $1",
    )
    .bind(claim_order_id)
    .fetch_optional(db.read())
    .await
}

/// A refund request on a gift order takes back the copies nobody claimed, under the order's lock
/// (so no friend claims one meanwhile), and holds the request to what those copies are worth,
/// as they stand now rather than when the policy was asked. Called in the transaction that
/// opens the request; the decision as stored.
pub(crate) async fn take_back_for_refund(
    tx: &mut Transaction<'static, Any>,
    order_id: OrderId,
    refund_id: RefundId,
    decision: &Decision,
    now: i64,
) -> Result<Decision, sqlx::Error> {
    let order: Option<(i64, Fen, Fen)> = sqlx::query_as(
        "UPDATE orders SET updated_at = updated_at WHERE id = $1 AND gift_copies > 0 \
         RETURNING gift_copies, amount_fen, refunded_fen",
    )
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((copies, paid, refunded)) = order else { return Ok(decision.clone()) };
    sqlx::query(
        "UPDATE gifts SET withdrawn_at = $1, refund_id = $2 WHERE order_id = $3 AND claimed_by IS NULL AND withdrawn_at IS NULL",
    )
    .bind(now)
    .bind(refund_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    let claimed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gifts WHERE order_id = $1 AND claimed_by IS NOT NULL")
        .bind(order_id)
        .fetch_one(&mut **tx)
        .await?;
    let held = crate::domain::gift::cap(decision.clone(), paid, refunded, copies, claimed);
    if held != *decision {
        sqlx::query(
            "UPDATE refund_requests SET policy_eligible = $1, exception = $2, policy_amount_fen = $3, \
             policy_rule_zh = $4, policy_rule_en = $5 WHERE id = $6",
        )
        .bind(i64::from(held.eligible))
        .bind(i64::from(!held.eligible))
        .bind(held.amount.0)
        .bind(&held.rule.zh)
        .bind(&held.rule.en)
        .bind(refund_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(held)
}

/// A refund request that ends without money going back (rejected, withdrawn) gives its copies
/// back to the friends who have not claimed them yet.
pub(crate) async fn give_back(tx: &mut Transaction<'static, Any>, refund_id: RefundId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE gifts SET withdrawn_at = NULL, refund_id = NULL WHERE refund_id = $1 AND claimed_by IS NULL")
        .bind(refund_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
