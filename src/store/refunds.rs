//! Refund requests and their timeline. Every move is a conditional UPDATE on the current status,
//! checked by rows affected, so a double click, twenty staff clicking at once, or a provider
//! notification arriving twice each change the request once.

use sqlx::{Any, Transaction};

use super::attachments::{self, NewAttachment, Owner};
use super::rows::Flag;
use super::{Db, is_unique_violation, messages};
use crate::domain::message::MessageKind;
use crate::domain::order::OrderStatus;
use crate::domain::refund::{RefundEvent, RefundStatus, new_refund_no};
use crate::domain::refund_policy::{Decision, left_to_refund, may_refund};
use crate::domain::refund_terms::Localized;
use crate::domain::{CourseId, Fen, OrderId, RefundId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Refund {
    pub id: RefundId,
    pub refund_no: String,
    pub order_id: OrderId,
    pub order_no: String,
    pub item_title: String,
    pub user_id: UserId,
    #[sqlx(try_from = "String")]
    pub status: RefundStatus,
    pub reason_code: String,
    pub reason_text: String,
    #[sqlx(try_from = "Flag")]
    pub exception: bool,
    #[sqlx(try_from = "Flag")]
    pub policy_eligible: bool,
    #[sqlx(rename = "policy_amount_fen")]
    pub policy_amount: Fen,
    #[sqlx(flatten)]
    pub policy_rule: Localized,
    pub consumed_pct: i64,
    #[sqlx(rename = "amount_fen")]
    pub amount: Option<Fen>,
    pub staff_note: Option<String>,
    pub reject_reason: Option<String>,
    #[sqlx(try_from = "Flag")]
    pub auto_approved: bool,
    pub provider: Option<String>,
    pub provider_state: Option<String>,
    pub provider_message: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
}

impl Refund {
    /// The amount the learner will get or got: the approved one, else what the policy computed.
    pub fn shown_amount(&self) -> Fen {
        self.amount.unwrap_or(self.policy_amount)
    }
}

const COLUMNS: &str = "r.id, r.refund_no, r.order_id, o.order_no, o.item_title, r.user_id, r.status, r.reason_code, r.reason_text, \
     r.exception, r.policy_eligible, r.policy_amount_fen, r.policy_rule_zh AS zh, r.policy_rule_en AS en, r.consumed_pct, \
     r.amount_fen, r.staff_note, r.reject_reason, r.auto_approved, r.provider, r.provider_state, r.provider_message, \
     r.created_at, r.updated_at, r.completed_at";
const FROM: &str = "FROM refund_requests r JOIN orders o ON o.id = r.order_id";

async fn one(db: &Db, condition: &str, value: &str) -> Result<Option<Refund>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE {condition}");
    sqlx::query_as(&sql).bind(value).fetch_optional(db.read()).await
}

pub async fn find(db: &Db, refund_no: &str) -> Result<Option<Refund>, sqlx::Error> {
    one(db, "r.refund_no = $1", refund_no).await
}

pub async fn find_by_id(db: &Db, id: RefundId) -> Result<Option<Refund>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await
}

/// The request if it is this user's; anyone else's answers exactly like a missing one.
pub async fn find_for_user(db: &Db, refund_no: &str, user_id: UserId) -> Result<Option<Refund>, sqlx::Error> {
    Ok(find(db, refund_no).await?.filter(|r| r.user_id == user_id))
}

/// The number of the order's open request (pending, refunding or failed), if it has one.
pub async fn open_for_order(db: &Db, order_id: OrderId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT refund_no FROM refund_requests WHERE order_id = $1 AND status IN ('pending', 'refunding', 'failed')",
    )
    .bind(order_id)
    .fetch_optional(db.read())
    .await
}

/// Every request on an order, newest first.
pub async fn for_order(db: &Db, order_id: OrderId) -> Result<Vec<Refund>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.order_id = $1 ORDER BY r.id DESC");
    sqlx::query_as(&sql).bind(order_id).fetch_all(db.read()).await
}

pub async fn for_user(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<Refund>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.user_id = $1 ORDER BY r.id DESC LIMIT $2");
    sqlx::query_as(&sql).bind(user_id).bind(limit).fetch_all(db.read()).await
}

/// The staff queue: by status (all open ones when None), oldest first so nobody waits longest.
pub async fn queue(db: &Db, status: Option<RefundStatus>, limit: i64) -> Result<Vec<Refund>, sqlx::Error> {
    match status {
        Some(status) => {
            let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.status = $1 ORDER BY r.id LIMIT $2");
            sqlx::query_as(&sql).bind(status.as_str()).bind(limit).fetch_all(db.read()).await
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} {FROM} WHERE r.status IN ('pending', 'refunding', 'failed') ORDER BY r.id LIMIT $1"
            );
            sqlx::query_as(&sql).bind(limit).fetch_all(db.read()).await
        }
    }
}

