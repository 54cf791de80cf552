//! The engine on a real sled book: appends are durable across reopen, concurrent appends form
//! one gapless order, every kind of bad input is refused with its code and changes nothing,
//! retries are idempotent, expected versions stop lost updates, checkpoints and proofs verify.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use probity_core::checkpoint::Checkpoint;
use probity_core::merkle::{verify_consistency, verify_inclusion};
use probity_core::prelude::*;
use probity_events::role_matrix;
use probity_ledger::{AppendError, AppendRequest, EngineConfig, Ledger, LedgerError};
use probity_testkit::{clock_at, malleate, Hospital, TestClock};
use serde_json::json;

fn config() -> EngineConfig {
    EngineConfig {
        checkpoint_every: 10,
        checkpoint_interval: Duration::from_secs(3600),
        ..EngineConfig::default()
    }
}

fn setup(dir: &std::path::Path) -> (Ledger, Hospital, TestClock) {
    let h = Hospital::default();
    let clock = clock_at("2026-01-02T02:00:00Z");
    let (ledger, receipt) = Ledger::create(
        dir,
        h.genesis(),
        h.ledger_key.clone(),
        config(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    assert_eq!(receipt.seq, Seq(0));
    for e in h.enrolments() {
        ledger.append(AppendRequest::new(e)).unwrap();
    }
    (ledger, h, clock)
}

fn verify_book(ledger: &Ledger) -> VerifyReport {
    let matrix = role_matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    verifier.pin_log_key(ledger.verifier_key());
    // A live ledger: its last records may not be checkpointed yet.
    verifier.allow_unanchored(true);
    for checkpoint in ledger.book().checkpoints() {
        let (size, note) = checkpoint.unwrap();
        if size <= ledger.size() {
            verifier.add_checkpoint(note, size);
        }
    }
    for record in ledger.book().records(Seq(0), Seq(ledger.size())) {
        verifier.push(&record.unwrap());
    }
    verifier.finish()
}

#[test]
fn appends_survive_reopen_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, h, _clock) = setup(dir.path());
    let mut receipts = Vec::new();
    for i in 0..25 {
        receipts.push(
            ledger
                .append(AppendRequest::new(h.request(
                    &format!("r{i}"),
                    &format!("CASE-{i}"),
                    &h.clerk,
                )))
                .unwrap(),
        );
    }
    let root = ledger.root_at(ledger.size()).unwrap();
    ledger.close();
    drop(ledger);

    let clock = clock_at("2026-01-03T02:00:00Z");
    let ledger = Ledger::open(dir.path(), h.ledger_key.clone(), config(), Arc::new(clock)).unwrap();
    assert_eq!(ledger.size(), 29);
    assert_eq!(ledger.root_at(29).unwrap(), root);
    for receipt in &receipts {
        receipt.verify(&h.ledger_key.public_key()).unwrap();
        let record = ledger.record(receipt.seq).unwrap().unwrap();
        assert_eq!(record.hash, receipt.hash);
    }
    // A retry after the restart gets the original receipt back.
    let again = ledger
        .append(AppendRequest::new(h.request("r7", "CASE-7", &h.clerk)))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!((again.seq, again.hash), (receipts[7].seq, receipts[7].hash));
    ledger
        .append(AppendRequest::new(h.request("r-after", "CASE-X", &h.clerk)))
        .unwrap();
    let report = verify_book(&ledger);
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert!(report.checkpoints_checked >= 2);
}

#[test]
fn concurrent_appends_form_one_gapless_order() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, h, _clock) = setup(dir.path());
    let threads = 8;
    let per_thread = 40;
    let receipts: Vec<Receipt> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let ledger = ledger.clone();
                let h = h.clone();
                scope.spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            let signer = if t % 2 == 0 { &h.clerk } else { &h.clerk2 };
                            ledger
                                .append(AppendRequest::new(h.request(
                                    &format!("t{t}-{i}"),
                                    &format!("CASE-{t}-{i}"),
                                    signer,
                                )))
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut seqs: Vec<u64> = receipts.iter().map(|r| r.seq.0).collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (4..4 + threads * per_thread).collect();
    assert_eq!(seqs, expected, "no gaps, no duplicates");
    assert!(receipts.iter().all(|r| !r.duplicate));
    assert!(verify_book(&ledger).is_intact());
}

