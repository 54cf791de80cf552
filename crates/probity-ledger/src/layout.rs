//! The book's key layout: one sled tree, keys prefixed by kind, integers big-endian so that
//! sled's byte order is numeric order. One tree means one `apply_batch`, which sled applies
//! atomically: a record, its index entries and its Merkle nodes land together or not at all.

use probity_core::hash::Hash;
use probity_core::ids::Seq;
use probity_core::time::RecordedAt;

/// `m/head` → `u64be(next seq) ‖ last hash ‖ i64be(last recorded_at)`.
pub const HEAD: &[u8] = b"m/head";
/// `m/checkpoint` → `u64be(size)` of the latest checkpoint.
pub const LATEST_CHECKPOINT: &[u8] = b"m/checkpoint";

/// `r ‖ u64be(seq)` → the record as JSON.
pub fn record(seq: Seq) -> [u8; 9] {
    prefixed(b'r', seq.0)
}

/// `g ‖ u64be(seq)` → empty: records that change the keys (genesis, enrolment, revocation).
pub fn governance(seq: Seq) -> [u8; 9] {
    prefixed(b'g', seq.0)
}

/// `c ‖ u64be(size)` → the signed checkpoint note at that size.
pub fn checkpoint(size: u64) -> [u8; 9] {
    prefixed(b'c', size)
}

/// `i ‖ event id` → `u64be(seq)`.
pub fn event_id(id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + id.len());
    key.push(b'i');
    key.extend_from_slice(id.as_bytes());
    key
}

/// `n ‖ level ‖ u64be(index)` → the hash of a complete Merkle subtree of level 1 or more (a
/// leaf, level 0, is the hash stored in its record).
pub fn node(level: u8, index: u64) -> [u8; 10] {
    let mut key = [0u8; 10];
    key[0] = b'n';
    key[1] = level;
    key[2..].copy_from_slice(&index.to_be_bytes());
    key
}

/// `v ‖ kind ‖ 0x00 ‖ id` → `u64be(count)`: how many records name the subject (its version).
pub fn stream_version(stream: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + stream.len());
    key.push(b'v');
    key.extend_from_slice(stream.as_bytes());
    key
}

fn prefixed(tag: u8, n: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = tag;
    key[1..].copy_from_slice(&n.to_be_bytes());
    key
}

/// The end of the chain as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Sequence number of the next record (= number of records).
    pub next_seq: Seq,
    /// Hash of the last record.
    pub last_hash: Hash,
    /// When the last record was recorded (recorded_at never goes backwards).
    pub last_recorded_at: RecordedAt,
}

impl Head {
    /// Encodes.
    pub fn encode(self) -> [u8; 48] {
        let mut out = [0u8; 48];
        out[..8].copy_from_slice(&self.next_seq.0.to_be_bytes());
        out[8..40].copy_from_slice(&self.last_hash.0);
        out[40..].copy_from_slice(&self.last_recorded_at.unix_micros().to_be_bytes());
        out
    }

    /// Decodes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Head> {
        if bytes.len() != 48 {
            return None;
        }
        Some(Head {
            next_seq: Seq(u64::from_be_bytes(bytes[..8].try_into().ok()?)),
            last_hash: Hash::from_slice(&bytes[8..40]).ok()?,
            last_recorded_at: RecordedAt::from_unix_micros(i64::from_be_bytes(
                bytes[40..].try_into().ok()?,
            )),
        })
    }
}

/// Reads a big-endian u64 value.
pub fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}
