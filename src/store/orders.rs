//! Orders and their fulfilment. Every state change is a conditional UPDATE checked by rows
//! affected; paying, granting the course and consuming the coupon commit together.

use sqlx::{Any, Transaction};

use super::payment_notifications::{Arrival, record_in};
use super::rows::OptionalWord;
use super::{Db, is_unique_violation};
use crate::domain::coupon::Breakdown;
use crate::domain::order::{OrderStatus, new_order_no};
use crate::domain::payment::{Channel, LateRefundState, PaidNotice, PaidThrough};
use crate::domain::product::Delivery;
use crate::domain::refund_terms::RefundTerms;
use crate::domain::{CouponId, CourseId, Fen, GroupId, OrderId, ProductKind, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Order {
    pub id: OrderId,
    pub order_no: String,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub item_title: String,
    /// What was sold; an unknown word in an old or imported row reads as a recorded course.
    #[sqlx(try_from = "String")]
    pub item_kind: ProductKind,
    #[sqlx(rename = "price_fen", try_from = "i64")]
    pub price: Fen,
    #[sqlx(rename = "discount_fen", try_from = "i64")]
    pub discount: Fen,
    #[sqlx(rename = "amount_fen", try_from = "i64")]
    pub amount: Fen,
    #[sqlx(flatten)]
    pub refund_terms: RefundTerms,
    pub refund_terms_shown: String,
    pub coupon_id: Option<CouponId>,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
    pub pay_provider: Option<String>,
    #[sqlx(try_from = "OptionalWord")]
    pub pay_channel: Option<PaidThrough>,
    pub provider_txn_id: Option<String>,
    /// Refunded so far (the total of completed refunds).
    #[sqlx(rename = "refunded_fen", try_from = "i64")]
    pub refunded: Fen,
    /// A group-buy seat: the group it buys into.
    pub group_id: Option<GroupId>,
    /// A gift: how many copies it buys for friends (0: the buyer's own purchase).
    pub gift_copies: i64,
    /// The name a gift is signed with.
    pub gift_sender: String,
}

impl Order {
    /// Paid, not fully refunded: a refund can be asked for.
    pub fn is_refundable(&self) -> bool {
        self.status.grants_access() && self.refunded < self.amount
    }

    /// What is paid and not yet refunded: the most a refund can return.
    pub fn left_to_refund(&self) -> Fen {
        crate::domain::refund_policy::left_to_refund(self.amount, self.refunded)
    }
}

pub(crate) const COLUMNS: &str = "id, order_no, user_id, course_id, item_title, item_kind, price_fen, discount_fen, amount_fen, \
     non_refundable, refund_window_days, refund_max_consumed_pct, refund_terms_shown, coupon_id, status, created_at, \
     expires_at, paid_at, closed_at, close_reason, pay_provider, pay_channel, provider_txn_id, refunded_fen, group_id, \
     gift_copies, gift_sender";

/// The course as it is sold now, frozen onto the order.
pub struct NewOrder<'a> {
    pub user_id: UserId,
    pub course_id: CourseId,
    pub title: &'a str,
    pub kind: &'a str,
    pub price: Fen,
    pub refund_terms: RefundTerms,
    pub refund_terms_shown: &'a str,
    pub ttl_secs: i64,
    /// Copies bought as a gift, and the name it is signed with (0 and empty: for the buyer).
    pub gift_copies: i64,
    pub gift_sender: &'a str,
    /// The cohort (营期) picked, for a course sold in cohorts: its seat is held while the order
    /// waits, and the learner joins it when paid.
    pub cohort_id: Option<crate::domain::CohortId>,
}

