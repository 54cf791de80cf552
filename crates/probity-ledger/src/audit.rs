//! Verifying an export (EXPORT.md) from its lines alone: what `probity verify FILE` and the
//! console's `POST /api/verify` both run.

use std::io::BufRead;

use probity_core::checkpoint::{Checkpoint, SignedNote, VerifierKey};
use probity_core::verify::{ChainVerifier, Finding, VerifyReport};

use crate::export::{
    bounded_lines, looks_like_record_line, range_state, Line, FORMAT, RANGE_FORMAT,
};

/// Why an export could not be verified at all (what is wrong inside one is a finding).
#[derive(Debug, thiserror::Error)]
pub enum VerifyExportError {
    /// Reading failed.
    #[error("{name}: {source}")]
    Io {
        /// Where from.
        name: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The first line is no export header.
    #[error("{name} is not a Probity export (no {FORMAT} header)")]
    NotAnExport {
        /// Where from.
        name: String,
    },
    /// The header names another format.
    #[error("{name}: format {format:?} from record {from} is not {FORMAT} (whole) or {RANGE_FORMAT} (a range)")]
    Format {
        /// Where from.
        name: String,
        /// The format named.
        format: String,
        /// The first record.
        from: u64,
    },
    /// The trusted checkpoint does not parse.
    #[error("--trusted-checkpoint: {0}")]
    TrustedCheckpoint(String),
    /// The trusted checkpoint is older than the range.
    #[error("--trusted-checkpoint of {kept} records predates this range (from record {from}); verify an export that includes it")]
    TrustedCheckpointBeforeRange {
        /// Its size.
        kept: u64,
        /// The range's first record.
        from: u64,
    },
}

/// What the auditor trusts, from outside the ledger.
#[derive(Debug, Default)]
pub struct Trust {
    /// The ledger's note key, pinned (otherwise the genesis record's is used).
    pub ledger_vkey: Option<VerifierKey>,
    /// A checkpoint kept from an earlier audit.
    pub trusted_checkpoint: Option<SignedNote>,
    /// Witness keys and how many must have cosigned each checkpoint.
    pub witnesses: Vec<VerifierKey>,
    /// The quorum.
    pub quorum: usize,
    /// The checkpoint (by size) that must carry the quorum, instead of the largest.
    pub witnessed_at: Option<u64>,
    /// Records past the last verified checkpoint are reported, not a finding.
    pub allow_unanchored: bool,
}

/// A new verifier that trusts what `trust` says.
pub fn verifier<'m>(
    matrix: &'m probity_core::roles::RoleMatrix,
    trust: &Trust,
) -> Result<ChainVerifier<'m>, VerifyExportError> {
    configured(ChainVerifier::new(matrix), trust)
}

/// `verifier`, told what `trust` says.
pub fn configured<'m>(
    mut verifier: ChainVerifier<'m>,
    trust: &Trust,
) -> Result<ChainVerifier<'m>, VerifyExportError> {
    if let Some(key) = &trust.ledger_vkey {
        verifier.pin_log_key(key.clone());
    }
    verifier.require_witnesses(trust.witnesses.clone(), trust.quorum);
    if let Some(size) = trust.witnessed_at {
        verifier.witnessed_at(size);
    }
    verifier.allow_unanchored(trust.allow_unanchored);
    if let Some(note) = &trust.trusted_checkpoint {
        let size = Checkpoint::from_text(&note.text)
            .map_err(|e| VerifyExportError::TrustedCheckpoint(e.to_string()))?
            .size;
        verifier.add_trusted_checkpoint(note.clone(), size);
    }
    Ok(verifier)
}

/// Records verified together (on all cores).
pub const BATCH: usize = 4096;

