//! Provider notifications: verify first, keep every one for audit, then fulfil idempotently (a
//! paid order, a settled refund, a platform complaint in the queue). Only a notification that
//! was verified and recorded is ever answered with success.

use anyhow::Context;
use reqwest::header::HeaderMap;

use super::refunds::Refunder;
use crate::catalog::CatalogCache;
use crate::domain::time::now;
use crate::pay::wechatpay::WechatPay;
use crate::pay::{Notice, PaymentProvider, RefundState, VerifyError};
use crate::store::orders::{self, PaymentOutcome};
use crate::store::payment_notifications::{self, Arrival};
use crate::store::{Db, complaints, refunds};

/// What fulfilment needs, and nothing more.
pub struct Fulfilment<'a> {
    pub db: &'a Db,
    pub refunder: &'a Refunder,
    pub catalog: &'a CatalogCache,
    /// For the details of a complaint made at WeChat Pay.
    pub wechat: Option<&'a WechatPay>,
    /// Hours the shop gives itself to answer a complaint (its setting now).
    pub complaint_reply_hours: i64,
}

/// Headers worth keeping (never cookies or credentials).
fn headers_json(headers: &HeaderMap) -> String {
    let kept: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "cookie" | "authorization"))
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("<binary>").into()))
        .collect();
    serde_json::Value::Object(kept).to_string()
}

/// Counts a notification by provider and the verdict's first word (applied, duplicate, late,
/// rejected, ignored, refund, complaint).
fn count(provider: &str, verdict: &str) {
    let kind = verdict.split([':', ' ']).next().unwrap_or_default().to_string();
    metrics::counter!("payment_notifications_total", "provider" => provider.to_string(), "verdict" => kind)
        .increment(1);
}

async fn record(db: &Db, provider: &str, headers: &HeaderMap, body: &[u8], verdict: &str, order_no: Option<&str>) {
    let (headers_json, body) = (headers_json(headers), String::from_utf8_lossy(body));
    record_arrival(db, &Arrival { provider, headers_json: &headers_json, body: &body }, verdict, order_no).await;
}

async fn record_arrival(db: &Db, arrival: &Arrival<'_>, verdict: &str, order_no: Option<&str>) {
    count(arrival.provider, verdict);
    // A rejected post proves nothing and may be junk sent to fill the disk: its start is enough.
    let excerpt;
    let arrival = if verdict.starts_with("rejected") {
        excerpt = payment_notifications::excerpt(arrival.body);
        &Arrival { body: &excerpt, ..*arrival }
    } else {
        arrival
    };
    if let Err(e) = payment_notifications::record(db, arrival, verdict, order_no, now()).await {
        tracing::error!(error = %e, provider = arrival.provider, verdict, "could not record a payment notification");
    }
}

/// What the provider is told; the route turns it into the provider's own HTTP reply.
#[derive(Debug)]
pub enum Answer {
    /// Verified, recorded and applied (or nothing to apply): do not send it again.
    Acknowledge,
    /// Not verified, or not ours: refused for this reason.
    Refuse(VerifyError),
    /// Not recorded as handled: the provider will send it again.
    TryAgain,
}

