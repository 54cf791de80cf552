//! The shipped `deploy/nats` configuration, role by role, with a clerk's password in hostile
//! hands: nats-server runs `deploy/nats/single.conf` with its `accounts.conf` as shipped (only
//! the ports and store moved), ledgerd runs as `ledgerd`. Allowed operations work (a clerk's
//! appends, an auditor's verification of the stream through the consumer ledgerd makes);
//! redirecting a reply into `probity.*`, reading another user's inbox, publishing to the
//! records, purging or deleting, and creating consumers (which could deliver the stream onto the
//! append subject) are all refused — for the `console` user of `probity serve --nats` too;
//! nothing but records is ever in the stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use probity_core::record::Record;
use probity_ledger::wire::{self, Reply};
use probity_testkit::ledgerd::{append, status, stream_messages, DataDir, Ledgerd};
use probity_testkit::nats::NatsServer;
use probity_testkit::LEDGER;

fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(path.is_file(), "{} is not built", path.display());
    path
}

fn deploy_conf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/single.conf")
}

fn password(user: &str) -> String {
    format!("{user}-trial-password")
}

fn url(nats: &NatsServer, user: &str) -> String {
    format!("nats://{user}:{}@127.0.0.1:{}", password(user), nats.port())
}

/// A client as Probity's own programs connect: credentials, and the user's inbox prefix.
async fn client(nats: &NatsServer, user: &str) -> async_nats::Client {
    probity_nats::Connection {
        name: "roles-test",
        urls: url(nats, user),
        credentials: None,
        retry_initial: false,
        subscription_capacity: None,
        server_errors: None,
    }
    .connect()
    .await
    .unwrap()
}

/// Speaks the NATS protocol as `user` on a raw socket: sends `commands`, then PING, and
/// returns every line until the PONG (so `-ERR 'Permissions Violation …'` lines show).
fn raw(nats: &NatsServer, user: &str, commands: &str) -> Vec<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", nats.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{}\"}}\r\n{commands}PING\r\n",
        password(user)
    );
    stream.write_all(connect.as_bytes()).unwrap();
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim_end().to_owned();
        if line == "PONG" {
            break;
        }
        lines.push(line);
    }
    lines
}

