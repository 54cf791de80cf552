//! The chain verifier: streams records and reports every finding, not only the first.
//!
//! Per record it checks the stated hash, the sequence, the link to the previous record, the
//! event's body and strict signature, event-id uniqueness, and the signer's key and role at
//! that sequence (from the keys enrolled in the log itself). It keeps the Merkle frontier, so
//! every checkpoint is checked (signature, witness quorum, root) when the stream reaches its
//! size; checkpoints beyond the end reveal truncation, and a trusted checkpoint the auditor
//! kept reveals rewriting and forks.
//!
//! The work per record splits into a stateless part ([`check_record`], safe to run on many
//! threads) and a sequential part ([`ChainVerifier::push_checked`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::checkpoint::{NoteError, SignedNote, VerifierKey, WitnessPolicy};
use crate::envelope::{AuthenticEvent, EnvelopeError, EventBody};
use crate::event_ids::EventIds;
use crate::hash::Hash;
use crate::ids::{EventId, Seq};
use crate::keychain::{is_key_record_type, KeyChain};
use crate::merkle::Frontier;
use crate::par::par_map;
use crate::record::Record;
use crate::registry::{AuthError, KeyEffect, KeyRegistry};
use crate::roles::RoleMatrix;
use crate::time::RecordedAt;

/// One problem found in a ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A record could not be read at all (reported by the reader, at a stream position).
    Unreadable {
        /// Position in the stream (0-based).
        position: u64,
        /// What the reader said.
        message: String,
    },
    /// The stated record hash is not the hash of the record's content.
    HashMismatch {
        /// The record.
        seq: Seq,
        /// Its stated hash.
        stated: Hash,
        /// The hash of its content.
        computed: Hash,
    },
    /// One or more records are missing before this one.
    SequenceGap {
        /// The sequence number that should have come.
        expected: Seq,
        /// The one that came.
        found: Seq,
    },
    /// A record repeats or goes back to an earlier sequence number.
    SequenceRepeat {
        /// The sequence number that should have come.
        expected: Seq,
        /// The one that came.
        found: Seq,
    },
    /// `prev` is not the hash of the record before.
    BrokenLink {
        /// The record.
        seq: Seq,
        /// Hash of the record before.
        expected: Hash,
        /// The record's `prev`.
        found: Hash,
    },
    /// The event's envelope, body or signature is invalid.
    BadEvent {
        /// The record.
        seq: Seq,
        /// Why.
        error: EnvelopeError,
    },
    /// The signer was not allowed to record the event at that sequence.
    Unauthorised {
        /// The record.
        seq: Seq,
        /// Why.
        error: AuthError,
    },
    /// An event id seen before.
    DuplicateEventId {
        /// The record.
        seq: Seq,
        /// The id.
        event_id: EventId,
        /// Where it first appeared.
        first: Seq,
    },
    /// A checkpoint's signature or witness quorum failed.
    CheckpointSignature {
        /// Its tree size.
        size: u64,
        /// Why.
        error: NoteError,
    },
    /// A checkpoint's root is not the root of the records.
    CheckpointRootMismatch {
        /// Its tree size.
        size: u64,
        /// The root it states.
        stated: Hash,
        /// The root of the first `size` records.
        computed: Hash,
    },
    /// A checkpoint covers more records than the ledger has: the tail was truncated.
    CheckpointBeyondLog {
        /// Its tree size.
        size: u64,
        /// The number of records present.
        records: u64,
    },
    /// The ledger is not consistent with the checkpoint the auditor trusts: rewritten,
    /// truncated, or a fork.
    TrustedCheckpointInconsistent {
        /// The trusted checkpoint's size.
        size: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record's `recorded_at` is earlier than its predecessor's: the ledger's clock never
    /// runs backwards, so the record was back-dated or moved.
    TimeBackwards {
        /// The record.
        seq: Seq,
        /// Its `recorded_at`.
        recorded_at: RecordedAt,
        /// The record before's.
        previous: RecordedAt,
    },
    /// Records that no checkpoint signed with the ledger key covers: nothing the ledger
    /// signed vouches for them (a forged or extended ledger looks like this).
    Unanchored {
        /// The first such record.
        from: Seq,
        /// The last.
        to: Seq,
    },
    /// The genesis record names another ledger key than the one the auditor pinned: not the
    /// ledger the auditor was given the key of.
    LedgerKeyMismatch {
        /// The key the auditor pinned (C2SP vkey).
        pinned: String,
        /// The key the genesis names (C2SP vkey).
        named: String,
    },
    /// A range export's key record (a record before the range) does not check out.
    BadKeyRecord {
        /// The key record.
        seq: Seq,
        /// Why.
        reason: String,
    },
    /// A range export's starting point (its Merkle edge) does not match its first record.
    BadRangeStart {
        /// The range's first record.
        seq: Seq,
        /// Why.
        reason: String,
    },
    /// The storage the records were read from is damaged (a book that holds fewer records
    /// than the ledger acknowledged, or that cannot be read at all).
    StorageDamaged {
        /// The first record affected (the number of records that could be read).
        seq: Seq,
        /// What the storage layer said.
        reason: String,
    },
    /// A checkpoint's key commitment (FORMAT.md §8) is not the one of the key records read:
    /// a key record is missing (a range export that left a revocation out) or extra, or the
    /// commitment line is malformed.
    KeyCommitmentMismatch {
        /// The checkpoint's size.
        size: u64,
        /// What is wrong.
        reason: String,
    },
    /// The export's header states another number of records than the file holds.
    SizeMismatch {
        /// What the header says.
        stated: u64,
        /// The records present.
        records: u64,
    },
}

