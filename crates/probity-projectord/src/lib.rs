//! projectord: the oversight views, kept current and durable.
//!
//! * [`Projector`] verifies each record before applying it (seq, chain link, record hash,
//!   strict signature, the signer's key and role, duplicate event ids, ledger checkpoints),
//!   applies it to the supplier, rep, case and staff views and the red-flag rules, and writes
//!   the changed rows with the last applied sequence in one durable sled batch.
//! * [`embedded`] feeds it from a book opened in the same process (no server);
//!   [`follow`] feeds it from the ledger's JetStream stream and answers
//!   `probity.<ledger>.query.*` (see `schemas/QUERIES.md`).
//! * [`query`] turns a query into its answer, the same for both.

pub mod embedded;
pub mod follow;
pub mod history;
mod projector;
pub mod query;
pub mod replay;
mod store;

pub use projector::{prepare, Prepared, ProjectError, Projector};
pub use store::{Batch, Cursor, Halt, StoreError, ViewStore};
