//! Proof bundles any line-based tlog-proof reader can parse: a record whose `extra` line would
//! pass 65,535 bytes (readers with a 64 KiB line buffer) is left off it and travels beside
//! the bundle; the bundle then proves nothing until that record is given, and a record given
//! beside a bundle that carries one must be the same.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use probity_core::checkpoint::WitnessPolicy;
use probity_core::ids::Seq;
use probity_core::proof::{BundleError, ProofBundle, MAX_EXTRA_LINE};
use serde_json::json;

fn bundle(ledger: &probity_core::append::MemoryLedger, seq: u64) -> ProofBundle {
    ProofBundle {
        index: seq,
        record: ledger.records()[seq as usize].clone(),
        proof: ledger.inclusion_proof(Seq(seq), ledger.size()).unwrap(),
        checkpoint: ledger.checkpoint(&note_signer()),
    }
}

#[test]
fn a_record_too_long_for_one_line_travels_beside_its_bundle() {
    let mut ledger = ledger(1);
    // A 60 KB note: the body stays under the 64 KiB limit, its record's line does not.
    let note = "记".repeat(20_000);
    let big = event(
        "big",
        "purchase.requested",
        &clerk(),
        json!({"item": "pump", "note": note}),
    );
    ledger.append(big, at(9_000_000)).unwrap();
    let seq = ledger.size() - 1;
    let policy = WitnessPolicy::log_only(note_signer().verifier_key());

    let small = bundle(&ledger, 1);
    assert!(small.carries_record());
    let text = small.to_text();
    assert!(text.lines().all(|l| l.len() <= MAX_EXTRA_LINE));
    assert_eq!(ProofBundle::parse(&text).unwrap(), small);

    let large = bundle(&ledger, seq);
    assert!(!large.carries_record());
    let text = large.to_text();
    assert!(
        text.lines().all(|l| l.len() <= MAX_EXTRA_LINE),
        "every line fits a 64 KiB reader"
    );
    assert!(!text.contains("\nextra "));
    assert!(matches!(
        ProofBundle::parse(&text),
        Err(BundleError::RecordNotCarried)
    ));
    let json = large.record_json();
    let parsed = ProofBundle::parse_with_record(&text, Some(&json)).unwrap();
    assert_eq!(parsed, large);
    assert_eq!(parsed.verify(&policy).unwrap().seq, seq);
    // Another record beside it does not prove this position.
    let other = ledger.records()[1].to_json();
    let wrong = ProofBundle::parse_with_record(&text, Some(&other)).unwrap();
    assert!(wrong.verify(&policy).is_err());
    // Beside a bundle that carries its record, only the same record is accepted.
    let small_text = small.to_text();
    assert!(ProofBundle::parse_with_record(&small_text, Some(&small.record_json())).is_ok());
    assert!(matches!(
        ProofBundle::parse_with_record(&small_text, Some(&json)),
        Err(BundleError::Malformed(_))
    ));
    // Inside an investigation (a JSON document) the record stays on its line.
    assert_eq!(
        ProofBundle::parse(&large.to_text_with_record()).unwrap(),
        large
    );
}
