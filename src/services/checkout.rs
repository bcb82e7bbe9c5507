//! An order for a course: at the price in force now (a limited-time price ends at its second),
//! with the refund terms the buyer was shown frozen on it, and reused while one is pending. A free
//! course is claimed at once.

use crate::catalog::{CatalogCache, Course};
use crate::domain::cohort::Closed;
use crate::domain::group::Offer;
use crate::domain::refund_terms::refund_sentence;
use crate::domain::{CohortId, GroupId, SlotId, UserId};
use crate::store::groups::{self, Seat};
use crate::store::orders::{self, NewOrder, Order};
use crate::store::{Db, cohorts, consultations};

pub enum Checkout {
    /// Waiting for payment: the buyer goes to its pay page.
    ToPay(Order),
    /// Free: paid and granted already.
    Claimed(Order),
    /// The consultation slot picked was taken meanwhile (or is now too close).
    SlotTaken,
    /// The cohort picked cannot be bought now (full, or its sale closed meanwhile).
    CohortClosed(Closed),
}

/// What is being bought and at what price: the buyer's price (a member price where it applies)
/// and, for a consultation, the slot picked with the earliest start still bookable.
pub struct Purchase<'a> {
    pub user_id: UserId,
    pub course: &'a Course,
    pub price: crate::domain::Fen,
    pub slot: Option<(SlotId, i64)>,
    /// For a course sold in cohorts, the one picked.
    pub cohort: Option<CohortId>,
}

pub async fn begin(
    db: &Db,
    catalog: &CatalogCache,
    purchase: &Purchase<'_>,
    ttl_secs: i64,
    now: i64,
) -> anyhow::Result<Checkout> {
    let Purchase { user_id, course, price, slot, cohort } = *purchase;
    let terms = refund_sentence(course.kind, course.refund_terms);
    let new = new_order(purchase, &terms.zh, ttl_secs);
    if let Some(cohort_id) = cohort {
        let Some(cohort) = course.cohorts.iter().find(|c| c.id == cohort_id) else {
            return Ok(Checkout::CohortClosed(Closed::Ended));
        };
        let order = match cohorts::order_in_cohort(db, &new, cohort, now).await? {
            Ok(order) => order,
            Err(closed) => return Ok(Checkout::CohortClosed(closed)),
        };
        tracing::info!(order_no = %order.order_no, %user_id, %cohort_id, "cohort seat held");
        if order.status.grants_access() {
            catalog.count_sale(course.id);
            return Ok(Checkout::Claimed(order));
        }
        return Ok(Checkout::ToPay(order));
    }
    if let Some((slot_id, earliest)) = slot {
        let Some(order) = consultations::order_with_slot(db, &new, slot_id, earliest, now).await? else {
            return Ok(Checkout::SlotTaken);
        };
        tracing::info!(order_no = %order.order_no, %user_id, %slot_id, "consultation slot held");
        if order.status.grants_access() {
            catalog.count_sale(course.id);
            return Ok(Checkout::Claimed(order));
        }
        return Ok(Checkout::ToPay(order));
    }
    if price.is_free() {
        let order = orders::claim_free(db, &new, now).await?;
        metrics::counter!("orders_created_total", "free" => "true").increment(1);
        tracing::info!(order_no = %order.order_no, %user_id, "free course claimed");
        catalog.count_sale(course.id);
        return Ok(Checkout::Claimed(order));
    }
    let (order, created) = orders::create_or_reuse_pending(db, &new, now).await?;
    if created {
        // A second click reuses the pending order; only a new one is counted.
        metrics::counter!("orders_created_total", "free" => "false").increment(1);
    }
    tracing::info!(order_no = %order.order_no, %user_id, "order ready to pay");
    Ok(Checkout::ToPay(order))
}

