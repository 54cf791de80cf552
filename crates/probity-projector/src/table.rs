//! A keyed table that remembers which rows changed since the last time it was asked, so a
//! durable store can write only those rows, in the same batch as the records they came from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Rows by key, with the keys touched since [`Table::drain_changes`] was last called.
///
/// Any mutable access marks the row: a row borrowed mutably but left unchanged is merely
/// written again, never missed.
///
/// A *partial* table ([`Table::partial`]) holds only the rows someone restored into it (from
/// a snapshot, say) and remembers every key asked for that it neither holds nor knows to be
/// absent: a replay applies records to such a table, loads the missed rows, and starts again
/// until nothing is missed, so that it reads only the rows those records touch. Listing a
/// partial table (iterating, counting) is noted too, until it is [completed](Table::completed):
/// a reader that lists a table must have all of its rows.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Table<V> {
    rows: BTreeMap<String, V>,
    #[serde(skip)]
    dirty: BTreeSet<String>,
    #[serde(skip)]
    partial: Option<Partial>,
    /// During a trial ([`Table::begin_trial`]): each row changed since it began, as it was
    /// before (`None`: it did not exist), and whether it was marked changed.
    #[serde(skip, default = "no_journal")]
    journal: Option<Journal<V>>,
}

/// Rows changed during a trial, as they were before, and whether they were marked changed.
type Journal<V> = BTreeMap<String, (Option<V>, bool)>;

/// No trial (a function, so that serde asks nothing of `V` for a field it skips).
fn no_journal<V>() -> Option<Journal<V>> {
    None
}

/// What a partial table knows beyond its rows.
#[derive(Debug, Default)]
struct Partial {
    /// Keys known to have no row.
    absent: BTreeSet<String>,
    /// Keys asked for but neither held nor known absent. A mutex, not a cell: readers take
    /// `&self`, and projections are shared between threads.
    missed: Mutex<BTreeSet<String>>,
    /// Every row was restored: listing the table lists all of it.
    complete: bool,
    /// The table was listed while not complete.
    listed: AtomicBool,
}

impl Clone for Partial {
    fn clone(&self) -> Self {
        Partial {
            absent: self.absent.clone(),
            missed: Mutex::new(lock(&self.missed).clone()),
            complete: self.complete,
            listed: AtomicBool::new(self.listed.load(Ordering::Relaxed)),
        }
    }
}

fn lock(set: &Mutex<BTreeSet<String>>) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    // A poisoned set of key names is still a valid set of key names.
    set.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<V: Clone> Clone for Table<V> {
    fn clone(&self) -> Self {
        Table {
            rows: self.rows.clone(),
            dirty: self.dirty.clone(),
            partial: self.partial.clone(),
            journal: self.journal.clone(),
        }
    }
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            rows: BTreeMap::new(),
            dirty: BTreeSet::new(),
            partial: None,
            journal: None,
        }
    }
}

impl<V: PartialEq> PartialEq for Table<V> {
    fn eq(&self, other: &Self) -> bool {
        self.rows == other.rows
    }
}

impl<V: Eq> Eq for Table<V> {}

impl<V: Clone> Table<V> {
    /// Starts a trial: from now on each row's state before its first change is kept, so that
    /// [`roll_back`](Self::roll_back) can undo the changes — what applying records to a partial
    /// table costs when a row was missing, instead of a copy of the whole table.
    pub fn begin_trial(&mut self) {
        self.journal = Some(BTreeMap::new());
    }

    /// Ends the trial, keeping its changes.
    pub fn keep_trial(&mut self) {
        self.journal = None;
    }

    /// Ends the trial, undoing its changes: every row it changed is as it was when it began,
    /// marked changed or not as it was.
    pub fn roll_back(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        for (key, (row, dirty)) in journal {
            if dirty {
                self.dirty.insert(key.clone());
            } else {
                self.dirty.remove(&key);
            }
            match row {
                Some(row) => self.rows.insert(key, row),
                None => self.rows.remove(&key),
            };
        }
    }

    /// Keeps, during a trial, the state of `key` before its first change.
    fn note(&mut self, key: &str) {
        if let Some(journal) = &mut self.journal {
            if !journal.contains_key(key) {
                let before = (self.rows.get(key).cloned(), self.dirty.contains(key));
                journal.insert(key.to_owned(), before);
            }
        }
    }

    /// An empty partial table: see [`Table`].
    pub fn partial() -> Self {
        Table {
            partial: Some(Partial::default()),
            ..Table::default()
        }
    }

    /// Whether this is a partial table.
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// Notes, in a partial table, that `key` was asked for and is not known here.
    fn ask(&self, key: &str) {
        if let Some(partial) = &self.partial {
            if !self.rows.contains_key(key) && !partial.absent.contains(key) {
                lock(&partial.missed).insert(key.to_owned());
            }
        }
    }

