//! The projector on real books (the scenario fixtures) and real sled: incremental projection
//! with restarts gives the very bytes of a rebuild; a record that does not verify stops it;
//! queries answer from the views.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use probity_core::ids::Seq;
use probity_core::record::Record;
use probity_ledger::Ledger;
use probity_projector::{Applied, Projection};
use probity_testkit::scenario::{data_dir, open};
use probity_views::{embedded, prepare, query, ProjectError, Projector};
use serde_json::{json, Value};

const SCENARIOS: [&str; 4] = [
    "domain-example",
    "bitemporal-sanction",
    "reps-and-equipment",
    "rule-rep-visit-fires",
];

fn records(ledger: &Ledger) -> Vec<Record> {
    ledger
        .book()
        .records(Seq(0), Seq(ledger.size()))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn rows(projector: &Projector) -> Vec<(String, Vec<u8>)> {
    projector
        .store()
        .rows()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.to_vec()))
        .collect()
}

/// The pure projection of the records, for comparison.
/// A new ledger (in a temporary directory, its book in `book/`) of genesis, enrolments and four
/// purchase requests of one case.
fn four_requests() -> (probity_testkit::Hospital, tempfile::TempDir, Ledger) {
    let h = probity_testkit::Hospital::default();
    let dir = tempfile::tempdir().unwrap();
    let ledger = h.create_ledger(&dir.path().join("book"));
    for i in 0..4 {
        let event = h.request(&format!("r-{i}"), "CASE-1", &h.clerk);
        ledger
            .append(probity_ledger::AppendRequest::new(event))
            .unwrap();
    }
    (h, dir, ledger)
}

fn pure(records: &[Record]) -> Projection {
    let mut p = Projection::new();
    for r in records {
        let body = r.event.open().unwrap().into_body();
        let event = probity_events::validate_body(&body).unwrap();
        p.apply(Applied {
            seq: r.seq,
            recorded_at: r.recorded_at,
            body: &body,
            event: &event,
        });
    }
    p
}

#[test]
fn incremental_with_restarts_equals_a_rebuild_byte_for_byte() {
    for name in SCENARIOS {
        let data = data_dir(name);
        let ledger = open(data.path(), name);
        let all = records(&ledger);

        // One record per durable batch, closing and reopening the views every 7 records, a
        // snapshot every 5 (so the stored rows are partly pending, partly history).
        let incremental = data.path().join("views-incremental");
        let mut projector = embedded::open(&incremental, &ledger).unwrap();
        projector.snapshot_every(5);
        for (i, record) in all.iter().enumerate() {
            projector.apply(std::slice::from_ref(record)).unwrap();
            if i % 7 == 6 {
                projector.close();
                projector = embedded::open(&incremental, &ledger).unwrap();
                projector.snapshot_every(5);
                assert_eq!(
                    projector.applied(),
                    i as u64 + 1,
                    "{name}: cursor after reopen"
                );
            }
        }

        let rebuilt_dir = data.path().join("views-rebuilt");
        let mut rebuilt = embedded::open(&rebuilt_dir, &ledger).unwrap();
        assert_eq!(
            embedded::catch_up(&mut rebuilt, &ledger).unwrap(),
            all.len() as u64
        );

        assert_eq!(rows(&projector), rows(&rebuilt), "{name}: rows differ");
        assert!(!rows(&rebuilt).is_empty());
        assert_eq!(
            projector.store().state_hash().unwrap(),
            rebuilt.store().state_hash().unwrap()
        );
        // What the store holds is what the pure projection computes.
        assert_eq!(
            &projector.projection().whole(),
            &pure(&all),
            "{name}: restored views"
        );
        assert_eq!(
            &rebuilt.projection().whole(),
            &pure(&all),
            "{name}: rebuilt views"
        );
        projector.close();
        rebuilt.close();
        ledger.close();
    }
}

