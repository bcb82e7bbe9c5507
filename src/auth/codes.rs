//! SMS verification codes: issue with rate limits, verify with expiry and a burn after 5 wrong tries.
//! A code belongs to the browser that asked for it: a stranger's guesses cannot burn the owner's
//! code, and a browser that signed in as the phone before (its known-device cookie) is not held to
//! the phone's limits, which strangers can fill.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::Phone;
use crate::domain::rate::Limit;
use crate::store::{Db, sms};

pub const CODE_TTL_SECS: i64 = 5 * 60;
pub const MAX_ATTEMPTS: i64 = 5;
pub const PER_PHONE_MINUTE: Limit = Limit::new(1, 60);
pub const PER_PHONE_DAY: Limit = Limit::new(10, 86_400);
pub const PER_IP_HOUR: Limit = Limit::new(20, 3_600);

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("rate limited for {0} s")]
    RateLimited(i64),
    #[error("no code was sent")]
    NotSent,
    #[error("code expired")]
    Expired,
    #[error("code burned by too many wrong tries")]
    Burned,
    #[error("wrong code, {0} tries left")]
    Wrong(i64),
    /// Every provider refused or was down: the learner may ask again (the code counts).
    #[error("the text could not be sent")]
    NotDelivered,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for CodeError {
    fn from(e: sqlx::Error) -> Self {
        CodeError::Internal(e.into())
    }
}

/// Who asks for a code.
pub struct Asker<'a> {
    pub ip: &'a str,
    /// `browser_id` of the asking browser's session token.
    pub browser: String,
    /// The browser's known-device cookie, if it sent one.
    pub device_cookie: Option<String>,
}

fn keyed(key: &[u8], parts: &[&str]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(b":");
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The browser behind a session token, as codes remember it (the token itself is never stored).
pub fn browser_id(key: &[u8], session_token: &str) -> String {
    keyed(key, &["browser", session_token])[..32].to_string()
}

/// The known-device cookie's value for `phone`: set when this browser signs in as that phone.
pub fn known_device(key: &[u8], phone: &Phone) -> String {
    keyed(key, &["known-device", phone.as_str()])[..32].to_string()
}

/// Keyed hash of a code, bound to the phone it was sent to.
pub fn code_hash(key: &[u8], phone: &Phone, code: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length; this arm cannot run.
        Err(_) => return String::new(),
    };
    mac.update(phone.as_str().as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the limits, stores the code's hash and hands the message to the sender. Returns the
/// code's validity in seconds.
pub async fn send(
    db: &Db,
    sender: &dyn crate::sms::SmsSender,
    key: &[u8],
    phone: &Phone,
    asker: &Asker<'_>,
    template: &str,
    now: i64,
) -> Result<i64, CodeError> {
    let known = asker.device_cookie.as_deref().is_some_and(|c| {
        let expected = known_device(key, phone);
        bool::from(c.as_bytes().ct_eq(expected.as_bytes()))
    });
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
    let hash = code_hash(key, phone, &code);
    let new = sms::NewCode {
        phone: phone.as_str(),
        purpose: sms::PURPOSE_AUTH,
        code_hash: &hash,
        ip: asker.ip,
        requester: &asker.browser,
        now,
        expires_at: now + CODE_TTL_SECS,
        phone_since: now - PER_PHONE_DAY.window_secs,
        ip_since: now - PER_IP_HOUR.window_secs,
    };
    let limits = |to_phone: &[(i64, String)], from_ip: &[i64]| {
        // The owner's own browser counts only its own codes; anyone else counts everyone's.
        let counted: Vec<i64> =
            to_phone.iter().filter(|(_, by)| !known || *by == asker.browser).map(|(at, _)| *at).collect();
        [
            PER_PHONE_MINUTE.retry_after(&counted, now),
            if known { None } else { PER_PHONE_DAY.retry_after(&counted, now) },
            PER_IP_HOUR.retry_after(from_ip, now),
        ]
        .into_iter()
        .flatten()
        .max()
    };
    if let Err(secs) = sms::insert_unless_limited(db, &new, limits).await? {
        return Err(CodeError::RateLimited(secs));
    }
    let message = crate::sms::Message::new(crate::sms::Kind::LoginCode, template, &[("code", &code)]);
    let sent = sender.send(phone, &message).await;
    let attempt = crate::store::sms_outbox::Attempt {
        kind: message.kind,
        phone: phone.as_str(),
        provider: sent.as_ref().map_or_else(|e| e.provider, |r| r.provider),
        send_id: sent.as_ref().map_or("", |r| r.send_id.as_str()),
        error: sent.as_ref().err().map(|e| (e.code.as_str(), e.message.as_str())),
    };
    crate::store::sms_outbox::record_direct(db, &attempt, now).await?;
    match sent {
        Ok(_) => Ok(CODE_TTL_SECS),
        Err(e) => {
            tracing::warn!(provider = e.provider, code = %e.code, phone = %phone, "login code not sent");
            Err(CodeError::NotDelivered)
        }
    }
}

/// Verifies and uses up the newest code sent to `phone` at this browser's asking.
pub async fn verify(db: &Db, key: &[u8], phone: &Phone, browser: &str, code: &str, now: i64) -> Result<(), CodeError> {
    let stored = sms::latest(db, phone.as_str(), sms::PURPOSE_AUTH, browser).await?.ok_or(CodeError::NotSent)?;
    if stored.consumed {
        return Err(CodeError::NotSent);
    }
    if stored.attempts >= MAX_ATTEMPTS {
        return Err(CodeError::Burned);
    }
    if stored.expires_at <= now {
        return Err(CodeError::Expired);
    }
    let given = code_hash(key, phone, code);
    if bool::from(given.as_bytes().ct_eq(stored.code_hash.as_bytes())) {
        if sms::consume(db, stored.id, MAX_ATTEMPTS, now).await? {
            return Ok(());
        }
        return Err(CodeError::Burned);
    }
    match sms::record_wrong_attempt(db, stored.id, MAX_ATTEMPTS).await? {
        Some(attempts) if attempts < MAX_ATTEMPTS => Err(CodeError::Wrong(MAX_ATTEMPTS - attempts)),
        _ => Err(CodeError::Burned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_binds_phone_and_code() {
        let a = Phone::parse("13800138000").unwrap();
        let b = Phone::parse("13900139000").unwrap();
        let h = code_hash(b"k", &a, "123456");
        assert_eq!(h, code_hash(b"k", &a, "123456"));
        assert_ne!(h, code_hash(b"k", &b, "123456"));
        assert_ne!(h, code_hash(b"k", &a, "123457"));
        assert_ne!(h, code_hash(b"other", &a, "123456"));
    }
}
