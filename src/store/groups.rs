//! Group-buy in the database: offers, groups and their seats. Every change to a group runs under
//! a lock on it (`dialect::lock`; SQLite writes one at a time anyway), so the last seat is taken
//! by exactly one payment; the payment's transaction takes the seat, and grants the course to
//! every member when it fills. Seats to refund are picked up by the order job (`jobs::orders`).

use sqlx::{Any, Transaction};

use super::Db;
use super::messages::{self, NewMessage};
use super::orders::{self, NewOrder, Order};
use crate::domain::group::{Arrival, Group, State, at_deadline, on_payment};
use crate::domain::message::MessageKind;
use crate::domain::order::OrderStatus;
use crate::domain::{CourseId, Fen, GroupId, OrderId, UserId};

pub use crate::domain::group::Offer;

/// Every course's group offer.
pub async fn offers(db: &Db) -> Result<Vec<Offer>, sqlx::Error> {
    let rows: Vec<(CourseId, Fen, i64, i64, i64, i64, super::rows::Flag)> = sqlx::query_as(
        "SELECT course_id, price_fen, size, fill_hours, starts_at, ends_at, complete_one_short FROM group_offers",
    )
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(course_id, price, size, fill_hours, starts_at, ends_at, complete)| Offer {
            course_id,
            price,
            size,
            fill_hours,
            starts_at,
            ends_at,
            complete_one_short: complete.into(),
        })
        .collect())
}

pub async fn save_offer(db: &Db, o: &Offer, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO group_offers (course_id, price_fen, size, fill_hours, starts_at, ends_at, complete_one_short, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (course_id) DO UPDATE SET price_fen = $2, size = $3, \
         fill_hours = $4, starts_at = $5, ends_at = $6, complete_one_short = $7, updated_at = $8",
    )
    .bind(o.course_id)
    .bind(o.price.0)
    .bind(o.size)
    .bind(o.fill_hours)
    .bind(o.starts_at)
    .bind(o.ends_at)
    .bind(i64::from(o.complete_one_short))
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Ends the offer: open groups run to their deadline.
pub async fn remove_offer(db: &Db, course_id: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM group_offers WHERE course_id = $1").bind(course_id).execute(db.write()).await?;
    Ok(())
}

/// A group with its paid seats counted.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: GroupId,
    pub course_id: CourseId,
    pub opener_id: UserId,
    #[sqlx(try_from = "String")]
    pub status: State,
    #[sqlx(rename = "price_fen")]
    pub price: Fen,
    pub size: i64,
    pub fill_secs: i64,
    #[sqlx(try_from = "super::rows::Flag")]
    pub complete_one_short: bool,
    pub deadline: Option<i64>,
    pub members: i64,
}

impl GroupRow {
    pub fn group(&self) -> Group {
        Group { state: self.status, members: self.members, size: self.size, deadline: self.deadline }
    }
}

const GROUP: &str = "SELECT g.id, g.course_id, g.opener_id, g.status, g.price_fen, g.size, g.fill_secs, g.complete_one_short, \
     g.deadline, (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id AND m.status = 'joined') AS members \
     FROM group_buys g";

pub async fn find(db: &Db, id: GroupId) -> Result<Option<GroupRow>, sqlx::Error> {
    let sql = format!("{GROUP} WHERE g.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await
}

async fn find_in(tx: &mut Transaction<'static, Any>, id: GroupId) -> Result<Option<GroupRow>, sqlx::Error> {
    let sql = format!("{GROUP} WHERE g.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(&mut **tx).await
}

/// A course's groups taking members now, the ones closest to full first.
pub async fn open_for_course(db: &Db, course_id: CourseId, now: i64, limit: i64) -> Result<Vec<GroupRow>, sqlx::Error> {
    let sql = format!(
        "{GROUP} WHERE g.course_id = $1 AND g.status = 'open' AND g.deadline > $2 ORDER BY members DESC, g.deadline LIMIT $3"
    );
    sqlx::query_as(&sql).bind(course_id).bind(now).bind(limit).fetch_all(db.read()).await
}

/// The nicknames of a group's members, in the order they joined.
pub async fn member_names(db: &Db, group_id: GroupId) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.user_id, u.nickname FROM group_members m JOIN users u ON u.id = m.user_id \
         WHERE m.group_id = $1 AND m.status = 'joined' ORDER BY m.joined_at, m.order_id",
    )
    .bind(group_id)
    .fetch_all(db.read())
    .await
}

/// What asking for a seat came to (made once per request: not worth boxing the order).
#[allow(clippy::large_enum_variant)]
pub enum Seat {
    /// The order to pay (new, or the buyer's pending one for this same group).
    ToPay(Order),
    /// The group is not taking this buyer: it is full or closed, or they are in it already.
    Refused,
}