pub(crate) async fn insert(
    tx: &mut Transaction<'static, Any>,
    new: &NewOrder<'_>,
    status: OrderStatus,
    provider: Option<&str>,
    now: i64,
) -> Result<Order, sqlx::Error> {
    let sql = format!(
        "INSERT INTO orders (order_no, user_id, course_id, item_title, item_kind, price_fen, discount_fen, amount_fen, \
         non_refundable, refund_window_days, refund_max_consumed_pct, refund_terms_shown, status, created_at, expires_at, \
         paid_at, pay_provider, updated_at, gift_copies, gift_sender, cohort_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $12, $16, $17, $18) RETURNING {COLUMNS}"
    );
    let paid_at = (status == OrderStatus::Paid).then_some(now);
    sqlx::query_as(&sql)
        .bind(new_order_no(now))
        .bind(new.user_id)
        .bind(new.course_id)
        .bind(new.title)
        .bind(new.kind)
        .bind(new.price.0)
        .bind(i64::from(new.refund_terms.non_refundable))
        .bind(new.refund_terms.window_days)
        .bind(new.refund_terms.max_consumed_pct)
        .bind(new.refund_terms_shown)
        .bind(status.as_str())
        .bind(now)
        .bind(now + new.ttl_secs)
        .bind(paid_at)
        .bind(provider)
        .bind(new.gift_copies)
        .bind(new.gift_sender)
        .bind(new.cohort_id)
        .fetch_one(&mut **tx)
        .await
}

/// Creates a pending order, or returns the buyer's pending order for the same course (a second
/// click, or two tabs at once: the partial unique index decides).
/// The buyer's pending order for the course, and whether this call created it.
pub async fn create_or_reuse_pending(db: &Db, new: &NewOrder<'_>, now: i64) -> Result<(Order, bool), sqlx::Error> {
    if let Some(order) = pending_for(db, new.user_id, new.course_id).await? {
        if order.expires_at > now {
            return Ok((order, false));
        }
        // Past its deadline but not yet closed by the expiry job: close it now (its coupon goes
        // back) so 重新购买 gets a payable order. A payment that still arrives for it is refunded
        // like any payment for a closed order.
        close(db, order.id, "expired", now).await?;
    }
    let mut tx = db.write().begin().await?;
    match insert(&mut tx, new, OrderStatus::Pending, None, now).await {
        Ok(order) => {
            tx.commit().await?;
            db.orders_changed();
            Ok((order, true))
        }
        Err(e) if is_unique_violation(&e) => {
            tx.rollback().await?;
            Ok((pending_for(db, new.user_id, new.course_id).await?.ok_or(e)?, false))
        }
        Err(e) => Err(e),
    }
}

/// A free course: the order is paid at once (no provider) and the course granted.
pub async fn claim_free(db: &Db, new: &NewOrder<'_>, now: i64) -> Result<Order, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let order = insert_claimed(db, &mut tx, new, "free", now).await?;
    tx.commit().await?;
    db.orders_changed();
    db.access_changed();
    Ok(order)
}

/// An order paid without money (a free course, a redeem code, a friend's gift) under `provider`:
/// inserted paid, and what it buys granted, in the caller's transaction.
pub(crate) async fn insert_claimed(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    new: &NewOrder<'_>,
    provider: &str,
    now: i64,
) -> Result<Order, sqlx::Error> {
    let order = insert(tx, new, OrderStatus::Paid, Some(provider), now).await?;
    grant_claimed(db, tx, &order, now).await?;
    Ok(order)
}

/// What an order paid without a payment gives (a free course, a redeem code): the course, the
/// membership term it is, and a learner more on the course.
async fn grant_claimed(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    order: &Order,
    now: i64,
) -> Result<(), sqlx::Error> {
    super::entitlements::grant_for_order(tx, order.user_id, order.course_id, "order", Some(order.id), now).await?;
    match order.item_kind.delivery() {
        Delivery::MemberTerm => {
            super::memberships::start_for_order(db, tx, order.user_id, order.course_id, order.id, now, now).await?;
        }
        Delivery::Courses => {
            super::entitlements::grant_bundle_items(tx, order.user_id, order.course_id, order.id, now).await?;
        }
        Delivery::Lessons | Delivery::Session => {}
    }
    bump_learners(tx, order.course_id).await
}

