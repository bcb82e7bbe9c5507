//! SHA256withRSA (PKCS#1 v1.5) signatures in base64, as WeChat Pay (SHA256-RSA2048) and
//! Alipay (RSA2) both use them, and the PEM keys they are made with.
//!
//! ring does the RSA: constant-time private-key operations (the `rsa` crate's are not:
//! RUSTSEC-2023-0071, the Marvin attack). PEM and SubjectPublicKeyInfo parsing stay with the
//! `der`/`spki` crates that already parse the platform certificate.

use std::sync::Arc;

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::rsa::KeyPair;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey};
use x509_cert::der::asn1::UintRef;
use x509_cert::der::{Decode, Reader, SliceReader, pem};
use x509_cert::spki::SubjectPublicKeyInfoRef;

/// rsaEncryption (1.2.840.113549.1.1.1), the only key algorithm the gateways use.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// An RSA private key (2048 bits or more).
#[derive(Clone)]
pub struct PrivateKey(Arc<KeyPair>);

/// An RSA public key, kept as its PKCS#1 `RSAPublicKey` DER.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(Vec<u8>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} bytes)", self.0.len())
    }
}

pub fn sign(key: &PrivateKey, message: &str) -> String {
    let mut signature = vec![0u8; key.0.public().modulus_len()];
    // Fails only when the buffer has the wrong length or the system RNG is gone (for blinding).
    if let Err(e) = key.0.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message.as_bytes(), &mut signature) {
        tracing::error!(error = %e, "RSA signing failed");
        return String::new();
    }
    B64.encode(signature)
}

pub fn verify(key: &PublicKey, message: &str, signature_b64: &str) -> bool {
    let Ok(signature) = B64.decode(signature_b64.trim()) else { return false };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.0).verify(message.as_bytes(), &signature).is_ok()
}

/// A PKCS#8 (`BEGIN PRIVATE KEY`) PEM, as both gateways' tools write them.
pub fn private_key_from_pem(pem_text: &str) -> anyhow::Result<PrivateKey> {
    let (label, der) = pem::decode_vec(pem_text.trim().as_bytes()).map_err(|e| anyhow!("not a PEM file: {e}"))?;
    if label != "PRIVATE KEY" {
        return Err(anyhow!("not a PKCS#8 RSA private key: the PEM is labelled {label}"));
    }
    let pair = KeyPair::from_pkcs8(&der).map_err(|e| anyhow!("not a PKCS#8 RSA private key: {e}"))?;
    Ok(PrivateKey(Arc::new(pair)))
}

/// A `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) PEM.
pub fn public_key_from_pem(pem_text: &str) -> anyhow::Result<PublicKey> {
    let (label, der) = pem::decode_vec(pem_text.trim().as_bytes()).map_err(|e| anyhow!("not a PEM file: {e}"))?;
    if label != "PUBLIC KEY" {
        return Err(anyhow!("not an RSA public key: the PEM is labelled {label}"));
    }
    public_key_from_spki_der(&der)
}

/// A SubjectPublicKeyInfo in DER (a certificate's key, or a decoded `PUBLIC KEY` PEM).
pub fn public_key_from_spki_der(der: &[u8]) -> anyhow::Result<PublicKey> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| anyhow!("not an RSA public key: {e}"))?;
    if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
        return Err(anyhow!("not an RSA public key: algorithm {}", spki.algorithm.oid));
    }
    let pkcs1 = spki.subject_public_key.as_bytes().ok_or_else(|| anyhow!("RSA public key has unused bits"))?;
    // Checked now, not at the first notification: ring only parses it when verifying.
    check_rsa_public_key(pkcs1)?;
    Ok(PublicKey(pkcs1.to_vec()))
}

/// A PKCS#1 `RSAPublicKey` (modulus and exponent) within ring's size bounds.
fn check_rsa_public_key(pkcs1: &[u8]) -> anyhow::Result<()> {
    let parse = || -> x509_cert::der::Result<(UintRef<'_>, UintRef<'_>)> {
        let mut reader = SliceReader::new(pkcs1)?;
        let parts = reader.sequence(|r| Ok((UintRef::decode(r)?, UintRef::decode(r)?)))?;
        reader.finish(parts)
    };
    let (modulus, exponent) = parse().map_err(|e| anyhow!("not an RSA public key: {e}"))?;
    let bits = modulus.as_bytes().len() * 8;
    if !(2048..=8192).contains(&bits) || exponent.as_bytes().is_empty() {
        return Err(anyhow!("an RSA public key of {bits} bits is outside 2048..8192"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_KEY: &str = include_str!("../../tests/fixtures/alipay/app_private_key.pem");
    const APP_PUB: &str = include_str!("../../tests/fixtures/alipay/app_public_key.pem");
    const OTHER_PUB: &str = include_str!("../../tests/fixtures/alipay/alipay_public_key.pem");

    #[test]
    fn signs_deterministically_and_verifies_only_with_the_matching_key() {
        let key = private_key_from_pem(APP_KEY).unwrap();
        let public = public_key_from_pem(APP_PUB).unwrap();
        let signature = sign(&key, "a=1&b=2");
        // PKCS#1 v1.5 is deterministic: the same message gives the same signature.
        assert_eq!(signature, sign(&key, "a=1&b=2"));
        assert!(verify(&public, "a=1&b=2", &signature));
        assert!(!verify(&public, "a=1&b=3", &signature));
        assert!(!verify(&public_key_from_pem(OTHER_PUB).unwrap(), "a=1&b=2", &signature));
        assert!(!verify(&public, "a=1&b=2", ""));
    }

    #[test]
    fn refuses_what_is_not_an_rsa_key_of_the_right_kind() {
        assert!(private_key_from_pem(APP_PUB).is_err());
        assert!(public_key_from_pem(APP_KEY).is_err());
        assert!(public_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
        assert!(private_key_from_pem("not a pem").is_err());
    }
}
