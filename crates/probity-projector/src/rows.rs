//! The projection as rows, for a durable store: `<table>/<key>` → JSON. Rows are written
//! only when they change, and the same records always give the same bytes (maps are ordered,
//! vectors keep record order), so a rebuild and an incremental run store identical rows.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::projection::Projection;
use crate::table::{RowError, Table};

/// The key of the row holding the policies in force.
pub const POLICIES_KEY: &str = "meta/policies";

fn drain<V: Serialize + Sync>(
    name: &str,
    table: &mut Table<V>,
    each: &mut impl FnMut(String, Vec<u8>),
) {
    let changed = table.drain_changes();
    // Serialising is independent per row, and a batch may change thousands of large rows
    // (case timeline chunks): on all cores.
    let jsons = probity_core::par::par_map(&changed, |(key, row)| {
        // Invariant: view rows are plain data (strings, numbers, maps with string keys).
        serde_json::to_vec(row).unwrap_or_else(|e| panic!("{name}/{key}: {e}"))
    });
    for ((key, _), json) in changed.into_iter().zip(jsons) {
        each(format!("{name}/{key}"), json);
    }
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

/// The tables of a projection, by name (the first part of a row key).
pub const TABLES: [&str; 12] = [
    "suppliers",
    "reps",
    "visits",
    "meetings",
    "cases",
    "steps",
    "timelines",
    "decisions",
    "split_groups",
    "near_threshold",
    "findings",
    "signers",
];

/// Runs `$body` with `$table` bound to each table of the projection and `$name` to its name.
macro_rules! each_table {
    ($p:expr, |$name:ident, $table:ident| $body:expr) => {{
        {
            let ($name, $table) = ("suppliers", &mut $p.suppliers);
            $body
        }
        {
            let ($name, $table) = ("reps", &mut $p.reps);
            $body
        }
        {
            let ($name, $table) = ("visits", &mut $p.visits);
            $body
        }
        {
            let ($name, $table) = ("meetings", &mut $p.meetings);
            $body
        }
        {
            let ($name, $table) = ("cases", &mut $p.cases);
            $body
        }
        {
            let ($name, $table) = ("steps", &mut $p.steps);
            $body
        }
        {
            let ($name, $table) = ("timelines", &mut $p.timelines);
            $body
        }
        {
            let ($name, $table) = ("decisions", &mut $p.decisions);
            $body
        }
        {
            let ($name, $table) = ("split_groups", &mut $p.split_groups);
            $body
        }
        {
            let ($name, $table) = ("near_threshold", &mut $p.near_threshold);
            $body
        }
        {
            let ($name, $table) = ("findings", &mut $p.findings);
            $body
        }
        {
            let ($name, $table) = ("signers", &mut $p.signers);
            $body
        }
    }};
}

impl Projection {
    /// An empty projection of partial tables (see [`Table`]): rows are restored into it on
    /// demand, and [`take_missed`](Self::take_missed) says which ones applying records wanted.
    /// Policies are not partial: restore their row before applying.
    pub fn partial() -> Self {
        let mut p = Projection::new();
        each_table!(p, |_name, table| *table = Table::partial());
        p
    }

    /// The row keys (`<table>/<row>`) asked for since the last call that a partial projection
    /// neither held nor knew absent.
    pub fn take_missed(&mut self) -> Vec<String> {
        let mut missed = Vec::new();
        each_table!(self, |name, table| missed.extend(
            table
                .take_missed()
                .into_iter()
                .map(|k| format!("{name}/{k}"))
        ));
        missed
    }

    /// Whether the projection holds the row `<table>/<row>`.
    pub fn holds_row(&mut self, key: &str) -> bool {
        let Some((name, row)) = key.split_once('/') else {
            return false;
        };
        let mut held = false;
        each_table!(self, |table_name, table| if table_name == name {
            held = table.holds(row);
        });
        held
    }

    /// Records that the row `<table>/<row>` does not exist (in a partial projection).
    pub fn restore_absent(&mut self, key: &str) -> Result<(), RowError> {
        let (name, row) = key.split_once('/').ok_or_else(|| RowError {
            key: key.to_owned(),
            message: "no table name".to_owned(),
        })?;
        let mut known = false;
        each_table!(self, |table_name, table| if table_name == name {
            table.restore_absent(row.to_owned());
            known = true;
        });
        if known {
            Ok(())
        } else {
            Err(RowError {
                key: key.to_owned(),
                message: "unknown table".to_owned(),
            })
        }
    }

    /// Hands every row changed since the last call to `each` as (key, JSON), and the policy
    /// row when policies changed.
    pub fn drain_changes(&mut self, mut each: impl FnMut(String, Vec<u8>)) {
        let each = &mut each;
        each_table!(self, |name, table| drain(name, table, each));
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
        let (name, row) = key.split_once('/').ok_or_else(|| bad("no table name"))?;
        let mut restored = None;
        each_table!(self, |table_name, table| if table_name == name {
            restored = Some(restore(table, key, row, json));
        });
        restored.unwrap_or_else(|| Err(bad("unknown table")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_lists_every_table() {
        let mut names = Vec::new();
        let mut p = Projection::new();
        each_table!(p, |name, _table| names.push(name));
        assert_eq!(names, TABLES);
    }
}
