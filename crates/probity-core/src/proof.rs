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

/// The longest `extra` line a standalone bundle carries, in bytes without its newline: line
/// readers with a 64 KiB buffer (Go's `bufio.Scanner`, which transparency-dev/formats uses)
/// read up to 65,536 bytes with the newline. A record whose line would be longer is carried
/// beside the bundle instead (PROOF.md).
pub const MAX_EXTRA_LINE: usize = 65_535;

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
    /// The bundle has no `extra` line (its record was too large for one) and the record was
    /// not given beside it.
    #[error("the bundle carries no record (too large for its extra line): give the record beside it (`probity prove` wrote it as <bundle>.record.json; --record FILE)")]
    RecordNotCarried,
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
    /// The bundle as standalone `tlog-proof@v1` text: the record on the `extra` line when
    /// that line is at most [`MAX_EXTRA_LINE`] bytes, else no `extra` line (the record then
    /// travels beside the bundle: [`record_json`](Self::record_json)).
    pub fn to_text(&self) -> String {
        self.text(self.carries_record())
    }

    /// The bundle with the record on its `extra` line whatever its length (inside an
    /// investigation bundle, a JSON document, where no line reader meets it).
    pub fn to_text_with_record(&self) -> String {
        self.text(true)
    }

    /// Whether [`to_text`](Self::to_text) puts the record on the `extra` line.
    pub fn carries_record(&self) -> bool {
        let json = self.record.to_json().len();
        "extra ".len() + json.div_ceil(3) * 4 <= MAX_EXTRA_LINE
    }

    /// The record's JSON, exactly as in the export: what travels beside a bundle that does
    /// not carry it.
    pub fn record_json(&self) -> Vec<u8> {
        self.record.to_json()
    }

    fn text(&self, with_record: bool) -> String {
        let mut text = format!("{HEADER}\n");
        if with_record {
            text.push_str(&format!("extra {}\n", B64.encode(self.record.to_json())));
        }
        text.push_str(&format!("index {}\n", self.index));
        push_hashes_and_note(&mut text, &self.proof, &self.checkpoint);
        text
    }

    /// Parses `tlog-proof@v1` text whose `extra` line holds the record.
    pub fn parse(text: &str) -> Result<ProofBundle, BundleError> {
        Self::parse_with_record(text, None)
    }

    /// Parses `tlog-proof@v1` text, the record from its `extra` line or, when it has none,
    /// from `beside` (the record's JSON). Given both, they must be the same bytes.
    pub fn parse_with_record(
        text: &str,
        beside: Option<&[u8]>,
    ) -> Result<ProofBundle, BundleError> {
        let bad = |what: &str| BundleError::Malformed(what.to_owned());
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut lines = lines.peekable();
        let extra = match lines.peek().and_then(|l| l.strip_prefix("extra ")) {
            Some(extra) => {
                let decoded = B64.decode(extra).map_err(|_| bad("extra is not base64"))?;
                lines.next();
                Some(decoded)
            }
            None => None,
        };
        let record_json = match (extra, beside) {
            (Some(carried), Some(given)) if carried != given => {
                return Err(bad(
                    "the record given beside the bundle is not the one on its extra line",
                ))
            }
            (Some(carried), _) => carried,
            (None, Some(given)) => given.to_vec(),
            (None, None) => return Err(BundleError::RecordNotCarried),
        };
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
