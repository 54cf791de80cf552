//! The views' history, for `replay`: what the views were at earlier moments, kept in the views
//! store and written in the same atomic batches as the views themselves.
//!
//! * **Snapshots.** Every [`SNAPSHOT_EVERY`] records or so (at a batch end, which the embedded
//!   reader puts at a ledger checkpoint) the rows changed since the previous snapshot are
//!   copied to `h/<row key> 0xFF <size, u64 big-endian>`, and `s/<size>` notes the snapshot.
//!   The view of a row as of snapshot `S` is its version with the greatest size ≤ `S` (none:
//!   the row did not exist yet). Rows changed since the last snapshot are marked
//!   `p/<row key>` until the next one. Only changed rows are copied, so the history costs about
//!   as much as the rows themselves, not one full copy per snapshot. (`0xFF` never occurs in
//!   UTF-8, so no row key is a prefix of another's history key.)
//! * **Times.** `t/<chunk, u64 big-endian>` holds, for records `chunk·1024 …`, each record's
//!   `occurred_at` and `recorded_at` (µs, i64 big-endian, 16 bytes a record), so that a replay
//!   can pick the records true or known at a moment without opening them.
//! * **Subjects.** `x/<kind>:<id> 0xFF <first seq>` → the records (u64 big-endian each) of one
//!   batch that name the subject, for the timeline of one supplier, rep, case or staff member.

use std::collections::{BTreeMap, BTreeSet};

use probity_core::ids::Seq;
use serde::{Deserialize, Serialize};

use crate::store::{Batch, Cursor, StoreError, ViewStore};

/// Records between snapshots (at least; a snapshot waits for the end of a batch).
pub const SNAPSHOT_EVERY: u64 = 16384;

const HISTORY_PREFIX: &[u8] = b"h/";
const PENDING_PREFIX: &[u8] = b"p/";
const SNAPSHOT_PREFIX: &[u8] = b"s/";
const TIMES_PREFIX: &[u8] = b"t/";
const SUBJECT_PREFIX: &[u8] = b"x/";
const SEPARATOR: u8 = 0xFF;
const TIMES_CHUNK: u64 = 1024;
const TIMES_ENTRY: usize = 16;

/// A record's two times (µs since the Unix epoch), or the latest of each over many records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Times {
    /// When it happened (the event's `occurred_at`).
    pub occurred_at: i64,
    /// When the ledger recorded it.
    pub recorded_at: i64,
}

impl Default for Times {
    /// Earlier than any record: the maximum over no records.
    fn default() -> Self {
        Times {
            occurred_at: i64::MIN,
            recorded_at: i64::MIN,
        }
    }
}

impl Times {
    /// The later of each time.
    pub fn max(self, other: Times) -> Times {
        Times {
            occurred_at: self.occurred_at.max(other.occurred_at),
            recorded_at: self.recorded_at.max(other.recorded_at),
        }
    }
}

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
    /// Adds the history of `batch` (committed with `cursor`) to `writes`.
    pub(crate) fn write_history(
        &self,
        batch: &Batch,
        cursor: &Cursor,
        writes: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        if batch.snapshot {
            let size = cursor.applied;
            let mut copied = BTreeSet::new();
            for (row, json) in &batch.rows {
                writes.insert(
                    key(HISTORY_PREFIX, row.as_bytes(), Some(size)),
                    json.clone(),
                );
                copied.insert(row.as_bytes());
            }
            for item in self.db.scan_prefix(PENDING_PREFIX) {
                let (pending, _) = item?;
                let row = &pending[PENDING_PREFIX.len()..];
                if !copied.contains(row) {
                    if let Some(json) = self.db.get(key(b"v/", row, None))? {
                        writes.insert(key(HISTORY_PREFIX, row, Some(size)), json);
                    }
                }
                writes.remove(pending);
            }
            let snapshot = Snapshot {
                size,
                max_times: cursor.max_times,
            };
            // Invariant: a snapshot is plain data.
            let json = serde_json::to_vec(&snapshot).unwrap_or_else(|e| panic!("snapshot: {e}"));
            writes.insert(key(SNAPSHOT_PREFIX, &size.to_be_bytes(), None), json);
        } else {
            for (row, _) in &batch.rows {
                writes.insert(key(PENDING_PREFIX, row.as_bytes(), None), &[][..]);
            }
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
            let name = &k[prefix.len()..];
            let split = name
                .len()
                .checked_sub(9)
                .filter(|&at| name[at] == SEPARATOR);
            let Some(at) = split else {
                return Err(StoreError::Corrupt("history key without a version".into()));
            };
            let (row, version) = (&name[..at], u64_at(&name[at + 1..]));
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
