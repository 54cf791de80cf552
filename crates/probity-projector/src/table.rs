//! A keyed table that remembers which rows changed since the last time it was asked, so a
//! durable store can write only those rows, in the same batch as the records they came from.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Rows by key, with the keys touched since [`Table::drain_changes`] was last called.
///
/// Any mutable access marks the row: a row borrowed mutably but left unchanged is merely
/// written again, never missed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Table<V> {
    rows: BTreeMap<String, V>,
    #[serde(skip)]
    dirty: BTreeSet<String>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            rows: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }
}

impl<V: PartialEq> PartialEq for Table<V> {
    fn eq(&self, other: &Self) -> bool {
        self.rows == other.rows
    }
}

impl<V: Eq> Eq for Table<V> {}

impl<V> Table<V> {
    /// The row of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.rows.get(key)
    }

    /// Rows in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.rows.iter()
    }

    /// Rows in key order, without their keys.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.rows.values()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row of `key`, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let row = self.rows.get_mut(key)?;
        self.dirty.insert(key.to_owned());
        Some(row)
    }

    /// The row of `key`, created empty if missing, to change.
    pub fn entry(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        self.dirty.insert(key.to_owned());
        self.rows.entry(key.to_owned()).or_default()
    }

    /// The row of `key`, made by `make` if missing, to change.
    pub fn entry_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        self.dirty.insert(key.to_owned());
        self.rows.entry(key.to_owned()).or_insert_with(make)
    }

    /// Sets the row of `key`.
    pub fn insert(&mut self, key: String, row: V) {
        self.dirty.insert(key.clone());
        self.rows.insert(key, row);
    }

    /// Sets a row read back from a store, without marking it changed.
    pub fn restore(&mut self, key: String, row: V) {
        self.rows.insert(key, row);
    }

    /// Hands every row changed since the last call to `each`, in key order, and forgets
    /// that they changed.
    pub fn drain_changes(&mut self, mut each: impl FnMut(&str, &V)) {
        for key in std::mem::take(&mut self.dirty) {
            if let Some(row) = self.rows.get(&key) {
                each(&key, row);
            }
        }
    }
}

/// A row that could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("stored view row {key}: {message}")]
pub struct RowError {
    /// The row's key.
    pub key: String,
    /// What was wrong.
    pub message: String,
}
