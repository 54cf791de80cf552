//! Offline proof that a record is in the ledger: the record, its RFC 6962 inclusion proof and
//! the checkpoint (with any witness cosignatures) it is proven against, in the C2SP
//! `tlog-proof@v1` text layout (`schemas/PROOF.md`). The record travels base64-encoded on the
//! `extra` line; nothing in the bundle is trusted until [`ProofBundle::verify`] checks it
//! against keys the verifier brings.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;

use crate::checkpoint::{Checkpoint, NoteError, SignedNote, WitnessPolicy};
use crate::envelope::EnvelopeError;
use crate::hash::Hash;
use crate::merkle::{self, ProofError};
use crate::record::Record;

/// The first line of every bundle.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A record, its inclusion proof and the checkpoint it leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofBundle {
    /// The leaf index the proof is for (the record's seq, when the bundle is honest).
    pub index: u64,
    /// The record proven (its JSON as the ledger stores it).
    pub record: Record,
    /// Sibling hashes from the leaf up to the root's child (RFC 6962 §2.1.1).
    pub proof: Vec<Hash>,
    /// The checkpoint, verbatim, with its signatures.
    pub checkpoint: SignedNote,
}

/// Why a bundle does not parse or does not prove its record.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not the tlog-proof layout.
    #[error("not a proof bundle: {0}")]
    Malformed(String),
    /// The record's stated hash is not its content's.
    #[error("the record's hash does not match its content (stated {stated}, computed {computed})")]
    RecordHash {
        /// As stated.
        stated: Hash,
        /// As computed.
        computed: Hash,
    },
    /// The index line names another position than the record's.
    #[error("the bundle proves index {index} but the record is at {seq}")]
    IndexMismatch {
        /// The index line.
        index: u64,
        /// The record's seq.
        seq: u64,
    },
    /// The checkpoint's signatures do not satisfy the policy.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// The event's signature or body is not valid.
    #[error("event: {0}")]
    Event(#[from] EnvelopeError),
}

/// What a verified bundle establishes.
#[derive(Clone, Debug, Serialize)]
pub struct ProvenRecord {
    /// The record's position.
    pub seq: u64,
    /// Its hash (the Merkle leaf).
    pub hash: Hash,
    /// The checkpoint it is included in.
    pub checkpoint_size: u64,
    /// That checkpoint's root.
    pub checkpoint_root: Hash,
    /// Witnesses whose cosignature verified, with the time they cosigned.
    pub witnesses: Vec<(String, u64)>,
}

impl ProofBundle {
    /// The bundle as `tlog-proof@v1` text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{HEADER}\nextra {}\nindex {}\n",
            B64.encode(self.record.to_json()),
            self.index
        );
        push_hashes_and_note(&mut text, &self.proof, &self.checkpoint);
        text
    }

    /// Parses `tlog-proof@v1` text whose `extra` line holds the record.
    pub fn parse(text: &str) -> Result<ProofBundle, BundleError> {
        let bad = |what: &str| BundleError::Malformed(what.to_owned());
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or_else(|| bad("no extra line holding the record"))?;
        let record_json = B64.decode(extra).map_err(|_| bad("extra is not base64"))?;
        let record = Record::from_json(&record_json)
            .map_err(|e| BundleError::Malformed(format!("the record does not parse: {e}")))?;
        let index_text = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or_else(|| bad("no index line"))?;
        if index_text.len() > 1 && index_text.starts_with('0') {
            return Err(bad("the index has leading zeroes"));
        }
        let index: u64 = index_text
            .parse()
            .map_err(|_| bad("the index is not a number"))?;
        let proof = parse_hashes(lines).map_err(bad)?;
        let checkpoint = SignedNote::parse(note.as_bytes())?;
        Ok(ProofBundle {
            index,
            record,
            proof,
            checkpoint,
        })
    }

    /// Checks the bundle against `policy` (the ledger's key and the witnesses required): the
    /// index against the record's seq, the checkpoint's signatures, the record's hash against
    /// its content, the inclusion proof against the checkpoint's root (RFC 9162 §2.1.3.2), and
    /// the event's strict signature.
    pub fn verify(&self, policy: &WitnessPolicy) -> Result<ProvenRecord, BundleError> {
        if self.index != self.record.seq.0 {
            return Err(BundleError::IndexMismatch {
                index: self.index,
                seq: self.record.seq.0,
            });
        }
        let verified = policy.verify(&self.checkpoint)?;
        let Checkpoint { size, root, .. } = verified.checkpoint;
        let computed = self.record.compute_hash();
        if computed != self.record.hash {
            return Err(BundleError::RecordHash {
                stated: self.record.hash,
                computed,
            });
        }
        merkle::verify_inclusion(&computed, self.record.seq.0, size, &self.proof, &root)?;
        self.record.event.open()?;
        Ok(ProvenRecord {
            seq: self.record.seq.0,
            hash: computed,
            checkpoint_size: size,
            checkpoint_root: root,
            witnesses: verified.witnesses,
        })
    }
}

/// Parses proof lines (C2SP tlog-proof and tlog-witness): one base64 SHA-256 hash per line.
pub(crate) fn parse_hashes<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<Hash>, &'static str> {
    lines
        .map(|line| {
            let bytes = B64.decode(line).map_err(|_| "a proof line is not base64")?;
            Hash::from_slice(&bytes).map_err(|_| "a proof line is not 32 bytes")
        })
        .collect()
}

/// Appends proof lines, the empty line and the signed note: how both C2SP texts end.
pub(crate) fn push_hashes_and_note(text: &mut String, hashes: &[Hash], note: &SignedNote) {
    for hash in hashes {
        text.push_str(&B64.encode(hash.0));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&note.to_bytes()));
}
