//! `probity demo`: the README's first command. It leaves a ledger every other command reads
//! with `--data DIR`, with fresh private keys (mode 0600), a witnessed checkpoint and an
//! export; it refuses to write over a directory that holds files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::probity;
use serde_json::Value;

#[test]
fn the_demo_leaves_a_ledger_every_command_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let data = data.to_str().unwrap();
    let (code, stdout, stderr) = probity(&["demo", "--data", data]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Imaging Systems Co  blacklist"), "{stdout}");
    assert!(stdout.contains("[split-purchase] High"), "{stdout}");
    // It ends with the one command that opens the console on its data.
    assert_eq!(
        stdout.lines().last().map(str::trim),
        Some(format!("probity serve --data {data}").as_str()),
        "{stdout}"
    );

    // Its findings are the demo scenario's (tests/scenarios/demo-hospital/expected.json).
    let (code, stdout, _) = probity(&["findings", "--data", data, "--json"]);
    assert_eq!(code, 0);
    let findings: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let mut rules: Vec<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "consumables-ratio",
            "rep-conflict",
            "rep-conflict",
            "rep-conflict",
            "rep-conflict",
            "rep-visit",
            "rep-visit",
            "rep-visit",
            "rep-visit",
            "rep-visit",
            "split-purchase"
        ]
    );
    // Known on 20 March, the blacklisting of 23 March was not.
    let (_, stdout, _) = probity(&[
        "blacklist",
        "--data",
        data,
        "--known-at",
        "2026-03-20T00:00:00+08:00",
        "--json",
    ]);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        serde_json::json!([])
    );

    // The kept, witnessed checkpoint and the export both verify.
    let kept = format!("{data}/checkpoint.witnessed");
    let witness = format!("{data}/keys/witness.vkey");
    let (code, stdout, stderr) = probity(&[
        "verify",
        "--data",
        data,
        "--trusted-checkpoint",
        &kept,
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = probity(&["verify", &format!("{data}/export.jsonl")]);
    assert_eq!(code, 0, "{stderr}");
    // The witness quorum holds on the checkpoint that anchors the verification.
    let vkey = format!("{data}/ledger.vkey");
    let (code, stdout, stderr) = probity(&[
        "verify",
        "--data",
        data,
        "--ledger-vkey",
        &vkey,
        "--witness",
        &witness,
        "--quorum",
        "1",
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["witnessed"]["witnesses"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let note = std::fs::read_to_string(&kept).unwrap();
    let witness_name = std::fs::read_to_string(&witness).unwrap();
    let witness_name = witness_name.split('+').next().unwrap();
    assert!(note.contains(&format!("— {witness_name} ")), "{note}");

    let (code, stdout, stderr) = probity(&[
        "verify-proof",
        &format!("{data}/blacklisting.tlog-proof"),
        "--ledger-vkey",
        &format!("{data}/ledger.vkey"),
        "--witness",
        &witness,
        "--quorum",
        "1",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("supplier.sanction_imposed city-hospital-demo-0001"),
        "{stdout}"
    );

    // The investigation bundle: the split purchase's evidence and the blacklisting, proven in
    // the witnessed checkpoint, signers checked.
    let (code, stdout, stderr) = probity(&[
        "verify",
        &format!("{data}/split-purchase.investigation.json"),
        "--ledger-vkey",
        &format!("{data}/ledger.vkey"),
        "--witness",
        &witness,
        "--quorum",
        "1",
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let proven: Vec<u64> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    for seq in [0, 72, 96, 119, 135, 112] {
        assert!(
            proven.contains(&seq),
            "record {seq} not in the bundle: {proven:?}"
        );
    }

    // Private keys are the user's to go on with, and only theirs.
    for key in ["ledger.key", "keys/clerk-zhou.key", "keys/witness.key"] {
        let mode = std::fs::metadata(format!("{data}/{key}"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    let (code, stdout, stderr) = probity(&[
        "record",
        "--data",
        data,
        "--key",
        &format!("{data}/keys/clerk-zhou.key"),
        "--type",
        "purchase.requested",
        "--payload",
        r#"{"case": "CASE-9", "department": "cardiology", "requester": "S-0207",
            "item": "infusion pump", "category": "A0232", "quantity": 1,
            "estimated": {"fen": 100000, "currency": "CNY"}, "budget_project": "BP-7",
            "justification": "after the demo"}"#,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // A second run does not write over it.
    let (code, _, stderr) = probity(&["demo", "--data", data]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already holds files"), "{stderr}");
}
