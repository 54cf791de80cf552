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

use std::collections::BTreeMap;

use crate::checkpoint::{Checkpoint, SignedNote, VerifierKey};
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
    /// The checkpoint as cosigned (the log's signature and this witness's cosignature), which
    /// a witness serves to monitors; absent in state written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
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

/// Most consistency-proof lines a request may carry (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// Why a witness refuses to cosign, with the HTTP status C2SP tlog-witness gives it.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// Not a request (400).
    #[error("not an add-checkpoint request: {0}")]
    Malformed(String),
    /// The witness is not configured for the checkpoint's origin (404).
    #[error("this witness does not follow the log {0:?}")]
    UnknownOrigin(String),
    /// No valid signature by a key trusted for the origin, or a signature line naming a
    /// trusted key that does not verify (403).
    #[error("checkpoint not signed by the log: {0}")]
    Unsigned(String),
    /// The old size is beyond the checkpoint's size (400): a rollback when the witness has
    /// cosigned `old`.
    #[error("the request starts from size {old}, beyond the checkpoint's {size}")]
    OldBeyondCheckpoint {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The request starts from another size than the witness's (409; the answer's body is
    /// the witness's size).
    #[error("the witness last cosigned size {latest}, the request starts from {old}: send a proof from {latest}")]
    Conflict {
        /// The witness's size.
        latest: u64,
        /// The request's.
        old: u64,
    },
    /// A size-0 checkpoint whose root is not the empty tree's (422).
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    EmptyTreeRoot,
    /// A consistency proof from size 0 (422: the empty tree is consistent with any tree).
    #[error("a request from size 0 must carry no consistency proof")]
    ProofFromZero,
    /// Same size, another root: the log forked (422).
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
            WitnessError::Malformed(_) | WitnessError::OldBeyondCheckpoint { .. } => 400,
            WitnessError::Unsigned(_) => 403,
            WitnessError::UnknownOrigin(_) => 404,
            WitnessError::Conflict { .. } => 409,
            WitnessError::EmptyTreeRoot
            | WitnessError::ProofFromZero
            | WitnessError::Fork { .. }
            | WitnessError::Inconsistent { .. } => 422,
        }
    }
}

impl AddCheckpoint {
    /// Parses a request body: `old <size>` (decimal, no leading zeroes), at most 63 base64
    /// proof lines, an empty line, then the checkpoint (a signed note).
    pub fn parse(text: &str) -> Result<AddCheckpoint, WitnessError> {
        let bad = |what: &str| WitnessError::Malformed(what.to_owned());
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old_text = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or_else(|| bad("the first line is not `old <size>`"))?;
        if !old_text.bytes().all(|b| b.is_ascii_digit())
            || (old_text.len() > 1 && old_text.starts_with('0'))
        {
            return Err(bad(
                "the old size is not a decimal number without leading zeroes",
            ));
        }
        let old = old_text
            .parse()
            .map_err(|_| bad("the old size is not a number"))?;
        let proof = parse_hashes(lines).map_err(bad)?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(bad("more than 63 consistency proof lines"));
        }
        let checkpoint = SignedNote::parse(note.as_bytes())
            .map_err(|e| WitnessError::Malformed(e.to_string()))?;
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

    /// Checks the request as C2SP tlog-witness orders it: the origin must be one of `logs`
    /// (404), signed by its key (403), `old` no larger than the checkpoint (400) and equal to
    /// the size last cosigned for that origin in `state` (409), then the empty tree's root,
    /// an empty proof from 0, the same root at the same size, and the consistency proof
    /// (422). Returns the tree to remember once cosigned.
    pub fn check(
        &self,
        logs: &[VerifierKey],
        state: &BTreeMap<String, WitnessedTree>,
    ) -> Result<WitnessedTree, WitnessError> {
        let note = &self.checkpoint;
        let checkpoint = Checkpoint::from_text(&note.text)
            .map_err(|e| WitnessError::Malformed(e.to_string()))?;
        let trusted: Vec<&VerifierKey> = logs
            .iter()
            .filter(|k| k.name == checkpoint.origin && !k.is_cosigner())
            .collect();
        if trusted.is_empty() {
            return Err(WitnessError::UnknownOrigin(checkpoint.origin));
        }
        let mut signed = false;
        for signature in &note.signatures {
            for key in trusted.iter().filter(|k| k.matches(signature)) {
                if !key.verify_note(&note.text, signature) {
                    return Err(WitnessError::Unsigned(format!(
                        "the signature by {key} does not verify"
                    )));
                }
                signed = true;
            }
        }
        if !signed {
            let keys: Vec<String> = trusted.iter().map(ToString::to_string).collect();
            return Err(WitnessError::Unsigned(format!(
                "no signature by {}",
                keys.join(" or ")
            )));
        }
        if self.old > checkpoint.size {
            return Err(WitnessError::OldBeyondCheckpoint {
                old: self.old,
                size: checkpoint.size,
            });
        }
        let latest = state.get(&checkpoint.origin);
        let latest_size = latest.map_or(0, |t| t.size);
        if self.old != latest_size {
            return Err(WitnessError::Conflict {
                latest: latest_size,
                old: self.old,
            });
        }
        if checkpoint.size == 0 && checkpoint.root != merkle::EMPTY_ROOT {
            return Err(WitnessError::EmptyTreeRoot);
        }
        match latest {
            None => {
                if !self.proof.is_empty() {
                    return Err(WitnessError::ProofFromZero);
                }
            }
            Some(cosigned) if cosigned.size == 0 => {
                if !self.proof.is_empty() {
                    return Err(WitnessError::ProofFromZero);
                }
            }
            Some(cosigned) if checkpoint.size == cosigned.size => {
                if checkpoint.root != cosigned.root {
                    return Err(WitnessError::Fork {
                        size: cosigned.size,
                        cosigned: cosigned.root,
                        presented: checkpoint.root,
                    });
                }
            }
            Some(cosigned) => merkle::verify_consistency(
                cosigned.size,
                checkpoint.size,
                &self.proof,
                &cosigned.root,
                &checkpoint.root,
            )
            .map_err(|error| WitnessError::Inconsistent {
                old: cosigned.size,
                error,
            })?,
        }
        Ok(WitnessedTree {
            origin: checkpoint.origin,
            size: checkpoint.size,
            root: checkpoint.root,
            note: None,
        })
    }
}

/// How a witness's monitoring prefix names a log: the lower-case hex SHA-256 of its origin
/// (`GET <prefix>/<origin hash>/checkpoint`).
pub fn origin_hash(origin: &str) -> String {
    Hash::digest_parts(&[origin.as_bytes()]).to_hex()
}
