//! The embedded default: the views of a data directory, brought up to date from the book
//! opened in the same process, with no server.

use std::path::{Path, PathBuf};

use probity_core::ids::Seq;
use probity_ledger::Ledger;

use crate::projector::{ProjectError, Projector};
use crate::store::StoreError;

/// Records read from the book per batch.
const CHUNK: u64 = 8192;

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
        let to = (from + CHUNK).min(size);
        for checkpoint in ledger.book().checkpoints_between(from + 1, to) {
            let (size, note) = checkpoint.map_err(book)?;
            projector.add_checkpoint(note, size);
        }
        let records = ledger
            .book()
            .records(Seq(from), Seq(to))
            .collect::<Result<Vec<_>, _>>()
            .map_err(book)?;
        projector.apply(&records)?;
    }
    Ok(projector.applied() - start)
}

fn book(e: probity_ledger::LedgerError) -> ProjectError {
    ProjectError::Source(format!("book: {e}"))
}
