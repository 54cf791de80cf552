//! Data directories holding scenario fixtures, for the CLI's tests.

#![allow(unused_imports)]

pub use probity_testkit::scenario::{data_dir, open, prepared};
