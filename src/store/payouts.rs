//! Withdrawals of settled commission: requested by the distributor within what is available and
//! the month's limit (checked under a lock on the distributor, so two requests at once cannot both
//! spend the same money), then paid out by staff with a reference (a ledger entry) or rejected.

use super::rows::Text;
use super::{Db, dialect};
use crate::domain::commission::{PayoutStatus, WithdrawalError, check_withdrawal};
use crate::domain::time::shanghai_month_start;
use crate::domain::{Fen, PayoutId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Payout {
    pub id: PayoutId,
    pub distributor_id: UserId,
    #[sqlx(rename = "amount_fen")]
    pub amount: Fen,
    #[sqlx(try_from = "String")]
    pub status: PayoutStatus,
    pub account: String,
    pub reference: String,
    pub staff_note: String,
    pub requested_at: i64,
    pub decided_at: Option<i64>,
    /// The distributor's name and phone, for the back office.
    pub real_name: String,
    #[sqlx(try_from = "Text")]
    pub phone: crate::domain::Phone,
}

const SELECT: &str = "SELECT p.id, p.distributor_id, p.amount_fen, p.status, p.account, p.reference, p.staff_note, \
     p.requested_at, p.decided_at, d.real_name, u.phone FROM payouts p JOIN distributors d ON d.user_id = p.distributor_id \
     JOIN users u ON u.id = p.distributor_id";

pub async fn for_distributor(db: &Db, distributor: UserId, limit: i64) -> Result<Vec<Payout>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE p.distributor_id = $1 ORDER BY p.id DESC LIMIT $2"))
        .bind(distributor)
        .bind(limit)
        .fetch_all(db.read())
        .await
}

/// Requests waiting for staff first (oldest first), then the latest decided.
pub async fn queue(db: &Db, limit: i64) -> Result<Vec<Payout>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} ORDER BY CASE WHEN p.status = 'requested' THEN 0 ELSE 1 END, \
         CASE WHEN p.status = 'requested' THEN p.id ELSE -p.id END LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.read())
    .await
}

pub async fn find(db: &Db, id: PayoutId) -> Result<Option<Payout>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE p.id = $1")).bind(id).fetch_optional(db.read()).await
}

/// What the distributor may still ask for: available, less what is requested and not yet paid.
pub async fn requestable(db: &Db, distributor: UserId) -> Result<Fen, sqlx::Error> {
    let available = super::commissions::balances(db, distributor).await?.available;
    let splitting = super::profit_splits::splitting(db.read(), distributor).await?;
    Ok(available - requested_total(db.read(), distributor).await? - splitting)
}

async fn requested_total<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    distributor: UserId,
) -> Result<Fen, sqlx::Error> {
    let sum: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM payouts WHERE distributor_id = $1 AND status = 'requested'",
    )
    .bind(distributor)
    .fetch_one(executor)
    .await?;
    Ok(Fen(sum))
}

pub struct Limits {
    pub minimum: Fen,
    pub monthly: Fen,
}

/// A new withdrawal request, or why not.
pub enum Requested {
    Made(PayoutId),
    Refused(WithdrawalError),
}

pub async fn request(
    db: &Db,
    distributor: UserId,
    amount: Fen,
    account: &str,
    limits: &Limits,
    now: i64,
) -> Result<Requested, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    dialect::lock(db.backend(), &mut tx, &format!("payout:{distributor}")).await?;
    let settled = super::commissions::ledger_balances(&mut *tx, Some(distributor)).await?.available;
    let splitting = super::profit_splits::splitting(&mut *tx, distributor).await?;
    let available = settled - requested_total(&mut *tx, distributor).await? - splitting;
    let this_month: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM payouts \
         WHERE distributor_id = $1 AND status <> 'rejected' AND requested_at >= $2",
    )
    .bind(distributor)
    .bind(shanghai_month_start(now))
    .fetch_one(&mut *tx)
    .await?;
    if let Err(why) = check_withdrawal(amount, available, limits.minimum, limits.monthly, Fen(this_month)) {
        tx.rollback().await?;
        return Ok(Requested::Refused(why));
    }
    let id: PayoutId = sqlx::query_scalar(
        "INSERT INTO payouts (distributor_id, amount_fen, status, account, requested_at) \
         VALUES ($1, $2, 'requested', $3, $4) RETURNING id",
    )
    .bind(distributor)
    .bind(amount.0)
    .bind(account)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Requested::Made(id))
}

/// Staff paid it (`reference` says how) or rejected it; false when it was decided already. A
/// payment is a `paid_out` ledger entry in the same transaction.
pub async fn decide(
    db: &Db,
    payout: &Payout,
    paid: bool,
    reference: &str,
    note: &str,
    staff_id: UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let done = sqlx::query(
        "UPDATE payouts SET status = $1, reference = $2, staff_note = $3, decided_by = $4, decided_at = $5 \
         WHERE id = $6 AND status = 'requested'",
    )
    .bind(if paid { PayoutStatus::Paid } else { PayoutStatus::Rejected }.as_str())
    .bind(reference)
    .bind(note)
    .bind(staff_id)
    .bind(now)
    .bind(payout.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    if paid {
        sqlx::query(
            "INSERT INTO commission_entries (distributor_id, order_id, kind, amount_fen, settled, event_key, note, created_at) \
             VALUES ($1, NULL, 'paid_out', $2, 1, $3, $4, $5)",
        )
        .bind(payout.distributor_id)
        .bind(payout.amount.0)
        .bind(format!("paid_out:{}", payout.id))
        .bind(reference)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}