#[test]
fn catch_up_is_incremental_and_a_second_run_applies_nothing() {
    let data = data_dir("domain-example");
    let ledger = open(data.path(), "domain-example");
    let dir = embedded::views_dir(data.path());
    let mut projector = embedded::open(&dir, &ledger).unwrap();
    assert_eq!(
        embedded::catch_up(&mut projector, &ledger).unwrap(),
        ledger.size()
    );
    let hash = projector.store().state_hash().unwrap();
    projector.close();
    let mut again = embedded::open(&dir, &ledger).unwrap();
    assert_eq!(embedded::catch_up(&mut again, &ledger).unwrap(), 0);
    assert_eq!(again.store().state_hash().unwrap(), hash);
}

#[test]
fn views_of_an_older_layout_are_rebuilt_not_misread() {
    let data = data_dir("domain-example");
    let ledger = open(data.path(), "domain-example");
    let dir = embedded::views_dir(data.path());
    let mut projector = embedded::open(&dir, &ledger).unwrap();
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let hash = projector.store().state_hash().unwrap();
    projector.close();
    // What the first layout left: one event id per key, no format marker.
    {
        let db = probity_ledger::open_sled(&dir).unwrap();
        db.remove("format").unwrap();
        let mut old_key = b"i/".to_vec();
        old_key.extend_from_slice(&[7u8; 16]);
        db.insert(old_key, &5u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let mut reopened = embedded::open(&dir, &ledger).unwrap();
    assert_eq!(reopened.applied(), 0, "the old views were not dropped");
    assert_eq!(
        embedded::catch_up(&mut reopened, &ledger).unwrap(),
        ledger.size()
    );
    assert_eq!(reopened.store().state_hash().unwrap(), hash);
}

fn tampered(all: &[Record], at: usize) -> Vec<Record> {
    let mut copy = all.to_vec();
    // Re-sign nothing: change the signed body's bytes and re-chain honestly from there, as a
    // forger without the clerk's key would have to.
    let mut json: Value = serde_json::from_slice(&copy[at].to_json()).unwrap();
    let sig = json["event"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bytes = sig.into_bytes();
    bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
    json["event"]["signatures"][0]["sig"] = json!(String::from_utf8(bytes).unwrap());
    copy[at] = serde_json::from_value(json).unwrap();
    copy
}

#[test]
fn a_record_that_does_not_verify_stops_the_projector_and_is_reported() {
    let data = data_dir("domain-example");
    let ledger = open(data.path(), "domain-example");
    let all = records(&ledger);
    let bad = tampered(&all, 9);
    let dir = data.path().join("views");
    let mut projector = Projector::open(&dir).unwrap();
    match projector.apply(&bad) {
        Err(ProjectError::Halted(halt)) => {
            assert_eq!(halt.seq, 9, "{halt:?}");
        }
        other => panic!("expected a halt at record 9, got {other:?}"),
    }
    // The records before it are applied and durable; nothing after it.
    assert_eq!(projector.applied(), 9);
    assert_eq!(&projector.projection().whole(), &pure(&all[..9]));
    projector.close();
    let mut reopened = Projector::open(&dir).unwrap();
    assert_eq!(reopened.applied(), 9);
    assert_eq!(reopened.cursor().halted.as_ref().map(|h| h.seq), Some(9));
    assert!(matches!(
        reopened.apply(&all[9..]),
        Err(ProjectError::Halted(_))
    ));
}

/// Staged records are written only by a commit, or with the refusal of a record after them.
#[test]
fn staged_records_are_committed_with_a_refusal_and_not_before() {
    let data = data_dir("domain-example");
    let ledger = open(data.path(), "domain-example");
    let all = records(&ledger);
    let bad = tampered(&all, 12);
    let dir = data.path().join("views");
    let mut projector = Projector::open(&dir).unwrap();
    projector.stage(&all[..8], None).unwrap();
    assert_eq!((projector.applied(), projector.staged()), (8, 8));
    assert_eq!(
        projector.store().cursor().unwrap(),
        None,
        "nothing written yet"
    );
    assert!(projector.store().rows().unwrap().is_empty());

    match projector.stage(&bad[8..], None) {
        Err(ProjectError::Halted(halt)) => assert_eq!(halt.seq, 12, "{halt:?}"),
        other => panic!("expected a halt at record 12, got {other:?}"),
    }
    assert_eq!((projector.applied(), projector.staged()), (12, 0));
    let stored = projector.store().cursor().unwrap().unwrap();
    assert_eq!(stored.applied, 12);
    assert_eq!(stored.halted.map(|h| h.seq), Some(12));
    projector.close();
    let reopened = Projector::open(&dir).unwrap();
    assert_eq!(&reopened.projection().whole(), &pure(&all[..12]));
}

/// A record that verifies (chain, signature, role) but that the catalogue cannot decode stops
/// the projector at it, with the records staged before it committed; the verifier, put back
/// to the last of them, still knows the event ids staged in an earlier call.
#[test]
fn a_record_that_verifies_but_does_not_decode_stops_after_the_staged_ones() {
    let (h, dir, ledger) = four_requests();
    let all = records(&ledger);
    let last = all.last().unwrap();
    let next = Seq(all.len() as u64);
    // A purchase request without its fields: the ledger would have refused it, but a record
    // of it chains and verifies like any other.
    let undecodable = h.event(
        "odd-1",
        "purchase.requested",
        &h.clerk,
        "2026-01-03T09:00:00+08:00",
        json!({"case": "CASE-1"}),
    );
    let mut rest = all[5..].to_vec();
    rest.push(Record::seal(next, last.recorded_at, last.hash, undecodable));

    let mut projector = embedded::open(&dir.path().join("views"), &ledger).unwrap();
    projector.stage(&all[..5], None).unwrap();
    match projector.stage(&rest, None) {
        Err(ProjectError::Halted(halt)) => {
            assert_eq!(halt.seq, next.0, "{halt:?}");
            assert!(halt.reason.contains("catalogue"), "{halt:?}");
        }
        other => panic!("expected a halt at record {next:?}, got {other:?}"),
    }
    assert_eq!((projector.applied(), projector.staged()), (next.0, 0));
    assert_eq!(&projector.projection().whole(), &pure(&all));

    // Record 4, the first request, was staged in the first call; offered again at the next
    // seq once the halt is cleared, it is refused as a duplicate.
    projector.clear_halt().unwrap();
    let again = Record::seal(next, last.recorded_at, last.hash, all[4].event.clone());
    match projector.apply(&[again]) {
        Err(ProjectError::Halted(halt)) => {
            assert_eq!(halt.seq, next.0, "{halt:?}");
            assert!(
                halt.reason.contains("already recorded at record 4"),
                "{halt:?}"
            );
        }
        other => panic!("expected the repeated event refused, got {other:?}"),
    }
}

#[test]
fn prepared_batches_apply_and_refuse_as_plain_ones() {
    let data = data_dir("domain-example");
    let ledger = open(data.path(), "domain-example");
    let all = records(&ledger);
    let checkpoints: Vec<_> = ledger
        .book()
        .checkpoints_between(1, ledger.size())
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!checkpoints.is_empty());
    let with_checkpoints = |dir: &str| {
        let mut projector = embedded::open(&data.path().join(dir), &ledger).unwrap();
        for (size, note) in &checkpoints {
            projector.add_checkpoint(note.clone(), *size);
        }
        projector
    };
    // Covered by the ledger's checkpoint: verified without signatures, decoded beforehand.
    let mut prepared = with_checkpoints("prepared");
    prepared.apply_prepared(&all, Some(prepare(&all))).unwrap();
    assert_eq!(&prepared.projection().whole(), &pure(&all));
    // Prepared from other records (one differs): the covered check fails on it, and the
    // records given are verified one signature at a time and decoded again.
    let mut mismatched = with_checkpoints("mismatched");
    mismatched
        .apply_prepared(&all, Some(prepare(&tampered(&all, 9))))
        .unwrap();
    assert_eq!(&mismatched.projection().whole(), &pure(&all));

    let bad = tampered(&all, 9);
    let mut refused = with_checkpoints("refused");
    match refused.apply_prepared(&bad, Some(prepare(&bad))) {
        Err(ProjectError::Halted(halt)) => assert_eq!(halt.seq, 9, "{halt:?}"),
        other => panic!("expected a halt at record 9, got {other:?}"),
    }
    assert_eq!(refused.applied(), 9);
    assert_eq!(&refused.projection().whole(), &pure(&all[..9]));
}

#[test]
fn a_gap_or_a_broken_link_stops_the_projector() {
    let data = data_dir("domain-example");
    let ledger = open(data.path(), "domain-example");
    let all = records(&ledger);
    let mut projector = Projector::open(&data.path().join("gap")).unwrap();
    projector.apply(&all[..5]).unwrap();
    let err = projector.apply(&all[6..8]).unwrap_err();
    assert!(
        matches!(&err, ProjectError::Halted(h) if h.seq == 5 && h.reason.contains("missing")),
        "{err}"
    );
    assert_eq!(projector.applied(), 5);

    let mut forged = all[..4].to_vec();
    let mut second = all[2].clone();
    second.seq = Seq(3);
    forged[3] = second; // an authentic event replayed at seq 3
    let mut projector = Projector::open(&data.path().join("replay")).unwrap();
    let err = projector.apply(&forged).unwrap_err();
    assert!(
        matches!(&err, ProjectError::Halted(h) if h.seq == 3),
        "{err}"
    );
}

fn ask(p: &Projection, kind: &str, body: Value) -> Result<Value, String> {
    let zone = probity_views::answers::Zone::parse("+08:00").unwrap();
    query::answer(
        p,
        kind,
        body.to_string().as_bytes(),
        1_900_000_000_000_000,
        zone,
    )
    .map_err(|e| e.code.to_string())
}

fn first_key<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    keys.into_iter().next().cloned().unwrap()
}

#[test]
fn every_query_answers_from_the_views() {
    let data = data_dir("domain-example");
    let ledger = open(data.path(), "domain-example");
    let mut projector = embedded::open(&data.path().join("q"), &ledger).unwrap();
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let p = projector.projection();

    let findings = ask(p, "findings", json!({"rule": "rep-conflict"})).unwrap();
    assert_eq!(findings.as_array().unwrap().len(), 4);
    assert_eq!(
        ask(p, "findings", json!({"rule": "nope"})),
        Err("unknown-rule".into())
    );
    assert_eq!(
        ask(p, "blacklist", json!({"at": "soon"})),
        Err("bad-time".into())
    );
    assert_eq!(
        ask(p, "blacklist", json!({"when": 1})),
        Err("malformed-request".into())
    );
    assert_eq!(ask(p, "fortune", json!({})), Err("unknown-query".into()));

    let case_id = first_key(p.cases.iter().map(|(k, _)| k));
    let case = ask(p, "case", json!({"id": case_id})).unwrap();
    let timeline = case["timeline"].as_array().unwrap();
    assert!(!timeline.is_empty());
    // Version 3: times as RFC 3339 at the hospital's offset, money as fen with its text.
    let hospital_time = |v: &Value| {
        let t = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
        assert!(t.ends_with("+08:00"), "{t}");
        assert!(
            probity_core::time::OccurredAt::parse(t).is_ok(),
            "{t} is RFC 3339"
        );
    };
    for e in timeline {
        hospital_time(&e["occurred_at"]);
        hospital_time(&e["recorded_at"]);
        assert!(e["record"].is_u64(), "{e}");
    }
    let estimated = &case["request"]["estimated"];
    assert!(estimated["fen"].is_u64(), "{case}");
    assert!(
        estimated["display"].as_str().unwrap().starts_with('¥'),
        "{case}"
    );
    // Version 2, asked for, is the older shape, with the same content.
    let old = ask(p, "case", json!({"id": case_id, "version": 2})).unwrap();
    assert_eq!(
        old["detail"]["timeline"].as_array().unwrap().len(),
        timeline.len()
    );
    assert!(old["detail"]["timeline"][0]["occurred_at"].is_i64());
    assert_eq!(
        old["detail"]["request"]["estimated"], estimated["fen"],
        "{old}"
    );
    assert_eq!(
        ask(p, "case", json!({"id": case_id, "version": 4})),
        Err("malformed-request".into())
    );
    assert_eq!(
        ask(p, "case", json!({"id": case_id, "version": "3"})),
        Err("malformed-request".into())
    );
    assert!(timeline
        .iter()
        .all(|e| e["signer"].as_str().unwrap().len() == 32));
    assert!(
        timeline.iter().any(|e| !e["supervised_by"].is_null()),
        "{case}"
    );
    assert!(
        timeline.iter().all(|e| !e["signer_name"].is_null()),
        "{case}"
    );

    let uscc = first_key(p.suppliers.iter().map(|(k, _)| k));
    let supplier = ask(p, "supplier", json!({"id": uscc})).unwrap();
    assert_eq!(supplier["uscc"], json!(uscc));
    hospital_time(&supplier["at"]);
    hospital_time(&supplier["admitted"]["at"]);
    assert_eq!(
        supplier["eligible"],
        json!(supplier["ineligible"].is_null())
    );

    let rep_id = first_key(p.reps.iter().map(|(k, _)| k));
    let rep = ask(
        p,
        "rep",
        json!({"id": rep_id, "at": "2026-06-01T00:00:00+08:00"}),
    )
    .unwrap();
    assert!(!rep["visits"].as_array().unwrap().is_empty(), "{rep}");
    assert_eq!(rep["visits"][0]["state"], "completed");

    // Every staff member a rep-conflict names has a staff view with that meeting.
    let conflict = &findings[0];
    hospital_time(&conflict["occurred_at"]);
    hospital_time(&conflict["detectable_at"]);
    let staff = conflict["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "staff")
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned();
    let view = ask(p, "staff", json!({"id": staff})).unwrap();
    assert!(!view["meetings"].as_array().unwrap().is_empty(), "{view}");
    assert!(!view["findings"].as_array().unwrap().is_empty(), "{view}");

    assert_eq!(
        ask(p, "supplier", json!({"id": "nobody"})),
        Err("not-found".into())
    );
    assert_eq!(
        ask(p, "staff", json!({"id": "nobody"})),
        Err("not-found".into())
    );
}

/// A case's timeline is stored in chunks: a record appended to a long case writes its last
/// chunk only, and a supervision recorded late finds the step it supervises in an earlier
/// chunk, as the report shows.
#[test]
fn a_long_timeline_is_written_a_chunk_at_a_time() {
    let h = probity_testkit::Hospital::default();
    let dir = tempfile::tempdir().unwrap();
    let ledger = h.create_ledger(&dir.path().join("book"));
    let append = |event| {
        ledger
            .append(probity_ledger::AppendRequest::new(event))
            .unwrap();
    };
    for i in 0..40 {
        append(h.request(&format!("r-{i}"), "CASE-LONG", &h.clerk));
    }
    let supervision = |id: &str| {
        h.event(
            id,
            "purchase.supervision_recorded",
            &h.discipline,
            "2026-01-03T09:00:00+08:00",
            json!({"case": "CASE-LONG", "step": "purchase.requested", "inspector": "S-CHEN",
                   "opinion": "no_objection"}),
        )
    };
    append(supervision("sup-1"));
    let views = dir.path().join("views");
    let mut projector = embedded::open(&views, &ledger).unwrap();
    embedded::catch_up(&mut projector, &ledger).unwrap();

    let before = rows(&projector);
    append(h.request("r-40", "CASE-LONG", &h.clerk));
    append(supervision("sup-2"));
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let after = rows(&projector);
    let changed: Vec<&str> = after
        .iter()
        .filter(|row| !before.contains(row))
        .map(|(key, _)| key.as_str())
        .filter(|key| key.starts_with("timelines/"))
        .collect();
    // 43 entries: chunks 0..=2; the new request and the supervision of it land in chunk 2.
    assert_eq!(changed, ["timelines/CASE-LONG/00000002"]);

    let case = ask(projector.projection(), "case", json!({"id": "CASE-LONG"})).unwrap();
    let timeline = case["timeline"].as_array().unwrap();
    let seqs: Vec<u64> = timeline
        .iter()
        .map(|e| e["record"].as_u64().unwrap())
        .collect();
    let first = seqs[0];
    assert_eq!(seqs, (first..first + 43).collect::<Vec<_>>());
    // sup-1 (entry 40) covers the latest request then (entry 39); sup-2 (entry 42) covers r-40
    // (entry 41). The earlier requests stay unsupervised.
    let supervised: Vec<(usize, u64)> = timeline
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, e["supervised_by"].as_u64()?)))
        .collect();
    assert_eq!(supervised, [(39, first + 40), (41, first + 42)]);
    assert_eq!(
        case["state"], "requested",
        "supervision records are not steps"
    );
    // The full chunks 0 and 1 are not held once committed (what is held grows with the cases,
    // not the records): the timeline above read them back from the store, and so does a
    // reopened projector, which does not restore them.
    let whole = projector.projection().whole();
    assert_ne!(projector.projection(), &whole, "full chunks are let go of");
    projector.close();
    let reopened = embedded::open(&views, &ledger).unwrap();
    assert_ne!(reopened.projection(), &whole, "and not restored on opening");
    assert_eq!(reopened.projection().whole(), whole);
    assert_eq!(
        ask(reopened.projection(), "case", json!({"id": "CASE-LONG"})).unwrap(),
        case
    );
    reopened.close();
}

