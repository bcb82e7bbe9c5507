//! A primary provider and an optional secondary: a transient refusal (throttled, out of quota,
//! a server error, unreachable) from the primary tries the secondary once.

use futures_util::future::BoxFuture;

use super::{Message, Receipt, SendError, SmsSender};
use crate::domain::Phone;

pub struct Failover {
    pub primary: Box<dyn SmsSender>,
    pub secondary: Option<Box<dyn SmsSender>>,
}

impl SmsSender for Failover {
    fn providers(&self) -> Vec<&'static str> {
        let mut out = self.primary.providers();
        out.extend(self.secondary.iter().flat_map(|s| s.providers()));
        out
    }

    fn templates(&self) -> Vec<super::TemplateUse> {
        let mut out = self.primary.templates();
        out.extend(self.secondary.iter().flat_map(|s| s.templates()));
        out
    }

    fn send<'a>(&'a self, phone: &'a Phone, message: &'a Message) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(async move {
            let first = match self.primary.send(phone, message).await {
                Ok(receipt) => return Ok(receipt),
                Err(e) => e,
            };
            let Some(secondary) = self.secondary.as_ref().filter(|_| first.transient) else { return Err(first) };
            tracing::warn!(
                provider = first.provider,
                code = %first.code,
                kind = message.kind.as_str(),
                "SMS provider refused; trying the secondary"
            );
            secondary.send(phone, message).await
        })
    }
}