impl Finding {
    /// A stable kebab-case code, for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Finding::Unreadable { .. } => "unreadable",
            Finding::HashMismatch { .. } => "hash-mismatch",
            Finding::SequenceGap { .. } => "sequence-gap",
            Finding::SequenceRepeat { .. } => "sequence-repeat",
            Finding::BrokenLink { .. } => "broken-link",
            Finding::BadEvent { error, .. } => match error {
                EnvelopeError::Signature(_) | EnvelopeError::KeyIdMismatch { .. } => {
                    "bad-signature"
                }
                _ => "malformed-event",
            },
            Finding::Unauthorised { error, .. } => match error {
                AuthError::UnknownKey(_) => "unknown-key",
                AuthError::RevokedKey { .. } => "revoked-key",
                AuthError::WrongRole { .. } | AuthError::UnknownEventType(_) => "unauthorised-role",
                AuthError::WrongLedger { .. } => "wrong-ledger",
                _ => "governance",
            },
            Finding::DuplicateEventId { .. } => "duplicate-event-id",
            Finding::CheckpointSignature { .. } => "checkpoint-signature",
            Finding::CheckpointRootMismatch { .. } => "checkpoint-root-mismatch",
            Finding::CheckpointBeyondLog { .. } => "checkpoint-beyond-log",
            Finding::TrustedCheckpointInconsistent { .. } => "trusted-checkpoint-inconsistent",
            Finding::TimeBackwards { .. } => "time-backwards",
            Finding::Unanchored { .. } => "unanchored",
            Finding::LedgerKeyMismatch { .. } => "ledger-key-mismatch",
            Finding::BadKeyRecord { .. } => "bad-key-record",
            Finding::BadRangeStart { .. } => "bad-range-start",
            Finding::SizeMismatch { .. } => "size-mismatch",
            Finding::StorageDamaged { .. } => "storage-damaged",
            Finding::KeyCommitmentMismatch { .. } => "key-commitment-mismatch",
        }
    }

    /// The sequence number (or, for checkpoints, the tree size) the finding is about.
    pub fn seq(&self) -> u64 {
        match self {
            Finding::Unreadable { position, .. } => *position,
            Finding::HashMismatch { seq, .. }
            | Finding::BrokenLink { seq, .. }
            | Finding::BadEvent { seq, .. }
            | Finding::Unauthorised { seq, .. }
            | Finding::DuplicateEventId { seq, .. }
            | Finding::TimeBackwards { seq, .. }
            | Finding::BadKeyRecord { seq, .. }
            | Finding::BadRangeStart { seq, .. }
            | Finding::StorageDamaged { seq, .. } => seq.0,
            Finding::Unanchored { from, .. } => from.0,
            Finding::LedgerKeyMismatch { .. } => 0,
            Finding::SizeMismatch { records, .. } => *records,
            Finding::SequenceGap { expected, .. } => expected.0,
            Finding::SequenceRepeat { found, .. } => found.0,
            Finding::CheckpointSignature { size, .. }
            | Finding::CheckpointRootMismatch { size, .. }
            | Finding::CheckpointBeyondLog { size, .. }
            | Finding::TrustedCheckpointInconsistent { size, .. }
            | Finding::KeyCommitmentMismatch { size, .. } => *size,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Unreadable { position, message } => {
                write!(f, "record at position {position} is unreadable: {message}")
            }
            Finding::HashMismatch {
                seq,
                stated,
                computed,
            } => write!(
                f,
                "record {seq}: stated hash {stated} is not the hash of its content {computed}"
            ),
            Finding::SequenceGap { expected, found } => {
                write!(f, "record {expected} is missing (next record present is {found})")
            }
            Finding::SequenceRepeat { expected, found } => write!(
                f,
                "record {found} appears again or out of order (expected record {expected})"
            ),
            Finding::BrokenLink {
                seq,
                expected,
                found,
            } => write!(
                f,
                "record {seq}: prev {found} is not the hash of the record before ({expected})"
            ),
            Finding::BadEvent { seq, error } => write!(f, "record {seq}: {error}"),
            Finding::Unauthorised { seq, error } => write!(f, "record {seq}: {error}"),
            Finding::DuplicateEventId {
                seq,
                event_id,
                first,
            } => write!(
                f,
                "record {seq}: event id {event_id} was already recorded at record {first}"
            ),
            Finding::CheckpointSignature { size, error } => {
                write!(f, "checkpoint at size {size}: {error}")
            }
            Finding::CheckpointRootMismatch {
                size,
                stated,
                computed,
            } => write!(
                f,
                "checkpoint at size {size}: root {stated} is not the root of the records ({computed})"
            ),
            Finding::CheckpointBeyondLog { size, records } => write!(
                f,
                "checkpoint at size {size} covers more than the {records} records present: the ledger was truncated"
            ),
            Finding::TrustedCheckpointInconsistent { size, reason } => write!(
                f,
                "not consistent with the trusted checkpoint at size {size}: {reason}"
            ),
            Finding::TimeBackwards {
                seq,
                recorded_at,
                previous,
            } => write!(
                f,
                "record {seq}: recorded_at {recorded_at} is before the previous record's {previous}"
            ),
            Finding::Unanchored { from, to } => write!(
                f,
                "records {from} to {to} are covered by no checkpoint signed with the ledger key: nothing the ledger signed vouches for them"
            ),
            Finding::LedgerKeyMismatch { pinned, named } => write!(
                f,
                "record 0: the genesis names the ledger key {named}, not the pinned {pinned}: this is not the ledger the key belongs to"
            ),
            Finding::BadKeyRecord { seq, reason } => write!(f, "key record {seq}: {reason}"),
            Finding::BadRangeStart { seq, reason } => {
                write!(f, "the range starting at record {seq}: {reason}")
            }
            Finding::KeyCommitmentMismatch { size, reason } => {
                write!(f, "checkpoint at size {size}: the key records do not match its key commitment: {reason}")
            }
            Finding::StorageDamaged { seq, reason } => {
                write!(f, "storage damaged from record {seq}: {reason}")
            }
            Finding::SizeMismatch { stated, records } => write!(
                f,
                "the header says {stated} records but {records} are present: the file was cut or extended"
            ),
        }
    }
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Finding", 3)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("seq", &self.seq())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

