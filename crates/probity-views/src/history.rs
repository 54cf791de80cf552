//! The views' history, for `replay`: what the views were at earlier moments, kept in the views
//! store and written in the same atomic batches as the views themselves.
//!
//! * **Snapshots.** Every [`SNAPSHOT_EVERY`] records or so (at a batch end, which the embedded
//!   reader puts at a ledger checkpoint) the rows changed since the previous snapshot become
//!   versions `h/<row key> 0xFF <size, u64 big-endian>`, and `s/<size>` notes the snapshot.
//!   The view of a row as of snapshot `S` is its version with the greatest size ≤ `S` (none:
//!   the row did not exist yet). Between snapshots a changed row is kept in `v/<row key>`; at
//!   the next snapshot it moves to its version there. A row's current value is therefore its
//!   `v/` entry if it has one, else its latest version. Each change is written once: the
//!   history costs no second copy of the views. (`0xFF` never occurs in UTF-8, so no row key is
//!   a prefix of another's history key, and a row's versions are adjacent.)
//! * **Times.** `t/<chunk, u64 big-endian>` holds, for records `chunk·1024 …`, each record's
//!   `occurred_at` and `recorded_at` (µs, i64 big-endian, 16 bytes a record), so that a replay
//!   can pick the records true or known at a moment without opening them.
//! * **Subjects.** `x/<kind>:<id> 0xFF <first seq>` → the records (u64 big-endian each) of one
//!   batch that name the subject, for the timeline of one supplier, rep, case or staff member.

use std::collections::{BTreeMap, HashSet};

use probity_core::ids::Seq;
use serde::{Deserialize, Serialize};

pub use crate::store::Times;
use crate::store::{
    Batch, Cursor, StoreError, ViewStore, CURSOR_KEY, ID_ENTRY, ID_PREFIX, ROW_PREFIX,
};

/// Records between snapshots (at least; a snapshot waits for the end of a batch).
pub const SNAPSHOT_EVERY: u64 = 16384;

const HISTORY_PREFIX: &[u8] = b"h/";
const SNAPSHOT_PREFIX: &[u8] = b"s/";
const TIMES_PREFIX: &[u8] = b"t/";
const SUBJECT_PREFIX: &[u8] = b"x/";
const SEPARATOR: u8 = 0xFF;
const TIMES_CHUNK: u64 = 1024;
const TIMES_ENTRY: usize = 16;

/// One snapshot: the views as of the first `size` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Records applied.
    pub size: u64,
    /// The latest times among those records.
    pub max_times: Times,
}

impl Snapshot {
    /// The empty views, before record 0: always available.
    pub const EMPTY: Snapshot = Snapshot {
        size: 0,
        max_times: Times {
            occurred_at: i64::MIN,
            recorded_at: i64::MIN,
        },
    };
}

fn key(prefix: &[u8], name: &[u8], version: Option<u64>) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + name.len() + 9);
    k.extend_from_slice(prefix);
    k.extend_from_slice(name);
    if let Some(version) = version {
        k.push(SEPARATOR);
        k.extend_from_slice(&version.to_be_bytes());
    }
    k
}

/// A history key's row name and version (the part after the prefix).
fn split_version(name: &[u8]) -> Result<(&[u8], u64), StoreError> {
    let at = name
        .len()
        .checked_sub(9)
        .filter(|&at| name[at] == SEPARATOR)
        .ok_or_else(|| StoreError::Corrupt("history key without a version".into()))?;
    Ok((&name[..at], u64_at(&name[at + 1..])))
}

fn u64_at(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(b)
}

fn i64_at(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(b)
}

