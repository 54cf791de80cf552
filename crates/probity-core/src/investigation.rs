//! Investigation bundles: the records an investigation rests on, each with its proof of
//! inclusion in one signed checkpoint, checkable offline by anyone (`schemas/PROOF.md`).
//!
//! A bundle is a JSON document `{"format": "probity-investigation/v1", "question": {…},
//! "proofs": ["<c2sp.org/tlog-proof@v1 text>", …]}`: every proof is an ordinary proof bundle
//! ([`ProofBundle`]) of one record against the same checkpoint, in ascending record order, and
//! the bundle carries the ledger's key records (genesis, enrolments, revocations) up to its
//! last record so that each signer's key and role can be checked as of its record.

use serde::{Deserialize, Serialize};

use crate::checkpoint::WitnessPolicy;
use crate::hash::Hash;
use crate::proof::{BundleError, ProofBundle};
use crate::registry::KeyRegistry;
use crate::roles::RoleMatrix;

/// The `format` of an investigation bundle.
pub const FORMAT: &str = "probity-investigation/v1";

/// An investigation bundle as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Investigation {
    /// [`FORMAT`].
    pub format: String,
    /// What was asked (the replay's moment and subject), for people; not checked.
    pub question: serde_json::Value,
    /// One `tlog-proof@v1` text per record, ascending by record.
    pub proofs: Vec<String>,
}

/// Something wrong with a bundle, at a record (or at a proof's position when it does not
/// parse).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A stable code: `malformed-proof`, `index-mismatch`, `hash-mismatch`,
    /// `checkpoint-signature`, `not-included`, `bad-signature`, `other-checkpoint`,
    /// `out-of-order`, `no-genesis`, or an authorisation code of `FORMAT.md` §9
    /// (`unknown-key`, `revoked-key`, `unauthorised-role`, `wrong-ledger`, `governance`).
    pub code: &'static str,
    /// The record (or the proof's position, for `malformed-proof`).
    pub seq: u64,
    /// What is wrong.
    pub message: String,
}

/// What checking a bundle found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvestigationReport {
    /// The records proven, ascending.
    pub records: Vec<u64>,
    /// The checkpoint's size and root, once one verified.
    pub checkpoint: Option<(u64, Hash)>,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl InvestigationReport {
    /// True when every record is proven and authorised.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty() && !self.records.is_empty()
    }
}

fn code(e: &BundleError) -> &'static str {
    match e {
        BundleError::Malformed(_) | BundleError::RecordNotCarried => "malformed-proof",
        BundleError::RecordHash { .. } => "hash-mismatch",
        BundleError::IndexMismatch { .. } => "index-mismatch",
        BundleError::Checkpoint(_) => "checkpoint-signature",
        BundleError::Inclusion(_) => "not-included",
        BundleError::Event(_) => "bad-signature",
    }
}

impl Investigation {
    /// Checks every proof against `policy` (the ledger key the auditor holds and the
    /// witnesses required), that they share one checkpoint and come in ascending order, and
    /// each record's signer against the key records the bundle carries.
    ///
    /// What this cannot show: that the bundle omits no key record (a revocation left out
    /// would let a revoked key pass). Verifying the whole ledger (`probity verify`) can.
    pub fn verify(&self, policy: &WitnessPolicy, matrix: &RoleMatrix) -> InvestigationReport {
        let mut report = InvestigationReport {
            records: Vec::new(),
            checkpoint: None,
            problems: Vec::new(),
        };
        let problem = |code, seq, message: String| Problem { code, seq, message };
        if self.format != FORMAT {
            report.problems.push(problem(
                "malformed-proof",
                0,
                format!("format {:?} is not {FORMAT}", self.format),
            ));
            return report;
        }
        let mut proven = Vec::new();
        let parsed: Vec<_> = self.proofs.iter().map(|t| ProofBundle::parse(t)).collect();
        // The one checkpoint, checked once: if it fails, nothing in the bundle is proven.
        let note = parsed.iter().flatten().map(|b| &b.checkpoint).next();
        if let Some(note) = note {
            if let Err(e) = policy.verify(note) {
                let size =
                    crate::checkpoint::Checkpoint::from_text(&note.text).map_or(0, |c| c.size);
                report.problems.push(problem(
                    "checkpoint-signature",
                    size,
                    format!("the checkpoint of {size} records: {e}"),
                ));
                return report;
            }
        }
        for (position, bundle) in parsed.iter().enumerate() {
            let bundle = match bundle {
                Ok(b) => b,
                Err(e) => {
                    report.problems.push(problem(
                        "malformed-proof",
                        position as u64,
                        format!("proof {position}: {e}"),
                    ));
                    continue;
                }
            };
            let seq = bundle.record.seq.0;
            if let Some(first) = note {
                if *first != bundle.checkpoint {
                    report.problems.push(problem(
                        "other-checkpoint",
                        seq,
                        format!("record {seq} is proven against another checkpoint"),
                    ));
                    continue;
                }
            }
            if let Some(&last) = report.records.last() {
                if seq <= last {
                    report.problems.push(problem(
                        "out-of-order",
                        seq,
                        format!("record {seq} comes after record {last}"),
                    ));
                    continue;
                }
            }
            match bundle.verify(policy) {
                Ok(p) => {
                    report.checkpoint = Some((p.checkpoint_size, p.checkpoint_root));
                    report.records.push(seq);
                    proven.push(bundle);
                }
                Err(e) => {
                    report
                        .problems
                        .push(problem(code(&e), seq, format!("record {seq}: {e}")))
                }
            }
        }
        // Keys and roles, as of each record, from the key records carried.
        let mut registry = KeyRegistry::new();
        if proven.is_empty() {
            return report;
        }
        if proven.first().is_none_or(|b| b.record.seq.0 != 0) {
            report.problems.push(problem(
                "no-genesis",
                0,
                "the bundle does not carry the genesis record: signers cannot be checked".into(),
            ));
            return report;
        }
        for bundle in proven {
            let seq = bundle.record.seq;
            // Invariant: a verified bundle's event opened.
            let Ok(event) = bundle.record.event.open() else {
                continue;
            };
            match registry.authorize(seq, event.body(), matrix) {
                Ok(effect) => registry.apply(seq, effect),
                Err(error) => {
                    let finding = crate::verify::Finding::Unauthorised { seq, error };
                    report
                        .problems
                        .push(problem(finding.code(), seq.0, finding.to_string()));
                }
            }
        }
        report
    }
}