/// The result of the stateless checks on one record.
#[derive(Debug)]
pub struct RecordCheck {
    computed_hash: Hash,
    opened: Result<AuthenticEvent, EnvelopeError>,
}

impl RecordCheck {
    /// The parsed, signature-verified event, if it was valid.
    pub fn event(&self) -> Option<&AuthenticEvent> {
        self.opened.as_ref().ok()
    }
}

/// The checks that need no ledger state: recompute the hash, parse the body, verify the
/// signature. Independent per record, so callers may run it on many threads.
pub fn check_record(record: &Record) -> RecordCheck {
    RecordCheck {
        computed_hash: record.compute_hash(),
        opened: record.event.open(),
    }
}

/// What the verifier saw.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerifyReport {
    /// Records read.
    pub records: u64,
    /// Merkle root of the records read.
    pub root: Hash,
    /// Checkpoints checked (signature and root).
    pub checkpoints_checked: usize,
    /// Whether checkpoints were checked against a ledger key the auditor pinned. Without
    /// one, the genesis record's own key is used: that shows the records and checkpoints
    /// agree with each other, not whose ledger this is.
    pub key_pinned: bool,
    /// The records past the last checkpoint that verified, when there are any and the caller
    /// accepted them ([`ChainVerifier::allow_unanchored`]); otherwise they are a finding.
    pub unanchored: Option<SeqRange>,
    /// Whether a checkpoint's key commitment was compared with the key records read (a range
    /// export: whether its key records are shown to be complete). False when every checkpoint
    /// was signed before commitments were written (FORMAT.md §8).
    pub key_commitment_checked: bool,
    /// Every finding, in the order found.
    pub findings: Vec<Finding>,
    /// When witnesses were required: the anchoring checkpoint (the largest that verified) and
    /// the required witnesses whose cosignature on it verified; `None` otherwise, or when the
    /// quorum was not met (then a finding at that size says so).
    pub witnessed: Option<WitnessedAnchor>,
}

/// The checkpoint that anchors a verification, and who cosigned it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WitnessedAnchor {
    /// Its size.
    pub size: u64,
    /// The required witnesses whose cosignature verified.
    pub witnesses: Vec<WitnessCosignature>,
}

/// A witness's verified cosignature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WitnessCosignature {
    /// The witness's name.
    pub name: String,
    /// When it cosigned (seconds since the epoch).
    pub timestamp: u64,
}

/// Records `from..=to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SeqRange {
    /// The first.
    pub from: Seq,
    /// The last.
    pub to: Seq,
}

impl VerifyReport {
    /// True when nothing was found.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Where a [`ChainVerifier`] stands after a clean run: enough to resume it later (a
/// projector that verifies as it goes keeps this beside its views). Only meaningful when the
/// records read so far produced no finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VerifierState {
    /// Records read.
    pub next_seq: u64,
    /// The hash of the last record read (zero before the first).
    pub last_hash: Hash,
    /// The keys as of the last record.
    pub registry: KeyRegistry,
    /// The Merkle tree's right edge.
    pub frontier: Frontier,
    /// The last record's `recorded_at` (absent in states saved before it was kept: the next
    /// record is then not compared).
    #[serde(default)]
    pub last_recorded_at: Option<RecordedAt>,
    /// The commitment over the key records read (absent when unknown: a state saved before
    /// it was kept, or after an unreadable record; checkpoints' commitments are then not
    /// compared).
    #[serde(default)]
    pub keys: Option<KeyChain>,
}