/// The buyer's pending order for the course for themselves (not a gift). Read from the reader pool: a committed order is
/// visible to every new read, and the partial unique index settles a race anyway.
pub async fn pending_for(db: &Db, user_id: UserId, course_id: CourseId) -> Result<Option<Order>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND course_id = $2 AND status = 'pending' AND gift_copies = 0"
    );
    sqlx::query_as(&sql).bind(user_id).bind(course_id).fetch_optional(db.read()).await
}

pub async fn find(db: &Db, order_no: &str) -> Result<Option<Order>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE order_no = $1");
    sqlx::query_as(&sql).bind(order_no).fetch_optional(db.read()).await
}

/// The order if it belongs to this user; someone else's answers exactly like a missing one.
pub async fn find_for_user(db: &Db, order_no: &str, user_id: UserId) -> Result<Option<Order>, sqlx::Error> {
    Ok(find(db, order_no).await?.filter(|o| o.user_id == user_id))
}

/// One page of the learner's orders, newest first, and how many there are in all (one query;
/// a second only when the page is past the end).
pub async fn page_for_user(
    db: &Db,
    user_id: UserId,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Order>, i64), sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM orders WHERE user_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let rows: Vec<Counted> = sqlx::query_as(&sql).bind(user_id).bind(limit).bind(offset).fetch_all(db.read()).await?;
    let total = match rows.first() {
        Some(row) => row.total,
        None => count_for_user(db, user_id).await?,
    };
    Ok((rows.into_iter().map(|row| row.order).collect(), total))
}

/// An order with the number of rows its query would return without LIMIT.
#[derive(sqlx::FromRow)]
struct Counted {
    #[sqlx(flatten)]
    order: Order,
    total: i64,
}

pub async fn count_for_user(db: &Db, user_id: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE user_id = $1").bind(user_id).fetch_one(db.read()).await
}

/// Records that the buyer started paying with this provider; from then on the amount is fixed.
pub async fn start_payment(
    db: &Db,
    order_id: OrderId,
    provider: &str,
    channel: Channel,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE orders SET pay_provider = $1, pay_channel = $2, updated_at = $3, reconcile_at = $4, reconcile_checks = 0 \
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(provider)
    .bind(channel.as_str())
    .bind(now)
    .bind(now + crate::domain::order::RECONCILE_AFTER_SECS)
    .bind(order_id)
    .execute(db.write())
    .await?;
    db.orders_changed();
    Ok(done.rows_affected() == 1)
}

/// Forgets a payment attempt that never reached the buyer (the gateway call failed), so the
/// order can be paid with another provider.
pub async fn abandon_payment(db: &Db, order_id: OrderId, provider: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET pay_provider = NULL, pay_channel = NULL, reconcile_at = NULL \
         WHERE id = $1 AND status = 'pending' AND pay_provider = $2",
    )
    .bind(order_id)
    .bind(provider)
    .execute(db.write())
    .await?;
    db.orders_changed();
    Ok(())
}

/// The one way an order changes state (`store::status_update_sql` on `orders`).
pub(crate) fn transition_sql(
    from: &[OrderStatus],
    to: OrderStatus,
    assignments: &str,
    id_param: usize,
) -> Result<String, sqlx::Error> {
    super::status_update_sql("orders", from, to, assignments, id_param)
}

