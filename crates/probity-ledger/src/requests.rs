//! The ledger's requests, read and answered the same way whichever transport carries them:
//! ledgerd over NATS (`schemas/PROTOCOL.md`) and `probity serve` over HTTP
//! (`schemas/HTTP.md`). Parsing is strict (one accepted form), bounded in size, and every
//! refusal is a [`WireError`] with its documented code.

use probity_core::checkpoint::{SignedNote, VerifierKey};
use probity_core::receipt::Receipt;
use probity_core::subject::{Subject, SubjectError};
use probity_wire::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::wire::{
    self, AppendBatchMessage, AppendMessage, CheckpointReply, CheckpointRequest, ConsistencyProof,
    ConsistencyRequest, CosignReply, CosignRequest, InclusionProof, InclusionRequest, Reply,
    VersionReply, VersionRequest, WireError,
};
use crate::Ledger;

/// The longest error message a reply carries: an error quoting a request near the size limit
/// must not make a reply too large to send.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// An error with its message cut to [`MAX_MESSAGE_CHARS`].
pub fn error(code: ErrorCode, message: impl Into<String>) -> WireError {
    WireError::new(code, bounded(message.into()))
}

/// `message`, cut to [`MAX_MESSAGE_CHARS`] characters (saying so).
fn bounded(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message,
        Some((at, _)) => format!("{}… (cut)", &message[..at]),
    }
}

/// An error reply with its message cut to [`MAX_MESSAGE_CHARS`].
pub fn bounded_error(mut e: WireError) -> WireError {
    e.message = bounded(e.message);
    e
}

/// Parses a request body of at most [`wire::MAX_REQUEST_BYTES`], telling malformed JSON from
/// a wrong shape. An empty body is `{}`.
pub fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    parse_within(payload, wire::MAX_REQUEST_BYTES)
}

fn too_large(what: &str, len: usize, limit: usize) -> WireError {
    error(
        ErrorCode::TooLarge,
        format!("{what} is {len} bytes; the limit is {limit}"),
    )
}

/// [`parse`] with another size limit.
pub fn parse_within<T: DeserializeOwned>(payload: &[u8], limit: usize) -> Result<T, WireError> {
    if payload.len() > limit {
        return Err(too_large("request", payload.len(), limit));
    }
    let body: &[u8] = if payload.is_empty() { b"{}" } else { payload };
    probity_core::strict_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => error(
            ErrorCode::MalformedJson,
            format!("request is not JSON: {e}"),
        ),
        _ => error(
            ErrorCode::MalformedRequest,
            format!("request has the wrong shape: {e}"),
        ),
    })
}

/// A batch request: parsed within [`wire::MAX_BATCH_BYTES`] and at most
/// [`wire::MAX_BATCH_EVENTS`] events, or refused whole.
pub fn parse_batch(payload: &[u8]) -> Result<Vec<AppendMessage>, WireError> {
    let batch: AppendBatchMessage = parse_within(payload, wire::MAX_BATCH_BYTES)?;
    if batch.events.len() > wire::MAX_BATCH_EVENTS {
        return Err(error(
            ErrorCode::TooMany,
            format!(
                "the batch holds {} events; the limit is {}",
                batch.events.len(),
                wire::MAX_BATCH_EVENTS
            ),
        ));
    }
    Ok(batch.events)
}

/// Appends the events of a batch: one reply per event, in order.
pub fn append_batch(ledger: &Ledger, events: Vec<AppendMessage>) -> Vec<Reply<Receipt>> {
    let requests = events.into_iter().map(Into::into).collect();
    ledger
        .append_batch(requests)
        .into_iter()
        .map(|appended| match appended {
            Ok(receipt) => Reply::Ok(receipt),
            Err(e) => Reply::Error(bounded_error(WireError::from(&e))),
        })
        .collect()
}

/// `Ok` or `Error`, as a reply.
pub fn into_reply<T>(result: Result<T, WireError>) -> Reply<T> {
    match result {
        Ok(v) => Reply::Ok(v),
        Err(e) => Reply::Error(e),
    }
}

/// The ledger's read-only requests (and `cosign`, which only adds verified signatures).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerQuery {
    /// `status`.
    Status,
    /// `checkpoint`.
    Checkpoint,
    /// `proof.inclusion`.
    Inclusion,
    /// `proof.consistency`.
    Consistency,
    /// `cosign`.
    Cosign,
    /// `version`.
    Version,
}

