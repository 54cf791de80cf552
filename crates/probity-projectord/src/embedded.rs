//! The embedded default: the views of a data directory, brought up to date from the book
//! opened in the same process, with no server.

use std::path::{Path, PathBuf};

use probity_core::ids::Seq;
use probity_ledger::Ledger;

use crate::projector::{ProjectError, Projector};
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
pub fn catch_up(projector: &mut Projector, ledger: &Ledger) -> Result<u64, ProjectError> {
    let start = projector.applied();
    let size = ledger.size();
    while projector.applied() < size {
        let from = projector.applied();
        let mut to = (from + CHUNK).min(size);
        // End the batch at the last checkpoint in it, so that every record before the book's
        // latest checkpoint is covered by one (and needs no signature check of its own).
        let mut last_checkpoint = None;
        for checkpoint in ledger.book().checkpoints_between(from + 1, to) {
            let (size, note) = checkpoint.map_err(book)?;
            projector.add_checkpoint(note, size);
            last_checkpoint = Some(size);
        }
        if let Some(checkpoint) = last_checkpoint {
            to = checkpoint;
        }
        let records = ledger
            .book()
            .records_parallel(Seq(from), Seq(to))
            .map_err(book)?;
        projector.apply(&records)?;
    }
    Ok(projector.applied() - start)
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