/// pending → closed (cancelled or expired); the coupon goes back. False when the order was no
/// longer pending (paid or closed meanwhile).
pub async fn close(db: &Db, order_id: OrderId, reason: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    if !close_in(&mut tx, order_id, reason, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    db.orders_changed();
    Ok(true)
}

/// `close` inside a transaction that does more (a group seat replacing the buyer's pending order).
pub(crate) async fn close_in(
    tx: &mut Transaction<'static, Any>,
    order_id: OrderId,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let sql = transition_sql(
        &[OrderStatus::Pending],
        OrderStatus::Closed,
        "closed_at = $1, close_reason = $2, updated_at = $1",
        3,
    )?;
    let done = sqlx::query(&sql).bind(now).bind(reason).bind(order_id).execute(&mut **tx).await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    release_coupon(tx, order_id, now).await?;
    Ok(true)
}

/// The order's reserved coupon goes back to the pool.
async fn release_coupon(tx: &mut Transaction<'static, Any>, order_id: OrderId, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE coupon_redemptions SET status = 'released', updated_at = $1 WHERE order_id = $2 AND status = 'reserved'")
        .bind(now)
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Pending orders past their expiry, oldest first.
pub async fn expired_pending(db: &Db, now: i64, limit: i64) -> Result<Vec<Order>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
    );
    sqlx::query_as(&sql).bind(now).bind(limit).fetch_all(db.read()).await
}

/// Pending orders whose payment started before `before`: candidates for a provider query.
/// Pending payments due to be asked about at their gateway, the longest-due first.
pub async fn payments_due_for_check(db: &Db, now: i64, limit: i64) -> Result<Vec<Order>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE status = 'pending' AND reconcile_at <= $1 \
         ORDER BY reconcile_at, id LIMIT $2"
    );
    sqlx::query_as(&sql).bind(now).bind(limit).fetch_all(db.read()).await
}

/// The gateway was asked and the payment was not there (yet): ask again later, less often.
pub async fn payment_checked(db: &Db, order_id: OrderId, now: i64) -> Result<(), sqlx::Error> {
    let checks: Option<i64> = sqlx::query_scalar(
        "UPDATE orders SET reconcile_checks = reconcile_checks + 1 WHERE id = $1 AND status = 'pending' \
         RETURNING reconcile_checks",
    )
    .bind(order_id)
    .fetch_optional(db.write())
    .await?;
    if let Some(checks) = checks {
        sqlx::query("UPDATE orders SET reconcile_at = $1 WHERE id = $2 AND status = 'pending'")
            .bind(now + crate::domain::order::reconcile_backoff(checks))
            .bind(order_id)
            .execute(db.write())
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The order is now paid and the course granted.
    Applied {
        course_id: CourseId,
    },
    /// This transaction was already recorded; nothing changed.
    Duplicate,
    /// The money arrived for an order that is no longer pending: recorded, to be refunded.
    Late,
    UnknownOrder,
    AmountMismatch,
}

impl PaymentOutcome {
    /// What the notification's audit line says the shop made of it.
    pub fn verdict(&self) -> &'static str {
        match self {
            PaymentOutcome::Applied { .. } => "applied",
            PaymentOutcome::Duplicate => "duplicate",
            PaymentOutcome::Late => "late: queued for refund",
            PaymentOutcome::UnknownOrder => "rejected: unknown order",
            PaymentOutcome::AmountMismatch => "rejected: amount or currency mismatch",
        }
    }

    /// Whether the gateway is told the notification was taken (it stops resending).
    pub fn acknowledged(&self) -> bool {
        !matches!(self, PaymentOutcome::UnknownOrder | PaymentOutcome::AmountMismatch)
    }

    /// Whether `apply_payment` wrote the notification's audit line in its own transaction (it
    /// does when it changed something).
    pub fn recorded(&self) -> bool {
        matches!(self, PaymentOutcome::Applied { .. } | PaymentOutcome::Late)
    }
}

