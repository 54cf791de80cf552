//! The `probity` binary as a clerk and an administrator use it: embedded (`--data`) and over
//! NATS against a real ledgerd; receipts, refusals with codes and exit codes, key files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use probity_testkit::ledgerd::{connect, wait_ready, Ledgerd};
use probity_testkit::nats::NatsServer;
use serde_json::Value;

fn probity(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_probity"))
        .current_dir(dir)
        .args(args)
        .env_remove("PROBITY_DATA_DIR")
        .env_remove("PROBITY_NATS_URL")
        .env_remove("PROBITY_LEDGER")
        .output()
        .unwrap()
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&ok(output)).unwrap()
}

/// `probity record --data h --key clerk.key --type purchase.requested --payload PAYLOAD` and
/// `extra`, in `dir`.
fn record_request(dir: &Path, payload: &str, extra: &[&str]) -> Output {
    let args = [
        "record",
        "--data",
        "h",
        "--key",
        "clerk.key",
        "--type",
        "purchase.requested",
        "--payload",
        payload,
    ];
    probity(dir, &[&args[..], extra].concat())
}

const REQUEST: &str = r#"{"case": "CASE-1", "department": "cardiology", "requester": "S-0207",
  "item": "infusion pump", "category": "A0232", "quantity": 6,
  "estimated": {"fen": 18000000, "currency": "CNY"}, "budget_project": "BP-7",
  "justification": "replacement of worn units"}"#;

/// keygen admin and clerk, init, enrol the clerk.
fn set_up(dir: &Path) {
    ok(&probity(dir, &["keygen", "--out", "admin.key"]));
    ok(&probity(dir, &["keygen", "--out", "clerk.key"]));
    ok(&probity(
        dir,
        &[
            "init",
            "--data",
            "h",
            "--ledger",
            "test-hospital",
            "--admin-key",
            "admin.key",
        ],
    ));
    ok(&probity(
        dir,
        &[
            "enroll",
            "--data",
            "h",
            "--key",
            "admin.key",
            "--public-key",
            "clerk.key.pub",
            "--role",
            "clerk",
            "--holder",
            "Li Na",
        ],
    ));
}

#[test]
fn a_retry_by_id_gets_the_original_receipt_whatever_the_defaulted_time() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    let record = |extra: &[&str]| {
        record_request(
            dir,
            REQUEST,
            &[&["--id", "req-retry", "--json"][..], extra].concat(),
        )
    };
    let first = json(&record(&[]));
    assert_eq!(first["duplicate"], false);
    // Sent again: occurred_at defaults to the new time of sending, the content is the same.
    let again = json(&record(&[]));
    assert_eq!(
        (&again["seq"], &again["hash"], &again["duplicate"]),
        (&first["seq"], &first["hash"], &Value::Bool(true))
    );
    // A time the user states is content: another one is a conflict.
    let stated = record(&["--occurred-at", "2026-03-02T09:00:00+08:00"]);
    assert_eq!(stated.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&stated.stderr).contains("id-conflict"),
        "{}",
        String::from_utf8_lossy(&stated.stderr)
    );
    // So is other content under the same id.
    let other = record_request(
        dir,
        &REQUEST.replace("CASE-1", "CASE-9"),
        &["--id", "req-retry"],
    );
    assert_eq!(other.status.code(), Some(1));
}

#[test]
fn a_book_that_lost_acknowledged_records_refuses_appends_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    let acked_path = dir.join("h/book.acked");
    let acked = std::fs::read_to_string(&acked_path).unwrap();
    assert!(acked.starts_with("probity-acked/1 2 "), "{acked}");
    // As if sled's recovery had dropped records the ledger had given receipts for.
    std::fs::write(&acked_path, acked.replacen(" 2 ", " 7 ", 1)).unwrap();
    let status = probity(dir, &["status", "--data", "h"]);
    assert_eq!(status.status.code(), Some(4));
    let message = String::from_utf8_lossy(&status.stderr);
    assert!(
        message.contains("holds 2 records but 7 were acknowledged"),
        "{message}"
    );
    let record = record_request(dir, REQUEST, &[]);
    assert_eq!(record.status.code(), Some(4));
    let verified = probity(dir, &["verify", "--data", "h", "--json"]);
    assert_eq!(verified.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(report["records"], 2);
    assert_eq!(report["findings"][0]["code"], "storage-damaged", "{report}");
    assert_eq!(report["findings"][0]["seq"], 2, "{report}");
}

