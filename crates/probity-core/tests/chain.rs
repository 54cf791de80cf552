//! The chain verifier and the append rules on whole ledgers: intact ledgers verify; each kind
//! of tampering or unauthorised signing is found at the right sequence number; the in-memory
//! ledger refuses bad appends and changes nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use probity_core::append::AppendError;
use probity_core::prelude::*;
use probity_core::registry::AuthError;

fn codes_at(report: &VerifyReport, seq: u64) -> Vec<&'static str> {
    report
        .findings
        .iter()
        .filter(|f| f.seq() == seq)
        .map(Finding::code)
        .collect()
}

#[test]
fn intact_ledger_with_checkpoint_verifies() {
    let ledger = ledger(20);
    let note = ledger.checkpoint(&note_signer());
    let report = verify(ledger.records(), &[note]);
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records, 23);
    assert_eq!(report.checkpoints_checked, 1);
    assert_eq!(report.root, ledger.root());
}

#[test]
fn truncated_tail_is_found_by_the_checkpoint() {
    let ledger = ledger(5);
    let note = ledger.checkpoint(&note_signer());
    let records = &ledger.records()[..6];
    let report = verify(records, &[note]);
    assert_eq!(codes_at(&report, 8), vec!["checkpoint-beyond-log"]);
}

#[test]
fn forged_checkpoint_signature_is_found() {
    let ledger = ledger(3);
    let forger = NoteSigner::new(ORIGIN, stranger());
    let note = ledger.checkpoint(&forger);
    let report = verify(ledger.records(), &[note]);
    assert_eq!(codes_at(&report, 6), vec!["checkpoint-signature"]);
}

#[test]
fn rewritten_and_relinked_history_is_found_by_signature_and_checkpoint() {
    let ledger = ledger(6);
    let note = ledger.checkpoint(&note_signer());
    let mut records = ledger.records().to_vec();
    // Replace record 5's event with one the forger signs with a key that is not enrolled.
    records[5].event = event(
        "req-2",
        "purchase.requested",
        &stranger(),
        serde_json::json!({}),
    );
    relink(&mut records);
    let report = verify(&records, &[note]);
    assert_eq!(codes_at(&report, 5), vec!["unknown-key"]);
    assert_eq!(codes_at(&report, 9), vec!["checkpoint-root-mismatch"]);
    assert!(report.findings.iter().all(|f| f.seq() >= 5));
}

#[test]
fn revoked_key_wrong_role_and_unknown_key_are_found_at_their_record() {
    let mut ledger = ledger(1);
    ledger
        .append(revoke("revoke-clerk", &clerk()), at(90_000))
        .unwrap();
    let mut records = ledger.records().to_vec();
    let mut head = ChainHead {
        next_seq: Seq(records.len() as u64),
        last_hash: records.last().unwrap().hash,
    };
    let forged = [
        request("after-revocation", 1),
        event(
            "sanction-by-clerk",
            "supplier.sanction_imposed",
            &clerk(),
            serde_json::json!({}),
        ),
        event(
            "by-stranger",
            "purchase.requested",
            &stranger(),
            serde_json::json!({}),
        ),
        event(
            "by-do",
            "purchase.requested",
            &discipline(),
            serde_json::json!({}),
        ),
        event(
            "unknown-type",
            "supplier.bribed",
            &discipline(),
            serde_json::json!({}),
        ),
    ];
    for e in forged {
        records.push(head.append(e, at(100_000)));
    }
    let report = verify(&records, &[]);
    assert_eq!(codes_at(&report, 5), vec!["revoked-key"]);
    assert_eq!(codes_at(&report, 6), vec!["revoked-key"]);
    assert_eq!(codes_at(&report, 7), vec!["unknown-key"]);
    assert_eq!(codes_at(&report, 8), vec!["unauthorised-role"]);
    assert_eq!(codes_at(&report, 9), vec!["unauthorised-role"]);
    // No checkpoint was signed over any of it, so none of it is anchored either.
    assert_eq!(codes_at(&report, 0), vec!["unanchored"]);
    assert_eq!(report.findings.len(), 6, "{:#?}", report.findings);
}

#[test]
fn duplicate_event_id_is_found() {
    let ledger = ledger(3);
    let mut records = ledger.records().to_vec();
    let mut head = ChainHead {
        next_seq: Seq(records.len() as u64),
        last_hash: records.last().unwrap().hash,
    };
    records.push(head.append(request("req-1", 99), at(200_000)));
    let report = verify(&records, &[]);
    assert_eq!(codes_at(&report, 6), vec!["duplicate-event-id"]);
}