fn violated(lines: &[String], what: &str) -> bool {
    lines
        .iter()
        .any(|l| l.contains("Permissions Violation") && l.contains(what))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_can_do_what_it_must_and_nothing_that_subverts_the_ledger() {
    let nats = NatsServer::start_with_config(&deploy_conf());
    let data = DataDir::init();
    let h = data.hospital.clone();
    let ledgerd_bin = workspace_binary("ledgerd");
    let ledgerd = Ledgerd::spawn(
        ledgerd_bin.to_str().unwrap(),
        data.path(),
        &url(&nats, "ledgerd"),
        &["--checkpoint-every", "1"],
    );
    let clerk = client(&nats, "clerk").await;
    let auditor = client(&nats, "auditor").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&clerk).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "ledgerd not ready:\n{}",
            ledgerd.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Allowed: a clerk appends and asks the status; the auditor reads the stream.
    match append(&clerk, h.request("first", "CASE-1", &h.clerk))
        .await
        .unwrap()
    {
        Reply::Ok(receipt) => assert_eq!(receipt.seq.0, 4),
        Reply::Error(e) => panic!("{e:?}"),
    }
    assert_eq!(status(&clerk).await.unwrap().size, 5);
    // A clerk reads a case's version (for `record --expect`); the projector may not ask.
    let subject_version = |user: &str| {
        std::process::Command::new(workspace_binary("probity"))
            .args([
                "subject-version",
                "case:CASE-1",
                "--json",
                "--nats",
                &url(&nats, user),
            ])
            .args(["--ledger", LEDGER])
            .env_remove("PROBITY_DATA_DIR")
            .output()
            .unwrap()
    };
    let asked = subject_version("clerk");
    assert_eq!(
        asked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    let version: serde_json::Value = serde_json::from_slice(&asked.stdout).unwrap();
    assert_eq!(
        (&version["version"], &version["size"]),
        (&serde_json::json!(1), &serde_json::json!(5)),
        "{version}"
    );
    let denied = subject_version("projector");
    assert_eq!(denied.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("permission denied"));

    // A clerk asks ledgerd to reply into the records stream, with a status request and with
    // an append: ledgerd answers only on inboxes.
    let records = wire::records_subject(LEDGER);
    clerk
        .publish_with_reply(wire::status_subject(LEDGER), records.clone(), "{}".into())
        .await
        .unwrap();
    let event = h.request("redirected", "CASE-2", &h.clerk);
    let request = serde_json::to_vec(&wire::AppendMessage {
        event,
        expect: Default::default(),
    })
    .unwrap();
    clerk
        .publish_with_reply(
            wire::append_subject(LEDGER),
            records.clone(),
            request.into(),
        )
        .await
        .unwrap();
    clerk.flush().await.unwrap();

    // Refused by the server: reading all inboxes or another user's, publishing to the records,
    // purging or deleting the stream, taking ledgerd's subjects.
    let stream_name = wire::default_stream_name(LEDGER);
    for (user, commands, what) in [
        ("clerk", "SUB _INBOX.> 1\r\n".to_owned(), "_INBOX.>"),
        (
            "clerk",
            "SUB _INBOX_auditor.> 1\r\n".to_owned(),
            "_INBOX_auditor.>",
        ),
        (
            "auditor",
            "SUB _INBOX_clerk.> 1\r\n".to_owned(),
            "_INBOX_clerk.>",
        ),
        (
            "projector",
            "SUB _INBOX_ledgerd.> 1\r\n".to_owned(),
            "_INBOX_ledgerd.>",
        ),
        (
            "clerk",
            format!("PUB {records} 2\r\n{{}}\r\n"),
            records.as_str(),
        ),
        (
            "auditor",
            format!("PUB {records} 2\r\n{{}}\r\n"),
            records.as_str(),
        ),
        (
            "projector",
            format!("PUB {records} 2\r\n{{}}\r\n"),
            records.as_str(),
        ),
        (
            "clerk",
            format!("SUB {} 1\r\n", wire::append_subject(LEDGER)),
            "append",
        ),
        (
            "auditor",
            format!("PUB $JS.API.STREAM.PURGE.{stream_name} 2\r\n{{}}\r\n"),
            "PURGE",
        ),
        (
            "auditor",
            format!("PUB $JS.API.STREAM.MSG.DELETE.{stream_name} 2\r\n{{}}\r\n"),
            "DELETE",
        ),
        (
            "projector",
            format!("PUB $JS.API.STREAM.DELETE.{stream_name} 2\r\n{{}}\r\n"),
            "DELETE",
        ),
        (
            "clerk",
            format!("PUB $JS.API.CONSUMER.CREATE.{stream_name} 2\r\n{{}}\r\n"),
            "CONSUMER",
        ),
        // Readers may not make consumers either: a push consumer could deliver the stream
        // onto the append subject. They ask ledgerd for a pull consumer instead.
        (
            "auditor",
            format!("PUB $JS.API.CONSUMER.CREATE.{stream_name} 2\r\n{{}}\r\n"),
            "CONSUMER",
        ),
        (
            "projector",
            format!("PUB $JS.API.CONSUMER.CREATE.{stream_name}.x.y 2\r\n{{}}\r\n"),
            "CONSUMER",
        ),
        (
            "auditor",
            format!("PUB $JS.API.CONSUMER.DURABLE.CREATE.{stream_name}.x 2\r\n{{}}\r\n"),
            "CONSUMER",
        ),
        (
            "projector",
            format!("PUB $JS.API.CONSUMER.DELETE.{stream_name}.x 2\r\n{{}}\r\n"),
            "CONSUMER",
        ),
        // The console (`probity serve --nats`) hands on appends and reads the stream: it may
        // not write the records, read others' replies, make consumers or attach cosignatures.
        (
            "console",
            format!("PUB {records} 2\r\n{{}}\r\n"),
            records.as_str(),
        ),
        (
            "console",
            "SUB _INBOX_clerk.> 1\r\n".to_owned(),
            "_INBOX_clerk.>",
        ),
        (
            "console",
            format!("PUB $JS.API.CONSUMER.CREATE.{stream_name} 2\r\n{{}}\r\n"),
            "CONSUMER",
        ),
        (
            "console",
            format!("PUB $JS.API.STREAM.PURGE.{stream_name} 2\r\n{{}}\r\n"),
            "PURGE",
        ),
        (
            "console",
            format!("PUB {} 2\r\n{{}}\r\n", wire::cosign_subject(LEDGER)),
            "cosign",
        ),
    ] {
        let lines = raw(&nats, user, &commands);
        assert!(violated(&lines, what), "{user} {commands:?}: {lines:?}");
    }

    // Still answering, and nothing but the records in the stream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    match append(&clerk, h.request("canary", "CASE-3", &h.clerk))
        .await
        .unwrap()
    {
        Reply::Ok(receipt) => assert_eq!(receipt.seq.0, 5, "nothing else was appended"),
        Reply::Error(e) => panic!("{e:?}"),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let messages = loop {
        let messages = stream_messages(&auditor).await;
        if messages.len() >= 6 || Instant::now() > deadline {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(messages.len(), 6, "the stream is the book, nothing more");
    for (seq, (_, payload)) in messages.iter().enumerate() {
        let record = Record::from_json(payload).unwrap_or_else(|e| panic!("message {seq}: {e}"));
        assert_eq!(record.seq.0, seq as u64);
    }
    // A clerk's command that its user may not send says so at once, not after a timeout.
    let checkpoint: Reply<wire::CheckpointReply> = probity_testkit::ledgerd::request_raw(
        &clerk,
        wire::checkpoint_subject(LEDGER),
        b"{}".to_vec(),
    )
    .await
    .unwrap();
    let Reply::Ok(checkpoint) = checkpoint else {
        panic!("{checkpoint:?}")
    };
    let note = data.path().join("latest.note");
    std::fs::write(&note, checkpoint.note).unwrap();
    let started = Instant::now();
    let denied = std::process::Command::new(workspace_binary("probity"))
        .args([
            "cosign",
            note.to_str().unwrap(),
            "--nats",
            &url(&nats, "clerk"),
        ])
        .args(["--ledger", LEDGER])
        .env_remove("PROBITY_DATA_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert_eq!(denied.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(!stderr.contains(&password("clerk")), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The auditor verifies the live ledger from its stream, through the consumer ledgerd makes.
    let verified = std::process::Command::new(workspace_binary("probity"))
        .args([
            "verify",
            "--nats",
            &url(&nats, "auditor"),
            "--ledger",
            LEDGER,
            "--json",
        ])
        .env_remove("PROBITY_DATA_DIR")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&verified.stderr)));
    assert_eq!(verified.status.code(), Some(0), "{report}");
    assert_eq!(report["records"], 6, "{report}");

    // With the auditor's credentials only: export, prove and a witness request against the
    // running ledger, each then checked offline against the ledger key the auditor pins.
    let probity = |args: &[&str]| {
        let output = std::process::Command::new(workspace_binary("probity"))
            .args(args)
            .env_remove("PROBITY_DATA_DIR")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    };
    let auditor_url = url(&nats, "auditor");
    let live = ["--nats", auditor_url.as_str(), "--ledger", LEDGER];
    let vkey =
        probity_core::checkpoint::NoteSigner::new(probity_testkit::ORIGIN, h.ledger_key.clone())
            .verifier_key()
            .to_string();
    let export = data.path().join("live.jsonl");
    let (code, text) =
        probity(&[&["export", "--out", export.to_str().unwrap()], &live[..]].concat());
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = probity(&[
        "verify",
        export.to_str().unwrap(),
        "--ledger-vkey",
        &vkey,
        "--json",
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("\"records\": 6"), "{text}");
    let bundle = data.path().join("live.tlog-proof");
    let (code, text) = probity(
        &[
            &["prove", "--seq", "5", "--out", bundle.to_str().unwrap()],
            &live[..],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = probity(&[
        "verify-proof",
        bundle.to_str().unwrap(),
        "--ledger-vkey",
        &vkey,
    ]);
    assert_eq!(code, Some(0), "{text}");
    let request = data.path().join("live.request");
    let witness_key = data.path().join("witness.key");
    probity_ledger::keyfile::write_key(
        &witness_key,
        &probity_core::keys::SecretKey::from_seed(&[77; 32]),
        false,
    )
    .unwrap();
    let state = data.path().join("witness.state");
    // The auditor asks ledgerd for a request from `old`, and cosigns it as a witness.
    let witness_round = |old: &str| {
        let (code, text) = probity(
            &[
                &["witness-request", "--old", old],
                &["--out", request.to_str().unwrap()][..],
                &live[..],
            ]
            .concat(),
        );
        assert_eq!(code, Some(0), "{text}");
        let body = std::fs::read_to_string(&request).unwrap();
        let (code, text) = probity(&[
            "witness",
            request.to_str().unwrap(),
            "--key",
            witness_key.to_str().unwrap(),
            "--name",
            "audit.example/w1",
            "--ledger-vkey",
            &vkey,
            "--state",
            state.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code, Some(0), "{text}");
        (body, text)
    };
    let (_, cosigned) = witness_round("0");
    assert!(cosigned.contains("\"size\":6"), "{cosigned}");
    // The ledger grows; the next request proves consistency from the size cosigned (ledgerd's
    // consistency proof, with the auditor's credentials), and the witness cosigns it.
    match append(&clerk, h.request("after-witness", "CASE-4", &h.clerk))
        .await
        .unwrap()
    {
        Reply::Ok(_) => {}
        Reply::Error(e) => panic!("{e:?}"),
    }
    let (body, cosigned) = witness_round("6");
    assert!(
        body.starts_with("old 6\n") && !body.starts_with("old 6\n\n"),
        "a consistency proof from 6: {body}"
    );
    assert!(cosigned.contains("\"size\":7"), "{cosigned}");
    // A size the ledger has not reached is refused as bad input, and no request is written.
    std::fs::remove_file(&request).unwrap();
    let (code, text) = probity(
        &[
            &["witness-request", "--old", "99"],
            &["--out", request.to_str().unwrap()][..],
            &live[..],
        ]
        .concat(),
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("--old 99 is beyond ledgerd's latest checkpoint of 7 records"),
        "{text}"
    );
    assert!(!request.exists());
    // The sunshine publication, from the stream, with the auditor's credentials.
    let ocds = data.path().join("live-ocds.json");
    let (code, text) = probity(&[&["ocds", "--out", ocds.to_str().unwrap()], &live[..]].concat());
    assert_eq!(code, Some(0), "{text}");
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ocds).unwrap()).unwrap();
    assert!(
        !package["releases"].as_array().unwrap().is_empty(),
        "{package}"
    );
    // A range export needs the data directory.
    let (code, text) = probity(
        &[
            &["export", "--out", export.to_str().unwrap(), "--from", "2"],
            &live[..],
        ]
        .concat(),
    );
    assert_eq!(code, Some(2), "{text}");

    let log = ledgerd.log_text();
    assert!(
        log.contains("its reply subject is not an inbox"),
        "ledgerd says what it refused:\n{log}"
    );
}
