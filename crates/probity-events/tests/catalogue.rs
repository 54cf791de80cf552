//! The catalogue, data-driven: every event type round-trips JSON ⇄ Rust, validates against
//! its generated JSON Schema, and rejects malformed variants with an error naming the field;
//! the checked-in schemas and docs are what the code generates; the role matrix and
//! upcasting work.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use probity_core::envelope::{EventBody, Payload, Subjects};
use probity_core::prelude::*;
use probity_events::{decode, docs, role_matrix, specs, validate_body, DecodeError};
use serde_json::{json, Value};

fn examples() -> BTreeMap<String, Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/examples.json");
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn validator(event_type: &str, schema: u32) -> jsonschema::Validator {
    let path = schemas_dir().join(format!("events/{event_type}.v{schema}.json"));
    let schema: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

fn decode_value(event_type: &str, value: &Value) -> Result<probity_events::Event, DecodeError> {
    let schema = probity_events::spec(event_type).unwrap().schema;
    decode(event_type, schema, &Payload::from(value.clone()))
}

#[test]
fn every_type_has_an_example_that_round_trips_and_validates_against_its_schema() {
    let examples = examples();
    let specs = specs();
    assert_eq!(examples.len(), specs.len(), "one example per event type");
    for spec in &specs {
        let example = &examples[spec.event_type];
        let event = decode_value(spec.event_type, example)
            .unwrap_or_else(|e| panic!("{}: {e}", spec.event_type));
        assert_eq!(event.event_type(), spec.event_type);
        // JSON -> Rust -> JSON -> Rust is stable.
        let again = decode_value(spec.event_type, &event.to_value()).unwrap();
        assert_eq!(again, event, "{}", spec.event_type);
        let validator = validator(spec.event_type, spec.schema);
        assert!(
            validator.is_valid(example),
            "{} example fails its schema",
            spec.event_type
        );
        assert!(
            validator.is_valid(&event.to_value()),
            "{} output fails its schema",
            spec.event_type
        );
    }
}

/// Structural mutations of every example: each top-level field removed, each given a value of
/// the wrong type, and an unknown field added. The decoder must name the field when it refuses,
/// and the JSON Schema must agree with the decoder on every variant.
#[test]
fn structural_mutations_are_refused_naming_the_field_and_the_schema_agrees() {
    let mut refused = 0;
    for (event_type, example) in examples() {
        let spec = probity_events::spec(&event_type).unwrap();
        let validator = validator(&event_type, spec.schema);
        let Value::Object(fields) = &example else {
            panic!("{event_type}: not an object")
        };
        let mut variants: Vec<(String, Value)> = Vec::new();
        for (name, value) in fields {
            let mut removed = fields.clone();
            removed.remove(name);
            variants.push((name.clone(), Value::Object(removed)));
            let mut retyped = fields.clone();
            let wrong = if value.is_boolean() {
                json!("yes")
            } else {
                json!(true)
            };
            retyped.insert(name.clone(), wrong);
            variants.push((name.clone(), Value::Object(retyped)));
        }
        let mut extra = fields.clone();
        extra.insert("unexpected_field".into(), json!(1));
        variants.push(("unexpected_field".into(), Value::Object(extra)));

        for (field, variant) in variants {
            let decoded = decode_value(&event_type, &variant);
            // Cross-field rules are beyond JSON Schema; everything else must agree.
            let rule_only = matches!(decoded, Err(DecodeError::Rule { .. }));
            assert!(
                decoded.is_ok() == validator.is_valid(&variant) || rule_only,
                "{event_type}: decoder ({decoded:?}) and JSON Schema disagree on {variant}"
            );
            if let Err(err) = decoded {
                refused += 1;
                assert!(
                    err.to_string().contains(&field),
                    "{event_type}: error does not name `{field}`: {err}"
                );
            }
        }
    }
    assert!(refused > 300, "only {refused} structural variants refused");
}

#[test]
fn semantic_violations_are_refused_naming_the_field() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/invalid.json");
    let cases: Vec<Value> = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let examples = examples();
    for case in cases {
        let event_type = case["type"].as_str().unwrap();
        let mut payload = examples[event_type].clone();
        for (k, v) in case["set"].as_object().unwrap() {
            payload[k] = v.clone();
        }
        let err = decode_value(event_type, &payload).expect_err(&format!("{case} was accepted"));
        let (DecodeError::Invalid { field, message, .. }
        | DecodeError::Rule { field, message, .. }) = &err
        else {
            panic!("{case}: {err}")
        };
        assert_eq!(field, case["field"].as_str().unwrap(), "{case}: {err}");
        assert!(
            message.contains(case["says"].as_str().unwrap()),
            "{case}: {err}"
        );
    }
}

