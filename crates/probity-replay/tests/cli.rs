//! The `replay` binary on a real data directory (the demo hospital's ledger, each event at its
//! own recorded time): both time senses, a subject's timeline, a diff, deterministic output,
//! and bad usage refused with exit status 2.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use probity_testkit::scenario::data_dir;
use serde_json::Value;

fn replay(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn json(data: &Path, args: &[&str]) -> Value {
    let out = replay(data, &[args, &["--json"]].concat());
    assert!(
        out.status.success(),
        "replay {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn blacklisted(view: &Value) -> Vec<&str> {
    view["blacklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uscc"].as_str().unwrap())
        .collect()
}

const IMAGING: &str = "91330100MA2H0007XM";

#[test]
fn replay_answers_as_known_and_as_true_and_diffs_two_moments() {
    let data = data_dir("demo-hospital");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/scenarios/demo-hospital/expected.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let blacklisting = expected["blacklist_at_last_record"][0]["seq"]
        .as_u64()
        .unwrap();

    // Everything: the scenario's blessed findings and blacklist.
    let now = json(data.path(), &["--known-at", "2026-12-31T00:00:00+08:00"]);
    // The scenario blesses findings in the views' form; replay prints the answers' (QUERIES.md
    // 3.0): the same findings, times at the hospital's offset.
    let essentials =
        |list: &Value, time: &dyn Fn(&Value) -> String| -> Vec<(Value, Value, String)> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["id"].clone(),
                        f["evidence"].clone(),
                        time(&f["occurred_at"]),
                    )
                })
                .collect()
        };
    let from_micros = |v: &Value| {
        probity_core::time::RecordedAt::from_unix_micros(v.as_i64().unwrap()).to_string()
    };
    let from_text = |v: &Value| {
        let t = v.as_str().unwrap();
        assert!(t.ends_with("+08:00"), "{t}");
        probity_core::time::RecordedAt::from_unix_micros(
            probity_core::time::OccurredAt::parse(t)
                .unwrap()
                .unix_micros(),
        )
        .to_string()
    };
    assert_eq!(
        essentials(&now["findings"], &from_text),
        essentials(&expected["findings"], &from_micros)
    );
    assert_eq!(blacklisted(&now), [IMAGING]);
    assert_eq!(now["records"], now["ledger_records"]);

    // Just before and just after the blacklisting record.
    let before = json(data.path(), &["--seq", &(blacklisting - 1).to_string()]);
    let after = json(data.path(), &["--seq", &blacklisting.to_string()]);
    assert_eq!(before["records"].as_u64(), Some(blacklisting));
    assert!(blacklisted(&before).is_empty());
    assert_eq!(blacklisted(&after), [IMAGING]);
    assert_eq!(
        after["timeline"].as_array().unwrap().last().unwrap()["event_type"],
        "supplier.sanction_imposed"
    );

    // As true on 20 March, known now: the blacklisting starts on the 23rd, so nobody is on it;
    // the same moment as known then has fewer findings than as known now.
    let mid_true = json(data.path(), &["--true-at", "2026-03-20T00:00:00+08:00"]);
    let mid_known = json(data.path(), &["--known-at", "2026-03-20T00:00:00+08:00"]);
    assert!(blacklisted(&mid_true).is_empty());
    assert!(mid_known["records"].as_u64() <= mid_true["records"].as_u64());
    assert!(
        mid_known["findings"].as_array().unwrap().len() < now["findings"].as_array().unwrap().len()
    );

    // A supplier's timeline and view at the moment.
    let supplier = json(
        data.path(),
        &["--seq", &blacklisting.to_string(), "--supplier", IMAGING],
    );
    let seqs: Vec<u64> = supplier["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["record"].as_u64().unwrap())
        .collect();
    assert!(!seqs.is_empty() && seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seqs.last(), Some(&blacklisting));
    assert_eq!(supplier["view"]["uscc"], IMAGING);
    assert_eq!(
        supplier["view"]["ineligible"]["reason"], "sanctioned",
        "{}",
        supplier["view"]
    );
    assert_eq!(supplier["view"]["eligible"], false);
    assert_eq!(supplier["moment"]["sense"], "records");

    // What changed in the second half of March (as known): the blacklisting, and new findings.
    let diff = json(
        data.path(),
        &[
            "--diff",
            "2026-03-15T00:00:00+08:00",
            "2026-04-01T00:00:00+08:00",
        ],
    );
    let added: Vec<&str> = diff["blacklist_added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uscc"].as_str().unwrap())
        .collect();
    assert_eq!(added, [IMAGING]);
    assert_eq!(diff["blacklist_added"][0]["ban"], "blacklist", "{diff}");
    assert_eq!(
        diff["from"],
        serde_json::json!({"sense": "known_at", "at": "2026-03-15T00:00:00+08:00"})
    );
    assert!(diff["findings_added"][0]["reviews"].is_array(), "{diff}");
    assert!(diff["blacklist_removed"].as_array().unwrap().is_empty());
    assert!(!diff["findings_added"].as_array().unwrap().is_empty());
    let rules: Vec<&str> = diff["findings_added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"split-purchase"), "{rules:?}");

    // Deterministic: the same question gives the same bytes.
    let args = [
        "--known-at",
        "2026-04-15T00:00:00+08:00",
        "--case",
        "CASE-2",
    ];
    let (a, b) = (replay(data.path(), &args), replay(data.path(), &args));
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    assert!(text.contains("Timeline of case:CASE-2"), "{text}");
    assert!(text.contains("signed by"), "{text}");
}

