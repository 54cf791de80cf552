//! Replay to arbitrary moments of a large ledger: the time from opening a data directory whose
//! views are up to date to the answer (blacklist, findings, the latest 20 events), for moments
//! picked at random in each sense (record, known at, true at), over a book of `RECORDS` records
//! (default 1,000,000): purchase requests on cases of 10 steps each and a sanction every 1,000
//! records, each recorded as it happens (`occurred_at` a minute before it is appended). Also reports the time to build the views and their
//! snapshots from zero, and, in the same run, the raw cost of the same number of records
//! projected from zero with no snapshot (the work a replay without snapshots would do).
//!
//! `cargo bench -p probity-views --bench replay` (env `RECORDS`, `MOMENTS`, default 30).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use probity_core::ids::Seq;
use probity_ledger::AppendRequest;
use probity_projector::time::Micros;
use probity_testkit::{request_payload, sanction_payload, Hospital};
use probity_views::embedded;
use probity_views::replay::{Moment, Replayer};

// As in the replay binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MINUTE: Micros = 60_000_000;

/// A minute ago: events are recorded as they happen.
fn just_now() -> String {
    let now = probity_ledger::now().unix_micros();
    probity_core::time::RecordedAt::from_unix_micros(now - MINUTE).to_string()
}

/// A small deterministic generator (xorshift), so runs pick the same moments.
struct Pick(u64);

impl Pick {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, moments) = (env("RECORDS", 1_000_000), env("MOMENTS", 30));
    let dir = tempfile::tempdir().unwrap();
    let h = Hospital::default();
    let ledger = h.create_ledger(&dir.path().join("book"));
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..8 {
            let (ledger, h) = (&ledger, &h);
            scope.spawn(move || {
                for i in (w..n).step_by(8) {
                    let event = if i % 1000 == 999 {
                        h.event(
                            &format!("s-{i}"),
                            "supplier.sanction_imposed",
                            &h.discipline,
                            &just_now(),
                            sanction_payload(&format!("s-{i}")),
                        )
                    } else {
                        h.event(
                            &format!("r-{i}"),
                            "purchase.requested",
                            &h.clerk,
                            &just_now(),
                            request_payload(&format!("CASE-{}", i / 10)),
                        )
                    };
                    ledger.append(AppendRequest::new(event)).unwrap();
                }
            });
        }
    });
    let size = ledger.size();
    println!(
        "book: {size} records appended in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let views = dir.path().join("views");
    let start = Instant::now();
    embedded::current_store(&views, &ledger).unwrap().close();
    let build = start.elapsed().as_secs_f64();

    // The raw cost a replay without snapshots pays: project every record up to the moment.
    let start = Instant::now();
    let mut plain = probity_projector::Projection::new();
    let upto = size.min(100_000);
    for record in ledger.book().records_parallel(Seq(0), Seq(upto)).unwrap() {
        let body = probity_core::envelope::EventBody::parse(record.event.body_bytes()).unwrap();
        let event = probity_events::validate_body(&body).unwrap();
        plain.apply(probity_projector::Applied {
            seq: record.seq,
            recorded_at: record.recorded_at,
            body: &body,
            event: &event,
        });
    }
    let plain_rate = upto as f64 / start.elapsed().as_secs_f64();

    let times = {
        let store = embedded::current_store(&views, &ledger).unwrap();
        let times = store.times(0, size).unwrap();
        store.close();
        times
    };
    let mut pick = Pick(0x9e37_79b9_7f4a_7c15);
    let mut results: Vec<(String, f64, u64, u64)> = Vec::new();
    for i in 0..moments {
        let at = times[pick.below(size) as usize];
        let moment = match i % 3 {
            0 => Moment::Records(pick.below(size) + 1),
            1 => Moment::KnownAt(at.recorded_at),
            _ => Moment::TrueAt(at.occurred_at),
        };
        let start = Instant::now();
        let store = embedded::current_store(&views, &ledger).unwrap();
        let replayer = Replayer::new(&store, ledger.book()).unwrap();
        let replayed = replayer.replay(moment).unwrap();
        let answer = (
            replayed.blacklist().len(),
            replayed.findings().len(),
            replayer.tail(&replayed, 20).unwrap().len(),
        );
        let elapsed = start.elapsed().as_secs_f64();
        std::hint::black_box(answer);
        results.push((
            format!("{moment:?}"),
            elapsed,
            replayed.records,
            replayed.applied,
        ));
        store.close();
    }
    let mut secs: Vec<f64> = results.iter().map(|r| r.1).collect();
    secs.sort_by(f64::total_cmp);
    let quantile = |q: f64| secs[((secs.len() - 1) as f64 * q).round() as usize];
    let applied_max = results.iter().map(|r| r.3).max().unwrap_or(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!();
    println!("| measurement ({size} records, {threads} threads) | value |");
    println!("|---|---:|");
    println!(
        "| views + snapshots built from zero (verify, project, commit) | {build:.1} s ({:.0} rec/s) |",
        size as f64 / build
    );
    println!(
        "| raw: parsing and projecting from zero (no snapshot, no verification), 1 thread | {plain_rate:.0} rec/s ({:.1} s for the whole book) |",
        size as f64 / plain_rate
    );
    println!(
        "| replay to a random moment ({moments} moments, all three senses): median | {:.3} s |",
        quantile(0.5)
    );
    println!("| … p90 | {:.3} s |", quantile(0.9));
    println!("| … max | {:.3} s |", quantile(1.0));
    println!("| records applied after the snapshot, at most | {applied_max} |");
    if std::env::var_os("VERBOSE").is_some() {
        for (moment, s, records, applied) in &results {
            println!("{moment}: {s:.3} s, {records} records, {applied} applied after the snapshot");
        }
    }
    ledger.close();
}