/// The stateless part of [`ChainVerifier::push_covered`], on all cores: each record's
/// recomputed hash and its event body, or `None` when the body does not parse or names a
/// signer other than the envelope's key id.
pub fn parse_covered(records: &[Record]) -> Vec<Option<(Hash, EventBody)>> {
    par_map(records, |record| {
        let body = EventBody::parse(record.event.body_bytes()).ok()?;
        (body.signer.key_id() == record.event.keyid()).then_some((record.compute_hash(), body))
    })
}

/// The 16-byte digest under which a verifier remembers an event id (to find duplicates).
pub fn event_id_key(id: &EventId) -> [u8; 16] {
    let digest = Hash::digest_parts(&[id.as_str().as_bytes()]);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest.0[..16]);
    key
}

#[derive(Debug)]
struct PendingCheckpoint {
    note: SignedNote,
    trusted: bool,
}

/// Streams a ledger's records and collects findings.
#[derive(Debug)]
pub struct ChainVerifier<'m> {
    matrix: &'m RoleMatrix,
    registry: KeyRegistry,
    pinned_log_key: Option<VerifierKey>,
    witnesses: Vec<VerifierKey>,
    quorum: usize,
    next_seq: u64,
    // Hash the next `prev` must match: the stated hash and, when they differ (already
    // reported as a mismatch), the computed one, so one tampered record is one finding. None
    // after a record that could not be read: its hash is unknown, so the link is not judged.
    last_hashes: Option<[Hash; 2]>,
    last_recorded_at: Option<RecordedAt>,
    // Set once a record could not be read: the Merkle tree from there on is unknown, so
    // checkpoint roots past it are not compared (the unreadable record is the finding).
    roots_unknown: bool,
    // The size of the largest checkpoint whose ledger signature (and witness policy)
    // verified: the records before it are anchored.
    anchored: u64,
    allow_unanchored: bool,
    // A problem with genesis is reported once, not again at every record after it.
    genesis_failed: bool,
    // The key commitment of the records read; None once a record could not be read (it may
    // have been a key record).
    keys: Option<KeyChain>,
    key_commitment_checked: bool,
    event_ids: EventIds,
    frontier: Frontier,
    checkpoints: BTreeMap<u64, Vec<PendingCheckpoint>>,
    checkpoints_checked: usize,
    // The largest checkpoint whose ledger signature verified and whose root matched: the one
    // that anchors the verification, which must carry the witness quorum.
    anchor: Option<(u64, SignedNote)>,
    // The size of the checkpoint the auditor named to carry the quorum, instead of the largest.
    anchor_at: Option<u64>,
    findings: Vec<Finding>,
}

impl<'m> ChainVerifier<'m> {
    /// A verifier that authorises events with `matrix`.
    pub fn new(matrix: &'m RoleMatrix) -> Self {
        ChainVerifier {
            matrix,
            registry: KeyRegistry::new(),
            pinned_log_key: None,
            witnesses: Vec::new(),
            quorum: 0,
            next_seq: 0,
            last_hashes: Some([Hash::ZERO; 2]),
            last_recorded_at: None,
            roots_unknown: false,
            anchored: 0,
            allow_unanchored: false,
            genesis_failed: false,
            keys: Some(KeyChain::new()),
            key_commitment_checked: false,
            event_ids: EventIds::new(),
            frontier: Frontier::new(),
            checkpoints: BTreeMap::new(),
            checkpoints_checked: 0,
            anchor: None,
            anchor_at: None,
            findings: Vec::new(),
        }
    }

    /// A verifier that continues from `state`, knowing the event ids already read (as
    /// [`event_id_key`] digests with their records).
    pub fn resume(
        matrix: &'m RoleMatrix,
        state: VerifierState,
        event_ids: impl IntoIterator<Item = ([u8; 16], Seq)>,
    ) -> Self {
        let mut verifier = ChainVerifier::new(matrix);
        verifier.next_seq = state.next_seq;
        verifier.anchored = state.next_seq;
        verifier.last_hashes = Some([state.last_hash; 2]);
        verifier.last_recorded_at = state.last_recorded_at;
        verifier.keys = state.keys;
        verifier.registry = state.registry;
        verifier.frontier = state.frontier;
        verifier.event_ids = event_ids.into_iter().collect();
        verifier
    }

    /// Adds event ids already read (as [`event_id_key`] digests with their records) to those
    /// the verifier knows: a verifier resumed without them, to be told before it reads on.
    pub fn know_event_ids(&mut self, event_ids: impl IntoIterator<Item = ([u8; 16], Seq)>) {
        self.event_ids.extend(event_ids);
    }

    /// Where the verifier stands, to [`resume`](Self::resume) it later.
    pub fn state(&self) -> VerifierState {
        VerifierState {
            next_seq: self.next_seq,
            last_hash: self.last_hashes.map_or(Hash::ZERO, |h| h[0]),
            registry: self.registry.clone(),
            frontier: self.frontier.clone(),
            last_recorded_at: self.last_recorded_at,
            keys: self.keys,
        }
    }

