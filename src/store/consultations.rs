//! Consultation slots. A slot belongs to the order that holds it (pending) or booked it (paid);
//! when that order closes unpaid or is refunded in full the slot is free again, with no write.
//! Taking a slot is one conditional UPDATE, so two buyers never get the same one.

use sqlx::{Any, Transaction};

use super::Db;
use super::orders::{self, NewOrder, Order};
use crate::domain::consultation::Slot;
use crate::domain::order::OrderStatus;
use crate::domain::{CourseId, OrderId, SlotId, UserId};

/// A slot is free when no order holds it or its order no longer does.
const FREE: &str = "(order_id IS NULL OR order_id IN (SELECT id FROM orders WHERE status IN ('closed', 'refunded')))";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotRow {
    pub id: SlotId,
    pub course_id: CourseId,
    pub starts_at: i64,
    pub minutes: i64,
    pub meeting: String,
    pub order_id: Option<OrderId>,
    pub order_no: Option<String>,
    pub order_status: Option<String>,
    pub buyer_id: Option<UserId>,
    pub buyer_phone: Option<String>,
}

impl SlotRow {
    pub fn state(&self) -> Slot {
        Slot::of(self.order_status.as_deref().and_then(OrderStatus::parse))
    }
}

const SELECT: &str = "SELECT s.id, s.course_id, s.starts_at, s.minutes, s.meeting, s.order_id, o.order_no, \
     o.status AS order_status, o.user_id AS buyer_id, u.phone AS buyer_phone FROM consultation_slots s \
     LEFT JOIN orders o ON o.id = s.order_id LEFT JOIN users u ON u.id = o.user_id";

/// A course's slots from `since` on, soonest first.
pub async fn for_course(db: &Db, course_id: CourseId, since: i64) -> Result<Vec<SlotRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE s.course_id = $1 AND s.starts_at >= $2 ORDER BY s.starts_at, s.id");
    sqlx::query_as(&sql).bind(course_id).bind(since).fetch_all(db.read()).await
}

/// The slots a buyer can pick now: free and starting after `earliest`.
pub async fn open(db: &Db, course_id: CourseId, earliest: i64) -> Result<Vec<SlotRow>, sqlx::Error> {
    Ok(for_course(db, course_id, earliest + 1).await?.into_iter().filter(|s| s.state() == Slot::Free).collect())
}

pub async fn find(db: &Db, id: SlotId) -> Result<Option<SlotRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE s.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await
}

/// The slot an order holds or booked.
pub async fn of_order(db: &Db, order_id: OrderId) -> Result<Option<SlotRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE s.order_id = $1");
    sqlx::query_as(&sql).bind(order_id).fetch_optional(db.read()).await
}

/// Staff publish a slot; false when the course already has one at that time.
pub async fn add(
    db: &Db,
    course_id: CourseId,
    starts_at: i64,
    minutes: i64,
    meeting: &str,
    staff_id: UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO consultation_slots (course_id, starts_at, minutes, meeting, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (course_id, starts_at) DO NOTHING",
    )
    .bind(course_id)
    .bind(starts_at)
    .bind(minutes)
    .bind(meeting)
    .bind(staff_id)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Staff withdraw a slot nobody holds; false when one does.
pub async fn remove(db: &Db, course_id: CourseId, id: SlotId) -> Result<bool, sqlx::Error> {
    let sql = format!("DELETE FROM consultation_slots WHERE id = $1 AND course_id = $2 AND {FREE}");
    let done = sqlx::query(&sql).bind(id).bind(course_id).execute(db.write()).await?;
    Ok(done.rows_affected() == 1)
}

/// The meeting details (a link, a room number) both sides see around the slot.
pub async fn set_meeting(db: &Db, course_id: CourseId, id: SlotId, meeting: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE consultation_slots SET meeting = $1 WHERE id = $2 AND course_id = $3")
        .bind(meeting)
        .bind(id)
        .bind(course_id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a free slot for an order (or keeps the one it holds) if it starts after `earliest`.
async fn take(
    tx: &mut Transaction<'static, Any>,
    slot_id: SlotId,
    course_id: CourseId,
    order_id: OrderId,
    earliest: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE consultation_slots SET order_id = $1 WHERE id = $2 AND course_id = $3 AND starts_at > $4 \
         AND (order_id = $1 OR {FREE})"
    );
    let done = sqlx::query(&sql).bind(order_id).bind(slot_id).bind(course_id).bind(earliest).execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}

async fn release_others(
    tx: &mut Transaction<'static, Any>,
    order_id: OrderId,
    keep: SlotId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE consultation_slots SET order_id = NULL WHERE order_id = $1 AND id <> $2")
        .bind(order_id)
        .bind(keep)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The buyer's order for a consultation with the slot they picked, held in the same transaction:
/// their pending order for it (moved to this slot) or a new one; a free one is paid at once.
/// None when the slot was taken or is too close.
pub async fn order_with_slot(
    db: &Db,
    new: &NewOrder<'_>,
    slot_id: SlotId,
    earliest: i64,
    now: i64,
) -> Result<Option<Order>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    super::dialect::lock(db.backend(), &mut tx, &format!("pending:{}:{}", new.user_id, new.course_id)).await?;
    let sql = format!(
        "SELECT {} FROM orders WHERE user_id = $1 AND course_id = $2 AND status = 'pending' AND gift_copies = 0",
        orders::COLUMNS
    );
    let pending: Option<Order> =
        sqlx::query_as(&sql).bind(new.user_id).bind(new.course_id).fetch_optional(&mut *tx).await?;
    let free = new.price.is_free();
    let order = match pending {
        Some(order) if !free => order,
        _ if free => orders::insert(&mut tx, new, OrderStatus::Paid, Some("free"), now).await?,
        _ => orders::insert(&mut tx, new, OrderStatus::Pending, None, now).await?,
    };
    if !take(&mut tx, slot_id, new.course_id, order.id, earliest).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    release_others(&mut tx, order.id, slot_id).await?;
    if free {
        super::entitlements::grant_for_order(&mut tx, new.user_id, new.course_id, "order", Some(order.id), now).await?;
    }
    tx.commit().await?;
    db.orders_changed();
    if free {
        db.access_changed();
    }
    Ok(Some(order))
}

/// Moves a booking to another free slot; false when that slot is taken or too close, or the
/// booked one is past its cancellation limit (`earliest` is now plus the limit).
pub async fn reschedule(db: &Db, order_id: OrderId, to_slot: SlotId, earliest: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let current: Option<(SlotId, CourseId, i64)> =
        sqlx::query_as("SELECT id, course_id, starts_at FROM consultation_slots WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((current_id, course_id, starts_at)) = current else {
        tx.rollback().await?;
        return Ok(false);
    };
    if starts_at < earliest || current_id == to_slot || !take(&mut tx, to_slot, course_id, order_id, earliest).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    release_others(&mut tx, order_id, to_slot).await?;
    tx.commit().await?;
    db.orders_changed();
    Ok(true)
}

/// Booked slots starting within (now, now + within]: (slot, buyer).
pub async fn starting_soon(db: &Db, now: i64, within: i64) -> Result<Vec<SlotRow>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE s.starts_at > $1 AND s.starts_at <= $2 AND o.status IN ('paid', 'partially_refunded') ORDER BY s.starts_at"
    );
    sqlx::query_as(&sql).bind(now).bind(now + within).fetch_all(db.read()).await
}
