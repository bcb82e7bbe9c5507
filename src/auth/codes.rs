//! SMS verification codes: issue with rate limits, verify with expiry and a burn after 5 wrong tries.
//! A code belongs to the browser that asked for it: a stranger's guesses cannot burn the owner's
//! code, and a browser that signed in as the phone before (its known-device cookie) is not held to
//! the phone's limits, which strangers can fill. When a phone or an address is under attack, a
//! browser must solve the slider puzzle (`human_check`) to have a code sent; a solved puzzle
//! lifts the phone's count of strangers' codes off the owner, up to a hard cap.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::human_check::Answer;
use crate::domain::Phone;
use crate::domain::rate::Limit;
use crate::store::{Db, sms};

pub const CODE_TTL_SECS: i64 = 5 * 60;
pub const MAX_ATTEMPTS: i64 = 5;
pub const PER_PHONE_MINUTE: Limit = Limit::new(1, 60);
/// Codes sent to a phone in a day (not counting its known device's own) before a human check.
pub const CHECK_AFTER_PHONE_DAY: usize = 3;
/// Codes asked from one address in an hour before a human check.
pub const CHECK_AFTER_IP_HOUR: usize = 10;
/// The caps that hold even with the puzzle solved: an SMS bill, and a phone's peace.
pub const PER_PHONE_DAY: Limit = Limit::new(20, 86_400);
pub const PER_IP_HOUR: Limit = Limit::new(40, 3_600);

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("rate limited for {0} s")]
    RateLimited(i64),
    /// The phone or the address is under attack: solve the puzzle first.
    #[error("a human check is needed")]
    HumanCheck,
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
    /// What this request answered to the slider puzzle.
    pub human: Answer,
    /// Signed in as the phone: counts as its known device, and an address busy with other
    /// people's codes does not ask it for a puzzle (its account answers for it).
    pub owner: bool,
}

/// Whether a code may go out now, from the codes sent to the phone (when, and at whose asking)
/// and from the address in the last day and hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Send,
    Wait(i64),
    HumanCheck,
}

