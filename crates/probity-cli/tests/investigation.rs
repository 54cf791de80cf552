//! `probity verify BUNDLE`: an investigation bundle (records with inclusion proofs in one
//! checkpoint, and the key records before them) verifies offline against the pinned ledger
//! key; every change — a record's byte, order, a missing genesis or enrolment, the wrong key —
//! is caught with its code and record; without a pinned key it is a usage error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::{data_dir, open, probity};
use probity_core::investigation::{Investigation, FORMAT};
use probity_ledger::evidence;
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn write(dir: &std::path::Path, name: &str, proofs: Vec<String>) -> String {
    let bundle = Investigation {
        format: FORMAT.to_owned(),
        question: json!({"moment": {"sense": "records", "at": 60}, "subject": null}),
        proofs,
    };
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&bundle).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn verify(path: &str, vkey: &str) -> (i32, Value) {
    let (code, stdout, stderr) = probity(&["verify", path, "--ledger-vkey", vkey, "--json"]);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    (code, report)
}

fn problems(report: &Value) -> Vec<(String, u64)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_owned(),
                p["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_investigation_bundle_verifies_offline_and_every_change_is_caught() {
    let dir = data_dir("domain-example");
    let ledger = open(dir.path(), "domain-example");
    let vkey = ledger.verifier_key().to_string();
    let keys = evidence::key_records(&ledger, 60).unwrap();
    let mut seqs = keys.clone();
    seqs.extend([40, 45, 59]);
    seqs.sort_unstable();
    seqs.dedup();
    let proofs: Vec<String> = evidence::proof_bundles(&ledger, &seqs)
        .unwrap()
        .iter()
        .map(|p| p.to_text())
        .collect();
    ledger.close();
    drop(ledger);

    let intact = write(dir.path(), "intact.json", proofs.clone());
    let (code, report) = verify(&intact, &vkey);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["records"].as_array().unwrap().len(),
        seqs.len(),
        "{report}"
    );
    let (code, stdout, _) = probity(&["verify", &intact, "--ledger-vkey", &vkey]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("intact:"), "{stdout}");

    // One byte of a record (its recorded_at: the ledger's own statement).
    let at = seqs.iter().position(|&s| s == 45).unwrap();
    let mut tampered = proofs.clone();
    let lines: Vec<&str> = tampered[at].lines().collect();
    let extra = lines[1].strip_prefix("extra ").unwrap();
    let record = String::from_utf8(B64.decode(extra).unwrap()).unwrap();
    let mut value: Value = serde_json::from_str(&record).unwrap();
    let when = value["recorded_at"]
        .as_str()
        .unwrap()
        .replacen("2026", "2025", 1);
    value["recorded_at"] = when.into();
    let changed = value.to_string();
    assert_ne!(changed, record);
    let text = tampered[at].replacen(extra, &B64.encode(changed), 1);
    tampered[at] = text;
    let (code, report) = verify(&write(dir.path(), "payload.json", tampered), &vkey);
    assert_eq!(code, 1);
    assert_eq!(problems(&report), [("hash-mismatch".to_owned(), 45)]);

    // Two records swapped.
    let mut swapped = proofs.clone();
    swapped.swap(at, at + 1);
    let (code, report) = verify(&write(dir.path(), "swapped.json", swapped), &vkey);
    assert_eq!(code, 1);
    assert_eq!(problems(&report), [("out-of-order".to_owned(), 45)]);

    // No genesis: signers cannot be checked.
    let (code, report) = verify(
        &write(dir.path(), "headless.json", proofs[1..].to_vec()),
        &vkey,
    );
    assert_eq!(code, 1);
    assert_eq!(problems(&report), [("no-genesis".to_owned(), 0)]);

    // Every enrolment left out: the other records' signers are unknown.
    let bare: Vec<String> = seqs
        .iter()
        .zip(&proofs)
        .filter(|(s, _)| **s == 0 || !keys.contains(s))
        .map(|(_, p)| p.clone())
        .collect();
    let (code, report) = verify(&write(dir.path(), "bare.json", bare), &vkey);
    assert_eq!(code, 1);
    let found = problems(&report);
    assert!(
        found.iter().all(|(c, _)| c == "unknown-key") && found.iter().any(|(_, s)| *s == 45),
        "{found:?}"
    );

    // Another ledger's key.
    let other = data_dir("bitemporal-sanction");
    let other_ledger = open(other.path(), "bitemporal-sanction");
    let wrong = other_ledger.verifier_key().to_string();
    other_ledger.close();
    let (code, report) = verify(&intact, &wrong);
    assert_eq!(code, 1);
    let found = problems(&report);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, "checkpoint-signature");

    // Without a pinned key: usage.
    let (code, _, stderr) = probity(&["verify", &intact]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--ledger-vkey"), "{stderr}");
}
