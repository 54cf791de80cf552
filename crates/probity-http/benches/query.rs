//! Query latency of `probity serve` on an up-to-date data directory of `RECORDS` records
//! (default 100,000), one client, each query asked `ASKS` times (default 300), over HTTP on
//! loopback; next to the time and peak memory of opening it (the views built from the book,
//! every record verified). Prints Markdown for `BENCHMARKS.md`.
//!
//! `RECORDS=1000000 cargo bench -p probity-http --bench query`

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use probity_ledger::{keyfile, AppendRequest};
use probity_testkit::{request_payload, Hospital};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A valid USCC for supplier number `n`: a fixed prefix, `n`, and the check character.
fn uscc(n: usize) -> String {
    let prefix = format!("91330100MA2H{n:05}");
    "0123456789ABCDEFGHJKLMNPQRTUWXY"
        .chars()
        .map(|c| format!("{prefix}{c}"))
        .find(|code| probity_events::types::Uscc::new(code).is_ok())
        .unwrap()
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    probity_ledger::without_huge_pages();
    let n = env("RECORDS", 100_000);
    let asks = env("ASKS", 300);
    let dir = tempfile::tempdir().unwrap();
    let h = Hospital::default();
    keyfile::write_key(&dir.path().join("ledger.key"), &h.ledger_key, false).unwrap();
    let ledger = h.create_ledger(&dir.path().join("book"));
    // 2,000 cases; one record in 500 blacklists one of 200 suppliers.
    let suppliers: Vec<String> = (0..200).map(uscc).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..8 {
            let (ledger, h, suppliers) = (&ledger, &h, &suppliers);
            scope.spawn(move || {
                let mut pending = Vec::new();
                for i in (w..n).step_by(8) {
                    let event = if i % 500 == 499 {
                        let mut payload = probity_testkit::sanction_payload(&format!("s-{i}"));
                        payload["uscc"] = suppliers[(i / 500) % suppliers.len()].clone().into();
                        h.event(
                            &format!("s-{i}"),
                            "supplier.sanction_imposed",
                            &h.discipline,
                            "2026-01-02T10:00:00+08:00",
                            payload,
                        )
                    } else {
                        h.event(
                            &format!("r-{i}"),
                            "purchase.requested",
                            &h.clerk,
                            "2026-01-02T09:00:00+08:00",
                            request_payload(&format!("CASE-{}", i % 2000)),
                        )
                    };
                    pending.push(AppendRequest::new(event));
                    if pending.len() == 256 {
                        for r in ledger.append_batch(std::mem::take(&mut pending)) {
                            r.unwrap();
                        }
                    }
                }
                for r in ledger.append_batch(pending) {
                    r.unwrap();
                }
            });
        }
    });
    let size = ledger.size();
    ledger.close();
    drop(ledger);
    eprintln!(
        "book: {size} records in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let config = probity_http::AppConfig {
        offset: time::UtcOffset::from_hms(8, 0, 0).unwrap(),
        tokens: None,
    };
    let opened = Instant::now();
    let app = Arc::new(probity_http::App::open(dir.path(), config.clone()).unwrap());
    let first_open = opened.elapsed();
    let rss_after_build = peak_rss_mib();
    drop(app);
    // Open again: the views are up to date, as on every later start.
    let reopened = Instant::now();
    let app = Arc::new(probity_http::App::open(dir.path(), config).unwrap());
    let warm_open = reopened.elapsed();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (base, server) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(probity_http::serve(listener, app, async {
            let _ = stopped.await;
        }));
        (base, server)
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let queries = [
        ("status", "/api/status".to_owned()),
        ("blacklist (now)", "/api/blacklist".to_owned()),
        (
            "blacklist known at a past moment",
            "/api/blacklist?at=2026-06-01T00:00:00%2B08:00&known_at=2026-01-01T00:00:00%2B08:00"
                .to_owned(),
        ),
        ("supplier", format!("/api/suppliers/{}", suppliers[7])),
        (
            "case (timeline of ~{} records)",
            "/api/cases/CASE-7".to_owned(),
        ),
        (
            "inclusion proof",
            format!("/api/proof/inclusion?seq={}", size / 2),
        ),
        ("policy", "/api/policy".to_owned()),
    ];
    println!("records: {size}; first open (views built, every record verified): {:.1} s, peak RSS {rss_after_build} MiB; open when up to date: {:.2} s; peak RSS at the end: see below", first_open.as_secs_f64(), warm_open.as_secs_f64());
    println!();
    // The first ask of each query is shown apart: views opened partial read the rows it needs
    // then (and keep them).
    println!("| query | answer bytes | first ask ms | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, path) in &queries {
        let name = name.replace("~{}", &format!("~{}", size / 2000));
        let mut latencies = Vec::with_capacity(asks);
        let mut bytes = 0;
        for _ in 0..asks {
            let t = Instant::now();
            let mut response = agent.get(format!("{base}{path}")).call().unwrap();
            let body = response.body_mut().read_to_string().unwrap();
            latencies.push(t.elapsed());
            assert_eq!(response.status(), 200, "{path}: {body}");
            bytes = body.len();
        }
        let first = latencies[0];
        latencies.sort_unstable();
        println!(
            "| {name} | {bytes} | {:.2} | {:.2} | {:.2} |",
            first.as_secs_f64() * 1000.0,
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0
        );
    }
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
    println!();
    println!("peak RSS of the process: {} MiB", peak_rss_mib());
}
