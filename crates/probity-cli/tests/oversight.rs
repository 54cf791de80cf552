//! `probity findings` and `probity blacklist` on data directories holding the scenario
//! fixtures, recorded with their own `recorded_at` times so both time senses are real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{data_dir, probity};
use serde_json::Value;

#[test]
fn findings_of_the_domain_example() {
    let dir = data_dir("domain-example");
    let data = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = probity(&["findings", "--data", data, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let findings: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let mut rules: Vec<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "rep-conflict",
            "rep-conflict",
            "rep-conflict",
            "rep-conflict",
            "split-purchase"
        ]
    );

    let (code, stdout, _) = probity(&["findings", "--data", data, "--rule", "split-purchase"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("[split-purchase] High"), "{stdout}");
    assert!(stdout.contains("¥705,000"), "{stdout}");
    let (code, stdout, _) = probity(&[
        "findings",
        "--data",
        data,
        "--since",
        "2026-04-01T00:00:00+08:00",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&stdout).unwrap().len(),
        1,
        "only the fourth rep-conflict is detectable after 1 April"
    );
    let (code, _, stderr) = probity(&["findings", "--data", data, "--rule", "bribery"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown rule"));
}

#[test]
fn blacklist_true_at_and_known_at() {
    let dir = data_dir("bitemporal-sanction");
    let data = dir.path().to_str().unwrap();
    let ask = |at: &str, known: &str| {
        let (code, stdout, stderr) = probity(&[
            "blacklist",
            "--data",
            data,
            "--at",
            at,
            "--known-at",
            known,
            "--json",
        ]);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<Vec<Value>>(&stdout).unwrap()
    };
    // Blacklisted on 5 March? True: yes. Could a clerk have known on 6 March? No.
    assert!(ask("2026-03-05T12:00:00+08:00", "2026-03-06T00:00:00+08:00").is_empty());
    let known = ask("2026-03-05T12:00:00+08:00", "2026-03-11T00:00:00+08:00");
    assert_eq!(known.len(), 1);
    assert_eq!(known[0]["uscc"], "91330100MA2H0004XJ");
    assert!(
        ask("2026-02-20T12:00:00+08:00", "2026-12-01T00:00:00+08:00").is_empty(),
        "not before 1 March"
    );
    let (code, stdout, _) = probity(&[
        "blacklist",
        "--data",
        data,
        "--at",
        "2026-03-20T00:00:00+08:00",
        "--known-at",
        "2026-03-20T00:00:00+08:00",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Supplier Four Medical  blacklist from 2026-03-01 00:00:00 +08:00 until 2028-03-01 00:00:00 +08:00"), "{stdout}");

    let (code, _, stderr) = probity(&["blacklist", "--data", data, "--at", "yesterday"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--at"), "{stderr}");

    let (code, stdout, _) = probity(&["findings", "--data", data, "--json"]);
    assert_eq!(code, 0);
    let findings: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let knowable: Vec<bool> = findings
        .iter()
        .map(|f| f["knowable"].as_bool().unwrap())
        .collect();
    assert_eq!(findings.len(), 2);
    assert!(knowable.contains(&true) && knowable.contains(&false));
}

#[test]
fn supplier_rep_case_and_staff_views_embedded() {
    let dir = data_dir("domain-example");
    let data = dir.path().to_str().unwrap();

    let (code, stdout, stderr) = probity(&["case", "--data", data, "CASE-1"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("purchase.award_decided"), "{stdout}");
    assert!(stdout.contains("supervised (record"), "{stdout}");
    assert!(stdout.contains("signed by"), "{stdout}");
    // What was asked for and its estimate, readable.
    assert!(
        stdout.contains("6 × infusion pumps, estimated ¥180,000"),
        "{stdout}"
    );

    let (code, stdout, _) = probity(&["rep", "--data", data, "REP-R1", "--json"]);
    assert_eq!(code, 0);
    let rep: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rep["visits"][0]["state"], "completed");

    let host = rep["visits"][0]["host"].as_str().unwrap().to_owned();
    let (code, stdout, _) = probity(&["staff", "--data", data, &host]);
    assert_eq!(code, 0);
    assert!(stdout.contains("met rep      REP-R1"), "{stdout}");

    let supplier = rep["supplier"].as_str().unwrap().to_owned();
    let (code, stdout, _) = probity(&["supplier", "--data", data, &supplier]);
    assert_eq!(code, 0);
    assert!(stdout.contains("eligible     yes"), "{stdout}");

    let (code, _, stderr) = probity(&["supplier", "--data", data, "nobody"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not-found"), "{stderr}");

    // The views were kept: status shows them caught up.
    let (code, stdout, _) = probity(&["status", "--data", data]);
    assert_eq!(code, 0);
    assert!(stdout.contains(" applied, 0 behind"), "{stdout}");
}

/// `probity policy`: what is in force at a time, and where it came from.
#[test]
fn policy_names_what_is_in_force_and_where_it_came_from() {
    let dir = data_dir("reps-and-equipment");
    let data = dir.path().to_str().unwrap();
    // Before the scenario's policy.set takes effect (1 January 2026): the defaults.
    let (code, stdout, stderr) = probity(&[
        "policy",
        "--data",
        data,
        "--at",
        "2025-12-31T12:00:00+08:00",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let before: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(before["source"], Value::Null, "{before}");
    assert_eq!(before["policy"]["open_tender_threshold"]["fen"], 50_000_000);
    assert_eq!(before["policy"]["min_valid_quotes"], 3);
    // Now: the policy.set record, effective from 1 January 2026 (Beijing time).
    let (code, stdout, _) = probity(&["policy", "--data", data, "--json"]);
    assert_eq!(code, 0);
    let now: Value = serde_json::from_str(&stdout).unwrap();
    assert!(now["source"].as_u64().unwrap() > 0, "{now}");
    assert_eq!(now["effective_from"], "2026-01-01T00:00:00+08:00");
    assert_eq!(
        now["policy"]["open_tender_threshold"]["display"],
        "¥500,000 (50万元)"
    );
    // For people: amounts with separators and in 万元, each with its policy field.
    let (code, stdout, _) = probity(&["policy", "--data", data]);
    assert_eq!(code, 0);
    assert!(stdout.contains("policy.set of record"), "{stdout}");
    assert!(
        stdout.contains("¥500,000 (50万元)  [open_tender_threshold]"),
        "{stdout}"
    );
    let (code, _, stderr) = probity(&["policy", "--data", data, "--at", "someday"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--at"), "{stderr}");
}

/// During a product suspension, `supplier --at` names the products it blocks.
#[test]
fn supplier_at_names_the_products_a_suspension_blocks() {
    let dir = data_dir("reps-and-equipment");
    let data = dir.path().to_str().unwrap();
    let supplier = "91330100MA2H0007XM";
    let at = |t: &str| {
        let (code, stdout, stderr) =
            probity(&["supplier", "--data", data, supplier, "--at", t, "--json"]);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    // Before the suspension of 11 March: nothing blocked.
    let before = at("2026-03-10T12:00:00+08:00");
    assert_eq!(
        before["blocked_products"],
        serde_json::json!([]),
        "{before}"
    );
    let during = at("2026-03-12T12:00:00+08:00");
    assert_eq!(
        during["blocked_products"][0]["product"], "CT scanners",
        "{during}"
    );
    let (code, stdout, _) = probity(&[
        "supplier",
        "--data",
        data,
        supplier,
        "--at",
        "2026-03-12T12:00:00+08:00",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("blocked      CT scanners (record"),
        "{stdout}"
    );
}

/// A walk-in (a check-in with no booking) is in the rep's visit log.
#[test]
fn a_walk_in_is_in_the_reps_visit_log() {
    let dir = data_dir("rule-rep-visit-fires-revoked-walk-in-and-ward");
    let data = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = probity(&["rep", "--data", data, "REP-1", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let rep: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rep["walk_ins"][0]["visit"], "V-9", "{rep}");
    assert_eq!(rep["walk_ins"][0]["room"], "RR-1", "{rep}");
    let (code, stdout, _) = probity(&["rep", "--data", data, "REP-1"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("walk-in      V-9 at RR-1"), "{stdout}");
    assert!(stdout.contains("NOT valid"), "{stdout}");
}

/// `rep --at T` and `supplier --at T` answer as of T (true time, as known now): what happened
/// later — visits booked, approvals, check-ins, sightings, sanctions, strikes and the findings
/// they make — is left out; a booking made by T for a later slot is in.
#[test]
fn rep_and_supplier_as_of_a_time_leave_out_what_came_later() {
    const IMAGING: &str = "91330100MA2H0007XM";
    let dir = data_dir("demo-hospital");
    let data = dir.path().to_str().unwrap();
    let ask = |kind: &str, id: &str, at: Option<&str>| -> Value {
        let mut args = vec![kind, "--data", data, id, "--json"];
        if let Some(at) = at {
            args.extend(["--at", at]);
        }
        let (code, stdout, stderr) = probity(&args);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // Booked on 3 March 11:10 for a slot on 4 March, approved at 15:00: at noon it is booked,
    // not yet approved, and nothing has gone wrong yet.
    let noon = ask("rep", "REP-R7", Some("2026-03-03T12:00:00+08:00"));
    assert_eq!(noon["visits"].as_array().unwrap().len(), 1, "{noon}");
    assert_eq!(noon["visits"][0]["visit"], "V-0101");
    assert_eq!(noon["visits"][0]["state"], "requested");
    assert_eq!(noon["visits"][0]["approved"], Value::Null);
    assert!(ids(&noon["findings"]).is_empty(), "{noon}");
    assert_eq!(noon["violations"], serde_json::json!([]));

    // On 7 March: received on a ward on the 4th, sighted on the ward on the 6th; the sightings
    // of the 13th and 20th are still to come.
    let seventh = ask("rep", "REP-R7", Some("2026-03-07T00:00:00+08:00"));
    assert_eq!(seventh["visits"][0]["state"], "completed", "{seventh}");
    assert_eq!(seventh["violations"].as_array().unwrap().len(), 1);
    assert_eq!(ids(&seventh["findings"]).len(), 2, "{seventh}");
    let now = ask("rep", "REP-R7", None);
    assert_eq!(now["violations"].as_array().unwrap().len(), 3);
    assert_eq!(ids(&now["findings"]).len(), 4, "{now}");
    for id in ids(&seventh["findings"]) {
        assert!(ids(&now["findings"]).contains(&id), "{id}");
    }
    // Every finding listed as of a time happened by then.
    let seventh_micros = 1_772_812_800_000_000_i64;
    for f in seventh["findings"].as_array().unwrap() {
        let occurred = f["occurred_at"].as_str().unwrap();
        assert!(occurred.ends_with("+08:00"), "{f}");
        let occurred = probity_core::time::OccurredAt::parse(occurred).unwrap();
        assert!(occurred.unix_micros() <= seventh_micros, "{f}");
    }

    // The supplier on 7 March: one strike, no sanction yet (the first is of 9 March).
    let supplier = ask("supplier", IMAGING, Some("2026-03-07T00:00:00+08:00"));
    assert_eq!(supplier["strikes_in_window"], 1, "{supplier}");
    assert_eq!(supplier["rep_strikes"].as_array().unwrap().len(), 1);
    assert_eq!(supplier["sanctions"], serde_json::json!([]));
    assert_eq!(ids(&supplier["findings"]).len(), 1, "{supplier}");
    let supplier_now = ask("supplier", IMAGING, None);
    assert_eq!(supplier_now["sanctions"].as_array().unwrap().len(), 3);
    assert_eq!(ids(&supplier_now["findings"]).len(), 3, "{supplier_now}");

    // For people: the text shows the same cut.
    let (code, text, _) = probity(&[
        "rep",
        "--data",
        data,
        "REP-R7",
        "--at",
        "2026-03-07T00:00:00+08:00",
    ]);
    assert_eq!(code, 0);
    assert!(text.contains("breaches     1"), "{text}");
    assert!(!text.contains("strike 2"), "{text}");
    let (code, text, _) = probity(&[
        "supplier",
        "--data",
        data,
        IMAGING,
        "--at",
        "2026-03-07T00:00:00+08:00",
    ]);
    assert_eq!(code, 0);
    assert!(!text.contains("sanction "), "{text}");
}
