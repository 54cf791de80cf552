//! A prepared scenario (see `probity_events::scenario`) recorded into a new book, each event
//! at its own `recorded_at`, so both time senses are real: the test fixtures and `probity demo`.

use std::path::Path;
use std::sync::Arc;

use probity_events::scenario::Prepared;

use crate::{AppendError, AppendRequest, EngineConfig, Ledger, LedgerError, ManualClock};

/// Why a scenario could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The book could not be created.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The scenario has no genesis.
    #[error("the scenario holds no events")]
    Empty,
    /// An event was refused.
    #[error("event {index} refused: {error}")]
    Refused {
        /// Its position in the scenario (genesis is 0).
        index: usize,
        /// Why.
        error: AppendError,
    },
}

/// Creates a book in `dir` holding `prepared`, closes it, and returns its size. Reopen it with
/// the system clock to go on recording.
pub fn record(dir: &Path, prepared: Prepared) -> Result<u64, RecordError> {
    let mut events = prepared.events.into_iter();
    let (genesis, at) = events.next().ok_or(RecordError::Empty)?;
    let clock = ManualClock::new(at);
    let (ledger, _) = Ledger::create(
        dir,
        genesis,
        prepared.ledger_key,
        EngineConfig::default(),
        Arc::new(clock.clone()),
    )?;
    for (index, (event, at)) in events.enumerate() {
        clock.set(at);
        if let Err(error) = ledger.append(AppendRequest::new(event)) {
            ledger.close();
            return Err(RecordError::Refused {
                index: index + 1,
                error,
            });
        }
    }
    let size = ledger.size();
    ledger.close();
    Ok(size)
}