/// Fulfils a verified payment exactly once. The (provider, transaction id) key makes a repeated
/// notification a no-op; the amount and currency must be the order's. A notification that changed
/// something (`PaymentOutcome::recorded`) is written to the audit trail in the same transaction.
pub async fn apply_payment(
    db: &Db,
    provider: &str,
    notice: &PaidNotice,
    arrival: Option<&Arrival<'_>>,
    now: i64,
) -> Result<PaymentOutcome, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    // Serializes notifications for one order, so the duplicate check below sees committed rows.
    super::dialect::lock(db.backend(), &mut tx, &notice.order_no).await?;
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE order_no = $1");
    let found: Option<Order> = sqlx::query_as(&sql).bind(&notice.order_no).fetch_optional(&mut *tx).await?;
    let Some(order) = found else {
        tx.rollback().await?;
        return Ok(PaymentOutcome::UnknownOrder);
    };
    if notice.amount != order.amount || notice.currency != "CNY" {
        tx.rollback().await?;
        return Ok(PaymentOutcome::AmountMismatch);
    }
    let recorded: Option<i64> = sqlx::query_scalar(
        "INSERT INTO payments (order_id, provider, provider_txn_id, amount_fen, currency, outcome, paid_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'applied', $6, $7) ON CONFLICT (provider, provider_txn_id) DO NOTHING RETURNING id",
    )
    .bind(order.id)
    .bind(provider)
    .bind(&notice.txn_id)
    .bind(notice.amount.0)
    .bind(&notice.currency)
    .bind(notice.paid_at)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(payment_id) = recorded else {
        tx.rollback().await?;
        return Ok(PaymentOutcome::Duplicate);
    };
    let sql = transition_sql(
        &[OrderStatus::Pending],
        OrderStatus::Paid,
        "paid_at = $1, pay_provider = $2, provider_txn_id = $3, updated_at = $4",
        5,
    )?;
    let paid = sqlx::query(&sql)
        .bind(notice.paid_at)
        .bind(provider)
        .bind(&notice.txn_id)
        .bind(now)
        .bind(order.id)
        .execute(&mut *tx)
        .await?;
    if paid.rows_affected() != 1 {
        sqlx::query("UPDATE payments SET outcome = 'late' WHERE id = $1").bind(payment_id).execute(&mut *tx).await?;
        if let Some(arrival) = arrival {
            record_in(&mut *tx, arrival, PaymentOutcome::Late.verdict(), Some(&order.order_no), now).await?;
        }
        tx.commit().await?;
        db.orders_changed();
        tracing::warn!(order_no = %order.order_no, status = order.status.as_str(), "payment for an order that is not pending; queued for refund");
        return Ok(PaymentOutcome::Late);
    }
    match order.group_id {
        // A group seat: the course comes when the group fills (maybe with this very payment).
        Some(group_id) => {
            super::groups::seat_for_payment(db, &mut tx, &order, group_id, notice.paid_at, now).await?;
        }
        // A gift: its copies wait for friends to claim them (`store::gifts::claim`).
        None if order.gift_copies > 0 => {}
        None => {
            super::entitlements::grant_for_order(&mut tx, order.user_id, order.course_id, "order", Some(order.id), now)
                .await?;
            bump_learners(&mut tx, order.course_id).await?;
            if order.item_kind.delivery() == Delivery::Courses {
                super::entitlements::grant_bundle_items(&mut tx, order.user_id, order.course_id, order.id, now).await?;
            }
        }
    }
    if order.item_kind.delivery() == Delivery::MemberTerm {
        super::memberships::start_for_order(db, &mut tx, order.user_id, order.course_id, order.id, notice.paid_at, now)
            .await?;
    }
    sqlx::query("UPDATE coupon_redemptions SET status = 'consumed', updated_at = $1 WHERE order_id = $2 AND status = 'reserved'")
        .bind(now)
        .bind(order.id)
        .execute(&mut *tx)
        .await?;
    super::commissions::record_for_order(db, &mut tx, &order, notice.paid_at, now).await?;
    let outcome = PaymentOutcome::Applied { course_id: order.course_id };
    if let Some(arrival) = arrival {
        record_in(&mut *tx, arrival, outcome.verdict(), Some(&order.order_no), now).await?;
    }
    tx.commit().await?;
    db.orders_changed();
    db.access_changed();
    Ok(outcome)
}

