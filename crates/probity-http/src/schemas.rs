//! The published JSON Schemas of the API's answers (`schemas/http/`), generated from the types
//! the answers are serialized from, so that they cannot drift apart. A test keeps the checked-in
//! files equal to these (`PROBITY_BLESS=1` rewrites them) and the API tests validate real
//! answers against the files.

use probity_core::receipt::Receipt;
use probity_projector::{
    BlacklistEntry, CaseReport, PolicyReport, RepReport, StaffReport, SupplierReport,
};
use probity_views::answers;
use probity_views::query::FindingAnswer;
use probity_wire::{
    CheckpointReply, ConsistencyProof, InclusionProof, Reply, Status, VersionReply,
};
use schemars::JsonSchema;
use serde_json::Value;

use crate::api::{CaseLine, CaseLineAnswer, Draft, EventTypeLine, KeyLine, Readiness};

fn answer<T: JsonSchema>(name: &str, what: &str) -> (String, Value) {
    let mut schema = schemars::schema_for!(Reply<T>).to_value();
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$id".into(),
            Value::from(format!("https://probity.example/schemas/http/{name}.json")),
        );
        map.insert("title".into(), Value::from(name.to_owned()));
        map.insert("description".into(), Value::from(what.to_owned()));
    }
    (name.to_owned(), schema)
}

/// `(name, schema)` of every JSON answer: `schemas/http/<name>.json`, and `v2/<name>.json` for
/// the answers that a request's `version=2` gives in their older shape. Each is the whole
/// answer, `{"ok": …}` or `{"error": …}`.
pub fn answer_schemas() -> Vec<(String, Value)> {
    let mut readiness = schemars::schema_for!(Readiness).to_value();
    if let Value::Object(map) = &mut readiness {
        map.insert(
            "$id".into(),
            Value::from("https://probity.example/schemas/http/readyz.json"),
        );
    }
    vec![
        answer::<Status>("status", "GET /api/status"),
        answer::<CheckpointReply>("checkpoint", "GET /api/checkpoint"),
        answer::<InclusionProof>("proof-inclusion", "GET /api/proof/inclusion"),
        answer::<ConsistencyProof>("proof-consistency", "GET /api/proof/consistency"),
        answer::<VersionReply>("version", "GET /api/version"),
        answer::<probity_views::investigation::ViewAnswer>("replay", "GET /api/replay"),
        answer::<probity_views::replay::DiffAnswer>("replay-diff", "GET /api/replay/diff"),
        answer::<answers::PolicyAnswer>("policy", "GET /api/policy"),
        answer::<Vec<answers::Blacklisted>>("blacklist", "GET /api/blacklist"),
        answer::<Vec<answers::Finding>>("findings", "GET /api/findings"),
        answer::<answers::Supplier>("supplier", "GET /api/suppliers/{uscc}"),
        answer::<answers::Rep>("rep", "GET /api/reps/{filing_number}"),
        answer::<answers::Case>("case", "GET /api/cases/{id}"),
        answer::<Vec<CaseLineAnswer>>("cases", "GET /api/cases"),
        answer::<answers::Staff>("staff", "GET /api/staff/{id}"),
        answer::<PolicyReport>("v2/policy", "GET /api/policy?version=2"),
        answer::<Vec<BlacklistEntry>>("v2/blacklist", "GET /api/blacklist?version=2"),
        answer::<Vec<FindingAnswer>>("v2/findings", "GET /api/findings?version=2"),
        answer::<SupplierReport>("v2/supplier", "GET /api/suppliers/{uscc}?version=2"),
        answer::<RepReport>("v2/rep", "GET /api/reps/{filing_number}?version=2"),
        answer::<CaseReport>("v2/case", "GET /api/cases/{id}?version=2"),
        answer::<Vec<CaseLine>>("v2/cases", "GET /api/cases?version=2"),
        answer::<StaffReport>("v2/staff", "GET /api/staff/{id}?version=2"),
        answer::<Vec<KeyLine>>("keys", "GET /api/keys"),
        answer::<Vec<EventTypeLine>>("event-types", "GET /api/event-types"),
        answer::<Draft>("draft", "POST /api/drafts"),
        answer::<Receipt>("receipt", "POST /api/events"),
        answer::<Vec<Reply<Receipt>>>("batch", "POST /api/events/batch"),
        answer::<probity_core::verify::VerifyReport>("verify", "POST /api/verify"),
        ("readyz".to_owned(), readiness),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/http/` holds exactly these schemas; `PROBITY_BLESS=1` rewrites it.
    #[test]
    fn the_published_schemas_are_the_generated_ones() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/http");
        let bless = std::env::var_os("PROBITY_BLESS").is_some();
        if bless {
            std::fs::create_dir_all(dir.join("v2")).unwrap();
        }
        let mut names = Vec::new();
        for (name, schema) in answer_schemas() {
            let path = dir.join(format!("{name}.json"));
            let text = format!("{}\n", serde_json::to_string_pretty(&schema).unwrap());
            if bless {
                std::fs::write(&path, &text).unwrap();
            }
            let stored = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (PROBITY_BLESS=1 writes it)", path.display()));
            assert_eq!(
                stored,
                text,
                "{} is stale: PROBITY_BLESS=1 rewrites it",
                path.display()
            );
            names.push(format!("{name}.json"));
        }
        let mut present: Vec<String> = ["", "v2/"]
            .into_iter()
            .flat_map(|sub| {
                std::fs::read_dir(dir.join(sub))
                    .unwrap()
                    .map(|e| e.unwrap())
                    .filter(|e| e.file_type().unwrap().is_file())
                    .map(move |e| format!("{sub}{}", e.file_name().to_string_lossy()))
            })
            .collect();
        present.sort();
        names.sort();
        assert_eq!(present, names, "schemas/http/ holds a file no answer has");
    }
}
