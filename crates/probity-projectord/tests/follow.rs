//! projectord as a process, following a real ledgerd's JetStream stream on a real nats-server:
//! killed with SIGKILL mid-stream and restarted, its views equal a clean rebuild's; queries
//! and lag answer over NATS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use probity_ledger::wire::Reply;
use probity_testkit::ledgerd::{append, blocking, connect, wait_ready, DataDir, Ledgerd};
use probity_testkit::nats::NatsServer;
use probity_testkit::LEDGER;
use probity_views::query::{self, ProjectorStatus};
use serde_json::{json, Value};

fn sibling_binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_projectord")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is not built; run the workspace tests (cargo nextest run --workspace)",
        path.display()
    );
    path
}

struct Projectord(Child);

impl Projectord {
    fn spawn(nats: &str, views: &Path, max_batch: usize) -> Projectord {
        Projectord::spawn_with(nats, views, max_batch, &[])
    }

    fn spawn_with(nats: &str, views: &Path, max_batch: usize, extra: &[&str]) -> Projectord {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(views.with_extension("log"))
            .unwrap();
        Projectord(
            Command::new(env!("CARGO_BIN_EXE_projectord"))
                .args(["--nats", nats, "--ledger", LEDGER, "--views"])
                .arg(views)
                .args(["--max-batch", &max_batch.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Projectord {
    fn drop(&mut self) {
        self.kill9();
    }
}

async fn ask(client: &async_nats::Client, kind: &str, body: Value) -> Result<Value, String> {
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(query::subject(LEDGER, kind), body.to_string().into()),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    match serde_json::from_slice::<Reply<Value>>(&reply.payload).map_err(|e| e.to_string())? {
        Reply::Ok(v) => Ok(v),
        Reply::Error(e) => Err(e.code.to_string()),
    }
}

/// Waits until the projectord answering on `client` has applied `size` records.
async fn caught_up(client: &async_nats::Client, size: u64) -> ProjectorStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(v) = ask(client, "status", json!({"state_hash": true})).await {
            let status: ProjectorStatus = serde_json::from_value(v).unwrap();
            assert!(status.halted.is_none(), "{status:?}");
            if status.applied == size {
                return status;
            }
        }
        assert!(Instant::now() < deadline, "projectord did not reach {size}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ledger's checkpoint key, as `probity init` prints it (ledgerd must not be running).
fn ledger_vkey(data: &DataDir) -> String {
    blocking(|| {
        let ledger = data.open();
        let vkey = ledger.verifier_key().to_string();
        ledger.close();
        vkey
    })
}

/// A nats-server, the fixture ledger (with its checkpoint key, as `probity init` prints it),
/// ledgerd serving it with a checkpoint every 50 records, and a ready client.
async fn ledger_service() -> (NatsServer, DataDir, String, Ledgerd, async_nats::Client) {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let vkey = ledger_vkey(&data);
    let ledgerd = Ledgerd::spawn(
        sibling_binary("ledgerd").to_str().unwrap(),
        data.path(),
        &nats.url(),
        &["--checkpoint-every", "50"],
    );
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    (nats, data, vkey, ledgerd, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_not_signed_by_the_pinned_key_halts_the_catch_up() {
    let (nats, data, right, ledgerd, client) = ledger_service().await;
    let h = data.hospital.clone();
    let origin = right.split('+').next().unwrap().to_owned();
    let mut size = 0;
    for i in 0..120 {
        let event = h.request(&format!("r-{i}"), "CASE-1", &h.clerk);
        match append(&client, event).await.unwrap() {
            Reply::Ok(receipt) => size = receipt.seq.0 + 1,
            Reply::Error(e) => panic!("append {i} refused: {e:?}"),
        }
    }
    // The right origin, someone else's key.
    let impostor = probity_core::checkpoint::VerifierKey::ed25519(origin, h.admin.public_key());
    let views = data.path().join("views");
    let mut projectord = Projectord::spawn_with(
        &nats.url(),
        &views,
        4096,
        &["--ledger-vkey", &impostor.to_string()],
    );
    let halt = halted(&client, &views).await;
    // The genesis already names another ledger key than the pinned one: found at record 0.
    assert_eq!(halt.seq, 0, "{halt:?}");
    assert!(halt.reason.contains("ledger key"), "{halt:?}");

    // The operator pins the right key: the halt stays until they ask for a retry.
    projectord.kill9();
    projectord = Projectord::spawn_with(&nats.url(), &views, 4096, &["--ledger-vkey", &right]);
    assert_eq!(halted(&client, &views).await, halt);
    projectord.kill9();
    let _projectord = Projectord::spawn_with(
        &nats.url(),
        &views,
        4096,
        &["--ledger-vkey", &right, "--retry-halted"],
    );
    let status = caught_up(&client, size).await;
    assert!(status.halted.is_none());
    drop(ledgerd);
}

/// Waits for the projectord answering on `client` to report a halt.
async fn halted(client: &async_nats::Client, views: &Path) -> probity_views::Halt {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(v) = ask(client, "status", json!({})).await {
            let status: ProjectorStatus = serde_json::from_value(v).unwrap();
            if let Some(halt) = status.halted.clone() {
                assert!(status.applied <= halt.seq, "{status:?}");
                return halt;
            }
        }
        assert!(
            Instant::now() < deadline,
            "projectord did not halt:\n{}",
            std::fs::read_to_string(views.with_extension("log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_stream_and_restarted_it_equals_a_clean_rebuild() {
    let (nats, data, ledger_vkey, ledgerd, client) = ledger_service().await;
    let h = data.hospital.clone();

    let views = data.path().join("views-a");
    // Small batches so the kill lands between many commits.
    let mut projectord = Projectord::spawn(&nats.url(), &views, 16);
    let total = 900;
    let mut size = 0;
    for i in 0..total {
        let event = if i % 10 == 9 {
            h.sanction(&format!("s-{i}"), &h.discipline)
        } else {
            h.request(&format!("r-{i}"), &format!("CASE-{}", i % 50), &h.clerk)
        };
        match append(&client, event).await.unwrap() {
            Reply::Ok(receipt) => size = receipt.seq.0 + 1,
            Reply::Error(e) => panic!("append {i} refused: {e:?}"),
        }
        if i == total / 2 {
            projectord.kill9();
            projectord = Projectord::spawn(&nats.url(), &views, 16);
        }
    }
    let restarted = caught_up(&client, size).await;
    assert_eq!(restarted.records_behind, 0);
    projectord.kill9();

    let mut clean = Projectord::spawn_with(
        &nats.url(),
        &data.path().join("views-b"),
        4096,
        &["--ledger-vkey", &ledger_vkey, "--utc-offset", "+00:00"],
    );
    let rebuilt = caught_up(&client, size).await;
    assert_eq!(restarted.state_hash, rebuilt.state_hash);
    assert_eq!(rebuilt.state_hash.len(), 64);

    // Queries over NATS, from the same views.
    let cases = ask(&client, "case", json!({"id": "CASE-7"})).await.unwrap();
    assert_eq!(cases["state"], "requested");
    // Version 3 answers write times at the offset projectord was given; version 2, in µs.
    let occurred = cases["timeline"][0]["occurred_at"].as_str().unwrap();
    assert!(occurred.ends_with("+00:00"), "{cases}");
    let old = ask(&client, "case", json!({"id": "CASE-7", "version": 2}))
        .await
        .unwrap();
    assert_eq!(
        probity_core::time::OccurredAt::parse(occurred)
            .unwrap()
            .unix_micros(),
        old["detail"]["timeline"][0]["occurred_at"]
            .as_i64()
            .unwrap()
    );
    assert_eq!(
        ask(&client, "status", json!({"version": 3})).await.unwrap()["records_behind"],
        0
    );
    let blacklist = ask(&client, "blacklist", json!({})).await.unwrap();
    // One entry per ban in force: the fixture supplier was blacklisted by every 10th event.
    let bans = blacklist.as_array().unwrap();
    assert_eq!(bans.len(), total / 10);
    assert!(bans.iter().all(|b| b["uscc"] == probity_testkit::SUPPLIER));
    assert_eq!(
        ask(&client, "supplier", json!({"id": "nobody"})).await,
        Err("not-found".into())
    );
    let raw = client
        .request(query::subject(LEDGER, "findings"), "{".into())
        .await
        .unwrap();
    let reply: Reply<Value> = serde_json::from_slice(&raw.payload).unwrap();
    assert!(matches!(reply, Reply::Error(e) if e.code == "malformed-json"));
    clean.kill9();
    drop(ledgerd);
}

/// projectord for `views`, pointed at a NATS address where nothing listens (port 1): it
/// keeps trying to connect until it is stopped.
fn projectord_without_nats(views: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_projectord"));
    command
        .args([
            "--nats",
            "nats://127.0.0.1:1",
            "--ledger",
            LEDGER,
            "--views",
        ])
        .arg(views);
    command
}

#[test]
fn a_malformed_ledger_vkey_is_refused_before_connecting() {
    let views = tempfile::tempdir().unwrap();
    let output = projectord_without_nats(&views.path().join("views"))
        .args(["--ledger-vkey", "not-a-vkey"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--ledger-vkey"), "{stderr}");
    assert!(stderr.contains("not a verifier key"), "{stderr}");
    assert!(
        !views.path().join("views").exists(),
        "views created for a refused start"
    );
    let output = projectord_without_nats(&views.path().join("views"))
        .args(["--utc-offset", "Asia/Shanghai"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--utc-offset"), "{stderr}");
    assert!(!views.path().join("views").exists());
}

#[test]
fn sigterm_while_waiting_for_nats_is_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("projectord.log");
    let mut projectord = projectord_without_nats(&dir.path().join("views"))
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // It logs nothing while it retries; a second is ample to be past installing its handlers.
    std::thread::sleep(Duration::from_secs(1));
    Command::new("kill")
        .args(["-TERM", &projectord.id().to_string()])
        .status()
        .unwrap();
    let status = projectord.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "killed, not stopped: {status:?}\n{log}"
    );
    assert!(log.contains("stopped during startup"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_a_record_halts_projectord_and_stops_ledgerd_saying_why() {
    let (nats, data, vkey, mut ledgerd, client) = ledger_service().await;
    let h = data.hospital.clone();
    for i in 0..3 {
        match append(&client, h.request(&format!("r-{i}"), "CASE-1", &h.clerk))
            .await
            .unwrap()
        {
            Reply::Ok(_) => {}
            Reply::Error(e) => panic!("{e:?}"),
        }
    }
    // Wait until the stream holds the 7 records, then put something else after them, as an
    // operator with full rights could (expected last sequence 7, so it lands).
    let js = async_nats::jetstream::new(client.clone());
    let stream_name = probity_ledger::wire::default_stream_name(LEDGER);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = js.get_stream(&stream_name).await.unwrap();
        if stream.info().await.unwrap().state.last_sequence == 7 {
            break;
        }
        assert!(Instant::now() < deadline, "the stream did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    js.send_publish(
        probity_ledger::wire::records_subject(LEDGER),
        async_nats::jetstream::message::PublishMessage::build()
            .payload("not a record".into())
            .expected_last_sequence(7),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    // projectord halts at record 7 and keeps answering.
    let views = data.path().join("views");
    let _projectord = Projectord::spawn_with(&nats.url(), &views, 4096, &["--ledger-vkey", &vkey]);
    let halt = halted(&client, &views).await;
    assert_eq!(halt.seq, 7, "{halt:?}");
    assert!(halt.reason.contains("not a record"), "{halt:?}");
    assert!(
        ask(&client, "blacklist", json!({})).await.is_ok(),
        "still answering"
    );

    // ledgerd's next record cannot be published after it: the append is durable in the book,
    // then ledgerd stops rather than skip the message, and says why; it will not start again
    // on that stream either.
    let receipt = append(&client, h.request("after", "CASE-2", &h.clerk))
        .await
        .unwrap();
    assert!(matches!(receipt, Reply::Ok(_)), "{receipt:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(code) = ledgerd.exit_code() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "ledgerd kept going:\n{}",
            ledgerd.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(code, 0);
    assert!(
        ledgerd.log_text().contains("is not the book's record"),
        "{}",
        ledgerd.log_text()
    );
    let mut again = Ledgerd::spawn(
        sibling_binary("ledgerd").to_str().unwrap(),
        data.path(),
        &nats.url(),
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while again.exit_code().is_none() {
        assert!(
            Instant::now() < deadline,
            "ledgerd started on a stream that is not the book's"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        again.log_text().contains("is not the book's record"),
        "{}",
        again.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_under_load_is_outlived_by_ledgerd_and_projectord() {
    let (mut nats, data, ledger_vkey, ledgerd, client) = ledger_service().await;
    let h = data.hospital.clone();
    let views = data.path().join("views-a");
    let _projectord =
        Projectord::spawn_with(&nats.url(), &views, 64, &["--ledger-vkey", &ledger_vkey]);
    // Appends, each retried (by the same event: a retry gets the original receipt) until
    // acknowledged, while nats-server is killed and started again halfway.
    let mut acknowledged = Vec::new();
    let total = 300;
    for i in 0..total {
        let event = h.request(&format!("r-{i}"), &format!("CASE-{}", i % 20), &h.clerk);
        if i == total / 2 {
            nats.kill();
            tokio::time::sleep(Duration::from_millis(500)).await;
            nats.restart();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let sent = tokio::time::timeout(Duration::from_secs(2), append(&client, event.clone()));
            match sent.await {
                Ok(Ok(Reply::Ok(receipt))) => {
                    acknowledged.push(receipt);
                    break;
                }
                Ok(Ok(Reply::Error(e))) => panic!("append {i} refused: {e:?}"),
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "ledgerd did not come back:\n{}",
                        ledgerd.log_text()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    let size = acknowledged.iter().map(|r| r.seq.0 + 1).max().unwrap();
    // projectord, never restarted, follows to the end and equals a rebuild.
    let followed = caught_up(&client, size).await;
    let _clean = Projectord::spawn_with(
        &nats.url(),
        &data.path().join("views-b"),
        4096,
        &["--ledger-vkey", &ledger_vkey],
    );
    drop(_projectord);
    let rebuilt = caught_up(&client, size).await;
    assert_eq!(followed.state_hash, rebuilt.state_hash);
    // Nothing acknowledged is lost.
    let ledger = {
        let mut ledgerd = ledgerd;
        assert_eq!(ledgerd.terminate(), Some(0), "{}", ledgerd.log_text());
        data.open()
    };
    for receipt in &acknowledged {
        let record = ledger.record(receipt.seq).unwrap().unwrap();
        assert_eq!(record.hash, receipt.hash);
    }
}

/// `--metrics-listen`: the records applied and the lag, read from the follower at each scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_records_applied_and_the_lag() {
    let (nats, data, _vkey, _ledgerd, client) = ledger_service().await;
    let h = &data.hospital;
    for i in 0..5 {
        let event = h.request(&format!("mx-{i}"), "CASE-MX", &h.clerk);
        assert!(matches!(
            append(&client, event).await.unwrap(),
            Reply::Ok(_)
        ));
    }
    let size = probity_testkit::ledgerd::status(&client)
        .await
        .unwrap()
        .size;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let views = data.path().join("views-metrics");
    let _projectord =
        Projectord::spawn_with(&nats.url(), &views, 64, &["--metrics-listen", &address]);
    caught_up(&client, size).await;
    let scrape = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        // The endpoint opens just after the follower starts answering queries: retry a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut response = loop {
            match agent.get(format!("http://{address}/metrics")).call() {
                Ok(response) => break response,
                Err(e) => {
                    assert!(Instant::now() < deadline, "no metrics endpoint: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        assert_eq!(response.status(), 200);
        response.body_mut().read_to_string().unwrap()
    })
    .await
    .unwrap();
    assert!(
        scrape.contains(&format!("probity_views_applied_records {size}")),
        "{scrape}"
    );
    assert!(
        scrape.contains("probity_projector_lag_records 0"),
        "{scrape}"
    );
    assert!(scrape.contains("probity_projector_halted 0"), "{scrape}");
}
