//! ledgerd's test helpers live in the test kit; this starts the binary under test.

#![allow(dead_code)]

pub use probity_testkit::ledgerd::*;

/// Starts the ledgerd binary built for these tests.
pub fn spawn_ledgerd(data: &std::path::Path, nats_url: &str, extra: &[&str]) -> Ledgerd {
    Ledgerd::spawn(env!("CARGO_BIN_EXE_ledgerd"), data, nats_url, extra)
}
