//! `probity prove` and `probity verify-proof`: a bundle proves its record offline against the
//! pinned ledger key (and witnesses); any change to it, or the wrong key, fails with exit 1; a
//! file that is not a bundle is a usage error (exit 2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{data_dir, probity, vkey_and_size};
use serde_json::Value;

#[test]
fn a_proof_bundle_verifies_offline_and_every_change_is_caught() {
    let dir = data_dir("domain-example");
    let data = dir.path().to_str().unwrap();
    let (vkey, size) = vkey_and_size(dir.path(), "domain-example");
    let bundle = dir.path().join("record-30.tlog-proof");
    let bundle_path = bundle.to_str().unwrap();

    let (code, _, stderr) =
        probity(&["prove", "--data", data, "--seq", "30", "--out", bundle_path]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
    assert!(text.contains("\nindex 30\n"));

    let (code, stdout, stderr) = probity(&[
        "verify-proof",
        bundle_path,
        "--ledger-vkey",
        &vkey,
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let proven: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(proven["proven"], true);
    assert_eq!(proven["seq"], 30);
    assert_eq!(proven["checkpoint_size"], size);
    assert_eq!(proven["event"]["id"], "domain-example-0024");

    let not_proven = |what: &str, text: &str, vkey: &str| {
        let path = dir.path().join("changed.tlog-proof");
        std::fs::write(&path, text).unwrap();
        let (code, stdout, stderr) = probity(&[
            "verify-proof",
            path.to_str().unwrap(),
            "--ledger-vkey",
            vkey,
            "--json",
        ]);
        assert_eq!(code, 1, "{what}: {stdout}{stderr}");
        let answer: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(answer["proven"], false, "{what}");
        answer["error"].as_str().unwrap().to_owned()
    };
    let lines: Vec<&str> = text.split('\n').collect();
    // A proof hash changed (the fourth line is the first sibling hash).
    let mut changed = lines.clone();
    let flipped = flip_first_char(changed[3]);
    changed[3] = &flipped;
    let error = not_proven("proof hash", &changed.join("\n"), &vkey);
    assert!(error.contains("inclusion proof"), "{error}");
    // The record claimed at another index.
    let error = not_proven(
        "index",
        &text.replace("\nindex 30\n", "\nindex 31\n"),
        &vkey,
    );
    assert!(error.contains("index 31"), "{error}");
    // The checkpoint's size changed: its signature no longer holds.
    let error = not_proven(
        "checkpoint size",
        &text.replace(&format!("\n{size}\n"), &format!("\n{}\n", size + 1)),
        &vkey,
    );
    assert!(error.contains("checkpoint"), "{error}");
    // Someone else's key pinned.
    let other = vkey.replacen('+', "+00", 1);
    let (code, _, _) = probity(&["verify-proof", bundle_path, "--ledger-vkey", &other]);
    assert_eq!(code, 2, "a malformed vkey is a usage error");
    let impostor = dir.path().join("impostor.key");
    let (code, _, _) = probity(&["keygen", "--out", impostor.to_str().unwrap()]);
    assert_eq!(code, 0);
    let origin = vkey.split('+').next().unwrap();
    let impostor_vkey = {
        let key = probity_ledger::keyfile::read_key(&impostor).unwrap();
        probity_core::checkpoint::VerifierKey::ed25519(origin, key.public_key()).to_string()
    };
    let error = not_proven("another ledger key", &text, &impostor_vkey);
    assert!(error.contains("checkpoint"), "{error}");

    // A witness quorum the checkpoint does not meet.
    let (code, _, _) = probity(&[
        "verify-proof",
        bundle_path,
        "--ledger-vkey",
        &vkey,
        "--witness",
        &impostor_vkey.replace(origin, "audit.example/w"),
        "--quorum",
        "1",
    ]);
    assert_ne!(code, 0);

    // Not a bundle at all.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "hello\n").unwrap();
    let (code, _, stderr) = probity(&[
        "verify-proof",
        junk.to_str().unwrap(),
        "--ledger-vkey",
        &vkey,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a proof bundle"), "{stderr}");

    // A record past the last checkpoint gets a fresh one.
    let (code, stdout, stderr) =
        probity(&["prove", "--data", data, "--seq", &(size - 1).to_string()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("\nindex {}\n", size - 1)));
    let (code, _, stderr) = probity(&["prove", "--data", data, "--seq", &size.to_string()]);
    assert_eq!(code, 2);
    assert!(stderr.contains(&format!("no record {size}")), "{stderr}");
}

fn flip_first_char(line: &str) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}
