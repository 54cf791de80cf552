//! The embedded default: the views of a data directory, brought up to date from the book
//! opened in the same process, with no server.

use std::path::{Path, PathBuf};

use probity_core::ids::Seq;
use probity_ledger::Ledger;

use probity_core::checkpoint::SignedNote;
use probity_core::record::Record;

use crate::projector::{prepare, Prepared, ProjectError, Projector};
use crate::store::{StoreError, ViewStore};

/// Records committed to the views per batch (at least, unless the book ends first): large,
/// because a batch writes each view row it touches once, however many of its records touched
/// it (8,192-record batches rebuild at 36k records/s, 32,768-record ones at 58k on the rebuild
/// bench). Each batch ends with a snapshot for `replay` (it is at least `SNAPSHOT_EVERY`
/// long), so a replay applies at most about this many records.
const CHUNK: u64 = 32768;

/// Records the reader hands over at a time: small, so that the projector starts on the first
/// ones while the reader prepares the rest (a whole batch read before the first record is
/// applied left a core idle for a tenth of a rebuild).
const PIECE: u64 = 4096;

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
/// Two stages overlap: a reader thread reads the next records from the book and does the work
/// that needs no state (parsing, hashing, decoding; [`prepare`]) while this thread verifies in
/// order and applies the ones before, committing every [`CHUNK`] records and at the end, so
/// the cores are not idle while records are applied or flushed.
pub fn catch_up(projector: &mut Projector, ledger: &Ledger) -> Result<u64, ProjectError> {
    catch_up_paced(projector, ledger, Pace::default(), &mut |_, _| {})
}

/// [`catch_up`], telling `progress` (records applied so far, the book's size) after every
/// piece, for a progress bar on a long build.
pub fn catch_up_reporting(
    projector: &mut Projector,
    ledger: &Ledger,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, ProjectError> {
    catch_up_paced(projector, ledger, Pace::default(), progress)
}

/// How many records a piece and a batch hold (see [`PIECE`] and [`CHUNK`]).
#[derive(Clone, Copy, Debug)]
struct Pace {
    piece: u64,
    chunk: u64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            piece: PIECE,
            chunk: CHUNK,
        }
    }
}

