//! The NATS protocol of Probity's services, as types (documented in `schemas/PROTOCOL.md` and
//! `schemas/QUERIES.md`): subjects, requests, replies, and [`ErrorCode`], every error code a
//! service sends. Requests and replies are JSON; every reply is either `{"ok": …}` or
//! `{"error": {"code", "message"}}`. Shared by ledgerd, projectord, the views and every client,
//! with nothing else: it depends on the core's formats only.

mod code;

pub use code::ErrorCode;

use std::collections::BTreeMap;

use probity_core::envelope::SignedEvent;
use probity_core::hash::Hash;
use probity_core::ids::Seq;
use probity_core::receipt::Receipt;
use probity_core::time::RecordedAt;
use serde::{Deserialize, Serialize};

/// `probity.<ledger>.append`.
pub fn append_subject(ledger: &str) -> String {
    format!("probity.{ledger}.append")
}
/// `probity.<ledger>.append.batch`: several events in one request.
pub fn append_batch_subject(ledger: &str) -> String {
    format!("probity.{ledger}.append.batch")
}
/// `probity.<ledger>.status`.
pub fn status_subject(ledger: &str) -> String {
    format!("probity.{ledger}.status")
}
/// `probity.<ledger>.checkpoint`.
pub fn checkpoint_subject(ledger: &str) -> String {
    format!("probity.{ledger}.checkpoint")
}
/// `probity.<ledger>.proof.inclusion`.
pub fn inclusion_subject(ledger: &str) -> String {
    format!("probity.{ledger}.proof.inclusion")
}
/// `probity.<ledger>.proof.consistency`.
pub fn consistency_subject(ledger: &str) -> String {
    format!("probity.{ledger}.proof.consistency")
}
/// `probity.<ledger>.cosign`: witnesses' cosignatures handed to ledgerd.
pub fn cosign_subject(ledger: &str) -> String {
    format!("probity.{ledger}.cosign")
}
/// `probity.<ledger>.version`: how many records name a subject (for `expect`).
pub fn version_subject(ledger: &str) -> String {
    format!("probity.{ledger}.version")
}
/// `probity.<ledger>.read`: a reader (projectord, an auditor) asks ledgerd for a consumer of
/// the stream; readers may not create consumers themselves (a push consumer could deliver the
/// stream onto any subject).
pub fn read_subject(ledger: &str) -> String {
    format!("probity.{ledger}.read")
}

/// Request of a stream consumer: the records from `from` (a record seq) on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The first record to read.
    pub from: u64,
}

/// The consumer ledgerd made: a pull consumer of `stream` named `consumer` (not listed, not
/// guessable, removed after 30 s unused), delivering each record once, in order, without acks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadReply {
    /// The stream.
    pub stream: String,
    /// The consumer's name.
    pub consumer: String,
}

/// `probity.<ledger>.records`: the JetStream subject committed records are published on.
pub fn records_subject(ledger: &str) -> String {
    format!("probity.{ledger}.records")
}
/// The default JetStream stream name of a ledger: `PROBITY_` and the ledger id in upper case
/// with `-` as `_`.
pub fn default_stream_name(ledger: &str) -> String {
    format!("PROBITY_{}", ledger.to_uppercase().replace('-', "_"))
}

/// The largest request `ledgerd` reads; larger ones get `too-large` without being parsed.
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;

/// The largest batch request `ledgerd` reads: under NATS's default `max_payload` (1 MiB), so
/// that a larger one still arrives and gets `too-large`.
pub const MAX_BATCH_BYTES: usize = 1000 * 1024;

/// The most events one batch request may carry.
pub const MAX_BATCH_EVENTS: usize = 256;

/// Body of an append request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendMessage {
    /// The signed event (DSSE envelope).
    pub event: SignedEvent,
    /// Expected versions of subject streams, `{"case:CASE-1": 3}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect: BTreeMap<String, u64>,
}

/// Body of a batch append request: events appended in this order, each accepted or refused
/// on its own; the reply holds one [`Reply`] per event, in the same order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendBatchMessage {
    /// The events, each as its own append request.
    pub events: Vec<AppendMessage>,
}

