//! `probity serve --nats URL --ledger ID` in front of a real ledgerd, through the shipped
//! `deploy/nats` configuration as the `console` user: it answers as `probity serve --data`
//! answers on the same ledger (from a copy it verified record by record against ledgerd's
//! checkpoints), hands appends of events already signed to ledgerd and shows them at once,
//! passes ledgerd's refusals on with their codes, resumes its copy after a restart, and
//! refuses a ledger signed by another key than the pinned one, or another ledger under the
//! same name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serving;

use std::path::{Path, PathBuf};

use probity_testkit::ledgerd::Ledgerd;
use probity_testkit::nats::NatsServer;
use serde_json::Value;
use serving::{check_in, demo, signed, Server};

fn sibling_binary(name: &str) -> PathBuf {
    let path = Path::new(serving::BIN).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is not built; run the workspace tests (cargo nextest run --workspace)",
        path.display()
    );
    path
}

/// ledgerd on `data`, connected as the shipped `ledgerd` user.
fn start_ledgerd(nats: &NatsServer, data: &Path) -> Ledgerd {
    Ledgerd::spawn(
        sibling_binary("ledgerd").to_str().unwrap(),
        data,
        &url(nats, "ledgerd"),
        &[],
    )
}

fn url(nats: &NatsServer, user: &str) -> String {
    format!(
        "nats://{user}:{user}-trial-password@127.0.0.1:{}",
        nats.port()
    )
}

/// The reads compared between the two modes.
const READS: [&str; 9] = [
    "/api/status",
    "/api/checkpoint",
    "/api/proof/inclusion?seq=3",
    "/api/blacklist",
    "/api/findings",
    "/api/suppliers/91330100MA2H0007XM",
    "/api/reps/REP-R7",
    "/api/cases/CASE-1",
    "/api/keys",
];

fn answers(server: &Server) -> Vec<Value> {
    READS
        .iter()
        .map(|path| {
            let answer = server.get(path, None);
            assert_eq!(answer.status, 200, "{path}: {}", answer.text());
            let mut json = answer.json();
            // "As of now" answers carry the moment they were asked.
            if let Some(ok) = json["ok"].as_object_mut() {
                ok.remove("at");
            }
            json
        })
        .collect()
}

/// `probity serve --nats … --copy COPY` as the console user, plus `extra`.
fn console_args(nats: &NatsServer, copy: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--nats",
        &url(nats, "console"),
        "--ledger",
        "city-hospital",
        "--copy",
        copy.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

fn start_console(nats: &NatsServer, copy: &Path, log: &Path) -> Server {
    let args = console_args(nats, copy, &[]);
    Server::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), log)
}