#[test]
fn an_event_file_of_the_wrong_shape_is_refused_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    let good: Value = serde_json::json!({"type": "purchase.requested",
        "payload": serde_json::from_str::<Value>(REQUEST).unwrap(), "id": "file-1"});
    for (change, named) in [
        (
            serde_json::json!({"schema": 4_294_967_297_u64}),
            "4294967297",
        ),
        (serde_json::json!({"id": 5}), "invalid type"),
        (serde_json::json!({"colour": "red"}), "colour"),
        (
            serde_json::json!({"expect": {"case:CASE-1": "3"}}),
            "invalid type",
        ),
        (
            serde_json::json!({"subjects": [["CASE-1"]]}),
            "invalid type",
        ),
    ] {
        let mut file = good.clone();
        for (k, v) in change.as_object().unwrap() {
            file[k] = v.clone();
        }
        std::fs::write(dir.join("event.json"), file.to_string()).unwrap();
        let output = probity(
            dir,
            &[
                "record",
                "--data",
                "h",
                "--key",
                "clerk.key",
                "--file",
                "event.json",
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{change}: {stderr}");
        assert!(stderr.contains(named), "{change}: {stderr}");
    }
    let status = json(&probity(dir, &["status", "--data", "h", "--json"]));
    assert_eq!(status["size"], 2, "nothing was recorded");
}

/// A `--subject` that is not `kind:id` (unknown kind, no colon, an id with a space) is refused
/// before anything is signed, naming the accepted forms.
#[test]
fn a_subject_not_written_kind_colon_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    for bad in ["vendor:S1", "CASE-1", "case:a b", "staff:"] {
        let output = record_request(dir, REQUEST, &["--subject", bad]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--subject"), "{bad}: {stderr}");
    }
    let output = record_request(dir, REQUEST, &["--subject", "vendor:S1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("supplier:ID, rep:ID, case:ID or staff:ID"),
        "{stderr}"
    );
    let status = json(&probity(dir, &["status", "--data", "h", "--json"]));
    assert_eq!(status["size"], 2, "nothing was recorded");
}

#[test]
fn a_flag_wins_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_probity"));
        command.current_dir(dir).args(args);
        command
            .env_remove("PROBITY_DATA_DIR")
            .env_remove("PROBITY_NATS_URL");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let nats_env = [
        ("PROBITY_NATS_URL", "nats://127.0.0.1:1"),
        ("PROBITY_LEDGER", "x"),
    ];
    let status = run(&["status", "--data", "h", "--json"], &nats_env);
    assert_eq!(json(&status)["size"], 2);
    // Without a flag, the one variable set says where; both set is a question to answer.
    let from_env = run(&["status", "--json"], &[("PROBITY_DATA_DIR", "h")]);
    assert_eq!(json(&from_env)["size"], 2);
    let both = run(
        &["status"],
        &[
            ("PROBITY_DATA_DIR", "h"),
            ("PROBITY_NATS_URL", "nats://127.0.0.1:1"),
        ],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("--data DIR or --nats URL"));
}

#[test]
fn a_clerk_records_and_gets_a_receipt_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    // init leaves the ledger's public key beside the book, for auditors to pin.
    ok(&probity(
        dir,
        &["verify", "--data", "h", "--ledger-vkey", "h/ledger.vkey"],
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in ["admin.key", "clerk.key", "h/ledger.key"] {
            assert_eq!(
                std::fs::metadata(dir.join(key))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600,
                "{key}"
            );
        }
    }
    let receipt = json(&probity(
        dir,
        &[
            "record",
            "--data",
            "h",
            "--key",
            "clerk.key",
            "--type",
            "purchase.requested",
            "--payload",
            REQUEST,
            "--id",
            "req-1",
            "--json",
        ],
    ));
    assert_eq!(receipt["seq"], 2);
    assert_eq!(receipt["duplicate"], false);
    let status = json(&probity(dir, &["status", "--data", "h", "--json"]));
    assert_eq!(status["size"], 3);
    assert_eq!(status["active_keys"], 2);

    // From an event file, with an expected version.
    std::fs::write(
        dir.join("event.json"),
        format!(
            r#"{{"type": "purchase.requested", "id": "req-2", "payload": {}}}"#,
            REQUEST.replace("CASE-1", "CASE-2")
        ),
    )
    .unwrap();
    let from_file = json(&probity(
        dir,
        &[
            "record",
            "--data",
            "h",
            "--key",
            "clerk.key",
            "--file",
            "event.json",
            "--expect",
            "case:CASE-2=0",
            "--json",
        ],
    ));
    assert_eq!(from_file["seq"], 3);
    let stale = probity(
        dir,
        &[
            "record",
            "--data",
            "h",
            "--key",
            "clerk.key",
            "--type",
            "purchase.requested",
            "--payload",
            &REQUEST.replace("CASE-1", "CASE-2"),
            "--expect",
            "case:CASE-2=0",
        ],
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("version-mismatch"));

    // The version to expect is read, not guessed: what subject-version says is accepted.
    let version = json(&probity(
        dir,
        &["subject-version", "case:CASE-2", "--data", "h", "--json"],
    ));
    assert_eq!(
        version,
        serde_json::json!({"subject": "case:CASE-2", "version": 1, "size": 4})
    );
    let expected = format!("case:CASE-2={}", version["version"]);
    let next = probity(
        dir,
        &[
            "record",
            "--data",
            "h",
            "--key",
            "clerk.key",
            "--type",
            "purchase.requested",
            "--payload",
            &REQUEST.replace("CASE-1", "CASE-2"),
            "--expect",
            &expected,
        ],
    );
    assert_eq!(
        next.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    let text = probity(dir, &["subject-version", "case:CASE-2", "--data", "h"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("--expect case:CASE-2=2"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    // A subject that is not one is the asker's mistake (exit 2), and names the form.
    let bad = probity(dir, &["subject-version", "CASE-2", "--data", "h"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("case:ID"));
}

#[test]
fn refusals_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    let sanction = r#"{"sanction": "S-1", "uscc": "91350100M000100Y43", "kind": "blacklist",
        "effective_from": "2026-01-02T00:00:00+08:00", "duration": {"unit": "years", "count": 2},
        "conditions": [], "decision": "D-1", "reason": "kickbacks"}"#;
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![
                "record",
                "--data",
                "h",
                "--key",
                "clerk.key",
                "--type",
                "supplier.sanction_imposed",
                "--payload",
                sanction,
            ],
            1,
            "wrong-role",
        ),
        (
            vec![
                "record",
                "--data",
                "h",
                "--key",
                "clerk.key",
                "--type",
                "purchase.requested",
                "--payload",
                r#"{"case": "CASE-1"}"#,
            ],
            1,
            "field `department`",
        ),
        (
            vec![
                "record",
                "--data",
                "h",
                "--key",
                "clerk.key",
                "--type",
                "purchase.requested",
                "--payload",
                "{not json",
            ],
            2,
            "payload is not JSON",
        ),
        (
            vec![
                "record",
                "--data",
                "h",
                "--key",
                "missing.key",
                "--type",
                "purchase.requested",
                "--payload",
                REQUEST,
            ],
            2,
            "missing.key",
        ),
        (
            vec![
                "record",
                "--key",
                "clerk.key",
                "--type",
                "purchase.requested",
                "--payload",
                REQUEST,
            ],
            2,
            "--data DIR or --nats URL",
        ),
        (
            vec![
                "enroll",
                "--data",
                "h",
                "--key",
                "clerk.key",
                "--public-key",
                "admin.key.pub",
                "--role",
                "clerk",
                "--holder",
                "x",
            ],
            1,
            "wrong-role",
        ),
        (
            vec![
                "enroll",
                "--data",
                "h",
                "--key",
                "admin.key",
                "--public-key",
                "clerk.key.pub",
                "--role",
                "boss",
                "--holder",
                "x",
            ],
            2,
            "unknown role",
        ),
        (vec!["status", "--data", "nowhere"], 2, "nowhere"),
    ];
    for (args, code, says) in cases {
        let output = probity(dir, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    }
    let status = json(&probity(dir, &["status", "--data", "h", "--json"]));
    assert_eq!(status["size"], 2, "refusals changed nothing");

    // A revoked clerk is refused.
    let clerk_id = json(&probity(dir, &["keygen", "--out", "clerk2.key", "--json"]))["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&probity(
        dir,
        &[
            "enroll",
            "--data",
            "h",
            "--key",
            "admin.key",
            "--public-key",
            "clerk2.key.pub",
            "--role",
            "clerk",
            "--holder",
            "Wu",
        ],
    ));
    ok(&probity(
        dir,
        &[
            "revoke",
            "--data",
            "h",
            "--key",
            "admin.key",
            "--key-id",
            &clerk_id,
            "--reason",
            "left",
        ],
    ));
    let output = probity(
        dir,
        &[
            "record",
            "--data",
            "h",
            "--key",
            "clerk2.key",
            "--type",
            "purchase.requested",
            "--payload",
            REQUEST,
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("revoked-key"));
}

#[test]
fn retry_with_the_same_id_and_time_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    let args = [
        "record",
        "--data",
        "h",
        "--key",
        "clerk.key",
        "--type",
        "purchase.requested",
        "--payload",
        REQUEST,
        "--id",
        "req-9",
        "--occurred-at",
        "2026-01-02T09:00:00+08:00",
        "--json",
    ];
    let first = json(&probity(dir, &args));
    let second = json(&probity(dir, &args));
    assert_eq!(first["hash"], second["hash"]);
    assert_eq!(second["duplicate"], true);
    // Same id, other content: a conflict.
    let mut other = args.to_vec();
    other[12] = "2026-01-02T10:00:00+08:00";
    let output = probity(dir, &other);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("id-conflict"));
}

fn sibling_binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_probity")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is not built; run the workspace tests (cargo nextest run --workspace)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_records_through_ledgerd_over_nats() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let url = nats.url();
    tokio::task::spawn_blocking({
        let path = path.clone();
        move || set_up(&path)
    })
    .await
    .unwrap();
    let ledgerd = Ledgerd::spawn(
        sibling_binary("ledgerd").to_str().unwrap(),
        &path.join("h"),
        &url,
        &[],
    );
    let client = connect(&url).await;
    wait_ready(&client, &ledgerd).await;
    let receipt = tokio::task::spawn_blocking({
        let (path, url) = (path.clone(), url.clone());
        move || {
            json(&probity(
                &path,
                &[
                    "record",
                    "--nats",
                    &url,
                    "--ledger",
                    "test-hospital",
                    "--key",
                    "clerk.key",
                    "--type",
                    "purchase.requested",
                    "--payload",
                    REQUEST,
                    "--json",
                ],
            ))
        }
    })
    .await
    .unwrap();
    assert_eq!(receipt["seq"], 2);
    let (status, refused) = tokio::task::spawn_blocking({
        let (path, url) = (path.clone(), url.clone());
        move || {
            let status = json(&probity(
                &path,
                &[
                    "status",
                    "--nats",
                    &url,
                    "--ledger",
                    "test-hospital",
                    "--json",
                ],
            ));
            let refused = probity(
                &path,
                &[
                    "record",
                    "--nats",
                    &url,
                    "--ledger",
                    "test-hospital",
                    "--key",
                    "admin.key",
                    "--type",
                    "purchase.requested",
                    "--payload",
                    REQUEST,
                ],
            );
            (status, refused)
        }
    })
    .await
    .unwrap();
    assert_eq!(status["size"], 3);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("wrong-role"));

    // An auditor verifies the live ledger from its JetStream copy, against ledgerd's checkpoint
    // and the ledger key they hold; another ledger's key finds the checkpoint's signature bad.
    let (verified, wrong_key) = tokio::task::spawn_blocking({
        let (path, url) = (path.clone(), url.clone());
        move || {
            let ledger_key =
                probity_ledger::keyfile::read_key(&path.join("h").join("ledger.key")).unwrap();
            let ledger_vkey = probity_core::checkpoint::VerifierKey::ed25519(
                "probity.example/test-hospital",
                ledger_key.public_key(),
            )
            .to_string();
            let nats = [
                "verify",
                "--nats",
                &url,
                "--ledger",
                "test-hospital",
                "--json",
            ];
            let verified = probity(
                &path,
                &[&nats[..], &["--ledger-vkey", &ledger_vkey]].concat(),
            );
            let other = probity_core::checkpoint::VerifierKey::ed25519(
                "probity.example/test-hospital",
                probity_core::keys::SecretKey::from_seed(&[99; 32]).public_key(),
            )
            .to_string();
            let wrong_key = probity(&path, &[&nats[..], &["--ledger-vkey", &other]].concat());
            (verified, wrong_key)
        }
    })
    .await
    .unwrap();
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(report["records"], 3);
    assert!(
        report["checkpoints_checked"].as_u64() >= Some(1),
        "{report}"
    );
    assert_eq!(wrong_key.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&wrong_key.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        ["ledger-key-mismatch", "checkpoint-signature", "unanchored"],
        "{report}"
    );

    // A department that recorded offline sends its file in batches over NATS.
    tokio::task::spawn_blocking(move || {
        record_a_batch(&path, &["--nats", &url, "--ledger", "test-hospital"], 3)
    })
    .await
    .unwrap();
}

