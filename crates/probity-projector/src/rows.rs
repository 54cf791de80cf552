//! The projection as rows, for a durable store: `<table>/<key>` → JSON. Rows are written
//! only when they change, and the same records always give the same bytes (maps are ordered,
//! vectors keep record order), so a rebuild and an incremental run store identical rows.

use crate::state::Projection;
use crate::table::{AnyTable, RowError};

/// The key of the row holding the policies in force.
pub const POLICIES_KEY: &str = "meta/policies";

/// What a projection was when a trial began, beyond its tables (which keep their own
/// journal): see [`Projection::begin_trial`].
#[derive(Debug)]
pub struct Trial {
    applied: u64,
    policies: Vec<(
        crate::time::Micros,
        probity_core::ids::Seq,
        probity_events::governance::Policy,
    )>,
    policies_changed: bool,
}

impl Projection {
    /// The table called `name`.
    fn table(&mut self, name: &str) -> Option<&mut dyn AnyTable> {
        self.tables_mut()
            .into_iter()
            .find_map(|(n, table)| (n == name).then_some(table))
    }

    /// An empty projection of partial tables (see [`Table`]): rows are restored into it on
    /// demand, and [`take_missed`](Self::take_missed) says which ones applying records wanted.
    /// Policies are not partial: restore their row before applying.
    pub fn partial() -> Self {
        let mut p = Projection::new();
        for (_, table) in p.tables_mut() {
            table.make_partial();
        }
        p
    }

    /// The row keys (`<table>/<row>`) asked for since the last call that a partial projection
    /// neither held nor knew absent.
    pub fn take_missed(&mut self) -> Vec<String> {
        let mut missed = Vec::new();
        for (name, table) in self.tables_mut() {
            missed.extend(table.missed().into_iter().map(|k| format!("{name}/{k}")));
        }
        missed
    }

    /// The tables a reader listed (iterated or counted) since the last call while this partial
    /// projection did not hold all of their rows: each must be
    /// [completed](Self::completed_table) before the reader's answer can be trusted.
    pub fn take_listed(&mut self) -> Vec<&'static str> {
        self.tables_mut()
            .into_iter()
            .filter_map(|(name, table)| table.listed().then_some(name))
            .collect()
    }

    /// Whether a reader asked this partial projection for a row it does not hold, or listed a
    /// table it does not hold whole, since that was last taken (nothing is forgotten).
    pub fn wants(&self) -> bool {
        self.tables().iter().any(|(_, table)| table.wants())
    }

    /// Starts a trial: applying records from here can be undone by
    /// [`roll_back`](Self::roll_back) at the cost of the rows they change (each row's state
    /// before its first change is kept), not of a copy of the projection.
    pub fn begin_trial(&mut self) -> Trial {
        for (_, table) in self.tables_mut() {
            table.begin_trial();
        }
        Trial {
            applied: self.applied,
            policies: self.policies.clone(),
            policies_changed: self.policies_changed.0,
        }
    }

    /// Ends the trial, keeping what was applied.
    pub fn keep_trial(&mut self) {
        for (_, table) in self.tables_mut() {
            table.keep_trial();
        }
    }

    /// Ends the trial, undoing what was applied since it began.
    pub fn roll_back(&mut self, trial: Trial) {
        for (_, table) in self.tables_mut() {
            table.roll_back();
        }
        self.applied = trial.applied;
        self.policies = trial.policies;
        self.policies_changed.0 = trial.policies_changed;
    }

    /// Records that every row of table `name` was restored into this partial projection.
    pub fn completed_table(&mut self, name: &str) -> Result<(), RowError> {
        let table = self.table(name).ok_or_else(|| RowError {
            key: name.to_owned(),
            message: "unknown table".to_owned(),
        })?;
        table.mark_complete();
        Ok(())
    }

    /// Whether the projection holds the row `<table>/<row>`.
    pub fn holds_row(&mut self, key: &str) -> bool {
        let Some((name, row)) = key.split_once('/') else {
            return false;
        };
        self.table(name).is_some_and(|table| table.has(row))
    }

    /// Records that the row `<table>/<row>` does not exist (in a partial projection).
    pub fn restore_absent(&mut self, key: &str) -> Result<(), RowError> {
        let (name, row) = key.split_once('/').ok_or_else(|| RowError {
            key: key.to_owned(),
            message: "no table name".to_owned(),
        })?;
        let table = self.table(name).ok_or_else(|| RowError {
            key: key.to_owned(),
            message: "unknown table".to_owned(),
        })?;
        table.mark_absent(row.to_owned());
        Ok(())
    }

    /// Hands every row changed since the last call to `each` as (key, JSON), and the policy
    /// row when policies changed.
    pub fn drain_changes(&mut self, mut each: impl FnMut(String, Vec<u8>)) {
        for (name, table) in self.tables_mut() {
            table.drain_json(name, &mut each);
        }
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
        let table = self.table(name).ok_or_else(|| bad("unknown table"))?;
        table.restore_json(key, row, json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TABLES;

    #[test]
    fn every_table_is_stored_and_restored_by_its_name() {
        let mut p = Projection::new();
        p.suppliers.entry("91320100MA1XXXXX0X").name = Some("甲公司".into());
        p.signers.insert("ab".into(), "王秀英".into());
        let mut rows = Vec::new();
        p.drain_changes(|key, json| rows.push((key, json)));
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["suppliers/91320100MA1XXXXX0X", "signers/ab"]);
        let mut back = Projection::new();
        for (key, json) in &rows {
            back.restore_row(key, json).unwrap();
        }
        assert_eq!(back, p);
        let names: Vec<&str> = Projection::new().tables_mut().map(|(n, _)| n).to_vec();
        assert_eq!(names, TABLES);
        assert!(back.restore_row("nosuch/x", b"1").is_err());
    }
}