#[test]
fn unknown_types_and_schema_versions_are_refused() {
    let payload = Payload::from(json!({}));
    assert_eq!(
        decode("supplier.bribed", 1, &payload).unwrap_err(),
        DecodeError::UnknownType("supplier.bribed".into())
    );
    assert!(matches!(
        decode("supplier.admitted", 2, &payload).unwrap_err(),
        DecodeError::UnsupportedSchema {
            schema: 2,
            current: 1,
            ..
        }
    ));
}

#[test]
fn schema_1_external_listing_is_upcast_to_schema_2() {
    let v1 = json!({
        "uscc": "91350100M000100Y43", "list": "pricing_credit_rating", "grade": "serious",
        "scope": "supplier", "penalty_from": "2024-05-01T00:00:00+08:00",
        "penalty": {"unit": "years", "count": 1}
    });
    let event = decode(
        "supplier.external_listing_observed",
        1,
        &Payload::from(v1.clone()),
    )
    .unwrap();
    let probity_events::Event::ExternalListingObserved(listing) = event else {
        panic!()
    };
    assert_eq!(listing.scheme_version.as_str(), "2020");
    assert_eq!(listing.grade.as_str(), "serious");
    assert!(validator("supplier.external_listing_observed", 1).is_valid(&v1));

    // A schema-1 payload must use the 2020 grades, and must not carry schema-2 fields.
    let mut bad = v1.clone();
    bad["grade"] = json!("severe");
    let err = decode("supplier.external_listing_observed", 1, &Payload::from(bad)).unwrap_err();
    assert!(err.to_string().contains("field `grade`"), "{err}");
    let mut v2_shaped = v1;
    v2_shaped["scheme_version"] = json!("2025");
    let err = decode(
        "supplier.external_listing_observed",
        1,
        &Payload::from(v2_shaped),
    )
    .unwrap_err();
    assert!(err.to_string().contains("scheme_version"), "{err}");
}

/// Schema 2 of `supplier.sanction_imposed`: a one-off warning or interview may have no
/// duration; a suspension or a blacklisting still needs one. Schema 1 payloads (a duration
/// always) read as schema 2 unchanged, and a schema-1 payload without one is refused.
#[test]
fn one_off_sanctions_need_no_duration_from_schema_2_on() {
    let warning = json!({
        "sanction": "S-1", "uscc": "91350100M000100Y43", "kind": "warning",
        "effective_from": "2026-03-01T00:00:00+08:00", "decision": "D-1",
        "reason": "late delivery documents"
    });
    let event = decode_value("supplier.sanction_imposed", &warning).unwrap();
    let probity_events::Event::SanctionImposed(imposed) = event else {
        panic!()
    };
    assert!(imposed.duration.is_none());
    assert!(validator("supplier.sanction_imposed", 2).is_valid(&warning));
    let mut interview = warning.clone();
    interview["kind"] = json!("interview");
    decode_value("supplier.sanction_imposed", &interview).unwrap();

    let mut blacklist = warning.clone();
    blacklist["kind"] = json!("blacklist");
    let err = decode_value("supplier.sanction_imposed", &blacklist).unwrap_err();
    assert!(err.to_string().contains("duration"), "{err}");
    blacklist["duration"] = json!({"unit": "years", "count": 2});
    decode_value("supplier.sanction_imposed", &blacklist).unwrap();

    // Schema 1: the same payload with a duration reads as it is; without one it is refused.
    let event = decode(
        "supplier.sanction_imposed",
        1,
        &Payload::from(blacklist.clone()),
    )
    .unwrap();
    assert_eq!(
        event,
        decode_value("supplier.sanction_imposed", &blacklist).unwrap()
    );
    assert!(validator("supplier.sanction_imposed", 1).is_valid(&blacklist));
    assert!(!validator("supplier.sanction_imposed", 1).is_valid(&warning));
    let err = decode("supplier.sanction_imposed", 1, &Payload::from(warning)).unwrap_err();
    assert!(err.to_string().contains("duration"), "{err}");
}