    /// The sequence number the next record must have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The root of the records read so far.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Checks checkpoints against this ledger key instead of the one genesis names (an
    /// auditor who pinned the key does not trust the genesis record to say it).
    pub fn pin_log_key(&mut self, key: VerifierKey) -> &mut Self {
        self.pinned_log_key = Some(key);
        self
    }

    /// Accepts records past the last verified checkpoint: they are reported in
    /// [`VerifyReport::unanchored`] instead of as a finding. For a caller that asked for it
    /// explicitly (a live ledger between checkpoints).
    pub fn allow_unanchored(&mut self, allow: bool) -> &mut Self {
        self.allow_unanchored = allow;
        self
    }

    /// Requires `quorum` of `witnesses` to have cosigned the checkpoint that anchors the
    /// verification: the largest one whose ledger signature and root verified. Older
    /// checkpoints are checked for the ledger's signature and their roots (so consistency
    /// with the anchor), as witnesses may have started cosigning after them.
    pub fn require_witnesses(&mut self, witnesses: Vec<VerifierKey>, quorum: usize) -> &mut Self {
        self.witnesses = witnesses;
        self.quorum = quorum;
        self
    }

    /// Names the checkpoint that must carry the witness quorum: the one of `size` records,
    /// instead of the largest. Without a checkpoint of that size that verifies, the quorum is
    /// not met (a finding at that size).
    pub fn witnessed_at(&mut self, size: u64) -> &mut Self {
        self.anchor_at = Some(size);
        self
    }

    /// A checkpoint the ledger published; checked when the stream reaches its size.
    pub fn add_checkpoint(&mut self, note: SignedNote, size: u64) -> &mut Self {
        self.add(note, size, false)
    }

    /// A checkpoint the auditor kept from earlier: the ledger must still be consistent with it.
    pub fn add_trusted_checkpoint(&mut self, note: SignedNote, size: u64) -> &mut Self {
        self.add(note, size, true)
    }

    fn add(&mut self, note: SignedNote, size: u64, trusted: bool) -> &mut Self {
        self.checkpoints
            .entry(size)
            .or_default()
            .push(PendingCheckpoint { note, trusted });
        // A checkpoint at the size already reached (0, or a range's start) is checked now:
        // the stream will not reach that size again.
        if size == self.frontier.size() {
            self.check_checkpoints_at(size);
        }
        self
    }

    /// The keys as of the records read so far.
    pub fn registry(&self) -> &KeyRegistry {
        &self.registry
    }

    /// Reports something the caller could not parse that is not a record (a checkpoint
    /// line, say), at the position the stream has reached.
    pub fn push_unreadable(&mut self, message: String) {
        self.findings.push(Finding::Unreadable {
            position: self.next_seq,
            message,
        });
    }

    /// Reports a record the caller could not parse, in the place of the record it should
    /// have been: the records after it keep their sequence numbers (no gap is reported), its
    /// successor's link is not judged (its hash is unknown), and neither are the roots of the
    /// checkpoints past it. One finding, at that record.
    pub fn push_unreadable_record(&mut self, message: String) {
        let position = self.next_seq;
        self.findings
            .push(Finding::Unreadable { position, message });
        if position == 0 {
            self.genesis_failed = true;
        }
        self.next_seq += 1;
        self.last_hashes = None;
        self.roots_unknown = true;
        self.keys = None;
        self.frontier.push(Hash::ZERO);
        self.check_checkpoints_at(self.frontier.size());
    }

    /// Reports a problem with a range export's key records or starting point (from
    /// `probity_ledger::export::range_state`).
    pub fn push_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Checks one record.
    pub fn push(&mut self, record: &Record) {
        let check = check_record(record);
        self.push_checked(record, check);
    }

    /// Checks a batch of records, running the stateless checks on all cores (see
    /// [`par_map`]). Returns each record's event, signature verified, when it opened (the
    /// caller need not verify it again).
    pub fn push_batch(&mut self, records: &[Record]) -> Vec<Option<AuthenticEvent>> {
        let checks = par_map(records, check_record);
        records
            .iter()
            .zip(checks)
            .map(|(record, check)| self.push_checked(record, check))
            .collect()
    }

    /// The largest size in `(next, next + len]` at which a checkpoint published by the ledger
    /// is pending: the next records up to it can go through [`push_covered`](Self::push_covered).
    pub fn covering_checkpoint(&self, len: u64) -> Option<u64> {
        let next = self.next_seq;
        self.checkpoints
            .range(next + 1..=next.saturating_add(len))
            .rev()
            .find(|(_, pending)| pending.iter().any(|p| !p.trusted))
            .map(|(size, _)| *size)
    }