probity_core::text_schema!(
    /// A record, as `schemas/FORMAT.md` §5 specifies it.
    RecordSchema, "Record", {
        "type": "object",
        "description": "A record (FORMAT.md §5): seq, recorded_at, prev, event, hash"
    }
);

/// An error reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireError {
    /// Stable kebab-case code (see `schemas/PROTOCOL.md`).
    pub code: ErrorCode,
    /// What is wrong, for people.
    pub message: String,
    /// With `id-conflict`, when the same key signed the earlier event: its record, so that a
    /// retry whose defaulted fields (such as `occurred_at`) differ can be recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RecordSchema>")]
    pub original: Option<Box<probity_core::record::Record>>,
}

impl WireError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError {
            code,
            message: message.into(),
            original: None,
        }
    }
}

/// Every reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply<T> {
    /// Success.
    Ok(T),
    /// Failure.
    Error(WireError),
}

/// Request of an inclusion proof; `size` defaults to the latest checkpoint's.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionRequest {
    /// The record.
    pub seq: Seq,
    /// The tree size.
    #[serde(default)]
    pub size: Option<u64>,
}

/// An inclusion proof (`schemas/FORMAT.md` §6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The record.
    pub seq: Seq,
    /// The tree size.
    pub tree_size: u64,
    /// The record hash.
    pub leaf_hash: Hash,
    /// The audit path.
    pub proof: Vec<Hash>,
    /// The root of the tree of `tree_size` records.
    pub root: Hash,
}

/// Request of a consistency proof; `size2` defaults to the latest checkpoint's.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyRequest {
    /// The older size.
    pub size1: u64,
    /// The newer size.
    #[serde(default)]
    pub size2: Option<u64>,
}

/// A consistency proof (`schemas/FORMAT.md` §6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older size.
    pub size1: u64,
    /// The newer size.
    pub size2: u64,
    /// Root at `size1`.
    pub root1: Hash,
    /// Root at `size2`.
    pub root2: Hash,
    /// The proof.
    pub proof: Vec<Hash>,
}

/// Request of a subject's version: `{"subject": "case:CASE-1"}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRequest {
    /// `kind:id`: `supplier:<USCC>`, `rep:<filing number>`, `case:<case id>` or
    /// `staff:<staff id>`.
    pub subject: String,
}

/// A subject's version: the number of records that named it so far, what an append's
/// `expect` compares against (0 for a subject no record named).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionReply {
    /// The subject, as asked.
    pub subject: String,
    /// Records that named it.
    pub version: u64,
    /// The ledger's size when this was read: the version holds for the records before it.
    pub size: u64,
}

/// Request of a checkpoint: the latest, or the one at `size`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRequest {
    /// A specific size.
    #[serde(default)]
    pub size: Option<u64>,
}

/// A checkpoint reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointReply {
    /// Its tree size.
    pub size: u64,
    /// The signed note, as text.
    pub note: String,
}

/// A cosigned checkpoint handed to ledgerd (`probity.<ledger>.cosign`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignRequest {
    /// The ledger's checkpoint, as text, with one or more witnesses' cosignature lines.
    pub note: String,
}

/// What ledgerd kept of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignReply {
    /// The checkpoint's size.
    pub size: u64,
    /// Witnesses (configured in ledgerd) whose cosignature was attached now.
    pub attached: Vec<String>,
    /// The checkpoint as stored now, with every signature it carries.
    pub note: String,
}

/// The status of a ledger (`probity.<ledger>.status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Status {
    /// Ledger id.
    pub ledger: String,
    /// Checkpoint origin.
    pub origin: String,
    /// Number of records.
    pub size: u64,
    /// Merkle root of the records.
    pub root: Hash,
    /// Size of the latest signed checkpoint.
    pub checkpoint_size: Option<u64>,
    /// When the last record was recorded.
    pub last_recorded_at: Option<RecordedAt>,
    /// Keys enrolled and active.
    pub active_keys: usize,
}

/// Reply types, named for documentation.
pub type AppendReply = Reply<Receipt>;
/// Status reply.
pub type StatusReply = Reply<Status>;
