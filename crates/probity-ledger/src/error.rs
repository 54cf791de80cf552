//! Errors of the engine. Every append error has a stable code for the wire.

use probity_core::append::AppendError as RuleError;
use probity_core::envelope::EnvelopeError;
use probity_core::keys::KeyError;
use probity_core::registry::AuthError;
use probity_events::DecodeError;

/// Why an event was not appended. Nothing was written when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The envelope or body is malformed, or the signature does not verify.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The payload does not match its event type's schema.
    #[error(transparent)]
    Payload(#[from] DecodeError),
    /// The ledger's rules refuse it (keys, roles, clock skew, id reuse).
    #[error(transparent)]
    Rejected(#[from] RuleError),
    /// The caller's expected version of a subject's stream did not match.
    #[error("expected {stream} at version {expected}, but it is at version {actual}")]
    VersionMismatch {
        /// `kind:id`, e.g. `case:CASE-1`.
        stream: String,
        /// What the caller expected.
        expected: u64,
        /// What it is.
        actual: u64,
    },
    /// The event id was recorded before with other content. `original` is that record when the
    /// same key signed it (the signer's own record: a retry can compare against it and get its
    /// receipt), `None` otherwise.
    #[error("event id {id} was already recorded at record {first}, with other content")]
    IdConflict {
        /// The id.
        id: probity_core::ids::EventId,
        /// Where it was recorded.
        first: probity_core::ids::Seq,
        /// The record, when the same key signed it.
        original: Option<Box<probity_core::record::Record>>,
    },
    /// The request itself is malformed (bad stream name in `expect`).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The engine is shutting down or stopped after a storage failure.
    #[error("ledger unavailable: {0}")]
    Unavailable(&'static str),
    /// Writing or flushing the book failed; nothing was acknowledged.
    #[error("storage failure: {0}")]
    Storage(String),
}

impl AppendError {
    /// A stable, kebab-case code for scripts and the wire protocol.
    pub fn code(&self) -> &'static str {
        match self {
            AppendError::Envelope(e) => match e {
                EnvelopeError::TooLarge { .. } => "too-large",
                EnvelopeError::DuplicateKey(_) => "duplicate-key",
                EnvelopeError::Signature(KeyError::BadSignature) => "bad-signature",
                EnvelopeError::Signature(_) | EnvelopeError::KeyIdMismatch { .. } => "bad-key",
                EnvelopeError::MalformedBody(_)
                | EnvelopeError::PayloadNotObject
                | EnvelopeError::SchemaVersion => "malformed-body",
                EnvelopeError::MalformedEnvelope(_)
                | EnvelopeError::PayloadType(_)
                | EnvelopeError::SignatureCount(_) => "malformed-envelope",
            },
            AppendError::Payload(e) => match e {
                DecodeError::UnknownType(_) => "unknown-event-type",
                DecodeError::UnsupportedSchema { .. } => "unsupported-schema",
                DecodeError::MissingSubject { .. } => "missing-subject",
                DecodeError::Invalid { .. } | DecodeError::Rule { .. } => "schema-violation",
            },
            AppendError::Rejected(e) => match e {
                RuleError::Envelope(_) => "bad-signature",
                RuleError::FromTheFuture { .. } => "clock-skew",
                RuleError::IdConflict { .. } => "id-conflict",
                RuleError::Unauthorised(a) => match a {
                    AuthError::UnknownKey(_) => "unknown-key",
                    AuthError::RevokedKey { .. } => "revoked-key",
                    AuthError::WrongRole { .. } | AuthError::UnknownEventType(_) => "wrong-role",
                    AuthError::WrongLedger { .. } => "wrong-ledger",
                    _ => "governance",
                },
            },
            AppendError::VersionMismatch { .. } => "version-mismatch",
            AppendError::IdConflict { .. } => "id-conflict",
            AppendError::BadRequest(_) => "bad-request",
            AppendError::Unavailable(_) => "unavailable",
            AppendError::Storage(_) => "storage",
        }
    }
}

/// Why the book could not be opened, created or read.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// sled failed (I/O, or the directory is locked by another process).
    #[error("book storage: {0}")]
    Storage(#[from] sled::Error),
    /// `create` was asked to overwrite an existing ledger.
    #[error("{0} already holds a ledger")]
    AlreadyExists(String),
    /// `open` found no ledger.
    #[error("{0} holds no ledger (run `probity init` first)")]
    NotInitialised(String),
    /// The genesis event was refused.
    #[error("genesis refused: {0}")]
    Genesis(AppendError),
    /// The ledger key given does not match the genesis record's.
    #[error("the ledger key given is not the one the genesis record names")]
    WrongLedgerKey,
    /// The book's contents contradict themselves.
    #[error("book is corrupt: {0}")]
    Corrupt(String),
    /// Another process (ledgerd, most likely) has the book open.
    #[error("{0} is in use by another process (is ledgerd running on it? Use --nats then)")]
    Locked(String),
    /// The storage under the book is damaged: sled found a bad checksum, or failed while
    /// recovering it.
    #[error("the book's storage in {path} is damaged ({detail}); restore it from a backup (the JetStream copy, `probity verify --nats`, shows what was acknowledged)")]
    Damaged {
        /// The book directory.
        path: String,
        /// What sled said.
        detail: String,
    },
    /// The book holds fewer records than receipts were given for: opening it for appends
    /// would reuse acknowledged sequence numbers.
    #[error("the book holds {book} records but {acknowledged} were acknowledged (see {file}): records were lost from storage; appends are refused so that no sequence number is used twice; restore the book from a backup (the JetStream copy, `probity verify --nats`, shows what was acknowledged)")]
    RecordsLost {
        /// Records the book holds.
        book: u64,
        /// Records acknowledged.
        acknowledged: u64,
        /// The acknowledged-size file.
        file: String,
    },
}

impl LedgerError {
    /// True when the book is damaged or lost records (not a usage problem, not a lock).
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            LedgerError::Corrupt(_) | LedgerError::Damaged { .. } | LedgerError::RecordsLost { .. }
        )
    }
}
