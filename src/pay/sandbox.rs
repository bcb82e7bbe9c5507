//! The sandbox provider (模拟支付): a cashier page in the shop plays the gateway, and pays by
//! sending the shop the same kind of signed notification a real gateway sends. The signature is
//! HMAC-SHA256 over `timestamp\nnonce\nbody\n` (the message layout of WeChat Pay v3), with a key
//! derived from the shop's master key; the timestamp must be within 5 minutes.

use actix_web::HttpResponse;
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distributions::Alphanumeric;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{
    Channel, Notice, PaidNotice, PayAction, PayRequest, PaymentProvider, QueryResult, RefundRequest, RefundState,
    VerifyError,
};
use crate::domain::Fen;
use crate::store::Db;

pub const NAME: &str = "sandbox";
pub const TIMESTAMP_HEADER: &str = "Kedian-Sandbox-Timestamp";
pub const NONCE_HEADER: &str = "Kedian-Sandbox-Nonce";
pub const SIGNATURE_HEADER: &str = "Kedian-Sandbox-Signature";
const WINDOW_SECS: i64 = 300;

pub struct Sandbox {
    key: Vec<u8>,
    db: Db,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SandboxNotification {
    pub out_trade_no: String,
    pub transaction_id: String,
    pub trade_state: String,
    pub amount_fen: i64,
    pub currency: String,
    pub paid_at: i64,
}

/// A notification ready to deliver: its headers and body.
pub struct SignedNotification {
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Sandbox {
    pub fn new(key: Vec<u8>, db: Db) -> Sandbox {
        Sandbox { key, db }
    }

    fn sign(&self, timestamp: &str, nonce: &str, body: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else { return String::new() };
        mac.update(format!("{timestamp}\n{nonce}\n{body}\n").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn signed(&self, notification: &SandboxNotification, now: i64) -> anyhow::Result<SignedNotification> {
        let body = serde_json::to_string(notification)?;
        let nonce: String = rand::thread_rng().sample_iter(&Alphanumeric).take(16).map(char::from).collect();
        let timestamp = now.to_string();
        let signature = self.sign(&timestamp, &nonce, &body);
        Ok(SignedNotification {
            headers: vec![(TIMESTAMP_HEADER, timestamp), (NONCE_HEADER, nonce), (SIGNATURE_HEADER, signature)],
            body,
        })
    }

    /// The buyer pressed 确认支付: the gateway takes the money (once) and returns the notification
    /// it sends. None when the payment was closed meanwhile or was never created.
    pub async fn pay(&self, order_no: &str, now: i64) -> anyhow::Result<Option<SignedNotification>> {
        let txn_id = format!(
            "SBX{}",
            rand::thread_rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect::<String>()
        );
        let amount: Option<i64> = sqlx::query_scalar(
            "UPDATE sandbox_gateway SET state = 'paid', txn_id = $1, paid_at = $2 WHERE order_no = $3 AND state = 'created' \
             RETURNING amount_fen",
        )
        .bind(&txn_id)
        .bind(now)
        .bind(order_no)
        .fetch_optional(self.db.write())
        .await?;
        let Some(amount) = amount else {
            // Already paid: send the same notification again, as a gateway retrying would.
            return match self.ledger(order_no).await? {
                Some(Ledger { paid: Some(notice), .. }) => Ok(Some(self.signed(&to_wire(&notice), now)?)),
                _ => Ok(None),
            };
        };
        let notice =
            PaidNotice { order_no: order_no.into(), txn_id, amount: Fen(amount), currency: "CNY".into(), paid_at: now };
        Ok(Some(self.signed(&to_wire(&notice), now)?))
    }

    async fn ledger(&self, order_no: &str) -> anyhow::Result<Option<Ledger>> {
        let row: Option<(i64, String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT amount_fen, state, txn_id, paid_at FROM sandbox_gateway WHERE order_no = $1")
                .bind(order_no)
                .fetch_optional(self.db.read())
                .await?;
        Ok(row.map(|(amount, state, txn_id, paid_at)| Ledger {
            closed: state == "closed",
            paid: match (state.as_str(), txn_id, paid_at) {
                ("paid", Some(txn_id), Some(paid_at)) => Some(PaidNotice {
                    order_no: order_no.into(),
                    txn_id,
                    amount: Fen(amount),
                    currency: "CNY".into(),
                    paid_at,
                }),
                _ => None,
            },
        }))
    }
}

struct Ledger {
    closed: bool,
    paid: Option<PaidNotice>,
}

fn to_wire(notice: &PaidNotice) -> SandboxNotification {
    SandboxNotification {
        out_trade_no: notice.order_no.clone(),
        transaction_id: notice.txn_id.clone(),
        trade_state: "SUCCESS".into(),
        amount_fen: notice.amount.0,
        currency: notice.currency.clone(),
        paid_at: notice.paid_at,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, VerifyError> {
    headers.get(name).and_then(|v| v.to_str().ok()).ok_or(VerifyError::BadSignature)
}

impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        NAME
    }

    fn channels(&self) -> Vec<Channel> {
        vec![Channel::Sandbox]
    }

    fn create<'a>(&'a self, req: &'a PayRequest<'a>, _channel: Channel) -> BoxFuture<'a, anyhow::Result<PayAction>> {
        Box::pin(async move {
            // The amount is fixed when the payment is created, as at a real gateway.
            sqlx::query(
                "INSERT INTO sandbox_gateway (order_no, amount_fen, state) VALUES ($1, $2, 'created') \
                 ON CONFLICT (order_no) DO NOTHING",
            )
            .bind(req.order_no)
            .bind(req.amount.0)
            .execute(self.db.write())
            .await?;
            Ok(PayAction::Redirect(format!("/pay/sandbox/{}", req.order_no)))
        })
    }

    fn verify_notification(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Notice, VerifyError> {
        let timestamp = header(headers, TIMESTAMP_HEADER)?;
        let nonce = header(headers, NONCE_HEADER)?;
        let signature = header(headers, SIGNATURE_HEADER)?;
        let body = std::str::from_utf8(body).map_err(|_| VerifyError::Malformed("body is not UTF-8".into()))?;
        let expected = self.sign(timestamp, nonce, body);
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return Err(VerifyError::BadSignature);
        }
        let at: i64 = timestamp.parse().map_err(|_| VerifyError::Stale)?;
        if (now - at).abs() > WINDOW_SECS {
            return Err(VerifyError::Stale);
        }
        let n: SandboxNotification = serde_json::from_str(body).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if n.trade_state != "SUCCESS" {
            return Ok(Notice::Other { order_no: n.out_trade_no, state: n.trade_state });
        }
        Ok(Notice::Paid(PaidNotice {
            order_no: n.out_trade_no,
            txn_id: n.transaction_id,
            amount: Fen(n.amount_fen),
            currency: n.currency,
            paid_at: n.paid_at,
        }))
    }

    fn acknowledge(&self) -> HttpResponse {
        HttpResponse::Ok().json(serde_json::json!({ "code": "SUCCESS" }))
    }

    fn refuse(&self, why: &VerifyError) -> HttpResponse {
        HttpResponse::BadRequest().json(serde_json::json!({ "code": "FAIL", "message": why.to_string() }))
    }

    fn query<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<QueryResult>> {
        Box::pin(async move {
            Ok(match self.ledger(order_no).await? {
                Some(Ledger { paid: Some(notice), .. }) => QueryResult::Paid(notice),
                Some(Ledger { closed: true, .. }) => QueryResult::Closed,
                _ => QueryResult::NotPaid,
            })
        })
    }

    fn close<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            sqlx::query("UPDATE sandbox_gateway SET state = 'closed' WHERE order_no = $1 AND state = 'created'")
                .bind(order_no)
                .execute(self.db.write())
                .await?;
            Ok(())
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest<'a>) -> BoxFuture<'a, anyhow::Result<RefundState>> {
        Box::pin(async move {
            if req.amount.0 <= 0 || req.amount > req.order_amount {
                return Ok(RefundState::Failed("amount out of range".into()));
            }
            sqlx::query(
                "INSERT INTO sandbox_refunds (out_refund_no, order_no, amount_fen, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (out_refund_no) DO NOTHING",
            )
            .bind(req.out_refund_no)
            .bind(req.order_no)
            .bind(req.amount.0)
            .bind(crate::domain::time::now())
            .execute(self.db.write())
            .await?;
            Ok(RefundState::Succeeded)
        })
    }

    fn query_refund<'a>(
        &'a self,
        _order_no: &'a str,
        out_refund_no: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<RefundState>> {
        Box::pin(async move {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT amount_fen FROM sandbox_refunds WHERE out_refund_no = $1")
                    .bind(out_refund_no)
                    .fetch_optional(self.db.read())
                    .await?;
            Ok(if found.is_some() { RefundState::Succeeded } else { RefundState::Failed("unknown refund".into()) })
        })
    }
}
