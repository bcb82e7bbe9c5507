//! Staff second factor: TOTP (RFC 6238, 6 digits, 30 s, SHA-1 as authenticator apps expect) and
//! single-use recovery codes. Secrets are sealed with AES-256-GCM under a key derived from the
//! master key, so a copy of the database alone does not give them away.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::domain::staff::normalize_recovery_code;
use crate::pay::wechatpay::crypto::{decrypt_resource, encrypt_resource};

const STEP_SECS: i64 = 30;
pub const RECOVERY_CODES: usize = 10;

/// A new random secret (160 bits), base32 as authenticator apps show it.
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret_b32: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECS as u64, bytes).ok()
}

/// The time step a code belongs to, if it is right for now (one step of clock drift either way)
/// and newer than `last_step`: a code is good once.
pub fn accept(secret_b32: &str, code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret_b32)?;
    let current = now / STEP_SECS;
    (current - 1..=current + 1).filter(|step| *step > last_step).find(|step| {
        let expected = totp.generate((*step * STEP_SECS) as u64);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
    })
}

/// What the QR code holds: `otpauth://totp/<issuer>:<account>?secret=…&issuer=…`.
pub fn otpauth_url(secret_b32: &str, issuer: &str, account: &str) -> String {
    let label = format!("{issuer}:{account}");
    let query = serde_urlencoded::to_string([
        ("secret", secret_b32),
        ("issuer", issuer),
        ("algorithm", "SHA1"),
        ("digits", "6"),
        ("period", "30"),
    ])
    .unwrap_or_default();
    format!("otpauth://totp/{}?{query}", urlencode_path(&label))
}

fn urlencode_path(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap_or_default().trim_start_matches('=').replace('+', "%20")
}

/// The QR code as an SVG data URL, for an `<img>` (the page's CSP allows `data:` images).
pub fn qr_data_url(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
    Some(format!("data:image/svg+xml;base64,{}", B64.encode(svg)))
}

/// Seals a secret for storage; `context` (the user id) binds it to its row.
pub fn seal(key: &[u8], context: &str, secret_b32: &str) -> anyhow::Result<String> {
    let nonce: String = rand::thread_rng().sample_iter(&Alphanumeric).take(12).map(char::from).collect();
    let sealed = encrypt_resource(key, &nonce, context, secret_b32.as_bytes())?;
    Ok(format!("{nonce}:{sealed}"))
}

pub fn open(key: &[u8], context: &str, stored: &str) -> anyhow::Result<String> {
    let (nonce, sealed) = stored.split_once(':').ok_or_else(|| anyhow::anyhow!("sealed secret without nonce"))?;
    let plain = decrypt_resource(key, nonce, context, sealed)?;
    Ok(String::from_utf8(plain)?)
}

/// Ten codes like `k3m9-x2q7-pd`, shown once; 50 bits each.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw: String = (0..10).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
            format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..])
        })
        .collect()
}

/// Recovery codes are random and long, so a plain SHA-256 is enough to keep them unreadable.
pub fn recovery_code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalize_recovery_code(code).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn code_at(t: i64) -> String {
        totp(SECRET).map(|t2| t2.generate(t as u64)).unwrap_or_default()
    }

    #[test]
    fn accepts_the_current_code_once_and_tolerates_one_step_of_drift() {
        let now = 1_800_000_015;
        let step = now / 30;
        assert_eq!(accept(SECRET, &code_at(now), now, 0), Some(step));
        assert_eq!(accept(SECRET, &code_at(now), now, step), None, "replayed");
        assert_eq!(accept(SECRET, &code_at(now - 30), now, 0), Some(step - 1));
        assert_eq!(accept(SECRET, &code_at(now + 30), now, step), Some(step + 1));
        assert_eq!(accept(SECRET, &code_at(now - 90), now, 0), None, "too old");
        assert_eq!(accept(SECRET, "12345", now, 0), None);
        assert_eq!(accept(SECRET, "abcdef", now, 0), None);
    }

    #[test]
    fn known_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59: 94287082 (8 digits) → 287082 with 6.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        assert_eq!(accept(&secret, "287082", 59, 0), Some(1));
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_row() {
        let key = [7u8; 32];
        let sealed = seal(&key, "user:1", SECRET).unwrap();
        assert_ne!(sealed, SECRET);
        assert_eq!(open(&key, "user:1", &sealed).unwrap(), SECRET);
        assert!(open(&key, "user:2", &sealed).is_err());
        assert!(open(&[8u8; 32], "user:1", &sealed).is_err());
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_forgivingly() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(recovery_code_hash(code), recovery_code_hash(&code.to_uppercase().replace('-', " ")));
    }

    #[test]
    fn otpauth_url_names_issuer_and_account() {
        let url = otpauth_url(SECRET, "课店", "138****0000");
        assert!(url.starts_with("otpauth://totp/"));
        assert!(url.contains(&format!("secret={SECRET}")));
        assert!(qr_data_url(&url).is_some_and(|d| d.starts_with("data:image/svg+xml;base64,")));
    }
}