/// `probity serve --nats …` that must refuse to start: its stderr.
fn refused_to_serve(nats: &NatsServer, copy: &Path, extra: &[&str]) -> String {
    let mut args = vec!["serve".to_owned()];
    args.extend(console_args(nats, copy, extra));
    let (code, _, stderr) = serving::probity(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ne!(code, 0, "{stderr}");
    stderr
}

#[test]
fn a_console_in_front_of_ledgerd_serves_a_verified_copy_and_hands_appends_to_ledgerd() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let embedded = Server::start(&data, None);
    let expected = answers(&embedded);
    embedded.stop();

    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats/single.conf");
    let nats = NatsServer::start_with_config(&conf);
    let ledgerd = start_ledgerd(&nats, &data);
    // Pinned to a key that is not the ledger's, the copy refuses the stream's genesis (and
    // would refuse ledgerd's checkpoints): nothing is served.
    let wrong_key = data.join("keys/witness.vkey");
    let stderr = refused_to_serve(
        &nats,
        &dir.path().join("wrong-copy"),
        &["--ledger-vkey", wrong_key.to_str().unwrap()],
    );
    assert!(stderr.contains("not the pinned"), "{stderr}");

    // A NATS URL that is none, and a pinned key that is none: refused before anything.
    let (code, _, stderr) = serving::probity(&[
        "serve",
        "--nats",
        "nats://[bad",
        "--ledger",
        "city-hospital",
        "--copy",
        dir.path().join("bad-url").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!dir.path().join("bad-url").exists(), "nothing made");
    let stderr = refused_to_serve(
        &nats,
        &dir.path().join("bad-key"),
        &["--ledger-vkey", "not-a-key"],
    );
    assert!(stderr.contains("--ledger-vkey"), "{stderr}");
    assert!(!dir.path().join("bad-key").exists(), "nothing made");
    // A ledger's own data directory is not taken for a copy.
    let stderr = refused_to_serve(&nats, &data, &[]);
    assert!(stderr.contains("data directory"), "{stderr}");

    let copy = dir.path().join("copy");
    let log = dir.path().join("console.log");
    let server = start_console(&nats, &copy, &log);

    // Every read as the data directory's own server gave it.
    for ((path, got), want) in READS.iter().zip(answers(&server)).zip(&expected) {
        assert_eq!(&got, want, "{path}");
    }
    let ready = server.get("/readyz", None);
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(
        ready.json()["copy_stopped"],
        Value::Null,
        "{}",
        ready.text()
    );
    let metrics = server.get("/metrics", None).text();
    assert!(metrics.contains("probity_copy_stopped 0"), "{metrics}");
    let ledger_page = server.get("/ledger", None).text();
    assert!(ledger_page.contains("已验证副本"), "{ledger_page}");
    let page = server.get("/", None);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("黑名单"), "{}", page.text());

    // A clerk's event, signed where the clerk is, goes to ledgerd; its receipt comes back and
    // the record is in the copy when the answer arrives.
    let size = server.size();
    let clerk = data.join("keys/clerk-zhou.key");
    let request = signed(&clerk, "rep.checked_in", "nats-walk-in-1", check_in("V-N1"));
    let answer = server.post("/api/events", None, request.to_string().as_bytes());
    assert_eq!(answer.status, 200, "{}", answer.text());
    let receipt = answer.json()["ok"].clone();
    assert_eq!(receipt["seq"], size, "{receipt}");
    let record = server.get(&format!("/api/records/{size}"), None);
    assert_eq!(record.status, 200, "{}", record.text());
    assert_eq!(server.size(), size + 1);
    let rep = server.get("/api/reps/REP-R7", None).json();
    assert!(rep.to_string().contains("V-N1"), "{rep}");

    // ledgerd's refusals, with their codes: the same id for another event, a wrong role.
    let other = signed(&clerk, "rep.checked_in", "nats-walk-in-1", check_in("V-N2"));
    let refused = server.post("/api/events", None, other.to_string().as_bytes());
    assert_eq!(refused.code(), "id-conflict", "{}", refused.text());
    let sanction = signed(
        &clerk,
        "supplier.violation_recorded",
        "nats-wrong-role-1",
        serde_json::json!({"uscc": "91330100MA2H0007XM", "kind": "kickback", "description": "x", "evidence": ["file-1"]}),
    );
    let refused = server.post("/api/events", None, sanction.to_string().as_bytes());
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (422, "wrong-role"),
        "{}",
        refused.text()
    );
    // Bad input is refused here with its code, as on a data directory, and reaches no one.
    for (body, code) in [
        (&b"{"[..], "malformed-json"),
        (&b"{\"event\": {}}"[..], "malformed-request"),
    ] {
        let refused = server.post("/api/events", None, body);
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (400, code),
            "{}",
            refused.text()
        );
    }
    assert_eq!(server.size(), size + 1, "nothing appended");
    // A batch: one accepted, one refused, one reply each.
    let batch = serde_json::json!({"events": [
        signed(&clerk, "rep.checked_in", "nats-walk-in-3", check_in("V-N3")),
        sanction,
    ]});
    let replies = server.post("/api/events/batch", None, batch.to_string().as_bytes());
    assert_eq!(replies.status, 200, "{}", replies.text());
    let replies = replies.json()["ok"].clone();
    assert_eq!(replies[0]["ok"]["seq"], size + 1, "{replies}");
    assert_eq!(replies[1]["error"]["code"], "wrong-role", "{replies}");
    assert_eq!(server.size(), size + 2);

    // ledgerd's checkpoint covering them reaches the copy (checked there), so a proof bundle
    // and an export from the console verify offline against the ledger's key.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get("/api/checkpoint", None).json()["ok"]["size"] != size + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of {} records",
            size + 2
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let vkey = data.join("ledger.vkey");
    let bundle = server.get(&format!("/api/records/{size}/proof-bundle"), None);
    assert_eq!(bundle.status, 200, "{}", bundle.text());
    let bundle_path = dir.path().join("walk-in.tlog-proof");
    std::fs::write(&bundle_path, &bundle.body).unwrap();
    let export = server.get("/api/export", None);
    assert_eq!(export.status, 200);
    let export_path = dir.path().join("copy-export.jsonl");
    std::fs::write(&export_path, &export.body).unwrap();
    for (command, file) in [("verify-proof", &bundle_path), ("verify", &export_path)] {
        let (code, out, stderr) = serving::probity(&[
            command,
            file.to_str().unwrap(),
            "--ledger-vkey",
            vkey.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{command}: {out}{stderr}");
    }
    let stopped = server.stop();
    assert!(!stopped.contains("panicked"), "{stopped}");

    // Restarted, the copy resumes where it ended (nothing copied twice) and serves again.
    let server = start_console(&nats, &copy, &log);
    assert_eq!(server.size(), size + 2);
    let record = server.get(&format!("/api/records/{}", size + 1), None);
    assert_eq!(record.status, 200, "{}", record.text());
    drop(server);
    drop(ledgerd);
    drop(nats);

    // Another ledger under the same name (a second demo: fresh keys, fewer records than the
    // copy holds) behind the same URL: the copy refuses it and nothing is served.
    let other = tempfile::tempdir().unwrap();
    let other_data = demo(other.path());
    let nats = NatsServer::start_with_config(&conf);
    let _ledgerd = start_ledgerd(&nats, &other_data);
    // Once that ledgerd answers (before, the copy would be served as it is, and stopped by
    // the follower's first look at the checkpoint instead).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while serving::probity(&[
        "status",
        "--nats",
        &url(&nats, "clerk"),
        "--ledger",
        "city-hospital",
    ])
    .0 != 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the other ledgerd never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let stderr = refused_to_serve(&nats, &copy, &[]);
    // Refused by its checkpoint: signed by another key, or older than the copy's.
    assert!(stderr.contains("the ledger's copy stopped"), "{stderr}");
}

