//! Views read where they lie. A *partial* projection (see `probity_projector::Table`) holds no
//! rows at first and notes every row asked for by key and every table listed (iterated or
//! counted) that it does not hold. A reader computes its answer, the rows and tables noted are
//! read from the store (a row by its key, a listed table whole), and the answer is computed
//! again, until nothing is missing: it is then the answer the whole views give, as every row
//! it read was there. Applying records works the same way, as a trial rolled back while rows
//! are missing ([`crate::Projector::open_partial`]). What this costs is what answers and new
//! records touch, not what the views hold.

use std::sync::Arc;

use probity_projector::{Projection, POLICIES_KEY};

use crate::store::{StoreError, ViewStore};

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
