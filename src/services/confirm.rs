//! Paid means paid at once. A payment's notification can be late or lost; the reconciliation job
//! finds such payments within minutes, but a buyer back from the cashier should not wait for it.
//! When they return (the return page, the pay page's poll, reopening the order), a payment started
//! and not yet confirmed is asked of its gateway right away, as WeChat Pay and Alipay tell
//! merchants to do, at most once every few seconds an order so a refreshing buyer cannot hammer
//! the provider.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::catalog::CatalogCache;
use crate::domain::OrderId;
use crate::domain::order::OrderStatus;
use crate::pay::{Providers, QueryResult};
use crate::store::Db;
use crate::store::orders::{self, Order, PaymentOutcome};

/// Seconds between two questions about one order on a buyer's return.
pub const ASK_EVERY_SECS: i64 = 3;

/// How long a buyer's page waits for the gateway's answer; past it the page says 正在确认 and
/// asks again on its next refresh (the reconciliation job is the net).
const PATIENCE: Duration = Duration::from_secs(4);

/// Orders remembered at most; past it, those asked about long enough ago are forgotten.
const REMEMBERED_MAX: usize = 10_000;

/// When each order was last asked about on a buyer's return (this instance).
#[derive(Default)]
pub struct ReturnQueries {
    asked: Mutex<HashMap<OrderId, i64>>,
}

impl ReturnQueries {
    /// Whether the order may be asked about at `now`; when it may, the question is counted.
    pub fn take(&self, order_id: OrderId, now: i64) -> bool {
        let Ok(mut asked) = self.asked.lock() else { return false };
        if asked.get(&order_id).is_some_and(|&at| (0..ASK_EVERY_SECS).contains(&(now - at))) {
            return false;
        }
        if asked.len() >= REMEMBERED_MAX {
            asked.retain(|_, at| (0..ASK_EVERY_SECS).contains(&(now - *at)));
        }
        asked.insert(order_id, now);
        true
    }
}

/// The buyer is back: a pending order whose payment was started is asked of its gateway, unless
/// it was asked about a moment ago. True when the payment was found and applied.
pub async fn on_return(
    db: &Db,
    providers: &Providers,
    catalog: &CatalogCache,
    queries: &ReturnQueries,
    order: &Order,
    now: i64,
) -> anyhow::Result<bool> {
    let started = order.pay_provider.as_deref().is_some_and(|p| providers.get(p).is_some());
    if order.status != OrderStatus::Pending || order.expires_at <= now || !started || !queries.take(order.id, now) {
        return Ok(false);
    }
    ask_gateway(db, providers, catalog, order, now).await
}

/// Queries the order's provider; applies the payment if it went through. True when it did.
pub async fn ask_gateway(
    db: &Db,
    providers: &Providers,
    catalog: &CatalogCache,
    order: &Order,
    now: i64,
) -> anyhow::Result<bool> {
    let Some(provider) = order.pay_provider.as_deref().and_then(|p| providers.get(p)) else { return Ok(false) };
    match tokio::time::timeout(PATIENCE, provider.query(&order.order_no)).await {
        Ok(Ok(QueryResult::Paid(notice))) => {
            let outcome = orders::apply_payment(db, provider.name(), &notice, None, now).await?;
            tracing::info!(order_no = %order.order_no, ?outcome, "payment found by asking the gateway");
            if let PaymentOutcome::Applied { course_id } = outcome {
                catalog.count_sale(course_id);
                return Ok(true);
            }
            Ok(false)
        }
        Ok(Ok(_)) => Ok(false),
        Ok(Err(e)) => {
            tracing::warn!(order_no = %order.order_no, error = format!("{e:#}"), "payment query failed");
            Ok(false)
        }
        Err(_) => {
            tracing::warn!(order_no = %order.order_no, "payment query took too long");
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_asked_about_once_every_few_seconds() {
        let queries = ReturnQueries::default();
        assert!(queries.take(OrderId(1), 1000));
        assert!(!queries.take(OrderId(1), 1000), "a refresh at once");
        assert!(!queries.take(OrderId(1), 1000 + ASK_EVERY_SECS - 1));
        assert!(queries.take(OrderId(2), 1001), "another order is its own");
        assert!(queries.take(OrderId(1), 1000 + ASK_EVERY_SECS));
        assert!(queries.take(OrderId(1), 900), "a clock that went back does not hold an order forever");
    }

    #[test]
    fn many_orders_are_forgotten_once_asked_long_enough_ago() {
        let queries = ReturnQueries::default();
        for id in 0..REMEMBERED_MAX as i64 {
            assert!(queries.take(OrderId(id), 1000));
        }
        assert!(queries.take(OrderId(-1), 1000 + ASK_EVERY_SECS));
        assert_eq!(queries.asked.lock().unwrap().len(), 1, "the old ones let go");
        assert!(!queries.take(OrderId(-1), 1000 + ASK_EVERY_SECS));
    }
}
