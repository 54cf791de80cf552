//! The tamper matrix of an outside auditor who pins the ledger key: a ledger forged with fresh
//! keys and no checkpoint; checkpoints dropped and the tail cut; a record appended past the last
//! checkpoint; records, envelopes and signature entries written as arrays; `recorded_at` in
//! other texts of the same instant; time running backwards; a garbled record; a bad genesis; a
//! trusted checkpoint at a range's start. Each is found with its code at its record, nothing
//! is reported at good records, and the untouched export is intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{data_dir, open, prepared, probity, vkey_and_size};
use probity_core::prelude::*;
use probity_ledger::AppendRequest;
use serde_json::Value;

const NAME: &str = "domain-example";

fn export(dir: &Path, out: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "export",
        "--data",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, _, stderr) = probity(&args);
    assert_eq!(code, 0, "{stderr}");
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Verifies the file's `lines` with the key pinned; the exit code and (code, seq) findings.
fn verify_text(
    path: &Path,
    lines: &[String],
    vkey: &str,
    extra: &[&str],
) -> (i32, Vec<(String, u64)>) {
    write_lines(path, lines);
    let mut args = vec![
        "verify",
        path.to_str().unwrap(),
        "--json",
        "--ledger-vkey",
        vkey,
    ];
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

fn verify(path: &Path, lines: &[Value], vkey: &str) -> (i32, Vec<(String, u64)>) {
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    verify_text(path, &text, vkey, &[])
}

fn record_index(lines: &[Value], seq: u64) -> usize {
    lines
        .iter()
        .position(|l| l["record"]["seq"].as_u64() == Some(seq))
        .unwrap()
}

fn checkpoint_sizes(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l["checkpoint"]["size"].as_u64())
        .collect()
}

fn one(findings: &[(String, u64)], code: &str, seq: u64, what: &str) {
    assert_eq!(
        findings,
        [(code.to_owned(), seq)],
        "{what}: expected exactly {code} at {seq}"
    );
}

struct Fixture {
    _dir: tempfile::TempDir,
    work: tempfile::TempDir,
    vkey: String,
    size: u64,
    original: Vec<Value>,
}

/// A clerk's purchase request, as the scenario's clerk signs it.
fn clerk_request(id: &str, case: &str) -> SignedEvent {
    let p = prepared(NAME);
    let clerk = &p.keys["clerk-zhou"];
    let mut subjects = Subjects::default();
    subjects.case.push(SubjectId::new(case).unwrap());
    let body = EventBody {
        id: EventId::new(id).unwrap(),
        event_type: EventType::new("purchase.requested").unwrap(),
        schema: 1,
        ledger: LedgerId::new(NAME).unwrap(),
        subjects,
        occurred_at: OccurredAt::parse("2026-05-01T09:00:00+08:00").unwrap(),
        signer: clerk.public_key(),
        payload: probity_testkit::request_payload(case).into(),
    };
    SignedEvent::sign(&body, clerk)
}

/// The scenario's ledger, then three more requests after its closing checkpoint, closed
/// again: two checkpoints.
fn fixture() -> Fixture {
    let dir = data_dir(NAME);
    let ledger = open(dir.path(), NAME);
    for i in 0..3 {
        let event = clerk_request(&format!("later-{i}"), "CASE-LATER");
        ledger.append(AppendRequest::new(event)).unwrap();
    }
    ledger.close();
    drop(ledger);
    let (vkey, size) = vkey_and_size(dir.path(), NAME);
    let work = tempfile::tempdir().unwrap();
    let original = export(dir.path(), &work.path().join("export.jsonl"), &[]);
    Fixture {
        _dir: dir,
        work,
        vkey,
        size,
        original,
    }
}

