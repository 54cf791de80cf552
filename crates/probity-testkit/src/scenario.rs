//! Data directories holding the scenario fixtures of `tests/scenarios/`, each event recorded at
//! its own `recorded_at`, so both time senses are real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use probity_events::scenario::{Prepared, Scenario};
use probity_ledger::{keyfile, EngineConfig, Ledger};

/// The scenario `name`, signed.
pub fn prepared(name: &str) -> Prepared {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/scenarios")
        .join(name)
        .join("events.json");
    Scenario::parse(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .prepare()
        .unwrap()
}

/// A data directory holding the scenario `name`, each event recorded at its own time.
pub fn data_dir(name: &str) -> tempfile::TempDir {
    let prepared = prepared(name);
    let dir = tempfile::tempdir().unwrap();
    keyfile::write_key(&dir.path().join("ledger.key"), &prepared.ledger_key, false).unwrap();
    probity_ledger::scenario::record(&dir.path().join("book"), prepared).unwrap();
    dir
}

/// Opens the ledger of a data directory made by [`data_dir`] (the scenario's ledger key).
pub fn open(dir: &Path, name: &str) -> Ledger {
    Ledger::open(
        &dir.join("book"),
        prepared(name).ledger_key,
        EngineConfig::default(),
        Arc::new(probity_ledger::SystemClock),
    )
    .unwrap()
}
