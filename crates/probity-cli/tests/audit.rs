//! The tamper matrix: on an export, flip a byte of a payload, of a signature, of a previous
//! hash; change a sequence number; delete a record; swap two; truncate the tail; present a fork
//! against a checkpoint the auditor kept; append a record signed with a revoked key. Each is
//! found with the right finding at the right sequence number; the untouched export verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use base64::Engine as _;
use common::{data_dir, open, prepared, probity, vkey_and_size};
use probity_core::prelude::*;
use probity_ledger::AppendRequest;
use serde_json::Value;

fn export(dir: &Path, out: &Path) -> Vec<Value> {
    let (code, _, stderr) = probity(&[
        "export",
        "--data",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Verifies `lines`; returns the exit code and the findings as (code, seq).
fn verify(path: &Path, lines: &[Value], extra: &[&str]) -> (i32, Vec<(String, u64)>) {
    write(path, lines);
    let mut args = vec!["verify", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = probity(&args);
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    let findings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    (code, findings)
}

fn record_index(lines: &[Value], seq: u64) -> usize {
    lines
        .iter()
        .position(|l| l["record"]["seq"].as_u64() == Some(seq))
        .unwrap()
}

fn flip_base64(text: &str, at: usize) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(text).unwrap();
    let i = at % bytes.len();
    bytes[i] ^= 0x01;
    b64.encode(bytes)
}

fn assert_found(findings: &[(String, u64)], code: &str, seq: u64, what: &str) {
    assert!(
        findings.iter().any(|(c, s)| c == code && *s == seq),
        "{what}: no {code} at {seq}: {findings:?}"
    );
    assert!(
        findings.iter().all(|(_, s)| *s >= seq),
        "{what}: a finding before {seq}: {findings:?}"
    );
}

#[test]
fn every_kind_of_tampering_is_found_where_it_happened() {
    let dir = data_dir("domain-example");
    let work = tempfile::tempdir().unwrap();
    let original = export(dir.path(), &work.path().join("export.jsonl"));
    let file = work.path().join("tampered.jsonl");

    let (code, findings) = verify(&file, &original, &[]);
    assert_eq!(
        (code, findings.len()),
        (0, 0),
        "the untouched export verifies"
    );

    let k = 40u64;
    let at = record_index(&original, k);

    let mut lines = original.clone();
    let payload = lines[at]["record"]["event"]["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    lines[at]["record"]["event"]["payload"] = flip_base64(&payload, 200).into();
    let (code, findings) = verify(&file, &lines, &[]);
    assert_eq!(code, 1);
    assert_found(&findings, "hash-mismatch", k, "payload byte");

    let mut lines = original.clone();
    let sig = lines[at]["record"]["event"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    lines[at]["record"]["event"]["signatures"][0]["sig"] = flip_base64(&sig, 10).into();
    let (_, findings) = verify(&file, &lines, &[]);
    assert_found(&findings, "bad-signature", k, "signature byte");

    let mut lines = original.clone();
    lines[at]["record"]["prev"] = "11".repeat(32).into();
    let (_, findings) = verify(&file, &lines, &[]);
    assert_found(&findings, "broken-link", k, "previous hash");

    let mut lines = original.clone();
    lines[at]["record"]["seq"] = (k + 1000).into();
    let (_, findings) = verify(&file, &lines, &[]);
    assert_found(&findings, "sequence-gap", k, "sequence number");

    let mut lines = original.clone();
    lines.remove(at);
    let (_, findings) = verify(&file, &lines, &[]);
    assert_found(&findings, "sequence-gap", k, "deleted record");

    let mut lines = original.clone();
    lines.swap(at, at + 1);
    let (_, findings) = verify(&file, &lines, &[]);
    assert_found(&findings, "sequence-gap", k, "swapped records");

    let mut lines = original.clone();
    lines.truncate(lines.len() - 3);
    let size = original.len() as u64
        - 1
        - original
            .iter()
            .filter(|l| l.get("checkpoint").is_some())
            .count() as u64;
    let (code, findings) = verify(&file, &lines, &[]);
    assert_eq!(code, 1);
    assert!(
        findings
            .iter()
            .any(|(c, s)| c == "checkpoint-beyond-log" && *s == size),
        "truncated tail: {findings:?}"
    );
}

/// A second event, different on each side of a fork.
fn fork_event(name: &str, id: &str) -> SignedEvent {
    let p = prepared(name);
    let clerk = &p.keys["clerk-zhou"];
    let mut payload = probity_testkit::request_payload("CASE-FORK");
    payload["justification"] = id.into();
    let mut subjects = Subjects::default();
    subjects.case.push(SubjectId::new("CASE-FORK").unwrap());
    let body = EventBody {
        id: EventId::new(id).unwrap(),
        event_type: EventType::new("purchase.requested").unwrap(),
        schema: 1,
        ledger: LedgerId::new(name).unwrap(),
        subjects,
        occurred_at: OccurredAt::parse("2026-05-01T09:00:00+08:00").unwrap(),
        signer: clerk.public_key(),
        payload: payload.into(),
    };
    SignedEvent::sign(&body, clerk)
}

#[test]
fn a_fork_is_found_against_the_checkpoint_the_auditor_kept() {
    let work = tempfile::tempdir().unwrap();
    let mut exports = Vec::new();
    for side in ["fork-a", "fork-b"] {
        let dir = data_dir("domain-example");
        let ledger = open(dir.path(), "domain-example");
        ledger
            .append(AppendRequest::new(fork_event("domain-example", side)))
            .unwrap();
        ledger.close();
        drop(ledger);
        exports.push(export(
            dir.path(),
            &work.path().join(format!("{side}.jsonl")),
        ));
    }
    // The auditor kept side A's latest checkpoint; the operator now shows side B.
    let kept = exports[0]
        .iter()
        .rev()
        .find_map(|l| l.get("checkpoint"))
        .unwrap();
    let kept_size = kept["size"].as_u64().unwrap();
    let kept_path = work.path().join("kept.note");
    std::fs::write(&kept_path, kept["note"].as_str().unwrap()).unwrap();

    let file = work.path().join("check.jsonl");
    let (code, findings) = verify(
        &file,
        &exports[0],
        &["--trusted-checkpoint", kept_path.to_str().unwrap()],
    );
    assert_eq!(
        (code, findings.len()),
        (0, 0),
        "side A is consistent with its own checkpoint"
    );
    let (code, findings) = verify(
        &file,
        &exports[1],
        &["--trusted-checkpoint", kept_path.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        findings
            .iter()
            .any(|(c, s)| c == "trusted-checkpoint-inconsistent" && *s == kept_size),
        "fork: {findings:?}"
    );
}

#[test]
fn a_record_signed_with_a_revoked_key_is_found() {
    let dir = data_dir("domain-example");
    let p = prepared("domain-example");
    let ledger = open(dir.path(), "domain-example");
    let admin = &p.keys["admin"];
    let clerk = p.keys["clerk-zhou"].public_key();
    let body = EventBody {
        id: EventId::new("revoke-zhou").unwrap(),
        event_type: EventType::new(KEY_REVOKED).unwrap(),
        schema: 1,
        ledger: LedgerId::new("domain-example").unwrap(),
        subjects: Subjects::default(),
        occurred_at: OccurredAt::parse("2026-04-30T09:00:00+08:00").unwrap(),
        signer: admin.public_key(),
        payload: serde_json::json!({"key_id": clerk.key_id(), "reason": "left"}).into(),
    };
    ledger
        .append(AppendRequest::new(SignedEvent::sign(&body, admin)))
        .unwrap();
    ledger.close();
    drop(ledger);
    let work = tempfile::tempdir().unwrap();
    let mut lines = export(dir.path(), &work.path().join("export.jsonl"));
    // The operator forges a later record signed with the revoked key, chained correctly.
    let last: Record = serde_json::from_value(lines.last().unwrap()["record"].clone()).unwrap();
    let forged = Record::seal(
        last.seq.next(),
        last.recorded_at,
        last.hash,
        fork_event("domain-example", "after-revocation"),
    );
    lines.push(serde_json::json!({ "record": forged }));
    let (code, findings) = verify(&work.path().join("t.jsonl"), &lines, &[]);
    assert_eq!(code, 1);
    // The forged record is also past the last checkpoint the ledger signed, and the header
    // still states the old size.
    assert_eq!(
        findings,
        vec![
            ("revoked-key".to_owned(), forged.seq.0),
            ("unanchored".to_owned(), forged.seq.0),
            ("size-mismatch".to_owned(), forged.seq.0 + 1),
        ]
    );
}

#[test]
fn verify_usage_errors_exit_2() {
    let (code, _, stderr) = probity(&["verify", "/nonexistent/export.jsonl"]);
    assert_eq!(code, 2, "{stderr}");
    let work = tempfile::tempdir().unwrap();
    let junk = work.path().join("junk.jsonl");
    std::fs::write(&junk, "hello\n").unwrap();
    let (code, _, stderr) = probity(&["verify", junk.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a Probity export"), "{stderr}");
    let (code, _, stderr) = probity(&["verify", junk.to_str().unwrap(), "--quorum", "1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--quorum"), "{stderr}");
}

#[test]
fn import_rebuilds_a_read_only_data_directory_and_refuses_a_tampered_export() {
    let dir = data_dir("domain-example");
    let data = dir.path().to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let export_path = work.path().join("export.jsonl");
    let original = export(dir.path(), &export_path);
    let copy = work.path().join("copy");
    let copy_str = copy.to_str().unwrap();

    let (code, stdout, stderr) = probity(&[
        "import",
        export_path.to_str().unwrap(),
        "--data",
        copy_str,
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let imported: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        imported["records"].as_u64(),
        Some(
            original.len() as u64
                - original
                    .iter()
                    .filter(|l| l.get("record").is_none())
                    .count() as u64
        )
    );

    // The copy answers like the original: status (size, root, checkpoint), findings.
    for args in [&["status", "--json"][..], &["findings", "--json"][..]] {
        let (a, out_a, _) = probity(&[args, &["--data", data]].concat());
        let (b, out_b, err_b) = probity(&[args, &["--data", copy_str]].concat());
        assert_eq!((a, b), (0, 0), "{args:?}: {err_b}");
        let (mut a, mut b): (Value, Value) = (
            serde_json::from_str(&out_a).unwrap(),
            serde_json::from_str(&out_b).unwrap(),
        );
        // The views' lag depends on the moment asked.
        for v in [&mut a, &mut b] {
            if let Some(o) = v.as_object_mut() {
                o.remove("views");
            }
        }
        assert_eq!(a, b, "{args:?}");
    }
    // It verifies, and a re-export is the same file. (No progress bar when standard error is
    // not a terminal: pipes see only the verdict.)
    let (code, stdout, stderr) = probity(&["verify", "--data", copy_str]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("intact:") && stderr.is_empty(),
        "{stdout}{stderr}"
    );
    let again = export(&copy, &work.path().join("again.jsonl"));
    assert_eq!(again, original);

    // It takes no appends.
    let key = work.path().join("clerk.key");
    probity(&["keygen", "--out", key.to_str().unwrap()]);
    let payload = probity_testkit::request_payload("CASE-COPY").to_string();
    let (code, _, stderr) = probity(&[
        "record",
        "--data",
        copy_str,
        "--key",
        key.to_str().unwrap(),
        "--type",
        "purchase.requested",
        "--payload",
        &payload,
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("read-only"), "{stderr}");

    // Into a directory that holds a ledger: refused.
    let (code, _, stderr) = probity(&["import", export_path.to_str().unwrap(), "--data", copy_str]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already holds a ledger"), "{stderr}");

    // A tampered export: the finding, exit 1, and nothing left behind.
    let mut lines = original.clone();
    let at = record_index(&lines, 40);
    let payload = lines[at]["record"]["event"]["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    lines[at]["record"]["event"]["payload"] = flip_base64(&payload, 200).into();
    let tampered = work.path().join("tampered.jsonl");
    write(&tampered, &lines);
    let target = work.path().join("tampered-copy");
    let (code, stdout, _) = probity(&[
        "import",
        tampered.to_str().unwrap(),
        "--data",
        target.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("40"), "{stdout}");
    assert!(!target.exists(), "a refused import leaves nothing");

    // Not an export at all: a usage error, and nothing left behind either.
    let junk = work.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"hello\": 1}\n").unwrap();
    let (code, _, stderr) = probity(&[
        "import",
        junk.to_str().unwrap(),
        "--data",
        target.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("junk.jsonl"), "{stderr}");
    assert!(!target.exists(), "a refused import leaves nothing");
}

#[test]
fn a_range_export_verifies_on_its_own_and_tampering_is_found() {
    let dir = data_dir("domain-example");
    let data = dir.path().to_str().unwrap();
    let (vkey, size) = vkey_and_size(dir.path(), "domain-example");
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("range.jsonl");
    let (code, _, stderr) = probity(&[
        "export",
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
        "--from",
        "40",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["header"]["format"], "probity-export/v2");
    assert_eq!(lines[0]["header"]["from"], 40);
    let records: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["record"]["seq"].as_u64())
        .collect();
    assert_eq!(records, (40..size).collect::<Vec<_>>());
    assert!(lines.iter().any(|l| l.get("start").is_some()));
    let keys: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].get("key_record").is_some())
        .collect();
    assert!(keys.len() >= 2, "genesis and enrolments");

    let file = work.path().join("checked.jsonl");
    let pinned = ["--ledger-vkey", vkey.as_str()];
    let (code, findings) = verify(&file, &lines, &pinned);
    assert_eq!(
        (code, findings.len()),
        (0, 0),
        "the untouched range verifies"
    );

    // A payload byte inside the range.
    let mut tampered = lines.clone();
    let at = record_index(&tampered, 45);
    let payload = tampered[at]["record"]["event"]["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    tampered[at]["record"]["event"]["payload"] = flip_base64(&payload, 100).into();
    let (code, findings) = verify(&file, &tampered, &pinned);
    assert_eq!(code, 1);
    assert_found(&findings, "hash-mismatch", 45, "payload in range");

    // The stated previous hash.
    let mut tampered = lines.clone();
    let start = tampered
        .iter()
        .position(|l| l.get("start").is_some())
        .unwrap();
    tampered[start]["start"]["prev_hash"] = "00".repeat(32).into();
    let (code, findings) = verify(&file, &tampered, &pinned);
    assert_eq!(code, 1);
    assert_found(&findings, "broken-link", 40, "previous hash");

    // The key records left out: the signers in the range are unknown.
    let bare: Vec<Value> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !keys[1..].contains(i))
        .map(|(_, l)| l.clone())
        .collect();
    let (code, findings) = verify(&file, &bare, &pinned);
    assert_eq!(code, 1);
    assert!(
        findings.iter().any(|(c, _)| c == "unknown-key"),
        "{findings:?}"
    );

    // A key record that is not in the checkpoint.
    let mut forged = lines.clone();
    forged[keys[1]]["key_record"]["proof"] = serde_json::json!([]);
    let (code, findings) = verify(&file, &forged, &pinned);
    assert_eq!(code, 1, "{findings:?}");

    // A range cannot be imported; a range with no checkpoint to anchor it is not written.
    let (code, _, stderr) = probity(&[
        "import",
        out.to_str().unwrap(),
        "--data",
        work.path().join("copy").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("range"), "{stderr}");
    let (code, _, stderr) = probity(&[
        "export",
        "--data",
        data,
        "--out",
        work.path().join("x.jsonl").to_str().unwrap(),
        "--from",
        "40",
        "--to",
        "41",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("anchors"), "{stderr}");
    // An empty or inverted range.
    let (code, _, stderr) = probity(&[
        "export",
        "--data",
        data,
        "--out",
        work.path().join("y.jsonl").to_str().unwrap(),
        "--from",
        "50",
        "--to",
        "40",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("at least one"), "{stderr}");
}
