//! Every scenario fixture loads, every payload validates, every event is recorded by a role
//! allowed to record it, and the resulting ledger verifies.

#![allow(clippy::unwrap_used)]

use probity_core::prelude::*;
use probity_events::role_matrix;
use probity_tests::{load_scenario, scenario_names};

#[test]
fn every_scenario_appends_and_verifies() {
    let names = scenario_names().unwrap();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        let prepared = load_scenario(&name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mut ledger = MemoryLedger::new(role_matrix(), AppendRules::default());
        for (event, at) in &prepared.events {
            ledger
                .append(event.clone(), *at)
                .unwrap_or_else(|e| panic!("{name}: {e} ({event:?})"));
        }
        let signer = NoteSigner::new(prepared.origin.clone(), prepared.ledger_key.clone());
        let note = ledger.checkpoint(&signer);
        let matrix = role_matrix();
        let mut verifier = ChainVerifier::new(&matrix);
        verifier.add_checkpoint(note, ledger.size());
        ledger.records().iter().for_each(|r| verifier.push(r));
        let report = verifier.finish();
        assert!(report.is_intact(), "{name}: {:#?}", report.findings);
        assert!(
            report.records > 10,
            "{name}: only {} records",
            report.records
        );
    }
}

#[test]
fn a_scenario_with_a_wrong_role_is_refused_at_append() {
    // The domain example's award, re-signed by the clerk instead of the selection secretary.
    let prepared = load_scenario("domain-example").unwrap();
    let mut ledger = MemoryLedger::new(role_matrix(), AppendRules::default());
    let clerk = &prepared.keys["clerk-zhou"];
    for (event, at) in &prepared.events {
        let body = event.open().unwrap().into_body();
        if body.event_type.as_str() == "purchase.award_decided" {
            let forged = SignedEvent::sign(
                &EventBody {
                    signer: clerk.public_key(),
                    ..body
                },
                clerk,
            );
            let err = ledger.append(forged, *at).unwrap_err();
            assert!(err.to_string().contains("role clerk"), "{err}");
            return;
        }
        ledger.append(event.clone(), *at).unwrap();
    }
    panic!("no award in the domain example");
}

/// The subjects read from a decoded payload are those its JSON names, for every event of
/// every scenario: one parse of the payload (into its type) is enough to check them.
#[test]
fn the_subjects_of_a_decoded_event_are_those_its_json_names() {
    let mut compared = 0;
    for name in scenario_names().unwrap() {
        for (event, _) in &load_scenario(&name).unwrap().events {
            let body = event.open().unwrap().into_body();
            let (decoded, named) = probity_events::decode_body(&body).unwrap();
            let json: serde_json::Value = serde_json::from_str(body.payload.as_str()).unwrap();
            let from_json = probity_events::catalogue::implied_subjects(&json);
            assert_eq!(
                decoded.named_subjects(),
                from_json,
                "{name}: {}",
                body.event_type
            );
            let named: Vec<String> = named.iter().map(ToString::to_string).collect();
            let listed: Vec<String> = from_json
                .iter()
                .map(|(k, id)| format!("{k}:{id}"))
                .collect();
            assert_eq!(named, listed, "{name}: {}", body.event_type);
            compared += usize::from(!listed.is_empty());
        }
    }
    assert!(compared > 100, "only {compared} events name subjects");
}
