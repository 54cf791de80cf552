//! Load benchmark of ledgerd through NATS, next to this machine's raw limits measured in the
//! same run: strict Ed25519 verification on all cores, sled insert+flush, JetStream publish.
//!
//! `cargo bench -p probity-ledgerd --bench append` (env `EVENTS`, default 20000; `CLIENTS`,
//! default 64; `BATCH`, events per batch request, default 64; `BATCH_CLIENTS`, default 8;
//! `RATE_SECS`, default 5). Needs `nats-server` on the PATH. Prints Markdown. The batches are
//! also sent to `probity serve`'s HTTP API on the same book, in the same run: with the views it
//! builds at open, then restarted on those views (opened partial).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage, stream};
use probity_core::prelude::*;
use probity_ledger::wire::Reply;
use probity_testkit::ledgerd::{append, append_batch, connect, wait_ready, DataDir, Ledgerd};
use probity_testkit::nats::NatsServer;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn raw_verify(events: &[SignedEvent], threads: usize) -> f64 {
    let items: Vec<(PublicKey, Vec<u8>, Signature)> = events
        .iter()
        .map(|e| {
            let body = EventBody::parse(e.body_bytes()).unwrap();
            (
                body.signer,
                probity_core::envelope::pae(probity_core::envelope::PAYLOAD_TYPE, e.body_bytes()),
                *e.signature(),
            )
        })
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for part in items.chunks(items.len().div_ceil(threads)) {
            s.spawn(move || {
                part.iter()
                    .for_each(|(k, m, sig)| k.verify(m, sig).unwrap())
            });
        }
    });
    items.len() as f64 / start.elapsed().as_secs_f64()
}

fn raw_sled(value_len: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .flush_every_ms(None)
        .open()
        .unwrap();
    let value = vec![7u8; value_len];
    let n = 1000u64;
    let start = Instant::now();
    for i in 0..n {
        db.insert(i.to_be_bytes(), &value[..]).unwrap();
        db.flush().unwrap();
    }
    let each = n as f64 / start.elapsed().as_secs_f64();
    let batches = 100u64;
    let per = 256u64;
    let start = Instant::now();
    for b in 0..batches {
        let mut batch = sled::Batch::default();
        for i in 0..per {
            batch.insert(&(n + b * per + i).to_be_bytes()[..], &value[..]);
        }
        db.apply_batch(batch).unwrap();
        db.flush().unwrap();
    }
    let grouped = (batches * per) as f64 / start.elapsed().as_secs_f64();
    (each, grouped)
}

