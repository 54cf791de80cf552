//! Rebuild rate: views built from zero out of a book on disk (every record verified, applied
//! and committed to sled), next to the raw limits measured in the same run over the same
//! records: the hash chain and Merkle tree alone (what a checkpoint-covered record costs at
//! least) and the full chain verifier (hash, link, strict signature, authorisation, all cores).
//!
//! `cargo bench -p probity-views --bench rebuild` (env `RECORDS`, default 20000). Prints a
//! Markdown table for `BENCHMARKS.md`: rebuilds in this process (warm: its memory is already
//! mapped from the rounds before) and rebuilds each in a fresh process, as `probity` or
//! `projectord` rebuilding views after a restart would run. `REBUILD_ONLY=1` rebuilds
//! `ROUNDS` (default 5) times in this process and skips the rest, for profiling the rebuild
//! alone; it also prints the CPU time (all threads) each record cost. Each fresh process also
//! reports its peak resident memory.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

// As in the binaries that rebuild views (projectord, probity): see their main.rs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use probity_core::ids::Seq;
use probity_core::verify::ChainVerifier;
use probity_ledger::AppendRequest;
use probity_testkit::Hospital;
use probity_views::embedded;

fn main() {
    // As the binaries that rebuild views do (see `without_huge_pages`).
    probity_ledger::without_huge_pages();
    if let Some(book) = std::env::var_os(COLD_BOOK) {
        cold_rebuild(book.as_ref());
        return;
    }
    let n: usize = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let h = Hospital::default();
    // `BOOK_ONLY=DIR`: fill a book at DIR/book and stop, to rebuild from it again and again in
    // fresh processes (`PROBITY_BENCH_COLD_BOOK=DIR/book PROBITY_BENCH_COLD_VIEWS=DIR/views-N`
    // and this bench's binary with `--bench`), e.g. under a memory profiler. With the ledger's
    // key beside it, DIR is a data directory: `probity status --data DIR` opens it.
    let book_only = std::env::var_os("BOOK_ONLY").map(std::path::PathBuf::from);
    if let Some(data) = &book_only {
        std::fs::create_dir_all(data).unwrap();
        probity_ledger::keyfile::write_key(
            &probity_ledger::datadir::ledger_key_path(data),
            &h.ledger_key,
            false,
        )
        .unwrap();
    }
    let ledger = h.create_ledger(&book_only.as_deref().unwrap_or(dir.path()).join("book"));
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
    if book_only.is_some() {
        println!("{size} records");
        ledger.close();
        return;
    }
    let records: Vec<_> = ledger
        .book()
        .records(Seq(0), Seq(size))
        .collect::<Result<_, _>>()
        .unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    // One rebuild into fresh views; its rate and the CPU time it took per record.
    let rebuild_round = |round: usize| {
        let views = dir.path().join(format!("views-{round}"));
        rebuild(&views, &ledger)
    };
    if std::env::var_os("REBUILD_ONLY").is_some() {
        // For profiling the rebuild alone. CPU time as well as the rate: it varies less with
        // this VM's neighbours than the wall clock does, so it tells a change's effect sooner.
        let rounds = std::env::var("ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        for round in 0..rounds {
            let (rate, cpu) = rebuild_round(round);
            println!("rebuild: {rate:.0} rec/s, {cpu:.1} µs CPU/record");
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
    // The raw limit of verifying each record: its checkpoints are not given, so its records
    // are not anchored, which is not what this measures.
    verifier.allow_unanchored(true);
    for chunk in records.chunks(8192) {
        verifier.push_batch(chunk);
    }
    assert!(verifier.finish().is_intact());
    let raw = size as f64 / start.elapsed().as_secs_f64();

    // Five rebuilds into fresh views in this process; the best and the median (this VM's disk
    // and CPU vary from minute to minute).
    let mut rounds: Vec<f64> = (0..5).map(|round| rebuild_round(round).0).collect();
    rounds.sort_by(f64::total_cmp);
    let (rebuild, median) = (rounds[4], rounds[2]);
    // Five rebuilds each in a fresh process (the book closed here so that they can open it).
    let book = dir.path().join("book");
    ledger.close();
    drop(ledger);
    let mut peak_mb = 0u64;
    let mut cold: Vec<f64> = (0..5)
        .map(|round| {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .arg("--bench")
                .env(COLD_BOOK, &book)
                .env(COLD_VIEWS, dir.path().join(format!("cold-{round}")))
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            let text = String::from_utf8(output.stdout).unwrap();
            eprintln!("fresh process: {}", text.trim());
            let peak: u64 = text
                .rsplit("peak RSS ")
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap();
            peak_mb = peak_mb.max(peak);
            text.split_whitespace()
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        })
        .collect();
    cold.sort_by(f64::total_cmp);

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
    println!(
        "| projectord rebuild in a fresh process, best of 5 | {:.0} | {:.2} |",
        cold[4],
        cold[4] / hashing
    );
    println!(
        "| projectord rebuild in a fresh process, median of 5 | {:.0} | {:.2} |",
        cold[2],
        cold[2] / hashing
    );
    println!("\npeak RSS of a rebuild in a fresh process (the largest of 5): {peak_mb} MB");
}

/// Where a child process finds the book to rebuild from, and where it puts the views.
const COLD_BOOK: &str = "PROBITY_BENCH_COLD_BOOK";
const COLD_VIEWS: &str = "PROBITY_BENCH_COLD_VIEWS";

/// The child: one rebuild from the book, its rate on stdout.
fn cold_rebuild(book: &std::path::Path) {
    let views = std::env::var_os(COLD_VIEWS).unwrap();
    let ledger = probity_ledger::Ledger::open_read_only(book).unwrap();
    let (rate, cpu) = rebuild(views.as_ref(), &ledger);
    println!(
        "{rate:.0} rec/s, {cpu:.1} µs CPU/record, peak RSS {} MB",
        peak_rss_kib() / 1024
    );
    ledger.close();
}

/// Rebuilds the views of `ledger` into `views` (new), checking the ledger's own checkpoints:
/// records/s and CPU µs (all threads) per record.
fn rebuild(views: &std::path::Path, ledger: &probity_ledger::Ledger) -> (f64, f64) {
    let start = Instant::now();
    let cpu = process_cpu_seconds();
    let mut projector = embedded::open(views, ledger).unwrap();
    embedded::catch_up(&mut projector, ledger).unwrap();
    let size = ledger.size();
    let rate = size as f64 / start.elapsed().as_secs_f64();
    let cpu = (process_cpu_seconds() - cpu) * 1e6 / size as f64;
    assert_eq!(projector.applied(), size);
    projector.close();
    (rate, cpu)
}

/// The most memory this process has held resident (`VmHWM` of `/proc/self/status`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
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
