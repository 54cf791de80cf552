//! The embedded default: the views of a data directory, brought up to date from the book
//! opened in the same process, with no server.

use std::path::{Path, PathBuf};

use probity_core::ids::Seq;
use probity_ledger::Ledger;

use probity_core::checkpoint::SignedNote;
use probity_core::record::Record;

use crate::projector::{prepare, Prepared, ProjectError, Projector};
use crate::store::{StoreError, ViewStore};

/// Records read from the book per batch (per durable commit): large, because a batch re-writes
/// each view row it touches once, however many of its records touched it (8,192-record batches
/// rebuild at 36k records/s, 32,768-record ones at 58k on the rebuild bench). Each batch ends
/// with a snapshot for `replay` (it is at least `SNAPSHOT_EVERY` long), so a replay applies at
/// most about this many records.
const CHUNK: u64 = 32768;

/// Where a data directory keeps its views.
pub fn views_dir(data: &Path) -> PathBuf {
    data.join("views")
}

/// Opens the views of `ledger` in `dir`, checking checkpoints against the ledger's own key.
pub fn open(dir: &Path, ledger: &Ledger) -> Result<Projector, StoreError> {
    let mut projector = Projector::open(dir)?;
    projector.pin_log_key(ledger.verifier_key());
    Ok(projector)
}

/// Applies every committed record the views lack; returns how many were applied.
///
/// Two stages overlap: a reader thread reads the next batch from the book and does the work
/// that needs no state (parsing, hashing, decoding; [`prepare`]) while this thread verifies in
/// order, applies and commits the current one, so the cores are not idle while a batch is
/// applied or flushed.
pub fn catch_up(projector: &mut Projector, ledger: &Ledger) -> Result<u64, ProjectError> {
    let start = projector.applied();
    let size = ledger.size();
    if start >= size {
        return Ok(0);
    }
    std::thread::scope(|scope| {
        // One batch ahead: enough to overlap, and memory for two batches at most.
        let (batches, ready) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || {
            let mut from = start;
            while from < size {
                let batch = read_batch(ledger, from, size);
                let next = batch.as_ref().map_or(size, |b| b.to);
                // The projector hung up (it stopped on a refused record): stop reading.
                if batches.send(batch).is_err() {
                    break;
                }
                from = next;
            }
        });
        for batch in ready {
            let Batch {
                checkpoints,
                records,
                prepared,
                ..
            } = batch?;
            for (size, note) in checkpoints {
                projector.add_checkpoint(note, size);
            }
            projector.apply_prepared(&records, Some(prepared))?;
        }
        Ok(projector.applied() - start)
    })
}

/// One batch read from the book, prepared.
struct Batch {
    to: u64,
    checkpoints: Vec<(u64, SignedNote)>,
    records: Vec<Record>,
    prepared: Prepared,
}

/// The records `from..` up to [`CHUNK`] of them, ending at the last ledger checkpoint among
/// them (so that every record before the book's latest checkpoint is covered by one and
/// needs no signature check of its own), with those checkpoints.
fn read_batch(ledger: &Ledger, from: u64, size: u64) -> Result<Batch, ProjectError> {
    let mut to = (from + CHUNK).min(size);
    let mut checkpoints = Vec::new();
    for checkpoint in ledger.book().checkpoints_between(from + 1, to) {
        checkpoints.push(checkpoint.map_err(book)?);
    }
    if let Some((last, _)) = checkpoints.last() {
        to = *last;
    }
    let records = ledger
        .book()
        .records_parallel(Seq(from), Seq(to))
        .map_err(book)?;
    let prepared = prepare(&records);
    Ok(Batch {
        to,
        checkpoints,
        records,
        prepared,
    })
}

/// The views of `ledger` in `dir`, brought up to date (every new record verified first), as a
/// store to read from. Up-to-date views are not loaded: reading them is then as cheap as
/// opening sled, which is what lets `replay` answer quickly on a large ledger.
pub fn current_store(dir: &Path, ledger: &Ledger) -> Result<ViewStore, ProjectError> {
    let store = ViewStore::open(dir)?;
    let cursor = store.cursor()?;
    if cursor.is_some_and(|c| c.applied == ledger.size() && c.halted.is_none()) {
        return Ok(store);
    }
    // sled locks its directory: let go before the projector opens it.
    drop(store);
    let mut projector = open(dir, ledger)?;
    catch_up(&mut projector, ledger)?;
    Ok(projector.into_store())
}

fn book(e: probity_ledger::LedgerError) -> ProjectError {
    ProjectError::Source(format!("book: {e}"))
}
