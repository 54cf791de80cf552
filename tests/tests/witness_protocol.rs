//! C2SP tlog-witness over HTTP, both directions, with the real binaries: `probity witness
//! serve` answers `add-checkpoint` with the spec's status codes and bodies (200 cosignature
//! lines, 400, 403, 404, 409 `text/x.tlog.size`, 422) and serves the latest cosigned
//! checkpoint to monitors; `ledgerd --http-witness` has an ML-DSA-44 and an Ed25519 witness
//! cosign its checkpoints, follows a 409 after a restart, and `probity verify --witness …
//! --quorum 2` then finds the ledger intact with both cosignatures on its anchoring checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use probity_core::checkpoint::{Checkpoint, NoteSigner, SignedNote, VerifierKey, WitnessPolicy};
use probity_core::hash::Hash;
use probity_core::keys::SecretKey;
use probity_core::witness::AddCheckpoint;
use probity_ledger::keyfile;
use probity_ledger::wire::{self, CheckpointReply, Reply};
use probity_testkit::ledgerd::{append, connect, request_raw, wait_ready, DataDir, Ledgerd};
use probity_testkit::nats::NatsServer;
use probity_testkit::LEDGER;

fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(path.is_file(), "{} is not built", path.display());
    path
}

/// A `probity witness serve` child, killed on drop.
struct WitnessServer {
    child: Child,
    url: String,
    vkey: String,
}

impl WitnessServer {
    fn start(dir: &Path, name: &str, seed: u8, algorithm: &str, ledger_vkey: &str) -> Self {
        let key = dir.join(format!("{seed}.key"));
        if !key.exists() {
            keyfile::write_key(&key, &SecretKey::from_seed(&[seed; 32]), false).unwrap();
        }
        let mut child = Command::new(workspace_binary("probity"))
            .args(["witness", "serve", "--key"])
            .arg(&key)
            .args(["--name", name, "--algorithm", algorithm])
            .args(["--ledger-vkey", ledger_vkey, "--state"])
            .arg(dir.join(format!("{seed}.state.json")))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "witness NAME on http://ADDR/ (…); vkey VKEY"
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        let vkey = line.rsplit(' ').next().unwrap().trim().to_owned();
        WitnessServer { child, url, vkey }
    }
}

impl Drop for WitnessServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Posts a body to add-checkpoint: status, content type, body.
fn post(url: &str, body: &str) -> (u16, String, String) {
    let mut response = agent()
        .post(format!("{url}/add-checkpoint"))
        .send(body)
        .unwrap();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), kind, text)
}

fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), text)
}

