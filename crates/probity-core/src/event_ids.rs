//! The event ids a verifier has seen, kept compactly: a verifier of a million records holds a
//! million of them.
//!
//! A hash map of 16-byte digests and sequence numbers costs about 52 bytes an entry at a
//! million (a power-of-two table kept at most 7/8 full, doubling as it grows, with the old
//! table alive while the new one fills). Here most entries sit in one sorted vector (24 bytes
//! an entry, grown by a quarter at a time), and the latest ones in a small map merged into it
//! in runs. Digests are uniform, so a directory of where each value of the first two bytes
//! starts narrows a search to a dozen neighbouring entries at a million: bisecting the whole
//! vector instead costs a cache and TLB miss a step, which made a rebuild 9 % slower.

use std::collections::HashMap;

use crate::ids::Seq;

/// Entries gathered in the map before they are merged into the sorted vector: large enough
/// that merging (a pass over the vector) costs little per entry, small enough to be a small
/// part of the whole.
const RUN: usize = 1 << 16;

/// Event id digests ([`event_id_key`](crate::verify::event_id_key)), each with the record
/// that first had it.
#[derive(Debug, Default, Clone)]
pub struct EventIds {
    /// Sorted by digest; no digest twice, none also in `recent`.
    sorted: Vec<([u8; 16], Seq)>,
    /// `starts[b]`: the first entry of `sorted` whose digest begins with the two bytes `b`
    /// (big-endian); `starts[65536]` is the length. Empty while `sorted` is.
    starts: Vec<usize>,
    recent: HashMap<[u8; 16], Seq>,
}

/// The directory's bucket of a digest: its first two bytes.
fn bucket(id: &[u8; 16]) -> usize {
    usize::from(u16::from_be_bytes([id[0], id[1]]))
}

const BUCKETS: usize = 1 << 16;