    /// Notes, in a partial table not known to be complete, that it was listed.
    fn ask_all(&self) {
        if let Some(partial) = &self.partial {
            if !partial.complete {
                partial.listed.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether this partial table was listed while incomplete since the last call (which
    /// forgets it).
    pub fn take_listed(&mut self) -> bool {
        self.partial
            .as_mut()
            .is_some_and(|p| std::mem::take(p.listed.get_mut()))
    }

    /// Records, in a partial table, that every row it has is now restored: listing it no
    /// longer counts as missing something.
    pub fn completed(&mut self) {
        if let Some(partial) = &mut self.partial {
            partial.complete = true;
        }
    }

    /// Records, in a partial table, that `key` has no row.
    pub fn restore_absent(&mut self, key: String) {
        if let Some(partial) = &mut self.partial {
            partial.absent.insert(key);
        }
    }

    /// The keys asked for that this partial table neither held nor knew absent, forgotten
    /// as they are handed out.
    pub fn take_missed(&mut self) -> BTreeSet<String> {
        self.partial
            .as_mut()
            .map(|p| std::mem::take(&mut *lock(&p.missed)))
            .unwrap_or_default()
    }

    /// Whether the table holds a row for `key` (a partial table: whether it was restored or
    /// made here), without counting as asking for it.
    pub fn holds(&self, key: &str) -> bool {
        self.rows.contains_key(key)
    }

    /// The row of `key` if this table holds it, without counting as asking for it: for
    /// bookkeeping that must not make a partial table read rows.
    pub fn peek(&self, key: &str) -> Option<&V> {
        self.rows.get(key)
    }

    /// The keys this table holds, without counting as listing it (see [`peek`](Self::peek)).
    pub fn held_keys(&self) -> impl Iterator<Item = &String> {
        self.rows.keys()
    }

    /// The row of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.ask(key);
        self.rows.get(key)
    }

    /// Rows in key order (of a partial table: the rows it holds, and it notes the listing).
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.ask_all();
        self.rows.iter()
    }

    /// Rows in key order, without their keys.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.ask_all();
        self.rows.values()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ask_all();
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ask_all();
        self.rows.is_empty()
    }

    /// Marks `key` changed. Rows are touched once per record that concerns them, mostly rows
    /// already marked in the batch: the key is copied only when it is new here.
    fn mark(&mut self, key: &str) {
        self.note(key);
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_owned());
        }
    }

    /// The row of `key`, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.ask(key);
        if self.rows.contains_key(key) {
            self.mark(key);
        }
        self.rows.get_mut(key)
    }

    /// The row of `key`, created empty if missing, to change.
    pub fn entry(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        self.entry_or_insert_with(key, V::default)
    }

    /// The row of `key`, made by `make` if missing, to change.
    pub fn entry_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        self.ask(key);
        self.mark(key);
        // Looked up twice rather than through `BTreeMap::entry`, which takes an owned key:
        // a copy of the key for every access to a row that exists nearly every time.
        if !self.rows.contains_key(key) {
            self.rows.insert(key.to_owned(), make());
        }
        match self.rows.get_mut(key) {
            Some(row) => row,
            None => unreachable!("the row of {key:?} was inserted above"),
        }
    }

    /// Sets the row of `key`.
    pub fn insert(&mut self, key: String, row: V) {
        self.note(&key);
        self.dirty.insert(key.clone());
        self.rows.insert(key, row);
    }

    /// Drops the row of `key` from memory unless it changed since it was last drained: its
    /// stored copy is current.
    pub fn forget_clean(&mut self, key: &str) {
        if !self.dirty.contains(key) {
            self.note(key);
            if self.rows.remove(key).is_some() {
                // A partial table that let a row go no longer holds all of them.
                if let Some(partial) = &mut self.partial {
                    partial.complete = false;
                }
            }
        }
    }

    /// Sets a row read back from a store, without marking it changed.
    pub fn restore(&mut self, key: String, row: V) {
        self.note(&key);
        self.rows.insert(key, row);
    }

    /// Every row changed since the last call, in key order; forgets that they changed.
    pub fn drain_changes(&mut self) -> Vec<(String, &V)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|key| {
                let row = self.rows.get(&key)?;
                Some((key, row))
            })
            .collect()
    }
}