/// The buyer's order for a seat: in a new group they open (`group` None), or in an open one.
/// Their other pending order for the course, if any, is closed: one pending order per course.
pub async fn order_for_seat(
    db: &Db,
    new: &NewOrder<'_>,
    offer: &Offer,
    group: Option<GroupId>,
    now: i64,
) -> Result<Seat, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    super::dialect::lock(db.backend(), &mut tx, &format!("pending:{}:{}", new.user_id, new.course_id)).await?;
    let sql = format!(
        "SELECT {} FROM orders WHERE user_id = $1 AND course_id = $2 AND status = 'pending' AND gift_copies = 0",
        orders::COLUMNS
    );
    let pending: Option<Order> =
        sqlx::query_as(&sql).bind(new.user_id).bind(new.course_id).fetch_optional(&mut *tx).await?;
    if let (Some(order), Some(target)) = (&pending, group)
        && order.group_id == Some(target)
    {
        tx.rollback().await?;
        return Ok(Seat::ToPay(order.clone()));
    }
    let group_id = match group {
        Some(id) => {
            let Some(row) = find_in(&mut tx, id).await? else {
                tx.rollback().await?;
                return Ok(Seat::Refused);
            };
            let already_in: Option<i64> = sqlx::query_scalar(
                "SELECT order_id FROM group_members WHERE group_id = $1 AND user_id = $2 AND status = 'joined'",
            )
            .bind(id)
            .bind(new.user_id)
            .fetch_optional(&mut *tx)
            .await?;
            if row.course_id != new.course_id || already_in.is_some() || !row.group().is_joinable(now) {
                tx.rollback().await?;
                return Ok(Seat::Refused);
            }
            id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO group_buys (course_id, opener_id, status, price_fen, size, fill_secs, complete_one_short, created_at) \
                 VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(new.course_id)
            .bind(new.user_id)
            .bind(offer.price.0)
            .bind(offer.size)
            .bind(offer.fill_hours * 3600)
            .bind(i64::from(offer.complete_one_short))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    if let Some(order) = pending {
        // Replaced: closed the one way orders close, so its coupon goes back too.
        orders::close_in(&mut tx, order.id, "replaced", now).await?;
    }
    let order = orders::insert(&mut tx, new, OrderStatus::Pending, None, now).await?;
    sqlx::query("UPDATE orders SET group_id = $1 WHERE id = $2")
        .bind(group_id)
        .bind(order.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    db.orders_changed();
    Ok(Seat::ToPay(Order { group_id: Some(group_id), ..order }))
}

/// A group order's payment, in the payment's transaction: the seat is taken (and the group
/// opened, or filled: then every member is granted the course), or marked to be refunded.
/// True when the course was granted in this transaction.
pub(crate) async fn seat_for_payment(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    order: &Order,
    group_id: GroupId,
    paid_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    super::dialect::lock(db.backend(), tx, &format!("group:{group_id}")).await?;
    let Some(row) = find_in(tx, group_id).await? else { return Ok(false) };
    let already_in: Option<i64> = sqlx::query_scalar(
        "SELECT order_id FROM group_members WHERE group_id = $1 AND user_id = $2 AND status = 'joined'",
    )
    .bind(group_id)
    .bind(order.user_id)
    .fetch_optional(&mut **tx)
    .await?;
    let is_opener = row.opener_id == order.user_id && row.status == State::Pending;
    let arrival = on_payment(&row.group(), is_opener, already_in.is_some(), paid_at, row.fill_secs);
    let seat = if arrival == Arrival::Refund { "refund" } else { "joined" };
    sqlx::query(
        "INSERT INTO group_members (order_id, group_id, user_id, status, joined_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order.id)
    .bind(group_id)
    .bind(order.user_id)
    .bind(seat)
    .bind(paid_at)
    .execute(&mut **tx)
    .await?;
    match arrival {
        Arrival::Opens { deadline } => {
            sqlx::query("UPDATE group_buys SET status = 'open', deadline = $1 WHERE id = $2")
                .bind(deadline)
                .bind(group_id)
                .execute(&mut **tx)
                .await?;
            Ok(false)
        }
        Arrival::Joins { fills: true } => {
            fill(tx, group_id, now).await?;
            Ok(true)
        }
        Arrival::Joins { fills: false } | Arrival::Refund => Ok(false),
    }
}

/// The group is full: every member learns now, and is told.
async fn fill(tx: &mut Transaction<'static, Any>, group_id: GroupId, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE group_buys SET status = 'full', settled_at = $1 WHERE id = $2")
        .bind(now)
        .bind(group_id)
        .execute(&mut **tx)
        .await?;
    let members: Vec<(OrderId, UserId, CourseId, String)> = sqlx::query_as(
        "SELECT m.order_id, m.user_id, o.course_id, o.order_no FROM group_members m JOIN orders o ON o.id = m.order_id \
         WHERE m.group_id = $1 AND m.status = 'joined'",
    )
    .bind(group_id)
    .fetch_all(&mut **tx)
    .await?;
    for (order_id, user_id, course_id, order_no) in members {
        super::entitlements::grant_for_order(tx, user_id, course_id, "order", Some(order_id), now).await?;
        sqlx::query("UPDATE courses SET learner_count = learner_count + 1 WHERE id = $1")
            .bind(course_id)
            .execute(&mut **tx)
            .await?;
        let link = format!("/groups/{group_id}");
        let message = NewMessage {
            user_id,
            kind: MessageKind::GroupFull,
            ref_no: &order_no,
            amount: None,
            note: "",
            link: &link,
        };
        messages::send(tx, &message, now).await?;
    }
    Ok(())
}

/// Settles the groups whose time is up: full after all (completed one short), or failed with
/// every seat marked to be refunded and its member told. Returns how many were settled.
pub async fn settle_due(db: &Db, now: i64) -> Result<usize, sqlx::Error> {
    let due: Vec<GroupId> = sqlx::query_scalar(
        "SELECT id FROM group_buys WHERE status = 'open' AND deadline <= $1 ORDER BY deadline LIMIT 100",
    )
    .bind(now)
    .fetch_all(db.read())
    .await?;
    let mut settled = 0;
    for id in due {
        let mut tx = db.write().begin().await?;
        super::dialect::lock(db.backend(), &mut tx, &format!("group:{id}")).await?;
        let Some(row) = find_in(&mut tx, id).await? else { continue };
        match at_deadline(&row.group(), now, row.complete_one_short) {
            Some(State::Full) => fill(&mut tx, id, now).await?,
            Some(_) => {
                sqlx::query(
                    "UPDATE group_buys SET status = 'failed', settled_at = $1 WHERE id = $2 AND status = 'open'",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let members: Vec<(UserId, String)> = sqlx::query_as(
                    "SELECT m.user_id, o.order_no FROM group_members m JOIN orders o ON o.id = m.order_id \
                     WHERE m.group_id = $1 AND m.status = 'joined'",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                sqlx::query("UPDATE group_members SET status = 'refund' WHERE group_id = $1 AND status = 'joined'")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                for (user_id, order_no) in members {
                    let link = format!("/orders/{order_no}");
                    let message = NewMessage {
                        user_id,
                        kind: MessageKind::GroupFailed,
                        ref_no: &order_no,
                        amount: None,
                        note: "",
                        link: &link,
                    };
                    messages::send(&mut tx, &message, now).await?;
                }
            }
            None => {
                tx.rollback().await?;
                continue;
            }
        }
        tx.commit().await?;
        settled += 1;
    }
    if settled > 0 {
        db.orders_changed();
        db.access_changed();
        db.users_changed();
    }
    Ok(settled)
}

/// A seat whose payment goes back, not yet given its refund.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeatToRefund {
    pub order_no: String,
    #[sqlx(try_from = "String")]
    pub group_status: State,
}

/// Seats to refund whose order still holds money, oldest first.
pub async fn seats_to_refund(db: &Db, limit: i64) -> Result<Vec<SeatToRefund>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.order_no, g.status AS group_status FROM group_members m JOIN orders o ON o.id = m.order_id \
         JOIN group_buys g ON g.id = m.group_id WHERE m.status = 'refund' AND m.refund_no IS NULL \
         AND o.status IN ('paid', 'partially_refunded') ORDER BY m.joined_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// Records the refund made for a seat (once: a later call keeps the first).
pub async fn refund_made(db: &Db, order_no: &str, refund_no: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE group_members SET refund_no = $1 WHERE refund_no IS NULL AND order_id = (SELECT id FROM orders WHERE order_no = $2)",
    )
    .bind(refund_no)
    .bind(order_no)
    .execute(db.write())
    .await?;
    Ok(())
}

/// The open group the learner has a paid seat in for this course, if any.
pub async fn open_seat(db: &Db, user_id: UserId, course_id: CourseId) -> Result<Option<GroupId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT m.group_id FROM group_members m JOIN group_buys g ON g.id = m.group_id \
         WHERE m.user_id = $1 AND g.course_id = $2 AND m.status = 'joined' AND g.status = 'open' LIMIT 1",
    )
    .bind(user_id)
    .bind(course_id)
    .fetch_optional(db.read())
    .await
}
