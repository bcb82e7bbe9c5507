//! The sync API's rules (docs/sync-api.md): how a request is signed, how old it may be, how big a
//! batch may be, and which event of a record is the newest.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Records in one request.
pub const MAX_RECORDS: usize = 1000;
/// A request signed longer ago than this (or this far in the future) is refused; nonces are kept
/// this long, so a replay is caught for as long as its timestamp would pass.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request is refused before any record is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MissingHeaders,
    UnknownKey,
    BadSignature,
    StaleTimestamp,
    ReusedNonce,
    BadNonce,
    NotJson,
    /// Text with a NUL character (`\u0000`): no name or id has one, and PostgreSQL cannot store it.
    NulCharacter,
    TooManyRecords,
    NoRecords,
}

impl Refusal {
    /// The error code in the JSON answer.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingHeaders => "missing_headers",
            Refusal::UnknownKey => "unknown_key",
            Refusal::BadSignature => "bad_signature",
            Refusal::StaleTimestamp => "stale_timestamp",
            Refusal::ReusedNonce => "reused_nonce",
            Refusal::BadNonce => "bad_nonce",
            Refusal::NotJson => "not_json",
            Refusal::NulCharacter => "nul_character",
            Refusal::TooManyRecords => "too_many_records",
            Refusal::NoRecords => "no_records",
        }
    }

    pub fn message(self) -> String {
        match self {
            Refusal::MissingHeaders => {
                "X-Kedian-Key, X-Kedian-Timestamp, X-Kedian-Nonce and X-Kedian-Signature are all required".into()
            }
            Refusal::UnknownKey => "no such key, or it was revoked".into(),
            Refusal::BadSignature => {
                "the signature does not match: HMAC-SHA256 over METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY, hex".into()
            }
            Refusal::StaleTimestamp => {
                format!("the timestamp is more than {MAX_SKEW_SECS} seconds from the shop's clock")
            }
            Refusal::ReusedNonce => "this nonce was already used: every request needs a new one".into(),
            Refusal::BadNonce => "the nonce must be 16 to 64 letters, digits, - or _".into(),
            Refusal::NotJson => "the body must be JSON: {\"records\": [...]}".into(),
            Refusal::NulCharacter => "text may not contain the NUL character (\\u0000)".into(),
            Refusal::TooManyRecords => format!("at most {MAX_RECORDS} records a request"),
            Refusal::NoRecords => "records is empty".into(),
        }
    }

    /// 401 for who is asking, 409 for a replay, 413 for size, 400 for the rest.
    pub fn status(self) -> u16 {
        match self {
            Refusal::UnknownKey | Refusal::BadSignature | Refusal::StaleTimestamp | Refusal::MissingHeaders => 401,
            Refusal::ReusedNonce => 409,
            Refusal::TooManyRecords => 413,
            Refusal::BadNonce | Refusal::NotJson | Refusal::NulCharacter | Refusal::NoRecords => 400,
        }
    }
}

/// What is signed: the method, the path (with its query, if any), the timestamp, the nonce and
/// the body, joined by newlines.
pub fn string_to_sign(method: &str, path: &str, timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 128);
    for part in [method.as_bytes(), path.as_bytes(), timestamp.as_bytes(), nonce.as_bytes()] {
        out.extend_from_slice(part);
        out.push(b'\n');
    }
    out.extend_from_slice(body);
    out
}

