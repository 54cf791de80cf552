//! Views opened partial (`Projector::open_partial`: read where they lie) answer every query
//! exactly as the projection of all the records does, in every scenario, for every subject it
//! knows and one it does not, while reading only the rows those answers need; caught up
//! partially, they hold byte for byte the rows a whole rebuild holds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use probity_core::ids::Seq;
use probity_projector::{time, Applied, Projection};
use probity_testkit::scenario::{data_dir, open};
use probity_views::answers::Zone;
use probity_views::{embedded, query, Projector, ViewStore};
use serde_json::{json, Value};

/// Every scenario of `tests/scenarios/`.
fn scenarios() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("events.json").exists())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The plain projection of every record of `ledger`, in order.
fn pure(ledger: &probity_ledger::Ledger) -> Projection {
    let mut p = Projection::new();
    for record in ledger.book().records(Seq(0), Seq(ledger.size())) {
        let record = record.unwrap();
        let body = record.event.open().unwrap().into_body();
        let event = probity_events::validate_body(&body).unwrap();
        p.apply(Applied {
            seq: record.seq,
            recorded_at: record.recorded_at,
            body: &body,
            event: &event,
        });
    }
    p
}

/// Every query a user might ask of `p`: each kind, each subject it knows and an unknown one,
/// the blacklist and policy at every instant a record names (and just before), findings of
/// each rule.
fn queries(p: &Projection, instants: &[i64]) -> Vec<(&'static str, Value)> {
    let at = |t: i64| probity_core::time::RecordedAt::from_unix_micros(t).to_string();
    let mut out = vec![
        ("findings", json!({})),
        ("findings", json!({"version": 2})),
        ("policy", json!({})),
        ("blacklist", json!({})),
        ("blacklist", json!({"version": 2})),
    ];
    for rule in probity_projector::Rule::ALL {
        out.push(("findings", json!({"rule": rule.code()})));
    }
    for &t in instants {
        out.push(("blacklist", json!({"at": at(t)})));
        out.push(("blacklist", json!({"at": at(t), "known_at": at(t)})));
        out.push(("policy", json!({"at": at(t)})));
    }
    let ids = |kind: &'static str, keys: Vec<String>, out: &mut Vec<(&'static str, Value)>| {
        for id in keys.into_iter().chain(["no-such-subject".to_owned()]) {
            out.push((kind, json!({ "id": id })));
            out.push((kind, json!({ "id": id, "version": 2 })));
        }
    };
    ids(
        "supplier",
        p.suppliers.iter().map(|(k, _)| k.clone()).collect(),
        &mut out,
    );
    ids(
        "rep",
        p.reps.iter().map(|(k, _)| k.clone()).collect(),
        &mut out,
    );
    ids(
        "case",
        p.cases.iter().map(|(k, _)| k.clone()).collect(),
        &mut out,
    );
    ids(
        "staff",
        p.meetings
            .iter()
            .map(|(k, _)| k.clone())
            .chain(
                p.cases
                    .values()
                    .filter_map(|c| c.request.as_ref().map(|r| r.requester.clone())),
            )
            .collect(),
        &mut out,
    );
    out
}

/// Every time a record names, and just before it.
fn instants(ledger: &probity_ledger::Ledger) -> Vec<i64> {
    let mut instants: Vec<i64> = ledger
        .book()
        .records(Seq(0), Seq(ledger.size()))
        .flat_map(|r| {
            let r = r.unwrap();
            let body = r.event.open().unwrap().into_body();
            [
                time::of(body.occurred_at.datetime()),
                r.recorded_at.unix_micros(),
            ]
        })
        .flat_map(|t| [t - 1, t])
        .collect();
    instants.sort_unstable();
    instants.dedup();
    instants
}

#[test]
fn partial_views_answer_every_query_as_the_whole_projection_does() {
    let now = probity_ledger::now().unix_micros();
    let zone = Zone::default();
    let mut asked = 0;
    for name in scenarios() {
        let data = data_dir(&name);
        let ledger = open(data.path(), &name);
        let dir = embedded::views_dir(data.path());
        // Built in small batches with frequent snapshots, so that the rows lie both in the
        // history and among those changed since the last snapshot.
        let mut projector = embedded::open(&dir, &ledger).unwrap();
        projector.snapshot_every(5);
        let records: Vec<_> = ledger
            .book()
            .records(Seq(0), Seq(ledger.size()))
            .collect::<Result<_, _>>()
            .unwrap();
        for batch in records.chunks(3) {
            projector.apply(batch).unwrap();
        }
        projector.close();

        let whole = pure(&ledger);
        let mut views = embedded::open_current(&dir, &ledger, &mut |_, _| {}).unwrap();
        assert!(
            views.is_partial(),
            "{name}: up-to-date views were loaded whole"
        );
        assert_eq!(views.applied(), ledger.size());
        for (kind, body) in queries(&whole, &instants(&ledger)) {
            let payload = body.to_string().into_bytes();
            let expected = query::answer(&whole, kind, &payload, now, zone);
            let got = views
                .settle(|p| query::answer(p, kind, &payload, now, zone))
                .unwrap();
            assert_eq!(got, expected, "{name}: {kind} {body}");
            asked += 1;
        }
        views.close();
    }
    assert!(asked > 1000, "only {asked} queries asked");
}

