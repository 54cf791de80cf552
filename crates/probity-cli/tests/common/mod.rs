//! Data directories holding scenario fixtures, for the CLI's tests.

#![allow(unused_imports, dead_code, clippy::unwrap_used)]

pub use probity_testkit::scenario::{data_dir, open, prepared};

/// Runs `probity` with `args`: exit code, stdout, stderr.
pub fn probity(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_probity"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The ledger key (C2SP vkey) and size of the scenario data directory `dir` made by
/// [`data_dir`], its book closed again so that `probity` can open it.
pub fn vkey_and_size(dir: &std::path::Path, name: &str) -> (String, u64) {
    let ledger = open(dir, name);
    let found = (ledger.verifier_key().to_string(), ledger.size());
    ledger.close();
    found
}
