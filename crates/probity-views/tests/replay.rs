//! Replay from snapshots and partial projections gives exactly the projection of the records
//! the moment includes, for every record count and every time in the scenarios, in both
//! senses; the timeline of a subject lists its records up to the moment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use probity_core::ids::Seq;
use probity_core::record::Record;
use probity_projector::{time, Applied, Projection, TABLES};
use probity_testkit::scenario::{data_dir, open};
use probity_views::replay::{Moment, Replayer};
use probity_views::{embedded, Projector};

const SCENARIOS: [&str; 3] = ["demo-hospital", "bitemporal-sanction", "domain-example"];

struct Opened {
    record: Record,
    occurred_at: i64,
    recorded_at: i64,
}

fn opened(records: Vec<Record>) -> Vec<Opened> {
    records
        .into_iter()
        .map(|record| {
            let body = record.event.open().unwrap().into_body();
            Opened {
                occurred_at: time::of(body.occurred_at.datetime()),
                recorded_at: record.recorded_at.unix_micros(),
                record,
            }
        })
        .collect()
}

/// The plain projection of the records `keep` selects, in ledger order.
fn pure<'a>(records: impl Iterator<Item = &'a Opened>) -> Projection {
    let mut p = Projection::new();
    for r in records {
        let body = r.record.event.open().unwrap().into_body();
        let event = probity_events::validate_body(&body).unwrap();
        p.apply(Applied {
            seq: r.record.seq,
            recorded_at: r.record.recorded_at,
            body: &body,
            event: &event,
        });
    }
    p
}

/// Views built in small batches with a snapshot every 5 records.
fn views(data: &std::path::Path, ledger: &probity_ledger::Ledger, records: &[Opened]) -> Projector {
    let mut projector = embedded::open(&data.join("views"), ledger).unwrap();
    projector.snapshot_every(5);
    let plain: Vec<Record> = records.iter().map(|r| r.record.clone()).collect();
    for batch in plain.chunks(3) {
        projector.apply(batch).unwrap();
    }
    projector
}

/// Every record of the ledger's book, opened.
fn book_records(ledger: &probity_ledger::Ledger) -> Vec<Opened> {
    opened(
        ledger
            .book()
            .records(Seq(0), Seq(ledger.size()))
            .collect::<Result<_, _>>()
            .unwrap(),
    )
}

/// A scenario's data directory, its records and views built in small batches.
struct Fixture {
    _data: tempfile::TempDir,
    ledger: probity_ledger::Ledger,
    records: Vec<Opened>,
    projector: Projector,
}

fn fixture(name: &str) -> Fixture {
    let data = data_dir(name);
    let ledger = open(data.path(), name);
    let records = book_records(&ledger);
    let projector = views(data.path(), &ledger, &records);
    Fixture {
        _data: data,
        ledger,
        records,
        projector,
    }
}

/// Every time at which something changes, and just before it, ascending.
fn instants(records: &[Opened]) -> Vec<i64> {
    let mut instants: Vec<i64> = records
        .iter()
        .flat_map(|r| [r.occurred_at, r.recorded_at])
        .flat_map(|t| [t - 1, t])
        .collect();
    instants.sort_unstable();
    instants.dedup();
    instants
}

fn replayed_whole(replayer: &Replayer<'_>, moment: Moment) -> Projection {
    let mut replayed = replayer.replay(moment).unwrap();
    for table in TABLES {
        replayer
            .complete(&mut replayed.projection, table, replayed.snapshot)
            .unwrap();
    }
    replayed.projection
}

#[test]
fn replay_equals_the_projection_of_the_records_the_moment_includes() {
    for name in SCENARIOS {
        let Fixture {
            ledger,
            records,
            projector,
            _data: _dir,
        } = fixture(name);
        let replayer = Replayer::new(projector.store(), ledger.book()).unwrap();
        assert_eq!(replayer.held(), records.len() as u64);

        let (mut from_snapshots, mut with_misses) = (0, 0);
        for n in 0..=records.len() {
            let replayed = replayer.replay(Moment::Records(n as u64)).unwrap();
            from_snapshots += usize::from(replayed.snapshot > 0);
            with_misses += usize::from(replayed.rounds > 1);
            assert!(
                replayed.applied < 5 + 3,
                "{name}@{n}: replayed from far back"
            );
            assert_eq!(
                replayed_whole(&replayer, Moment::Records(n as u64)),
                pure(records[..n].iter()),
                "{name}: first {n} records"
            );
        }
        assert!(
            from_snapshots > 0 && with_misses > 0,
            "{name}: snapshots unused"
        );

        for t in instants(&records) {
            assert_eq!(
                replayed_whole(&replayer, Moment::KnownAt(t)),
                pure(records.iter().filter(|r| r.recorded_at <= t)),
                "{name}: known at {t}"
            );
            assert_eq!(
                replayed_whole(&replayer, Moment::TrueAt(t)),
                pure(records.iter().filter(|r| r.occurred_at <= t)),
                "{name}: true at {t}"
            );
        }
    }
}