/// The rule. A known device counts only its own codes against the phone; anyone else counts
/// everyone's, and past `CHECK_AFTER_PHONE_DAY` of them must solve a puzzle, which then spares
/// them the wait behind strangers' codes. Past `CHECK_AFTER_IP_HOUR` from one address, everyone
/// there solves one. The day and hour caps hold whatever is solved.
pub fn gate(to_phone: &[(i64, String)], from_ip: &[i64], asker: &Asker<'_>, known: bool, now: i64) -> Gate {
    let in_window = |at: i64, limit: Limit| at > now - limit.window_secs;
    let mine: Vec<i64> = to_phone.iter().filter(|(_, by)| *by == asker.browser).map(|(at, _)| *at).collect();
    let all: Vec<i64> = to_phone.iter().map(|(at, _)| *at).collect();
    let solved = asker.human == Answer::Solved;
    let counted = if known || solved { &mine } else { &all };
    let phone_attacked =
        !known && all.iter().filter(|at| in_window(**at, PER_PHONE_DAY)).count() >= CHECK_AFTER_PHONE_DAY;
    let ip_attacked =
        !asker.owner && from_ip.iter().filter(|at| in_window(**at, PER_IP_HOUR)).count() >= CHECK_AFTER_IP_HOUR;
    let wait = [
        PER_PHONE_MINUTE.retry_after(counted, now),
        PER_PHONE_DAY.retry_after(&all, now).filter(|_| !known),
        PER_PHONE_DAY.retry_after(&mine, now),
        PER_IP_HOUR.retry_after(from_ip, now),
    ]
    .into_iter()
    .flatten()
    .max();
    match wait {
        Some(secs) => Gate::Wait(secs),
        None if (phone_attacked || ip_attacked) && !solved => Gate::HumanCheck,
        None => Gate::Send,
    }
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
    let known = asker.owner
        || asker.device_cookie.as_deref().is_some_and(|c| {
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
    sms::insert_unless_limited(db, &new, |to_phone, from_ip| match gate(to_phone, from_ip, asker, known, now) {
        Gate::Send => Ok(()),
        Gate::Wait(secs) => Err(CodeError::RateLimited(secs)),
        Gate::HumanCheck => Err(CodeError::HumanCheck),
    })
    .await?;
    let message = crate::domain::sms::Message::new(crate::domain::sms::Kind::LoginCode, template, &[("code", &code)]);
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

    fn asker(browser: &str, human: Answer, owner: bool) -> Asker<'static> {
        Asker { ip: "203.0.113.9", browser: browser.into(), device_cookie: None, human, owner }
    }

    fn sent(times: &[i64], by: &str) -> Vec<(i64, String)> {
        times.iter().map(|t| (*t, by.to_string())).collect()
    }

    const NOW: i64 = 100_000;

    #[test]
    fn a_quiet_phone_waits_only_a_minute() {
        let me = asker("me", Answer::None, false);
        assert_eq!(gate(&[], &[], &me, false, NOW), Gate::Send);
        assert_eq!(gate(&sent(&[NOW - 10], "me"), &[], &me, false, NOW), Gate::Wait(50));
        assert_eq!(gate(&sent(&[NOW - 60], "me"), &[], &me, false, NOW), Gate::Send);
    }

    #[test]
    fn a_busy_phone_asks_strangers_for_the_puzzle() {
        let codes = sent(&[NOW - 3000, NOW - 2000, NOW - 1000], "stranger");
        assert_eq!(gate(&codes, &[], &asker("me", Answer::None, false), false, NOW), Gate::HumanCheck);
        assert_eq!(gate(&codes, &[], &asker("me", Answer::Missed, false), false, NOW), Gate::HumanCheck);
        assert_eq!(gate(&codes, &[], &asker("me", Answer::Solved, false), false, NOW), Gate::Send);
        // The phone's known device and its signed-in owner count only their own codes.
        assert_eq!(gate(&codes, &[], &asker("me", Answer::None, false), true, NOW), Gate::Send);
        // Yesterday's codes are forgotten.
        let old = sent(&[NOW - 90_000, NOW - 89_000, NOW - 88_000], "stranger");
        assert_eq!(gate(&old, &[], &asker("me", Answer::None, false), false, NOW), Gate::Send);
    }

    #[test]
    fn a_solved_puzzle_skips_the_strangers_minute_but_not_the_caps() {
        let solved = asker("me", Answer::Solved, false);
        let just_now = sent(&[NOW - 5, NOW - 4, NOW - 3], "stranger");
        assert_eq!(gate(&just_now, &[], &solved, false, NOW), Gate::Send);
        let mut mine = just_now.clone();
        mine.push((NOW - 2, "me".into()));
        assert!(matches!(gate(&mine, &[], &solved, false, NOW), Gate::Wait(58)));
        let day: Vec<i64> = (0..20).map(|i| NOW - 80_000 + i * 100).collect();
        assert!(matches!(gate(&sent(&day, "stranger"), &[], &solved, false, NOW), Gate::Wait(_)));
        // The known device is held only by its own day.
        assert_eq!(gate(&sent(&day, "stranger"), &[], &asker("me", Answer::None, false), true, NOW), Gate::Send);
        assert!(matches!(gate(&sent(&day, "me"), &[], &asker("me", Answer::None, false), true, NOW), Gate::Wait(_)));
    }

    #[test]
    fn a_busy_address_asks_everyone_there_but_the_owner() {
        let from_ip: Vec<i64> = (0..10).map(|i| NOW - 3000 + i * 60).collect();
        assert_eq!(gate(&[], &from_ip, &asker("me", Answer::None, false), false, NOW), Gate::HumanCheck);
        assert_eq!(gate(&[], &from_ip, &asker("me", Answer::None, false), true, NOW), Gate::HumanCheck);
        assert_eq!(gate(&[], &from_ip, &asker("me", Answer::None, true), true, NOW), Gate::Send);
        assert_eq!(gate(&[], &from_ip, &asker("me", Answer::Solved, false), false, NOW), Gate::Send);
        let cap: Vec<i64> = (0..40).map(|i| NOW - 3000 + i * 60).collect();
        assert!(matches!(gate(&[], &cap, &asker("me", Answer::Solved, false), false, NOW), Gate::Wait(_)));
    }

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
