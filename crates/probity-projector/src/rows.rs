//! The projection as rows, for a durable store: `<table>/<key>` → JSON. Rows are written
//! only when they change, and the same records always give the same bytes (maps are ordered,
//! vectors keep record order), so a rebuild and an incremental run store identical rows.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::projection::Projection;
use crate::table::{RowError, Table};

/// The key of the row holding the policies in force.
pub const POLICIES_KEY: &str = "meta/policies";

fn drain<V: Serialize>(name: &str, table: &mut Table<V>, each: &mut impl FnMut(String, Vec<u8>)) {
    table.drain_changes(|key, row| {
        // Invariant: view rows are plain data (strings, numbers, maps with string keys).
        let json = serde_json::to_vec(row).unwrap_or_else(|e| panic!("{name}/{key}: {e}"));
        each(format!("{name}/{key}"), json);
    });
}

fn restore<V: DeserializeOwned>(
    table: &mut Table<V>,
    key: &str,
    row: &str,
    json: &[u8],
) -> Result<(), RowError> {
    let value = serde_json::from_slice(json).map_err(|e| RowError {
        key: key.to_owned(),
        message: e.to_string(),
    })?;
    table.restore(row.to_owned(), value);
    Ok(())
}

impl Projection {
    /// Hands every row changed since the last call to `each` as (key, JSON), and the policy
    /// row when policies changed.
    pub fn drain_changes(&mut self, mut each: impl FnMut(String, Vec<u8>)) {
        let each = &mut each;
        drain("suppliers", &mut self.suppliers, each);
        drain("reps", &mut self.reps, each);
        drain("visits", &mut self.visits, each);
        drain("meetings", &mut self.meetings, each);
        drain("cases", &mut self.cases, each);
        drain("decisions", &mut self.decisions, each);
        drain("split_groups", &mut self.split_groups, each);
        drain("near_threshold", &mut self.near_threshold, each);
        drain("findings", &mut self.findings, each);
        drain("signers", &mut self.signers, each);
        if std::mem::take(&mut self.policies_changed).0 {
            let json = serde_json::to_vec(&self.policies)
                .unwrap_or_else(|e| panic!("{POLICIES_KEY}: {e}"));
            each(POLICIES_KEY.to_owned(), json);
        }
    }

    /// Puts back one row written by [`drain_changes`](Self::drain_changes).
    pub fn restore_row(&mut self, key: &str, json: &[u8]) -> Result<(), RowError> {
        let bad = |message: &str| RowError {
            key: key.to_owned(),
            message: message.to_owned(),
        };
        if key == POLICIES_KEY {
            self.policies = serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
            return Ok(());
        }
        let (table, row) = key.split_once('/').ok_or_else(|| bad("no table name"))?;
        match table {
            "suppliers" => restore(&mut self.suppliers, key, row, json),
            "reps" => restore(&mut self.reps, key, row, json),
            "visits" => restore(&mut self.visits, key, row, json),
            "meetings" => restore(&mut self.meetings, key, row, json),
            "cases" => restore(&mut self.cases, key, row, json),
            "decisions" => restore(&mut self.decisions, key, row, json),
            "split_groups" => restore(&mut self.split_groups, key, row, json),
            "near_threshold" => restore(&mut self.near_threshold, key, row, json),
            "findings" => restore(&mut self.findings, key, row, json),
            "signers" => restore(&mut self.signers, key, row, json),
            _ => Err(bad("unknown table")),
        }
    }
}
