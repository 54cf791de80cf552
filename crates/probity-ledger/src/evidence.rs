//! Proof bundles for records of a ledger: each record with its inclusion proof in one signed
//! checkpoint that covers them all (`probity prove`, `replay --bundle`).

use probity_core::ids::Seq;

use probity_core::proof::ProofBundle;

use crate::{AppendError, Ledger, LedgerError, ProofError};

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The ledger has no such record.
    #[error("no record {seq}: the ledger has {size}")]
    NoRecord {
        /// The record asked for.
        seq: u64,
        /// Records in the ledger.
        size: u64,
    },
    /// The book could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A checkpoint could not be signed.
    #[error("signing a checkpoint: {0}")]
    Checkpoint(#[from] AppendError),
    /// A proof could not be computed.
    #[error("inclusion proof: {0}")]
    Proof(#[from] ProofError),
}

/// Proof bundles of `seqs` against the ledger's latest checkpoint, first signing one if the
/// last of them is past it.
pub fn proof_bundles(ledger: &Ledger, seqs: &[u64]) -> Result<Vec<ProofBundle>, EvidenceError> {
    let size = ledger.size();
    let last = seqs.iter().copied().max().unwrap_or(0);
    if last >= size {
        return Err(EvidenceError::NoRecord { seq: last, size });
    }
    let covering = |c: &Option<(u64, _)>| c.as_ref().is_some_and(|(size, _)| *size > last);
    let mut checkpoint = ledger.latest_checkpoint();
    if !covering(&checkpoint) {
        ledger.checkpoint_now()?;
        checkpoint = ledger.latest_checkpoint();
    }
    let Some((tree, note)) = checkpoint.filter(|(size, _)| *size > last) else {
        return Err(EvidenceError::NoRecord { seq: last, size });
    };
    seqs.iter()
        .map(|&seq| {
            let record = ledger
                .record(Seq(seq))?
                .ok_or(EvidenceError::NoRecord { seq, size })?;
            Ok(ProofBundle {
                index: seq,
                record,
                proof: ledger.inclusion_proof(Seq(seq), tree)?,
                checkpoint: note.clone(),
            })
        })
        .collect()
}

/// An investigation bundle (`schemas/PROOF.md`) of `seqs` and the key records before the last
/// of them, each with its inclusion proof in one checkpoint; `question` says what was asked.
pub fn investigation(
    ledger: &Ledger,
    seqs: &[u64],
    question: serde_json::Value,
) -> Result<probity_core::investigation::Investigation, EvidenceError> {
    let mut all = seqs.to_vec();
    let end = all.iter().max().map_or(1, |last| last + 1);
    all.extend(key_records(ledger, end)?);
    all.sort_unstable();
    all.dedup();
    let proofs = proof_bundles(ledger, &all)?;
    Ok(probity_core::investigation::Investigation {
        format: probity_core::investigation::FORMAT.to_owned(),
        question,
        proofs: proofs
            .iter()
            .map(ProofBundle::to_text_with_record)
            .collect(),
    })
}

/// The records that change keys (genesis, enrolments, revocations) before `end`, ascending.
pub fn key_records(ledger: &Ledger, end: u64) -> Result<Vec<u64>, LedgerError> {
    let mut seqs = Vec::new();
    for seq in ledger.book().governance_seqs() {
        let seq = seq?.0;
        if seq < end {
            seqs.push(seq);
        }
    }
    Ok(seqs)
}
