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
use crate::domain::sms::{Kind, Message};

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
                kind = message.kind.as_str(),
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
