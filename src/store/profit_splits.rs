//! WeChat Pay profit sharing, the shop's side: one split (or release) per held order, claimed in
//! the transaction that settles its commission (so the money cannot also be withdrawn), then sent
//! and asked after by `jobs::profit_sharing` under the same `out_order_no` until it finishes.

use sqlx::{Any, Transaction};

use super::Db;
use crate::domain::commission::SplitKind;
use crate::domain::{Fen, OrderId, UserId};

/// A split or release waiting for WeChat Pay.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Split {
    pub order_id: OrderId,
    pub order_no: String,
    pub out_order_no: String,
    #[sqlx(try_from = "String")]
    pub kind: SplitKind,
    pub receiver: String,
    #[sqlx(rename = "amount_fen")]
    pub amount: Fen,
    pub transaction_id: String,
}

/// Inside the settlement's transaction: the commission of a held WeChat order goes to the
/// distributor's WeChat (when they signed in with WeChat), or the funds are released and the
/// commission stays in their balance.
pub async fn claim_for_settlement(
    tx: &mut Transaction<'static, Any>,
    order_id: OrderId,
    distributor: UserId,
    amount: Fen,
    now: i64,
) -> Result<(), sqlx::Error> {
    let held: Option<String> = sqlx::query_scalar(
        "SELECT order_no FROM orders WHERE id = $1 AND profit_sharing = 1 AND pay_provider = 'wechatpay' \
         AND provider_txn_id IS NOT NULL AND status IN ('paid', 'partially_refunded')",
    )
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(order_no) = held else { return Ok(()) };
    let openid: Option<String> = sqlx::query_scalar(
        "SELECT value FROM user_identities WHERE user_id = $1 AND provider = $2 ORDER BY id LIMIT 1",
    )
    .bind(distributor)
    .bind(super::identities::OPENID_OA)
    .fetch_optional(&mut **tx)
    .await?;
    let (kind, receiver, amount) = match openid {
        Some(openid) if amount > Fen::ZERO => (SplitKind::Split, openid, amount),
        _ => (SplitKind::Unfreeze, String::new(), Fen::ZERO),
    };
    sqlx::query(
        "INSERT INTO profit_splits (order_id, out_order_no, kind, distributor_id, receiver, amount_fen, state, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7, $7) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(kind.out_order_no(&order_no))
    .bind(kind.as_str())
    .bind(distributor)
    .bind(receiver)
    .bind(amount.0)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Held WeChat orders whose refund window closed without a commission: their funds are released
/// (the SQL spells `SplitKind::Unfreeze` and its `out_order_no`, as one statement for every order).
pub async fn claim_releases(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO profit_splits (order_id, out_order_no, kind, amount_fen, state, created_at, updated_at) \
         SELECT o.id, 'U' || o.order_no, 'unfreeze', 0, 'requested', $1, $1 FROM orders o \
         WHERE o.profit_sharing = 1 AND o.pay_provider = 'wechatpay' AND o.provider_txn_id IS NOT NULL \
         AND o.status IN ('paid', 'partially_refunded') AND o.paid_at + o.refund_window_days * 86400 <= $1 \
         AND NOT EXISTS (SELECT 1 FROM commissions c WHERE c.order_id = o.id) \
         AND NOT EXISTS (SELECT 1 FROM profit_splits p WHERE p.order_id = o.id) \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected())
}

pub async fn find_requested(db: &Db, out_order_no: &str) -> Result<Option<Split>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.order_id, o.order_no, p.out_order_no, p.kind, p.receiver, p.amount_fen, o.provider_txn_id AS transaction_id \
         FROM profit_splits p JOIN orders o ON o.id = p.order_id WHERE p.out_order_no = $1 AND p.state = 'requested'",
    )
    .bind(out_order_no)
    .fetch_optional(db.read())
    .await
}

pub async fn requested(db: &Db, limit: i64) -> Result<Vec<Split>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.order_id, o.order_no, p.out_order_no, p.kind, p.receiver, p.amount_fen, o.provider_txn_id AS transaction_id \
         FROM profit_splits p JOIN orders o ON o.id = p.order_id WHERE p.state = 'requested' ORDER BY p.updated_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// WeChat Pay's final answer, once: a finished split is paid out in the distributor's ledger. A
/// refused split becomes a release of the held funds (under its own number), and the commission
/// stays in the distributor's balance, to be withdrawn like any other.
pub async fn finish(db: &Db, split: &Split, finished: bool, detail: &str, now: i64) -> Result<bool, sqlx::Error> {
    if !finished && split.kind == SplitKind::Split {
        let done = sqlx::query(
            "UPDATE profit_splits SET kind = 'unfreeze', out_order_no = $1, amount_fen = 0, detail = $2, updated_at = $3 \
             WHERE order_id = $4 AND state = 'requested' AND kind = 'split'",
        )
        .bind(SplitKind::Unfreeze.out_order_no(&split.order_no))
        .bind(detail)
        .bind(now)
        .bind(split.order_id)
        .execute(db.write())
        .await?;
        return Ok(done.rows_affected() == 1);
    }
    let mut tx = db.write().begin().await?;
    let done = sqlx::query(
        "UPDATE profit_splits SET state = $1, detail = $2, updated_at = $3 WHERE order_id = $4 AND state = 'requested'",
    )
    .bind(if finished { "finished" } else { "failed" })
    .bind(detail)
    .bind(now)
    .bind(split.order_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    if finished && split.kind == SplitKind::Split {
        sqlx::query(
            "INSERT INTO commission_entries (distributor_id, order_id, kind, amount_fen, settled, event_key, note, created_at) \
             SELECT distributor_id, order_id, 'paid_out', amount_fen, 1, $1, $2, $3 FROM profit_splits WHERE order_id = $4 \
             ON CONFLICT (event_key) DO NOTHING",
        )
        .bind(format!("paid_out:split:{}", split.order_id))
        .bind(format!("微信分账 {}", split.out_order_no))
        .bind(now)
        .bind(split.order_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Commission on its way to a distributor's WeChat: not to be withdrawn as well.
pub async fn splitting<'e, E: sqlx::Executor<'e, Database = Any>>(
    executor: E,
    distributor: UserId,
) -> Result<Fen, sqlx::Error> {
    let sum: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM profit_splits \
         WHERE distributor_id = $1 AND kind = 'split' AND state = 'requested'",
    )
    .bind(distributor)
    .fetch_one(executor)
    .await?;
    Ok(Fen(sum))
}