#[test]
fn bad_input_is_refused_with_its_code_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, h, clock) = setup(dir.path());
    ledger
        .append(AppendRequest::new(h.request("first", "CASE-1", &h.clerk)))
        .unwrap();
    ledger
        .append(AppendRequest::new(h.revoke("revoke-clerk2", &h.clerk2)))
        .unwrap();
    let before = (ledger.size(), ledger.root_at(ledger.size()).unwrap());

    let good = h.request("good", "CASE-2", &h.clerk);
    let mut tampered = good.body_bytes().to_vec();
    let at = tampered.iter().position(|&b| b == b'6').unwrap();
    tampered[at] = b'7';
    let bad_signature = SignedEvent::from_parts(tampered, good.keyid(), *good.signature());
    let malleable = SignedEvent::from_parts(
        good.body_bytes().to_vec(),
        good.keyid(),
        malleate(good.signature()),
    );
    let sign = |body: EventBody, key: &SecretKey| SignedEvent::sign(&body, key);
    let mut schema_violation = h.body(
        "sv",
        "purchase.requested",
        &h.clerk,
        "2026-01-02T09:00:00+08:00",
        probity_testkit::request_payload("CASE-3"),
    );
    schema_violation.payload = json!({"case": "CASE-3", "quantity": "six"}).into();
    let mut unknown_type = h.body(
        "ut",
        "purchase.requested",
        &h.clerk,
        "2026-01-02T09:00:00+08:00",
        probity_testkit::request_payload("CASE-4"),
    );
    unknown_type.event_type = EventType::new("purchase.bribe_paid").unwrap();
    let mut too_far_ahead = h.body(
        "future",
        "purchase.requested",
        &h.clerk,
        "2026-01-02T09:00:00+08:00",
        probity_testkit::request_payload("CASE-5"),
    );
    too_far_ahead.occurred_at = OccurredAt::parse("2026-01-02T03:00:00Z").unwrap();
    let mut oversized = h.body(
        "big",
        "purchase.requested",
        &h.clerk,
        "2026-01-02T09:00:00+08:00",
        probity_testkit::request_payload("CASE-6"),
    );
    oversized.payload = json!({"case": "CASE-6", "justification": "x".repeat(70_000)}).into();
    let mut wrong_ledger = h.body(
        "wl",
        "purchase.requested",
        &h.clerk,
        "2026-01-02T09:00:00+08:00",
        probity_testkit::request_payload("CASE-7"),
    );
    wrong_ledger.ledger = LedgerId::new("other-hospital").unwrap();
    let mut missing_subject = h.body(
        "ms",
        "purchase.requested",
        &h.clerk,
        "2026-01-02T09:00:00+08:00",
        probity_testkit::request_payload("CASE-8"),
    );
    missing_subject.subjects = Subjects::default();

    let cases: Vec<(&str, SignedEvent)> = vec![
        ("bad-signature", bad_signature),
        ("bad-signature", malleable),
        (
            "unknown-key",
            h.request("by-stranger", "CASE-9", &h.stranger),
        ),
        ("revoked-key", h.request("by-revoked", "CASE-9", &h.clerk2)),
        ("wrong-role", h.sanction("clerk-sanction", &h.clerk)),
        ("id-conflict", h.request("first", "CASE-OTHER", &h.clerk)),
        ("schema-violation", sign(schema_violation, &h.clerk)),
        ("unknown-event-type", sign(unknown_type, &h.clerk)),
        ("clock-skew", sign(too_far_ahead, &h.clerk)),
        ("too-large", sign(oversized, &h.clerk)),
        ("wrong-ledger", sign(wrong_ledger, &h.clerk)),
        ("missing-subject", sign(missing_subject, &h.clerk)),
    ];
    clock.set(RecordedAt::parse("2026-01-02T02:00:00Z").unwrap());
    for (code, event) in cases {
        let err = ledger.append(AppendRequest::new(event)).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(!err.to_string().is_empty());
        assert_eq!(
            (ledger.size(), ledger.root_at(ledger.size()).unwrap()),
            before,
            "{code} changed the ledger"
        );
    }
    let err = ledger
        .append(AppendRequest {
            event: h.request("x", "CASE-1", &h.clerk),
            expect: vec![("colour:red".into(), 0)],
        })
        .unwrap_err();
    assert_eq!(err.code(), "bad-request");
    assert_eq!(
        (ledger.size(), ledger.root_at(ledger.size()).unwrap()),
        before
    );
}

