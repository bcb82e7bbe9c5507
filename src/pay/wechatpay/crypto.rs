//! The cryptography of WeChat Pay API v3: SHA256-RSA2048 (PKCS#1 v1.5) signatures over
//! newline-joined messages, and AEAD_AES_256_GCM for notification resources.

pub use crate::pay::signing::{private_key_from_pem, public_key_from_pem, sign, verify};

use crate::pay::signing::{PublicKey, public_key_from_spki_der};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// `a\nb\nc\n`: the message layout every v3 signature covers.
pub fn message(parts: &[&str]) -> String {
    let mut m = String::new();
    for part in parts {
        m.push_str(part);
        m.push('\n');
    }
    m
}

/// The serial number (upper-case hex, as WeChat Pay writes it) and RSA key of a certificate.
pub fn certificate_from_pem(pem: &str) -> anyhow::Result<(String, PublicKey)> {
    let cert = Certificate::from_pem(pem.as_bytes()).map_err(|e| anyhow!("not an X.509 certificate: {e}"))?;
    let serial = hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes());
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().context("certificate key")?;
    let key = public_key_from_spki_der(&spki).context("certificate key is not RSA")?;
    Ok((serial, key))
}

/// Decrypts a notification resource (ciphertext with its 16-byte tag, base64).
pub fn decrypt_resource(
    api_v3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> anyhow::Result<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(api_v3_key).map_err(|_| anyhow!("APIv3 key must be 32 bytes"))?;
    if nonce.len() != 12 {
        return Err(anyhow!("nonce must be 12 bytes"));
    }
    let ciphertext = B64.decode(ciphertext_b64).context("ciphertext is not base64")?;
    cipher
        .decrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: &ciphertext, aad: associated_data.as_bytes() })
        .map_err(|_| anyhow!("resource does not decrypt with the APIv3 key"))
}

/// The gateway's side of `decrypt_resource` (used by the simulator).
pub fn encrypt_resource(
    api_v3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> anyhow::Result<String> {
    let cipher = Aes256Gcm::new_from_slice(api_v3_key).map_err(|_| anyhow!("APIv3 key must be 32 bytes"))?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: plaintext, aad: associated_data.as_bytes() })
        .map_err(|_| anyhow!("encryption failed"))?;
    Ok(B64.encode(sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MERCHANT_KEY: &str = include_str!("../../../tests/fixtures/wechatpay/merchant_key.pem");
    const MERCHANT_PUB: &str = include_str!("../../../tests/fixtures/wechatpay/merchant_pub.pem");
    const PLATFORM_CERT: &str = include_str!("../../../tests/fixtures/wechatpay/platform_cert.pem");
    const PLATFORM_PUB: &str = include_str!("../../../tests/fixtures/wechatpay/platform_pub.pem");

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let key = private_key_from_pem(MERCHANT_KEY).unwrap();
        let public = public_key_from_pem(MERCHANT_PUB).unwrap();
        let m =
            message(&["POST", "/v3/pay/transactions/native", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", "{}"]);
        assert!(m.ends_with("{}\n") && m.matches('\n').count() == 5);
        let sig = sign(&key, &m);
        assert!(verify(&public, &m, &sig));
        assert!(!verify(&public, &m.replace("{}", "{ }"), &sig));
        assert!(!verify(&public, &m, "not base64!"));
        assert!(!verify(&public, &m, &B64.encode([0u8; 256])));
    }

    #[test]
    fn certificate_serial_and_key() {
        let (serial, key) = certificate_from_pem(PLATFORM_CERT).unwrap();
        assert_eq!(serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
        assert_eq!(key, public_key_from_pem(PLATFORM_PUB).unwrap());
        assert!(certificate_from_pem(MERCHANT_PUB).is_err());
    }

    #[test]
    fn resources_round_trip_and_tampering_fails() {
        let key = [7u8; 32];
        let sealed = encrypt_resource(&key, "abcdefghijkl", "transaction", b"{\"a\":1}").unwrap();
        assert_eq!(decrypt_resource(&key, "abcdefghijkl", "transaction", &sealed).unwrap(), b"{\"a\":1}");
        assert!(decrypt_resource(&key, "abcdefghijkl", "other", &sealed).is_err(), "associated data is bound");
        assert!(decrypt_resource(&[8u8; 32], "abcdefghijkl", "transaction", &sealed).is_err());
        assert!(decrypt_resource(&key, "short", "transaction", &sealed).is_err());
    }
}
