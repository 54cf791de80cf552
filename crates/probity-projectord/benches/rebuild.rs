//! Rebuild rate: views built from zero out of a book on disk (every record verified, applied
//! and committed to sled), next to the raw limits measured in the same run over the same
//! records: the hash chain and Merkle tree alone (what a checkpoint-covered record costs at
//! least) and the full chain verifier (hash, link, strict signature, authorisation, all cores).
//!
//! `cargo bench -p probity-projectord --bench rebuild` (env `RECORDS`, default 20000). Prints a
//! Markdown table for `BENCHMARKS.md`. `REBUILD_ONLY=1` rebuilds five times and skips the raw
//! measurement, for profiling the rebuild alone; it also prints the CPU time (all threads)
//! each record cost.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

// As in the binaries that rebuild views (projectord, probity): see their main.rs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use probity_core::ids::Seq;
use probity_core::verify::ChainVerifier;
use probity_ledger::AppendRequest;
use probity_projectord::embedded;
use probity_testkit::Hospital;

fn main() {
    let n: usize = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let h = Hospital::default();
    let ledger = h.create_ledger(&dir.path().join("book"));
    // Fill the book with 8 writers so group commit keeps it quick.
    std::thread::scope(|scope| {
        for w in 0..8 {
            let (ledger, h) = (&ledger, &h);
            scope.spawn(move || {
                for i in (w..n).step_by(8) {
                    let event = if i % 20 == 19 {
                        h.sanction(&format!("s-{i}"), &h.discipline)
                    } else {
                        h.request(&format!("r-{i}"), &format!("CASE-{}", i % 2000), &h.clerk)
                    };
                    ledger.append(AppendRequest::new(event)).unwrap();
                }
            });
        }
    });
    let size = ledger.size();
    let records: Vec<_> = ledger
        .book()
        .records(Seq(0), Seq(size))
        .collect::<Result<_, _>>()
        .unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    // One rebuild into fresh views; its rate.
    let rebuild_round = |round: usize| {
        let start = Instant::now();
        let views = dir.path().join(format!("views-{round}"));
        let mut projector = embedded::open(&views, &ledger).unwrap();
        embedded::catch_up(&mut projector, &ledger).unwrap();
        let rate = size as f64 / start.elapsed().as_secs_f64();
        assert_eq!(projector.applied(), size);
        projector.close();
        rate
    };
    if std::env::var_os("REBUILD_ONLY").is_some() {
        // For profiling the rebuild alone.
        // CPU time as well as the rate: it varies less with this VM's neighbours than the
        // wall clock does, so it tells a change's effect sooner.
        eprintln!("{}", std::fs::read_to_string("/proc/self/status").unwrap().lines().filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS")).collect::<Vec<_>>().join(" "));
        for round in 0..5 {
            let before = process_cpu_seconds();
            let rate = rebuild_round(round);
            let cpu = process_cpu_seconds() - before;
            println!(
                "rebuild: {rate:.0} rec/s, {:.1} µs CPU/record {}",
                cpu * 1e6 / size as f64,
                std::fs::read_to_string("/proc/self/status").unwrap().lines().filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS")).collect::<Vec<_>>().join(" ")
            );
        }
        return;
    }
    let start = Instant::now();
    let mut frontier = probity_core::merkle::Frontier::new();
    for record in &records {
        frontier.push(record.compute_hash());
    }
    assert_eq!(frontier.size(), size);
    let hashing = size as f64 / start.elapsed().as_secs_f64();

    let matrix = probity_events::role_matrix();
    let start = Instant::now();
    let mut verifier = ChainVerifier::new(&matrix);
    for chunk in records.chunks(8192) {
        verifier.push_batch(chunk);
    }
    assert!(verifier.finish().is_intact());
    let raw = size as f64 / start.elapsed().as_secs_f64();

    // Five rebuilds into fresh views; the best and the median (this VM's disk and CPU vary
    // from minute to minute, and the first round reads a cold book).
    let mut rounds: Vec<f64> = (0..5).map(rebuild_round).collect();
    rounds.sort_by(f64::total_cmp);
    let (rebuild, median) = (rounds[4], rounds[2]);

    println!("| measurement ({size} records, {threads} threads) | records/s | ratio to hashing |");
    println!("|---|---:|---:|");
    println!("| raw: record hashes + Merkle tree only, 1 thread | {hashing:.0} | 1.00 |");
    println!(
        "| raw: chain verifier alone (hash, link, strict Ed25519, role), all cores | {raw:.0} | {:.2} |",
        raw / hashing
    );
    println!(
        "| projectord rebuild from the book (read, verify, project, commit to sled), best of 5 | {rebuild:.0} | {:.2} |",
        rebuild / hashing
    );
    println!(
        "| projectord rebuild, median of 5 | {median:.0} | {:.2} |",
        median / hashing
    );
    ledger.close();
}

/// CPU time (user and system, all threads) this process has used so far, from
/// `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit(')').next().unwrap();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}