#[test]
fn trusted_checkpoint_catches_a_fork() {
    // Two ledgers share a prefix; each operator signs its own checkpoint.
    let mut a = ledger(3);
    let mut b = ledger(3);
    a.append(request("fork-a", 1), at(500_000)).unwrap();
    b.append(request("fork-b", 2), at(500_000)).unwrap();
    let trusted_from_a = a.checkpoint(&note_signer());
    let own_b = b.checkpoint(&note_signer());

    let matrix = matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    verifier.add_checkpoint(own_b, 7);
    verifier.add_trusted_checkpoint(trusted_from_a, 7);
    b.records().iter().for_each(|r| verifier.push(r));
    let report = verifier.finish();
    assert_eq!(
        codes_at(&report, 7),
        vec!["trusted-checkpoint-inconsistent"]
    );
}

#[test]
fn witness_quorum_is_enforced_by_the_verifier() {
    let ledger = ledger(2);
    let witness = Cosigner::new("audit.example/w1", SecretKey::from_seed(&[8; 32]));
    let mut cosigned = ledger.checkpoint(&note_signer());
    cosigned.add_signature(witness.cosign(&cosigned, 1_767_225_600).unwrap());
    let bare = ledger.checkpoint(&note_signer());

    let matrix = matrix();
    for (note, ok) in [(cosigned, true), (bare, false)] {
        let mut verifier = ChainVerifier::new(&matrix);
        verifier.require_witnesses(vec![witness.verifier_key()], 1);
        verifier.add_checkpoint(note, ledger.size());
        ledger.records().iter().for_each(|r| verifier.push(r));
        assert_eq!(verifier.finish().is_intact(), ok);
    }
}

/// The quorum applies to the checkpoint that anchors the verification: the largest, or the
/// one named. Older checkpoints need only the ledger's signature and matching roots, since
/// witnesses usually begin after a ledger's first checkpoints.
#[test]
fn the_quorum_applies_to_the_anchoring_checkpoint() {
    let mut ledger = ledger(2);
    let witness = Cosigner::new("audit.example/w1", SecretKey::from_seed(&[8; 32]));
    let cosign = |mut note: SignedNote| {
        let line = witness.cosign(&note, 1_767_225_600).unwrap();
        note.add_signature(line);
        note
    };
    let early_size = ledger.size();
    let early = ledger.checkpoint(&note_signer());
    for i in 0..3 {
        ledger
            .append(
                request(&format!("late-{i}"), 900 + i),
                at(5_000_000 + i as i64),
            )
            .unwrap();
    }
    let late_size = ledger.size();
    let late = ledger.checkpoint(&note_signer());
    let matrix = matrix();
    let run = |early: &SignedNote, late: &SignedNote, named: Option<u64>| {
        let mut verifier = ChainVerifier::new(&matrix);
        verifier.require_witnesses(vec![witness.verifier_key()], 1);
        if let Some(size) = named {
            verifier.witnessed_at(size);
        }
        verifier.add_checkpoint(early.clone(), early_size);
        verifier.add_checkpoint(late.clone(), late_size);
        ledger.records().iter().for_each(|r| verifier.push(r));
        verifier.finish()
    };
    // Only the latest is cosigned: intact, and the report names who cosigned it.
    let report = run(&early, &cosign(late.clone()), None);
    assert!(report.is_intact(), "{:?}", report.findings);
    let witnessed = report.witnessed.unwrap();
    assert_eq!((witnessed.size, witnessed.witnesses.len()), (late_size, 1));
    // Only an older one is cosigned: the anchor lacks the quorum, found at its size.
    let report = run(&cosign(early.clone()), &late, None);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].code(), "checkpoint-signature");
    assert_eq!(report.findings[0].seq(), late_size);
    // … unless the auditor names that one.
    let report = run(&cosign(early.clone()), &late, Some(early_size));
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.witnessed.unwrap().size, early_size);
    // Naming a size no checkpoint has is a finding at that size.
    let report = run(&early, &cosign(late), Some(early_size + 1));
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].seq(), early_size + 1);
}

#[test]
fn memory_ledger_refuses_bad_appends_and_changes_nothing() {
    let mut ledger = ledger(1);
    ledger
        .append(revoke("revoke-do", &discipline()), at(50_000))
        .unwrap();
    let before = (ledger.size(), ledger.root());

    let wrong_role = event(
        "s1",
        "supplier.sanction_imposed",
        &clerk(),
        serde_json::json!({}),
    );
    let unknown = event(
        "s2",
        "purchase.requested",
        &stranger(),
        serde_json::json!({}),
    );
    let revoked = event(
        "s3",
        "supplier.sanction_imposed",
        &discipline(),
        serde_json::json!({}),
    );
    let conflict = request("req-0", 12345);
    let mut future = EventBody::parse(request("late", 1).body_bytes()).unwrap();
    future.occurred_at = OccurredAt::parse("2030-01-01T00:00:00Z").unwrap();
    let future = SignedEvent::sign(&future, &clerk());
    let genesis_body = EventBody::parse(genesis().body_bytes()).unwrap();
    let genesis_again = SignedEvent::sign(
        &EventBody {
            id: EventId::new("genesis-2").unwrap(),
            ..genesis_body
        },
        &admin(),
    );

    type Expect = fn(&AppendError) -> bool;
    let cases: Vec<(SignedEvent, Expect)> = vec![
        (wrong_role, |e| {
            matches!(e, AppendError::Unauthorised(AuthError::WrongRole { .. }))
        }),
        (unknown, |e| {
            matches!(e, AppendError::Unauthorised(AuthError::UnknownKey(_)))
        }),
        (revoked, |e| {
            matches!(e, AppendError::Unauthorised(AuthError::RevokedKey { .. }))
        }),
        (conflict, |e| matches!(e, AppendError::IdConflict { .. })),
        (future, |e| matches!(e, AppendError::FromTheFuture { .. })),
        (genesis_again, |e| {
            matches!(e, AppendError::Unauthorised(AuthError::GenesisRepeated))
        }),
    ];
    for (event, expected) in cases {
        let err = ledger.append(event, at(60_000)).unwrap_err();
        assert!(expected(&err), "unexpected error: {err}");
        assert_eq!((ledger.size(), ledger.root()), before);
    }
}