#[test]
fn bad_usage_exits_2_with_a_reason() {
    let data = data_dir("domain-example");
    for (args, says) in [
        (&["--seq", "100000"][..], "record 100000 is not among them"),
        (&["--known-at", "yesterday"][..], "--known-at yesterday"),
        (&["--true-at", "2026-13-01T00:00:00+08:00"][..], "--true-at"),
        (&[][..], "required"),
        (
            &["--seq", "1", "--known-at", "2026-01-01T00:00:00Z"][..],
            "cannot be used with",
        ),
        (
            &["--seq", "1", "--case", "A", "--rep", "B"][..],
            "cannot be used with",
        ),
    ] {
        let out = replay(data.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let missing = data.path().join("nothing-here");
    let out = replay(&missing, &["--seq", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing-here"));
}

#[test]
fn the_bundle_proves_what_the_replay_showed() {
    let data = data_dir("demo-hospital");
    let out = data.path().join("case-2.investigation.json");
    let view = json(
        data.path(),
        &[
            "--known-at",
            "2026-03-20T00:00:00+08:00",
            "--case",
            "CASE-2",
            "--bundle",
            out.to_str().unwrap(),
        ],
    );
    let bundle: probity_core::investigation::Investigation =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(bundle.question["subject"], "case:CASE-2");

    let ledger = probity_ledger::datadir::open(data.path()).unwrap();
    let policy = probity_core::checkpoint::WitnessPolicy {
        log: ledger.verifier_key(),
        witnesses: vec![],
        quorum: 0,
    };
    ledger.close();
    let report = bundle.verify(&policy, &probity_events::role_matrix());
    assert!(report.is_intact(), "{:?}", report.problems);
    // Every record of the timeline, every piece of evidence of the case's findings, and the
    // genesis are proven.
    let shown = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["record"].as_u64().unwrap())
        .chain(
            view["view"]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|f| f["evidence"].as_array().unwrap().iter())
                .map(|s| s.as_u64().unwrap()),
        );
    for seq in shown.chain([0]) {
        assert!(report.records.contains(&seq), "record {seq} not proven");
    }
}

#[test]
fn an_export_file_replays_like_its_data_directory() {
    let data = data_dir("demo-hospital");
    let ledger = probity_ledger::datadir::open(data.path()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("ledger.jsonl");
    probity_ledger::export::write(&ledger, &file).unwrap();
    ledger.close();
    drop(ledger);

    let from_export = |args: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_replay"))
            .arg(&file)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let args = [
        "--true-at",
        "2026-03-24T00:00:00+08:00",
        "--supplier",
        IMAGING,
    ];
    assert_eq!(from_export(&args), json(data.path(), &args));
    // The import is kept beside the file and reused while the file is unchanged.
    let marker = work.path().join("ledger.jsonl.replay").join("IMPORTED");
    let stamp = std::fs::metadata(&marker).unwrap().modified().unwrap();
    let args = ["--seq", "50"];
    assert_eq!(from_export(&args), json(data.path(), &args));
    assert_eq!(
        std::fs::metadata(&marker).unwrap().modified().unwrap(),
        stamp
    );

    // A tampered export is not replayed.
    let text = std::fs::read_to_string(&file).unwrap();
    let tampered = work.path().join("tampered.jsonl");
    std::fs::write(&tampered, text.replacen("\"seq\":40,", "\"seq\":41,", 1)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_replay"))
        .arg(&tampered)
        .args(["--seq", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not verify"), "{err}");
}

/// A ban decided on 10 March, effective from 1 March: on 5 March the supplier was banned.
/// `replay --true-at`, the blacklist query (`probity blacklist --at`) and the supplier query
/// (`probity supplier --at`) give that one answer.
#[test]
fn a_back_dated_ban_is_one_answer_through_every_command() {
    let data = data_dir("bitemporal-sanction");
    let t = "2026-03-05T12:00:00+08:00";
    let banned = "91330100MA2H0004XJ";
    let replayed = json(data.path(), &["--true-at", t]);
    assert_eq!(blacklisted(&replayed), vec![banned], "{replayed:#}");

    let ledger = probity_ledger::datadir::open_read_only(data.path()).unwrap();
    let mut projector =
        probity_views::embedded::open(&probity_views::embedded::views_dir(data.path()), &ledger)
            .unwrap();
    probity_views::embedded::catch_up(&mut projector, &ledger).unwrap();
    let ask = |kind: &str, body: Value| {
        probity_views::query::answer(
            projector.projection(),
            kind,
            body.to_string().as_bytes(),
            1_900_000_000_000_000,
            probity_views::answers::Zone::default(),
        )
        .unwrap()
    };
    let blacklist = ask("blacklist", serde_json::json!({"at": t}));
    assert_eq!(blacklist, replayed["blacklist"]);
    let supplier = ask("supplier", serde_json::json!({"id": banned, "at": t}));
    assert_eq!(
        supplier["ineligible"]["reason"], "sanctioned",
        "{supplier:#}"
    );
    assert_eq!(supplier["ineligible"]["kind"], "blacklist", "{supplier:#}");
}