fn catch_up_paced(
    projector: &mut Projector,
    ledger: &Ledger,
    pace: Pace,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, ProjectError> {
    let start = projector.applied();
    let size = ledger.size();
    if start >= size {
        return Ok(0);
    }
    std::thread::scope(|scope| {
        // A batch's worth ahead: enough to overlap a commit, and bounded memory.
        let ahead = (pace.chunk / pace.piece).max(1) as usize;
        let (pieces, ready) = std::sync::mpsc::sync_channel(ahead);
        scope.spawn(move || {
            let mut from = start;
            while from < size {
                let piece = read_piece(ledger, from, size, pace);
                let next = piece.as_ref().map_or(size, |p| p.to);
                // The projector hung up (it stopped on a refused record): stop reading.
                if pieces.send(piece).is_err() {
                    break;
                }
                from = next;
            }
        });
        for piece in ready {
            let Piece {
                checkpoints,
                records,
                prepared,
                ..
            } = piece?;
            for (size, note) in checkpoints {
                projector.add_checkpoint(note, size);
            }
            projector.stage(&records, Some(prepared))?;
            if projector.staged() >= pace.chunk {
                projector.commit()?;
            }
            progress(projector.applied(), size);
        }
        if projector.staged() > 0 {
            projector.commit()?;
        }
        Ok(projector.applied() - start)
    })
}

/// Records read from the book, prepared.
struct Piece {
    to: u64,
    checkpoints: Vec<(u64, SignedNote)>,
    records: Vec<Record>,
    prepared: Prepared,
}

/// The records `from..` up to [`PIECE`] of them, ending at the last ledger checkpoint among
/// them (so that every record before the book's latest checkpoint is covered by one and
/// needs no signature check of its own), with those checkpoints; if none lies among them
/// (a ledger that checkpoints rarely), up to the first checkpoint within [`CHUNK`] records.
fn read_piece(ledger: &Ledger, from: u64, size: u64, pace: Pace) -> Result<Piece, ProjectError> {
    let end = (from + pace.chunk).min(size);
    let mut checkpoints = Vec::new();
    for checkpoint in ledger.book().checkpoints_between(from + 1, end) {
        let (at, note) = checkpoint.map_err(book)?;
        let beyond = at > from + pace.piece;
        if beyond && !checkpoints.is_empty() {
            break;
        }
        checkpoints.push((at, note));
        if beyond {
            break;
        }
    }
    let to = match checkpoints.last() {
        Some((last, _)) => *last,
        None => (from + pace.piece).min(size),
    };
    let records = ledger
        .book()
        .records_parallel(Seq(from), Seq(to))
        .map_err(book)?;
    let prepared = prepare(&records);
    Ok(Piece {
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
    if cursor
        .as_ref()
        .is_some_and(|c| c.applied == ledger.size() && c.halted.is_none())
    {
        return Ok(store);
    }
    let mut projector = Projector::over(store, cursor, false)?;
    projector.pin_log_key(ledger.verifier_key());
    catch_up(&mut projector, ledger)?;
    Ok(projector.into_store())
}

/// Views at most this many records behind the book are opened partial
/// ([`Projector::open_partial`]): reading the rows those records touch costs less than reading
/// every row. Further behind (a first build above all), they are opened whole.
pub const PARTIAL_CATCH_UP: u64 = PIECE;

/// The views of `ledger` in `dir`, up to date, to answer queries. Views up to date or at most
/// [`PARTIAL_CATCH_UP`] records behind are opened partial ([`Projector::open_partial`]):
/// nothing but their cursor and policies is read, then the rows the new records touch and
/// those the answers ask for ([`Projector::settle`]) — so opening costs the same at a thousand
/// records or a million. Others (new views above all) are opened whole. Every new record is
/// verified before it is applied; `progress` is told after each piece (as
/// [`catch_up_reporting`]).
pub fn open_current(
    dir: &Path,
    ledger: &Ledger,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Projector, ProjectError> {
    let store = ViewStore::open(dir)?;
    let cursor = store.cursor()?;
    // Records the views lack; `None` for new or halted views, or views ahead of the book.
    let behind = cursor
        .as_ref()
        .filter(|c| c.halted.is_none())
        .and_then(|c| ledger.size().checked_sub(c.applied));
    let partial = behind.is_some_and(|records| records <= PARTIAL_CATCH_UP);
    let mut projector = Projector::over(store, cursor, partial)?;
    projector.pin_log_key(ledger.verifier_key());
    if let Err(e) = catch_up_reporting(&mut projector, ledger, progress) {
        projector.close();
        return Err(e);
    }
    Ok(projector)
}

fn book(e: probity_ledger::LedgerError) -> ProjectError {
    ProjectError::Source(format!("book: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use probity_ledger::{AppendRequest, EngineConfig};
    use probity_testkit::Hospital;

    /// Pieces smaller than a batch, batches of several pieces, checkpoints every 5 records:
    /// the views are those of all the records applied in one go, and every batch ended at a
    /// checkpoint (the snapshots, one per batch here, show where).
    #[test]
    fn pieces_committed_in_batches_give_the_views_of_one_batch() {
        let h = Hospital::default();
        let dir = tempfile::tempdir().unwrap();
        let config = EngineConfig {
            checkpoint_every: 5,
            ..EngineConfig::default()
        };
        let ledger = h.create_ledger_with(&dir.path().join("book"), config);
        for i in 0..60 {
            let event = if i % 10 == 9 {
                h.sanction(&format!("s-{i}"), &h.discipline)
            } else {
                h.request(&format!("r-{i}"), &format!("CASE-{}", i % 4), &h.clerk)
            };
            ledger.append(AppendRequest::new(event)).unwrap();
        }
        let size = ledger.size();
        let records: Vec<Record> = ledger
            .book()
            .records(Seq(0), Seq(size))
            .collect::<Result<_, _>>()
            .unwrap();
        let mut whole = open(&dir.path().join("whole"), &ledger).unwrap();
        whole.apply(&records).unwrap();

        let mut paced = open(&dir.path().join("paced"), &ledger).unwrap();
        paced.snapshot_every(1);
        let pace = Pace {
            piece: 7,
            chunk: 16,
        };
        let mut reported = Vec::new();
        let applied = catch_up_paced(&mut paced, &ledger, pace, &mut |done, of| {
            reported.push((done, of))
        });
        assert_eq!(applied.unwrap(), size);
        // Progress rises piece by piece to the book's size.
        assert!(reported.windows(2).all(|w| w[0].0 < w[1].0), "{reported:?}");
        assert_eq!(reported.last(), Some(&(size, size)));
        assert_eq!(paced.staged(), 0);
        assert_eq!(paced.projection().whole(), whole.projection().whole());
        assert_eq!(
            paced.store().state_hash().unwrap(),
            whole.store().state_hash().unwrap()
        );

        let batch_ends: Vec<u64> = paced
            .store()
            .snapshots()
            .unwrap()
            .iter()
            .map(|s| s.size)
            .collect();
        assert_eq!(batch_ends.last(), Some(&size));
        let mut from = 0;
        for &end in &batch_ends[..batch_ends.len() - 1] {
            assert!(end - from >= pace.chunk, "batch {from}..{end} is short");
            let checkpoint = ledger.book().checkpoints_between(end, end).count();
            assert_eq!(
                checkpoint, 1,
                "batch {from}..{end} ends between checkpoints"
            );
            from = end;
        }
        assert!(batch_ends.len() >= 3, "{batch_ends:?}");
    }
}