fn drain<V: Clone + Serialize + Sync>(
    name: &str,
    table: &mut Table<V>,
    each: &mut dyn FnMut(String, Vec<u8>),
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

fn restore<V: Clone + DeserializeOwned>(
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

/// What the store does with a table, whatever its rows: object-safe, so that a projection
/// can hand out all its tables at once ([`Projection::tables_mut`]).
pub(crate) trait AnyTable {
    /// Turns it into an empty partial table.
    fn make_partial(&mut self);
    /// See [`Table::take_missed`].
    fn missed(&mut self) -> BTreeSet<String>;
    /// See [`Table::holds`].
    fn has(&self, row: &str) -> bool;
    /// See [`Table::restore_absent`].
    fn mark_absent(&mut self, row: String);
    /// See [`Table::take_listed`].
    fn listed(&mut self) -> bool;
    /// See [`Table::completed`].
    fn mark_complete(&mut self);
    /// Whether this partial table noted a row asked for or a listing it could not answer
    /// (without forgetting it, unlike [`missed`](Self::missed) and [`listed`](Self::listed)).
    fn wants(&self) -> bool;
    /// See [`Table::begin_trial`].
    fn begin_trial(&mut self);
    /// See [`Table::keep_trial`].
    fn keep_trial(&mut self);
    /// See [`Table::roll_back`].
    fn roll_back(&mut self);
    /// Hands each changed row to `each` as (`<name>/<row>`, JSON).
    fn drain_json(&mut self, name: &str, each: &mut dyn FnMut(String, Vec<u8>));
    /// Puts back the row `row` (whose full key is `key`) from its JSON.
    fn restore_json(&mut self, key: &str, row: &str, json: &[u8]) -> Result<(), RowError>;
}

impl<V: Clone + Serialize + DeserializeOwned + Sync> AnyTable for Table<V> {
    fn make_partial(&mut self) {
        *self = Table::partial();
    }

    fn missed(&mut self) -> BTreeSet<String> {
        self.take_missed()
    }

    fn has(&self, row: &str) -> bool {
        self.holds(row)
    }

    fn mark_absent(&mut self, row: String) {
        self.restore_absent(row);
    }

    fn listed(&mut self) -> bool {
        self.take_listed()
    }

    fn mark_complete(&mut self) {
        self.completed();
    }

    fn wants(&self) -> bool {
        self.partial
            .as_ref()
            .is_some_and(|p| p.listed.load(Ordering::Relaxed) || !lock(&p.missed).is_empty())
    }

    fn begin_trial(&mut self) {
        Table::begin_trial(self);
    }

    fn keep_trial(&mut self) {
        Table::keep_trial(self);
    }

    fn roll_back(&mut self) {
        Table::roll_back(self);
    }

    fn drain_json(&mut self, name: &str, each: &mut dyn FnMut(String, Vec<u8>)) {
        drain(name, self, each);
    }

    fn restore_json(&mut self, key: &str, row: &str, json: &[u8]) -> Result<(), RowError> {
        restore(self, key, row, json)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Rolling a trial back undoes every change it made — rows changed, made, set, forgotten,
    /// restored — and which rows were marked changed; keeping one keeps them all.
    #[test]
    fn a_rolled_back_trial_leaves_the_table_as_it_was() {
        let mut t: Table<u32> = Table::default();
        t.insert("a".into(), 1);
        t.insert("b".into(), 2);
        let _ = t.drain_changes();
        t.insert("c".into(), 3);
        let before = t.clone();
        let dirty_before = t.dirty.clone();

        t.begin_trial();
        *t.get_mut("a").unwrap() += 10;
        *t.get_mut("a").unwrap() += 10;
        *t.entry("d") += 4;
        t.insert("c".into(), 30);
        t.forget_clean("b");
        t.restore("e".into(), 5);
        assert_eq!(t.get("a"), Some(&21));
        t.roll_back();
        assert_eq!(t, before);
        assert_eq!(t.dirty, dirty_before);
        assert_eq!(t.rows.keys().collect::<Vec<_>>(), ["a", "b", "c"]);

        t.begin_trial();
        *t.get_mut("a").unwrap() += 1;
        t.keep_trial();
        t.roll_back();
        assert_eq!(t.get("a"), Some(&2));
        let changed: Vec<String> = t.drain_changes().into_iter().map(|(k, _)| k).collect();
        assert_eq!(changed, ["a", "c"]);
    }

    /// A partial table notes a listing until it is completed, and again once it let a row go.
    #[test]
    fn a_partial_table_notes_listings_until_complete() {
        let mut t: Table<u32> = Table::partial();
        t.restore("a".into(), 1);
        assert_eq!(t.iter().count(), 1);
        assert!(t.take_listed());
        assert!(!t.take_listed(), "taking forgets");
        t.completed();
        assert_eq!(t.len(), 1);
        assert!(!t.take_listed());
        t.forget_clean("a");
        assert!(t.is_empty());
        assert!(t.take_listed());
        let mut whole: Table<u32> = Table::default();
        let _ = whole.len();
        assert!(!whole.take_listed(), "a whole table never misses anything");
    }
}
