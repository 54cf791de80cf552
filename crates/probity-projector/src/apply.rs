//! Applying a record: the fold takes it into the views, then every rule judges it.

use crate::rules;
use crate::state::{Applied, Fact, Projection};

impl Projection {
    /// Applies one record. Records must come in ledger order, each once.
    pub fn apply(&mut self, r: Applied<'_>) {
        let f = Fact::of(r);
        self.fold(f);
        rules::check_all(self, f);
    }
}
