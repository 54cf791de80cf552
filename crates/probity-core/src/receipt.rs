//! Receipts: the ledger's signed acknowledgement that a record is durably in the book.
//!
//! ```text
//! message = "probity/receipt/v1\n" ‖ origin ‖ "\n" ‖ u64be(seq) ‖ i64be(recorded_at µs) ‖ record hash
//! ```
//!
//! signed (strict Ed25519) by the ledger key. A receipt is evidence: if the ledger later
//! cannot prove inclusion of that hash at that sequence under a checkpoint, it broke its word.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::ids::Seq;
use crate::keys::{KeyError, PublicKey, SecretKey, Signature};
use crate::record::Record;
use crate::time::RecordedAt;

/// Domain separation tag of receipts.
pub const RECEIPT_DOMAIN: &[u8] = b"probity/receipt/v1\n";

/// A signed acknowledgement of one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The ledger's origin (names the ledger key).
    pub origin: String,
    /// The record's sequence number.
    pub seq: Seq,
    /// When it was recorded.
    pub recorded_at: RecordedAt,
    /// The record hash.
    pub hash: Hash,
    /// Base64 Ed25519 signature by the ledger key over the receipt message.
    pub sig: String,
    /// True when this acknowledges an earlier append of the same event (an idempotent retry).
    /// Not signed: it describes this reply, not the record.
    #[serde(default)]
    pub duplicate: bool,
}

/// The bytes a receipt signs.
pub fn receipt_message(origin: &str, seq: Seq, recorded_at: RecordedAt, hash: &Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECEIPT_DOMAIN.len() + origin.len() + 1 + 8 + 8 + 32);
    out.extend_from_slice(RECEIPT_DOMAIN);
    out.extend_from_slice(origin.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&seq.0.to_be_bytes());
    out.extend_from_slice(&recorded_at.unix_micros().to_be_bytes());
    out.extend_from_slice(&hash.0);
    out
}

impl Receipt {
    /// Signs a receipt for `record`.
    pub fn sign(origin: &str, record: &Record, ledger_key: &SecretKey, duplicate: bool) -> Receipt {
        let sig = ledger_key.sign(&receipt_message(
            origin,
            record.seq,
            record.recorded_at,
            &record.hash,
        ));
        Receipt {
            origin: origin.to_owned(),
            seq: record.seq,
            recorded_at: record.recorded_at,
            hash: record.hash,
            sig: sig.to_base64(),
            duplicate,
        }
    }

    /// Verifies the signature with the ledger's public key.
    pub fn verify(&self, ledger_key: &PublicKey) -> Result<(), KeyError> {
        let sig = Signature::from_base64(&self.sig)?;
        ledger_key.verify(
            &receipt_message(&self.origin, self.seq, self.recorded_at, &self.hash),
            &sig,
        )
    }
}
