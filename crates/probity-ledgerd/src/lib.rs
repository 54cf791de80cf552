//! `ledgerd`: the Probity ledger engine as a NATS service.
//!
//! * `probity.<ledger>.append`: signed events in, receipts (or typed errors) out;
//! * `probity.<ledger>.status`, `.checkpoint`, `.proof.inclusion`, `.proof.consistency`;
//! * every committed record published, in order, to the JetStream stream `PROBITY_<LEDGER>` on
//!   `probity.<ledger>.records`, which is an exact copy of the book.
//!
//! The protocol is specified in `schemas/PROTOCOL.md`; the types are in
//! `probity_ledger::wire`.

pub mod config;
pub mod metrics;
pub mod publisher;
pub mod service;
pub mod witnesses;