/// Verifies an export read from `lines` (`name` says where from, in errors): a whole
/// ledger's (v1) or a range's (v2, resumed from the key records and the chain state it
/// carries); also says whether it was a range. Tells `progress` (records read, records the
/// header states) as it goes.
pub fn verify_export(
    lines: impl BufRead,
    name: &str,
    trust: &Trust,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(VerifyReport, bool), VerifyExportError> {
    let matrix = probity_events::role_matrix();
    let mut verifier = verifier(&matrix, trust)?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut read = 0;
    let mut from = 0;
    let mut stated_size = 0;
    let mut checkpoints = Vec::new();
    let mut key_records = Vec::new();
    // Once the records have begun (or a range's start line was read), a line that does not
    // parse stands in the place of a record.
    let mut in_records = false;
    let mut lines = bounded_lines(lines);
    while let Some((number, line)) = lines.next_line().map_err(|source| VerifyExportError::Io {
        name: name.to_owned(),
        source,
    })? {
        match probity_core::strict_json::from_str::<Line>(&line) {
            Ok(Line::Header {
                format,
                size,
                from: start,
                ..
            }) if number == 0 => {
                stated_size = size;
                let whole = format == FORMAT && start == 0;
                let range = format == RANGE_FORMAT && start > 0;
                if !(whole || range) {
                    return Err(VerifyExportError::Format {
                        name: name.to_owned(),
                        format,
                        from: start,
                    });
                }
                if let Some(note) = &trust.trusted_checkpoint {
                    let kept = Checkpoint::from_text(&note.text).map_or(0, |c| c.size);
                    if kept < start {
                        return Err(VerifyExportError::TrustedCheckpointBeforeRange {
                            kept,
                            from: start,
                        });
                    }
                }
                from = start;
                progress(0, size.saturating_sub(start));
            }
            Ok(Line::Checkpoint { size, note }) => match SignedNote::parse(note.as_bytes()) {
                Ok(note) => {
                    checkpoints.push((size, note.clone()));
                    verifier.add_checkpoint(note, size);
                }
                Err(e) => verifier.push_unreadable(format!("line {}: checkpoint: {e}", number + 1)),
            },
            Ok(Line::KeyRecord {
                record,
                tree_size,
                proof,
            }) if from > 0 => key_records.push((record, tree_size, proof)),
            Ok(Line::Start {
                prev_hash,
                frontier,
            }) if from > 0 => {
                in_records = true;
                let (state, problems) = range_state(
                    from,
                    &key_records,
                    &checkpoints,
                    prev_hash,
                    frontier,
                    &matrix,
                );
                verifier = configured(ChainVerifier::resume(&matrix, state, []), trust)?;
                for (size, note) in &checkpoints {
                    verifier.add_checkpoint(note.clone(), *size);
                }
                for problem in problems {
                    verifier.push_finding(problem);
                }
            }
            Ok(Line::Record(record)) => {
                in_records = true;
                batch.push(record);
                if batch.len() == BATCH {
                    verifier.push_batch(&batch);
                    read += BATCH as u64;
                    progress(read, stated_size.saturating_sub(from));
                    batch.clear();
                }
            }
            Ok(Line::Header { .. } | Line::KeyRecord { .. } | Line::Start { .. }) => {
                verifier.push_unreadable(format!("line {}: not expected here", number + 1))
            }
            Err(_) if number == 0 => {
                return Err(VerifyExportError::NotAnExport {
                    name: name.to_owned(),
                })
            }
            Err(e) => {
                verifier.push_batch(&batch);
                batch.clear();
                let message = format!("line {}: {e}", number + 1);
                if in_records || looks_like_record_line(&line) {
                    in_records = true;
                    verifier.push_unreadable_record(message);
                } else {
                    verifier.push_unreadable(message);
                }
            }
        }
    }
    verifier.push_batch(&batch);
    let mut report = verifier.finish();
    if report.records != stated_size {
        report.findings.push(Finding::SizeMismatch {
            stated: stated_size,
            records: report.records,
        });
    }
    Ok((report, from > 0))
}