async fn raw_jetstream(url: &str, n: usize, len: usize) -> f64 {
    let client = connect(url).await;
    let js = jetstream::new(client);
    js.get_or_create_stream(stream::Config {
        name: "RAW_BENCH".into(),
        subjects: vec!["raw.bench".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; len]);
    let start = Instant::now();
    let mut acks = Vec::with_capacity(256);
    for i in 0..n {
        let publish = PublishMessage::build()
            .payload(payload.clone())
            .message_id(format!("m{i}"));
        acks.push(js.send_publish("raw.bench", publish).await.unwrap());
        if acks.len() == 256 {
            for ack in acks.drain(..) {
                ack.await.unwrap();
            }
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn run_clients(url: &str, events: Vec<SignedEvent>, clients: usize) -> (f64, Vec<Duration>) {
    let per = events.len().div_ceil(clients);
    let mut tasks = Vec::new();
    let start = Instant::now();
    for part in events.chunks(per) {
        let part = part.to_vec();
        let client = connect(url).await;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(part.len());
            for event in part {
                let t = Instant::now();
                match append(&client, event).await.unwrap() {
                    Reply::Ok(_) => latencies.push(t.elapsed()),
                    Reply::Error(e) => panic!("{e:?}"),
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    (rate, latencies)
}

/// `clients` clients each sending batches of `batch` events and waiting for each reply;
/// the latency is a batch's.
async fn run_batched(
    url: &str,
    events: Vec<SignedEvent>,
    clients: usize,
    batch: usize,
) -> (f64, Vec<Duration>) {
    let per = events.len().div_ceil(clients);
    let mut tasks = Vec::new();
    let start = Instant::now();
    for part in events.chunks(per) {
        let part = part.to_vec();
        let client = connect(url).await;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for chunk in part.chunks(batch) {
                let t = Instant::now();
                match append_batch(&client, chunk.to_vec()).await.unwrap() {
                    Reply::Ok(replies) => {
                        assert_eq!(replies.len(), chunk.len());
                        for reply in replies {
                            if let Reply::Error(e) = reply {
                                panic!("{e:?}");
                            }
                        }
                        latencies.push(t.elapsed());
                    }
                    Reply::Error(e) => panic!("{e:?}"),
                }
            }
            (part.len(), latencies)
        }));
    }
    let mut latencies = Vec::new();
    let mut appended = 0;
    for task in tasks {
        let (count, batch_latencies) = task.await.unwrap();
        appended += count;
        latencies.extend(batch_latencies);
    }
    let rate = appended as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    (rate, latencies)
}

async fn run_paced(url: &str, events: Vec<SignedEvent>, per_second: u64) -> Vec<Duration> {
    let client = connect(url).await;
    let interval = Duration::from_nanos(1_000_000_000 / per_second);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(events.len());
    for event in events {
        ticker.tick().await;
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            match append(&client, event).await.unwrap() {
                Reply::Ok(_) => t.elapsed(),
                Reply::Error(e) => panic!("{e:?}"),
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.push(task.await.unwrap());
    }
    latencies.sort_unstable();
    latencies
}

/// The same batches as [`run_batched`], posted to `probity serve`'s `/api/events/batch` by
/// `clients` threads over HTTP/1.1 keep-alive connections.
fn run_http_batched(
    base: &str,
    events: Vec<SignedEvent>,
    clients: usize,
    batch: usize,
) -> (f64, Vec<Duration>) {
    let per = events.len().div_ceil(clients);
    let start = Instant::now();
    let results: Vec<(usize, Vec<Duration>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = events
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let mut latencies = Vec::new();
                    for chunk in part.chunks(batch) {
                        let body = serde_json::json!({
                            "events": chunk.iter().map(|e| serde_json::json!({"event": e})).collect::<Vec<_>>()
                        })
                        .to_string();
                        let t = Instant::now();
                        let mut response = agent
                            .post(format!("{base}/api/events/batch"))
                            .header("content-type", "application/json")
                            .send(body.as_bytes())
                            .unwrap();
                        let text = response.body_mut().read_to_string().unwrap();
                        let replies: Reply<Vec<Reply<serde_json::Value>>> =
                            serde_json::from_str(&text).unwrap();
                        match replies {
                            Reply::Ok(replies) => {
                                assert_eq!(replies.len(), chunk.len());
                                assert!(replies.iter().all(|r| matches!(r, Reply::Ok(_))), "{text}");
                            }
                            Reply::Error(e) => panic!("{e:?}"),
                        }
                        latencies.push(t.elapsed());
                    }
                    (part.len(), latencies)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let appended: usize = results.iter().map(|(n, _)| n).sum();
    let rate = appended as f64 / start.elapsed().as_secs_f64();
    let mut latencies: Vec<Duration> = results.into_iter().flat_map(|(_, l)| l).collect();
    latencies.sort_unstable();
    (rate, latencies)
}

/// `probity serve --nats` in this process, in front of the ledgerd at `url` (its copy in a
/// temporary directory, first brought up to ledgerd's latest checkpoint), taking `events` as
/// [`run_http_batched`] sends them.
fn serve_following(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    events: Vec<SignedEvent>,
    clients: usize,
    batch: usize,
) -> (f64, Vec<Duration>) {
    let copy = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (base, server) = runtime.block_on(async {
        let client = connect(url).await;
        let mirror = probity_ledger::mirror::Mirror::open(&copy.path().join("book"), None).unwrap();
        let follower =
            probity_http::upstream::Follower::new(client, probity_testkit::LEDGER, None, mirror);
        while follower.ledger().is_none() {
            follower.step(&mut |_, _| {}).await.unwrap();
        }
        let app = probity_http::App::open_following(
            copy.path(),
            follower.ledger().unwrap(),
            follower.upstream(),
            probity_http::AppConfig {
                offset: time::UtcOffset::from_hms(8, 0, 0).unwrap(),
                tokens: None,
            },
            &mut |_, _| {},
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(probity_http::serve_following(
            listener,
            Arc::new(app),
            follower,
            async {
                let _ = stopped.await;
            },
        ));
        (base, server)
    });
    let measured = run_http_batched(&base, events, clients, batch);
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
    measured
}

fn main() {
    let n = env("EVENTS", 20_000);
    let clients = env("CLIENTS", 64);
    let batch = env("BATCH", 64);
    let batch_clients = env("BATCH_CLIENTS", 8);
    let rate_secs = env("RATE_SECS", 5);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let data = DataDir::init();
    let h = data.hospital.clone();
    let make = |prefix: &str, count: usize| -> Vec<SignedEvent> {
        (0..count)
            .map(|i| {
                let signer = if i % 2 == 0 { &h.clerk } else { &h.clerk2 };
                h.request(
                    &format!("{prefix}-{i}"),
                    &format!("CASE-{prefix}-{i}"),
                    signer,
                )
            })
            .collect()
    };
    let load = make("load", n);
    let batched = make("batched", n);
    let over_http = make("http", n);
    let over_copy = make("copy", n);
    let over_http_partial = make("http-partial", n);
    let paced = make("paced", 1000 * rate_secs);
    let record_len = Record::seal(Seq(0), probity_ledger::now(), Hash::ZERO, load[0].clone())
        .to_json()
        .len();

    let verify_rate = raw_verify(&load, threads);
    let (sled_each, sled_grouped) = raw_sled(record_len);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let nats = NatsServer::start();
    let js_rate = runtime.block_on(raw_jetstream(&nats.url(), n, record_len));

    let mut ledgerd = Ledgerd::spawn(
        env!("CARGO_BIN_EXE_ledgerd"),
        data.path(),
        &nats.url(),
        &["--checkpoint-every", "1000"],
    );
    let (through, latencies, batched, paced_latencies) = runtime.block_on(async {
        let client = connect(&nats.url()).await;
        wait_ready(&client, &ledgerd).await;
        let (rate, latencies) = if std::env::var_os("SKIP_SINGLE").is_some() {
            (0.0, vec![])
        } else {
            run_clients(&nats.url(), load, clients).await
        };
        let batched = run_batched(&nats.url(), batched, batch_clients, batch).await;
        let paced = run_paced(&nats.url(), paced, 1000).await;
        (rate, latencies, batched, paced)
    });
    let (batched_rate, batch_latencies) = batched;
    // The same batches through `probity serve --nats` (in this process) in front of ledgerd:
    // handed to ledgerd, answered once its copy holds them.
    let (copy_rate, copy_latencies) =
        serve_following(&runtime, &nats.url(), over_copy, batch_clients, batch);
    assert_eq!(ledgerd.terminate(), Some(0));
    // The same batches through `probity serve` (in this process) on the same book: first with
    // the views it builds when it opens (held whole), then, opened again on those views, up to
    // date (opened partial: applying the new records reads the rows they touch).
    let serve_http = |events: Vec<SignedEvent>| {
        let app = Arc::new(
            probity_http::App::open(
                data.path(),
                probity_http::AppConfig {
                    offset: time::UtcOffset::from_hms(8, 0, 0).unwrap(),
                    tokens: None,
                },
            )
            .unwrap(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (base, server) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let server = tokio::spawn(probity_http::serve(listener, app, async {
                let _ = stopped.await;
            }));
            (base, server)
        });
        let measured = run_http_batched(&base, events, batch_clients, batch);
        let _ = stop.send(());
        runtime.block_on(server).unwrap().unwrap();
        measured
    };
    let (http_rate, http_latencies) = serve_http(over_http);
    let (partial_rate, partial_latencies) = serve_http(over_http_partial);

    let ledger = data.open();
    let size = ledger.size();
    drop(ledger);

    println!("events: {n} ({record_len}-byte records), clients: {clients}, threads: {threads}, book size after: {size}");
    println!();
    println!("| measurement | rate (/s) | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    println!("| raw `verify_strict`, {threads} threads | {verify_rate:.0} | | |");
    println!("| raw sled insert + flush, one record per flush | {sled_each:.0} | | |");
    println!("| raw sled insert + flush, 256 records per flush | {sled_grouped:.0} | | |");
    println!("| raw JetStream publish ({record_len} B, 256 in flight) | {js_rate:.0} | | |");
    println!(
        "| **ledgerd appends through NATS**, {clients} clients, durable | **{through:.0}** | {} | {} |",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99))
    );
    println!(
        "| **ledgerd appends through NATS**, {batch_clients} clients, batches of {batch}, durable | **{batched_rate:.0}** | {} | {} |",
        ms(percentile(&batch_latencies, 0.5)),
        ms(percentile(&batch_latencies, 0.99))
    );
    println!(
        "| **`probity serve` appends through HTTP**, {batch_clients} clients, batches of {batch}, durable | **{http_rate:.0}** | {} | {} |",
        ms(percentile(&http_latencies, 0.5)),
        ms(percentile(&http_latencies, 0.99))
    );
    println!(
        "| **`probity serve` appends through HTTP**, same, restarted on its up-to-date views (opened partial) | **{partial_rate:.0}** | {} | {} |",
        ms(percentile(&partial_latencies, 0.5)),
        ms(percentile(&partial_latencies, 0.99))
    );
    println!(
        "| **`probity serve --nats` appends through HTTP** to ledgerd, same, answered once its copy holds them | **{copy_rate:.0}** | {} | {} |",
        ms(percentile(&copy_latencies, 0.5)),
        ms(percentile(&copy_latencies, 0.99))
    );
    println!(
        "| ledgerd at 1,000 events/s offered for {rate_secs} s | 1000 | {} | {} |",
        ms(percentile(&paced_latencies, 0.5)),
        ms(percentile(&paced_latencies, 0.99))
    );
    println!();
    println!(
        "ratios: appends / raw verify_strict = {:.2}; appends / raw JetStream publish = {:.2}; appends / raw sled flushes = {:.1}",
        through / verify_rate,
        through / js_rate,
        through / sled_each
    );
    println!(
        "ratios, batched: appends / raw verify_strict = {:.2}; appends / raw JetStream publish = {:.2}",
        batched_rate / verify_rate,
        batched_rate / js_rate,
    );
    println!(
        "ratio, batched: HTTP appends / NATS appends = {:.2}",
        http_rate / batched_rate
    );
}