pub async fn handle(
    state: &Fulfilment<'_>,
    provider: &dyn PaymentProvider,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let name = provider.name();
    let notice = match provider.verify_notification(headers, body, now()) {
        Ok(notice) => notice,
        Err(e) => {
            tracing::warn!(provider = name, error = %e, "payment notification rejected");
            record(state.db, name, headers, body, &format!("rejected: {e}"), None).await;
            return Answer::Refuse(e);
        }
    };
    let paid = match notice {
        Notice::Paid(paid) => paid,
        Notice::Other { order_no, state: trade_state } => {
            record(state.db, name, headers, body, &format!("ignored: {trade_state}"), Some(&order_no)).await;
            return Answer::Acknowledge;
        }
        Notice::Refund { order_no, out_refund_no, state: refund_state } => {
            let verdict = match refund_notice(state, &out_refund_no, refund_state).await {
                Ok(verdict) => verdict,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), out_refund_no, "refund notification not applied");
                    return Answer::TryAgain;
                }
            };
            record(state.db, name, headers, body, &verdict, Some(&order_no)).await;
            return Answer::Acknowledge;
        }
        Notice::ProfitSharing { out_order_no, event, account, amount } => {
            return match sharing_notice(state, &out_order_no, &event, &account, amount).await {
                Ok(verdict) => {
                    record(state.db, name, headers, body, &verdict, None).await;
                    Answer::Acknowledge
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), out_order_no, "profit-sharing notification not applied");
                    Answer::TryAgain
                }
            };
        }
        Notice::Complaint { complaint_id, action } => {
            return match complaint_notice(state, &complaint_id, &action).await {
                Ok(verdict) => {
                    record(state.db, name, headers, body, &verdict, None).await;
                    Answer::Acknowledge
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), complaint_id, "complaint notification not applied");
                    Answer::TryAgain
                }
            };
        }
    };
    let (headers_json, text) = (headers_json(headers), String::from_utf8_lossy(body));
    let arrival = Arrival { provider: name, headers_json: &headers_json, body: &text };
    match orders::apply_payment(state.db, name, &paid, Some(&arrival), now()).await {
        Ok(outcome) => {
            let verdict = outcome.verdict();
            if outcome.recorded() {
                count(name, verdict);
            } else {
                record_arrival(state.db, &arrival, verdict, Some(&paid.order_no)).await;
            }
            tracing::info!(provider = name, order_no = %paid.order_no, verdict, "payment notification");
            if let PaymentOutcome::Applied { course_id } = outcome {
                state.catalog.count_sale(course_id);
                metrics::counter!("orders_paid_total", "provider" => name.to_string()).increment(1);
            }
            if outcome.acknowledged() {
                Answer::Acknowledge
            } else {
                Answer::Refuse(VerifyError::Malformed(verdict.into()))
            }
        }
        Err(e) => {
            tracing::error!(error = %e, order_no = %paid.order_no, "fulfilment failed");
            Answer::TryAgain
        }
    }
}

/// A refund's outcome: a learner's refund request, or the automatic refund of a late payment.
async fn refund_notice(state: &Fulfilment<'_>, out_refund_no: &str, outcome: RefundState) -> anyhow::Result<String> {
    if let Some(refund) = refunds::find(state.db, out_refund_no).await? {
        let before = refund.status;
        state.refunder.settle(refund.id, outcome.clone(), now()).await?;
        return Ok(format!("refund {out_refund_no}: {outcome:?} (was {})", before.as_str()));
    }
    if orders::set_late_refund_state_by_no(state.db, out_refund_no, outcome.late_state(), now()).await? {
        return Ok(format!("late payment refund {out_refund_no}: {outcome:?}"));
    }
    Ok(format!("ignored: unknown refund {out_refund_no}"))
}

/// A payer complained to WeChat Pay: fetch the details and put it in the shop's queue.
async fn complaint_notice(state: &Fulfilment<'_>, complaint_id: &str, action: &str) -> anyhow::Result<String> {
    let wechat = state.wechat.context("WeChat Pay is not configured")?;
    let c = wechat.complaint(complaint_id).await?;
    let description = if c.problem_description.is_empty() {
        c.complaint_detail.clone()
    } else {
        format!("{}\n{}", c.problem_description, c.complaint_detail)
    };
    let at = now();
    let external = complaints::External {
        external_id: &c.complaint_id,
        state: &c.complaint_state,
        description: &description,
        order_no: c.order_no(),
        reply_due: at + state.complaint_reply_hours * 3600,
    };
    let note = format!("微信支付投诉通知 {action}（{}）", c.complaint_state);
    let (complaint_no, created) = complaints::upsert_external(state.db, &external, &note, at).await?;
    tracing::info!(complaint_no, complaint_id, action, created, "platform complaint recorded");
    Ok(format!("complaint {complaint_no}: {action}"))
}

/// A split reached its receiver: the split is finished (the same as the job's query would find).
/// Anything that does not match a split in flight (a return, another amount) is only recorded.
async fn sharing_notice(
    state: &Fulfilment<'_>,
    out_order_no: &str,
    event: &str,
    account: &str,
    amount: crate::domain::Fen,
) -> anyhow::Result<String> {
    let Some(split) = crate::store::profit_splits::find_requested(state.db, out_order_no).await? else {
        return Ok(format!("ignored: {event} for no split in flight"));
    };
    if event != "PROFITSHARING.SUCCESS" || split.receiver != account || split.amount != amount {
        return Ok(format!("ignored: {event} does not match the split"));
    }
    crate::store::profit_splits::finish(state.db, &split, true, "", now()).await?;
    Ok("profit_sharing: finished".to_string())
}