impl ViewStore {
    /// Writes `batch` and `cursor` atomically, and makes them durable before returning.
    pub fn commit(&self, batch: Batch, cursor: &Cursor) -> Result<(), StoreError> {
        let mut writes = sled::Batch::default();
        self.write_history(&batch, cursor, &mut writes)?;
        let snapshot = batch.snapshot.then_some(cursor.applied);
        self.write_rows(batch.rows, snapshot, &mut writes)?;
        if let Some((_, first)) = batch.event_ids.first() {
            let mut k = ID_PREFIX.to_vec();
            k.extend_from_slice(&first.0.to_be_bytes());
            let mut ids = Vec::with_capacity(batch.event_ids.len() * ID_ENTRY);
            for (id, seq) in &batch.event_ids {
                ids.extend_from_slice(id);
                ids.extend_from_slice(&seq.0.to_be_bytes());
            }
            writes.insert(k, ids);
        }
        // Invariant: the cursor is plain data.
        let cursor = serde_json::to_vec(cursor).unwrap_or_else(|e| panic!("cursor: {e}"));
        writes.insert(CURSOR_KEY, cursor);
        self.db.apply_batch(writes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Adds the changed rows of `batch` (committed with `cursor`) to `writes`: between
    /// snapshots to `v/`; at a snapshot as versions of it, together with the rows `v/` holds
    /// (changed since the last snapshot), which move out of `v/`. Each changed row is written
    /// once, whichever way.
    pub(crate) fn write_rows(
        &self,
        rows: Vec<(String, Vec<u8>)>,
        snapshot: Option<u64>,
        writes: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        let Some(size) = snapshot else {
            for (row, json) in rows {
                writes.insert(key(ROW_PREFIX, row.as_bytes(), None), json);
            }
            return Ok(());
        };
        let pending: Vec<(sled::IVec, sled::IVec)> =
            self.db.scan_prefix(ROW_PREFIX).collect::<Result<_, _>>()?;
        // Rebuilding from the book, every batch ends with a snapshot and nothing is pending.
        let changed: HashSet<&[u8]> = if pending.is_empty() {
            HashSet::new()
        } else {
            rows.iter().map(|(row, _)| row.as_bytes()).collect()
        };
        for (stored, json) in pending {
            let row = &stored[ROW_PREFIX.len()..];
            if !changed.contains(row) {
                writes.insert(key(HISTORY_PREFIX, row, Some(size)), json);
            }
            writes.remove(stored);
        }
        for (row, json) in rows {
            writes.insert(key(HISTORY_PREFIX, row.as_bytes(), Some(size)), json);
        }
        Ok(())
    }

    /// Adds the history of `batch` (committed with `cursor`) to `writes`, its rows aside
    /// ([`write_rows`](Self::write_rows)).
    pub(crate) fn write_history(
        &self,
        batch: &Batch,
        cursor: &Cursor,
        writes: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        if batch.snapshot {
            let size = cursor.applied;
            let snapshot = Snapshot {
                size,
                max_times: cursor.max_times,
            };
            // Invariant: a snapshot is plain data.
            let json = serde_json::to_vec(&snapshot).unwrap_or_else(|e| panic!("snapshot: {e}"));
            writes.insert(key(SNAPSHOT_PREFIX, &size.to_be_bytes(), None), json);
        }
        self.write_times(batch, cursor, writes)?;
        // Per subject: the batch's first record naming it (the key's version) and all of them.
        let mut by_subject: BTreeMap<&str, (u64, Vec<u8>)> = BTreeMap::new();
        for (subject, seq) in &batch.subjects {
            by_subject
                .entry(subject)
                .or_insert_with(|| (seq.0, Vec::new()))
                .1
                .extend_from_slice(&seq.0.to_be_bytes());
        }
        for (subject, (first, seqs)) in by_subject {
            writes.insert(key(SUBJECT_PREFIX, subject.as_bytes(), Some(first)), seqs);
        }
        Ok(())
    }

    fn write_times(
        &self,
        batch: &Batch,
        cursor: &Cursor,
        writes: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        let Some(start) = cursor.applied.checked_sub(batch.times.len() as u64) else {
            return Err(StoreError::Corrupt("more record times than records".into()));
        };
        let mut chunks: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (i, times) in batch.times.iter().enumerate() {
            let seq = start + i as u64;
            let chunk = seq / TIMES_CHUNK;
            let entry = match chunks.entry(chunk) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    let stored = self
                        .db
                        .get(key(TIMES_PREFIX, &chunk.to_be_bytes(), None))?
                        .map(|v| v.to_vec())
                        .unwrap_or_default();
                    if (stored.len() / TIMES_ENTRY) as u64 != seq % TIMES_CHUNK {
                        return Err(StoreError::Corrupt(format!(
                            "record times: chunk {chunk} holds {} entries, record {seq} follows",
                            stored.len() / TIMES_ENTRY
                        )));
                    }
                    slot.insert(stored)
                }
            };
            entry.extend_from_slice(&times.occurred_at.to_be_bytes());
            entry.extend_from_slice(&times.recorded_at.to_be_bytes());
        }
        for (chunk, bytes) in chunks {
            writes.insert(key(TIMES_PREFIX, &chunk.to_be_bytes(), None), bytes);
        }
        Ok(())
    }

