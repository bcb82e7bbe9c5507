//! An order for a course: at the price in force now (a limited-time price ends at its second),
//! with the refund terms the buyer was shown frozen on it, and reused while one is pending. A free
//! course is claimed at once.

use crate::catalog::{CatalogCache, Course};
use crate::domain::UserId;
use crate::domain::refund_terms::refund_sentence;
use crate::store::Db;
use crate::store::orders::{self, NewOrder, Order};

pub enum Checkout {
    /// Waiting for payment: the buyer goes to its pay page.
    ToPay(Order),
    /// Free: paid and granted already.
    Claimed(Order),
}

pub async fn begin(
    db: &Db,
    catalog: &CatalogCache,
    user_id: UserId,
    course: &Course,
    ttl_secs: i64,
    now: i64,
) -> anyhow::Result<Checkout> {
    let terms = refund_sentence(course.kind, course.refund_terms);
    let price = course.price_at(now);
    let new = NewOrder {
        user_id,
        course_id: course.id,
        title: &course.title,
        kind: course.kind.as_str(),
        price,
        refund_terms: course.refund_terms,
        refund_terms_shown: &terms.zh,
        ttl_secs,
    };
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
