//! Errors of the engine. Every append error has a stable code for the wire.

use probity_core::append::AppendError as RuleError;
use probity_core::envelope::EnvelopeError;
use probity_core::keys::KeyError;
use probity_core::registry::AuthError;
use probity_events::DecodeError;
use probity_wire::{ErrorCode, WireError};

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
    /// Its code on the wire (`schemas/PROTOCOL.md`), for scripts.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppendError::Envelope(e) => match e {
                EnvelopeError::TooLarge { .. } => ErrorCode::TooLarge,
                EnvelopeError::DuplicateKey(_) => ErrorCode::DuplicateKey,
                EnvelopeError::Signature(KeyError::BadSignature) => ErrorCode::BadSignature,
                EnvelopeError::Signature(_) | EnvelopeError::KeyIdMismatch { .. } => {
                    ErrorCode::BadKey
                }
                EnvelopeError::MalformedBody(_)
                | EnvelopeError::PayloadNotObject
                | EnvelopeError::SchemaVersion => ErrorCode::MalformedBody,
                EnvelopeError::MalformedEnvelope(_)
                | EnvelopeError::PayloadType(_)
                | EnvelopeError::SignatureCount(_) => ErrorCode::MalformedEnvelope,
            },
            AppendError::Payload(e) => match e {
                DecodeError::UnknownType(_) => ErrorCode::UnknownEventType,
                DecodeError::UnsupportedSchema { .. } => ErrorCode::UnsupportedSchema,
                DecodeError::MissingSubject { .. } => ErrorCode::MissingSubject,
                DecodeError::Invalid { .. } | DecodeError::Rule { .. } => {
                    ErrorCode::SchemaViolation
                }
            },
            AppendError::Rejected(e) => match e {
                RuleError::Envelope(_) => ErrorCode::BadSignature,
                RuleError::FromTheFuture { .. } => ErrorCode::ClockSkew,
                RuleError::IdConflict { .. } => ErrorCode::IdConflict,
                RuleError::Unauthorised(a) => match a {
                    AuthError::UnknownKey(_) => ErrorCode::UnknownKey,
                    AuthError::RevokedKey { .. } => ErrorCode::RevokedKey,
                    AuthError::WrongRole { .. } | AuthError::UnknownEventType(_) => {
                        ErrorCode::WrongRole
                    }
                    AuthError::WrongLedger { .. } => ErrorCode::WrongLedger,
                    _ => ErrorCode::Governance,
                },
            },
            AppendError::VersionMismatch { .. } => ErrorCode::VersionMismatch,
            AppendError::IdConflict { .. } => ErrorCode::IdConflict,
            AppendError::BadRequest(_) => ErrorCode::BadRequest,
            AppendError::Unavailable(_) => ErrorCode::Unavailable,
            AppendError::Storage(_) => ErrorCode::Storage,
        }
    }
}

impl From<probity_wire::AppendMessage> for crate::AppendRequest {
    fn from(m: probity_wire::AppendMessage) -> Self {
        crate::AppendRequest {
            event: m.event,
            expect: m.expect.into_iter().collect(),
        }
    }
}

impl From<&AppendError> for WireError {
    fn from(e: &AppendError) -> WireError {
        let original = match e {
            AppendError::IdConflict { original, .. } => original.clone(),
            _ => None,
        };
        WireError {
            code: e.code(),
            message: e.to_string(),
            original,
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
    /// The writer thread could not be started (the system is out of threads or memory).
    #[error("cannot start the ledger's writer thread: {0}")]
    Thread(std::io::Error),
    /// Another process (ledgerd, most likely) has the book open.
    #[error("{0} is in use by another process (ledgerd: use --nats then; probity serve: use its HTTP API)")]
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
