//! Generated documentation of the catalogue: one JSON Schema file per event type and schema
//! version, `EVENTS.md` (one table per family, one field table per type) and `roles.md`.
//! The checked-in copies under `schemas/` are compared with these by the tests.

use probity_core::roles::Role;
use serde_json::Value;

use crate::catalogue::{specs, EventSpec, Family};
use crate::upcast::{ExternalListingObservedV1, SanctionImposedV1};

/// `(path under schemas/, content)` for every generated file.
pub fn generated_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = specs()
        .iter()
        .map(|spec| {
            let schema = (spec.json_schema)();
            (
                schema_path(spec.event_type, spec.schema),
                pretty(&schema_value(schema, spec.event_type, spec.schema)),
            )
        })
        .collect();
    let v1 = schemars::schema_for!(ExternalListingObservedV1);
    files.push((
        schema_path("supplier.external_listing_observed", 1),
        pretty(&schema_value(v1, "supplier.external_listing_observed", 1)),
    ));
    let v1 = schemars::schema_for!(SanctionImposedV1);
    files.push((
        schema_path("supplier.sanction_imposed", 1),
        pretty(&schema_value(v1, "supplier.sanction_imposed", 1)),
    ));
    files.push(("EVENTS.md".into(), events_markdown()));
    files.push(("roles.md".into(), roles_markdown()));
    files.sort();
    files
}

/// The JSON Schema of the current version of `event_type`'s payload, as published under
/// `schemas/events/`, with that version; `None` for a type the catalogue lacks.
pub fn current_schema(event_type: &str) -> Option<(u32, Value)> {
    let spec = crate::catalogue::spec(event_type)?;
    Some((
        spec.schema,
        schema_value((spec.json_schema)(), spec.event_type, spec.schema),
    ))
}

fn schema_path(event_type: &str, schema: u32) -> String {
    format!("events/{event_type}.v{schema}.json")
}

fn schema_value(schema: schemars::Schema, event_type: &str, version: u32) -> Value {
    let mut value = schema.to_value();
    if let Value::Object(map) = &mut value {
        map.insert(
            "$id".into(),
            Value::from(format!(
                "https://probity.example/schemas/{}",
                schema_path(event_type, version)
            )),
        );
        map.insert(
            "title".into(),
            Value::from(format!("{event_type} (schema {version})")),
        );
    }
    value
}

fn pretty(value: &Value) -> String {
    // Invariant: a JSON value always serializes (its map keys are strings).
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("a JSON value serializes")
    )
}

fn roles_cell(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_of(schema: &Value, defs: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return match defs.get(name) {
            Some(def) if def.get("enum").is_some() || def.get("oneOf").is_some() => {
                type_of(def, defs)
            }
            _ => format!("object `{name}`"),
        };
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let parts: Vec<String> = options
            .iter()
            .map(
                |o| match (o.get("const"), o.pointer("/properties/unit/const")) {
                    (Some(c), _) => format!("`{}`", c.as_str().unwrap_or("?")),
                    (None, Some(unit)) if o.pointer("/properties/count").is_some() => {
                        format!(
                            "`{{\"unit\": \"{}\", \"count\": n}}`",
                            unit.as_str().unwrap_or("?")
                        )
                    }
                    (None, Some(unit)) => {
                        format!("`{{\"unit\": \"{}\"}}`", unit.as_str().unwrap_or("?"))
                    }
                    (None, None) => type_of(o, defs),
                },
            )
            .collect();
        return parts.join(" \\| ");
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let parts: Vec<String> = any
            .iter()
            .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
            .map(|o| type_of(o, defs))
            .collect();
        return parts.join(" or ");
    }
    let ty = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        Some(Value::String(t)) => t.clone(),
        _ => "any".into(),
    };
    match ty.as_str() {
        "array" => format!(
            "array of {}",
            schema
                .get("items")
                .map_or("any".into(), |i| type_of(i, defs))
        ),
        "string" => match (schema.get("format"), schema.get("pattern")) {
            (Some(format), _) => format!("string ({})", format.as_str().unwrap_or("")),
            (None, Some(pattern)) => format!("string `{}`", pattern.as_str().unwrap_or("")),
            _ => "string".into(),
        },
        other => other.to_owned(),
    }
}

fn field_table(schema: &Value, defs: &Value, out: &mut String) {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| field | type | required | description |\n|---|---|---|---|\n");
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            let description = property
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .replace('\n', " ");
            out.push_str(&format!(
                "| `{name}` | {} | {} | {description} |\n",
                type_of(property, defs),
                if required.contains(&name.as_str()) {
                    "yes"
                } else {
                    "no"
                }
            ));
        }
    }
}

