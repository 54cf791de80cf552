//! Data parallelism for per-record work (hashing, parsing, verifying signatures), which is
//! independent from record to record.

use rayon::prelude::*;

/// Records handed to a core at a time: enough to amortise the hand-off, few enough that a
/// slow core does not hold the others back.
const CHUNK: usize = 64;

/// Maps `f` over `items` on rayon's pool (all cores unless the caller runs it inside a pool
/// of its own); results in the items' order.
pub fn par_map<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync + Send) -> Vec<T> {
    items.par_iter().with_min_len(CHUNK).map(f).collect()
}
