//! The projections on the scenario fixtures: the DOMAIN.md example gives exactly its expected
//! findings; the bitemporal scenario separates what was true from what was knowable; every
//! scenario's findings and blacklist match its `expected.json` (re-bless with
//! `PROBITY_BLESS=1 cargo test -p probity-tests --test projections`).

#![allow(clippy::unwrap_used)]

use probity_projector::time::DAY;
use probity_projector::{Projection, Rule};
use probity_tests::{load_scenario, project, scenario_names, scenarios_dir};
use serde_json::{json, Value};

fn rules(p: &Projection) -> Vec<Rule> {
    p.findings.values().map(|f| f.rule).collect()
}

fn micros(text: &str) -> i64 {
    probity_core::time::RecordedAt::parse(text)
        .unwrap()
        .unix_micros()
}

#[test]
fn domain_example_gives_exactly_its_expected_findings() {
    let (ledger, p) = project(&load_scenario("domain-example").unwrap());
    let mut found = rules(&p);
    found.sort();
    assert_eq!(
        found,
        vec![
            Rule::RepConflict,
            Rule::RepConflict,
            Rule::RepConflict,
            Rule::RepConflict,
            Rule::SplitPurchase
        ],
        "{:#?}",
        p.findings
    );
    let split = p
        .findings
        .values()
        .find(|f| f.rule == Rule::SplitPurchase)
        .unwrap();
    assert_eq!(
        split.subjects,
        vec!["case:CASE-1", "case:CASE-2", "case:CASE-3", "case:CASE-4"]
    );
    assert!(split.summary.contains("¥705,000"), "{}", split.summary);
    // Raised with the third award (28 March), when the running total passed ¥500,000.
    let award_seqs: Vec<u64> = ledger
        .records()
        .iter()
        .filter(|r| r.event.open().unwrap().body().event_type.as_str() == "purchase.award_decided")
        .map(|r| r.seq.0)
        .collect();
    assert_eq!(
        split.evidence.iter().map(|s| s.0).collect::<Vec<_>>(),
        award_seqs
    );
    assert_eq!(
        split.detectable_at,
        ledger.records()[award_seqs[2] as usize].recorded_at
    );
    let mut gaps: Vec<String> = p
        .findings
        .values()
        .filter(|f| f.rule == Rule::RepConflict)
        .map(|f| {
            assert!(f.knowable);
            assert!(f.subjects.contains(&"staff:S-LI".to_owned()), "{f:?}");
            f.summary
                .split(" days before")
                .next()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    gaps.sort_by_key(|g| g.parse::<u32>().unwrap());
    assert_eq!(gaps, vec!["5", "26", "51", "74"]);
}

#[test]
fn a_late_sanction_is_true_before_it_is_known() {
    let (ledger, p) = project(&load_scenario("bitemporal-sanction").unwrap());
    let awards: Vec<_> = p
        .findings
        .values()
        .filter(|f| f.rule == Rule::AwardToIneligible)
        .collect();
    assert_eq!(awards.len(), 2, "{:#?}", p.findings);
    let on = |case: &str| {
        awards
            .iter()
            .find(|f| f.subjects.contains(&format!("case:{case}")))
            .copied()
    };
    assert!(
        on("CASE-B0").is_none(),
        "an award before the sanction took effect is no finding"
    );
    let before_known = on("CASE-B1").unwrap();
    assert!(!before_known.knowable);
    let sanction_recorded = ledger
        .records()
        .iter()
        .find(|r| r.event.open().unwrap().body().event_type.as_str() == "supplier.sanction_imposed")
        .unwrap()
        .recorded_at;
    assert_eq!(
        before_known.detectable_at, sanction_recorded,
        "detectable only once the sanction was recorded"
    );
    let after_known = on("CASE-B2").unwrap();
    assert!(after_known.knowable);
    assert!(after_known.severity > before_known.severity);
    assert_eq!(p.findings.len(), 2, "nothing else: {:#?}", p.findings);

    // The blacklist in both senses.
    let s4 = "91330100MA2H0004XJ";
    let true_5_march = micros("2026-03-05T04:00:00Z");
    assert!(
        p.blacklist(true_5_march, micros("2026-03-06T00:00:00Z"))
            .is_empty(),
        "not known on 6 March"
    );
    let known_later = p.blacklist(true_5_march, micros("2026-03-11T00:00:00Z"));
    assert_eq!(
        known_later
            .iter()
            .map(|e| e.uscc.as_str())
            .collect::<Vec<_>>(),
        vec![s4]
    );
    assert!(
        p.blacklist(micros("2026-02-25T04:00:00Z"), i64::MAX)
            .is_empty(),
        "not true before 1 March"
    );
    // Two calendar years from 1 March 2026 (through the leap day of 2028), derived, never stored.
    assert_eq!(
        known_later[0].until,
        Some(micros("2028-03-01T00:00:00+08:00"))
    );
    assert_eq!(
        known_later[0].until.unwrap() - known_later[0].from,
        731 * DAY
    );
}

/// The seqs of the records of `event_type` in `ledger`, in order.
fn seqs_of(ledger: &probity_core::append::MemoryLedger, event_type: &str) -> Vec<u64> {
    ledger
        .records()
        .iter()
        .filter(|r| r.event.open().unwrap().body().event_type.as_str() == event_type)
        .map(|r| r.seq.0)
        .collect()
}

/// Knowable is judged by time, not record order: an award made before the ban was recorded,
/// typed in after it, was not knowable when it was made.
#[test]
fn an_award_typed_in_after_a_late_ban_was_not_knowable_when_made() {
    let (ledger, p) =
        project(&load_scenario("rule-award-to-ineligible-fires-typed-in-late").unwrap());
    let award = seqs_of(&ledger, "purchase.award_decided")[0];
    let sanction = seqs_of(&ledger, "supplier.sanction_imposed")[0];
    assert!(award > sanction, "the award is recorded after the ban");
    let f = p
        .findings
        .values()
        .find(|f| {
            f.rule == Rule::AwardToIneligible && f.evidence.contains(&probity_core::ids::Seq(award))
        })
        .unwrap_or_else(|| panic!("{:#?}", p.findings));
    assert!(!f.knowable, "{f:?}");
    assert_eq!(f.severity, probity_projector::Severity::Medium);
    assert_eq!(
        f.evidence.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![sanction, award]
    );
}

/// A windowed rule's finding grows with its cluster: three awards, one finding citing all three.
#[test]
fn a_near_threshold_cluster_of_three_is_one_finding_citing_all_three() {
    let (ledger, p) =
        project(&load_scenario("rule-near-threshold-fires-cluster-of-three").unwrap());
    let near: Vec<_> = p
        .findings
        .values()
        .filter(|f| f.rule == Rule::NearThreshold)
        .collect();
    assert_eq!(near.len(), 1, "{near:#?}");
    let awards = seqs_of(&ledger, "purchase.award_decided");
    assert_eq!(
        near[0].evidence.iter().map(|s| s.0).collect::<Vec<_>>(),
        awards
    );
    assert!(
        near[0].summary.starts_with("3 awards"),
        "{}",
        near[0].summary
    );
    // Detectable from the second award, when the cluster first had two.
    assert_eq!(
        near[0].detectable_at,
        ledger.records()[awards[1] as usize].recorded_at
    );
}

/// A revoked rep's walk-in cites the revocation; a rep seen on a ward is a rep-visit finding.
#[test]
fn rep_visit_findings_cite_what_proves_them_and_cover_sightings() {
    let (ledger, p) =
        project(&load_scenario("rule-rep-visit-fires-revoked-walk-in-and-ward").unwrap());
    let revocation = seqs_of(&ledger, "rep.registration_revoked")[0];
    let check_in = seqs_of(&ledger, "rep.checked_in")[0];
    let sighting = seqs_of(&ledger, "rep.violation_observed")[0];
    let visits: Vec<_> = p
        .findings
        .values()
        .filter(|f| f.rule == Rule::RepVisit)
        .collect();
    assert_eq!(visits.len(), 2, "{visits:#?}");
    let walk_in = visits
        .iter()
        .find(|f| f.evidence.contains(&probity_core::ids::Seq(check_in)))
        .unwrap();
    assert_eq!(
        walk_in.evidence.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![revocation, check_in]
    );
    assert!(walk_in.summary.contains("revoked"), "{}", walk_in.summary);
    assert!(
        walk_in.summary.contains("no booking"),
        "{}",
        walk_in.summary
    );
    let ward = visits
        .iter()
        .find(|f| f.evidence == vec![probity_core::ids::Seq(sighting)])
        .unwrap();
    assert!(ward.summary.contains("a ward"), "{}", ward.summary);
    assert!(ward
        .subjects
        .contains(&"supplier:91330100MA2H0002XG".to_owned()));
}

/// Findings, and the blacklist as true and known at the time of the last record.
/// `rule-<rule>-fires` must raise the rule; `rule-<rule>-near-miss…` must not.
#[test]
fn every_rule_fires_in_its_scenario_and_not_in_its_near_miss() {
    let mut covered = std::collections::BTreeSet::new();
    for name in scenario_names()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("rule-"))
    {
        let rest = name.trim_start_matches("rule-");
        let (code, fires) = match rest.split_once("-fires") {
            Some((code, _)) => (code, true),
            None => (rest.split("-near-miss").next().unwrap(), false),
        };
        let rule = Rule::parse(code).unwrap_or_else(|| panic!("{name}: unknown rule {code}"));
        let (_, p) = project(&load_scenario(&name).unwrap());
        let raised = rules(&p).contains(&rule);
        assert_eq!(raised, fires, "{name}: {:#?}", p.findings);
        if fires {
            covered.insert(rule);
        }
    }
    assert_eq!(
        covered.len(),
        Rule::ALL.len(),
        "every rule has a firing scenario: {covered:?}"
    );
}

fn expected_of(p: &Projection, last: i64) -> Value {
    let findings: Vec<Value> = p
        .findings
        .values()
        .map(|f| {
            json!({"id": f.id, "rule": f.rule, "severity": f.severity, "evidence": f.evidence, "occurred_at": f.occurred_at,
                   "detectable_at": f.detectable_at, "knowable": f.knowable, "subjects": f.subjects,
                   "summary": f.summary})
        })
        .collect();
    json!({"findings": findings, "blacklist_at_last_record": p.blacklist(last, last)})
}

#[test]
fn every_scenario_matches_its_expected_findings_and_blacklist() {
    let bless = std::env::var_os("PROBITY_BLESS").is_some();
    for name in scenario_names().unwrap() {
        let (ledger, p) = project(&load_scenario(&name).unwrap());
        let last = ledger.records().last().unwrap().recorded_at.unix_micros();
        let actual = expected_of(&p, last);
        let path = scenarios_dir().join(&name).join("expected.json");
        if bless {
            std::fs::write(
                &path,
                format!("{}\n", serde_json::to_string_pretty(&actual).unwrap()),
            )
            .unwrap();
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run PROBITY_BLESS=1 cargo test -p probity-tests --test projections",
                    path.display()
                )
            }))
            .unwrap();
        assert_eq!(
            actual, expected,
            "{name}: findings or blacklist differ from expected.json"
        );
    }
}