#[test]
fn the_untouched_export_is_intact_and_says_it_was_authenticated() {
    let f = fixture();
    let file = f.work.path().join("export.jsonl");
    let (code, stdout, stderr) =
        probity(&["verify", file.to_str().unwrap(), "--ledger-vkey", &f.vkey]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("intact:"), "{stdout}");
    assert!(!stdout.contains("NOT checked"), "{stdout}");
    let (code, stdout, _) = probity(&["verify", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("authenticity NOT checked"), "{stdout}");
}

#[test]
fn a_ledger_forged_with_fresh_keys_and_no_checkpoint_is_refused() {
    let f = fixture();
    let w = f.work.path();
    let key = |name: &str| {
        let path = w.join(name);
        let (code, _, stderr) = probity(&["keygen", "--out", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
        path
    };
    let (admin, ledger_key) = (key("admin.key"), key("ledger.key"));
    let data = w.join("forged");
    let origin = f.vkey.split('+').next().unwrap();
    let (code, _, stderr) = probity(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--ledger",
        NAME,
        "--origin",
        origin,
        "--admin-key",
        admin.to_str().unwrap(),
        "--ledger-key",
        ledger_key.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let mut lines = export(&data, &w.join("forged.jsonl"), &[]);
    lines.retain(|l| l.get("checkpoint").is_none());
    let (code, findings) = verify(&w.join("forged-check.jsonl"), &lines, &f.vkey);
    assert_eq!(code, 1);
    assert_eq!(
        findings,
        [
            ("ledger-key-mismatch".to_owned(), 0),
            ("unanchored".to_owned(), 0)
        ]
    );
    // Nor can it be imported.
    let (code, stdout, _) = probity(&[
        "import",
        w.join("forged-check.jsonl").to_str().unwrap(),
        "--data",
        w.join("copy").to_str().unwrap(),
        "--ledger-vkey",
        &f.vkey,
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(!w.join("copy").exists());
}

#[test]
fn checkpoints_dropped_and_the_tail_cut_leave_records_unanchored() {
    let f = fixture();
    let sizes = checkpoint_sizes(&f.original);
    assert!(sizes.len() >= 2, "the fixture has checkpoints {sizes:?}");
    let kept = sizes[0];
    let mut lines: Vec<Value> = f
        .original
        .iter()
        .filter(|l| l["checkpoint"]["size"].as_u64().is_none_or(|s| s == kept))
        .cloned()
        .collect();
    lines.truncate(lines.len() - 2);
    // The attacker makes the header agree with what is left.
    lines[0]["header"]["size"] = (f.size - 2).into();
    let (code, findings) = verify(&f.work.path().join("t.jsonl"), &lines, &f.vkey);
    assert_eq!(code, 1);
    one(
        &findings,
        "unanchored",
        kept,
        "dropped checkpoints, cut tail",
    );
}

#[test]
fn a_record_appended_past_the_last_checkpoint_is_unanchored() {
    let f = fixture();
    let last: Record =
        serde_json::from_value(f.original.last().unwrap()["record"].clone()).unwrap();
    let event = clerk_request("appended-later", "CASE-LATE");
    let appended = Record::seal(last.seq.next(), last.recorded_at, last.hash, event);
    let mut lines = f.original.clone();
    lines.push(serde_json::json!({ "record": appended }));
    lines[0]["header"]["size"] = (f.size + 1).into();
    let (code, findings) = verify(&f.work.path().join("t.jsonl"), &lines, &f.vkey);
    assert_eq!(code, 1);
    one(&findings, "unanchored", f.size, "appended record");
    // Asked for explicitly, it is accepted and named.
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let path = f.work.path().join("t2.jsonl");
    write_lines(&path, &text);
    let (code, stdout, _) = probity(&[
        "verify",
        path.to_str().unwrap(),
        "--ledger-vkey",
        &f.vkey,
        "--allow-unanchored",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("records {} to {}", f.size, f.size)),
        "{stdout}"
    );
}

/// Rewrites the JSON text of one line as given; the rest of the file untouched.
fn with_line(f: &Fixture, seq: u64, text: String) -> Vec<String> {
    let at = record_index(&f.original, seq);
    let mut lines: Vec<String> = f.original.iter().map(Value::to_string).collect();
    lines[at] = text;
    lines
}

#[test]
fn arrays_for_objects_are_unreadable_at_their_record_and_nowhere_else() {
    let f = fixture();
    let k = 40;
    let record = f.original[record_index(&f.original, k)]["record"].clone();
    let envelope = record["event"].clone();
    let signature = envelope["signatures"][0].clone();
    let as_array =
        |v: &Value| -> Value { Value::Array(v.as_object().unwrap().values().cloned().collect()) };
    let cases = [
        (
            "record as an array",
            serde_json::json!({ "record": as_array(&record) }),
        ),
        ("envelope as an array", {
            let mut r = record.clone();
            r["event"] = as_array(&envelope);
            serde_json::json!({ "record": r })
        }),
        ("signature entry as an array", {
            let mut r = record.clone();
            r["event"]["signatures"][0] = as_array(&signature);
            serde_json::json!({ "record": r })
        }),
    ];
    for (what, line) in cases {
        let lines = with_line(&f, k, line.to_string());
        let (code, findings) = verify_text(&f.work.path().join("t.jsonl"), &lines, &f.vkey, &[]);
        assert_eq!(code, 1, "{what}");
        one(&findings, "unreadable", k, what);
    }
    // A repeated key, the last of which a lenient reader would take.
    let text = record
        .to_string()
        .replacen("\"seq\":", &format!("\"seq\":{},\"seq\":", k + 7), 1);
    let lines = with_line(&f, k, format!("{{\"record\":{text}}}"));
    let (_, findings) = verify_text(&f.work.path().join("t.jsonl"), &lines, &f.vkey, &[]);
    one(&findings, "unreadable", k, "repeated key");
}

#[test]
fn recorded_at_in_another_text_of_the_same_instant_is_unreadable() {
    let f = fixture();
    let k = 40;
    let record = &f.original[record_index(&f.original, k)]["record"];
    let text = record["recorded_at"].as_str().unwrap().to_owned();
    let at = RecordedAt::parse_canonical(&text).unwrap();
    let local = at
        .datetime()
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
    let others = [
        local
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
        text.replace('Z', "z"),
        format!("{}Z", &text[..text.len() - 4]),
        text.replace('Z', "000Z"),
        text.replace('T', " "),
    ];
    for other in others {
        assert_eq!(
            RecordedAt::parse(&other).ok(),
            Some(at),
            "{other} is the same instant"
        );
        let mut changed = record.clone();
        changed["recorded_at"] = other.clone().into();
        let lines = with_line(&f, k, serde_json::json!({ "record": changed }).to_string());
        let (_, findings) = verify_text(&f.work.path().join("t.jsonl"), &lines, &f.vkey, &[]);
        one(&findings, "unreadable", k, &other);
    }
}

#[test]
fn a_back_dated_record_is_found_at_its_record() {
    let f = fixture();
    let k = 40;
    let mut lines = f.original.clone();
    let at = record_index(&lines, k);
    let mut records: Vec<Record> = lines[at..]
        .iter()
        .map(|l| serde_json::from_value(l["record"].clone()).unwrap())
        .collect();
    // A month earlier; the forger re-seals it and every record after it.
    records[0].recorded_at =
        RecordedAt::from_unix_micros(records[0].recorded_at.unix_micros() - 30 * 86_400_000_000);
    let mut head = ChainHead {
        next_seq: Seq(k),
        last_hash: serde_json::from_value(lines[at]["record"]["prev"].clone()).unwrap(),
    };
    for (i, record) in records.iter().enumerate() {
        lines[at + i] =
            serde_json::json!({ "record": head.append(record.event.clone(), record.recorded_at) });
    }
    let (code, findings) = verify(&f.work.path().join("t.jsonl"), &lines, &f.vkey);
    assert_eq!(code, 1);
    assert!(
        findings.contains(&("time-backwards".to_owned(), k)),
        "{findings:?}"
    );
    assert!(findings.iter().all(|(_, s)| *s >= k), "{findings:?}");
}

#[test]
fn a_garbled_record_is_one_finding_not_a_truncated_ledger() {
    let f = fixture();
    let k = 40;
    let mut text = f.original[record_index(&f.original, k)].to_string();
    text.truncate(text.len() / 2);
    let lines = with_line(&f, k, text);
    let (code, findings) = verify_text(&f.work.path().join("t.jsonl"), &lines, &f.vkey, &[]);
    assert_eq!(code, 1);
    one(&findings, "unreadable", k, "garbled record");
}

#[test]
fn a_bad_genesis_is_reported_once() {
    let f = fixture();
    // The forger puts a clerk's request where the genesis was and re-links everything after.
    let mut lines = f.original.clone();
    let first = record_index(&lines, 0);
    let mut head = ChainHead::default();
    for line in &mut lines[first..] {
        let record: Record = serde_json::from_value(line["record"].clone()).unwrap();
        let event = if record.seq.0 == 0 {
            clerk_request("not-a-genesis", "CASE-X")
        } else {
            record.event
        };
        *line = serde_json::json!({ "record": head.append(event, record.recorded_at) });
    }
    let (code, findings) = verify(&f.work.path().join("t.jsonl"), &lines, &f.vkey);
    assert_eq!(code, 1);
    assert_eq!(
        findings.iter().filter(|(_, s)| *s == 0).count(),
        1,
        "{findings:?}"
    );
    // Only the signed checkpoints disagree after it: not a finding per record.
    assert!(
        findings
            .iter()
            .all(|(c, s)| *s == 0 || c == "checkpoint-root-mismatch"),
        "{findings:?}"
    );
}

#[test]
fn a_trusted_checkpoint_at_a_range_start_is_consistent() {
    let f = fixture();
    let sizes = checkpoint_sizes(&f.original);
    let start = sizes[0];
    let note = f
        .original
        .iter()
        .find(|l| l["checkpoint"]["size"].as_u64() == Some(start))
        .unwrap()["checkpoint"]["note"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = f.work.path().join("kept.note");
    std::fs::write(&kept, note).unwrap();
    let dir = &f._dir;
    let range = f.work.path().join("range.jsonl");
    export(dir.path(), &range, &["--from", &start.to_string()]);
    let (code, stdout, stderr) = probity(&[
        "verify",
        range.to_str().unwrap(),
        "--ledger-vkey",
        &f.vkey,
        "--trusted-checkpoint",
        kept.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_range_without_one_of_its_key_records_contradicts_the_key_commitment() {
    let f = fixture();
    let sizes = checkpoint_sizes(&f.original);
    let (start, end) = (sizes[0] + 1, sizes[1]);
    let range = f.work.path().join("range.jsonl");
    let mut lines = export(
        f._dir.path(),
        &range,
        &["--from", &start.to_string(), "--to", &end.to_string()],
    );
    let text = |lines: &[Value]| -> Vec<String> { lines.iter().map(Value::to_string).collect() };
    let (code, findings) = verify_text(&range, &text(&lines), &f.vkey, &[]);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    // A key record that does not check out is reported at its own seq, not at the range's.
    let mut damaged = lines.clone();
    let first_key = damaged
        .iter()
        .position(|l| l.get("key_record").is_some())
        .unwrap();
    let key_seq = damaged[first_key]["key_record"]["record"]["seq"]
        .as_u64()
        .unwrap();
    damaged[first_key]["key_record"]["record"]["hash"] = "22".repeat(32).into();
    let (_, findings) = verify_text(&range, &text(&damaged), &f.vkey, &[]);
    assert!(
        findings.contains(&("bad-key-record".to_owned(), key_seq)),
        "{findings:?}"
    );
    // Leave out the last key record before the range (not the genesis).
    let last_key = lines
        .iter()
        .rposition(|l| l.get("key_record").is_some())
        .unwrap();
    let left_out = lines.remove(last_key)["key_record"]["record"]["seq"]
        .as_u64()
        .unwrap();
    assert!(left_out > 0);
    let (code, findings) = verify_text(&range, &text(&lines), &f.vkey, &[]);
    assert_eq!(code, 1);
    assert!(
        findings.contains(&("key-commitment-mismatch".to_owned(), end)),
        "{findings:?}"
    );
    assert!(findings.iter().all(|(_, s)| *s >= start), "{findings:?}");
}
