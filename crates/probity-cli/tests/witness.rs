//! `probity witness-request` and `probity witness`: a witness cosigns the first checkpoint it
//! sees, then only checkpoints consistent with the last one it cosigned; stale requests,
//! rewritten proofs and checkpoints not signed by the pinned ledger key are refused (exit 1)
//! and leave its state as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{data_dir, probity, vkey_and_size};
use serde_json::Value;

struct Witness<'a> {
    key: &'a str,
    state: &'a str,
    vkey: &'a str,
}

impl Witness<'_> {
    fn cosign(&self, request: &Path) -> (i32, Value) {
        let (code, stdout, stderr) = probity(&[
            "witness",
            request.to_str().unwrap(),
            "--key",
            self.key,
            "--name",
            "audit.example/w1",
            "--ledger-vkey",
            self.vkey,
            "--state",
            self.state,
            "--json",
        ]);
        assert!(code == 0 || code == 1, "{stderr}");
        (code, serde_json::from_str(&stdout).unwrap())
    }
}

fn request(data: &str, old: u64, path: &Path) {
    let (code, _, stderr) = probity(&[
        "witness-request",
        "--data",
        data,
        "--old",
        &old.to_string(),
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_witness_cosigns_only_consistent_growth() {
    let dir = data_dir("domain-example");
    let data = dir.path().to_str().unwrap();
    let (vkey, size) = vkey_and_size(dir.path(), "domain-example");
    let key = dir.path().join("witness.key");
    assert_eq!(probity(&["keygen", "--out", key.to_str().unwrap()]).0, 0);
    let state = dir.path().join("witness-state.json");
    let witness = Witness {
        key: key.to_str().unwrap(),
        state: state.to_str().unwrap(),
        vkey: &vkey,
    };

    // First sight: cosigned, remembered.
    let first = dir.path().join("first.req");
    request(data, 0, &first);
    let (code, answer) = witness.cosign(&first);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["size"], size);
    assert!(answer["cosignature"]
        .as_str()
        .unwrap()
        .starts_with("— audit.example/w1 "));
    let remembered = std::fs::read_to_string(&state).unwrap();

    // The ledger grows; a request from the old size is checked and cosigned.
    let clerk = dir.path().join("clerk.key");
    let keys = probity_testkit::scenario::prepared("domain-example").keys;
    probity_ledger::keyfile::write_key(&clerk, &keys["clerk-zhou"], false).unwrap();
    let (code, _, stderr) = probity(&[
        "record",
        "--data",
        data,
        "--key",
        clerk.to_str().unwrap(),
        "--type",
        "purchase.requested",
        "--payload",
        r#"{"case": "CASE-9", "department": "cardiology", "requester": "S-0207",
            "item": "infusion pump", "category": "A0232", "quantity": 1,
            "estimated": {"fen": 100000, "currency": "CNY"}, "budget_project": "BP-7",
            "justification": "witness test"}"#,
    ]);
    assert_eq!(code, 0, "{stderr}");

    // Not a request at all: a usage error, state unchanged.
    let junk = dir.path().join("junk.req");
    std::fs::write(&junk, "old zero\n\nnot a note\n").unwrap();
    let (code, _, stderr) = probity(&[
        "witness",
        junk.to_str().unwrap(),
        "--key",
        witness.key,
        "--name",
        "audit.example/w1",
        "--ledger-vkey",
        &vkey,
        "--state",
        witness.state,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not an add-checkpoint request"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), remembered);
    // A request from beyond the ledger's end cannot be made.
    let (code, _, stderr) = probity(&[
        "witness-request",
        "--data",
        data,
        "--old",
        &(size + 100).to_string(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("beyond the ledger"), "{stderr}");

    // A stale request (from 0 again) is a conflict naming the size to prove from.
    let stale = dir.path().join("stale.req");
    request(data, 0, &stale);
    let (code, answer) = witness.cosign(&stale);
    assert_eq!(
        (code, answer["status"].as_u64()),
        (1, Some(409)),
        "{answer}"
    );
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains(&format!("send a proof from {size}")));
    assert_eq!(std::fs::read_to_string(&state).unwrap(), remembered);

    let grown = dir.path().join("grown.req");
    request(data, size, &grown);
    let text = std::fs::read_to_string(&grown).unwrap();

    // A proof hash changed: refused as inconsistent, state unchanged.
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let first_char = lines[1].remove(0);
    lines[1].insert(0, if first_char == 'A' { 'B' } else { 'A' });
    let forged = dir.path().join("forged.req");
    std::fs::write(&forged, lines.join("\n")).unwrap();
    let (code, answer) = witness.cosign(&forged);
    assert_eq!(
        (code, answer["status"].as_u64()),
        (1, Some(422)),
        "{answer}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), remembered);

    // Another key pinned: not the ledger's checkpoint.
    let other_key = dir.path().join("other.key");
    assert_eq!(
        probity(&["keygen", "--out", other_key.to_str().unwrap()]).0,
        0
    );
    let other = probity_core::checkpoint::VerifierKey::ed25519(
        vkey.split('+').next().unwrap(),
        probity_ledger::keyfile::read_key(&other_key)
            .unwrap()
            .public_key(),
    )
    .to_string();
    let impostor = Witness {
        vkey: &other,
        ..witness
    };
    let (code, answer) = impostor.cosign(&grown);
    assert_eq!(
        (code, answer["status"].as_u64()),
        (1, Some(403)),
        "{answer}"
    );

    // The honest request is cosigned, and the witness now stands at the new size.
    let witness = Witness {
        vkey: &vkey,
        ..impostor
    };
    let (code, answer) = witness.cosign(&grown);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["size"], size + 1);
    // Replaying the earlier, smaller checkpoint is now a conflict (no rollback).
    let (code, answer) = witness.cosign(&first);
    assert_eq!(
        (code, answer["status"].as_u64()),
        (1, Some(409)),
        "{answer}"
    );
}

#[test]
fn a_cosignature_is_attached_to_the_ledgers_checkpoint_and_proofs_carry_it() {
    let dir = data_dir("domain-example");
    let data = dir.path().to_str().unwrap();
    let (vkey, _) = vkey_and_size(dir.path(), "domain-example");
    let key = dir.path().join("witness.key");
    assert_eq!(probity(&["keygen", "--out", key.to_str().unwrap()]).0, 0);
    let req = dir.path().join("first.req");
    request(data, 0, &req);
    let cosigned = dir.path().join("cosigned.note");
    let (code, stdout, stderr) = probity(&[
        "witness",
        req.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--name",
        "audit.example/w1",
        "--ledger-vkey",
        &vkey,
        "--state",
        dir.path().join("state.json").to_str().unwrap(),
        "--out",
        cosigned.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let witness_vkey = serde_json::from_str::<Value>(&stdout).unwrap()["witness_vkey"]
        .as_str()
        .unwrap()
        .to_owned();

    // Not a note at all: a usage error naming the file.
    let junk = dir.path().join("junk.note");
    std::fs::write(&junk, "not a signed note").unwrap();
    let (code, _, stderr) = probity(&[
        "cosign",
        junk.to_str().unwrap(),
        "--data",
        data,
        "--witness",
        &witness_vkey,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("junk.note"), "{stderr}");

    // Without naming the witness: refused (nothing unverifiable is kept).
    let (code, _, stderr) = probity(&["cosign", cosigned.to_str().unwrap(), "--data", data]);
    assert_eq!(code, 2, "{stderr}");

    let (code, stdout, stderr) = probity(&[
        "cosign",
        cosigned.to_str().unwrap(),
        "--data",
        data,
        "--witness",
        &witness_vkey,
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let reply: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reply["attached"], serde_json::json!(["audit.example/w1"]));

    // A proof made now carries the cosignature: it meets a one-witness policy.
    let proof = dir.path().join("record-3.tlog-proof");
    let (code, _, stderr) = probity(&[
        "prove",
        "--data",
        data,
        "--seq",
        "3",
        "--out",
        proof.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = probity(&[
        "verify-proof",
        proof.to_str().unwrap(),
        "--ledger-vkey",
        &vkey,
        "--witness",
        &witness_vkey,
        "--quorum",
        "1",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Attached again: nothing new. A note of another text: refused.
    let (code, stdout, _) = probity(&[
        "cosign",
        cosigned.to_str().unwrap(),
        "--data",
        data,
        "--witness",
        &witness_vkey,
    ]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("nothing new"), "{stdout}");
    let text = std::fs::read_to_string(&cosigned).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "1";
    let forged = dir.path().join("forged.note");
    std::fs::write(&forged, lines.join("\n") + "\n").unwrap();
    let (code, _, stderr) = probity(&[
        "cosign",
        forged.to_str().unwrap(),
        "--data",
        data,
        "--witness",
        &witness_vkey,
    ]);
    assert_eq!(code, 1, "{stderr}");
}