/// Reopened views know the event ids committed before (read when the verifier first reads on,
/// not when opening): a record repeating an earlier event is refused as a duplicate.
#[test]
fn reopened_views_still_refuse_an_event_id_committed_before() {
    let (_h, dir, ledger) = four_requests();
    let all = records(&ledger);
    let mut projector = embedded::open(&dir.path().join("views"), &ledger).unwrap();
    projector.apply(&all).unwrap();
    projector.close();

    let mut reopened = Projector::open(&dir.path().join("views")).unwrap();
    let last = all.last().unwrap();
    let again = Record::seal(
        Seq(all.len() as u64),
        last.recorded_at,
        last.hash,
        all[5].event.clone(),
    );
    match reopened.apply(&[again]) {
        Err(ProjectError::Halted(halt)) => {
            assert!(
                halt.reason.contains("already recorded at record 5"),
                "{halt:?}"
            );
        }
        other => panic!("expected the repeated event refused, got {other:?}"),
    }
}

/// A supplier's sanctions are rows of their own: one more sanction writes its row and the
/// supplier's (the count), not the earlier sanctions again, and the supplier, its lifting and
/// the blacklist read them all, also after reopening.
#[test]
fn a_sanction_writes_its_own_row_not_the_suppliers_whole_record() {
    let h = probity_testkit::Hospital::default();
    let dir = tempfile::tempdir().unwrap();
    let ledger = h.create_ledger(&dir.path().join("book"));
    let append = |event| {
        ledger
            .append(probity_ledger::AppendRequest::new(event))
            .unwrap();
    };
    for i in 0..40 {
        append(h.sanction(&format!("s-{i}"), &h.discipline));
    }
    let views = dir.path().join("views");
    let mut projector = embedded::open(&views, &ledger).unwrap();
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let before = rows(&projector);

    append(h.sanction("s-40", &h.discipline));
    // The first sanction lifted: its own row changes, not the others.
    append(h.event(
        "lift-0",
        "supplier.sanction_lifted",
        &h.discipline,
        "2026-01-03T10:00:00+08:00",
        json!({"sanction": "SAN-s-0", "uscc": probity_testkit::SUPPLIER,
               "reason": "appeal", "decision": "DI-2"}),
    ));
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let after = rows(&projector);
    let changed: Vec<&str> = after
        .iter()
        .filter(|row| !before.contains(row))
        .map(|(key, _)| key.as_str())
        .filter(|key| key.starts_with("suppliers/") || key.starts_with("sanctions/"))
        .collect();
    let supplier = probity_testkit::SUPPLIER;
    assert_eq!(
        changed,
        [
            format!("sanctions/{supplier}/00000000"),
            format!("sanctions/{supplier}/00000040"),
            format!("suppliers/{supplier}"),
        ]
    );
    let answer = |projector: &Projector| {
        ask(
            projector.projection(),
            "supplier",
            json!({"id": supplier, "version": 2}),
        )
        .unwrap()
    };
    let now = answer(&projector);
    let sanctions = now["supplier"]["sanctions"].as_array().unwrap();
    assert_eq!(sanctions.len(), 41);
    assert_eq!(sanctions[0]["sanction"], "SAN-s-0");
    assert!(!sanctions[0]["lifted"].is_null(), "{}", sanctions[0]);
    assert_eq!(sanctions[40]["sanction"], "SAN-s-40");
    let blacklist = ask(
        projector.projection(),
        "blacklist",
        json!({"at": "2026-06-01T00:00:00+08:00"}),
    )
    .unwrap();
    assert_eq!(blacklist.as_array().unwrap().len(), 40, "one lifted");
    projector.close();
    let reopened = embedded::open(&views, &ledger).unwrap();
    assert_eq!(answer(&reopened), now);
}