#[test]
fn a_subject_timeline_lists_its_records_up_to_the_moment() {
    let Fixture {
        ledger,
        records,
        projector,
        _data: _dir,
    } = fixture("domain-example");
    let replayer = Replayer::new(projector.store(), ledger.book()).unwrap();
    let full = replayer
        .replay(Moment::Records(records.len() as u64))
        .unwrap();
    let (case, _) = full.projection.cases.iter().next().expect("a case");
    let subject = format!("case:{case}");
    let naming = |n: usize| -> Vec<u64> {
        records[..n]
            .iter()
            .filter(|r| {
                let body = r.record.event.open().unwrap().into_body();
                body.subjects.case.iter().any(|c| c.as_str() == case)
            })
            .map(|r| r.record.seq.0)
            .collect()
    };
    for n in [0, records.len() / 2, records.len()] {
        let replayed = replayer.replay(Moment::Records(n as u64)).unwrap();
        let steps = replayer.timeline(&replayed, &subject).unwrap();
        assert_eq!(
            steps.iter().map(|s| s.seq.0).collect::<Vec<_>>(),
            naming(n),
            "{subject} at {n}"
        );
        for step in &steps {
            assert!(
                step.signer_name.is_some(),
                "record {} signer unnamed",
                step.seq
            );
        }
    }
}

/// "Was X banned at T?" has one answer: `replay --true-at T` gives the blacklist that
/// `probity blacklist --at T` gives (true at T, as the ledger knows now), at every instant —
/// a ban decided after T but effective before it included.
#[test]
fn true_at_replay_and_the_blacklist_agree_at_every_instant() {
    for name in ["bitemporal-sanction", "demo-hospital"] {
        let Fixture {
            ledger,
            records,
            projector,
            _data: _dir,
        } = fixture(name);
        let replayer = Replayer::new(projector.store(), ledger.book()).unwrap();
        let now = pure(records.iter());
        let mut back_dated = 0;
        for t in instants(&records) {
            let answer = now.blacklist(t, i64::MAX);
            let replayed = replayer.replay(Moment::TrueAt(t)).unwrap();
            assert_eq!(replayed.blacklist(), answer, "{name}: true at {t}");
            // Bans listed at t whose decision came after t: what the two used to disagree on.
            back_dated += answer
                .iter()
                .filter(|e| records[e.seq.0 as usize].occurred_at > t)
                .count();
        }
        if name == "bitemporal-sanction" {
            assert!(back_dated > 0, "{name}: no back-dated ban was asked about");
        }
    }
}

/// "True at T" uses everything known now: a record of something that happened by T, signed
/// by a key whose enrolment happened after T (an archive typed in late), still names its
/// holder.
#[test]
fn true_at_replay_names_signers_enrolled_after_the_moment() {
    let dir = tempfile::tempdir().unwrap();
    let h = probity_testkit::Hospital::default();
    let ledger = h.create_ledger(&dir.path().join("book"));
    // The clerk was enrolled on 1 January 2026; this request is from June 2025.
    let archived = h.event(
        "archived-1",
        "purchase.requested",
        &h.clerk,
        "2025-06-01T09:00:00+08:00",
        probity_testkit::request_payload("CASE-OLD"),
    );
    ledger
        .append(probity_ledger::AppendRequest::new(archived))
        .unwrap();
    let records = book_records(&ledger);
    let projector = views(dir.path(), &ledger, &records);
    let replayer = Replayer::new(projector.store(), ledger.book()).unwrap();
    let t =
        time::at(&probity_events::types::Timestamp::parse("2025-07-01T00:00:00+08:00").unwrap());
    let replayed = replayer.replay(Moment::TrueAt(t)).unwrap();
    let steps = replayer.timeline(&replayed, "case:CASE-OLD").unwrap();
    assert_eq!(steps.len(), 1);
    let key = steps[0].signer.to_hex();
    assert!(
        replayed.projection.signers.get(&key).is_none(),
        "the enrolment happened after the moment"
    );
    assert_eq!(steps[0].signer_name.as_deref(), Some("clerk holder"));
}
