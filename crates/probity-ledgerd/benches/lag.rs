//! Projection lag: from the moment a clerk holds ledgerd's receipt to the moment projectord
//! has verified the record and committed the updated views (blacklist included), at a steady
//! 1,000 events/s offered; next to the raw limit measured in the same run — JetStream's own
//! publish-to-delivery latency to an ordered consumer at the same rate.
//!
//! `cargo bench -p probity-ledgerd --bench lag` (env `RATE`, default 1000 events/s; `SECS`,
//! default 10). ledgerd runs as a process; projectord's follower runs in this process so the
//! commit instant is observed exactly (its `applied` watch fires after the durable commit).
//! Needs `nats-server` on the PATH. Prints Markdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use probity_ledger::wire::Reply;
use probity_projectord::follow::{FollowConfig, Follower};
use probity_testkit::ledgerd::{append, connect, wait_ready, DataDir, Ledgerd};
use probity_testkit::nats::NatsServer;
use probity_testkit::LEDGER;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn ticker(rate: u64) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    ticker
}

/// JetStream alone: a paced publisher and an ordered consumer on one stream.
async fn raw_jetstream_latency(url: &str, rate: u64, n: usize) -> Vec<Duration> {
    let js = jetstream::new(connect(url).await);
    let stream = js
        .get_or_create_stream(stream::Config {
            name: "RAW_LAG".into(),
            subjects: vec!["raw.lag".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let sent: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let receiving = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(n);
            while latencies.len() < n {
                let message = messages.next().await.unwrap().unwrap();
                let i: usize = std::str::from_utf8(&message.payload)
                    .unwrap()
                    .parse()
                    .unwrap();
                latencies.push(sent.lock().unwrap()[i].elapsed());
            }
            latencies
        })
    };
    let mut ticker = ticker(rate);
    for i in 0..n {
        ticker.tick().await;
        sent.lock().unwrap().push(Instant::now());
        js.publish("raw.lag", i.to_string().into()).await.unwrap();
    }
    let mut latencies = receiving.await.unwrap();
    latencies.sort_unstable();
    latencies
}

fn main() {
    let rate = env("RATE", 1000);
    let n = (rate * env("SECS", 10)) as usize;
    let data = DataDir::init();
    let h = data.hospital.clone();
    let events: Vec<_> = (0..n)
        .map(|i| {
            if i % 10 == 9 {
                h.sanction(&format!("s-{i}"), &h.discipline)
            } else {
                h.request(&format!("r-{i}"), &format!("CASE-{}", i % 500), &h.clerk)
            }
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let nats = NatsServer::start();
    let raw = runtime.block_on(raw_jetstream_latency(&nats.url(), rate, n));

    let mut ledgerd = Ledgerd::spawn(env!("CARGO_BIN_EXE_ledgerd"), data.path(), &nats.url(), &[]);
    let (lags, size) = runtime.block_on(async {
        let client = connect(&nats.url()).await;
        wait_ready(&client, &ledgerd).await;
        let views = data.path().join("views");
        let follower = Follower::start(client.clone(), FollowConfig::new(LEDGER, views))
            .await
            .unwrap();
        let shared = follower.shared().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let following = tokio::spawn(follower.run(async {
            let _ = stopped.await;
        }));
        // Every commit: how many records the views hold, and when.
        let mut applied = shared.applied();
        let commits: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
        let watching = {
            let commits = commits.clone();
            tokio::spawn(async move {
                while applied.changed().await.is_ok() {
                    let value = *applied.borrow_and_update();
                    commits.lock().unwrap().push((value, Instant::now()));
                }
            })
        };
        let mut ticker = ticker(rate);
        let mut acks = Vec::with_capacity(n);
        for event in events {
            ticker.tick().await;
            let client = client.clone();
            acks.push(tokio::spawn(async move {
                match append(&client, event).await.unwrap() {
                    Reply::Ok(receipt) => (receipt.seq.0, Instant::now()),
                    Reply::Error(e) => panic!("{e:?}"),
                }
            }));
        }
        let mut acked = Vec::with_capacity(n);
        for ack in acks {
            acked.push(ack.await.unwrap());
        }
        let size = acked.iter().map(|(seq, _)| seq + 1).max().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while *shared.applied().borrow() < size {
            assert!(Instant::now() < deadline, "projectord did not catch up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = shared.status(false).unwrap();
        assert!(status.halted.is_none(), "{status:?}");
        let _ = stop.send(());
        following.await.unwrap().unwrap();
        watching.abort();
        let commits = commits.lock().unwrap().clone();
        // A record's views are updated at the first commit that covers it; a commit before
        // the receipt reached the clerk counts as no lag.
        let mut lags: Vec<Duration> = acked
            .iter()
            .map(|&(seq, acked_at)| {
                let i = commits.partition_point(|&(applied, _)| applied <= seq);
                commits[i].1.saturating_duration_since(acked_at)
            })
            .collect();
        lags.sort_unstable();
        (lags, size)
    });
    assert_eq!(ledgerd.terminate(), Some(0));

    println!("{n} events at {rate}/s offered (1 in 10 a sanction, so the blacklist changes); book size {size}");
    println!();
    println!("| measurement | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|");
    println!(
        "| raw: JetStream publish → ordered consumer delivery, {rate}/s | {} | {} | {} |",
        ms(percentile(&raw, 0.5)),
        ms(percentile(&raw, 0.99)),
        ms(*raw.last().unwrap())
    );
    println!(
        "| **receipt at the clerk → views (blacklist) verified and committed** | {} | **{}** | {} |",
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.99)),
        ms(*lags.last().unwrap())
    );
}
