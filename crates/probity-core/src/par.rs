//! Data parallelism for per-record work (hashing, parsing, verifying signatures), which is
//! independent from record to record.

use rayon::prelude::*;

/// Records handed to a core at a time: enough to amortise the hand-off, few enough that a
/// slow core does not hold the others back.
const CHUNK: usize = 64;

/// Maps `f` over `items` on rayon's pool (all cores unless the caller runs it inside a pool
/// of its own); results in the items' order.
pub fn par_map<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync + Send) -> Vec<T> {
    par_map_by(items, CHUNK, f)
}

/// [`par_map`] handing `chunk` items to a core at a time: smaller for costly items (a strict
/// signature check is ~40 µs), so that a short batch still spreads over the cores.
pub fn par_map_by<I: Sync, T: Send>(
    items: &[I],
    chunk: usize,
    f: impl Fn(&I) -> T + Sync + Send,
) -> Vec<T> {
    items.par_iter().with_min_len(chunk.max(1)).map(f).collect()
}
