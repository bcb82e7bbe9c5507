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

/// Where and how the buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The sandbox cashier page (模拟支付).
    Sandbox,
    /// WeChat Pay inside the WeChat browser (WeixinJSBridge).
    WechatJsapi,
    /// WeChat Pay from another mobile browser (MWEB h5_url).
    WechatH5,
    /// WeChat Pay by scanning a QR code shown on a PC.
    WechatNative,
    /// Alipay's mobile web cashier (alipay.trade.wap.pay).
    AlipayWap,
    /// Alipay's PC cashier (alipay.trade.page.pay).
    AlipayPage,
}

/// What kind of browser the buyer is in, from its User-Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    WeChat,
    Mobile,
    Desktop,
}

impl Browser {
    pub fn from_user_agent(ua: &str) -> Browser {
        if ua.contains("MicroMessenger") {
            Browser::WeChat
        } else if ["Mobile", "Android", "iPhone", "iPad", "HarmonyOS"].iter().any(|m| ua.contains(m)) {
            Browser::Mobile
        } else {
            Browser::Desktop
        }
    }
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::WechatJsapi,
        Channel::WechatH5,
        Channel::WechatNative,
        Channel::AlipayWap,
        Channel::AlipayPage,
        Channel::Sandbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sandbox => "sandbox",
            Channel::WechatJsapi => "wechat_jsapi",
            Channel::WechatH5 => "wechat_h5",
            Channel::WechatNative => "wechat_native",
            Channel::AlipayWap => "alipay_wap",
            Channel::AlipayPage => "alipay_page",
        }
    }

    pub fn parse(value: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// Which payment brand's mark stands beside the choice on the pay page.
    pub fn provider_mark(self) -> &'static str {
        match self {
            Channel::Sandbox => "sandbox",
            Channel::WechatJsapi | Channel::WechatH5 | Channel::WechatNative => "wechat",
            Channel::AlipayWap | Channel::AlipayPage => "alipay",
        }
    }

    /// The one glyph drawn in that mark (支 for Alipay, as on its own logo).
    pub fn mark_key(self) -> &'static str {
        match self.provider_mark() {
            "wechat" => "mark_wechat",
            "alipay" => "mark_alipay",
            _ => "mark_sandbox",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Channel::Sandbox => "channel_sandbox",
            Channel::WechatJsapi | Channel::WechatH5 => "channel_wechat",
            Channel::WechatNative => "channel_wechat_native",
            Channel::AlipayWap | Channel::AlipayPage => "channel_alipay",
        }
    }

    /// The channels that work in this browser, best first (the sandbox works everywhere).
    pub fn fits(self, browser: Browser) -> bool {
        match self {
            Channel::Sandbox => true,
            Channel::WechatJsapi => browser == Browser::WeChat,
            Channel::WechatH5 => browser == Browser::Mobile,
            Channel::WechatNative => browser == Browser::Desktop,
            // Alipay's pages are blocked inside WeChat: there the pay page explains how to leave.
            Channel::AlipayWap => browser == Browser::Mobile,
            Channel::AlipayPage => browser == Browser::Desktop,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_their_channels() {
        let wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47";
        let phone = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36";
        let pc = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
        assert_eq!(Browser::from_user_agent(wechat), Browser::WeChat);
        assert_eq!(Browser::from_user_agent(phone), Browser::Mobile);
        assert_eq!(Browser::from_user_agent(pc), Browser::Desktop);
        assert_eq!(Browser::from_user_agent(""), Browser::Desktop);
        let fits = |b| Channel::ALL.into_iter().filter(|c| c.fits(b)).collect::<Vec<_>>();
        assert_eq!(fits(Browser::WeChat), [Channel::WechatJsapi, Channel::Sandbox]);
        assert_eq!(fits(Browser::Mobile), [Channel::WechatH5, Channel::AlipayWap, Channel::Sandbox]);
        assert_eq!(fits(Browser::Desktop), [Channel::WechatNative, Channel::AlipayPage, Channel::Sandbox]);
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
    }
}
