//! How the Probity binaries use memory.

/// Turns transparent huge pages off for this process (and the processes it starts).
///
/// The binaries allocate and free much memory (records, parsed events, sled's node copies),
/// and the allocator asks the kernel for huge pages where it can. Whether it gets them depends
/// on how fragmented the machine's memory is, and when it does, zeroing them dominates: on the
/// project's machine a rebuild of the views in a fresh process ran at 64–116k records/s from
/// one process to the next (a third of the slow ones' time in the kernel clearing pages), and
/// at 100–107k, every time, with huge pages off; ledgerd's batched appends did no worse
/// (11.9–13.4k/s in four runs, 11.7k in two with huge pages; BENCHMARKS.md). Call it first
/// thing in `main`. Failing (a kernel without the setting) changes nothing else.
pub fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "could not turn transparent huge pages off");
    }
}
