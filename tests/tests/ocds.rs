//! Sunshine publication checked by the Open Contracting Partnership's own validator: every
//! scenario's purchase cases, as a release package and as a record package, pass
//! `libcoveocds` with no validation errors (`tests/ocds/validate.py`, offline); and the fields
//! Cardinal's indicators read (schemas/OCDS.md) carry what the ledger's own rules saw.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use probity_tests::{load_scenario, project, scenario_names};
use probity_views::ocds::{Builder, Options};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

const BASE: &str = "https://probity.example";

fn builder(name: &str) -> Builder {
    let prepared = load_scenario(name).unwrap();
    let (ledger, _) = project(&prepared);
    let zone = UtcOffset::from_hms(8, 0, 0).unwrap();
    let mut builder = Builder::new(
        Options::new(&prepared.origin, BASE, zone),
        prepared.ledger.as_str(),
        &prepared.origin,
    );
    builder.add_records(ledger.records()).unwrap();
    builder
}

fn validator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ocds/validate.py")
}

/// Runs the validator; returns its exit success and one report per package.
fn validate(files: &[PathBuf]) -> (bool, Vec<Value>) {
    let output = Command::new("python3")
        .arg(validator())
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'libcoveocds'"),
        "libcoveocds is not installed (.ci/run installs it: pip install libcoveocds)"
    );
    let reports: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), files.len(), "validator output: {stderr}");
    (output.status.success(), reports)
}

#[test]
fn every_scenarios_packages_pass_libcoveocds() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in scenario_names().unwrap() {
        if builder(&name).releases().is_empty() {
            // No purchase case (a rep or consumables scenario): OCDS has no empty package,
            // and `probity ocds` refuses to write one.
            continue;
        }
        let releases = dir.path().join(format!("{name}.releases.json"));
        let records = dir.path().join(format!("{name}.records.json"));
        std::fs::write(&releases, builder(&name).release_package().to_string()).unwrap();
        std::fs::write(&records, builder(&name).record_package().to_string()).unwrap();
        files.push(releases);
        files.push(records);
    }
    let (ok, reports) = validate(&files);
    for report in &reports {
        assert_eq!(report["errors"], Value::Array(vec![]), "{report}");
        assert_eq!(
            report["extensions_not_applied"],
            Value::Array(vec![]),
            "{report}"
        );
    }
    assert!(ok);
    let published: u64 = reports
        .iter()
        .map(|r| r["releases"].as_u64().unwrap())
        .sum();
    assert!(published > 200, "only {published} releases published");
}

#[test]
fn the_validator_reports_a_broken_package() {
    let mut package = builder("demo-hospital").release_package();
    // A release without its date, and an amount as text: both against the schema.
    package["releases"][0]
        .as_object_mut()
        .unwrap()
        .remove("date");
    let award = package["releases"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r.get("awards").is_some())
        .unwrap();
    award["awards"][0]["value"]["amount"] = Value::String("lots".into());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, package.to_string()).unwrap();
    let (ok, reports) = validate(&[file]);
    assert!(!ok);
    let errors = reports[0]["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{errors:?}");
}

fn compiled(name: &str) -> Vec<Value> {
    let package = builder(name).record_package();
    package["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["compiledRelease"].clone())
        .collect()
}

fn time_of(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap()
}

/// Cardinal R030 (late bid won), as its code reads a compiled release: a bid with status
/// `valid` whose `date` is after tender.tenderPeriod.endDate (compared as text, which works
/// because every date is written at the hospital's offset), by a supplier of an `active`
/// award. The late quote that won is there to see, and not in the near miss.
fn cardinal_r030(release: &Value) -> bool {
    let Some(end) = release["tender"]["tenderPeriod"]["endDate"].as_str() else {
        return false;
    };
    let winners: Vec<&Value> = release["awards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["status"] == "active")
        .flat_map(|a| a["suppliers"].as_array().unwrap())
        .map(|s| &s["id"])
        .collect();
    release["bids"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["status"] == "valid")
        .filter(|b| b["date"].as_str().is_some_and(|d| d > end))
        .any(|b| winners.contains(&&b["tenderers"][0]["id"]))
}

#[test]
fn late_quote_won_is_visible_to_cardinal_r030() {
    assert!(compiled("rule-late-quote-won-fires")
        .iter()
        .any(cardinal_r030));
    assert!(!compiled("rule-late-quote-won-near-miss")
        .iter()
        .any(cardinal_r030));
}

/// Cardinal R018 (single bid received) reads tender.numberOfTenderers and an open or
/// selective procurementMethod; Probity's too-few-quotes covers inquiries (`limited`).
#[test]
fn the_number_of_tenderers_is_published() {
    let counts: Vec<u64> = compiled("demo-hospital")
        .iter()
        .filter_map(|r| r["tender"]["numberOfTenderers"].as_u64())
        .collect();
    assert!(counts.contains(&3) && counts.contains(&4), "{counts:?}");
}

/// Cardinal R003 (short submission period) reads tender.tenderPeriod: from the demand's
/// publication to the quote deadline (the policy's minimum here is 5 calendar days).
#[test]
fn short_publication_is_visible_to_cardinal_r003() {
    let shortest_days = |name: &str| {
        compiled(name)
            .iter()
            .filter_map(|r| {
                let period = &r["tender"]["tenderPeriod"];
                // Calendar days, as the rule counts them: dates are written at the
                // hospital's offset, so their date parts are the hospital's dates.
                let start = time_of(period.get("startDate")?).date();
                Some((time_of(&period["endDate"]).date() - start).whole_days())
            })
            .min()
            .unwrap()
    };
    assert!(shortest_days("rule-short-publication-fires") < 5);
    assert!(shortest_days("rule-short-publication-near-miss") >= 5);
}

/// Cardinal R035/R036 read bids.details[].status: the demo's disqualified ultrasound quote.
#[test]
fn disqualified_quotes_are_published_with_their_status() {
    let statuses: Vec<String> = compiled("demo-hospital")
        .iter()
        .flat_map(|r| r["bids"]["details"].as_array().cloned().unwrap_or_default())
        .map(|b| b["status"].as_str().unwrap().to_owned())
        .collect();
    assert!(statuses.iter().any(|s| s == "disqualified"));
    assert!(statuses.iter().any(|s| s == "valid"));
    assert!(!statuses.iter().any(|s| s == "pending" || s == "invited"));
}

/// No staff id, rep or signer key reaches a package: personal data is left out.
#[test]
fn no_personal_data_is_published() {
    for name in scenario_names().unwrap() {
        let prepared = load_scenario(&name).unwrap();
        let text = builder(&name).record_package().to_string();
        for event in &prepared.events {
            let body = event.0.open().unwrap().into_body();
            assert!(
                !text.contains(&body.signer.to_base64()),
                "{name}: a signer key"
            );
        }
        // Every staff id (`S-…`) and rep id (`REP-…`) the scenario's events name.
        let events = std::fs::read_to_string(
            probity_tests::scenarios_dir()
                .join(&name)
                .join("events.json"),
        )
        .unwrap();
        let people = events
            .split('"')
            .filter(|s| s.starts_with("S-") || s.starts_with("REP-"))
            .collect::<std::collections::BTreeSet<_>>();
        for id in people {
            assert!(
                !text.contains(&format!("\"{id}\"")),
                "{name}: {id} is published"
            );
        }
    }
}