    /// Every snapshot taken, by size (the empty one before record 0 not included).
    pub fn snapshots(&self) -> Result<Vec<Snapshot>, StoreError> {
        self.db
            .scan_prefix(SNAPSHOT_PREFIX)
            .values()
            .map(|value| {
                serde_json::from_slice(&value?)
                    .map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))
            })
            .collect()
    }

    /// The row `<table>/<row>` as of snapshot `size` (its JSON), `None` if it did not exist.
    pub fn row_at(&self, row: &str, size: u64) -> Result<Option<sled::IVec>, StoreError> {
        let from = key(HISTORY_PREFIX, row.as_bytes(), Some(0));
        let to = key(HISTORY_PREFIX, row.as_bytes(), Some(size));
        Ok(self
            .db
            .range(from..=to)
            .next_back()
            .transpose()?
            .map(|(_, v)| v))
    }

    /// Every row's latest version (key order), found by two seeks a row rather than reading
    /// every version: the history of a long ledger is many times the size of its views.
    /// The row `<table>/<row>` as last committed (its JSON): its `v/` entry if it changed since
    /// the last snapshot, else its latest version; `None` if it does not exist.
    pub fn current_row(&self, row: &str) -> Result<Option<sled::IVec>, StoreError> {
        if let Some(json) = self.db.get(key(ROW_PREFIX, row.as_bytes(), None))? {
            return Ok(Some(json));
        }
        self.row_at(row, u64::MAX)
    }

    /// The latest stored version of every row, but those of table `skip` (none when `None`).
    pub(crate) fn latest_versions(
        &self,
        skip: Option<&str>,
    ) -> Result<BTreeMap<String, sled::IVec>, StoreError> {
        self.latest_versions_under("", skip)
    }

    /// The latest stored version of every row whose key (`<table>/<row>`) starts with `under`,
    /// but those of table `skip`; each found by two seeks rather than by reading its versions.
    fn latest_versions_under(
        &self,
        under: &str,
        skip: Option<&str>,
    ) -> Result<BTreeMap<String, sled::IVec>, StoreError> {
        let skipped = skip.map(|table| format!("{table}/"));
        let mut rows = BTreeMap::new();
        let mut from = key(HISTORY_PREFIX, under.as_bytes(), None);
        while let Some(item) = self.db.range(from.as_slice()..).next() {
            let (k, _) = item?;
            let Some(name) = k
                .strip_prefix(HISTORY_PREFIX)
                .filter(|name| name.starts_with(under.as_bytes()))
            else {
                break;
            };
            if let Some(table) = skipped
                .as_deref()
                .filter(|t| name.starts_with(t.as_bytes()))
            {
                // Past the whole table in one step: '0' follows '/'.
                from = key(HISTORY_PREFIX, table.as_bytes(), None);
                if let Some(last) = from.last_mut() {
                    *last = b'0';
                }
                continue;
            }
            let (row, _) = split_version(name)?;
            let last = key(HISTORY_PREFIX, row, Some(u64::MAX));
            let Some(latest) = self.db.range(..=last.as_slice()).next_back() else {
                return Err(StoreError::Corrupt("history row vanished".into()));
            };
            let text = String::from_utf8(row.to_vec())
                .map_err(|e| StoreError::Corrupt(format!("history row key: {e}")))?;
            rows.insert(text, latest?.1);
            // Past this row's versions: no other row's key starts with them.
            from = last;
            from.push(0);
        }
        Ok(rows)
    }

    /// Every row of `table` as committed now: (row key without the table, JSON), in key order.
    /// Each row's latest version is found by two seeks, not by reading all its versions.
    pub fn current_table(&self, table: &str) -> Result<Vec<(String, sled::IVec)>, StoreError> {
        let within = format!("{table}/");
        let mut rows: BTreeMap<String, sled::IVec> = self
            .latest_versions_under(&within, None)?
            .into_iter()
            .map(|(row, json)| (row[within.len()..].to_owned(), json))
            .collect();
        let pending = key(ROW_PREFIX, within.as_bytes(), None);
        for item in self.db.scan_prefix(&pending) {
            let (k, value) = item?;
            let row = String::from_utf8(k[pending.len()..].to_vec())
                .map_err(|e| StoreError::Corrupt(format!("row key: {e}")))?;
            rows.insert(row, value);
        }
        Ok(rows.into_iter().collect())
    }

    /// Every row of `table` as of snapshot `size`: (row key without the table, JSON).
    pub fn table_at(
        &self,
        table: &str,
        size: u64,
    ) -> Result<Vec<(String, sled::IVec)>, StoreError> {
        let prefix = key(HISTORY_PREFIX, format!("{table}/").as_bytes(), None);
        let mut rows: Vec<(String, sled::IVec)> = Vec::new();
        let mut last: Option<Vec<u8>> = None;
        for item in self.db.scan_prefix(&prefix) {
            let (k, value) = item?;
            let (row, version) = split_version(&k[prefix.len()..])?;
            if version > size {
                continue;
            }
            let text = String::from_utf8(row.to_vec())
                .map_err(|e| StoreError::Corrupt(format!("history row key: {e}")))?;
            // Versions of one row come in ascending order: a later one replaces the last.
            if last.as_deref() == Some(row) {
                if let Some(entry) = rows.last_mut() {
                    *entry = (text, value);
                }
            } else {
                rows.push((text, value));
                last = Some(row.to_vec());
            }
        }
        Ok(rows)
    }

    /// The times of records `from..to` (all of them must have been applied).
    pub fn times(&self, from: u64, to: u64) -> Result<Vec<Times>, StoreError> {
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        let mut seq = from;
        while seq < to {
            let chunk = seq / TIMES_CHUNK;
            let bytes = self
                .db
                .get(key(TIMES_PREFIX, &chunk.to_be_bytes(), None))?
                .unwrap_or_default();
            let end = to.min((chunk + 1) * TIMES_CHUNK);
            for s in seq..end {
                let at = ((s % TIMES_CHUNK) as usize) * TIMES_ENTRY;
                let Some(entry) = bytes.get(at..at + TIMES_ENTRY) else {
                    return Err(StoreError::Corrupt(format!("no times for record {s}")));
                };
                out.push(Times {
                    occurred_at: i64_at(entry),
                    recorded_at: i64_at(&entry[8..]),
                });
            }
            seq = end;
        }
        Ok(out)
    }

    /// The records that name `subject` (`<kind>:<id>`), ascending.
    pub fn subject_records(&self, subject: &str) -> Result<Vec<Seq>, StoreError> {
        let mut prefix = key(SUBJECT_PREFIX, subject.as_bytes(), None);
        prefix.push(SEPARATOR);
        let mut out = Vec::new();
        for value in self.db.scan_prefix(&prefix).values() {
            out.extend(value?.chunks_exact(8).map(|b| Seq(u64_at(b))));
        }
        Ok(out)
    }
}

