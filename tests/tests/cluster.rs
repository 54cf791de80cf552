//! A 3-node JetStream cluster with the ledger's stream at 3 replicas: under load from several
//! clerks, one NATS node is killed (SIGKILL) and later restarted. Appends go on (clients retry;
//! a retried event gets its original receipt), nothing acknowledged is lost or duplicated, the
//! chain verifies, the stream ends an exact copy of the book, and projectord — following the
//! stream across the failure — converges to the views a rebuild from the book gives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use probity_core::ids::Seq;
use probity_core::receipt::Receipt;
use probity_ledger::wire::Reply;
use probity_projectord::follow::{FollowConfig, Follower};
use probity_testkit::ledgerd::{
    append, assert_stream_equals_book, blocking, verify_book, wait_ready, DataDir, Ledgerd,
};
use probity_testkit::nats::NatsCluster;
use probity_testkit::LEDGER;
use probity_views::embedded;

const WRITERS: usize = 4;
const PER_WRITER: usize = 150;

/// A binary of the workspace, built beside this test (`cargo nextest run --workspace`).
fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.is_file(),
        "{} is not built; run the workspace tests (cargo nextest run --workspace)",
        path.display()
    );
    path
}

/// A client of the cluster that connects to node `first` first (and fails over to the others).
async fn connect_to_all(urls: &str, first: usize) -> async_nats::Client {
    let mut servers: Vec<async_nats::ServerAddr> =
        urls.split(',').map(|u| u.parse().unwrap()).collect();
    servers.rotate_left(first);
    async_nats::ConnectOptions::new()
        .retain_servers_order()
        .connect(servers)
        .await
        .unwrap()
}

/// The node (`n1` → 0) leading the ledger's stream.
async fn stream_leader(client: &async_nats::Client) -> usize {
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js
        .get_stream(probity_ledger::wire::default_stream_name(LEDGER))
        .await
        .unwrap();
    let info = stream.info().await.unwrap();
    let leader = info
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .unwrap();
    leader.trim_start_matches('n').parse::<usize>().unwrap() - 1
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_node_killed_under_load_loses_nothing_acknowledged() {
    let mut cluster = NatsCluster::start(3);
    let data = DataDir::init();
    let h = data.hospital.clone();
    let mut ledgerd = Ledgerd::spawn(
        workspace_binary("ledgerd").to_str().unwrap(),
        data.path(),
        &cluster.urls(),
        &["--replicas", "3", "--checkpoint-every", "100"],
    );
    let client = connect_to_all(&cluster.urls(), 0).await;
    wait_ready(&client, &ledgerd).await;
    // The node to kill leads the stream; the clerks and projectord are connected to it.
    let victim = stream_leader(&client).await;
    let client = connect_to_all(&cluster.urls(), victim).await;
    assert_eq!(
        client.server_info().port,
        cluster.port(victim),
        "not connected to the stream leader"
    );

    let views = data.path().join("views");
    let follower = Follower::start(client.clone(), FollowConfig::new(LEDGER, views))
        .await
        .unwrap();
    let shared = follower.shared().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let following = tokio::spawn(follower.run(async {
        let _ = stopped.await;
    }));

    // Clerks append, each retrying an event until it is acknowledged.
    let acked: Arc<Mutex<Vec<(String, Receipt)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, acked, h) = (client.clone(), acked.clone(), h.clone());
        writers.push(tokio::spawn(async move {
            let mut retries = 0;
            for i in 0..PER_WRITER {
                let id = format!("w{w}-{i}");
                let event = if i % 10 == 9 {
                    h.sanction(&id, &h.discipline)
                } else {
                    h.request(&id, &format!("CASE-{w}-{}", i % 20), &h.clerk)
                };
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    match append(&client, event.clone()).await {
                        Ok(Reply::Ok(receipt)) => {
                            acked.lock().unwrap().push((id, receipt));
                            break;
                        }
                        Ok(Reply::Error(e)) => panic!("{id} refused: {e:?}"),
                        Err(e) => {
                            assert!(Instant::now() < deadline, "{id} never acknowledged: {e}");
                            retries += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
            retries
        }));
    }
    let count = || acked.lock().unwrap().len();
    wait_for("the first appends", Duration::from_secs(60), || {
        count() >= 150
    })
    .await;
    cluster.kill(victim);
    let at_kill = count();
    wait_for("appends with a node down", Duration::from_secs(90), || {
        count() >= at_kill + 200
    })
    .await;
    cluster.restart(victim);
    let mut retries = 0;
    for writer in writers {
        retries += writer.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), WRITERS * PER_WRITER);
    let size = acked.iter().map(|(_, r)| r.seq.0 + 1).max().unwrap();

    // projectord followed the stream across the failure.
    wait_for("projectord to catch up", Duration::from_secs(90), || {
        *shared.applied().borrow() >= size
    })
    .await;
    let followed = shared.status(true).unwrap();
    assert!(followed.halted.is_none(), "{followed:?}");
    let _ = stop.send(());
    following.await.unwrap().unwrap();

    assert_eq!(ledgerd.terminate(), Some(0), "{}", ledgerd.log_text());
    let ledger = data.open();
    assert_eq!(ledger.size(), size, "records nobody acknowledged");
    let mut seqs: Vec<u64> = acked.iter().map(|(_, r)| r.seq.0).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        acked.len(),
        "two events acknowledged at one seq"
    );
    for (id, receipt) in &acked {
        let record = ledger.record(receipt.seq).unwrap().unwrap();
        assert_eq!(record.hash, receipt.hash, "{id}");
        assert_eq!(record.event.open().unwrap().body().id.as_str(), id);
    }
    let report = blocking(|| verify_book(&ledger));
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_stream_equals_book(&client, &ledger).await;

    // The followed views equal a rebuild from the book.
    let rebuilt_dir = data.path().join("views-rebuilt");
    let rebuilt = blocking(|| {
        let mut projector = embedded::open(&rebuilt_dir, &ledger).unwrap();
        embedded::catch_up(&mut projector, &ledger).unwrap();
        let hash = projector.store().state_hash().unwrap();
        projector.close();
        hash
    });
    assert_eq!(followed.state_hash, rebuilt.to_hex());
    assert_eq!(ledger.record(Seq(size)).unwrap(), None);
    blocking(|| ledger.close());
    eprintln!(
        "{} appends, node n{} (the stream leader) killed after {at_kill}, {retries} client retries",
        acked.len(),
        victim + 1
    );
}