    /// Checks records that a ledger-signed checkpoint covers, without verifying each event's
    /// signature: the records must end exactly at the size of a pending ledger checkpoint
    /// ([`covering_checkpoint`](Self::covering_checkpoint)), and every other check still runs —
    /// stated against recomputed hash, sequence, link, every pending checkpoint in the range
    /// (log signature, witness quorum, Merkle root), envelope key id against the body's signer,
    /// event-id uniqueness, and the signer's key and role. The ledger signed that root only
    /// after verifying each signature on append, so the checkpoint vouches for them; trust in
    /// it is trust in the log key (pin it with [`pin_log_key`](Self::pin_log_key)).
    ///
    /// Returns the event bodies in order, or `None` — with the verifier unchanged and nothing
    /// reported — when the records are not covered or any check fails; the caller then checks
    /// them with [`push_batch`](Self::push_batch), which names each failing record.
    pub fn push_covered(&mut self, records: &[Record]) -> Option<Vec<EventBody>> {
        self.push_covered_parsed(records, parse_covered(records))
    }

    /// [`push_covered`](Self::push_covered) with the stateless part, [`parse_covered`],
    /// done beforehand (by another thread, say, while the previous batch was applied).
    /// `parsed` must be `parse_covered(records)`.
    pub fn push_covered_parsed(
        &mut self,
        records: &[Record],
        parsed: Vec<Option<(Hash, EventBody)>>,
    ) -> Option<Vec<EventBody>> {
        let len = u64::try_from(records.len()).ok()?;
        let end = self.next_seq.checked_add(len)?;
        if records.is_empty()
            || parsed.len() != records.len()
            || self.covering_checkpoint(len) != Some(end)
        {
            return None;
        }
        // The key commitment after each record, to compare at the checkpoints below.
        let mut keys = self.keys;
        let keys_after: Vec<Option<KeyChain>> = parsed
            .iter()
            .map(|p| {
                if let (Some(k), Some((hash, body))) = (keys.as_mut(), p) {
                    if is_key_record_type(body.event_type.as_str()) {
                        k.push(hash);
                    }
                }
                keys
            })
            .collect();
        // The chain and the checkpoints, on copies: nothing changes unless all of it holds.
        let mut frontier = self.frontier.clone();
        let mut last = self.last_hashes?[0];
        let mut last_at = self.last_recorded_at;
        let mut checked = Vec::new();
        let mut commitment_checked = false;
        for ((record, parsed), keys) in records.iter().zip(&parsed).zip(&keys_after) {
            let (computed, _) = parsed.as_ref()?;
            if record.seq.0 != frontier.size()
                || record.prev != last
                || *computed != record.hash
                || last_at.is_some_and(|at| record.recorded_at < at)
            {
                return None;
            }
            last = record.hash;
            last_at = Some(record.recorded_at);
            frontier.push(record.hash);
            if let Some(pending) = self.checkpoints.get(&frontier.size()) {
                let root = frontier.root();
                for checkpoint in pending {
                    let verified = self.log_policy()?.verify(&checkpoint.note).ok()?;
                    if verified.checkpoint.root != root {
                        return None;
                    }
                    match (KeyChain::stated(&verified.checkpoint.extensions), keys) {
                        (None, _) | (Some(Ok(_)), None) => {}
                        (Some(Ok(stated)), Some(keys)) if stated == *keys => {
                            commitment_checked = true
                        }
                        _ => return None,
                    }
                }
                checked.push(frontier.size());
            }
        }
        let mut registry = self.registry.clone();
        let mut ids = HashMap::with_capacity(records.len());
        let mut bodies = Vec::with_capacity(records.len());
        for (record, parsed) in records.iter().zip(parsed) {
            let (_, body) = parsed?;
            let id = event_id_key(&body.id);
            if self.event_ids.contains(&id) || ids.insert(id, record.seq).is_some() {
                return None;
            }
            let effect = registry.authorize(record.seq, &body, self.matrix).ok()?;
            registry.apply(record.seq, effect);
            bodies.push(body);
        }
        self.next_seq = end;
        self.last_hashes = Some([last; 2]);
        self.last_recorded_at = last_at;
        self.keys = keys_after.last().copied().flatten();
        self.key_commitment_checked |= commitment_checked;
        self.frontier = frontier;
        self.registry = registry;
        self.event_ids.extend(ids);
        for size in checked {
            if let Some(pending) = self.checkpoints.remove(&size) {
                self.checkpoints_checked += pending.len();
                self.anchored = self.anchored.max(size);
                for checkpoint in pending {
                    self.note_anchor(size, checkpoint.note);
                }
            }
        }
        Some(bodies)
    }