impl EventIds {
    /// None yet.
    pub fn new() -> Self {
        EventIds::default()
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record that first had `id`, if any had.
    pub fn get(&self, id: &[u8; 16]) -> Option<Seq> {
        if let Some(seq) = self.recent.get(id) {
            return Some(*seq);
        }
        if self.starts.is_empty() {
            return None;
        }
        let b = bucket(id);
        let neighbours = &self.sorted[self.starts[b]..self.starts[b + 1]];
        neighbours
            .binary_search_by(|(key, _)| key.cmp(id))
            .ok()
            .map(|at| neighbours[at].1)
    }

    /// Whether any record had `id`.
    pub fn contains(&self, id: &[u8; 16]) -> bool {
        self.get(id).is_some()
    }

    /// Notes that record `seq` had `id`; an id already known keeps its first record
    /// (returns `false`, as a set would).
    pub fn insert(&mut self, id: [u8; 16], seq: Seq) -> bool {
        if self.contains(&id) {
            return false;
        }
        self.recent.insert(id, seq);
        if self.recent.len() >= RUN {
            self.merge();
        }
        true
    }

    /// Moves the recent entries into the sorted vector: sorted among themselves, then merged
    /// from the back into the room made at the vector's end, so no second vector is made.
    fn merge(&mut self) {
        let mut run: Vec<([u8; 16], Seq)> = self.recent.drain().collect();
        run.sort_unstable_by_key(|entry| entry.0);
        self.merge_sorted(&run);
        // The map gave its entries back but keeps its table: let the next run start small.
        self.recent = HashMap::new();
    }

    /// Merges `run` (sorted by digest, none of them known here) into the sorted vector, from
    /// the back into the room made at the vector's end, so no second vector is made.
    fn merge_sorted(&mut self, run: &[([u8; 16], Seq)]) {
        let old = self.sorted.len();
        let needed = old + run.len();
        if self.sorted.capacity() < needed {
            // A quarter more, not double: the spare room is at most a fifth of the whole.
            self.sorted.reserve_exact(needed + needed / 4 - old);
        }
        self.sorted.resize(needed, ([0; 16], Seq(0)));
        let (mut i, mut j, mut to) = (old, run.len(), needed);
        while j > 0 {
            to -= 1;
            if i > 0 && self.sorted[i - 1].0 > run[j - 1].0 {
                self.sorted[to] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[to] = run[j - 1];
                j -= 1;
            }
        }
        self.index();
    }

    /// Rebuilds the directory of [`starts`](Self::starts) after a merge.
    fn index(&mut self) {
        self.starts.clear();
        self.starts.reserve_exact(BUCKETS + 1);
        let mut at = 0;
        for b in 0..BUCKETS {
            self.starts.push(at);
            while at < self.sorted.len() && bucket(&self.sorted[at].0) == b {
                at += 1;
            }
        }
        self.starts.push(self.sorted.len());
    }
}

impl Extend<([u8; 16], Seq)> for EventIds {
    /// As [`EventIds::insert`] of each entry in turn (an id already known keeps its record;
    /// an id given twice keeps the earlier record — the first given, when they come in
    /// ledger order, as the stored ids do). Many at once — the ids a verifier resumes with — are
    /// sorted and merged as one run: looking each up and inserting it took a third of a
    /// second at a million, which a query on views one record behind paid.
    fn extend<I: IntoIterator<Item = ([u8; 16], Seq)>>(&mut self, entries: I) {
        let mut run: Vec<([u8; 16], Seq)> = entries.into_iter().collect();
        if run.len() < RUN {
            for (id, seq) in run {
                self.insert(id, seq);
            }
            return;
        }
        // By id, then record: of entries with one id, the earliest record comes first and
        // dedup keeps it (unstable, so no scratch copy of the run is made).
        run.sort_unstable();
        run.dedup_by_key(|entry| entry.0);
        run.retain(|(id, _)| !self.contains(id));
        self.merge_sorted(&run);
    }
}

impl FromIterator<([u8; 16], Seq)> for EventIds {
    fn from_iter<I: IntoIterator<Item = ([u8; 16], Seq)>>(entries: I) -> Self {
        let mut ids = EventIds::new();
        ids.extend(entries);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> [u8; 16] {
        // Spread like digests: neighbours in n are far apart in order.
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        key[8..].copy_from_slice(&n.to_le_bytes());
        key
    }

    /// Across several merges, every id is found with its first record, a repeated id keeps
    /// its first record, and an id never inserted is not found.
    #[test]
    fn finds_every_id_with_its_first_record_across_merges() {
        let mut ids = EventIds::new();
        let n = 3 * RUN as u64 + 17;
        for i in 0..n {
            assert!(ids.insert(id(i), Seq(i)));
        }
        assert!(!ids.sorted.is_empty() && !ids.recent.is_empty());
        for i in (0..n).step_by(97) {
            assert!(!ids.insert(id(i), Seq(n + i)), "{i} inserted twice");
        }
        assert_eq!(ids.len(), n as usize);
        for i in 0..n {
            assert_eq!(ids.get(&id(i)), Some(Seq(i)), "{i}");
        }
        assert_eq!(ids.get(&id(n)), None);
        assert!(ids.sorted.windows(2).all(|w| w[0].0 < w[1].0));
        for (b, w) in ids.starts.windows(2).enumerate() {
            assert!(ids.sorted[w[0]..w[1]]
                .iter()
                .all(|(key, _)| bucket(key) == b));
        }
    }

    /// Digests sharing their first bytes (one bucket) and the extreme buckets are found.
    #[test]
    fn finds_neighbours_within_a_bucket_and_at_the_ends() {
        let mut ids = EventIds::new();
        let mut crowded = Vec::new();
        for i in 0..RUN as u64 + 3 {
            let mut key = id(i);
            if i % 3 == 0 {
                key[0] = 0xAB;
                key[1] = 0xCD;
            }
            if i == 1 {
                key = [0xFF; 16];
            }
            if i == 2 {
                key = [0; 16];
            }
            crowded.push(key);
            assert!(ids.insert(key, Seq(i)));
        }
        for (i, key) in crowded.iter().enumerate() {
            assert_eq!(ids.get(key), Some(Seq(i as u64)));
        }
        let mut absent = [0xAB; 16];
        absent[1] = 0xCD;
        assert_eq!(ids.get(&absent), None);
    }

    /// Many entries extended at once — repeats among them, some already known, some only in
    /// the recent map — keep each id's first record, exactly as inserting them one by one.
    #[test]
    fn a_large_extend_keeps_first_records_as_inserts_do() {
        let n = 2 * RUN as u64 + 9;
        let mut entries: Vec<([u8; 16], Seq)> = (0..n).map(|i| (id(i), Seq(10 + i))).collect();
        // Repeats later in the input, with later records.
        entries.extend((0..n).step_by(5).map(|i| (id(i), Seq(10 * n + i))));
        let mut bulk = EventIds::new();
        let mut one_by_one = EventIds::new();
        // Known before: some merged into the vector, some still in the map.
        for i in (0..n).step_by(3).chain(n..n + RUN as u64 + 2) {
            for ids in [&mut bulk, &mut one_by_one] {
                ids.insert(id(i), Seq(i % 7));
            }
        }
        assert!(!bulk.recent.is_empty());
        bulk.extend(entries.iter().copied());
        for (key, seq) in &entries {
            one_by_one.insert(*key, *seq);
        }
        assert_eq!(bulk.len(), one_by_one.len());
        for i in 0..n + RUN as u64 + 2 {
            assert_eq!(bulk.get(&id(i)), one_by_one.get(&id(i)), "{i}");
        }
        assert!(bulk.sorted.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(bulk
            .sorted
            .iter()
            .all(|(key, _)| !bulk.recent.contains_key(key)));
    }

    /// The same ids collected at once or inserted one by one hold the same entries.
    #[test]
    fn collected_and_extended_agree() {
        let collected: EventIds = (0..RUN as u64 + 5).map(|i| (id(i), Seq(i))).collect();
        let mut extended = EventIds::new();
        extended.extend((0..10).map(|i| (id(i), Seq(i))));
        extended.extend((10..RUN as u64 + 5).map(|i| (id(i), Seq(i))));
        for i in 0..RUN as u64 + 5 {
            assert_eq!(collected.get(&id(i)), extended.get(&id(i)));
        }
        assert_eq!(collected.len(), extended.len());
    }
}