#[test]
fn role_matrix_covers_every_type_and_keeps_clerks_from_sanctions() {
    let matrix = role_matrix();
    for spec in specs() {
        assert!(!spec.roles.is_empty(), "{} has no role", spec.event_type);
        if spec.event_type != GENESIS {
            assert_eq!(
                matrix.roles_for(spec.event_type).unwrap().len(),
                spec.roles.len()
            );
        }
    }
    assert!(!matrix.is_allowed(Role::Clerk, "supplier.sanction_imposed"));
    assert!(matrix.is_allowed(Role::DisciplineOffice, "supplier.sanction_imposed"));
    assert!(!matrix.is_allowed(Role::Clerk, "purchase.payment_made"));
    assert!(matrix.roles_for(GENESIS).is_none());
    assert!(
        specs().iter().all(|s| !s.roles.contains(&Role::Auditor)),
        "auditors record nothing"
    );
}

#[test]
fn body_subjects_must_name_what_the_payload_concerns() {
    let key = SecretKey::from_seed(&[3; 32]);
    let payload = examples()["purchase.award_decided"].clone();
    let mut body = EventBody {
        id: EventId::new("e1").unwrap(),
        event_type: EventType::new("purchase.award_decided").unwrap(),
        schema: 1,
        ledger: LedgerId::new("h").unwrap(),
        subjects: Subjects::default(),
        occurred_at: OccurredAt::parse("2026-02-10T10:00:00+08:00").unwrap(),
        signer: key.public_key(),
        payload: Payload::from(payload),
    };
    let err = validate_body(&body).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::MissingSubject {
                kind: "supplier",
                ..
            }
        ),
        "{err}"
    );
    body.subjects
        .supplier
        .push(SubjectId::new("91350100M000100Y43").unwrap());
    let err = validate_body(&body).unwrap_err();
    assert!(
        matches!(err, DecodeError::MissingSubject { kind: "case", .. }),
        "{err}"
    );
    body.subjects
        .case
        .push(SubjectId::new("CASE-2026-031").unwrap());
    validate_body(&body).unwrap();
}

#[test]
fn checked_in_schemas_and_docs_are_up_to_date() {
    let bless = std::env::var_os("PROBITY_BLESS").is_some();
    let mut stale = Vec::new();
    for (path, content) in docs::generated_files() {
        let full = schemas_dir().join(&path);
        if bless {
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(&full, &content).unwrap();
        }
        if fs::read_to_string(&full).ok().as_deref() != Some(content.as_str()) {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "out of date under schemas/: {stale:?}; run PROBITY_BLESS=1 cargo test -p probity-events --test catalogue"
    );
    // No stray schema files for types that no longer exist.
    let generated: Vec<String> = docs::generated_files()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for entry in fs::read_dir(schemas_dir().join("events")).unwrap() {
        let name = format!("events/{}", entry.unwrap().file_name().to_string_lossy());
        assert!(generated.contains(&name), "stray schema file {name}");
    }
}