#[test]
fn probity_witness_serve_answers_with_the_specs_codes() {
    let data = DataDir::init();
    let h = data.hospital.clone();
    let ledger = data.open();
    let size = ledger.size();
    assert!(size >= 4, "the fixture ledger has {size} records");
    let origin = ledger.origin().to_owned();
    let ledger_vkey = ledger.verifier_key().to_string();
    let signer = NoteSigner::new(origin.clone(), h.ledger_key.clone());
    let at = |n: u64| {
        signer.sign_checkpoint(&Checkpoint::new(
            origin.clone(),
            n,
            ledger.root_at(n).unwrap(),
        ))
    };
    let proof = |from: u64, to: u64| ledger.consistency_proof(from, to).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let witness = WitnessServer::start(
        dir.path(),
        "audit.example/pq",
        31,
        "ml-dsa-44",
        &ledger_vkey,
    );
    let witness_vkey = VerifierKey::parse(&witness.vkey).unwrap();
    assert_eq!(
        witness_vkey.sig_type, 0x06,
        "ML-DSA-44 is the served default and was asked"
    );
    let request = |old, proof, checkpoint| {
        AddCheckpoint {
            old,
            proof,
            checkpoint,
        }
        .to_text()
    };

    // First sight: 200 and one cosignature line that verifies under the witness's key.
    let two = at(2);
    let (status, _, body) = post(&witness.url, &request(0, vec![], two.clone()));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("\u{2014} audit.example/pq ") && body.ends_with('\n'),
        "{body:?}"
    );
    let mut note = two.to_bytes();
    note.extend_from_slice(body.as_bytes());
    let policy = WitnessPolicy {
        log: ledger.verifier_key(),
        witnesses: vec![witness_vkey.clone()],
        quorum: 1,
    };
    let verified = policy.verify(&SignedNote::parse(&note).unwrap()).unwrap();
    assert!(verified.witnesses[0].1 > 1_700_000_000, "a real timestamp");

    // From the wrong size: 409 with the witness's size as text/x.tlog.size.
    let (status, kind, body) = post(&witness.url, &request(0, vec![], at(size)));
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "2\n")
    );
    // Consistent growth: 200.
    let (status, _, body) = post(&witness.url, &request(2, proof(2, size), at(size)));
    assert_eq!(status, 200, "{body}");
    // Stale again: 409 with the new size.
    let (status, _, body) = post(&witness.url, &request(2, proof(2, size), at(size)));
    assert_eq!((status, body), (409, format!("{size}\n")));
    // Old size beyond the checkpoint: 400.
    let (status, _, body) = post(&witness.url, &request(size + 1, vec![], at(size)));
    assert_eq!(status, 400, "{body}");
    // Signed by another key under the same origin: 403.
    let forged = NoteSigner::new(origin.clone(), h.stranger.clone()).sign_checkpoint(
        &Checkpoint::new(origin.clone(), size, ledger.root_at(size).unwrap()),
    );
    let (status, _, body) = post(&witness.url, &request(size, vec![], forged));
    assert_eq!(status, 403, "{body}");
    // A log the witness does not follow: 404.
    let other = NoteSigner::new("other.example/log", h.stranger.clone())
        .sign_checkpoint(&Checkpoint::new("other.example/log", 3, Hash([3; 32])));
    let (status, _, body) = post(&witness.url, &request(0, vec![], other));
    assert_eq!(status, 404, "{body}");
    // Same size, another root, signed by the ledger: a fork, 422.
    let fork = signer.sign_checkpoint(&Checkpoint::new(origin.clone(), size, Hash([9; 32])));
    let (status, _, body) = post(&witness.url, &request(size, vec![], fork));
    assert_eq!(status, 422, "{body}");
    // A larger tree with a proof that does not hold: 422.
    let grown = signer.sign_checkpoint(&Checkpoint::new(origin.clone(), size + 3, Hash([8; 32])));
    let (status, _, body) = post(&witness.url, &request(size, vec![Hash([1; 32])], grown));
    assert_eq!(status, 422, "{body}");
    // Not a request: 400.
    let (status, _, _) = post(&witness.url, "old 1\nnot base64\n\nnope\n");
    assert_eq!(status, 400);

    // Monitors: the latest cosigned checkpoint, with the ledger's signature and the
    // cosignature, under the hex SHA-256 of the origin; another origin is 404.
    let origin_hash = probity_core::witness::origin_hash(&origin);
    assert_eq!(
        origin_hash,
        Hash::digest_parts(&[origin.as_bytes()]).to_hex()
    );
    let (status, note) = get(&format!("{}/{origin_hash}/checkpoint", witness.url));
    assert_eq!(status, 200);
    let served = policy
        .verify(&SignedNote::parse(note.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(served.checkpoint.size, size);
    let (status, _) = get(&format!("{}/{}/checkpoint", witness.url, "0".repeat(64)));
    assert_eq!(status, 404);

    // The state survives a restart: the witness still answers from `size`.
    drop(witness);
    let again = WitnessServer::start(
        dir.path(),
        "audit.example/pq",
        31,
        "ml-dsa-44",
        &ledger_vkey,
    );
    let (status, _, body) = post(&again.url, &request(0, vec![], at(size)));
    assert_eq!((status, body), (409, format!("{size}\n")));
    ledger.close();
}

/// The fixture ledger's checkpoint key and size (the book opened and closed off the runtime).
fn vkey_and_size(data: &DataDir) -> (VerifierKey, u64) {
    probity_testkit::ledgerd::blocking(|| {
        let ledger = data.open();
        let answer = (ledger.verifier_key(), ledger.size());
        ledger.close();
        answer
    })
}

/// Appends purchase requests `<prefix>N` for each N in `range`, each acknowledged.
async fn append_requests(
    client: &async_nats::Client,
    h: &probity_testkit::Hospital,
    prefix: &str,
    range: std::ops::Range<u32>,
) {
    for i in range {
        let event = h.request(&format!("{prefix}{i}"), &format!("CASE-{i}"), &h.clerk);
        let reply = append(client, event).await.unwrap();
        assert!(matches!(reply, Reply::Ok(_)), "{reply:?}");
    }
}

/// Polls ledgerd until its latest checkpoint carries a quorum of `policy`; returns its size.
async fn wait_cosigned(
    client: &async_nats::Client,
    policy: &WitnessPolicy,
    ledgerd: &Ledgerd,
    at_least: u64,
) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = request_raw::<CheckpointReply>(
            client,
            wire::checkpoint_subject(LEDGER),
            b"{}".to_vec(),
        )
        .await;
        if let Ok(Reply::Ok(checkpoint)) = reply {
            let note = SignedNote::parse(checkpoint.note.as_bytes()).unwrap();
            if checkpoint.size >= at_least && policy.verify(&note).is_ok() {
                return checkpoint.size;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not cosigned in 30 s; ledgerd log:\n{}",
            ledgerd.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgerd_has_an_ml_dsa_and_an_ed25519_witness_cosign_its_checkpoints() {
    let data = DataDir::init();
    let h = data.hospital.clone();
    let (ledger_vkey, start) = vkey_and_size(&data);
    let dir = tempfile::tempdir().unwrap();
    let pq = WitnessServer::start(
        dir.path(),
        "audit.example/pq",
        41,
        "ml-dsa-44",
        &ledger_vkey.to_string(),
    );
    let classic = WitnessServer::start(
        dir.path(),
        "audit.example/ed",
        42,
        "ed25519",
        &ledger_vkey.to_string(),
    );
    let policy = WitnessPolicy {
        log: ledger_vkey.clone(),
        witnesses: vec![
            VerifierKey::parse(&pq.vkey).unwrap(),
            VerifierKey::parse(&classic.vkey).unwrap(),
        ],
        quorum: 2,
    };
    let nats = NatsServer::start();
    let ledgerd_bin = workspace_binary("ledgerd");
    let pq_arg = format!("{} {}", pq.url, pq.vkey);
    let classic_arg = format!("{} {}", classic.url, classic.vkey);
    let args = [
        "--checkpoint-every",
        "2",
        "--checkpoint-ms",
        "200",
        "--http-witness",
        pq_arg.as_str(),
        "--http-witness",
        classic_arg.as_str(),
    ];
    let mut ledgerd = Ledgerd::spawn(
        ledgerd_bin.to_str().unwrap(),
        data.path(),
        &nats.url(),
        &args,
    );
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    append_requests(&client, &h, "w", 0..5).await;
    let first = wait_cosigned(&client, &policy, &ledgerd, start + 5).await;

    // A restarted ledgerd does not know what the witnesses cosigned: it starts from 0, is
    // told their size (409) and proves consistency from it.
    assert_eq!(ledgerd.terminate(), Some(0), "{}", ledgerd.log_text());
    let mut ledgerd = Ledgerd::spawn(
        ledgerd_bin.to_str().unwrap(),
        data.path(),
        &nats.url(),
        &args,
    );
    wait_ready(&client, &ledgerd).await;
    append_requests(&client, &h, "w", 5..8).await;
    let second = wait_cosigned(&client, &policy, &ledgerd, first + 3).await;
    assert!(second > first);
    assert_eq!(ledgerd.terminate(), Some(0), "{}", ledgerd.log_text());

    // The auditor's verification: both witnesses on the anchoring checkpoint, the older
    // checkpoints (signed before the witnesses were asked) need only the ledger's signature.
    let output = Command::new(workspace_binary("probity"))
        .args(["verify", "--data"])
        .arg(data.path())
        .args([
            "--ledger-vkey",
            &ledger_vkey.to_string(),
            "--witness",
            &pq.vkey,
            "--witness",
            &classic.vkey,
            "--quorum",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    assert!(output.status.success(), "{report:#}");
    let names: Vec<&str> = report["witnessed"]["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["audit.example/pq", "audit.example/ed"],
        "{report:#}"
    );
    assert!(report["witnessed"]["size"].as_u64().unwrap() >= second);
    // A quorum of three is not met on the anchor: a finding at its size, exit 1.
    let stranger =
        probity_core::checkpoint::Cosigner::new("audit.example/x", SecretKey::from_seed(&[43; 32]));
    let output = Command::new(workspace_binary("probity"))
        .args(["verify", "--data"])
        .arg(data.path())
        .args([
            "--ledger-vkey",
            &ledger_vkey.to_string(),
            "--witness",
            &pq.vkey,
            "--witness",
            &classic.vkey,
        ])
        .args([
            "--witness",
            &stranger.verifier_key().to_string(),
            "--quorum",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["findings"][0]["code"], "checkpoint-signature",
        "{report:#}"
    );
}

/// A port nothing listens on now (for a server that takes a fixed address).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `python3 -m aics_witness ARGS` (an independent C2SP tlog-witness, from PyPI; .ci/run
/// installs it) to completion; its stdout.
fn aics_witness(args: &[&str]) -> String {
    let output = Command::new("python3")
        .args(["-m", "aics_witness"])
        .args(args)
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "aics-witness {args:?} (pip install --ignore-requires-python aics-witness): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Interoperability, the log's side: ledgerd has its checkpoints cosigned by aics-witness, an
/// implementation of C2SP tlog-witness written by others (Python, SQLite), as they grow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgerd_is_cosigned_by_an_independent_c2sp_witness() {
    let data = DataDir::init();
    let h = data.hospital.clone();
    let (ledger_vkey, start) = vkey_and_size(&data);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("witness.json");
    let config = config.to_str().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let init = aics_witness(&[
        "init",
        "--config",
        config,
        "--name",
        "audit.example/aics",
        "--listen",
        &listen,
    ]);
    let witness_vkey = init.trim().lines().last().unwrap().to_owned();
    aics_witness(&[
        "add-log",
        "--config",
        config,
        "--origin",
        &ledger_vkey.name,
        "--vkey",
        &ledger_vkey.to_string(),
    ]);
    // Probity's checkpoints carry an extension line (the key commitment, FORMAT.md §8), which
    // C2SP allows and aics-witness accepts once the log is configured for it.
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    document["logs"][0]["extension_lines"] = true.into();
    std::fs::write(config, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    let _server = KillOnDrop(
        Command::new("python3")
            .args(["-m", "aics_witness", "serve", "--config", config])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "aics-witness did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let policy = WitnessPolicy {
        log: ledger_vkey.clone(),
        witnesses: vec![VerifierKey::parse(&witness_vkey).unwrap()],
        quorum: 1,
    };
    let nats = NatsServer::start();
    let witness_arg = format!("http://{listen} {witness_vkey}");
    let ledgerd = Ledgerd::spawn(
        workspace_binary("ledgerd").to_str().unwrap(),
        data.path(),
        &nats.url(),
        &[
            "--checkpoint-every",
            "2",
            "--checkpoint-ms",
            "200",
            "--http-witness",
            &witness_arg,
        ],
    );
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    append_requests(&client, &h, "a", 0..3).await;
    let first = wait_cosigned(&client, &policy, &ledgerd, start + 3).await;
    append_requests(&client, &h, "a", 3..6).await;
    let second = wait_cosigned(&client, &policy, &ledgerd, first + 3).await;
    assert!(second > first);
    // The independent witness records the same view.
    let status = aics_witness(&["status", "--config", config, "--json"]);
    assert!(status.contains(&second.to_string()), "{status}");
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Interoperability, the witness's side: aics-witness's own client (its feeder) submits the
/// ledger's checkpoints to `probity witness serve` and accepts its cosignatures; told of a
/// larger tree than its stale checkpoint, it stops, as the spec's 409 makes it.
#[test]
fn an_independent_c2sp_client_is_cosigned_by_probity_witness_serve() {
    let data = DataDir::init();
    let h = data.hospital.clone();
    let ledger = data.open();
    let size = ledger.size();
    let origin = ledger.origin().to_owned();
    let signer = NoteSigner::new(origin.clone(), h.ledger_key.clone());
    let at = |n: u64| {
        signer.sign_checkpoint(&Checkpoint::new(
            origin.clone(),
            n,
            ledger.root_at(n).unwrap(),
        ))
    };
    let dir = tempfile::tempdir().unwrap();
    let ledger_vkey = ledger.verifier_key();
    let witness = WitnessServer::start(
        dir.path(),
        "audit.example/ed",
        51,
        "ed25519",
        &ledger_vkey.to_string(),
    );
    let two = dir.path().join("two.note");
    let grown = dir.path().join("grown.note");
    std::fs::write(&two, at(2).to_bytes()).unwrap();
    std::fs::write(&grown, at(size).to_bytes()).unwrap();
    let proof: Vec<String> = ledger
        .consistency_proof(2, size)
        .unwrap()
        .iter()
        .map(|h| h.to_hex())
        .collect();
    let script = r#"
import json, sys
from aics_witness.feeder import submit_checkpoint, WitnessAhead
url, vkey, two, grown, proof = sys.argv[1:6]
proof = [bytes.fromhex(p) for p in json.loads(proof)]
out = {}
out["first"] = submit_checkpoint(url, open(two, "rb").read(), (0, []), witness_vkey=vkey)
out["second"] = submit_checkpoint(url, open(grown, "rb").read(), (2, proof), witness_vkey=vkey)
try:
    submit_checkpoint(url, open(two, "rb").read(), (0, []), witness_vkey=vkey)
    out["stale"] = "cosigned"
except WitnessAhead as e:
    out["stale"] = e.known_size
print(json.dumps(out))
"#;
    let output = Command::new("python3")
        .args(["-c", script, &witness.url, &witness.vkey])
        .arg(&two)
        .arg(&grown)
        .arg(serde_json::to_string(&proof).unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let policy = WitnessPolicy {
        log: ledger_vkey.clone(),
        witnesses: vec![VerifierKey::parse(&witness.vkey).unwrap()],
        quorum: 1,
    };
    for (name, note) in [("first", at(2)), ("second", at(size))] {
        let mut bytes = note.to_bytes();
        bytes.extend_from_slice(answer[name].as_str().unwrap().as_bytes());
        policy
            .verify(&SignedNote::parse(&bytes).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(answer["stale"], size, "{answer}");
    ledger.close();
}