impl LedgerQuery {
    /// Every query, with the subject suffix that names it.
    pub const ALL: [(LedgerQuery, &'static str); 6] = [
        (LedgerQuery::Status, "status"),
        (LedgerQuery::Checkpoint, "checkpoint"),
        (LedgerQuery::Inclusion, "proof.inclusion"),
        (LedgerQuery::Consistency, "proof.consistency"),
        (LedgerQuery::Cosign, "cosign"),
        (LedgerQuery::Version, "version"),
    ];

    /// The query a NATS subject names for ledger `ledger_id`, if any.
    pub fn of_subject(ledger_id: &str, subject: &str) -> Option<LedgerQuery> {
        let rest = subject
            .strip_prefix("probity.")?
            .strip_prefix(ledger_id)?
            .strip_prefix('.')?;
        Self::ALL
            .iter()
            .find(|(_, suffix)| *suffix == rest)
            .map(|(query, _)| *query)
    }
}

fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, WireError> {
    serde_json::to_value(value).map_err(|e| error(ErrorCode::Internal, e.to_string()))
}

/// Answers `query` with request body `payload`; `witnesses` are the keys whose cosignatures
/// `cosign` attaches.
pub fn answer(
    ledger: &Ledger,
    witnesses: &[VerifierKey],
    query: LedgerQuery,
    payload: &[u8],
) -> Result<serde_json::Value, WireError> {
    let internal = |e: &dyn std::fmt::Display| error(ErrorCode::Internal, e.to_string());
    let latest = || {
        ledger
            .latest_checkpoint()
            .map(|(size, _)| size)
            .ok_or_else(|| error(ErrorCode::NoCheckpoint, "no checkpoint has been signed yet"))
    };
    match query {
        LedgerQuery::Status => {
            let status = ledger.status().map_err(|e| internal(&e))?;
            json(&status)
        }
        LedgerQuery::Checkpoint => {
            let request: CheckpointRequest = parse(payload)?;
            let (size, note) = match request.size {
                None => ledger.latest_checkpoint().ok_or_else(|| {
                    error(ErrorCode::NoCheckpoint, "no checkpoint has been signed yet")
                })?,
                Some(size) => (
                    size,
                    ledger
                        .book()
                        .checkpoint(size)
                        .map_err(|e| internal(&e))?
                        .ok_or_else(|| {
                            error(
                                ErrorCode::NoCheckpoint,
                                format!("no checkpoint at size {size}"),
                            )
                        })?,
                ),
            };
            let note = String::from_utf8_lossy(&note.to_bytes()).into_owned();
            json(&CheckpointReply { size, note })
        }
        LedgerQuery::Inclusion => {
            let request: InclusionRequest = parse(payload)?;
            let size = match request.size {
                Some(size) => size,
                None => latest()?,
            };
            let proof = ledger
                .inclusion_proof(request.seq, size)
                .map_err(|e| error(ErrorCode::BadProofRequest, e.to_string()))?;
            let record = ledger
                .record(request.seq)
                .map_err(|e| internal(&e))?
                .ok_or_else(|| {
                    error(
                        ErrorCode::BadProofRequest,
                        format!("no record {}", request.seq),
                    )
                })?;
            let root = ledger
                .root_at(size)
                .map_err(|e| error(ErrorCode::BadProofRequest, e.to_string()))?;
            json(&InclusionProof {
                seq: request.seq,
                tree_size: size,
                leaf_hash: record.hash,
                proof,
                root,
            })
        }
        LedgerQuery::Consistency => {
            let request: ConsistencyRequest = parse(payload)?;
            let size2 = match request.size2 {
                Some(size) => size,
                None => latest()?,
            };
            let proof = ledger
                .consistency_proof(request.size1, size2)
                .map_err(|e| error(ErrorCode::BadProofRequest, e.to_string()))?;
            let root = |size| {
                ledger
                    .root_at(size)
                    .map_err(|e| error(ErrorCode::BadProofRequest, e.to_string()))
            };
            json(&ConsistencyProof {
                size1: request.size1,
                size2,
                root1: root(request.size1)?,
                root2: root(size2)?,
                proof,
            })
        }
        LedgerQuery::Version => {
            let request: VersionRequest = parse(payload)?;
            let subject: Subject = request.subject.parse().map_err(|e: SubjectError| {
                error(ErrorCode::MalformedRequest, format!("subject: {e}"))
            })?;
            // The size first: the version, read after it, counts at least the records before
            // `size` (one appended in between may be counted too; `expect` is checked against
            // the version at append time either way).
            let size = ledger.size();
            let version = ledger
                .book()
                .stream_version(&subject.to_string())
                .map_err(|e| internal(&e))?;
            json(&VersionReply {
                subject: request.subject,
                version,
                size,
            })
        }
        LedgerQuery::Cosign => {
            let request: CosignRequest = parse(payload)?;
            let note = SignedNote::parse(request.note.as_bytes())
                .map_err(|e| error(ErrorCode::MalformedRequest, format!("note: {e}")))?;
            let (size, attached, stored) = ledger
                .attach_cosignatures(&note, witnesses)
                .map_err(|e| error(e.code(), e.to_string()))?;
            if !attached.is_empty() {
                tracing::info!(size, witnesses = ?attached, "cosignatures attached");
            }
            json(&CosignReply {
                size,
                attached,
                note: String::from_utf8_lossy(&stored.to_bytes()).into_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_their_queries_and_nothing_else() {
        for (query, suffix) in LedgerQuery::ALL {
            let subject = format!("probity.city-3.{suffix}");
            assert_eq!(LedgerQuery::of_subject("city-3", &subject), Some(query));
            assert_eq!(LedgerQuery::of_subject("city-4", &subject), None);
        }
        assert_eq!(
            LedgerQuery::of_subject("city-3", "probity.city-3.append"),
            None
        );
        assert_eq!(
            LedgerQuery::of_subject("city-3", "probity.city-3.proof"),
            None
        );
    }
}