#[test]
fn retry_of_the_same_event_returns_the_original_record() {
    let mut ledger = ledger(2);
    let first = ledger.records()[4].clone();
    let again = ledger.append(request("req-1", 1), at(900_000)).unwrap();
    assert_eq!(again, Appended::Duplicate(first));
    assert_eq!(ledger.size(), 5);
}

#[test]
fn record_json_round_trips() {
    let ledger = ledger(1);
    for record in ledger.records() {
        let parsed: Record = serde_json::from_slice(&record.to_json()).unwrap();
        assert_eq!(&parsed, record);
    }
}

/// A verifier with the ledger's checkpoint pending, after the first `start` records.
fn covered_verifier<'m>(
    matrix: &'m RoleMatrix,
    records: &[Record],
    note: SignedNote,
    start: usize,
) -> ChainVerifier<'m> {
    let mut verifier = ChainVerifier::new(matrix);
    let size = Checkpoint::from_text(&note.text).unwrap().size;
    verifier.add_checkpoint(note, size);
    verifier.push_batch(&records[..start]);
    verifier
}

#[test]
fn covered_records_end_where_a_full_check_ends() {
    let ledger = ledger(40);
    let note = ledger.checkpoint(&note_signer());
    let matrix = matrix();
    let mut covered = covered_verifier(&matrix, ledger.records(), note.clone(), 3);
    assert_eq!(covered.covering_checkpoint(100), Some(43));
    assert_eq!(
        covered.covering_checkpoint(39),
        None,
        "ends before the checkpoint"
    );
    let bodies = covered.push_covered(&ledger.records()[3..]).unwrap();
    let mut full = covered_verifier(&matrix, ledger.records(), note, 3);
    let events = full.push_batch(&ledger.records()[3..]);
    assert_eq!(covered.state(), full.state());
    assert_eq!(
        bodies,
        events
            .into_iter()
            .map(|e| e.unwrap().into_body())
            .collect::<Vec<_>>()
    );
    let (covered, full) = (covered.finish(), full.finish());
    assert!(covered.is_intact(), "{:?}", covered.findings);
    assert_eq!(covered.checkpoints_checked, 1);
    assert_eq!(covered.root, full.root);
}

#[test]
fn covered_path_refuses_and_changes_nothing_when_anything_is_off() {
    let ledger = ledger(10);
    let good = ledger.checkpoint(&note_signer());
    let matrix = matrix();
    let tampered = |f: &dyn Fn(&mut Vec<Record>)| {
        let mut records = ledger.records().to_vec();
        f(&mut records);
        records
    };
    let cases: Vec<(&str, Vec<Record>, SignedNote)> = vec![
        (
            "a payload byte",
            tampered(&|r| {
                let mut body = r[7].event.body_bytes().to_vec();
                let i = body.len() - 3;
                body[i] ^= 1;
                r[7].event =
                    SignedEvent::from_parts(body, r[7].event.keyid(), *r[7].event.signature());
            }),
            good.clone(),
        ),
        (
            "relinked after a rewrite (the root no longer matches)",
            tampered(&|r| {
                r[7].event = request("req-x", 99);
                relink(r);
            }),
            good.clone(),
        ),
        (
            "a checkpoint signed by another key",
            ledger.records().to_vec(),
            ledger.checkpoint(&NoteSigner::new(ORIGIN, stranger())),
        ),
        (
            "two records swapped",
            tampered(&|r| r.swap(5, 6)),
            good.clone(),
        ),
    ];
    for (what, records, note) in cases {
        let mut verifier = covered_verifier(&matrix, &records, note, 3);
        let before = verifier.state();
        assert!(verifier.push_covered(&records[3..]).is_none(), "{what}");
        assert_eq!(verifier.state(), before, "{what}: state changed");
        assert!(verifier.finish_peek().is_empty(), "{what}: reported");
        // The full path then names the record.
        verifier.push_batch(&records[3..]);
        assert!(
            !verifier.finish_peek().is_empty(),
            "{what}: full path found nothing"
        );
    }
}