/// A seat in a group buy at the offer's price: in a new group (`group` None) or an open one.
pub async fn begin_group_seat(
    db: &Db,
    purchase: &Purchase<'_>,
    offer: &Offer,
    group: Option<GroupId>,
    ttl_secs: i64,
    now: i64,
) -> Result<Seat, sqlx::Error> {
    let terms = refund_sentence(purchase.course.kind, purchase.course.refund_terms);
    groups::order_for_seat(db, &new_order(purchase, &terms.zh, ttl_secs), offer, group, now).await
}

/// The order every way of buying creates: the course at the buyer's price, with the refund terms
/// they were shown.
fn new_order<'a>(purchase: &Purchase<'a>, terms_shown: &'a str, ttl_secs: i64) -> NewOrder<'a> {
    let course = purchase.course;
    NewOrder {
        user_id: purchase.user_id,
        course_id: course.id,
        title: &course.title,
        kind: course.kind.as_str(),
        price: purchase.price,
        refund_terms: course.refund_terms,
        refund_terms_shown: terms_shown,
        ttl_secs,
        gift_copies: 0,
        gift_sender: "",
        cohort_id: purchase.cohort,
    }
}

/// A redeem code used for `course`: an order of amount 0, paid and granted at once. None when
/// the code was taken or switched off meanwhile.
pub async fn redeem(
    db: &Db,
    catalog: &CatalogCache,
    user_id: UserId,
    course: &Course,
    code_id: i64,
    now: i64,
) -> anyhow::Result<Option<Order>> {
    let purchase = Purchase { user_id, course, price: crate::domain::Fen::ZERO, slot: None, cohort: None };
    let terms = refund_sentence(course.kind, course.refund_terms);
    let order = crate::store::redeem::redeem(db, code_id, &new_order(&purchase, &terms.zh, 0), now).await?;
    if let Some(order) = &order {
        tracing::info!(order_no = %order.order_no, %user_id, "redeem code used");
        catalog.count_sale(course.id);
    }
    Ok(order)
}

/// A course bought for friends: `copies` at `unit` (the price in force now) under the name
/// `sender`, one link per copy. The buyer's pending gift order is reused when it is the same.
pub async fn begin_gift(
    db: &Db,
    purchase: &Purchase<'_>,
    gift: &crate::domain::gift::GiftInput,
    key: &[u8],
    ttl_secs: i64,
    now: i64,
) -> anyhow::Result<Order> {
    let course = purchase.course;
    let total = purchase.price.0.checked_mul(gift.copies).ok_or_else(|| anyhow::anyhow!("gift total overflows"))?;
    let terms = refund_sentence(course.kind, course.refund_terms);
    let new = NewOrder {
        price: crate::domain::Fen(total),
        gift_copies: gift.copies,
        gift_sender: &gift.sender,
        ..new_order(purchase, &terms.zh, ttl_secs)
    };
    let (order, created) = crate::store::gifts::order_gift(db, &new, key, now).await?;
    if created {
        metrics::counter!("orders_created_total", "free" => "false").increment(1);
    }
    tracing::info!(order_no = %order.order_no, user_id = %purchase.user_id, copies = gift.copies, "gift order ready to pay");
    Ok(order)
}

/// A friend claims copy `gift_id` of a gift of `course`: an order of amount 0, paid and granted
/// at once. None when the copy was claimed or taken back meanwhile.
pub async fn claim_gift(
    db: &Db,
    catalog: &CatalogCache,
    user_id: UserId,
    course: &Course,
    gift_id: i64,
    now: i64,
) -> anyhow::Result<Option<Order>> {
    let purchase = Purchase { user_id, course, price: crate::domain::Fen::ZERO, slot: None, cohort: None };
    let terms = refund_sentence(course.kind, course.refund_terms);
    let order = crate::store::gifts::claim(db, gift_id, &new_order(&purchase, &terms.zh, 0), now).await?;
    if let Some(order) = &order {
        tracing::info!(order_no = %order.order_no, %user_id, "gift claimed");
        catalog.count_sale(course.id);
    }
    Ok(order)
}