#[test]
fn expected_versions_stop_two_clerks_from_both_recording_unknowingly() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, h, _clock) = setup(dir.path());
    ledger
        .append(AppendRequest::new(h.request("open", "CASE-1", &h.clerk)))
        .unwrap();
    // Both clerks saw CASE-1 at version 1 and both try to record the next step.
    let expect = vec![("case:CASE-1".to_owned(), 1)];
    let award = |id: &str, key: &SecretKey| AppendRequest {
        event: h.event(
            id,
            "purchase.requested",
            key,
            "2026-01-02T09:00:00+08:00",
            probity_testkit::request_payload("CASE-1"),
        ),
        expect: expect.clone(),
    };
    ledger.append(award("step-a", &h.clerk)).unwrap();
    let err = ledger.append(award("step-b", &h.clerk2)).unwrap_err();
    assert_eq!(
        err,
        AppendError::VersionMismatch {
            stream: "case:CASE-1".into(),
            expected: 1,
            actual: 2
        }
    );
    assert_eq!(ledger.book().stream_version("case:CASE-1").unwrap(), 2);
}

#[test]
fn checkpoints_and_proofs_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, h, _clock) = setup(dir.path());
    for i in 0..33 {
        ledger
            .append(AppendRequest::new(h.request(
                &format!("p{i}"),
                &format!("CASE-{i}"),
                &h.clerk,
            )))
            .unwrap();
    }
    let (size, note) = ledger.latest_checkpoint().unwrap();
    assert_eq!(size, 30, "every 10 records");
    let policy = WitnessPolicy::log_only(ledger.verifier_key());
    let verified = policy.verify(&note).unwrap();
    // The checkpoint commits to the key records before it (FORMAT.md §8).
    let mut keys = probity_core::keychain::KeyChain::new();
    for seq in 0..30 {
        let record = ledger.record(Seq(seq)).unwrap().unwrap();
        let body = record.event.open().unwrap();
        if probity_core::keychain::is_key_record_type(body.body().event_type.as_str()) {
            keys.push(&record.hash);
        }
    }
    let mut expected = Checkpoint::new(ledger.origin(), 30, ledger.root_at(30).unwrap());
    expected.extensions.push(keys.extension_line());
    assert_eq!(verified.checkpoint, expected);

    for seq in [0, 1, 17, 29] {
        let proof = ledger.inclusion_proof(Seq(seq), size).unwrap();
        let record = ledger.record(Seq(seq)).unwrap().unwrap();
        verify_inclusion(&record.hash, seq, size, &proof, &verified.checkpoint.root).unwrap();
    }
    let forced = ledger.checkpoint_now().unwrap().unwrap();
    let newer = policy.verify(&forced).unwrap().checkpoint;
    assert_eq!(newer.size, 37);
    let proof = ledger.consistency_proof(30, 37).unwrap();
    verify_consistency(30, 37, &proof, &verified.checkpoint.root, &newer.root).unwrap();
    assert!(
        ledger.inclusion_proof(Seq(1), 38).is_err(),
        "no proofs beyond the committed size"
    );
}

#[test]
fn create_refuses_an_existing_ledger_and_open_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, h, clock) = setup(dir.path());
    ledger.close();
    drop(ledger);
    let again = Ledger::create(
        dir.path(),
        h.genesis(),
        h.ledger_key.clone(),
        config(),
        Arc::new(clock.clone()),
    );
    assert!(matches!(again, Err(LedgerError::AlreadyExists(_))));
    let wrong = Ledger::open(
        dir.path(),
        h.stranger.clone(),
        config(),
        Arc::new(clock.clone()),
    );
    assert!(matches!(wrong, Err(LedgerError::WrongLedgerKey)));
    let empty = tempfile::tempdir().unwrap();
    let none = Ledger::open(
        empty.path(),
        h.ledger_key.clone(),
        config(),
        Arc::new(clock),
    );
    assert!(matches!(none, Err(LedgerError::NotInitialised(_))));
}

#[test]
fn recorded_at_never_goes_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, h, clock) = setup(dir.path());
    let a = ledger
        .append(AppendRequest::new(h.request("a", "CASE-A", &h.clerk)))
        .unwrap();
    clock.advance(-3_600_000_000);
    let b = ledger
        .append(AppendRequest::new(h.request("b", "CASE-B", &h.clerk)))
        .unwrap();
    assert!(b.recorded_at >= a.recorded_at);
}
