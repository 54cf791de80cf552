//! A mirror (the verified copy `probity serve --nats` keeps) on real sled books: it takes a
//! ledger's records batch by batch towards the ledger's checkpoints, answers proofs and
//! stream versions as the original does, resumes after reopening, and refuses — writing
//! nothing of the batch — a tampered record, a forged checkpoint, a repeated event id or a gap.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use probity_core::checkpoint::{SignedNote, VerifierKey};
use probity_core::prelude::*;
use probity_ledger::mirror::{Mirror, MirrorError};
use probity_ledger::{AppendRequest, EngineConfig, Ledger};
use probity_testkit::{clock_at, Hospital};

/// A ledger of genesis, enrolments and `n` purchase requests, with checkpoints every 10.
fn original(dir: &std::path::Path, n: usize) -> (Ledger, Hospital) {
    let h = Hospital::default();
    let clock = clock_at("2026-01-02T02:00:00Z");
    let config = EngineConfig {
        checkpoint_every: 10,
        checkpoint_interval: Duration::from_secs(3600),
        ..EngineConfig::default()
    };
    let (ledger, _) = Ledger::create(
        dir,
        h.genesis(),
        h.ledger_key.clone(),
        config,
        Arc::new(clock),
    )
    .unwrap();
    for e in h.enrolments() {
        ledger.append(AppendRequest::new(e)).unwrap();
    }
    for i in 0..n {
        let event = h.request(&format!("r{i}"), &format!("CASE-{}", i % 3), &h.clerk);
        ledger.append(AppendRequest::new(event)).unwrap();
    }
    ledger.checkpoint_now().unwrap();
    (ledger, h)
}

fn records(ledger: &Ledger, from: u64, to: u64) -> Vec<Record> {
    ledger
        .book()
        .records(Seq(from), Seq(to))
        .map(Result::unwrap)
        .collect()
}

fn checkpoint(ledger: &Ledger, size: u64) -> SignedNote {
    ledger.book().checkpoint(size).unwrap().unwrap()
}

/// Feeds the mirror the original's records up to checkpoint `size`, in batches of 7.
fn follow_to(mirror: &mut Mirror, ledger: &Ledger, size: u64) {
    mirror
        .expect_checkpoint(size, checkpoint(ledger, size))
        .unwrap();
    let all = records(ledger, mirror.size(), size);
    for batch in all.chunks(7) {
        mirror.add(batch).unwrap();
    }
}

/// A new copy (in a temporary directory), pinned or not, fed the original up to `size`.
fn copy_of(ledger: &Ledger, pinned: bool, size: u64) -> (tempfile::TempDir, Mirror) {
    let copy = tempfile::tempdir().unwrap();
    let key = pinned.then(|| ledger.verifier_key());
    let mut mirror = Mirror::open(copy.path(), key).unwrap();
    follow_to(&mut mirror, ledger, size);
    (copy, mirror)
}

/// Another ledger under the same name, of `size` records with a checkpoint at `size`: the
/// original's first 15 requests, then others (so its root differs from there on).
fn another_of_size(size: u64) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let (other, h) = original(dir.path(), 15);
    while other.size() < size {
        let n = other.size();
        let event = h.request(&format!("other-{n}"), "CASE-X", &h.clerk);
        other.append(AppendRequest::new(event)).unwrap();
    }
    other.checkpoint_now().unwrap();
    (dir, other)
}

