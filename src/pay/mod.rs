//! Payment providers behind one trait. A provider creates a payment for a channel, verifies and
//! parses its notifications, and answers queries, closes and refunds. Fulfilment itself
//! (`store::orders::apply_payment`) is the same for every provider.

pub mod alipay;
pub mod sandbox;
pub mod signing;
pub mod wechatpay;

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::HttpResponse;
use futures_util::future::BoxFuture;
use reqwest::header::HeaderMap;

use crate::domain::Fen;

pub use crate::domain::payment::{Browser, Channel};

pub struct PayRequest<'a> {
    pub order_no: &'a str,
    pub amount: Fen,
    pub description: &'a str,
    pub client_ip: &'a str,
    /// The payer's openid for JSAPI.
    pub openid: Option<&'a str>,
    /// Where the buyer comes back to after paying (absolute URL).
    pub return_url: String,
    /// Hold the funds for a distributor's share (WeChat Pay's profit sharing; others ignore it).
    pub profit_sharing: bool,
}

/// What the browser does next to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayAction {
    Redirect(String),
    /// Show this as a QR code to scan with WeChat (Native).
    QrCode(String),
    /// Call WeixinJSBridge getBrandWCPayRequest with these (JSAPI).
    JsApi(JsapiParams),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsapiParams {
    pub app_id: String,
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: String,
    pub pay_sign: String,
}

pub use crate::domain::payment::PaidNotice;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Paid(PaidNotice),
    /// A verified notification that is not a success (closed, failed...); nothing to fulfil.
    Other {
        order_no: String,
        state: String,
    },
    /// A refund finished (or failed) at the provider.
    Refund {
        order_no: String,
        out_refund_no: String,
        state: RefundState,
    },
    /// A payer complained to the platform (WeChat Pay 消费者投诉); the details are fetched by id.
    Complaint {
        complaint_id: String,
        action: String,
    },
    /// Money moved by profit sharing (WeChat Pay PROFITSHARING.SUCCESS / RETURN).
    ProfitSharing {
        out_order_no: String,
        event: String,
        account: String,
        amount: Fen,
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

impl RefundState {
    /// What is recorded of it for a late payment's refund.
    pub fn late_state(&self) -> crate::domain::payment::LateRefundState {
        use crate::domain::payment::LateRefundState;
        match self {
            RefundState::Processing => LateRefundState::Processing,
            RefundState::Succeeded => LateRefundState::Succeeded,
            RefundState::Failed(_) => LateRefundState::Failed,
        }
    }
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
    fn query_refund<'a>(
        &'a self,
        order_no: &'a str,
        out_refund_no: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<RefundState>>;
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

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn PaymentProvider>> {
        self.by_name.values()
    }

    /// Every channel on offer, with its provider, in the order of `Channel::ALL`.
    pub fn channels(&self) -> Vec<(Channel, &Arc<dyn PaymentProvider>)> {
        let mut all: Vec<(Channel, &Arc<dyn PaymentProvider>)> =
            self.by_name.values().flat_map(|p| p.channels().into_iter().map(move |c| (c, p))).collect();
        all.sort_by_key(|(c, _)| Channel::ALL.iter().position(|x| x == c));
        all
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
