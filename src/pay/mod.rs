//! Payment providers behind one trait. A provider creates a payment for a channel, verifies and
//! parses its notifications, and answers queries, closes and refunds. Fulfilment itself
//! (`store::orders::apply_payment`) is the same for every provider.

pub mod notify;
pub mod sandbox;

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::header::HeaderMap;
use futures_util::future::BoxFuture;

use crate::domain::Fen;

/// Where and how the buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The sandbox cashier page (模拟支付).
    Sandbox,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sandbox => "sandbox",
        }
    }

    pub fn parse(value: &str) -> Option<Channel> {
        match value {
            "sandbox" => Some(Channel::Sandbox),
            _ => None,
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Channel::Sandbox => "channel_sandbox",
        }
    }
}

pub struct PayRequest<'a> {
    pub order_no: &'a str,
    pub amount: Fen,
    pub description: &'a str,
    pub client_ip: &'a str,
}

/// What the browser does next to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayAction {
    Redirect(String),
}

/// A payment the provider says succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidNotice {
    pub order_no: String,
    pub txn_id: String,
    pub amount: Fen,
    pub currency: String,
    pub paid_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Paid(PaidNotice),
    /// A verified notification that is not a success (closed, failed...); nothing to fulfil.
    Other {
        order_no: String,
        state: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("signature missing or wrong")]
    BadSignature,
    #[error("timestamp outside the accepted window")]
    Stale,
    #[error("notification is not for this merchant")]
    WrongMerchant,
    #[error("malformed notification: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    Paid(PaidNotice),
    NotPaid,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundState {
    Processing,
    Succeeded,
    Failed(String),
}

pub struct RefundRequest<'a> {
    pub order_no: &'a str,
    /// Unique per refund and reused on every retry of it.
    pub out_refund_no: &'a str,
    pub amount: Fen,
    pub order_amount: Fen,
    pub reason: &'a str,
}

pub trait PaymentProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn channels(&self) -> Vec<Channel>;
    fn create<'a>(&'a self, req: &'a PayRequest<'a>, channel: Channel) -> BoxFuture<'a, anyhow::Result<PayAction>>;
    fn verify_notification(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Notice, VerifyError>;
    /// The answer a provider expects for a notification it need not send again.
    fn acknowledge(&self) -> HttpResponse;
    /// The answer for a notification that was refused (the provider will retry).
    fn refuse(&self, why: &VerifyError) -> HttpResponse;
    fn query<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<QueryResult>>;
    fn close<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
    fn refund<'a>(&'a self, req: &'a RefundRequest<'a>) -> BoxFuture<'a, anyhow::Result<RefundState>>;
    fn query_refund<'a>(&'a self, out_refund_no: &'a str) -> BoxFuture<'a, anyhow::Result<RefundState>>;
}

/// The providers this shop offers, by name.
#[derive(Clone, Default)]
pub struct Providers {
    by_name: BTreeMap<&'static str, Arc<dyn PaymentProvider>>,
}

impl Providers {
    pub fn add(&mut self, provider: Arc<dyn PaymentProvider>) {
        self.by_name.insert(provider.name(), provider);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn PaymentProvider>> {
        self.by_name.get(name)
    }

    /// Every channel on offer, with its provider.
    pub fn channels(&self) -> Vec<(Channel, &Arc<dyn PaymentProvider>)> {
        self.by_name.values().flat_map(|p| p.channels().into_iter().map(move |c| (c, p))).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
