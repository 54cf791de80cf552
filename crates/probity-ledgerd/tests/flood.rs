//! A clerk floods the intake with valid 256-event batches, as fast as NATS takes them, from
//! several connections at once: ledgerd's memory stays bounded (peak RSS under the bound
//! ARCHITECTURE.md states) and a canary's single appends keep getting a receipt or a prompt
//! `busy`, never silence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt as _;
use probity_ledger::wire::{self, Reply};
use probity_testkit::nats::NatsServer;
use probity_testkit::LEDGER;

/// The bound ARCHITECTURE.md states for ledgerd's resident memory under any load a user can
/// generate.
const RSS_BOUND_MB: u64 = 512;

/// Peak resident memory of process `pid`, in MB (VmHWM).
fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_batches_leaves_memory_bounded_and_the_canary_answered() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let ledgerd = spawn_ledgerd(data.path(), &nats.url(), &[]);
    let probe = connect(&nats.url()).await;
    wait_ready(&probe, &ledgerd).await;
    let h = data.hospital.clone();

    // 32 valid batches of 256 events, signed once and sent again and again.
    let batches: Vec<bytes::Bytes> = (0..32)
        .map(|b| {
            let events = (0..wire::MAX_BATCH_EVENTS)
                .map(|i| wire::AppendMessage {
                    event: h.request(&format!("flood-{b}-{i}"), &format!("CASE-{b}"), &h.clerk),
                    expect: Default::default(),
                })
                .collect();
            serde_json::to_vec(&wire::AppendBatchMessage { events })
                .unwrap()
                .into()
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for _ in 0..4 {
        let (url, batches, stop) = (nats.url(), batches.clone(), stop.clone());
        flooders.push(tokio::spawn(async move {
            let client = connect(&url).await;
            // Replies are read and thrown away, so the flood is the clerk's, not a slow reader.
            let inbox = client.new_inbox();
            let mut replies = client.subscribe(inbox.clone()).await.unwrap();
            tokio::spawn(async move { while replies.next().await.is_some() {} });
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for batch in &batches {
                    let subject = wire::append_batch_subject(LEDGER);
                    if client
                        .publish_with_reply(subject, inbox.clone(), batch.clone())
                        .await
                        .is_err()
                    {
                        return sent;
                    }
                    sent += 1;
                }
                let _ = client.flush().await;
            }
            sent
        }));
    }

    // The canary: one append every 100 ms for 8 s, each answered within 3 s.
    let canary = connect(&nats.url()).await;
    let (mut ok, mut busy, mut slowest) = (0, 0, Duration::ZERO);
    let until = Instant::now() + Duration::from_secs(8);
    let mut i = 0;
    while Instant::now() < until {
        let asked = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(3),
            append(
                &canary,
                h.request(&format!("canary-{i}"), "CASE-C", &h.clerk),
            ),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "canary {i} got no answer within 3 s:\n{}",
                ledgerd.log_text()
            )
        })
        .unwrap();
        slowest = slowest.max(asked.elapsed());
        match answer {
            Reply::Ok(_) => ok += 1,
            Reply::Error(e) if e.code == "busy" => busy += 1,
            Reply::Error(e) => panic!("canary {i}: {e:?}"),
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for flooder in flooders {
        sent += flooder.await.unwrap();
    }
    let peak = peak_rss_mb(ledgerd.pid());
    eprintln!(
        "flood: {sent} batch requests of 256 events sent; canary: {ok} receipts, {busy} busy, slowest {slowest:?}; ledgerd peak RSS {peak} MB (bound {RSS_BOUND_MB} MB)"
    );
    assert!(ok > 0, "the canary got no receipt at all");
    assert!(peak < RSS_BOUND_MB, "ledgerd peak RSS {peak} MB");
    // Still serving afterwards.
    assert!(status(&probe).await.is_ok());
}
