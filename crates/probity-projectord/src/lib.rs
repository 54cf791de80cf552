//! projectord: the oversight views ([`probity_views`]) kept current from the ledger's JetStream
//! stream, and served over NATS: [`follow`] verifies and applies every record as it arrives and
//! answers `probity.<ledger>.query.*` (see `schemas/QUERIES.md`).

pub mod follow;
pub mod metrics;