    /// Checks one record whose stateless checks were done by [`check_record`]; returns its
    /// event if it opened.
    pub fn push_checked(&mut self, record: &Record, check: RecordCheck) -> Option<AuthenticEvent> {
        let seq = record.seq;
        if check.computed_hash != record.hash {
            self.findings.push(Finding::HashMismatch {
                seq,
                stated: record.hash,
                computed: check.computed_hash,
            });
        }
        // A record that links to the one before is in its place whatever `seq` it states (a
        // wrong `seq` is then a tampered field, already a hash mismatch): the count goes on
        // by one. One that does not link is where it says, so the count follows it.
        let linked = self.last_hashes.is_none_or(|h| h.contains(&record.prev));
        match seq.0.cmp(&self.next_seq) {
            std::cmp::Ordering::Greater => {
                self.findings.push(Finding::SequenceGap {
                    expected: Seq(self.next_seq),
                    found: seq,
                });
                self.next_seq = if linked { self.next_seq + 1 } else { seq.0 + 1 };
            }
            std::cmp::Ordering::Less => {
                self.findings.push(Finding::SequenceRepeat {
                    expected: Seq(self.next_seq),
                    found: seq,
                });
                if linked {
                    self.next_seq += 1;
                }
            }
            std::cmp::Ordering::Equal => self.next_seq += 1,
        }
        if let (Some(hashes), false) = (self.last_hashes, linked) {
            self.findings.push(Finding::BrokenLink {
                seq,
                expected: hashes[0],
                found: record.prev,
            });
        }
        if let Some(previous) = self.last_recorded_at.filter(|at| record.recorded_at < *at) {
            self.findings.push(Finding::TimeBackwards {
                seq,
                recorded_at: record.recorded_at,
                previous,
            });
        }
        self.last_recorded_at = Some(record.recorded_at);
        self.last_hashes = Some([record.hash, check.computed_hash]);
        self.frontier.push(check.computed_hash);

        let event = match check.opened {
            Err(error) => {
                if seq.0 == 0 {
                    self.genesis_failed = true;
                }
                // Its type is unknown: it may have been a key record.
                self.keys = None;
                self.findings.push(Finding::BadEvent { seq, error });
                None
            }
            Ok(event) => {
                if is_key_record_type(event.body().event_type.as_str()) {
                    if let Some(keys) = &mut self.keys {
                        keys.push(&check.computed_hash);
                    }
                }
                self.check_event(seq, &event);
                Some(event)
            }
        };
        self.check_checkpoints_at(self.frontier.size());
        event
    }

    fn check_event(&mut self, seq: Seq, event: &AuthenticEvent) {
        let body = event.body();
        let id_key = event_id_key(&body.id);
        if let Some(first) = self.event_ids.get(&id_key) {
            self.findings.push(Finding::DuplicateEventId {
                seq,
                event_id: body.id.clone(),
                first,
            });
        } else {
            self.event_ids.insert(id_key, seq);
        }
        match self.registry.authorize(seq, body, self.matrix) {
            Ok(effect) => {
                if let KeyEffect::Genesis { payload, .. } = &effect {
                    self.check_pinned_key(payload);
                }
                self.registry.apply(seq, effect)
            }
            // Without a genesis nothing after it can be authorised: the genesis's own finding
            // says so once.
            Err(AuthError::MissingGenesis(_)) if seq.0 > 0 && self.genesis_failed => {}
            Err(error) => {
                if seq.0 == 0 {
                    self.genesis_failed = true;
                }
                self.findings.push(Finding::Unauthorised { seq, error })
            }
        }
    }

    /// An auditor who pinned the ledger key expects the genesis to name it.
    fn check_pinned_key(&mut self, genesis: &crate::registry::GenesisPayload) {
        let Some(pinned) = &self.pinned_log_key else {
            return;
        };
        let named = VerifierKey::ed25519(genesis.origin.clone(), genesis.ledger_key);
        if named != *pinned {
            self.findings.push(Finding::LedgerKeyMismatch {
                pinned: pinned.to_string(),
                named: named.to_string(),
            });
        }
    }

    fn log_key(&self) -> Option<VerifierKey> {
        self.pinned_log_key.clone().or_else(|| {
            self.registry
                .genesis()
                .map(|g| VerifierKey::ed25519(g.origin.clone(), g.ledger_key))
        })
    }

    /// The log key every checkpoint must be signed by (none before genesis unless the log
    /// key is pinned).
    fn log_policy(&self) -> Option<WitnessPolicy> {
        Some(WitnessPolicy::log_only(self.log_key()?))
    }

    /// Keeps `note` as the anchor when it is at least as large as the current one; at equal
    /// sizes the one with more verified witness cosignatures wins.
    fn note_anchor(&mut self, size: u64, note: SignedNote) {
        if self.anchor_at.is_some_and(|at| at != size) {
            return;
        }
        let policy = self.log_key().map(|log| WitnessPolicy {
            log,
            witnesses: self.witnesses.clone(),
            quorum: 0,
        });
        let witnessed = |note: &SignedNote| {
            policy
                .as_ref()
                .and_then(|p| p.verify(note).ok())
                .map_or(0, |v| v.witnesses.len())
        };
        let better = match &self.anchor {
            None => true,
            Some((anchor, _)) if size > *anchor => true,
            Some((anchor, current)) => size == *anchor && witnessed(&note) > witnessed(current),
        };
        if better {
            self.anchor = Some((size, note));
        }
    }

