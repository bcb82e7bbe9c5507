//! SHA256withRSA (PKCS#1 v1.5) signatures in base64, as WeChat Pay (SHA256-RSA2048) and
//! Alipay (RSA2) both use them, and the PEM keys they are made with.

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

pub fn sign(key: &RsaPrivateKey, message: &str) -> String {
    let signer = SigningKey::<Sha256>::new(key.clone());
    B64.encode(signer.sign(message.as_bytes()).to_bytes())
}

pub fn verify(key: &RsaPublicKey, message: &str, signature_b64: &str) -> bool {
    let Ok(bytes) = B64.decode(signature_b64.trim()) else { return false };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(message.as_bytes(), &signature).is_ok()
}

pub fn private_key_from_pem(pem: &str) -> anyhow::Result<RsaPrivateKey> {
    RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| anyhow!("not a PKCS#8 RSA private key: {e}"))
}

pub fn public_key_from_pem(pem: &str) -> anyhow::Result<RsaPublicKey> {
    RsaPublicKey::from_public_key_pem(pem).map_err(|e| anyhow!("not an RSA public key: {e}"))
}

pub fn public_key_to_pem(key: &RsaPublicKey) -> anyhow::Result<String> {
    key.to_public_key_pem(Default::default()).map_err(|e| anyhow!("{e}"))
}
