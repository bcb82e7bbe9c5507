//! Sending text messages. The `console` sender writes each message to the log; a real gateway
//! implements the same trait.

use futures_util::future::BoxFuture;

use crate::domain::Phone;

pub trait SmsSender: Send + Sync + 'static {
    fn send<'a>(&'a self, phone: &'a Phone, text: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// Development sender: the full message, with the phone number, goes to the log at INFO.
pub struct ConsoleSender;

impl SmsSender for ConsoleSender {
    fn send<'a>(&'a self, phone: &'a Phone, text: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            tracing::info!(phone = phone.as_str(), text, "SMS (console sender)");
            Ok(())
        })
    }
}
