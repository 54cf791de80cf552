//! The key commitment a checkpoint carries: a running hash over the ledger's key records
//! (`ledger.genesis`, `key.enrolled`, `key.revoked`) before the checkpoint's size, on a C2SP
//! checkpoint extension line (`schemas/FORMAT.md` §8):
//!
//! ```text
//! keys_0     = 32 zero bytes
//! keys_(i+1) = H("probity/keys/v1\n" ‖ keys_i ‖ hash of the (i+1)-th key record)
//! line       = "probity-keys/v1 " ‖ hex(keys)
//! ```
//!
//! A range export carries the key records before its first record, each proven to be in the
//! ledger; only this commitment, signed with the ledger key, shows that none was left out (an
//! omitted revocation would let the revoked key's records in the range verify).

use crate::hash::Hash;
use crate::roles::{GENESIS, KEY_ENROLLED, KEY_REVOKED};

/// The domain tag of a key-commitment step.
pub const KEYS_DOMAIN: &[u8] = b"probity/keys/v1\n";

/// The extension line's first word.
pub const KEYS_EXTENSION: &str = "probity-keys/v1";

/// True for the event types that change the key registry.
pub fn is_key_record_type(event_type: &str) -> bool {
    matches!(event_type, GENESIS | KEY_ENROLLED | KEY_REVOKED)
}

/// The running commitment over key records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct KeyChain(pub Hash);

impl KeyChain {
    /// Before any key record.
    pub fn new() -> KeyChain {
        KeyChain(Hash::ZERO)
    }

    /// Takes in the next key record, by its record hash.
    pub fn push(&mut self, record_hash: &Hash) {
        self.0 = Hash::digest_parts(&[KEYS_DOMAIN, &self.0 .0, &record_hash.0]);
    }

    /// The checkpoint extension line (without its newline).
    pub fn extension_line(&self) -> String {
        format!("{KEYS_EXTENSION} {}", self.0.to_hex())
    }

    /// The commitment a checkpoint's extension lines state: `None` when they hold none (a
    /// checkpoint signed before commitments were written), `Some(Err(()))` when the line is
    /// malformed or repeated.
    pub fn stated(extensions: &[String]) -> Option<Result<KeyChain, ()>> {
        let mut found = extensions
            .iter()
            .filter_map(|line| line.strip_prefix(KEYS_EXTENSION))
            .map(|rest| {
                rest.strip_prefix(' ')
                    .filter(|hex| {
                        hex.len() == 64
                            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    })
                    .and_then(|hex| Hash::from_hex(hex).ok())
                    .map(KeyChain)
                    .ok_or(())
            });
        let first = found.next()?;
        Some(if found.next().is_some() {
            Err(())
        } else {
            first
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_read_back_and_a_bad_or_repeated_one_is_refused() {
        let mut keys = KeyChain::new();
        keys.push(&Hash([1; 32]));
        let line = keys.extension_line();
        assert_eq!(
            KeyChain::stated(std::slice::from_ref(&line)),
            Some(Ok(keys))
        );
        assert_eq!(KeyChain::stated(&["other/ext 1".into()]), None);
        assert_eq!(
            KeyChain::stated(&[line
                .to_uppercase()
                .replace("PROBITY-KEYS/V1", KEYS_EXTENSION)]),
            Some(Err(()))
        );
        assert_eq!(KeyChain::stated(&[line.clone(), line]), Some(Err(())));
        assert_eq!(
            KeyChain::stated(&[format!("{KEYS_EXTENSION} 00")]),
            Some(Err(()))
        );
    }

    #[test]
    fn the_order_of_key_records_matters() {
        let (a, b) = (Hash([1; 32]), Hash([2; 32]));
        let mut ab = KeyChain::new();
        ab.push(&a);
        ab.push(&b);
        let mut ba = KeyChain::new();
        ba.push(&b);
        ba.push(&a);
        assert_ne!(ab, ba);
        assert_ne!(ab, KeyChain::new());
    }
}