/// The signature a back end sends: lowercase hex of HMAC-SHA256 with the key's secret.
pub fn sign(secret: &str, message: &[u8]) -> String {
    // HMAC takes a key of any length: new_from_slice does not fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Compares in constant time.
pub fn verify(secret: &str, message: &[u8], signature_hex: &str) -> bool {
    let Ok(sent) = hex::decode(signature_hex.trim()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(message);
    mac.verify_slice(&sent).is_ok()
}

/// The timestamp header (unix seconds) is within the window around `now`.
pub fn fresh(timestamp: &str, now: i64) -> bool {
    timestamp.parse::<i64>().is_ok_and(|t| (t - now).abs() <= MAX_SKEW_SECS)
}

pub fn nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An event's time in milliseconds: unix seconds or milliseconds, or RFC 3339 (with its
/// fraction). Milliseconds keep two events in the same second in order.
pub fn event_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().ok()?;
        return Some(if n > 100_000_000_000 { n } else { n.checked_mul(1000)? });
    }
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Of two events of a record, does `incoming` replace `stored`? Only a strictly newer one: the
/// same event again (a retry) changes nothing.
pub fn replaces(stored: Option<i64>, incoming: i64) -> bool {
    stored.is_none_or(|s| incoming > s)
}

/// A key id and its secret, as the back office makes them: `sk_` and 16 hex digits, and 32
/// random bytes in hex.
pub fn new_key(rng: &mut impl rand::RngCore) -> (String, String) {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    (format!("sk_{}", hex::encode(id)), hex::encode(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_every_part() {
        let message = string_to_sign("POST", "/api/sync/v1/records", "1795260600", "n0nce-0000000001", b"{}");
        assert_eq!(message, b"POST\n/api/sync/v1/records\n1795260600\nn0nce-0000000001\n{}");
        let signature = sign("s3cret", &message);
        assert_eq!(signature.len(), 64);
        assert!(verify("s3cret", &message, &signature));
        assert!(verify("s3cret", &message, &signature.to_uppercase()), "hex in either case");
        assert!(!verify("other", &message, &signature), "another secret");
        for changed in [
            string_to_sign("PUT", "/api/sync/v1/records", "1795260600", "n0nce-0000000001", b"{}"),
            string_to_sign("POST", "/api/sync/v1/recordz", "1795260600", "n0nce-0000000001", b"{}"),
            string_to_sign("POST", "/api/sync/v1/records", "1795260601", "n0nce-0000000001", b"{}"),
            string_to_sign("POST", "/api/sync/v1/records", "1795260600", "n0nce-0000000002", b"{}"),
            string_to_sign("POST", "/api/sync/v1/records", "1795260600", "n0nce-0000000001", b"{ }"),
        ] {
            assert!(!verify("s3cret", &changed, &signature));
        }
        assert!(!verify("s3cret", &message, "zz"), "not hex");
        assert!(!verify("s3cret", &message, ""));
    }

    #[test]
    fn the_window_is_five_minutes_either_way() {
        let now = 1_795_260_600;
        assert!(fresh("1795260600", now));
        assert!(fresh(&(now - 300).to_string(), now));
        assert!(!fresh(&(now - 301).to_string(), now));
        assert!(fresh(&(now + 300).to_string(), now));
        assert!(!fresh(&(now + 301).to_string(), now));
        assert!(!fresh("soon", now));
        assert!(!fresh("1795260600000", now), "seconds, not milliseconds");
    }

    #[test]
    fn nonces_and_events() {
        assert!(nonce_ok("0123456789abcdef"));
        assert!(!nonce_ok("short"));
        assert!(!nonce_ok("0123456789abcdef 0"));
        assert!(!nonce_ok(&"a".repeat(65)));
        assert_eq!(event_millis("1795260600"), Some(1_795_260_600_000));
        assert_eq!(event_millis("1795260600123"), Some(1_795_260_600_123));
        assert_eq!(event_millis("2026-11-21T19:30:00.250+08:00"), Some(1_795_260_600_250));
        assert_eq!(event_millis("2026-11-21 19:30"), None, "a sync event carries its zone");
        assert_eq!(event_millis(""), None);
        assert!(replaces(None, 1));
        assert!(replaces(Some(1), 2));
        assert!(!replaces(Some(2), 2), "the same event again");
        assert!(!replaces(Some(2), 1), "an older one");
    }

    #[test]
    fn keys_are_new_each_time() {
        let mut rng = rand::thread_rng();
        let (id, secret) = new_key(&mut rng);
        assert!(id.starts_with("sk_") && id.len() == 19);
        assert_eq!(secret.len(), 64);
        assert_ne!(new_key(&mut rng), (id, secret));
        for r in [Refusal::BadSignature, Refusal::ReusedNonce, Refusal::TooManyRecords, Refusal::NotJson] {
            assert!((400..500).contains(&r.status()));
        }
    }
}