/// Opening reads no row, and one supplier's answer reads that supplier's rows, not the
/// cases, timelines or findings.
#[test]
fn partial_views_read_only_what_an_answer_needs() {
    let name = "demo-hospital";
    let data = data_dir(name);
    let ledger = open(data.path(), name);
    let dir = embedded::views_dir(data.path());
    let mut projector = embedded::open(&dir, &ledger).unwrap();
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let whole = projector.projection().whole();
    projector.close();

    let stored_rows = ViewStore::open(&dir).unwrap().rows().unwrap().len();
    let mut views = Projector::open_partial(&dir).unwrap();
    assert_eq!(views.rows_read(), 0, "opening read rows");
    let (uscc, _) = whole.suppliers.iter().next().unwrap();
    let payload = json!({ "id": uscc }).to_string().into_bytes();
    let now = probity_ledger::now().unix_micros();
    let answer = views
        .settle(|p| query::answer(p, "supplier", &payload, now, Zone::default()))
        .unwrap();
    assert_eq!(
        answer,
        query::answer(&whole, "supplier", &payload, now, Zone::default())
    );
    assert!(answer.is_ok());
    assert!(
        views.rows_read() * 4 < stored_rows,
        "a supplier's answer read {} of {stored_rows} rows",
        views.rows_read()
    );
    // Asking again reads nothing more.
    let read = views.rows_read();
    views
        .settle(|p| query::answer(p, "supplier", &payload, now, Zone::default()))
        .unwrap()
        .unwrap();
    assert_eq!(views.rows_read(), read);
    views.close();
}

/// Views behind the book are caught up first (each new record verified), then held whole.
#[test]
fn views_behind_the_book_are_caught_up_before_answering() {
    let name = "demo-hospital";
    let data = data_dir(name);
    let ledger = open(data.path(), name);
    let dir = embedded::views_dir(data.path());
    let mut reports = 0;
    let views = embedded::open_current(&dir, &ledger, &mut |_, _| reports += 1).unwrap();
    assert!(!views.is_partial(), "new views are built whole");
    assert_eq!(views.applied(), ledger.size());
    assert!(reports > 0);
    views.close();
    let views = embedded::open_current(&dir, &ledger, &mut |_, _| reports += 1).unwrap();
    assert!(views.is_partial());
    views.close();
}

/// Views built whole from the first `k` records of `ledger`, in batches of 3 with frequent
/// snapshots, in `dir`.
fn views_of_first(dir: &Path, ledger: &probity_ledger::Ledger, k: usize) {
    let mut projector = embedded::open(dir, ledger).unwrap();
    projector.snapshot_every(5);
    let records: Vec<_> = ledger
        .book()
        .records(Seq(0), Seq(k as u64))
        .collect::<Result<_, _>>()
        .unwrap();
    for batch in records.chunks(3) {
        projector.apply(batch).unwrap();
    }
    projector.close();
}

fn state_hash(dir: &Path) -> probity_core::hash::Hash {
    let store = ViewStore::open(dir).unwrap();
    let hash = store.state_hash().unwrap();
    store.close();
    hash
}

/// Views a few records behind, caught up partially (reading only the rows the new records
/// touch) in one go or a record at a time, hold byte for byte the rows a whole rebuild holds,
/// and answer every query as the projection of all the records does.
#[test]
fn partial_catch_up_gives_the_views_of_a_whole_rebuild() {
    let now = probity_ledger::now().unix_micros();
    let zone = Zone::default();
    for name in scenarios() {
        let data = data_dir(&name);
        let ledger = open(data.path(), &name);
        let size = ledger.size() as usize;
        let whole_dir = data.path().join("whole");
        views_of_first(&whole_dir, &ledger, size);
        let rebuilt = state_hash(&whole_dir);
        let records: Vec<_> = ledger
            .book()
            .records(Seq(0), Seq(size as u64))
            .collect::<Result<_, _>>()
            .unwrap();
        for k in [1, size / 2, size - 1] {
            // One record at a time, each through a freshly opened partial projector.
            let dir = data.path().join(format!("one-by-one-{k}"));
            views_of_first(&dir, &ledger, k);
            for record in &records[k..] {
                let mut projector = Projector::open_partial(&dir).unwrap();
                projector.pin_log_key(ledger.verifier_key());
                projector.apply(std::slice::from_ref(record)).unwrap();
                projector.close();
            }
            assert_eq!(state_hash(&dir), rebuilt, "{name}: one by one from {k}");

            // All at once, as a query finds them.
            let dir = data.path().join(format!("at-once-{k}"));
            views_of_first(&dir, &ledger, k);
            let mut views = embedded::open_current(&dir, &ledger, &mut |_, _| {}).unwrap();
            assert!(views.is_partial());
            assert_eq!(views.applied(), size as u64);
            if k == size / 2 {
                let whole = pure(&ledger);
                for (kind, body) in queries(&whole, &instants(&ledger)) {
                    let payload = body.to_string().into_bytes();
                    let got = views
                        .settle(|p| query::answer(p, kind, &payload, now, zone))
                        .unwrap();
                    assert_eq!(
                        got,
                        query::answer(&whole, kind, &payload, now, zone),
                        "{name}: {kind} {body} after catching up from {k}"
                    );
                }
            }
            views.close();
            assert_eq!(state_hash(&dir), rebuilt, "{name}: at once from {k}");
        }
    }
}
