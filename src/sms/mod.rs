//! Text messages. Chinese carriers deliver only pre-approved templates (a sign name plus a
//! template id with parameters), so every message is a `Kind` with named parameters. The shop's
//! own wording of each kind is what the console sender logs and the back office previews; a real
//! provider (`aliyun`, `tencent`) sends the approved template configured for the kind.
//!
//! Codes are sent at once while the learner waits. Notifications go through the outbox
//! (`store::sms_outbox`, sent by `jobs::sms`).

pub mod aliyun;
pub mod config;
pub mod failover;
pub mod tencent;

use std::collections::HashMap;

use futures_util::future::BoxFuture;

use crate::domain::Phone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    LoginCode,
    RefundApproved,
    RefundRefunded,
    RefundRejected,
    ComplaintReplied,
    TakedownNotice,
    /// A membership ending, a live session or a consultation coming up (only with consent).
    Reminder,
    /// Broadcasts: a marketing template, which carriers require to carry an opt-out line.
    Marketing,
    /// Someone tried to claim the account's order by its receipt number.
    ClaimAttempt,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::LoginCode,
        Kind::RefundApproved,
        Kind::RefundRefunded,
        Kind::RefundRejected,
        Kind::ComplaintReplied,
        Kind::TakedownNotice,
        Kind::Reminder,
        Kind::Marketing,
        Kind::ClaimAttempt,
    ];

    /// The name in the TOML file, the outbox and the back office.
    pub fn key(self) -> &'static str {
        match self {
            Kind::LoginCode => "login_code",
            Kind::RefundApproved => "refund_approved",
            Kind::RefundRefunded => "refund_refunded",
            Kind::RefundRejected => "refund_rejected",
            Kind::ComplaintReplied => "complaint_replied",
            Kind::TakedownNotice => "takedown_notice",
            Kind::Reminder => "reminder",
            Kind::Marketing => "marketing",
            Kind::ClaimAttempt => "claim_attempt",
        }
    }

    pub fn parse(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// The parameters the shop fills in, in this order.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Kind::LoginCode => &["code"],
            Kind::RefundApproved => &["no", "amount"],
            Kind::RefundRefunded => &["no", "amount", "time"],
            Kind::RefundRejected | Kind::ClaimAttempt => &["no"],
            Kind::ComplaintReplied => &["no"],
            Kind::Reminder => &["text", "time"],
            Kind::TakedownNotice | Kind::Marketing => &["text", "url"],
        }
    }

    /// The shop's wording when no other is set (`{name}` placeholders).
    pub fn default_wording(self) -> &'static str {
        match self {
            Kind::LoginCode => crate::domain::shop::SMS_CODE_DEFAULT,
            Kind::RefundApproved => "【课店】您的退款 {no} 已同意，{amount} 将原路退回。",
            Kind::RefundRefunded => crate::domain::shop::SMS_REFUND_DEFAULT,
            Kind::RefundRejected => "【课店】您的退款申请 {no} 未通过，原因见“我的消息”。",
            Kind::ComplaintReplied => "【课店】您的投诉 {no} 有了新回复，请到“我的投诉”查看。",
            Kind::TakedownNotice => "{text}",
            Kind::Reminder => "【课店】提醒：{text}，时间 {time}。",
            Kind::Marketing => "{text}",
            Kind::ClaimAttempt => {
                "【课店】有人用你的订单 {no} 的支付凭证尝试找回课程，已被拒绝。你的课程不受影响；如有疑问请联系客服。"
            }
        }
    }

    pub fn label_key(self) -> String {
        format!("sms_kind_{}", self.key())
    }
}

/// One text: its kind, the parameters by name, and the shop's wording filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub params: Vec<(String, String)>,
    pub text: String,
}

impl Message {
    pub fn new(kind: Kind, wording: &str, params: &[(&str, &str)]) -> Message {
        Message {
            kind,
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            text: crate::domain::shop::fill(wording, params),
        }
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
}

/// What a provider accepted: who, and its id for the text (for delivery reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub provider: &'static str,
    pub send_id: String,
}

/// A provider's refusal or an outage, with the provider's own error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider} refused the text: {code} {message}")]
pub struct SendError {
    pub provider: &'static str,
    pub code: String,
    pub message: String,
    /// Throttled, out of quota, a server error or unreachable: another provider may succeed.
    /// Otherwise (a bad number, template or key) trying elsewhere does not help.
    pub transient: bool,
}

impl SendError {
    pub fn unreachable(provider: &'static str, e: impl std::fmt::Display) -> SendError {
        SendError { provider, code: "network".into(), message: e.to_string(), transient: true }
    }
}

/// An approved template at a provider: its id and which of the kind's parameters it takes, in
/// its order (Alibaba sends them by name, Tencent in this order).
#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub params: Vec<String>,
}

/// A provider's templates as the back office lists them, in the order of `Kind::ALL`.
pub(crate) fn template_uses(provider: &'static str, templates: &HashMap<Kind, Template>) -> Vec<TemplateUse> {
    let mut out: Vec<TemplateUse> = templates
        .iter()
        .map(|(kind, t)| TemplateUse { provider, kind: *kind, id: t.id.clone(), params: t.params.clone() })
        .collect();
    out.sort_by_key(|t| Kind::ALL.iter().position(|k| *k == t.kind));
    out
}

/// A provider's approved template for a kind, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUse {
    pub provider: &'static str,
    pub kind: Kind,
    pub id: String,
    pub params: Vec<String>,
}

pub trait SmsSender: Send + Sync + 'static {
    fn send<'a>(&'a self, phone: &'a Phone, message: &'a Message) -> BoxFuture<'a, Result<Receipt, SendError>>;

    /// The providers behind this sender, primary first (none: texts go nowhere real).
    fn providers(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The approved templates this sender sends, for the back office's mapping.
    fn templates(&self) -> Vec<TemplateUse> {
        Vec::new()
    }
}

/// Development sender: the full text, with the phone number, goes to the log. It reaches no phone.
pub struct ConsoleSender;

impl SmsSender for ConsoleSender {
    fn send<'a>(&'a self, phone: &'a Phone, message: &'a Message) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(async move {
            tracing::info!(
                phone = phone.as_str(),
                kind = message.kind.key(),
                text = message.text,
                "SMS NOT SENT: the console sender only logs it (set sms_config to reach phones)"
            );
            Ok(Receipt { provider: "console", send_id: String::new() })
        })
    }
}

/// Reads the error response body of a provider for a log line, within reason.
pub(crate) fn short(body: &str) -> String {
    body.chars().take(300).collect()
}
