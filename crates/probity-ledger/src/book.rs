//! Reading the book: records, Merkle nodes, checkpoints, indexes. Readers only ever see
//! records up to the committed size, which the writer raises after each flush.

use probity_core::checkpoint::SignedNote;
use probity_core::hash::Hash;
use probity_core::ids::Seq;
use probity_core::merkle::NodeReader;
use probity_core::record::Record;

use crate::error::LedgerError;
use crate::layout;

/// Read access to a book.
#[derive(Clone, Debug)]
pub struct Book {
    db: sled::Db,
}

impl Book {
    pub(crate) fn new(db: sled::Db) -> Self {
        Book { db }
    }

    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }

    /// The record at `seq`, if stored.
    pub fn record(&self, seq: Seq) -> Result<Option<Record>, LedgerError> {
        match self.db.get(layout::record(seq))? {
            None => Ok(None),
            Some(bytes) => Record::from_json(&bytes)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt(format!("record {seq} does not parse: {e}"))),
        }
    }

    /// The raw JSON of the record at `seq`.
    pub fn record_json(&self, seq: Seq) -> Result<Option<sled::IVec>, LedgerError> {
        Ok(self.db.get(layout::record(seq))?)
    }

    /// Records `[from, to)` in order.
    pub fn records(
        &self,
        from: Seq,
        to: Seq,
    ) -> impl Iterator<Item = Result<Record, LedgerError>> + '_ {
        self.db
            .range(layout::record(from)..layout::record(to))
            .map(|item| {
                let (key, bytes) = item?;
                Record::from_json(&bytes).map_err(|e| {
                    LedgerError::Corrupt(format!("record at key {key:?} does not parse: {e}"))
                })
            })
    }

    /// Records `[from, to)` in order, read in one pass and parsed on all cores (for bulk
    /// readers: verification, projection).
    pub fn records_parallel(&self, from: Seq, to: Seq) -> Result<Vec<Record>, LedgerError> {
        let raw = self
            .db
            .range(layout::record(from)..layout::record(to))
            .collect::<Result<Vec<_>, _>>()?;
        probity_core::par::par_map(&raw, |(key, bytes)| {
            Record::from_json(bytes).map_err(|e| {
                LedgerError::Corrupt(format!("record at key {key:?} does not parse: {e}"))
            })
        })
        .into_iter()
        .collect()
    }

    /// The sequence number recorded for an event id.
    pub fn seq_of_event(&self, id: &str) -> Result<Option<Seq>, LedgerError> {
        Ok(self
            .db
            .get(layout::event_id(id))?
            .and_then(|v| layout::read_u64(&v))
            .map(Seq))
    }

    /// How many records name `stream` (`kind:id`).
    pub fn stream_version(&self, stream: &str) -> Result<u64, LedgerError> {
        Ok(self
            .db
            .get(layout::stream_version(stream))?
            .and_then(|v| layout::read_u64(&v))
            .unwrap_or(0))
    }

    /// The signed checkpoint at exactly `size`, if one was made.
    pub fn checkpoint(&self, size: u64) -> Result<Option<SignedNote>, LedgerError> {
        match self.db.get(layout::checkpoint(size))? {
            None => Ok(None),
            Some(bytes) => SignedNote::parse(&bytes)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt(format!("checkpoint {size}: {e}"))),
        }
    }

    /// Every checkpoint, by size.
    pub fn checkpoints(&self) -> impl Iterator<Item = Result<(u64, SignedNote), LedgerError>> + '_ {
        self.checkpoints_between(0, u64::MAX)
    }

    /// The checkpoints of sizes `from..=to`, by size.
    pub fn checkpoints_between(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<(u64, SignedNote), LedgerError>> + '_ {
        self.db
            .range(layout::checkpoint(from)..=layout::checkpoint(to))
            .map(|item| {
                let (key, bytes) = item?;
                let size = layout::read_u64(&key[1..])
                    .ok_or_else(|| LedgerError::Corrupt("checkpoint key".into()))?;
                let note = SignedNote::parse(&bytes)
                    .map_err(|e| LedgerError::Corrupt(format!("checkpoint {size}: {e}")))?;
                Ok((size, note))
            })
    }

    /// Sequence numbers of the records that change keys.
    pub fn governance_seqs(&self) -> impl Iterator<Item = Result<Seq, LedgerError>> + '_ {
        self.db.scan_prefix([b'g']).map(|item| {
            let (key, _) = item?;
            layout::read_u64(&key[1..])
                .map(Seq)
                .ok_or_else(|| LedgerError::Corrupt("governance index key".into()))
        })
    }
}

/// A missing or unreadable Merkle node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// sled failed.
    #[error(transparent)]
    Storage(#[from] sled::Error),
    /// The node is not stored (the tree is smaller, or the book is corrupt).
    #[error("Merkle node (level {0}, index {1}) is not in the book")]
    Missing(u8, u64),
}

impl NodeReader for Book {
    type Error = NodeError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, NodeError> {
        if level == 0 {
            // A leaf is the record hash, stored in the record itself.
            #[derive(serde::Deserialize)]
            struct HashOnly {
                hash: Hash,
            }
            return self
                .db
                .get(layout::record(Seq(index)))?
                .and_then(|v| serde_json::from_slice::<HashOnly>(&v).ok())
                .map(|r| r.hash)
                .ok_or(NodeError::Missing(level, index));
        }
        self.db
            .get(layout::node(level, index))?
            .and_then(|v| Hash::from_slice(&v).ok())
            .ok_or(NodeError::Missing(level, index))
    }
}
