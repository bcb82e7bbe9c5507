//! Redeem codes (兑换码): what a code looks like, how a batch's codes are derived, whether a code
//! may open its course now, and the staff form for a batch.
//!
//! A code is 16 characters from 32 (no 0/O, 1/I): 80 bits, read aloud and typed on a phone in
//! four groups (`7KQM-X3PD-…`). Guessing is hopeless: with a million codes out, one guess in
//! 2^60 hits, and each account and address gets a few guesses an hour.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::coupon_form::parse_window;
use super::course_form::FieldError;
use super::time::shanghai_datetime_value;

pub const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
pub const CODE_CHARS: usize = 16;
/// The most codes one batch makes.
pub const MAX_BATCH: i64 = 100_000;

/// Code number `seq` of batch `batch`, derived from the shop's key: the same key always gives the
/// same codes, so the database keeps only their hashes.
pub fn derive_code(key: &[u8], batch: i64, seq: i64) -> String {
    let digest = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(format!("redeem:{batch}:{seq}").as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes a key of any length; this arm is never taken.
        Err(_) => Sha256::digest(format!("redeem:{batch}:{seq}")).to_vec(),
    };
    // 80 bits, five at a time.
    let bits = digest[..10].iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    (0..CODE_CHARS).map(|i| char::from(ALPHABET[((bits >> (75 - 5 * i)) & 31) as usize])).collect()
}

/// `7KQMX3PD…` as it is printed: four groups of four.
pub fn grouped(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// What a learner typed, as a code: capitals, without spaces or dashes; None when it cannot be
/// one (wrong length, or a character codes never have).
pub fn normalize(input: &str) -> Option<String> {
    let code: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The hash a code is stored and looked up by.
pub fn hash(code: &str) -> String {
    super::text::hex_lower(&Sha256::digest(code.as_bytes()))
}

/// A code and its batch as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeState {
    pub valid_from: i64,
    pub valid_until: i64,
    pub batch_disabled: bool,
    pub code_disabled: bool,
    pub redeemed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemError {
    /// Not a code's shape, or no such code.
    Unknown,
    Used,
    Disabled,
    NotStarted,
    Expired,
    /// The learner has the course already: the code stays unused for someone else.
    Owned,
}

impl RedeemError {
    pub fn message_key(self) -> &'static str {
        match self {
            RedeemError::Unknown => "redeem_unknown",
            RedeemError::Used => "redeem_used",
            RedeemError::Disabled => "redeem_disabled",
            RedeemError::NotStarted => "redeem_not_started",
            RedeemError::Expired => "redeem_expired",
            RedeemError::Owned => "redeem_owned",
        }
    }
}

/// Whether the code may open its course at `now`. A used code says so before anything else: its
/// owner may be checking it; a disabled one before its dates.
pub fn check(code: &CodeState, now: i64) -> Result<(), RedeemError> {
    if code.redeemed {
        Err(RedeemError::Used)
    } else if code.batch_disabled || code.code_disabled {
        Err(RedeemError::Disabled)
    } else if now < code.valid_from {
        Err(RedeemError::NotStarted)
    } else if now >= code.valid_until {
        Err(RedeemError::Expired)
    } else {
        Ok(())
    }
}

/// The batch form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawBatch {
    pub course: String,
    pub quantity: String,
    pub channel: String,
    pub valid_from: String,
    pub valid_until: String,
}