#[test]
fn a_mirror_holds_what_the_ledger_signed_and_resumes_after_reopening() {
    let original_dir = tempfile::tempdir().unwrap();
    let (ledger, h) = original(original_dir.path(), 36);
    let copy = tempfile::tempdir().unwrap();
    let book = copy.path().join("book");

    let mut mirror = Mirror::open(&book, Some(ledger.verifier_key())).unwrap();
    assert!(mirror.ledger().is_none(), "nothing copied yet");
    follow_to(&mut mirror, &ledger, 20);
    let copied = mirror.ledger().unwrap().clone();
    assert_eq!(copied.size(), 20);
    assert!(copied.is_read_only());
    assert_eq!(copied.latest_checkpoint().unwrap().0, 20);
    assert_eq!(copied.root_at(20).unwrap(), ledger.root_at(20).unwrap());
    drop(copied);
    drop(mirror);

    // Reopened: it continues where the book ends, to the ledger's latest checkpoint.
    let mut mirror = Mirror::open(&book, Some(ledger.verifier_key())).unwrap();
    assert_eq!(mirror.size(), 20);
    let latest = ledger.latest_checkpoint().unwrap().0;
    follow_to(&mut mirror, &ledger, latest);
    let copied = mirror.ledger().unwrap();
    assert_eq!(copied.size(), ledger.size());
    assert_eq!(copied.latest_checkpoint(), ledger.latest_checkpoint());
    for seq in [0, 5, 19, 20, latest - 1] {
        assert_eq!(
            copied.inclusion_proof(Seq(seq), latest).unwrap(),
            ledger.inclusion_proof(Seq(seq), latest).unwrap()
        );
        assert_eq!(
            copied.record(Seq(seq)).unwrap(),
            ledger.record(Seq(seq)).unwrap()
        );
    }
    assert_eq!(
        copied.consistency_proof(20, latest).unwrap(),
        ledger.consistency_proof(20, latest).unwrap()
    );
    // Subject streams and event ids are indexed as in the original.
    for stream in ["case:CASE-0", "case:CASE-2"] {
        assert_eq!(
            copied.book().stream_version(stream).unwrap(),
            ledger.book().stream_version(stream).unwrap()
        );
    }
    assert_eq!(
        copied.book().seq_of_event("r7").unwrap(),
        ledger.book().seq_of_event("r7").unwrap()
    );
    assert_eq!(
        copied.key_registry_at(latest).unwrap(),
        ledger.key_registry_at(latest).unwrap()
    );

    // A later event appended to the original follows too.
    ledger
        .append(AppendRequest::new(h.request("late", "CASE-9", &h.clerk)))
        .unwrap();
    let note = ledger.checkpoint_now().unwrap().unwrap();
    let size = ledger.size();
    mirror.expect_checkpoint(size, note).unwrap();
    mirror.add(&records(&ledger, latest, size)).unwrap();
    assert_eq!(mirror.ledger().unwrap().size(), size);
    ledger.close();
}

#[test]
fn a_tampered_record_is_refused_and_nothing_of_its_batch_is_written() {
    let original_dir = tempfile::tempdir().unwrap();
    let (ledger, _h) = original(original_dir.path(), 16);
    let (copy, mut mirror) = copy_of(&ledger, true, 10);

    let mut batch = records(&ledger, 10, 20);
    // The signed body stays; the record's stated time changes (its hash no longer matches).
    batch[3].recorded_at = RecordedAt::from_unix_micros(batch[3].recorded_at.unix_micros() + 1);
    mirror
        .expect_checkpoint(20, checkpoint(&ledger, 20))
        .unwrap();
    let refused = mirror.add(&batch).unwrap_err();
    assert!(
        matches!(refused, MirrorError::Refused { seq: 13, .. }),
        "{refused}"
    );
    assert_eq!(mirror.ledger().unwrap().size(), 10, "nothing of the batch");
    // The copy takes nothing more, even the genuine records.
    assert!(mirror.add(&records(&ledger, 10, 20)).is_err());
    drop(mirror);
    // Reopened, the genuine records are taken.
    let mut mirror = Mirror::open(copy.path(), Some(ledger.verifier_key())).unwrap();
    follow_to(&mut mirror, &ledger, 20);
    assert_eq!(mirror.size(), 20);
    ledger.close();
}

#[test]
fn a_checkpoint_not_signed_by_the_pinned_key_or_with_another_root_is_refused() {
    let original_dir = tempfile::tempdir().unwrap();
    let (ledger, _h) = original(original_dir.path(), 16);

    // Pinned to another key: the records verify, the checkpoint does not.
    let copy = tempfile::tempdir().unwrap();
    let other = SecretKey::from_seed(&[77; 32]);
    let pinned = VerifierKey::ed25519(ledger.origin().to_owned(), other.public_key());
    let mut mirror = Mirror::open(copy.path(), Some(pinned)).unwrap();
    mirror
        .expect_checkpoint(10, checkpoint(&ledger, 10))
        .unwrap();
    let refused = mirror.add(&records(&ledger, 0, 10)).unwrap_err();
    assert!(matches!(refused, MirrorError::Refused { .. }), "{refused}");
    assert!(mirror.ledger().is_none(), "nothing written");

    // The checkpoint of 20 records offered as one of 10: its root is not theirs.
    let copy = tempfile::tempdir().unwrap();
    let mut mirror = Mirror::open(copy.path(), None).unwrap();
    mirror
        .expect_checkpoint(10, checkpoint(&ledger, 20))
        .unwrap();
    assert!(mirror.add(&records(&ledger, 0, 10)).is_err());
    assert!(mirror.ledger().is_none());
    ledger.close();
}