/// The payload's field table, then one for each object type it uses.
fn type_tables(schema: &Value, out: &mut String) {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    field_table(schema, &defs, out);
    if let Value::Object(map) = &defs {
        for (name, def) in map {
            if def.get("properties").is_some() {
                out.push_str(&format!("\n`{name}`:\n\n"));
                field_table(def, &defs, out);
            }
        }
    }
}

/// `schemas/EVENTS.md`.
pub fn events_markdown() -> String {
    let mut out = String::from(
        "# Event catalogue\n\n\
         Generated from the Rust types by `probity-events` (do not edit by hand: run\n\
         `PROBITY_BLESS=1 cargo test -p probity-events --test catalogue`). Each event type has a JSON\n\
         Schema (draft 2020-12) in [`events/`](events/), named `<type>.v<schema>.json`.\n\n\
         Every event is an event body (see [`FORMAT.md`](FORMAT.md) §3) whose `type` and `schema` pick\n\
         the payload schema below. Payloads reject unknown fields. Money is `{\"fen\": <integer>,\n\
         \"currency\": \"CNY\"}`, never a float; times are RFC 3339 with an offset; a USCC's check\n\
         character is verified. The body's `subjects` must name the supplier (`uscc` / `supplier`),\n\
         rep (`filing_number`) and case (`case`) that the payload names. Who may record each type is\n\
         in [`roles.md`](roles.md).\n\n\
         Older schema versions are upcast when read: `supplier.external_listing_observed` schema 1\n\
         (grades of the 2020 four-grade pricing-credit scheme, no `scheme_version`) reads as schema\n\
         2 with `scheme_version: \"2020\"`; `supplier.sanction_imposed` schema 1 (a `duration` for\n\
         every kind) reads as schema 2 unchanged (schema 2 lets a one-off warning or interview have\n\
         none).\n",
    );
    let all = specs();
    for family in [
        Family::Governance,
        Family::Supplier,
        Family::Rep,
        Family::Purchase,
        Family::Integrity,
    ] {
        let rows: Vec<&EventSpec> = all.iter().filter(|s| s.family == family).collect();
        out.push_str(&format!(
            "\n## {}\n\n| type | schema | roles | what it records |\n|---|---|---|---|\n",
            family.title()
        ));
        for spec in &rows {
            out.push_str(&format!(
                "| [`{}`](#{}) | {} | {} | {} |\n",
                spec.event_type,
                spec.event_type.replace(['.', '_'], "").to_lowercase(),
                spec.schema,
                roles_cell(spec.roles),
                spec.summary
            ));
        }
        for spec in rows {
            out.push_str(&format!(
                "\n### {}\n\n{}\n\n",
                spec.event_type, spec.summary
            ));
            type_tables(&(spec.json_schema)().to_value(), &mut out);
        }
    }
    out
}

/// `schemas/roles.md`.
pub fn roles_markdown() -> String {
    let mut out = String::from(
        "# Roles and the role matrix\n\n\
         Generated by `probity-events` (do not edit by hand). Every key is enrolled with exactly one\n\
         role (a person with two roles holds two keys). An event is valid only if its signer's key\n\
         was active at that sequence with a role the matrix allows for the event's type (see\n\
         [`FORMAT.md`](FORMAT.md) §7); the matrix is enforced when an event is appended and again by\n\
         every verifier. `ledger.genesis` is valid only as record 0, signed by an administrator it\n\
         names.\n\n\
         | role | who |\n|---|---|\n\
         | `administrator` | enrols and revokes keys, sets policy |\n\
         | `clerk` | procurement clerk or department secretary recording purchase steps |\n\
         | `department_head` | head of a using department: requests, acceptance |\n\
         | `equipment_office` | equipment / procurement office: admission, plans, inquiries, contracts |\n\
         | `selection_secretary` | secretary of the selection meeting or evaluation panel |\n\
         | `discipline_office` | discipline-inspection office: reps, visits, violations, sanctions, supervision |\n\
         | `finance` | finance office: payments, consumables reports |\n\
         | `auditor` | internal or external audit; records nothing, verifies and witnesses |\n\n\
         ## Matrix\n\n",
    );
    out.push_str("| event type |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str(":---:|");
    }
    out.push('\n');
    for spec in specs() {
        out.push_str(&format!("| `{}` |", spec.event_type));
        for role in Role::ALL {
            out.push_str(if spec.roles.contains(&role) {
                " ✓ |"
            } else {
                " |"
            });
        }
        out.push('\n');
    }
    out
}
