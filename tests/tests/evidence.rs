//! Every finding cites records that prove it: for every scenario, and for random prefixes of
//! them (a ledger cut at any point), the investigation bundle built from each finding's
//! evidence verifies against the ledger's key and holds each of those records.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use probity_core::checkpoint::WitnessPolicy;
use probity_ledger::{evidence, EngineConfig, Ledger, SystemClock};
use probity_testkit::Rng;
use probity_tests::{load_scenario, scenario_names};
use probity_views::embedded;

/// Records the first `keep` events of `name` on a real book, builds its views, and checks the
/// bundle of every finding's evidence. Returns how many findings were checked.
fn check_prefix(name: &str, keep: Option<usize>) -> usize {
    let mut prepared = load_scenario(name).unwrap();
    if let Some(keep) = keep {
        prepared.events.truncate(keep);
    }
    let key = prepared.ledger_key.clone();
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    probity_ledger::scenario::record(&book, prepared).unwrap();
    let ledger = Ledger::open(&book, key, EngineConfig::default(), Arc::new(SystemClock)).unwrap();
    let mut projector = embedded::open(&dir.path().join("views"), &ledger).unwrap();
    embedded::catch_up(&mut projector, &ledger).unwrap();
    let findings: Vec<_> = projector.projection().findings.values().cloned().collect();
    projector.close();
    let policy = WitnessPolicy::log_only(ledger.verifier_key());
    let matrix = probity_events::role_matrix();
    for finding in &findings {
        let seqs: Vec<u64> = finding.evidence.iter().map(|s| s.0).collect();
        assert!(!seqs.is_empty(), "{name}: {} cites nothing", finding.id);
        let bundle = evidence::investigation(&ledger, &seqs, serde_json::json!({})).unwrap();
        let report = bundle.verify(&policy, &matrix);
        assert!(
            report.is_intact(),
            "{name} ({keep:?}): {}: {report:#?}",
            finding.id
        );
        for seq in &seqs {
            assert!(
                report.records.contains(seq),
                "{name}: {} lacks {seq}",
                finding.id
            );
        }
    }
    ledger.close();
    findings.len()
}

#[test]
fn every_findings_evidence_bundled_verifies() {
    let mut checked = 0;
    for name in scenario_names().unwrap() {
        checked += check_prefix(&name, None);
    }
    assert!(checked > 30, "only {checked} findings");
}

/// The same property on ledgers cut at random points (seeded; `PROBITY_EVIDENCE_SEED`
/// replays a failure).
#[test]
fn every_findings_evidence_bundled_verifies_on_random_prefixes() {
    let mut rng = Rng::seeded("PROBITY_EVIDENCE_SEED", "prefixes");
    let names: Vec<String> = scenario_names().unwrap();
    for _ in 0..12 {
        let name = &names[rng.between(0, names.len() as u64) as usize];
        let len = load_scenario(name).unwrap().events.len() as u64;
        let keep = rng.between(2, len + 1) as usize;
        check_prefix(name, Some(keep));
    }
}