#[test]
fn a_gap_is_refused_without_stopping_the_copy() {
    let original_dir = tempfile::tempdir().unwrap();
    let (ledger, _h) = original(original_dir.path(), 16);
    let (_copy, mut mirror) = copy_of(&ledger, false, 10);
    let skipped = mirror.add(&records(&ledger, 12, 20)).unwrap_err();
    assert!(
        matches!(skipped, MirrorError::Gap { have: 10, got: 12 }),
        "{skipped}"
    );
    follow_to(&mut mirror, &ledger, 20);
    assert_eq!(mirror.size(), 20);
    ledger.close();
}

#[test]
fn an_event_id_already_copied_is_refused_even_after_reopening() {
    let original_dir = tempfile::tempdir().unwrap();
    let (ledger, _h) = original(original_dir.path(), 16);
    let (copy, mirror) = copy_of(&ledger, false, 10);
    drop(mirror);
    // Reopened, the verifier knows no earlier ids: the book's index must.
    let mut mirror = Mirror::open(copy.path(), None).unwrap();
    let last = ledger.record(Seq(9)).unwrap().unwrap();
    let earlier = ledger.record(Seq(6)).unwrap().unwrap();
    let replayed = Record::seal(Seq(10), last.recorded_at, last.hash, earlier.event.clone());
    let refused = mirror.add(&[replayed]).unwrap_err();
    assert!(
        matches!(&refused, MirrorError::Refused { seq: 10, reason } if reason.contains("already")),
        "{refused}"
    );
    assert_eq!(mirror.ledger().unwrap().size(), 10);
    ledger.close();
}

#[test]
fn a_ledger_that_went_back_or_another_under_the_same_name_stops_the_copy() {
    let original_dir = tempfile::tempdir().unwrap();
    let (ledger, _h) = original(original_dir.path(), 16);
    let (_copy, mut mirror) = copy_of(&ledger, false, 20);
    // The same checkpoint again: nothing to do.
    mirror
        .expect_checkpoint(20, checkpoint(&ledger, 20))
        .unwrap();
    // An older one as the latest: the ledger went back.
    let back = mirror
        .expect_checkpoint(10, checkpoint(&ledger, 10))
        .unwrap_err();
    assert!(back.to_string().contains("went back"), "{back}");
    assert!(mirror.add(&records(&ledger, 20, 21)).is_err(), "stopped");

    // Another ledger of the same name and size: its checkpoint names another root.
    let size = ledger.size();
    let (_other_dir, other) = another_of_size(size);
    let (_copy, mut mirror) = copy_of(&ledger, false, size);
    let forked = mirror
        .expect_checkpoint(size, checkpoint(&other, size))
        .unwrap_err();
    assert!(matches!(forked, MirrorError::Refused { .. }), "{forked}");
    other.close();
    ledger.close();
}

#[test]
fn records_past_the_latest_checkpoint_are_taken_and_a_later_checkpoint_within_is_checked() {
    let original_dir = tempfile::tempdir().unwrap();
    let (ledger, _h) = original(original_dir.path(), 16);
    let size = ledger.size();
    let (_copy, mut mirror) = copy_of(&ledger, true, 10);
    // The records after it, each verified by its signature, before any checkpoint covers them.
    mirror.add(&records(&ledger, 10, size)).unwrap();
    let copied = mirror.ledger().unwrap().clone();
    assert_eq!(copied.size(), size);
    assert_eq!(copied.latest_checkpoint().unwrap().0, 10);
    // The ledger's checkpoint covering them is checked against the copy and kept.
    mirror
        .expect_checkpoint(size, checkpoint(&ledger, size))
        .unwrap();
    assert_eq!(copied.latest_checkpoint(), ledger.latest_checkpoint());
    assert_eq!(
        copied.book().checkpoint(size).unwrap(),
        ledger.book().checkpoint(size).unwrap()
    );

    // Another ledger's checkpoint of that size names another root: refused.
    let (_other_dir, other) = another_of_size(size);
    let (_copy, mut mirror) = copy_of(&ledger, false, 10);
    mirror.add(&records(&ledger, 10, size)).unwrap();
    let forked = mirror
        .expect_checkpoint(size, checkpoint(&other, size))
        .unwrap_err();
    assert!(forked.to_string().contains("root"), "{forked}");
    assert_eq!(mirror.ledger().unwrap().latest_checkpoint().unwrap().0, 10);
    other.close();
    ledger.close();
}