#[test]
fn the_console_keeps_following_when_nats_and_ledgerd_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats/single.conf");
    let mut nats = NatsServer::start_with_config(&conf);
    let mut ledgerd = start_ledgerd(&nats, &data);
    let server = start_console(&nats, &dir.path().join("copy"), &dir.path().join("c.log"));
    let size = server.size();
    let clerk = data.join("keys/clerk-zhou.key");
    let append = |id: &str, visit: &str| {
        let request = signed(&clerk, "rep.checked_in", id, check_in(visit));
        server.post("/api/events", None, request.to_string().as_bytes())
    };

    // ledgerd away: appends are refused as unavailable, reads still answer from the copy.
    assert_eq!(ledgerd.terminate(), Some(0));
    let refused = append("restart-1", "V-R1");
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (503, "unavailable"),
        "{}",
        refused.text()
    );
    assert_eq!(server.size(), size);

    // The console restarted while ledgerd is away serves its copy as it is.
    let server = {
        server.stop();
        start_console(&nats, &dir.path().join("copy"), &dir.path().join("c2.log"))
    };
    assert_eq!(server.size(), size);
    let append = |id: &str, visit: &str| {
        let request = signed(&clerk, "rep.checked_in", id, check_in(visit));
        server.post("/api/events", None, request.to_string().as_bytes())
    };

    // NATS restarted, ledgerd back: the copy follows again, and appends go through.
    nats.restart();
    let _ledgerd = start_ledgerd(&nats, &data);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let receipt = loop {
        let answer = append("restart-2", "V-R2");
        if answer.status == 200 {
            break answer.json()["ok"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no append after the restart: {}",
            answer.text()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(receipt["seq"], size, "{receipt}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.size() <= size {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy did not follow"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Ready again once the views have applied it too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get("/readyz", None).status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            server.get("/readyz", None).text()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
