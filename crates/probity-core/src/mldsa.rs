//! ML-DSA-44 (FIPS 204) for witness cosignatures, as C2SP `tlog-cosignature` defines them
//! (signature type 0x06): the public key is its 1,312-byte encoding, a signature 2,420 bytes,
//! made over the `subtree/v1` message with an empty context string. The arithmetic is the
//! RustCrypto `ml-dsa` crate's; this module only fixes the encodings and the message.

use ml_dsa::{EncodedSignature, EncodedVerifyingKey, ExpandedSigningKey, MlDsa44, VerifyingKey};

use crate::hash::Hash;

/// Length of an encoded ML-DSA-44 public key.
pub const PUBLIC_KEY_LEN: usize = 1312;
/// Length of an ML-DSA-44 signature.
pub const SIGNATURE_LEN: usize = 2420;

/// An ML-DSA-44 public key, kept as its encoding (what key ids and vkeys are made of).
#[derive(Clone, PartialEq, Eq)]
pub struct MlDsa44PublicKey(Box<[u8; PUBLIC_KEY_LEN]>);

impl std::fmt::Debug for MlDsa44PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlDsa44PublicKey({}…)", hex::encode(&self.0[..8]))
    }
}

impl MlDsa44PublicKey {
    /// A key from its encoding; `None` unless it is exactly [`PUBLIC_KEY_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; PUBLIC_KEY_LEN] = bytes.try_into().ok()?;
        Some(MlDsa44PublicKey(Box::new(array)))
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..]
    }

    /// Verifies `signature` over `message` (empty context).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(encoded) = EncodedVerifyingKey::<MlDsa44>::try_from(&self.0[..]) else {
            return false;
        };
        let key = VerifyingKey::<MlDsa44>::decode(&encoded);
        let Ok(encoded) = EncodedSignature::<MlDsa44>::try_from(signature) else {
            return false;
        };
        let Some(signature) = ml_dsa::Signature::<MlDsa44>::decode(&encoded) else {
            return false;
        };
        key.verify_with_context(message, &[], &signature)
    }
}

/// An ML-DSA-44 private key, expanded from a 32-byte seed (FIPS 204 `ML-DSA.KeyGen_internal`):
/// a witness's key file holds the seed, as an Ed25519 key file does.
pub struct MlDsa44SecretKey(Box<ExpandedSigningKey<MlDsa44>>);

impl std::fmt::Debug for MlDsa44SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MlDsa44SecretKey(…)")
    }
}

impl MlDsa44SecretKey {
    /// The key for `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        MlDsa44SecretKey(Box::new(ExpandedSigningKey::from_seed(&(*seed).into())))
    }

    /// Its public key.
    pub fn public_key(&self) -> MlDsa44PublicKey {
        let encoded = self.0.verifying_key().encode();
        let mut bytes = [0u8; PUBLIC_KEY_LEN];
        bytes.copy_from_slice(&encoded);
        MlDsa44PublicKey(Box::new(bytes))
    }

    /// Signs `message` (empty context; the deterministic variant, so a witness needs no
    /// randomness source to answer).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        // Invariant: the context is empty (< 256 bytes), and FIPS 204's rejection loop ends
        // with overwhelming probability; the crate reports either as an error.
        let signature = self
            .0
            .sign_deterministic(message, &[])
            .expect("ML-DSA-44 signs with an empty context");
        let mut bytes = [0u8; SIGNATURE_LEN];
        bytes.copy_from_slice(&signature.encode());
        bytes
    }
}

/// The `cosigned_message` an ML-DSA-44 cosignature signs (C2SP tlog-cosignature): the label
/// `subtree/v1\n\0`, the cosigner's name and the log's origin each with a one-byte length, and
/// big-endian u64 timestamp, start and end, then the 32-byte root. A checkpoint's is the
/// subtree `[0, size)`. `None` when a name or the origin is empty or longer than 255 bytes.
pub fn cosigned_message(
    cosigner: &str,
    timestamp: u64,
    origin: &str,
    start: u64,
    end: u64,
    root: &Hash,
) -> Option<Vec<u8>> {
    let name_len = u8::try_from(cosigner.len()).ok().filter(|&n| n > 0)?;
    let origin_len = u8::try_from(origin.len()).ok().filter(|&n| n > 0)?;
    let mut message = Vec::with_capacity(12 + 2 + cosigner.len() + origin.len() + 24 + 32);
    message.extend_from_slice(b"subtree/v1\n\0");
    message.push(name_len);
    message.extend_from_slice(cosigner.as_bytes());
    message.extend_from_slice(&timestamp.to_be_bytes());
    message.push(origin_len);
    message.extend_from_slice(origin.as_bytes());
    message.extend_from_slice(&start.to_be_bytes());
    message.extend_from_slice(&end.to_be_bytes());
    message.extend_from_slice(&root.0);
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let key = MlDsa44SecretKey::from_seed(&[7u8; 32]);
        let public = key.public_key();
        assert_eq!(public.as_bytes().len(), PUBLIC_KEY_LEN);
        let message =
            cosigned_message("w.example/1", 1_700_000_000, "log", 0, 5, &Hash([1; 32])).unwrap();
        let signature = key.sign(&message);
        assert!(public.verify(&message, &signature));
        let mut other = message.clone();
        *other.last_mut().unwrap() ^= 1;
        assert!(!public.verify(&other, &signature));
        assert!(!public.verify(&message, &signature[1..]));
        let stranger = MlDsa44SecretKey::from_seed(&[8u8; 32]).public_key();
        assert!(!stranger.verify(&message, &signature));
    }

    #[test]
    fn message_layout() {
        let message = cosigned_message("w", 2, "o", 0, 3, &Hash([9; 32])).unwrap();
        let mut expected = b"subtree/v1\n\0".to_vec();
        expected.extend_from_slice(&[1, b'w', 0, 0, 0, 0, 0, 0, 0, 2, 1, b'o']);
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(message, expected);
        assert!(cosigned_message("", 0, "o", 0, 0, &Hash([0; 32])).is_none());
        assert!(cosigned_message("w", 0, &"o".repeat(256), 0, 0, &Hash([0; 32])).is_none());
    }
}
