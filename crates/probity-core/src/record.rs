//! Records: a signed event sealed into the ledger at a sequence number, linked to the record
//! before it. A record's hash is its RFC 6962 Merkle leaf hash, so one hash serves as chain
//! link, Merkle leaf and receipt.

use serde::{Deserialize, Serialize};

use crate::envelope::SignedEvent;
use crate::hash::Hash;
use crate::ids::Seq;
use crate::merkle;
use crate::time::RecordedAt;

/// Domain separation tag at the start of every record's leaf bytes.
pub const RECORD_DOMAIN: &[u8] = b"probity/record/v1\n";

/// One entry of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Position in the ledger, from 0 (genesis); also the Merkle leaf index.
    pub seq: Seq,
    /// When the ledger accepted the event.
    pub recorded_at: RecordedAt,
    /// Hash of the record at `seq - 1`; all zeros for genesis.
    pub prev: Hash,
    /// The signed event, exactly as its signer produced it.
    pub event: SignedEvent,
    /// `leaf_hash(leaf_bytes)`, as stated by the ledger; verifiers recompute it.
    pub hash: Hash,
}

impl Record {
    /// Builds a record and computes its hash.
    pub fn seal(seq: Seq, recorded_at: RecordedAt, prev: Hash, event: SignedEvent) -> Record {
        let hash = merkle::leaf_hash(&leaf_bytes(seq, recorded_at, &prev, &event));
        Record {
            seq,
            recorded_at,
            prev,
            event,
            hash,
        }
    }

    /// Recomputes the hash from the record's content (ignoring the stated `hash`).
    pub fn compute_hash(&self) -> Hash {
        merkle::leaf_hash(&leaf_bytes(
            self.seq,
            self.recorded_at,
            &self.prev,
            &self.event,
        ))
    }

    /// The leaf bytes that are hashed (see `schemas/FORMAT.md`, "Record").
    pub fn leaf_bytes(&self) -> Vec<u8> {
        leaf_bytes(self.seq, self.recorded_at, &self.prev, &self.event)
    }

    /// Parses one record's JSON (FORMAT.md §5) in its one accepted form: objects as objects,
    /// no repeated key, `recorded_at` in its canonical text.
    pub fn from_json(bytes: &[u8]) -> Result<Record, serde_json::Error> {
        crate::strict_json::from_slice(bytes)
    }

    /// One JSON line, as in exports and on the JetStream stream.
    pub fn to_json(&self) -> Vec<u8> {
        // Invariant: every field serializes infallibly (numbers, strings of hex and base64).
        // Were it ever to fail, an empty line would be a silent lie: fail loudly instead.
        serde_json::to_vec(self).expect("a record always serializes")
    }
}

/// `RECORD_DOMAIN ‖ u64be(seq) ‖ i64be(recorded_at µs) ‖ prev ‖ u32be(len(body)) ‖ body ‖
/// keyid(16) ‖ signature(64)`.
pub fn leaf_bytes(seq: Seq, recorded_at: RecordedAt, prev: &Hash, event: &SignedEvent) -> Vec<u8> {
    let body = event.body_bytes();
    let mut out = Vec::with_capacity(RECORD_DOMAIN.len() + 8 + 8 + 32 + 4 + body.len() + 16 + 64);
    out.extend_from_slice(RECORD_DOMAIN);
    out.extend_from_slice(&seq.0.to_be_bytes());
    out.extend_from_slice(&recorded_at.unix_micros().to_be_bytes());
    out.extend_from_slice(&prev.0);
    // Invariant: bodies are limited to MAX_BODY_BYTES (64 KiB), far below u32::MAX.
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&event.keyid().0);
    out.extend_from_slice(&event.signature().0);
    out
}

/// The end of a chain: what the next record links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number the next record gets.
    pub next_seq: Seq,
    /// Hash of the last record (zero before genesis).
    pub last_hash: Hash,
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead {
            next_seq: Seq(0),
            last_hash: Hash::ZERO,
        }
    }
}

impl ChainHead {
    /// Seals `event` as the next record and advances the head.
    pub fn append(&mut self, event: SignedEvent, recorded_at: RecordedAt) -> Record {
        let record = Record::seal(self.next_seq, recorded_at, self.last_hash, event);
        self.next_seq = self.next_seq.next();
        self.last_hash = record.hash;
        record
    }
}
