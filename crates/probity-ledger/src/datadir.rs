//! A data directory: the embedded default's layout on disk. `book/` holds the ledger (sled),
//! `ledger.key` the ledger's signing key (mode 0600), `ledger.vkey` its public verifier key
//! (what auditors, witnesses and projectord pin); the views keep their own directory
//! beside them (`views/`, see projectord). A directory imported from an export has no key but
//! an `IMPORTED` note, and opens read-only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::keyfile::{self, KeyFileError};
use crate::{EngineConfig, Ledger, LedgerError, SystemClock};

/// Where the book of a data directory lives.
pub fn book_dir(data: &Path) -> PathBuf {
    data.join("book")
}

/// Where the ledger key of a data directory lives.
pub fn ledger_key_path(data: &Path) -> PathBuf {
    data.join("ledger.key")
}

/// Where a data directory keeps the ledger's verifier key (C2SP vkey, public).
pub fn ledger_vkey_path(data: &Path) -> PathBuf {
    data.join("ledger.vkey")
}

/// Writes the ledger's verifier key to `ledger.vkey` in the data directory, so that whoever
/// reads the directory can pin it (`--ledger-vkey DIR/ledger.vkey`); returns the path.
pub fn write_ledger_vkey(data: &Path, ledger: &Ledger) -> std::io::Result<PathBuf> {
    let path = ledger_vkey_path(data);
    std::fs::write(&path, format!("{}\n", ledger.verifier_key()))?;
    Ok(path)
}

/// Why a data directory did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The ledger key could not be read.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The book could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Where an imported data directory notes where it came from; its presence is what lets the
/// directory open without a ledger key.
pub fn marker_path(data: &Path) -> PathBuf {
    data.join("IMPORTED")
}

/// Opens the ledger of the data directory `data` to read only, without its key (nothing is
/// appended or signed): for auditors' commands, which must not change what they look at. A book
/// that lost acknowledged records still opens, naming the damage (`Ledger::damage`).
pub fn open_read_only(data: &Path) -> Result<Ledger, OpenError> {
    Ok(Ledger::open_read_only(&book_dir(data))?)
}

/// Opens the ledger of the data directory `data` in this process: with its key, or read-only
/// when the directory was imported from an export (and so has none).
pub fn open(data: &Path) -> Result<Ledger, OpenError> {
    let key_path = ledger_key_path(data);
    if !key_path.exists() && marker_path(data).exists() {
        return Ok(Ledger::open_read_only(&book_dir(data))?);
    }
    let key = keyfile::read_key(&key_path)?;
    Ok(Ledger::open(
        &book_dir(data),
        key,
        EngineConfig::default(),
        Arc::new(SystemClock),
    )?)
}
