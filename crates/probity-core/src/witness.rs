//! A witness's side of C2SP `tlog-witness`: an auditor keeps, per log, the last checkpoint it
//! cosigned, and cosigns a newer one only with a consistency proof from that one, so the log can
//! never show it two histories. This module checks an `add-checkpoint` request against the
//! witness's state; storing the state and signing are the caller's (`probity witness`).
//!
//! Request (the body of `add-checkpoint`):
//!
//! ```text
//! old <size the client believes the witness last cosigned>
//! <consistency proof from that size: one base64 hash per line>
//!
//! <the new checkpoint, a signed note>
//! ```

use serde::{Deserialize, Serialize};

use crate::checkpoint::{NoteError, SignedNote, WitnessPolicy};
use crate::hash::Hash;
use crate::merkle::{self, ProofError};
use crate::proof::{parse_hashes, push_hashes_and_note};

/// What a witness remembers of a log: the last checkpoint it cosigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessedTree {
    /// The log's origin.
    pub origin: String,
    /// Size of the last checkpoint cosigned.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// An `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness last cosigned (0 for none).
    pub old: u64,
    /// Consistency proof from `old` to the new checkpoint's size.
    pub proof: Vec<Hash>,
    /// The new checkpoint.
    pub checkpoint: SignedNote,
}

/// Why a witness refuses to cosign (with the HTTP status tlog-witness gives it).
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// Not a request.
    #[error("not an add-checkpoint request: {0}")]
    Malformed(String),
    /// The log's signature is missing or the checkpoint does not parse (403).
    #[error("checkpoint not signed by the log: {0}")]
    Unsigned(#[from] NoteError),
    /// The request starts from another size than the witness's (409).
    #[error("the witness last cosigned size {latest}, the request starts from {old}: send a proof from {latest}")]
    Conflict {
        /// The witness's size.
        latest: u64,
        /// The request's.
        old: u64,
    },
    /// The new checkpoint is smaller than the one cosigned (409).
    #[error(
        "the checkpoint has {new} records, fewer than the {latest} already cosigned: a rollback"
    )]
    Rollback {
        /// The witness's size.
        latest: u64,
        /// The request's.
        new: u64,
    },
    /// Same size, another root: the log forked (409).
    #[error(
        "size {size} was cosigned with root {cosigned}, this checkpoint says {presented}: a fork"
    )]
    Fork {
        /// The size.
        size: u64,
        /// The root cosigned.
        cosigned: Hash,
        /// The root presented.
        presented: Hash,
    },
    /// The proof does not show the new tree extends the cosigned one (422).
    #[error("consistency proof from {old}: {error}")]
    Inconsistent {
        /// From.
        old: u64,
        /// Why.
        error: ProofError,
    },
}

impl WitnessError {
    /// The HTTP status tlog-witness answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            WitnessError::Malformed(_) => 400,
            WitnessError::Unsigned(_) => 403,
            WitnessError::Conflict { .. }
            | WitnessError::Rollback { .. }
            | WitnessError::Fork { .. } => 409,
            WitnessError::Inconsistent { .. } => 422,
        }
    }
}

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(text: &str) -> Result<AddCheckpoint, WitnessError> {
        let bad = |what: &str| WitnessError::Malformed(what.to_owned());
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or_else(|| bad("the first line is not `old <size>`"))?
            .parse()
            .map_err(|_| bad("the old size is not a number"))?;
        let proof = parse_hashes(lines).map_err(bad)?;
        let checkpoint = SignedNote::parse(note.as_bytes())?;
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint,
        })
    }

    /// The request as text.
    pub fn to_text(&self) -> String {
        let mut text = format!("old {}\n", self.old);
        push_hashes_and_note(&mut text, &self.proof, &self.checkpoint);
        text
    }

    /// Checks the request against the log's key and what the witness cosigned before
    /// (`latest`, `None` for a log it has not seen); returns the tree to remember once cosigned.
    pub fn check(
        &self,
        log: &WitnessPolicy,
        latest: Option<&WitnessedTree>,
    ) -> Result<WitnessedTree, WitnessError> {
        let checkpoint = log.verify(&self.checkpoint)?.checkpoint;
        let (latest_size, latest_root) = latest.map_or((0, None), |t| (t.size, Some(t.root)));
        if self.old != latest_size {
            return Err(WitnessError::Conflict {
                latest: latest_size,
                old: self.old,
            });
        }
        if checkpoint.size < latest_size {
            return Err(WitnessError::Rollback {
                latest: latest_size,
                new: checkpoint.size,
            });
        }
        match latest_root {
            Some(cosigned) if checkpoint.size == latest_size && checkpoint.root != cosigned => {
                return Err(WitnessError::Fork {
                    size: latest_size,
                    cosigned,
                    presented: checkpoint.root,
                })
            }
            Some(cosigned) if checkpoint.size > latest_size => merkle::verify_consistency(
                latest_size,
                checkpoint.size,
                &self.proof,
                &cosigned,
                &checkpoint.root,
            )
            .map_err(|error| WitnessError::Inconsistent {
                old: latest_size,
                error,
            })?,
            _ => {}
        }
        Ok(WitnessedTree {
            origin: checkpoint.origin,
            size: checkpoint.size,
            root: checkpoint.root,
        })
    }
}
