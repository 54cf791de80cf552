//! The views on disk: one sled tree holding the view rows, the event ids seen (for the
//! duplicate check) and the cursor (records applied and the verifier's state). Each batch of
//! records lands as one atomic sled batch followed by a flush, so after a crash the views and
//! the cursor agree: nothing is skipped, nothing applied twice.
//!
//! Keys:
//! * `v/<table>/<row>` → the row's JSON (see `probity_projector::Projection::drain_changes`) if
//!   it changed since the last snapshot; other rows are their latest version in the history
//!   (`h/`, see the `history` module), where every row moves at a snapshot;
//! * `i/<u64 big-endian>` → the event ids first seen in the batch that starts at that record:
//!   24-byte entries, each a 16-byte id digest and the record (u64 big-endian) that carried it
//!   (one value per batch rather than one per record: sled inserts are the costly part);
//! * `cursor` → [`Cursor`] as JSON;
//! * `format` → `probity-views/11`: a store of any other layout is emptied on open and rebuilt
//!   (7: the rules' memory changed with the rules — decisions keep no recorded time,
//!   near-threshold keeps clusters; 10: a supplier's sanctions are rows of their own,
//!   `sanctions/<uscc>/<n>`; 11: so are its purchase decisions, `decisions/<uscc>/<n>`);
//! * `h/`, `s/`, `t/`, `x/`: the history that `replay` reads (versions of the rows,
//!   each record's two times, the records naming each subject), written in the same batches;
//!   see the `history` module.

use std::path::Path;

use probity_core::hash::Hash;
use probity_core::ids::Seq;
use probity_core::verify::VerifierState;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(crate) const ROW_PREFIX: &[u8] = b"v/";
pub(crate) const ID_PREFIX: &[u8] = b"i/";
pub(crate) const CURSOR_KEY: &[u8] = b"cursor";
const FORMAT_KEY: &[u8] = b"format";
/// The layout of this store; another one is rebuilt on open.
const FORMAT: &[u8] = b"probity-views/11";
/// An event id digest and its record's seq.
pub(crate) const ID_ENTRY: usize = 16 + 8;

/// Why the views could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("views store: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value did not parse.
    #[error("views store is corrupt: {0}")]
    Corrupt(String),
}

/// A record the projector refused, and why; kept until an operator deals with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    /// The record.
    pub seq: u64,
    /// The verification finding or decoding error.
    pub reason: String,
}

/// How far the views go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Records applied (the next record's seq).
    pub applied: u64,
    /// When the last applied record was recorded (µs), 0 before the first.
    pub last_recorded_at: i64,
    /// The verifier's state after the last applied record.
    pub verifier: VerifierState,
    /// The first record refused, if any: nothing after it is applied.
    pub halted: Option<Halt>,
    /// The latest `occurred_at` and `recorded_at` (µs) among the applied records.
    #[serde(default)]
    pub max_times: Times,
    /// Records applied when the last snapshot was taken.
    #[serde(default)]
    pub last_snapshot: u64,
}

/// The views' sled database.
#[derive(Clone, Debug)]
pub struct ViewStore {
    pub(crate) db: sled::Db,
}

/// One batch to write.
#[derive(Debug, Default)]
pub struct Batch {
    /// Changed rows: (row key, JSON).
    pub rows: Vec<(String, Vec<u8>)>,
    /// Event ids first seen in the batch.
    pub event_ids: Vec<([u8; 16], Seq)>,
    /// Each record's times, in record order (the records continue the stored ones).
    pub times: Vec<Times>,
    /// The subjects each record names (`<kind>:<id>`) and the record.
    pub subjects: Vec<(String, Seq)>,
    /// Take a snapshot of the views as of the cursor.
    pub snapshot: bool,
}

impl ViewStore {
    /// Opens (or creates) the views in `dir`.
    pub fn open(dir: &Path) -> Result<ViewStore, StoreError> {
        let db = probity_ledger::open_sled(dir)?;
        if db.get(FORMAT_KEY)?.as_deref() != Some(FORMAT) {
            // Views are derived from the ledger: a store of another layout (or none yet) is
            // emptied and rebuilt from record 0 rather than misread.
            if !db.is_empty() {
                tracing::warn!(dir = %dir.display(), "views of another format: rebuilding them from the ledger");
                db.clear()?;
            }
            db.insert(FORMAT_KEY, FORMAT)?;
            db.flush()?;
        }
        Ok(ViewStore { db })
    }

    /// The cursor, `None` for new views.
    pub fn cursor(&self) -> Result<Option<Cursor>, StoreError> {
        self.db
            .get(CURSOR_KEY)?
            .map(|bytes| {
                serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Corrupt(format!("cursor: {e}")))
            })
            .transpose()
    }

    /// Every view row as committed: (row key, JSON), in key order. A row changed since the
    /// last snapshot is in `v/`, any other is its latest version in the history.
    pub fn rows(&self) -> Result<Vec<(String, sled::IVec)>, StoreError> {
        self.rows_but(None)
    }

    /// [`rows`](Self::rows) but those of table `table`, which are not even read.
    pub fn rows_except(&self, table: &str) -> Result<Vec<(String, sled::IVec)>, StoreError> {
        self.rows_but(Some(table))
    }

    fn rows_but(&self, skip: Option<&str>) -> Result<Vec<(String, sled::IVec)>, StoreError> {
        let mut rows = self.latest_versions(skip)?;
        let skipped = skip.map(|table| format!("{table}/"));
        for item in self.db.scan_prefix(ROW_PREFIX) {
            let (key, value) = item?;
            let key = String::from_utf8(key[ROW_PREFIX.len()..].to_vec())
                .map_err(|e| StoreError::Corrupt(format!("row key: {e}")))?;
            if skipped.as_deref().is_some_and(|t| key.starts_with(t)) {
                continue;
            }
            rows.insert(key, value);
        }
        Ok(rows.into_iter().collect())
    }

    /// Every event id seen, with its record.
    pub fn event_ids(&self) -> Result<Vec<([u8; 16], Seq)>, StoreError> {
        let mut ids = Vec::new();
        for item in self.db.scan_prefix(ID_PREFIX) {
            let (_, value) = item?;
            if value.len() % ID_ENTRY != 0 {
                return Err(StoreError::Corrupt("event id batch length".into()));
            }
            ids.extend(value.chunks_exact(ID_ENTRY).map(|entry| {
                let (id, seq) = entry.split_at(16);
                let mut digest = [0u8; 16];
                digest.copy_from_slice(id);
                let mut seq_bytes = [0u8; 8];
                seq_bytes.copy_from_slice(seq);
                (digest, Seq(u64::from_be_bytes(seq_bytes)))
            }));
        }
        Ok(ids)
    }

    /// A digest of every view row: SHA-256 over, for each row in key order, the key's length
    /// (u32 big-endian), the key, the value's length (u32 big-endian) and the value. Two stores
    /// with the same hash hold the same views, byte for byte.
    pub fn state_hash(&self) -> Result<Hash, StoreError> {
        let mut hasher = Sha256::new();
        for (key, value) in self.rows()? {
            hasher.update((key.len() as u32).to_be_bytes());
            hasher.update(key.as_bytes());
            hasher.update((value.len() as u32).to_be_bytes());
            hasher.update(&value);
        }
        Ok(Hash(hasher.finalize().into()))
    }

    /// Flushes and lets go of the database.
    pub fn close(self) {
        if let Err(e) = self.db.flush() {
            tracing::warn!(error = %e, "views flush on close failed");
        }
    }
}

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