/// The next expected step the console shows for a case is never behind what was recorded in a
/// case the rules find in order: in every scenario, for each case without a `step-order`
/// finding, no main purchase step was recorded that comes later in the chain than the step
/// the views expected just before it.
#[test]
fn the_next_expected_step_leads_every_case_recorded_in_order() {
    const CHAIN: [&str; 10] = [
        "purchase.requested",
        "purchase.external_approval_granted",
        "purchase.process_opened",
        "purchase.demand_published",
        "purchase.quote_submitted",
        "purchase.quote_evaluated",
        "purchase.award_decided",
        "purchase.contract_signed",
        "purchase.delivery_accepted",
        "purchase.payment_made",
    ];
    let rank = |t: &str| CHAIN.iter().position(|c| *c == t);
    let (mut checked, mut named) = (0, 0);
    for name in scenario_names().unwrap() {
        let prepared = load_scenario(&name).unwrap();
        let (_, whole) = project(&prepared);
        let out_of_order: Vec<String> = whole
            .findings
            .values()
            .filter(|f| f.rule == Rule::StepOrder)
            .flat_map(|f| f.subjects.clone())
            .collect();
        let mut p = Projection::new();
        let mut reached = std::collections::BTreeMap::new();
        let mut ledger = probity_core::append::MemoryLedger::new(
            probity_events::role_matrix(),
            probity_core::append::AppendRules::default(),
        );
        for (event, at) in &prepared.events {
            let record = ledger.append(event.clone(), *at).unwrap().record().clone();
            let body = record.event.open().unwrap().into_body();
            let decoded = probity_events::validate_body(&body).unwrap();
            let step = body.event_type.as_str().to_owned();
            if let (Some(recorded), Some(case)) = (rank(&step), body.subjects.case.first()) {
                let case = case.as_str();
                if !out_of_order.contains(&format!("case:{case}")) {
                    let t = body.occurred_at.unix_micros();
                    let expected = p.next_step(case, t).and_then(rank);
                    assert!(
                        expected.is_some_and(|e| recorded <= e),
                        "{name}: {case} recorded {step} when {:?} was expected",
                        p.next_step(case, t)
                    );
                    // And it names the step: a case's first step of a new kind (optional ones
                    // aside) is the one expected.
                    let reached = reached.entry(case.to_owned()).or_insert(0usize);
                    let competes = p
                        .cases
                        .get(case)
                        .and_then(|c| c.method.as_ref())
                        .is_none_or(|(m, ..)| {
                            !matches!(
                                m,
                                probity_events::purchase::Method::CatalogueCallOff
                                    | probity_events::purchase::Method::SingleSource
                            )
                        });
                    let optional = match step.as_str() {
                        "purchase.demand_published" | "purchase.external_approval_granted" => true,
                        "purchase.quote_submitted" | "purchase.quote_evaluated" => !competes,
                        _ => false,
                    };
                    if recorded > *reached && !optional {
                        assert_eq!(
                            expected,
                            Some(recorded),
                            "{name}: {case} recorded {step} when {:?} was expected",
                            p.next_step(case, t)
                        );
                        named += 1;
                    }
                    *reached = (*reached).max(recorded);
                    checked += 1;
                }
            }
            p.apply(probity_projector::Applied {
                seq: record.seq,
                recorded_at: record.recorded_at,
                body: &body,
                event: &decoded,
            });
        }
    }
    assert!(checked > 50 && named > 20, "{checked} {named}");
}
