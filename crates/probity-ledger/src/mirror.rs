//! A verified copy of a ledger that another process writes (ledgerd): what `probity serve
//! --nats` reads from. Records come from the ledger's JetStream stream; each batch is checked
//! by the chain verifier (hash, link, strict signature, key and role, event-id uniqueness)
//! before anything of it is written. The ledger's checkpoints are checked — signature, root
//! and key commitment, when the copy reaches their size or at once if it holds that many
//! records — and stored with it. The book is laid out exactly as the ledger's own (records,
//! event ids, key-record markers, Merkle nodes, checkpoints, subject versions, head), so every
//! reader — views, proofs, exports, `replay` — works on it as on a data directory's book,
//! through a read-only [`Ledger`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use probity_core::checkpoint::{SignedNote, VerifierKey, WitnessPolicy};
use probity_core::keychain::KeyChain;
use probity_core::merkle::Frontier;
use probity_core::record::Record;
use probity_core::roles::RoleMatrix;
use probity_core::verify::{ChainVerifier, VerifierState};

use crate::engine::{open_sled, stage_verified};
use crate::layout::{self, Head};
use crate::{Book, Ledger, LedgerError};

/// Why the copy did not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A record (or the checkpoint) did not verify: nothing of its batch was written, and the
    /// copy takes nothing more until it is opened again.
    #[error("record {seq} refused: {reason}")]
    Refused {
        /// The first record that failed (or the checkpoint's size).
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The records given do not continue the copy.
    #[error(
        "the copy holds {have} records; a batch starting at record {got} does not continue it"
    )]
    Gap {
        /// Records held.
        have: u64,
        /// The first record given.
        got: u64,
    },
    /// The book could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

fn matrix() -> &'static RoleMatrix {
    static MATRIX: OnceLock<RoleMatrix> = OnceLock::new();
    MATRIX.get_or_init(probity_events::role_matrix)
}

/// The copy: its book (a read-only [`Ledger`] once it holds genesis) and the verifier's state.
#[derive(Debug)]
pub struct Mirror {
    dir: PathBuf,
    pinned: Option<VerifierKey>,
    ledger: Option<Ledger>,
    /// The database while the copy holds nothing yet (before it is opened as a ledger).
    fresh: Option<sled::Db>,
    verifier: ChainVerifier<'static>,
    frontier: Frontier,
    head: Option<Head>,
    /// Checkpoints given to the verifier, stored once the records reach them.
    pending: Vec<(u64, SignedNote)>,
    refused: Option<(u64, String)>,
}

impl Mirror {
    /// Opens the copy in `dir` (a book directory), or starts an empty one there. With
    /// `pinned`, checkpoints must be signed by that key; without, by the key the copied
    /// genesis names (trust on first use).
    pub fn open(dir: &Path, pinned: Option<VerifierKey>) -> Result<Mirror, MirrorError> {
        let mut verifier = ChainVerifier::new(matrix());
        if let Some(key) = &pinned {
            verifier.pin_log_key(key.clone());
        }
        let empty = Mirror {
            dir: dir.to_owned(),
            pinned,
            ledger: None,
            fresh: None,
            verifier,
            frontier: Frontier::new(),
            head: None,
            pending: Vec::new(),
            refused: None,
        };
        let db = open_sled(dir).map_err(LedgerError::from)?;
        if db.get(layout::HEAD).map_err(LedgerError::from)?.is_none() {
            return Ok(Mirror {
                fresh: Some(db),
                ..empty
            });
        }
        // Opened again as a ledger (sled waits for this handle's lock to go).
        drop(db);
        let ledger = Ledger::open_read_only(dir)?;
        empty.resume(ledger)
    }

    /// Continues from what the book holds: the verifier restarts at its head, knowing its keys,
    /// Merkle edge and key commitment (event ids already held are found in the book's index).
    fn resume(mut self, ledger: Ledger) -> Result<Mirror, MirrorError> {
        if let Some(damage) = ledger.damage() {
            return Err(MirrorError::Ledger(LedgerError::Corrupt(damage)));
        }
        let book = ledger.book();
        let head = book
            .db()
            .get(layout::HEAD)
            .map_err(LedgerError::from)?
            .and_then(|bytes| Head::from_bytes(&bytes))
            .ok_or_else(|| LedgerError::Corrupt("head".into()))?;
        let size = head.next_seq.0;
        let frontier = Frontier::restore(size, book)
            .map_err(|e| LedgerError::Corrupt(format!("Merkle edge: {e}")))?;
        let keys = key_chain_below(book, size)?;
        let state = VerifierState {
            next_seq: size,
            last_hash: head.last_hash,
            registry: ledger.key_registry_at(size)?,
            frontier: frontier.clone(),
            last_recorded_at: Some(head.last_recorded_at),
            keys: Some(keys),
        };
        self.verifier = ChainVerifier::resume(matrix(), state, []);
        if let Some(key) = &self.pinned {
            self.verifier.pin_log_key(key.clone());
        }
        self.frontier = frontier;
        self.head = Some(head);
        self.ledger = Some(ledger);
        Ok(self)
    }

