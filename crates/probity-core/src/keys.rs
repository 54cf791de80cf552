//! Ed25519 keys: strict public keys, key ids, signing keys, and strict verification.
//!
//! "Strict" means what RFC 8032 leaves open is closed: a public key must be canonically
//! encoded and not of small order; a signature's `S` must be below the group order and its `R`
//! canonical and not of small order (`verify_strict`). That removes signature malleability,
//! so one event has exactly one valid signature per key.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature as DalekSignature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::Hash;

/// Why a key or signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not base64 of exactly 32 bytes.
    #[error("public key is not base64 of 32 bytes")]
    PublicKeyEncoding,
    /// Not a point on the curve, or a non-canonical encoding of one.
    #[error("public key is not a canonically encoded curve point")]
    PublicKeyNotCanonical,
    /// A small-order point, which would let anyone forge signatures that verify.
    #[error("public key is a small-order (weak) point")]
    PublicKeyWeak,
    /// Not base64 of exactly 64 bytes.
    #[error("signature is not base64 of 64 bytes")]
    SignatureEncoding,
    /// The signature does not verify strictly under the key.
    #[error("signature does not verify (strict Ed25519)")]
    BadSignature,
    /// Not hex of 16 bytes.
    #[error("key id is not 32 lowercase hex characters")]
    KeyIdEncoding,
    /// Not hex of 32 bytes.
    #[error("secret key seed is not 64 hex characters")]
    SeedEncoding,
}

/// A verified Ed25519 public key: canonical encoding, not of small order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Accepts 32 bytes that encode a canonical, non-small-order point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        // Decoding a point costs a field square root (~10 µs), paid for every event body parsed
        // — yet a ledger has few signers. Keys already accepted on this thread are reused.
        thread_local! {
            static ACCEPTED: RefCell<HashMap<[u8; 32], PublicKey>> = RefCell::new(HashMap::new());
        }
        const MOST_REMEMBERED: usize = 1024;
        if let Some(key) = ACCEPTED.with(|accepted| accepted.borrow().get(bytes).copied()) {
            return Ok(key);
        }
        let key = PublicKey::decode(bytes)?;
        ACCEPTED.with(|accepted| {
            let mut accepted = accepted.borrow_mut();
            if accepted.len() >= MOST_REMEMBERED {
                accepted.clear();
            }
            accepted.insert(*bytes, key);
        });
        Ok(key)
    }

    fn decode(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        // Canonical means y < p = 2^255 - 19 (the sign bit aside). Checked on the bytes: cheaper
        // than re-compressing the decoded point, and the same answer (the only other
        // non-canonical encodings, x = 0 with the sign bit set, are small-order points,
        // refused below).
        if !y_is_canonical(bytes) {
            return Err(KeyError::PublicKeyNotCanonical);
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::PublicKeyNotCanonical)?;
        if key.is_weak() {
            return Err(KeyError::PublicKeyWeak);
        }
        Ok(PublicKey(key))
    }

    /// Parses standard base64 (with padding) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = B64.decode(text).map_err(|_| KeyError::PublicKeyEncoding)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::PublicKeyEncoding)?;
        PublicKey::from_bytes(&bytes)
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Standard base64 with padding, as written in JSON.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_bytes())
    }

    /// This key's id (see [`KeyId`]).
    pub fn key_id(&self) -> KeyId {
        KeyId::of(self)
    }

    /// Strict Ed25519 verification of `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        self.0
            .verify_strict(message, &DalekSignature::from_bytes(&signature.0))
            .map_err(|_| KeyError::BadSignature)
    }
}

/// Whether the little-endian y coordinate (bit 255, the sign of x, cleared) is below p.
fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    // p = 2^255 - 19: little-endian ed ff ff … ff 7f. y >= p exactly when the top 31 bytes are
    // all 0xff (0x7f for the last, sign bit cleared) and the lowest byte is >= 0xed.
    let top = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff);
    !(top && bytes[0] >= 0xed)
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PublicKey::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// A 64-byte Ed25519 signature, as bytes; checked only when verified.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Parses standard base64 (with padding) of 64 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = B64.decode(text).map_err(|_| KeyError::SignatureEncoding)?;
        bytes
            .try_into()
            .map(Signature)
            .map_err(|_| KeyError::SignatureEncoding)
    }

    /// Standard base64 with padding.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64())
    }
}