impl RawBatch {
    /// A new batch's defaults: valid for a year from now.
    pub fn blank(now: i64) -> RawBatch {
        RawBatch {
            quantity: "100".into(),
            valid_from: shanghai_datetime_value(now),
            valid_until: shanghai_datetime_value(now + 365 * 86_400),
            ..RawBatch::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInput {
    pub quantity: i64,
    pub channel: String,
    pub valid_from: i64,
    pub valid_until: i64,
}

/// The batch's numbers and words (the course is checked against the catalog by the caller).
pub fn parse_batch(raw: &RawBatch, now: i64) -> Result<BatchInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let quantity = raw.quantity.trim().parse::<i64>().ok().filter(|n| (1..=MAX_BATCH).contains(n));
    if quantity.is_none() {
        errors.push(("quantity", "err_redeem_quantity"));
    }
    let channel = raw.channel.trim().to_string();
    if channel.is_empty() {
        errors.push(("channel", "err_required"));
    } else if channel.chars().count() > 20 {
        errors.push(("channel", "err_too_long"));
    } else if channel.chars().any(char::is_control) {
        errors.push(("channel", "err_invalid_chars"));
    }
    let window = parse_window(&raw.valid_from, &raw.valid_until, now, true, &mut errors);
    match (quantity, window) {
        (Some(quantity), Some((valid_from, valid_until))) if errors.is_empty() => {
            Ok(BatchInput { quantity, channel, valid_from, valid_until })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn codes_are_derived_readable_and_distinct() {
        let a = derive_code(b"key", 1, 0);
        assert_eq!(a.len(), CODE_CHARS);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)), "{a}");
        assert!(!a.contains(['0', 'O', '1', 'I']));
        assert_eq!(a, derive_code(b"key", 1, 0), "the same key gives the same code");
        assert_ne!(a, derive_code(b"other key", 1, 0));
        assert_ne!(a, derive_code(b"key", 2, 0));
        let many: std::collections::HashSet<String> = (0..10_000).map(|seq| derive_code(b"key", 1, seq)).collect();
        assert_eq!(many.len(), 10_000);
    }

    #[test]
    fn typing_a_code() {
        let code = derive_code(b"key", 7, 3);
        let printed = grouped(&code);
        assert_eq!(printed.len(), 19);
        assert_eq!(printed.matches('-').count(), 3);
        assert_eq!(normalize(&printed), Some(code.clone()));
        assert_eq!(normalize(&format!(" {} ", printed.to_lowercase().replace('-', " "))), Some(code.clone()));
        assert_eq!(normalize(&code[..15]), None, "too short");
        assert_eq!(normalize(&format!("{code}2")), None, "too long");
        assert_eq!(normalize("0000-OOOO-1111-IIII"), None, "characters codes never have");
        assert_eq!(normalize("兑换码兑换码兑换码兑换码兑换码兑换"), None);
        assert_eq!(hash(&code), hash(&normalize(&printed).unwrap_or_default()));
        assert_eq!(hash(&code).len(), 64);
    }

    #[test]
    fn when_a_code_opens_its_course() {
        let fresh = CodeState {
            valid_from: NOW - 10,
            valid_until: NOW + 10,
            batch_disabled: false,
            code_disabled: false,
            redeemed: false,
        };
        assert_eq!(check(&fresh, NOW), Ok(()));
        assert_eq!(check(&fresh, NOW - 10), Ok(()), "from its first second");
        assert_eq!(check(&fresh, NOW - 11), Err(RedeemError::NotStarted));
        assert_eq!(check(&fresh, NOW + 10), Err(RedeemError::Expired), "until, not through, its end");
        assert_eq!(check(&CodeState { batch_disabled: true, ..fresh }, NOW), Err(RedeemError::Disabled));
        assert_eq!(check(&CodeState { code_disabled: true, ..fresh }, NOW + 99), Err(RedeemError::Disabled));
        let used = CodeState { redeemed: true, code_disabled: true, ..fresh };
        assert_eq!(check(&used, NOW + 99), Err(RedeemError::Used), "used says so first");
    }

    #[test]
    fn the_batch_form() {
        let raw = RawBatch {
            course: "3".into(),
            quantity: "100000".into(),
            channel: " 淘宝 ".into(),
            valid_from: String::new(),
            valid_until: shanghai_datetime_value(NOW + 86_400),
        };
        assert_eq!(
            parse_batch(&raw, NOW),
            Ok(BatchInput { quantity: 100_000, channel: "淘宝".into(), valid_from: NOW, valid_until: NOW + 86_400 })
        );
        let fields = |r: RawBatch| {
            parse_batch(&r, NOW).err().unwrap_or_default().into_iter().map(|(f, _)| f).collect::<Vec<_>>()
        };
        assert_eq!(fields(RawBatch { quantity: "0".into(), ..raw.clone() }), ["quantity"]);
        assert_eq!(fields(RawBatch { quantity: "100001".into(), ..raw.clone() }), ["quantity"]);
        assert_eq!(fields(RawBatch { quantity: "1e3".into(), ..raw.clone() }), ["quantity"]);
        assert_eq!(fields(RawBatch { channel: " ".into(), ..raw.clone() }), ["channel"]);
        assert_eq!(fields(RawBatch { channel: "渠".repeat(21), ..raw.clone() }), ["channel"]);
        assert_eq!(fields(RawBatch { valid_until: shanghai_datetime_value(NOW), ..raw.clone() }), ["valid_until"]);
        assert_eq!(fields(RawBatch { valid_from: "x".into(), ..raw.clone() }), ["valid_from"]);
        assert_eq!(fields(RawBatch::default()), ["quantity", "channel", "valid_until"]);
    }
}
