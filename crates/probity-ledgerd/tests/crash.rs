//! Crash test: ledgerd is killed with SIGKILL at random moments while clients append, then
//! restarted. Every acknowledged event must be in the book exactly once at the receipt's
//! sequence with the receipt's hash, the chain must verify, and the stream must catch up to an
//! exact copy of the book. The random seed is printed so a failure can be replayed
//! (`PROBITY_CRASH_SEED`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use probity_core::prelude::*;
use probity_ledger::wire::Reply;
use probity_testkit::nats::NatsServer;
use probity_testkit::Rng;

type Acked = Arc<Mutex<HashMap<String, Receipt>>>;

/// Appends `events` (each until acknowledged) until `stop` is set.
async fn client_loop(
    url: String,
    events: Vec<(String, SignedEvent)>,
    acked: Acked,
    stop: Arc<AtomicBool>,
) {
    let Ok(client) = async_nats::connect(&url).await else {
        return;
    };
    for (id, event) in events {
        if acked.lock().unwrap().contains_key(&id) {
            continue;
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match tokio::time::timeout(Duration::from_secs(2), append(&client, event.clone())).await
            {
                Ok(Ok(Reply::Ok(receipt))) => {
                    acked.lock().unwrap().insert(id.clone(), receipt);
                    break;
                }
                Ok(Ok(Reply::Error(e))) => panic!("append of {id} refused: {e:?}"),
                // No responder (ledgerd down), timeout or connection trouble: retry the same event.
                _ => tokio::time::sleep(Duration::from_millis(30)).await,
            }
        }
    }
}

/// One client task per slice of events.
fn spawn_clients(
    url: &str,
    events: &[Vec<(String, SignedEvent)>],
    acked: &Acked,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    events
        .iter()
        .map(|e| {
            tokio::spawn(client_loop(
                url.to_owned(),
                e.clone(),
                acked.clone(),
                stop.clone(),
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let mut rng = Rng::seeded("PROBITY_CRASH_SEED", "crash test");
    let seed = rng.0;

    let nats = NatsServer::start();
    let data = DataDir::init();
    let h = data.hospital.clone();
    let clients = 8;
    let per_client = 300;
    let events: Vec<Vec<(String, SignedEvent)>> = (0..clients)
        .map(|c| {
            (0..per_client)
                .map(|i| {
                    let id = format!("crash-{c}-{i}");
                    let signer = if c % 2 == 0 { &h.clerk } else { &h.clerk2 };
                    (id.clone(), h.request(&id, &format!("CASE-{c}-{i}"), signer))
                })
                .collect()
        })
        .collect();
    let acked: Acked = Arc::default();
    let probe = connect(&nats.url()).await;

    for round in 0..3 {
        let mut ledgerd = spawn_ledgerd(data.path(), &nats.url(), &["--checkpoint-every", "37"]);
        wait_ready(&probe, &ledgerd).await;
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = spawn_clients(&nats.url(), &events, &acked, &stop);
        let delay = rng.between(100, 450);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        ledgerd.kill9();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        eprintln!(
            "round {round}: killed after {delay} ms with {} acknowledged",
            acked.lock().unwrap().len()
        );
    }

    // Restart; finish every event, and retry some acknowledged ones (must be duplicates).
    let mut ledgerd = spawn_ledgerd(data.path(), &nats.url(), &["--checkpoint-every", "37"]);
    wait_ready(&probe, &ledgerd).await;
    let before_retry: HashMap<String, Receipt> = acked.lock().unwrap().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = spawn_clients(&nats.url(), &events, &acked, &stop);
    for task in tasks {
        task.await.unwrap();
    }
    for (id, receipt) in before_retry.iter().take(20) {
        let event = events
            .iter()
            .flatten()
            .find(|(i, _)| i == id)
            .unwrap()
            .1
            .clone();
        match append(&probe, event).await.unwrap() {
            Reply::Ok(again) => {
                assert!(again.duplicate, "{id} appended twice");
                assert_eq!((again.seq, again.hash), (receipt.seq, receipt.hash));
            }
            Reply::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ledgerd.terminate(), Some(0), "log:\n{}", ledgerd.log_text());

    let ledger = data.open();
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), clients * per_client);
    assert_eq!(
        ledger.size(),
        4 + (clients * per_client) as u64,
        "every event exactly once (seed {seed})"
    );
    for (id, receipt) in &before_retry {
        let record = ledger
            .record(receipt.seq)
            .unwrap()
            .expect("acknowledged record present");
        assert_eq!(
            record.hash, receipt.hash,
            "{id}: acknowledged record changed (seed {seed})"
        );
        assert_eq!(record.event.open().unwrap().body().id.as_str(), id);
    }
    let report = verify_book(&ledger);
    assert!(report.is_intact(), "seed {seed}: {:#?}", report.findings);
    assert_stream_equals_book(&probe, &ledger).await;
}
