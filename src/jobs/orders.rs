//! Order upkeep: complete payments whose notification never came (reconciliation), close
//! orders that expired unpaid, and refund money that arrived for closed orders. A payment racing the expiry is settled by the conditional updates
//! in `store::orders`: whichever commits first wins, and a payment that loses is kept as late.

use std::time::Duration;

use crate::catalog::CatalogCache;
use crate::domain::payment::LateRefundState;
use crate::domain::time::now;
use crate::pay::{Providers, RefundRequest, RefundState};
use crate::services::confirm::ask_gateway;
use crate::store::{Db, orders};

pub use crate::domain::order::RECONCILE_AFTER_SECS;
const BATCH: i64 = 100;

pub fn spawn(db: Db, providers: Providers, catalog: CatalogCache, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !super::hold(&db, "orders", every).await {
                continue;
            }
            crate::telemetry::job_ran("orders");
            if let Err(e) = run_once(&db, &providers, &catalog, now()).await {
                tracing::warn!(error = format!("{e:#}"), "order jobs failed; will retry");
            }
        }
    });
}

pub async fn run_once(db: &Db, providers: &Providers, catalog: &CatalogCache, now: i64) -> anyhow::Result<()> {
    // Each check moves the order to the back of the queue (reconcile_at backs off), so every
    // waiting payment is reached within a few runs however many are abandoned.
    for order in orders::payments_due_for_check(db, now, BATCH).await? {
        if !ask_gateway(db, providers, catalog, &order, now).await? {
            orders::payment_checked(db, order.id, now).await?;
        }
    }
    for order in orders::expired_pending(db, now, BATCH).await? {
        // Ask the gateway one last time before closing: the buyer may have paid at the last second.
        if ask_gateway(db, providers, catalog, &order, now).await? {
            continue;
        }
        if let Some(provider) = order.pay_provider.as_deref().and_then(|p| providers.get(p))
            && let Err(e) = provider.close(&order.order_no).await
        {
            tracing::warn!(order_no = %order.order_no, error = format!("{e:#}"), "closing at the provider failed");
        }
        if orders::close(db, order.id, "expired", now).await? {
            metrics::counter!("orders_expired_total").increment(1);
            tracing::info!(order_no = %order.order_no, "unpaid order expired");
        }
    }
    // Groups whose time is up fill (one short, if the shop completes them) or fail; every seat
    // whose payment goes back gets its refund, once.
    crate::store::groups::settle_due(db, now).await?;
    let refunder = crate::services::refunds::Refunder { db: db.clone(), providers: providers.clone() };
    for seat in crate::store::groups::seats_to_refund(db, BATCH).await? {
        if let Err(e) = crate::services::refunds::refund_group_seat(&refunder, &seat, now).await {
            tracing::warn!(order_no = %seat.order_no, error = format!("{e:#}"), "group seat refund failed; will retry");
        }
    }
    // Scheduled courses go on sale when their time comes.
    let published = crate::store::course_admin::publish_due(db, now).await?;
    if published > 0 {
        tracing::info!(published, "scheduled courses put on sale");
    }
    // Commissions become the distributors' when their orders' refund windows close.
    let settled = crate::store::commissions::settle_due(db, now, BATCH).await?;
    if settled > 0 {
        tracing::info!(settled, "commissions settled");
    }
    // Limited-time prices end when their time comes.
    let ended = crate::store::course_admin::end_due_sales(db, now).await?;
    if ended > 0 {
        tracing::info!(ended, "limited-time prices ended");
    }
    if published > 0 || ended > 0 {
        catalog.reload(db).await?;
        crate::store::changes::announce(db, crate::store::changes::CATALOG).await?;
    }
    refund_late_payments(db, providers, now).await
}

/// Money that arrived for a closed order goes back automatically, under one refund number that
/// every retry reuses, so the gateway refunds it once.
async fn refund_late_payments(db: &Db, providers: &Providers, now: i64) -> anyhow::Result<()> {
    for late in orders::late_payments_to_refund(db, BATCH).await? {
        let Some(provider) = providers.get(&late.provider) else { continue };
        let refund_no = orders::late_refund_no(db, late.payment_id).await?;
        let result = if late.refund_state == Some(LateRefundState::Processing) {
            provider.query_refund(&late.order_no, &refund_no).await
        } else {
            let reason = "订单已关闭，款项原路退回";
            let req = RefundRequest {
                order_no: &late.order_no,
                out_refund_no: &refund_no,
                amount: late.amount,
                order_amount: late.amount,
                reason,
            };
            provider.refund(&req).await
        };
        let state = match result {
            Ok(RefundState::Failed(why)) => {
                tracing::warn!(order_no = %late.order_no, refund_no, why, "automatic refund of a late payment failed; staff must act");
                LateRefundState::Failed
            }
            Ok(outcome) => outcome.late_state(),
            Err(e) => {
                // Not recorded: the next run tries again with the same refund number.
                tracing::warn!(order_no = %late.order_no, error = format!("{e:#}"), "automatic refund will be retried");
                continue;
            }
        };
        orders::set_late_refund_state(db, late.payment_id, state, now).await?;
        tracing::info!(order_no = %late.order_no, refund_no, %state, "late payment refund");
    }
    Ok(())
}