pub(crate) async fn bump_learners(tx: &mut Transaction<'static, Any>, course_id: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE courses SET learner_count = learner_count + 1 WHERE id = $1")
        .bind(course_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LatePayment {
    pub payment_id: i64,
    pub order_no: String,
    pub provider: String,
    pub txn_id: String,
    pub amount: Fen,
    pub received_at: i64,
    /// None until the refund is first tried; then processing, succeeded or failed.
    #[sqlx(try_from = "OptionalWord")]
    pub refund_state: Option<LateRefundState>,
    pub refund_no: Option<String>,
}

const LATE_COLUMNS: &str = "p.id AS payment_id, o.order_no, p.provider, p.provider_txn_id AS txn_id, p.amount_fen AS amount, \
     p.created_at AS received_at, p.refund_state, p.refund_no";

/// Payments that arrived for orders no longer pending, newest first (staff see these).
pub async fn late_payments(db: &Db, limit: i64) -> Result<Vec<LatePayment>, sqlx::Error> {
    let sql = format!(
        "SELECT {LATE_COLUMNS} FROM payments p JOIN orders o ON o.id = p.order_id \
         WHERE p.outcome = 'late' ORDER BY p.id DESC LIMIT $1"
    );
    sqlx::query_as(&sql).bind(limit).fetch_all(db.read()).await
}

/// Late payments whose refund is not finished, oldest first.
pub async fn late_payments_to_refund(db: &Db, limit: i64) -> Result<Vec<LatePayment>, sqlx::Error> {
    let sql = format!(
        "SELECT {LATE_COLUMNS} FROM payments p JOIN orders o ON o.id = p.order_id \
         WHERE p.outcome = 'late' AND (p.refund_state IS NULL OR p.refund_state = 'processing') ORDER BY p.id LIMIT $1"
    );
    sqlx::query_as(&sql).bind(limit).fetch_all(db.read()).await
}

/// Fixes the refund number of a late payment (once; later calls return the same number).
pub async fn late_refund_no(db: &Db, payment_id: i64) -> Result<String, sqlx::Error> {
    let candidate = format!("LATE{payment_id:08}");
    sqlx::query("UPDATE payments SET refund_no = $1 WHERE id = $2 AND refund_no IS NULL")
        .bind(&candidate)
        .bind(payment_id)
        .execute(db.write())
        .await?;
    db.orders_changed();
    sqlx::query_scalar("SELECT refund_no FROM payments WHERE id = $1").bind(payment_id).fetch_one(db.write()).await
}

pub async fn set_late_refund_state(
    db: &Db,
    payment_id: i64,
    state: LateRefundState,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payments SET refund_state = $1, refund_updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(now)
        .bind(payment_id)
        .execute(db.write())
        .await?;
    db.orders_changed();
    Ok(())
}

/// What became of putting a coupon on an order.
pub enum Attached<E> {
    Done(Breakdown),
    /// The check's refusal.
    Refused(E),
    /// The order's payment started meanwhile (or it is no longer pending).
    Locked,
}

/// Puts a coupon on a pending order whose payment has not started, if `check` (run inside the
/// transaction, with the coupon's current usage) allows it.
pub async fn attach_coupon<E>(
    db: &Db,
    order: &Order,
    coupon_id: CouponId,
    now: i64,
    check: impl FnOnce(crate::domain::coupon::CouponUsage) -> Result<Breakdown, E>,
) -> Result<Attached<E>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    super::dialect::lock(db.backend(), &mut tx, &format!("coupon:{coupon_id}")).await?;
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN user_id = $2 THEN 1 ELSE 0 END), 0) FROM coupon_redemptions \
         WHERE coupon_id = $1 AND status IN ('reserved', 'consumed') AND order_id <> $3",
    )
    .bind(coupon_id)
    .bind(order.user_id)
    .bind(order.id)
    .fetch_one(&mut *tx)
    .await?;
    let paid_before: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE user_id = $1 AND paid_at IS NOT NULL AND price_fen > 0 AND id <> $2",
    )
    .bind(order.user_id)
    .bind(order.id)
    .fetch_one(&mut *tx)
    .await?;
    let usage = crate::domain::coupon::CouponUsage {
        total: counts.0,
        by_this_user: counts.1,
        buyer_paid_before: paid_before > 0,
    };
    let breakdown = match check(usage) {
        Ok(b) => b,
        Err(e) => {
            tx.rollback().await?;
            return Ok(Attached::Refused(e));
        }
    };
    let updated = sqlx::query(
        "UPDATE orders SET coupon_id = $1, discount_fen = $2, amount_fen = $3, updated_at = $4 \
         WHERE id = $5 AND status = 'pending' AND pay_provider IS NULL",
    )
    .bind(coupon_id)
    .bind(breakdown.discount.0)
    .bind(breakdown.amount.0)
    .bind(now)
    .bind(order.id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(Attached::Locked);
    }
    sqlx::query(
        "INSERT INTO coupon_redemptions (coupon_id, order_id, user_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'reserved', $4, $4) \
         ON CONFLICT (order_id) DO UPDATE SET coupon_id = $1, status = 'reserved', updated_at = $4",
    )
    .bind(coupon_id)
    .bind(order.id)
    .bind(order.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    db.orders_changed();
    Ok(Attached::Done(breakdown))
}