/// A supplier's purchase decisions (the award-to-ineligible rule's memory) are rows of their
/// own: one more award writes its row and the supplier's count, and a sanction recorded late
/// still judges every earlier award.
#[test]
fn a_decision_writes_its_own_row_and_a_late_sanction_judges_them_all() {
    let h = probity_testkit::Hospital::default();
    let office = probity_core::keys::SecretKey::from_seed(&[9; 32]);
    let dir = tempfile::tempdir().unwrap();
    let ledger = h.create_ledger(&dir.path().join("book"));
    let append = |event| {
        ledger
            .append(probity_ledger::AppendRequest::new(event))
            .unwrap();
    };
    append(h.enrol(
        "enrol-office",
        &office,
        probity_core::roles::Role::EquipmentOffice,
    ));
    let supplier = probity_testkit::SUPPLIER;
    let award = |i: u32| {
        h.event(
            &format!("award-{i}"),
            "purchase.award_decided",
            &office,
            "2026-03-10T11:00:00+08:00",
            json!({"case": format!("C-{i}"), "supplier": supplier,
                   "amount": {"fen": 10_000_000, "currency": "CNY"}}),
        )
    };
    for i in 0..20 {
        append(award(i));
    }
    let views = dir.path().join("views");
    let mut projector = embedded::open(&views, &ledger).unwrap();
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let before = rows(&projector);
    append(award(20));
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let changed: Vec<String> = rows(&projector)
        .into_iter()
        .filter(|row| !before.contains(row))
        .map(|(key, _)| key)
        .filter(|key| key.starts_with("decision"))
        .collect();
    assert_eq!(
        changed,
        [
            format!("decision_counts/{supplier}"),
            format!("decisions/{supplier}/00000020"),
        ]
    );
    // Blacklisted from 2 January, recorded now: each of the 21 awards was to a banned firm.
    append(h.sanction("late", &h.discipline));
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let findings = ask(
        projector.projection(),
        "findings",
        json!({"rule": "award-to-ineligible"}),
    )
    .unwrap();
    assert_eq!(findings.as_array().unwrap().len(), 21, "{findings}");
}
