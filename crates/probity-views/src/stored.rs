//! Up-to-date views read where they lie: a query on views that need no record applied reads
//! from the store only the rows its answer needs, so opening costs the same whatever the
//! ledger's size, and a query costs what it reads.
//!
//! The projection starts *partial* (see `probity_projector::Table`): it holds no rows, and
//! notes every row asked for by key and every table listed (iterated or counted) that it does
//! not hold. [`StoredViews::settle`] computes an answer, reads what was noted from the store
//! (a row by its key, a listed table whole), and computes it again, until nothing is missing:
//! the answer is then the one the whole views would give, as every row it read was there.

use std::sync::Arc;

use probity_projector::{Projection, POLICIES_KEY};

use crate::store::{Cursor, StoreError, ViewStore};

/// Views read from their store on demand (see the module).
#[derive(Debug)]
pub struct StoredViews {
    store: ViewStore,
    projection: Projection,
    cursor: Cursor,
    rounds: u32,
    rows_read: usize,
}

impl StoredViews {
    /// The views in `store`, as its cursor says they are: nothing but the policies (a handful
    /// of rows every rule and report asks for) is read yet.
    pub fn open(store: ViewStore) -> Result<StoredViews, StoreError> {
        let cursor = store
            .cursor()?
            .ok_or_else(|| StoreError::Corrupt("views with no cursor".into()))?;
        let projection = partial_projection(&store, cursor.applied)?;
        Ok(StoredViews {
            store,
            projection,
            cursor,
            rounds: 0,
            rows_read: 0,
        })
    }

    /// How far the views go.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// Computes `read` from the views, reading from the store every row it asks for and
    /// every table it lists that were not read before, and computing it again, until it
    /// needed nothing more. `read` is called at least once, and again after each read.
    pub fn settle<T>(&mut self, read: impl Fn(&Projection) -> T) -> Result<T, StoreError> {
        loop {
            self.rounds += 1;
            let answer = read(&self.projection);
            let wanted = Wanted::take(&mut self.projection);
            if wanted.is_empty() {
                return Ok(answer);
            }
            self.rows_read += wanted.fill(&self.store, &mut self.projection)?;
        }
    }

    /// How many times [`settle`](Self::settle) computed an answer so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// How many rows [`settle`](Self::settle) read from the store so far (a row asked for and
    /// found absent counts too; the timeline chunks a timeline reads on its way do not).
    pub fn rows_read(&self) -> usize {
        self.rows_read
    }

    /// Lets go of the store.
    pub fn close(self) {
        drop(self.projection);
        self.store.close();
    }
}

/// A partial projection of the views in `store`, `applied` records long, holding nothing but
/// the policies (a handful of rows every rule and report asks for); timeline chunks are read
/// straight from the store as a timeline is built.
pub(crate) fn partial_projection(
    store: &ViewStore,
    applied: u64,
) -> Result<Projection, StoreError> {
    let mut projection = Projection::partial();
    projection.applied = applied;
    if let Some(json) = store.current_row(POLICIES_KEY)? {
        projection
            .restore_row(POLICIES_KEY, &json)
            .map_err(corrupt)?;
    }
    projection.read_from(Arc::new(store.clone()));
    Ok(projection)
}

/// What a partial projection was asked for and did not hold: tables listed, rows by key.
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    listed: Vec<&'static str>,
    missed: Vec<String>,
}

impl Wanted {
    /// What `projection` noted since it was last asked (it forgets it).
    pub(crate) fn take(projection: &mut Projection) -> Wanted {
        Wanted {
            listed: projection.take_listed(),
            missed: projection.take_missed(),
        }
    }

    /// Whether nothing was wanted.
    pub(crate) fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.missed.is_empty()
    }

    /// Reads what was wanted from `store` (as committed now) into `projection`: every row of
    /// each listed table it does not hold (the table is then complete), and each missed row,
    /// or the fact that there is none. Returns how many rows were read.
    pub(crate) fn fill(
        self,
        store: &ViewStore,
        projection: &mut Projection,
    ) -> Result<usize, StoreError> {
        let mut read = 0;
        for table in self.listed {
            for (row, json) in store.current_table(table)? {
                read += 1;
                let key = format!("{table}/{row}");
                if !projection.holds_row(&key) {
                    projection.restore_row(&key, &json).map_err(corrupt)?;
                }
            }
            projection.completed_table(table).map_err(corrupt)?;
        }
        for key in self.missed {
            if projection.holds_row(&key) {
                continue;
            }
            read += 1;
            match store.current_row(&key)? {
                Some(json) => projection.restore_row(&key, &json),
                None => projection.restore_absent(&key),
            }
            .map_err(corrupt)?;
        }
        Ok(read)
    }
}

fn corrupt(e: probity_projector::RowError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