/// Approved requests still waiting on the provider, last touched before `before`.
pub async fn in_flight(db: &Db, before: i64, limit: i64) -> Result<Vec<Refund>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} {FROM} WHERE r.status = 'refunding' AND r.updated_at <= $1 ORDER BY r.id LIMIT $2");
    sqlx::query_as(&sql).bind(before).bind(limit).fetch_all(db.read()).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    #[sqlx(try_from = "String")]
    pub kind: RefundEvent,
    pub note: String,
    pub actor: String,
    pub created_at: i64,
}

pub async fn events(db: &Db, refund_id: RefundId) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as("SELECT kind, note, actor, created_at FROM refund_events WHERE refund_id = $1 ORDER BY id")
        .bind(refund_id)
        .fetch_all(db.read())
        .await
}

async fn event(
    tx: &mut Transaction<'static, Any>,
    refund_id: RefundId,
    kind: RefundEvent,
    note: &str,
    actor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO refund_events (refund_id, kind, note, actor, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(refund_id)
        .bind(kind.as_str())
        .bind(note)
        .bind(actor)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub struct NewRefund<'a> {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub reason_code: &'a str,
    pub reason_text: &'a str,
    pub decision: &'a Decision,
    pub consumed_pct: i64,
    /// `learner`, or `staff` for a refund made from the back office.
    pub submitted_by: &'a str,
}

pub enum Created {
    /// Opened, with the decision as stored (a gift order's is held to its unclaimed copies).
    New(RefundId, String, Decision),
    /// The order already had an open request (a double submit): that one.
    Existing(String),
}

/// Opens a request with its evidence, or finds the open one: the partial unique index keeps one
/// per order.
pub async fn create(
    db: &Db,
    new: &NewRefund<'_>,
    files: &[NewAttachment<'_>],
    now: i64,
) -> Result<Created, sqlx::Error> {
    let refund_no = new_refund_no(now);
    let mut tx = db.write().begin().await?;
    let inserted: Result<RefundId, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO refund_requests (refund_no, order_id, user_id, status, reason_code, reason_text, exception, \
         policy_eligible, policy_amount_fen, policy_rule_zh, policy_rule_en, consumed_pct, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
    )
    .bind(&refund_no)
    .bind(new.order_id)
    .bind(new.user_id)
    .bind(new.reason_code)
    .bind(new.reason_text)
    .bind(i64::from(!new.decision.eligible))
    .bind(i64::from(new.decision.eligible))
    .bind(new.decision.amount.0)
    .bind(&new.decision.rule.zh)
    .bind(&new.decision.rule.en)
    .bind(new.consumed_pct)
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    match inserted {
        Ok(id) => {
            for file in files {
                attachments::add(&mut tx, Owner::Refund(id), file, now).await?;
            }
            let decision = super::gifts::take_back_for_refund(&mut tx, new.order_id, id, new.decision, now).await?;
            event(&mut tx, id, RefundEvent::Submitted, "", new.submitted_by, now).await?;
            tx.commit().await?;
            Ok(Created::New(id, refund_no, decision))
        }
        Err(e) if is_unique_violation(&e) => {
            tx.rollback().await?;
            open_for_order(db, new.order_id).await?.map(Created::Existing).ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// Moves `from` → `to`; true when this call made the move.
async fn transition(
    tx: &mut Transaction<'static, Any>,
    id: RefundId,
    from: &[RefundStatus],
    to: RefundStatus,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&transition_sql(from, to)?).bind(now).bind(id).execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}

/// The one way a refund request changes state, `$1` the time and `$2` the request.
fn transition_sql(from: &[RefundStatus], to: RefundStatus) -> Result<String, sqlx::Error> {
    super::status_update_sql("refund_requests", from, to, "updated_at = $1", 2)
}

pub async fn withdraw(db: &Db, id: RefundId, user_id: UserId, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let owner: Option<UserId> = sqlx::query_scalar("SELECT user_id FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if owner != Some(user_id)
        || !transition(&mut tx, id, &[RefundStatus::Pending], RefundStatus::Withdrawn, now).await?
    {
        tx.rollback().await?;
        return Ok(false);
    }
    event(&mut tx, id, RefundEvent::Withdrawn, "", "learner", now).await?;
    super::gifts::give_back(&mut tx, id).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn reject(db: &Db, id: RefundId, staff_id: UserId, reason: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let from = [RefundStatus::Pending, RefundStatus::Failed];
    if !transition(&mut tx, id, &from, RefundStatus::Rejected, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("UPDATE refund_requests SET reject_reason = $1, decided_by = $2, decided_at = $3 WHERE id = $4")
        .bind(reason)
        .bind(staff_id)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    event(&mut tx, id, RefundEvent::Rejected, reason, "staff", now).await?;
    super::gifts::give_back(&mut tx, id).await?;
    notify_learner(&mut tx, id, MessageKind::RefundRejected, reason, now).await?;
    tx.commit().await?;
    db.users_changed();
    Ok(true)
}

pub struct Approval<'a> {
    pub amount: Fen,
    pub note: &'a str,
    /// None for automatic approval.
    pub staff_id: Option<UserId>,
    pub provider: &'a str,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Approved {
    Yes,
    /// Someone else decided first, or the request is no longer pending.
    NotPending,
    /// More than the order has left to refund.
    TooMuch,
}

/// pending → refunding with the amount fixed. The amount may not exceed what is left of the
/// order after completed refunds (one open request per order keeps the rest consistent).
pub async fn approve(db: &Db, id: RefundId, a: &Approval<'_>, now: i64) -> Result<Approved, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let order: Option<(i64, i64)> = sqlx::query_as(
        "SELECT o.amount_fen, o.refunded_fen FROM refund_requests r JOIN orders o ON o.id = r.order_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let left = order.map_or(Fen::ZERO, |(paid, refunded)| left_to_refund(Fen(paid), Fen(refunded)));
    if !may_refund(a.amount, left) {
        tx.rollback().await?;
        return Ok(Approved::TooMuch);
    }
    if !transition(&mut tx, id, &[RefundStatus::Pending], RefundStatus::Refunding, now).await? {
        tx.rollback().await?;
        return Ok(Approved::NotPending);
    }
    sqlx::query(
        "UPDATE refund_requests SET amount_fen = $1, staff_note = $2, decided_by = $3, decided_at = $4, \
         auto_approved = $5, provider = $6, provider_state = NULL WHERE id = $7",
    )
    .bind(a.amount.0)
    .bind(a.note)
    .bind(a.staff_id)
    .bind(now)
    .bind(i64::from(a.staff_id.is_none()))
    .bind(a.provider)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let (kind, actor) =
        if a.staff_id.is_some() { (RefundEvent::Approved, "staff") } else { (RefundEvent::AutoApproved, "system") };
    event(&mut tx, id, kind, a.note, actor, now).await?;
    if a.staff_id.is_some() {
        // A decision by staff can take a while: the learner hears of it before the money arrives.
        let to: Option<(String, String)> = sqlx::query_as(
            "SELECT u.phone, r.refund_no FROM refund_requests r JOIN users u ON u.id = r.user_id \
             WHERE r.id = $1 AND u.status <> 'deleted'",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((phone, refund_no)) = to {
            let params = [("no", refund_no.as_str()), ("amount", &a.amount.to_string())];
            let key = format!("refund_approved:{id}");
            super::sms_outbox::enqueue(
                &mut tx,
                &key,
                crate::domain::sms::Kind::RefundApproved,
                &phone,
                &params,
                None,
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Approved::Yes)
}

/// failed → refunding again, under the same refund number.
pub async fn retry(db: &Db, id: RefundId, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    if !transition(&mut tx, id, &[RefundStatus::Failed], RefundStatus::Refunding, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("UPDATE refund_requests SET provider_state = NULL, provider_message = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    event(&mut tx, id, RefundEvent::Retried, "", "staff", now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The provider accepted the refund and is working on it.
pub async fn mark_processing(db: &Db, id: RefundId, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let done = sqlx::query(
        "UPDATE refund_requests SET provider_state = 'processing', updated_at = $1 \
         WHERE id = $2 AND status = 'refunding' AND provider_state IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        event(&mut tx, id, RefundEvent::Processing, "", "provider", now).await?;
    }
    tx.commit().await
}

/// Touches an in-flight request so the retry job waits before asking again.
pub async fn touch(db: &Db, id: RefundId, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refund_requests SET updated_at = $1 WHERE id = $2 AND status = 'refunding'")
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(())
}

/// refunding → failed, with the provider's words, for staff to retry or reject.
pub async fn fail(db: &Db, id: RefundId, why: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    if !transition(&mut tx, id, &[RefundStatus::Refunding], RefundStatus::Failed, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("UPDATE refund_requests SET provider_state = 'failed', provider_message = $1 WHERE id = $2")
        .bind(why)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    event(&mut tx, id, RefundEvent::Failed, why, "provider", now).await?;
    tx.commit().await?;
    Ok(true)
}

/// What a completed refund did.
#[derive(Debug, Clone)]
pub struct Completion {
    pub user_id: UserId,
    pub refund_no: String,
    pub amount: Fen,
    /// The order is now refunded in full and the course access was revoked.
    pub full: bool,
}

/// refunding → refunded, once: the order's refunded total and status move with it, a full
/// refund revokes the course, and the learner gets a site message, all in one transaction.
/// None when it was already completed (a repeated notification).
pub async fn complete(db: &Db, id: RefundId, now: i64) -> Result<Option<Completion>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    if !transition(&mut tx, id, &[RefundStatus::Refunding], RefundStatus::Refunded, now).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let Completing { refund_no, user_id, order_id, amount, paid, refunded, course_id, paid_at } = sqlx::query_as(
        "SELECT r.refund_no, r.user_id, r.order_id, r.amount_fen, o.amount_fen AS paid, o.refunded_fen, o.course_id, \
         o.paid_at FROM refund_requests r JOIN orders o ON o.id = r.order_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let amount = amount.unwrap_or(Fen::ZERO);
    let refunded = refunded + amount;
    let full = refunded >= paid;
    sqlx::query("UPDATE refund_requests SET provider_state = 'succeeded', completed_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let to = if full { OrderStatus::Refunded } else { OrderStatus::PartiallyRefunded };
    let sql = super::orders::transition_sql(
        &[OrderStatus::Paid, OrderStatus::PartiallyRefunded],
        to,
        "refunded_fen = $1, updated_at = $2",
        3,
    )?;
    let moved = sqlx::query(&sql).bind(refunded.0).bind(now).bind(order_id).execute(&mut *tx).await?;
    if moved.rows_affected() != 1 {
        // Refunds are only ever opened on paid orders; anything else is a broken invariant, and
        // the refund stays `refunding` (and retried) rather than rewrite a closed order.
        return Err(sqlx::Error::Protocol(format!(
            "refund {refund_no} completes on order {order_id}, which is not paid"
        )));
    }
    // The order's day of payment counts its refunds: that day's stored sales are stale.
    if let Some(paid_at) = paid_at {
        super::sales_days::forget_paid_day(db, &mut tx, paid_at).await?;
    }
    super::commissions::reverse_for_refund(db, &mut tx, order_id, id, refunded - amount, amount, now).await?;
    if full {
        super::entitlements::revoke_for_order(&mut tx, user_id, course_id, order_id, now).await?;
        super::entitlements::revoke_bundle_items(&mut tx, user_id, order_id, now).await?;
    }
    // A membership refund is its cancellation: whatever part was refunded, its term ends now.
    super::memberships::end_for_refund(&mut tx, order_id, now).await?;
    // A refunded group seat is given up: it no longer counts towards filling the group.
    sqlx::query("UPDATE group_members SET status = 'left' WHERE order_id = $1 AND status = 'joined'")
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    event(&mut tx, id, RefundEvent::Refunded, "", "provider", now).await?;
    notify_learner(&mut tx, id, MessageKind::RefundRefunded, "", now).await?;
    tx.commit().await?;
    db.users_changed();
    db.access_changed();
    db.orders_changed();
    Ok(Some(Completion { user_id, refund_no, amount, full }))
}

#[derive(sqlx::FromRow)]
struct Completing {
    refund_no: String,
    user_id: UserId,
    order_id: OrderId,
    #[sqlx(rename = "amount_fen")]
    amount: Option<Fen>,
    paid: Fen,
    #[sqlx(rename = "refunded_fen")]
    refunded: Fen,
    course_id: CourseId,
    paid_at: Option<i64>,
}

async fn notify_learner(
    tx: &mut Transaction<'static, Any>,
    id: RefundId,
    kind: MessageKind,
    note: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (user_id, refund_no, amount): (UserId, String, Fen) = sqlx::query_as(
        "SELECT user_id, refund_no, COALESCE(amount_fen, policy_amount_fen) FROM refund_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let message = messages::NewMessage {
        user_id,
        kind,
        ref_no: &refund_no,
        amount: Some(amount),
        note,
        link: &format!("/refunds/{refund_no}"),
    };
    messages::send(tx, &message, now).await
}

/// Requests waiting for staff or the provider.
pub async fn count_open(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM refund_requests WHERE status IN ('pending', 'refunding', 'failed')")
        .fetch_one(db.read())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_refund_moves_become_sql() {
        use RefundStatus::*;
        let sql = transition_sql(&[Pending, Failed], Rejected).expect("allowed");
        assert!(sql.contains("status = 'rejected'") && sql.contains("IN ('pending', 'failed')"), "{sql}");
        assert!(transition_sql(&[Refunded], Refunding).is_err(), "a refund paid out stays paid out");
        assert!(transition_sql(&[Pending, Refunded], Rejected).is_err(), "every source must be allowed");
        assert!(transition_sql(&[], Rejected).is_err(), "nothing to move from");
    }
}
