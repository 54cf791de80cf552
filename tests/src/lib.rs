//! Shared helpers of the end-to-end tests: where the scenario fixtures are, and how to load one.

use std::path::{Path, PathBuf};

use probity_events::scenario::{Prepared, Scenario, ScenarioError};

/// The `tests/scenarios` folder.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Names of every scenario folder, sorted.
pub fn scenario_names() -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir())? {
        let entry = entry?;
        if entry.path().join("events.json").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Why a scenario could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io(std::io::Error),
    /// It is not a valid scenario.
    Scenario(ScenarioError),
}

/// Loads and signs the scenario `name`.
pub fn load_scenario(name: &str) -> Result<Prepared, LoadError> {
    let path = scenarios_dir().join(name).join("events.json");
    let text = std::fs::read_to_string(path).map_err(LoadError::Io)?;
    Scenario::parse(&text)
        .and_then(|s| s.prepare())
        .map_err(LoadError::Scenario)
}

/// Appends a prepared scenario to an in-memory ledger and projects every record.
pub fn project(
    prepared: &Prepared,
) -> (
    probity_core::append::MemoryLedger,
    probity_projector::Projection,
) {
    use probity_core::append::{AppendRules, MemoryLedger};
    let mut ledger = MemoryLedger::new(probity_events::role_matrix(), AppendRules::default());
    let mut projection = probity_projector::Projection::new();
    for (event, at) in &prepared.events {
        // Invariant: scenario fixtures are valid (checked by the scenarios test).
        let appended = ledger
            .append(event.clone(), *at)
            .expect("scenario event appends");
        let record = appended.record();
        let body = record.event.open().expect("authentic").into_body();
        let decoded = probity_events::validate_body(&body).expect("valid payload");
        projection.apply(probity_projector::Applied {
            seq: record.seq,
            recorded_at: record.recorded_at,
            body: &body,
            event: &decoded,
        });
    }
    (ledger, projection)
}
