//! The witness's checks (C2SP tlog-witness add-checkpoint): first sight, consistent growth,
//! and each refusal — conflict, rollback, fork, inconsistent proof, unsigned checkpoint.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use probity_core::merkle;
use probity_core::prelude::*;
use probity_core::witness::{AddCheckpoint, WitnessError, WitnessedTree};

fn policy() -> WitnessPolicy {
    WitnessPolicy {
        log: note_signer().verifier_key(),
        witnesses: Vec::new(),
        quorum: 0,
    }
}

fn request(ledger: &MemoryLedger, old: u64) -> AddCheckpoint {
    let size = ledger.size();
    let proof = if old == 0 || old == size {
        Vec::new()
    } else {
        merkle::consistency_proof(ledger.tree(), old, size).unwrap()
    };
    AddCheckpoint {
        old,
        proof,
        checkpoint: ledger.checkpoint(&note_signer()),
    }
}

#[test]
fn a_witness_accepts_consistent_growth_and_refuses_the_rest() {
    let short = ledger(3);
    let long = ledger(9);
    // A fork of `long` from record 6 on: same first 6 records, other events after.
    let mut fork = ledger(3);
    let mut t = 1_000_000;
    for i in 0..6 {
        t += 1_000;
        fork.append(request_event(i), at(t)).unwrap();
    }
    assert_eq!(fork.size(), long.size());

    let first = request(&short, 0);
    let seen = first.check(&policy(), None).unwrap();
    assert_eq!(seen.size, short.size());
    // The text form round-trips.
    assert_eq!(AddCheckpoint::parse(&first.to_text()).unwrap(), first);

    let grown = request(&long, short.size());
    let now = grown.check(&policy(), Some(&seen)).unwrap();
    assert_eq!((now.size, now.root), (long.size(), long.root()));

    let refusal = |req: &AddCheckpoint, latest: &WitnessedTree| {
        req.check(&policy(), Some(latest)).unwrap_err()
    };
    assert!(matches!(
        refusal(&request(&long, 0), &seen),
        WitnessError::Conflict { latest: 6, old: 0 }
    ));
    let mut rollback = request(&short, 0);
    rollback.old = now.size;
    assert!(matches!(
        refusal(&rollback, &now),
        WitnessError::Rollback { .. }
    ));
    assert!(matches!(
        refusal(&request(&fork, fork.size()), &now),
        WitnessError::Fork { .. }
    ));
    fork.append(request_event(50), at(9_000_000)).unwrap();
    let forked_growth = request(&fork, now.size);
    let error = refusal(&forked_growth, &now);
    assert!(
        matches!(error, WitnessError::Inconsistent { .. }),
        "{error}"
    );
    assert_eq!(error.http_status(), 422);
    let mut unsigned = request(&long, short.size());
    unsigned.checkpoint = long.checkpoint(&NoteSigner::new(ORIGIN, stranger()));
    assert_eq!(refusal(&unsigned, &seen).http_status(), 403);
}

fn request_event(i: u64) -> SignedEvent {
    common::request(&format!("fork-{i}"), 1000 + i)
}