    /// The copy as a read-only ledger, once it holds genesis.
    pub fn ledger(&self) -> Option<&Ledger> {
        self.ledger.as_ref()
    }

    /// Whether checkpoints must be signed by a key the operator pinned.
    pub fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }

    /// Records held.
    pub fn size(&self) -> u64 {
        self.head.map_or(0, |h| h.next_seq.0)
    }

    /// Why the copy stopped taking records, if it did.
    pub fn refused(&self) -> Option<&(u64, String)> {
        self.refused.as_ref()
    }

    /// The ledger's latest checkpoint, of `size` records. Beyond the copy, it is what the
    /// records about to be added lead to: checked (signature and root) when the copy reaches
    /// `size`, and stored then. Within the copy (which also takes records the ledger has not
    /// checkpointed yet, each verified by its signature), it is checked at once — the ledger's
    /// signature, the copy's root at that size, its key commitment — and stored. One older than
    /// the copy's latest checkpoint means the ledger went back, or another ledger answers under
    /// its name; that, and any check failing, stops the copy.
    pub fn expect_checkpoint(&mut self, size: u64, note: SignedNote) -> Result<(), MirrorError> {
        if let Some((seq, reason)) = &self.refused {
            return Err(MirrorError::Refused {
                seq: *seq,
                reason: reason.clone(),
            });
        }
        let held = self.size();
        if size > held {
            if !self.pending.iter().any(|(s, n)| *s == size && *n == note) {
                self.verifier.add_checkpoint(note.clone(), size);
                self.pending.push((size, note));
            }
            return Ok(());
        }
        let Some(ledger) = self.ledger.clone() else {
            return Ok(());
        };
        let stored = ledger.latest_checkpoint();
        let latest = stored.as_ref().map_or(0, |(s, _)| *s);
        if size < latest {
            return Err(self.refuse(
                size,
                format!("the ledger's latest checkpoint covers {size} records, but the copy holds one of {latest}: the ledger went back, or this is another ledger"),
            ));
        }
        if stored.is_some_and(|(s, stored)| s == size && stored.text == note.text) {
            return Ok(()); // the one the copy holds
        }
        match self.check_within(&ledger, size, &note) {
            Ok(()) => {}
            Err(MirrorError::Refused { seq, reason }) => return Err(self.refuse(seq, reason)),
            Err(e) => return Err(e),
        }
        let db = ledger.book().db();
        let mut batch = sled::Batch::default();
        batch.insert(&layout::checkpoint(size)[..], note.to_bytes());
        batch.insert(layout::LATEST_CHECKPOINT, &size.to_be_bytes()[..]);
        db.apply_batch(batch)
            .and_then(|()| db.flush().map(|_| ()))
            .map_err(LedgerError::from)?;
        ledger.mirrored(held, Some((size, note)));
        Ok(())
    }

    /// Checks a checkpoint of `size` records the copy already holds: signed by the ledger's
    /// key, naming the copy's root and key commitment at that size.
    fn check_within(
        &self,
        ledger: &Ledger,
        size: u64,
        note: &SignedNote,
    ) -> Result<(), MirrorError> {
        let refused = |reason: String| MirrorError::Refused { seq: size, reason };
        let key = self.pinned.clone().unwrap_or_else(|| ledger.verifier_key());
        let checkpoint = WitnessPolicy::log_only(key)
            .verify(note)
            .map_err(|e| refused(format!("the ledger's checkpoint of {size} records: {e}")))?
            .checkpoint;
        let root = if size == self.size() {
            self.frontier.root()
        } else {
            ledger
                .root_at(size)
                .map_err(|e| LedgerError::Corrupt(format!("the copy's root at {size}: {e}")))?
        };
        if checkpoint.root != root {
            return Err(refused(format!(
                "the ledger's checkpoint of {size} records names the root {}, the copy's is {root}",
                checkpoint.root
            )));
        }
        if let Some(stated) = KeyChain::stated(&checkpoint.extensions) {
            if stated != Ok(key_chain_below(ledger.book(), size)?) {
                return Err(refused(format!(
                    "the ledger's checkpoint of {size} records commits to other key records than the copy holds"
                )));
            }
        }
        Ok(())
    }

    /// Verifies `records` (continuing the copy) and writes them, durably, in one batch with
    /// the checkpoints they reach. Nothing of a batch with a refused record is written.
    pub fn add(&mut self, records: &[Record]) -> Result<u64, MirrorError> {
        if let Some((seq, reason)) = &self.refused {
            return Err(MirrorError::Refused {
                seq: *seq,
                reason: reason.clone(),
            });
        }
        let Some(first) = records.first() else {
            return Ok(self.size());
        };
        if first.seq.0 != self.size() {
            return Err(MirrorError::Gap {
                have: self.size(),
                got: first.seq.0,
            });
        }
        let before = self.verifier.finish_peek().len();
        let opened = self.verifier.push_batch(records);
        if let Some(finding) = self.verifier.finish_peek()[before..]
            .iter()
            .min_by_key(|f| f.seq())
        {
            return Err(self.refuse(finding.seq(), finding.to_string()));
        }
        // The verifier and the Merkle edge have moved on: if the write fails, the copy stops
        // here (opening it again resumes from what the book really holds).
        let first = first.seq.0;
        self.write(records, opened).inspect_err(|e| {
            if self.refused.is_none() {
                self.refused = Some((first, e.to_string()));
            }
        })
    }

    fn write(
        &mut self,
        records: &[Record],
        opened: Vec<Option<probity_core::envelope::AuthenticEvent>>,
    ) -> Result<u64, MirrorError> {
        let db = match (&self.ledger, &self.fresh) {
            (Some(ledger), _) => ledger.book().db().clone(),
            (None, Some(db)) => db.clone(),
            // Invariant: `open` sets one of the two, and the first batch replaces the fresh
            // database with the ledger in one step.
            (None, None) => unreachable!("a mirror holds either a ledger or a fresh database"),
        };
        let book = Book::new(db.clone());
        let mut batch = sled::Batch::default();
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut ids = std::collections::HashSet::new();
        for (record, event) in records.iter().zip(opened) {
            // Invariant: a record the verifier passed without a finding opened.
            let Some(event) = event else {
                return Err(self.refuse(record.seq.0, "the event did not open".into()));
            };
            let id = event.body().id.as_str();
            // The verifier resumed without the ids held before: the book's index knows them.
            if !ids.insert(id.to_owned()) || book.seq_of_event(id)?.is_some() {
                return Err(self.refuse(
                    record.seq.0,
                    format!("event id {id:?} is already in the ledger"),
                ));
            }
            for stream in stage_verified(&mut batch, record, event.body(), &mut self.frontier) {
                let version = match versions.get(&stream) {
                    Some(v) => *v,
                    None => book.stream_version(&stream)?,
                } + 1;
                batch.insert(layout::stream_version(&stream), &version.to_be_bytes()[..]);
                versions.insert(stream, version);
            }
        }
        let last = &records[records.len() - 1];
        let head = Head {
            next_seq: last.seq.next(),
            last_hash: last.hash,
            last_recorded_at: last.recorded_at,
        };
        let size = head.next_seq.0;
        // The checkpoints reached verified (a failure would be a finding above).
        let reached: Vec<_> = self
            .pending
            .iter()
            .filter(|(s, _)| *s <= size)
            .cloned()
            .collect();
        self.pending.retain(|(s, _)| *s > size);
        for (cp_size, note) in &reached {
            batch.insert(&layout::checkpoint(*cp_size)[..], note.to_bytes());
        }
        if let Some((latest, _)) = reached.iter().max_by_key(|(s, _)| *s) {
            batch.insert(layout::LATEST_CHECKPOINT, &latest.to_be_bytes()[..]);
        }
        // The head last in the batch (a batch lands whole, but a book is read by its head).
        batch.insert(layout::HEAD, &head.encode()[..]);
        db.apply_batch(batch)
            .and_then(|()| db.flush().map(|_| ()))
            .map_err(LedgerError::from)?;
        self.head = Some(head);
        match &self.ledger {
            Some(ledger) => ledger.mirrored(size, reached.into_iter().max_by_key(|(s, _)| *s)),
            None => {
                // The first batch: the book now holds genesis and opens as a ledger.
                // Every handle on the fresh database goes first (sled waits for its lock).
                drop(self.fresh.take());
                drop(book);
                drop(db);
                self.ledger = Some(Ledger::open_read_only(&self.dir)?);
            }
        }
        Ok(size)
    }

    fn refuse(&mut self, seq: u64, reason: String) -> MirrorError {
        self.refused = Some((seq, reason.clone()));
        MirrorError::Refused { seq, reason }
    }
}

/// The key commitment (FORMAT.md §8) of the book's key records before record `size`.
fn key_chain_below(book: &Book, size: u64) -> Result<KeyChain, LedgerError> {
    let mut keys = KeyChain::new();
    for seq in book.governance_seqs() {
        let seq = seq?;
        if seq.0 >= size {
            break;
        }
        let record = book
            .record(seq)?
            .ok_or_else(|| LedgerError::Corrupt(format!("key record {seq} missing")))?;
        keys.push(&record.hash);
    }
    Ok(keys)
}