/// `record --batch` at `at` (the ledger's next seq `first`): each line signed and sent, the bad
/// one refused on its own; sent again, the good ones are duplicates; a file with a line that
/// is not JSON sends nothing.
fn record_a_batch(dir: &Path, at: &[&str], first: u64) {
    let line = |id: &str, case: &str, quantity: Value, expect: Value| {
        let mut payload: Value = serde_json::from_str(REQUEST).unwrap();
        payload["case"] = case.into();
        payload["quantity"] = quantity;
        serde_json::json!({"type": "purchase.requested", "id": id, "payload": payload,
            "occurred_at": "2026-03-02T09:00:00+08:00", "expect": expect})
        .to_string()
    };
    let file = [
        line("off-1", "CASE-OFF-1", 2.into(), serde_json::json!({})),
        String::new(),
        line("off-2", "CASE-OFF-2", "six".into(), serde_json::json!({})),
        line(
            "off-3",
            "CASE-OFF-3",
            1.into(),
            serde_json::json!({"case:CASE-OFF-3": 0}),
        ),
        // No occurred_at: the tool fills in the time of sending, which differs on a resend.
        serde_json::json!({"type": "purchase.requested", "id": "off-5",
            "payload": serde_json::from_str::<Value>(&REQUEST.replace("CASE-1", "CASE-OFF-5")).unwrap()})
        .to_string(),
    ]
    .join("\n");
    std::fs::write(dir.join("offline.jsonl"), file).unwrap();
    let send = |name: &str| {
        probity(
            dir,
            &[
                &["record", "--key", "clerk.key", "--batch", name, "--json"][..],
                at,
            ]
            .concat(),
        )
    };
    let outcome = |output: &Output| -> Vec<String> {
        let results: Value = serde_json::from_slice(&output.stdout).unwrap();
        results
            .as_array()
            .unwrap()
            .iter()
            .map(|r| match (&r["ok"], &r["error"]) {
                (Value::Object(ok), _) => {
                    format!("seq {} duplicate {}", ok["seq"], ok["duplicate"])
                }
                (_, error) => error["code"].as_str().unwrap().to_owned(),
            })
            .collect()
    };
    let sent = send("offline.jsonl");
    assert_eq!(
        sent.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(
        outcome(&sent),
        [
            format!("seq {first} duplicate false"),
            "schema-violation".into(),
            format!("seq {} duplicate false", first + 1),
            format!("seq {} duplicate false", first + 2),
        ]
    );
    let again = send("offline.jsonl");
    assert_eq!(
        outcome(&again),
        [
            format!("seq {first} duplicate true"),
            "schema-violation".into(),
            format!("seq {} duplicate true", first + 1),
            format!("seq {} duplicate true", first + 2),
        ]
    );
    std::fs::write(
        dir.join("broken.jsonl"),
        format!(
            "{}\n{{\"type\": ",
            line("off-4", "CASE-OFF-4", 1.into(), Value::Null)
        ),
    )
    .unwrap();
    let broken = send("broken.jsonl");
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("broken.jsonl line 2"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
    let status = json(&probity(dir, &[&["status", "--json"][..], at].concat()));
    assert_eq!(status["size"], first + 3, "the broken file sent nothing");
}

#[test]
fn a_department_records_a_batch_embedded() {
    let dir = tempfile::tempdir().unwrap();
    set_up(dir.path());
    record_a_batch(dir.path(), &["--data", "h"], 2);
    // Sent once more, as a person reads it: what each count is.
    let again = probity(
        dir.path(),
        &[
            "record",
            "--data",
            "h",
            "--key",
            "clerk.key",
            "--batch",
            "offline.jsonl",
        ],
    );
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("0 newly recorded, 3 already recorded before, 1 refused"),
        "{stdout}"
    );
}

/// The discipline office records a one-off warning with no duration (schema 2): the supplier
/// view shows it as one-off, never in force; a blacklisting without a duration is refused
/// naming the field, and nothing is recorded.
#[test]
fn a_one_off_warning_needs_no_duration() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    ok(&probity(dir, &["keygen", "--out", "office.key"]));
    ok(&probity(
        dir,
        &[
            "enroll",
            "--data",
            "h",
            "--key",
            "admin.key",
            "--public-key",
            "office.key.pub",
            "--role",
            "discipline_office",
            "--holder",
            "Wang Jun",
        ],
    ));
    let warning = r#"{"sanction": "S-W", "uscc": "91350100M000100Y43", "kind": "warning",
        "effective_from": "2026-01-02T00:00:00+08:00", "decision": "D-W", "reason": "late papers"}"#;
    let record = |payload: &str| {
        probity(
            dir,
            &[
                "record",
                "--data",
                "h",
                "--key",
                "office.key",
                "--type",
                "supplier.sanction_imposed",
                "--payload",
                payload,
            ],
        )
    };
    ok(&record(warning));
    let before = json(&probity(dir, &["status", "--data", "h", "--json"]))["size"].clone();
    let refused = record(&warning.replace("\"warning\"", "\"blacklist\""));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("duration"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        json(&probity(dir, &["status", "--data", "h", "--json"]))["size"],
        before
    );
    let shown = probity(dir, &["supplier", "--data", "h", "91350100M000100Y43"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("S-W warning on 2026-01-02 00:00:00"),
        "{text}"
    );
    assert!(text.contains("one-off"), "{text}");
    let eligibility = text.lines().find(|l| l.starts_with("eligible")).unwrap();
    assert!(
        !eligibility.contains("S-W") && !eligibility.contains("warning"),
        "a warning blocks nothing: {text}"
    );
}

/// `probity ocds` refuses what it cannot publish and writes nothing: a ledger with no
/// purchase case, and an OCID prefix not of the registered shape.
#[test]
fn ocds_refuses_bad_input_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    set_up(dir);
    let empty = probity(dir, &["ocds", "--data", "h", "--out", "empty.json"]);
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert_eq!(empty.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no purchase case"), "{stderr}");
    assert!(!dir.join("empty.json").exists());
    ok(&record_request(dir, REQUEST, &[]));
    let bad = probity(
        dir,
        &[
            "ocds",
            "--data",
            "h",
            "--out",
            "bad.json",
            "--ocid-prefix",
            "ocds-xyz",
        ],
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not an OCID prefix"), "{stderr}");
    assert!(!dir.join("bad.json").exists());
    ok(&probity(
        dir,
        &[
            "ocds",
            "--data",
            "h",
            "--out",
            "good.json",
            "--ocid-prefix",
            "ocds-a1b2c3",
        ],
    ));
    let package: Value =
        serde_json::from_slice(&std::fs::read(dir.join("good.json")).unwrap()).unwrap();
    assert_eq!(package["releases"][0]["ocid"], "ocds-a1b2c3-CASE-1");
}