/// The views' store is where a projection reads back the rows it let go of.
impl probity_projector::RowSource for ViewStore {
    fn row(&self, key: &str) -> Result<Option<Vec<u8>>, probity_projector::RowError> {
        self.current_row(key)
            .map(|json| json.map(|j| j.to_vec()))
            .map_err(|e| probity_projector::RowError {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probity_core::verify::ChainVerifier;

    fn commit(store: &ViewStore, applied: u64, rows: &[(&str, &str)], snapshot: bool) {
        let matrix = probity_events::role_matrix();
        let cursor = Cursor {
            applied,
            last_recorded_at: 0,
            verifier: ChainVerifier::new(&matrix).state(),
            halted: None,
            max_times: Times::default(),
            last_snapshot: 0,
        };
        let batch = Batch {
            rows: rows
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            snapshot,
            ..Batch::default()
        };
        store.commit(batch, &cursor).unwrap();
    }

    fn keys(store: &ViewStore, prefix: &[u8]) -> usize {
        store.db.scan_prefix(prefix).count()
    }

    fn text(value: Option<sled::IVec>) -> Option<String> {
        value.map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    /// A changed row is stored once: in `v/` until the next snapshot, then as that snapshot's
    /// version; the current views are the pending rows over the latest versions.
    #[test]
    fn a_changed_row_is_stored_once_and_moves_to_the_history_at_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = ViewStore::open(dir.path()).unwrap();
        commit(&store, 1, &[("t/a", "a1"), ("t/ab", "ab1")], false);
        assert_eq!(
            (keys(&store, ROW_PREFIX), keys(&store, HISTORY_PREFIX)),
            (2, 0)
        );

        commit(&store, 2, &[("t/ab", "ab2"), ("t/b", "b2")], true);
        assert_eq!(
            (keys(&store, ROW_PREFIX), keys(&store, HISTORY_PREFIX)),
            (0, 3)
        );
        commit(&store, 3, &[("t/a", "a3")], false);
        commit(&store, 4, &[("t/b", "b4")], true);
        commit(&store, 5, &[("t/a", "a5")], false);
        assert_eq!(
            (keys(&store, ROW_PREFIX), keys(&store, HISTORY_PREFIX)),
            (1, 5)
        );

        let rows: Vec<(String, String)> = store
            .rows()
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, text(Some(v)).unwrap()))
            .collect();
        let expected = [("t/a", "a5"), ("t/ab", "ab2"), ("t/b", "b4")];
        assert_eq!(
            rows,
            expected.map(|(k, v)| (k.to_owned(), v.to_owned())),
            "pending rows over the latest versions, in key order"
        );
        assert_eq!(text(store.row_at("t/a", 1).unwrap()), None);
        assert_eq!(text(store.row_at("t/a", 2).unwrap()).as_deref(), Some("a1"));
        assert_eq!(text(store.row_at("t/a", 4).unwrap()).as_deref(), Some("a3"));
        assert_eq!(text(store.row_at("t/b", 3).unwrap()).as_deref(), Some("b2"));
        assert_eq!(text(store.row_at("t/b", 4).unwrap()).as_deref(), Some("b4"));
        let mut table: Vec<(String, String)> = store
            .table_at("t", 2)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, text(Some(v)).unwrap()))
            .collect();
        table.sort();
        let expected = [("a", "a1"), ("ab", "ab2"), ("b", "b2")];
        assert_eq!(table, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
}
