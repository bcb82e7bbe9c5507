//! Approved refunds go to the provider that took the money, under the refund number as
//! out_refund_no (the same on every try, so the provider refunds once). The answer, a later
//! notification, or the retry job's query settles the request; completion tells the learner.

use anyhow::Context;

use super::{Providers, RefundRequest, RefundState};
use crate::store::refunds::{self, Refund};
use crate::store::{Db, orders};

/// What refunds need to reach the outside world.
#[derive(Clone)]
pub struct Refunder {
    pub db: Db,
    pub providers: Providers,
}

impl Refunder {
    /// Sends (or, once the provider has it, asks about) a refund in `refunding`. Provider or
    /// network errors leave it in flight for the retry job.
    pub async fn push(&self, refund: &Refund, now: i64) -> anyhow::Result<()> {
        let order = orders::find(&self.db, &refund.order_no).await?.context("the refund's order is gone")?;
        let amount = refund.amount.context("an approved refund has an amount")?;
        let Some(provider) = refund.provider.as_deref().and_then(|p| self.providers.get(p)) else {
            refunds::fail(&self.db, refund.id, "payment provider not configured", now).await?;
            return Ok(());
        };
        let answer = if refund.provider_state.as_deref() == Some("processing") {
            provider.query_refund(&order.order_no, &refund.refund_no).await
        } else {
            let reason = format!("课程退款 {}", refund.refund_no);
            let req = RefundRequest {
                order_no: &order.order_no,
                out_refund_no: &refund.refund_no,
                amount,
                order_amount: order.amount,
                reason: &reason,
            };
            provider.refund(&req).await
        };
        match answer {
            Ok(state) => self.settle(refund.id, state, now).await,
            Err(e) => {
                tracing::warn!(refund_no = %refund.refund_no, error = format!("{e:#}"), "refund not settled; will retry");
                refunds::touch(&self.db, refund.id, now).await?;
                Ok(())
            }
        }
    }

    /// Records what the provider said about a refund in flight; idempotent.
    pub async fn settle(&self, refund_id: i64, state: RefundState, now: i64) -> anyhow::Result<()> {
        match state {
            RefundState::Succeeded => {
                if let Some(done) = refunds::complete(&self.db, refund_id, now).await? {
                    // The learner's site message and text were committed with the completion.
                    tracing::info!(refund_no = %done.refund_no, amount = %done.amount, full = done.full, "refund completed");
                }
            }
            RefundState::Processing => refunds::mark_processing(&self.db, refund_id, now).await?,
            RefundState::Failed(why) => {
                if refunds::fail(&self.db, refund_id, &why, now).await? {
                    tracing::warn!(refund_id, why, "refund failed at the provider; staff must act");
                }
            }
        }
        Ok(())
    }
}