/// Takes the coupon off a pending order whose payment has not started.
pub async fn detach_coupon(db: &Db, order: &Order, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let updated = sqlx::query(
        "UPDATE orders SET coupon_id = NULL, discount_fen = 0, amount_fen = price_fen, updated_at = $1 \
         WHERE id = $2 AND status = 'pending' AND pay_provider IS NULL",
    )
    .bind(now)
    .bind(order.id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    release_coupon(&mut tx, order.id, now).await?;
    tx.commit().await?;
    db.orders_changed();
    Ok(true)
}

/// A provider's word on a late payment's refund, by refund number; false when none has it.
/// A finished refund stays finished.
pub async fn set_late_refund_state_by_no(
    db: &Db,
    refund_no: &str,
    state: LateRefundState,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payments SET refund_state = $1, refund_updated_at = $2 \
         WHERE refund_no = $3 AND (refund_state IS NULL OR refund_state = 'processing')",
    )
    .bind(state.as_str())
    .bind(now)
    .bind(refund_no)
    .execute(db.write())
    .await?;
    db.orders_changed();
    if done.rows_affected() == 1 {
        return Ok(true);
    }
    let known: Option<i64> = sqlx::query_scalar("SELECT id FROM payments WHERE refund_no = $1")
        .bind(refund_no)
        .fetch_optional(db.read())
        .await?;
    Ok(known.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn transitions_follow_the_order_state_machine() {
        let sql = transition_sql(&[Pending], Paid, "paid_at = $1", 2).unwrap();
        assert_eq!(sql, "UPDATE orders SET status = 'paid', paid_at = $1 WHERE id = $2 AND status IN ('pending')");
        let sql = transition_sql(&[Paid, PartiallyRefunded], Refunded, "refunded_fen = $1", 2).unwrap();
        assert!(sql.ends_with("status IN ('paid', 'partially_refunded')"), "{sql}");
        assert!(transition_sql(&[Closed], Paid, "x = 1", 1).is_err(), "nothing leaves closed");
        assert!(transition_sql(&[Pending, Refunded], Closed, "x = 1", 1).is_err(), "every source must be legal");
        assert!(transition_sql(&[Pending], Refunded, "x = 1", 1).is_err(), "no refund before payment");
        assert!(transition_sql(&[], Paid, "x = 1", 1).is_err());
    }
}
