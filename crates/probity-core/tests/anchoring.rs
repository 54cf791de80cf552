//! What an auditor who pins the ledger key may conclude: every record is covered by a
//! checkpoint signed with that key (or it is a finding), the genesis names that key, time never
//! runs backwards, and one damaged record is one finding at that record — no cascade.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use probity_core::prelude::*;
use probity_core::registry::KeyRegistry;
use serde_json::json;

fn pinned() -> VerifierKey {
    VerifierKey::ed25519(ORIGIN.to_owned(), ledger_key().public_key())
}

fn run(
    records: &[Record],
    notes: &[SignedNote],
    setup: impl FnOnce(&mut ChainVerifier<'_>),
) -> VerifyReport {
    let matrix = matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    setup(&mut verifier);
    for note in notes {
        let size = Checkpoint::from_text(&note.text).unwrap().size;
        verifier.add_checkpoint(note.clone(), size);
    }
    for record in records {
        verifier.push(record);
    }
    verifier.finish()
}

fn codes(report: &VerifyReport) -> Vec<(&'static str, u64)> {
    report
        .findings
        .iter()
        .map(|f| (f.code(), f.seq()))
        .collect()
}

/// The same story told by a forger: every record re-made and re-signed with keys of their own,
/// a genesis naming their own ledger key, and no checkpoint.
fn forged(n: u64) -> Vec<Record> {
    let forger_admin = SecretKey::from_seed(&[11; 32]);
    let forger_ledger = SecretKey::from_seed(&[12; 32]);
    let mut head = ChainHead::default();
    let mut records = vec![head.append(
        event(
            "genesis",
            GENESIS,
            &forger_admin,
            json!({"origin": ORIGIN, "ledger_key": forger_ledger.public_key(),
                   "admins": [{"key": forger_admin.public_key(), "holder": "Administrator"}]}),
        ),
        at(1_000),
    )];
    for i in 0..n {
        records.push(head.append(
            event(
                &format!("rewritten-{i}"),
                KEY_REVOKED,
                &forger_admin,
                json!({}),
            ),
            at(2_000 + i as i64),
        ));
    }
    records
}

#[test]
fn an_intact_ledger_with_a_final_checkpoint_is_anchored() {
    let ledger = ledger(5);
    let note = ledger.checkpoint(&note_signer());
    let report = run(ledger.records(), &[note], |v| {
        v.pin_log_key(pinned());
    });
    assert!(report.is_intact(), "{:?}", codes(&report));
    assert!(report.key_pinned);
    assert_eq!(report.unanchored, None);
}

#[test]
fn a_forged_ledger_without_checkpoints_is_not_intact_under_the_pinned_key() {
    let report = run(&forged(4), &[], |v| {
        v.pin_log_key(pinned());
    });
    let found = codes(&report);
    assert!(found.contains(&("ledger-key-mismatch", 0)), "{found:?}");
    assert!(found.contains(&("unanchored", 0)), "{found:?}");
    assert!(!report.is_intact());
}

#[test]
fn records_past_the_last_checkpoint_are_unanchored_unless_accepted() {
    let mut ledger = ledger(3);
    let note = ledger.checkpoint(&note_signer());
    ledger.append(request("late-1", 1), at(900_000)).unwrap();
    ledger.append(request("late-2", 2), at(900_001)).unwrap();
    let report = run(ledger.records(), std::slice::from_ref(&note), |v| {
        v.pin_log_key(pinned());
    });
    assert_eq!(codes(&report), vec![("unanchored", 6)]);
    assert_eq!(
        report.findings[0],
        Finding::Unanchored {
            from: Seq(6),
            to: Seq(7)
        }
    );
    let accepted = run(ledger.records(), &[note], |v| {
        v.pin_log_key(pinned()).allow_unanchored(true);
    });
    assert!(accepted.is_intact());
    assert_eq!(
        accepted.unanchored.map(|r| (r.from, r.to)),
        Some((Seq(6), Seq(7)))
    );
}

#[test]
fn a_truncated_ledger_with_its_checkpoint_dropped_is_unanchored() {
    // The fixture is deterministic: ledger(6) is the first 9 records of ledger(8).
    let early = ledger(6).checkpoint(&note_signer());
    let longer = ledger(8);
    let _late = longer.checkpoint(&note_signer());
    // The attacker keeps the early checkpoint, drops the late one and cuts the tail of the
    // longer ledger in the middle: the records past the early checkpoint are unanchored.
    let records = &longer.records()[..10];
    let early_size = Checkpoint::from_text(&early.text).unwrap().size;
    let report = run(records, &[early], |v| {
        v.pin_log_key(pinned());
    });
    assert_eq!(codes(&report), vec![("unanchored", early_size)]);
}

#[test]
fn time_running_backwards_is_found_at_its_record() {
    let mut records = ledger(2).records().to_vec();
    let mut head = ChainHead {
        next_seq: Seq(records.len() as u64),
        last_hash: records.last().unwrap().hash,
    };
    // A month before its predecessor, then back to normal: one finding, at the early one.
    records.push(head.append(request("month-early", 1), at(-30 * 86_400_000_000)));
    records.push(head.append(request("after", 2), at(900_000)));
    let report = run(&records, &[], |v| {
        v.allow_unanchored(true);
    });
    assert_eq!(codes(&report), vec![("time-backwards", 5)]);
    let Finding::TimeBackwards { previous, .. } = &report.findings[0] else {
        panic!("{:?}", report.findings)
    };
    assert_eq!(*previous, records[4].recorded_at);
}

#[test]
fn an_unreadable_record_is_one_finding_without_a_cascade() {
    let ledger = ledger(6);
    let note = ledger.checkpoint(&note_signer());
    let matrix = matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    verifier.pin_log_key(pinned());
    verifier.add_checkpoint(note, 9);
    for (i, record) in ledger.records().iter().enumerate() {
        if i == 4 {
            verifier.push_unreadable_record("line 6: garbled".into());
        } else {
            verifier.push(record);
        }
    }
    let report = verifier.finish();
    assert_eq!(codes(&report), vec![("unreadable", 4)]);
    assert_eq!(report.records, 9);
}

#[test]
fn a_bad_genesis_is_reported_once() {
    let mut records = ledger(20).records().to_vec();
    records[0].event = request("not-genesis", 0);
    let mut head = ChainHead::default();
    for record in &mut records {
        *record = head.append(record.event.clone(), record.recorded_at);
    }
    let report = run(&records, &[], |v| {
        v.allow_unanchored(true);
    });
    let at_zero = report.findings.iter().filter(|f| f.seq() == 0).count();
    assert_eq!(at_zero, 1, "{:?}", codes(&report));
    assert!(
        !codes(&report).iter().any(|(_, seq)| *seq > 0),
        "{:?}",
        codes(&report)
    );
}

#[test]
fn a_trusted_checkpoint_at_a_resumed_start_is_checked_there() {
    let ledger = ledger(6);
    let matrix = matrix();
    // Verify the first 5 records, keep the state, and a checkpoint of exactly that size.
    let mut first = ChainVerifier::new(&matrix);
    for record in &ledger.records()[..5] {
        first.push(record);
    }
    let state = first.state();
    let mut prefix = MemoryLedger::new(matrix.clone(), AppendRules::default());
    for record in &ledger.records()[..5] {
        prefix
            .append(record.event.clone(), record.recorded_at)
            .unwrap();
    }
    let kept = prefix.checkpoint(&note_signer());
    let last = ledger.checkpoint(&note_signer());
    let mut resumed = ChainVerifier::resume(&matrix, state, []);
    resumed.pin_log_key(pinned());
    resumed.add_trusted_checkpoint(kept, 5);
    resumed.add_checkpoint(last, 9);
    for record in &ledger.records()[5..] {
        resumed.push(record);
    }
    let report = resumed.finish();
    assert!(report.is_intact(), "{:?}", codes(&report));
}

/// A verifier resumed at `from` with the given key records before it (as a range export's
/// verifier is), and the records from `from` on.
fn range_report(
    records: &[Record],
    from: usize,
    key_records: &[&Record],
    note: &SignedNote,
) -> VerifyReport {
    let matrix = matrix();
    let mut prefix = ChainVerifier::new(&matrix);
    for record in &records[..from] {
        prefix.push(record);
    }
    let mut state = prefix.state();
    let mut registry = KeyRegistry::new();
    let mut keys = probity_core::keychain::KeyChain::new();
    for record in key_records {
        let event = record.event.open().unwrap();
        let effect = registry
            .authorize(record.seq, event.body(), &matrix)
            .unwrap();
        registry.apply(record.seq, effect);
        keys.push(&record.hash);
    }
    state.registry = registry;
    state.keys = Some(keys);
    let mut resumed = ChainVerifier::resume(&matrix, state, []);
    resumed.pin_log_key(pinned());
    resumed.add_checkpoint(note.clone(), records.len() as u64);
    for record in &records[from..] {
        resumed.push(record);
    }
    resumed.finish()
}

#[test]
fn a_range_that_leaves_out_a_revocation_contradicts_the_key_commitment() {
    let mut ledger = ledger(3);
    ledger
        .append(revoke("revoke-do", &discipline()), at(900_000))
        .unwrap();
    ledger.append(request("after", 9), at(900_001)).unwrap();
    let note = ledger.checkpoint(&note_signer());
    let records = ledger.records().to_vec();
    let from = records.len() - 1;
    let key_seqs = [0, 1, 2, from - 1];
    let all: Vec<&Record> = key_seqs.iter().map(|&s| &records[s]).collect();
    let complete = range_report(&records, from, &all, &note);
    assert!(complete.is_intact(), "{:?}", codes(&complete));
    assert!(complete.key_commitment_checked);
    let without_revocation: Vec<&Record> = all[..3].to_vec();
    let report = range_report(&records, from, &without_revocation, &note);
    assert_eq!(
        codes(&report),
        vec![("key-commitment-mismatch", records.len() as u64)]
    );
}
