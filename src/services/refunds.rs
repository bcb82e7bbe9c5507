//! Refunds: what the policy allows for an order now (`assess`), and approved refunds sent to the
//! provider that took the money, under the refund number as out_refund_no (the same on every
//! try, so the provider refunds once). The answer, a later notification, or the retry job's query
//! settles the request; completion tells the learner.

use anyhow::Context;

use crate::catalog::Catalog;
use crate::domain::RefundId;
use crate::domain::gift::cap;
use crate::domain::product::Delivery;
use crate::domain::refund::bundle_consumed_pct;
use crate::domain::refund_policy::{Case, Consumption, Decision, PolicySettings, decide};
use crate::pay::{Providers, RefundRequest, RefundState};
use crate::store::orders::Order;
use crate::store::progress_buffer::ProgressBuffer;
use crate::store::refunds::{self, Approval, Approved, Refund};
use crate::store::{Db, consultations, memberships, orders};

/// What refunds need to reach the outside world.
#[derive(Clone)]
pub struct Refunder {
    pub db: Db,
    pub providers: Providers,
}

/// What deciding a refund reads: the order's course and the learner's progress.
pub struct PolicyInputs<'a> {
    pub db: &'a Db,
    pub catalog: &'a Catalog,
    pub progress: &'a ProgressBuffer,
    pub settings: PolicySettings,
}

/// What the policy says about this order at `now`, with the share of the course consumed.
pub async fn assess(inputs: &PolicyInputs<'_>, order: &Order, now: i64) -> anyhow::Result<(Decision, i64)> {
    let course = inputs.catalog.course_by_id(order.course_id).cloned();
    // A bundle's lessons are those of its courses.
    let learned = match &course {
        Some(c) if c.kind.delivery() == Delivery::Courses => c.bundle.clone(),
        _ => vec![order.course_id],
    };
    let mut counts = Vec::with_capacity(learned.len());
    for id in learned {
        let progress = inputs.progress.course_progress(inputs.db, order.user_id, id).await?;
        let total = inputs.catalog.course_by_id(id).map_or(0, |c| c.lesson_count());
        counts.push((progress.values().filter(|p| p.completed).count(), total));
    }
    // A gift's buyer did not buy the lessons for themselves: what they watched is not the gift's.
    let pct = if order.gift_copies > 0 { 0 } else { bundle_consumed_pct(&counts) };
    // One order buys one period of its plan: the term it started, as long as it really is.
    let (term, slot) = match order.item_kind.delivery() {
        Delivery::MemberTerm => (memberships::term_of_order(inputs.db, order.id).await?, None),
        Delivery::Session => (None, consultations::of_order(inputs.db, order.id).await?),
        Delivery::Lessons | Delivery::Courses => (None, None),
    };
    let consumption = Consumption {
        consumed_pct: pct,
        live_sessions: course
            .as_ref()
            .map(|c| c.live_sessions().iter().filter_map(|l| l.starts_at).collect())
            .unwrap_or_default(),
        membership_period_days: term.map_or(30, |(start, end)| ((end - start) / 86_400).max(1)),
        membership_periods: 1,
        consultation_slot: slot.map(|s| s.starts_at),
    };
    let paid_at = order.paid_at.unwrap_or(order.created_at);
    let case = Case {
        kind: order.item_kind,
        terms: order.refund_terms,
        paid: order.amount,
        refunded: order.refunded,
        // A membership bought ahead starts at the end of the one before: its use counts from then.
        paid_at: term.map_or(paid_at, |(start, _)| start),
        now,
        consumption: &consumption,
        settings: inputs.settings,
    };
    let decision = decide(&case);
    if order.gift_copies > 0 {
        let claimed = crate::store::gifts::claimed_count(inputs.db, order.id).await?;
        return Ok((cap(decision, order.amount, order.refunded, order.gift_copies, claimed), pct));
    }
    Ok((decision, pct))
}

/// A group seat's payment goes back in full, under one refund request for the order: made once
/// (a request still open is the same one), recorded on the seat, approved and sent.
pub async fn refund_group_seat(
    refunder: &Refunder,
    seat: &crate::store::groups::SeatToRefund,
    now: i64,
) -> anyhow::Result<()> {
    let db = &refunder.db;
    let order = orders::find(db, &seat.order_no).await?.context("the seat's order is gone")?;
    let amount = order.left_to_refund();
    let (zh, en, reason) = if seat.group_status == crate::domain::group::State::Failed {
        ("拼团未在时限内成团，全额退款。", "The group did not fill in time: full refund.", "group_failed")
    } else {
        (
            "付款时拼团已满或已结束，全额退款。",
            "The group was full or closed when the payment came: full refund.",
            "group_late",
        )
    };
    let decision = Decision {
        eligible: true,
        amount,
        rule: crate::domain::refund_terms::Localized { zh: zh.into(), en: en.into() },
    };
    let new = refunds::NewRefund {
        order_id: order.id,
        user_id: order.user_id,
        reason_code: reason,
        reason_text: "",
        decision: &decision,
        consumed_pct: 0,
        submitted_by: "system",
    };
    let refund_no = match refunds::create(db, &new, &[], now).await? {
        refunds::Created::New(_, no, _) | refunds::Created::Existing(no) => no,
    };
    crate::store::groups::refund_made(db, &order.order_no, &refund_no).await?;
    let refund = refunds::find(db, &refund_no).await?.context("the refund just made is gone")?;
    let provider = order.pay_provider.as_deref().unwrap_or_default();
    let approval = Approval { amount, note: zh, staff_id: None, provider };
    refunder.approve_and_send(refund.id, &approval, now).await?;
    Ok(())
}

impl Refunder {
    /// Approves a pending refund and, when this call approved it, sends it at once.
    pub async fn approve_and_send(
        &self,
        refund_id: RefundId,
        approval: &Approval<'_>,
        now: i64,
    ) -> anyhow::Result<Approved> {
        let approved = refunds::approve(&self.db, refund_id, approval, now).await?;
        if approved == Approved::Yes {
            metrics::counter!("refunds_approved_total", "by" => if approval.staff_id.is_some() { "staff" } else { "auto" })
                .increment(1);
        }
        if approved == Approved::Yes
            && let Some(fresh) = refunds::find_by_id(&self.db, refund_id).await?
        {
            self.push(&fresh, now).await?;
        }
        Ok(approved)
    }

    /// A failed refund tried again under the same number; true when this call restarted it.
    pub async fn retry_and_send(&self, refund_id: RefundId, now: i64) -> anyhow::Result<bool> {
        if !refunds::retry(&self.db, refund_id, now).await? {
            return Ok(false);
        }
        if let Some(fresh) = refunds::find_by_id(&self.db, refund_id).await? {
            self.push(&fresh, now).await?;
        }
        Ok(true)
    }

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
    pub async fn settle(&self, refund_id: RefundId, state: RefundState, now: i64) -> anyhow::Result<()> {
        let label = match &state {
            RefundState::Succeeded => "succeeded",
            RefundState::Processing => "processing",
            RefundState::Failed(_) => "failed",
        };
        metrics::counter!("refund_answers_total", "state" => label).increment(1);
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
                    tracing::warn!(%refund_id, why, "refund failed at the provider; staff must act");
                }
            }
        }
        Ok(())
    }
}