/// A short, stable name for a public key: the first 16 bytes of
/// `SHA-256("probity/key-id/v1\n" || public key)`, written as 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// Domain separation tag of key ids.
    pub const DOMAIN: &'static [u8] = b"probity/key-id/v1\n";

    /// The id of `key`.
    pub fn of(key: &PublicKey) -> KeyId {
        let digest = Hash::digest_parts(&[Self::DOMAIN, key.0.as_bytes()]);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.0[..16]);
        KeyId(id)
    }

    /// Parses 32 lowercase hex characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        if text.len() != 32 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(KeyError::KeyIdEncoding);
        }
        let mut id = [0u8; 16];
        hex::decode_to_slice(text, &mut id).map_err(|_| KeyError::KeyIdEncoding)?;
        Ok(KeyId(id))
    }

    /// 32 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        KeyId::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signing key. Its `Debug` shows only the public half; it is never serialized.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// From a 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// From 64 hex characters of seed, the content of a private key file.
    pub fn from_seed_hex(text: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyError::SeedEncoding)?;
        Ok(SecretKey::from_seed(&seed))
    }

    /// The 32-byte seed (an ML-DSA-44 witness key is expanded from the same seed a key file
    /// holds).
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The seed as 64 hex characters, for writing a private key file (mode 0600).
    pub fn to_seed_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        SecretKey(SigningKey::generate(rng))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message` (deterministic Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public: {})", self.public_key().to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject_other_message() {
        let key = SecretKey::from_seed(&[7; 32]);
        let sig = key.sign(b"hello");
        assert_eq!(key.public_key().verify(b"hello", &sig), Ok(()));
        assert_eq!(
            key.public_key().verify(b"hellO", &sig),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn small_order_public_key_is_rejected() {
        // The identity point (y = 1) has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(&identity),
            Err(KeyError::PublicKeyWeak)
        );
    }

    #[test]
    fn non_canonical_public_key_is_rejected() {
        // y = p + 1 (non-canonical encoding of y = 1).
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xee;
        bytes[31] = 0x7f;
        assert_eq!(
            PublicKey::from_bytes(&bytes),
            Err(KeyError::PublicKeyNotCanonical)
        );
    }

    #[test]
    fn byte_check_accepts_exactly_what_recompression_accepts() {
        // The old, slow definition: decodes, re-encodes to the same bytes, not small-order.
        let by_recompression = |bytes: &[u8; 32]| {
            VerifyingKey::from_bytes(bytes)
                .is_ok_and(|k| k.to_edwards().compress().to_bytes() == *bytes && !k.is_weak())
        };
        let mut cases = Vec::new();
        // Every y from p - 21 to 2^255 - 1 (the non-canonical band and its edge), both signs.
        for low in 0xeau8..=0xffu8 {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = low;
                bytes[31] = 0x7f | sign;
                cases.push(bytes);
            }
        }
        // y = 0 and y = 1 with either sign, and real keys with the sign flipped.
        for y in [0u8, 1] {
            for sign in [0u8, 0x80] {
                let mut bytes = [0u8; 32];
                bytes[0] = y;
                bytes[31] = sign;
                cases.push(bytes);
            }
        }
        for seed in 0..32u8 {
            let mut bytes = SecretKey::from_seed(&[seed; 32]).public_key().to_bytes();
            cases.push(bytes);
            bytes[31] ^= 0x80;
            cases.push(bytes);
        }
        for bytes in cases {
            assert_eq!(
                PublicKey::from_bytes(&bytes).is_ok(),
                by_recompression(&bytes),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn debug_of_secret_key_hides_the_seed() {
        let key = SecretKey::from_seed(&[9; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_seed_hex()));
    }
}