    fn check_checkpoints_at(&mut self, size: u64) {
        let Some(pending) = self.checkpoints.remove(&size) else {
            return;
        };
        let root = self.frontier.root();
        for PendingCheckpoint { note, trusted } in pending {
            self.checkpoints_checked += 1;
            let roots_unknown = self.roots_unknown;
            let Some(policy) = self.log_policy() else {
                self.findings.push(Finding::CheckpointSignature {
                    size,
                    error: NoteError::MissingLogSignature("(no genesis, no pinned key)".into()),
                });
                continue;
            };
            let verified = policy.verify(&note);
            // A checkpoint the ledger key signed vouches for the positions it covers, whether
            // or not the records there still match its root (a mismatch is its own finding).
            if verified.is_ok() {
                self.anchored = self.anchored.max(size);
            }
            match verified {
                Err(error) if trusted => {
                    self.findings.push(Finding::TrustedCheckpointInconsistent {
                        size,
                        reason: error.to_string(),
                    })
                }
                Err(error) => self
                    .findings
                    .push(Finding::CheckpointSignature { size, error }),
                // Past an unreadable record the root is unknown; that record is the finding.
                Ok(_) if roots_unknown => {}
                Ok(verified) if verified.checkpoint.root != root => {
                    self.findings.push(if trusted {
                        Finding::TrustedCheckpointInconsistent {
                            size,
                            reason: format!(
                                "the records' root at that size is {root}, the trusted checkpoint says {}",
                                verified.checkpoint.root
                            ),
                        }
                    } else {
                        Finding::CheckpointRootMismatch {
                            size,
                            stated: verified.checkpoint.root,
                            computed: root,
                        }
                    })
                }
                // The records match the root: their key records must match the commitment.
                Ok(verified) => {
                    self.key_commitment_differs(&verified.checkpoint, size);
                    if !trusted {
                        self.note_anchor(size, note);
                    }
                }
            }
        }
    }

    /// Compares a verified checkpoint's key commitment with the key records read; reports a
    /// difference (true) or records that the commitment was checked.
    fn key_commitment_differs(
        &mut self,
        checkpoint: &crate::checkpoint::Checkpoint,
        size: u64,
    ) -> bool {
        let reason = match (KeyChain::stated(&checkpoint.extensions), self.keys) {
            (None, _) | (Some(Ok(_)), None) => return false,
            (Some(Err(())), _) => "its key commitment line is malformed or repeated".to_owned(),
            (Some(Ok(stated)), Some(keys)) if stated == keys => {
                self.key_commitment_checked = true;
                return false;
            }
            (Some(Ok(stated)), Some(keys)) => format!(
                "it commits to {}, the key records read give {} (one is missing or extra)",
                stated.0, keys.0
            ),
        };
        self.findings
            .push(Finding::KeyCommitmentMismatch { size, reason });
        true
    }

    /// Checks the witness quorum on the anchoring checkpoint; a shortfall is a finding at its
    /// size. `None` when no quorum was asked for or nothing anchored the records.
    fn witnessed_anchor(&mut self) -> Option<WitnessedAnchor> {
        if self.quorum == 0 && self.witnesses.is_empty() {
            return None;
        }
        let Some((size, note)) = self.anchor.clone() else {
            if let Some(at) = self.anchor_at {
                self.findings.push(Finding::CheckpointSignature {
                    size: at,
                    error: NoteError::QuorumNotMet {
                        have: 0,
                        need: self.quorum,
                    },
                });
            }
            return None;
        };
        let policy = WitnessPolicy {
            log: self.log_key()?,
            witnesses: self.witnesses.clone(),
            quorum: self.quorum,
        };
        match policy.verify(&note) {
            Ok(verified) => Some(WitnessedAnchor {
                size,
                witnesses: verified
                    .witnesses
                    .into_iter()
                    .map(|(name, timestamp)| WitnessCosignature { name, timestamp })
                    .collect(),
            }),
            Err(error) => {
                self.findings
                    .push(Finding::CheckpointSignature { size, error });
                None
            }
        }
    }

    /// The findings so far, without ending the stream.
    pub fn finish_peek(&self) -> &[Finding] {
        &self.findings
    }

    /// Ends the stream: checkpoints beyond the records read become findings.
    pub fn finish(mut self) -> VerifyReport {
        let records = self.frontier.size();
        let policy = self.log_policy();
        for (size, pending) in std::mem::take(&mut self.checkpoints) {
            for PendingCheckpoint { trusted, note } in pending {
                self.checkpoints_checked += 1;
                // A signed checkpoint past the end still vouches for the positions it covers:
                // the records there are missing (this finding), not unanchored.
                if policy.as_ref().is_some_and(|p| p.verify(&note).is_ok()) {
                    self.anchored = self.anchored.max(size);
                }
                self.findings.push(if trusted {
                    Finding::TrustedCheckpointInconsistent {
                        size,
                        reason: format!("the ledger has only {records} records: truncated"),
                    }
                } else {
                    Finding::CheckpointBeyondLog { size, records }
                });
            }
        }
        let unanchored = (self.anchored < records).then(|| SeqRange {
            from: Seq(self.anchored),
            to: Seq(records - 1),
        });
        if let (Some(range), false) = (unanchored, self.allow_unanchored) {
            self.findings.push(Finding::Unanchored {
                from: range.from,
                to: range.to,
            });
        }
        let witnessed = self.witnessed_anchor();
        VerifyReport {
            witnessed,
            records,
            root: self.frontier.root(),
            checkpoints_checked: self.checkpoints_checked,
            key_pinned: self.pinned_log_key.is_some(),
            key_commitment_checked: self.key_commitment_checked,
            unanchored: unanchored.filter(|_| self.allow_unanchored),
            findings: self.findings,
        }
    }
}
