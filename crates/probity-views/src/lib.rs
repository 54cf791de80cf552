//! The oversight views, kept current and durable — a library with no network, so that the
//! `probity` and `replay` tools link no NATS client; `projectord` serves it over NATS.
//!
//! * [`Projector`] verifies each record before applying it (seq, chain link, record hash,
//!   strict signature, the signer's key and role, duplicate event ids, ledger checkpoints),
//!   applies it to the supplier, rep, case and staff views and the red-flag rules, and writes
//!   the changed rows with the last applied sequence in one durable sled batch.
//! * [`embedded`] feeds it from a book opened in the same process (no server); views up to
//!   date or a few records behind are opened partial ([`Projector::open_partial`]): read where
//!   they lie, row by row as answers and new records need them.
//! * [`query`] turns a query into its answer (`schemas/QUERIES.md`), wherever it came from.
//! * [`ocds`] publishes the purchase cases as Open Contracting (OCDS 1.1) releases.
//! * [`investigation`] answers a replay question (a moment, optionally one subject) for
//!   `replay` and the HTTP API alike.
//! * [`history`] keeps every version of the rows and periodic snapshots; [`replay`] rebuilds
//!   the views as of any moment from them.

pub mod answers;
pub mod embedded;
pub mod history;
pub mod investigation;
pub mod ocds;
mod partial;
mod projector;
pub mod query;
pub mod replay;
mod store;

pub use projector::{prepare, Prepared, ProjectError, Projector};
pub use store::{Batch, Cursor, Halt, StoreError, ViewStore};
