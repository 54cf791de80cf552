//! Replaying the views to an earlier moment, for investigations: as of a record, as known at a
//! time (records by `recorded_at`) or as true at a time (records by `occurred_at`, with
//! everything known now).
//!
//! A replay starts from the latest snapshot of the views (see [`crate::history`]) that the
//! moment includes whole, and applies the moment's records after it to a *partial* projection:
//! one that holds only the rows restored into it. Applying records asks for rows by key; the
//! rows asked for and missing are read from the snapshot and the records applied again, until
//! nothing is missing. A replay thus reads the rows its records touch (and the tables its
//! answer lists), never the whole views, and costs at most one snapshot interval of records
//! whatever the size of the ledger.
//!
//! The records replayed are those the views were built from, every one verified before it was
//! applied; replay reads them back from the same book. `probity verify` checks the book itself.

use probity_core::envelope::EventBody;
use probity_core::ids::Seq;
use probity_core::keys::KeyId;
use probity_core::record::Record;
use probity_events::Event;
use probity_ledger::Book;
use probity_projector::time::Micros;
use probity_projector::{Applied, BlacklistEntry, Finding, Projection, POLICIES_KEY};
use serde::{Deserialize, Serialize};

use crate::answers::{self, Answers, Zone};
use crate::history::{Snapshot, Times};
use crate::store::{StoreError, ViewStore};

/// What changed in the blacklist and the findings between two moments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    /// The earlier moment.
    pub from: Moment,
    /// The later moment.
    pub to: Moment,
    /// Bans in force at `to` and not at `from`.
    pub blacklist_added: Vec<BlacklistEntry>,
    /// Bans in force at `from` and no longer at `to`.
    pub blacklist_removed: Vec<BlacklistEntry>,
    /// Findings at `to` that `from` did not have.
    pub findings_added: Vec<Finding>,
    /// Findings at `from` that `to` does not have.
    pub findings_removed: Vec<Finding>,
    /// Findings present at both moments whose evidence or summary changed: (before, after).
    pub findings_changed: Vec<(Finding, Finding)>,
}

/// [`Diff`] in the answers' shapes (QUERIES.md 3.0): what `replay --diff --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DiffAnswer {
    /// The earlier moment.
    pub from: MomentAnswer,
    /// The later moment.
    pub to: MomentAnswer,
    /// Bans in force at `to` and not at `from`.
    pub blacklist_added: Vec<answers::Blacklisted>,
    /// Bans in force at `from` and no longer at `to`.
    pub blacklist_removed: Vec<answers::Blacklisted>,
    /// Findings at `to` that `from` did not have.
    pub findings_added: Vec<answers::Finding>,
    /// Findings at `from` that `to` does not have.
    pub findings_removed: Vec<answers::Finding>,
    /// Findings at both moments whose evidence or summary changed.
    pub findings_changed: Vec<Change>,
}

/// A finding as it was and as it is.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Change {
    /// At the earlier moment.
    pub before: answers::Finding,
    /// At the later moment.
    pub after: answers::Finding,
}

/// A [`Moment`] for people and scripts: `{"sense": "records", "records": n}`, or
/// `{"sense": "known_at" | "true_at", "at": time}` with the time at the hospital's offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MomentAnswer {
    /// `records`, `known_at` or `true_at`.
    pub sense: &'static str,
    /// For `records`: how many records, from the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// For `known_at` and `true_at`: the time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<answers::Time>,
}

impl MomentAnswer {
    /// `moment` with its time at `zone`.
    pub fn of(moment: Moment, zone: Zone) -> MomentAnswer {
        let (sense, records, at) = match moment {
            Moment::Records(n) => ("records", Some(n), None),
            Moment::KnownAt(t) => ("known_at", None, Some(zone.time(t))),
            Moment::TrueAt(t) => ("true_at", None, Some(zone.time(t))),
        };
        MomentAnswer { sense, records, at }
    }
}

/// The moment to replay to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "sense", content = "at")]
pub enum Moment {
    /// Just after the first `n` records (records `0..n`).
    Records(u64),
    /// Everything recorded at or before this time (µs).
    KnownAt(Micros),
    /// Everything that happened at or before this time (µs), as known now.
    TrueAt(Micros),
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The views could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The book could not be read, or a record in it no longer opens.
    #[error("book: {0}")]
    Book(String),
    /// The moment lies past what the views hold.
    #[error("the ledger holds records 0 to {}; record {seq} is not among them", .held.saturating_sub(1))]
    Beyond {
        /// Records the views hold.
        held: u64,
        /// The record asked for.
        seq: u64,
    },
}

/// One record of a replay, as a timeline shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The record.
    pub seq: Seq,
    /// Its event type.
    pub event_type: String,
    /// When it happened (µs).
    pub occurred_at: Micros,
    /// When the ledger recorded it (µs).
    pub recorded_at: Micros,
    /// The key that signed it.
    pub signer: KeyId,
    /// Who holds that key (from the genesis or their enrolment), if known.
    pub signer_name: Option<String>,
}

/// The views at a moment.
#[derive(Debug)]
pub struct Replayed {
    /// The moment.
    pub moment: Moment,
    /// True time the views are read at (µs).
    pub true_at: Micros,
    /// Known time the views are read at (µs).
    pub known_at: Micros,
    /// Records the moment includes.
    pub records: u64,
    /// The snapshot it started from (records in it).
    pub snapshot: u64,
    /// Records applied after the snapshot.
    pub applied: u64,
    /// Times the records were applied (1 when no row was missing at first).
    pub rounds: u32,
    /// The projection: every row the records touched, plus the whole supplier, sanction,
    /// findings and signer tables.
    pub projection: Projection,
    /// Which records the moment includes after the snapshot (all before it are included).
    selected: Vec<u64>,
    /// For a true-at moment, the blacklist true at it as the ledger knows now (see
    /// [`Replayed::blacklist`]).
    true_blacklist: Option<Vec<BlacklistEntry>>,
}

impl Replayed {
    /// Suppliers under a whole-firm ban at the moment. At a true-at moment, by the periods
    /// bans cover, using everything the ledger holds now (docs/RULES.md, "Time") — a ban
    /// decided after the moment but effective before it is listed, exactly as
    /// `probity blacklist --at` lists it — not only the records of events that happened by then.
    pub fn blacklist(&self) -> Vec<BlacklistEntry> {
        match &self.true_blacklist {
            Some(list) => list.clone(),
            None => self.projection.blacklist(self.true_at, self.known_at),
        }
    }

    /// Every finding detectable at the moment, by id.
    pub fn findings(&self) -> Vec<Finding> {
        self.projection.findings.values().cloned().collect()
    }

    /// Whether the moment includes record `seq`.
    pub fn includes(&self, seq: u64) -> bool {
        seq < self.snapshot || self.selected.binary_search(&seq).is_ok()
    }
}

/// Replays the views of one book.
#[derive(Debug)]
pub struct Replayer<'a> {
    store: &'a ViewStore,
    book: &'a Book,
    held: u64,
    snapshots: Vec<Snapshot>,
}

impl<'a> Replayer<'a> {
    /// A replayer over `store`, the views of `book` (brought up to date by the caller).
    pub fn new(store: &'a ViewStore, book: &'a Book) -> Result<Replayer<'a>, ReplayError> {
        let held = store.cursor()?.map_or(0, |c| c.applied);
        let mut snapshots = vec![Snapshot::EMPTY];
        snapshots.extend(store.snapshots()?.into_iter().filter(|s| s.size <= held));
        Ok(Replayer {
            store,
            book,
            held,
            snapshots,
        })
    }

    /// Records the views hold.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// The records of the moment: the snapshot it starts from, the records after it, and the
    /// true and known times to read the views at.
    fn select(&self, moment: Moment) -> Result<(Snapshot, Vec<u64>, Micros, Micros), ReplayError> {
        let latest = |fits: &dyn Fn(&Snapshot) -> bool| {
            // Invariant: the empty snapshot fits every moment.
            *self
                .snapshots
                .iter()
                .rev()
                .find(|s| fits(s))
                .unwrap_or(&Snapshot::EMPTY)
        };
        match moment {
            Moment::Records(n) => {
                if n > self.held {
                    return Err(ReplayError::Beyond {
                        held: self.held,
                        seq: n - 1,
                    });
                }
                let start = latest(&|s| s.size <= n);
                let at = match n.checked_sub(1) {
                    Some(last) => self.store.times(last, n)?[0].recorded_at,
                    None => Micros::MIN,
                };
                Ok((start, (start.size..n).collect(), at, at))
            }
            Moment::KnownAt(t) => {
                let start = latest(&|s| s.max_times.recorded_at <= t);
                let seqs = self.after(start, |times| times.recorded_at <= t)?;
                Ok((start, seqs, t, t))
            }
            Moment::TrueAt(t) => {
                let start = latest(&|s| s.max_times.occurred_at <= t);
                let seqs = self.after(start, |times| times.occurred_at <= t)?;
                Ok((start, seqs, t, Micros::MAX))
            }
        }
    }

    fn after(
        &self,
        start: Snapshot,
        keep: impl Fn(&Times) -> bool,
    ) -> Result<Vec<u64>, ReplayError> {
        let times = self.store.times(start.size, self.held)?;
        Ok((start.size..self.held)
            .zip(times)
            .filter(|(_, times)| keep(times))
            .map(|(seq, _)| seq)
            .collect())
    }

    /// What changed in the blacklist and the findings from `from` to `to`.
    pub fn diff(&self, from: Moment, to: Moment) -> Result<Diff, ReplayError> {
        Ok(self.diff_replays(from, to)?.0)
    }

    /// [`Replayer::diff`] in the answers' shapes (QUERIES.md 3.0) at the hospital's offset
    /// `zone`, each finding with its reviews: as of `to`, or of `from` for one removed.
    pub fn diff_answer(
        &self,
        from: Moment,
        to: Moment,
        zone: Zone,
    ) -> Result<DiffAnswer, ReplayError> {
        let (diff, mut before, mut after) = self.diff_replays(from, to)?;
        let findings = |list: &[Finding], a: &Answers<'_>| -> Vec<answers::Finding> {
            list.iter().map(|f| a.finding(f)).collect()
        };
        let blacklist = |list: &[BlacklistEntry], a: &Answers<'_>| -> Vec<answers::Blacklisted> {
            list.iter().map(|e| a.blacklisted(e)).collect()
        };
        let (removed, blacklist_removed) = self.settle(&mut before, |p| {
            let a = Answers {
                projection: p,
                zone,
            };
            (
                findings(&diff.findings_removed, &a),
                blacklist(&diff.blacklist_removed, &a),
            )
        })?;
        let (added, blacklist_added, changed) = self.settle(&mut after, |p| {
            let a = Answers {
                projection: p,
                zone,
            };
            let changed = diff
                .findings_changed
                .iter()
                .map(|(was, is)| Change {
                    before: a.finding(was),
                    after: a.finding(is),
                })
                .collect();
            (
                findings(&diff.findings_added, &a),
                blacklist(&diff.blacklist_added, &a),
                changed,
            )
        })?;
        Ok(DiffAnswer {
            from: MomentAnswer::of(from, zone),
            to: MomentAnswer::of(to, zone),
            blacklist_added,
            blacklist_removed,
            findings_added: added,
            findings_removed: removed,
            findings_changed: changed,
        })
    }

    fn diff_replays(
        &self,
        from: Moment,
        to: Moment,
    ) -> Result<(Diff, Replayed, Replayed), ReplayError> {
        let before = self.replay(from)?;
        let after = self.replay(to)?;
        let (b0, b1) = (before.blacklist(), after.blacklist());
        let by_id = |list: Vec<Finding>| -> std::collections::BTreeMap<String, Finding> {
            list.into_iter().map(|f| (f.id.clone(), f)).collect()
        };
        let (f0, f1) = (by_id(before.findings()), by_id(after.findings()));
        let diff = Diff {
            from,
            to,
            blacklist_added: b1.iter().filter(|e| !b0.contains(e)).cloned().collect(),
            blacklist_removed: b0.iter().filter(|e| !b1.contains(e)).cloned().collect(),
            findings_added: f1
                .values()
                .filter(|f| !f0.contains_key(&f.id))
                .cloned()
                .collect(),
            findings_removed: f0
                .values()
                .filter(|f| !f1.contains_key(&f.id))
                .cloned()
                .collect(),
            findings_changed: f0
                .values()
                .filter_map(|a| {
                    f1.get(&a.id)
                        .filter(|b| *b != a)
                        .map(|b| (a.clone(), b.clone()))
                })
                .collect(),
        };
        Ok((diff, before, after))
    }

    /// The views at `moment`.
    pub fn replay(&self, moment: Moment) -> Result<Replayed, ReplayError> {
        let (start, selected, true_at, known_at) = self.select(moment)?;
        let events = self.open(&selected)?;
        let mut base = Projection::partial();
        base.applied = start.size;
        if let Some(json) = self.store.row_at(POLICIES_KEY, start.size)? {
            base.restore_row(POLICIES_KEY, &json).map_err(corrupt)?;
        }
        // The supplier tables first: the answer lists them whole anyway, and a supplier's
        // sanctions are found through its row's count, so restoring them on demand would cost
        // a round for the rows and another for the sanctions they count.
        for table in ["suppliers", "sanctions"] {
            self.complete(&mut base, table, start.size)?;
        }
        let mut rounds = 0;
        let mut projection = loop {
            rounds += 1;
            let mut projection = base.clone();
            for (record, body, event) in &events {
                projection.apply(Applied {
                    seq: record.seq,
                    recorded_at: record.recorded_at,
                    body,
                    event,
                });
            }
            let missed = projection.take_missed();
            if missed.is_empty() {
                break projection;
            }
            for key in missed {
                match self.store.row_at(&key, start.size)? {
                    Some(json) => base.restore_row(&key, &json).map_err(corrupt)?,
                    None => base.restore_absent(&key).map_err(corrupt)?,
                }
            }
        };
        for table in ["findings", "signers"] {
            self.complete(&mut projection, table, start.size)?;
        }
        let true_blacklist = match moment {
            Moment::TrueAt(t) => Some(
                self.known_now(&["suppliers", "sanctions"])?
                    .blacklist(t, Micros::MAX),
            ),
            _ => None,
        };
        Ok(Replayed {
            moment,
            true_at,
            known_at,
            records: start.size + selected.len() as u64,
            snapshot: start.size,
            applied: selected.len() as u64,
            rounds,
            projection,
            selected,
            true_blacklist,
        })
    }

    /// A projection holding `tables` as the views hold them now (every record applied).
    fn known_now(&self, tables: &[&str]) -> Result<Projection, ReplayError> {
        let mut now = Projection::new();
        for table in tables {
            for (row, json) in self.store.current_table(table)? {
                now.restore_row(&format!("{table}/{row}"), &json)
                    .map_err(corrupt)?;
            }
        }
        Ok(now)
    }

    /// Restores every row of `table` as of `snapshot` that `projection` does not hold yet, so
    /// that the table can be listed whole.
    pub fn complete(
        &self,
        projection: &mut Projection,
        table: &str,
        snapshot: u64,
    ) -> Result<(), ReplayError> {
        for (row, json) in self.store.table_at(table, snapshot)? {
            let key = format!("{table}/{row}");
            if !projection.holds_row(&key) {
                projection.restore_row(&key, &json).map_err(corrupt)?;
            }
        }
        Ok(())
    }

    /// Computes `read` from the replayed views, first restoring (as of the snapshot, which
    /// the records after it did not change) every row it asks for that the replay did not
    /// read. `read` must get rows by key; a table it lists must be [completed](Self::complete).
    pub fn settle<T>(
        &self,
        replayed: &mut Replayed,
        read: impl Fn(&Projection) -> T,
    ) -> Result<T, ReplayError> {
        loop {
            let answer = read(&replayed.projection);
            let missed = replayed.projection.take_missed();
            if missed.is_empty() {
                return Ok(answer);
            }
            for key in missed {
                match self.store.row_at(&key, replayed.snapshot)? {
                    Some(json) => replayed
                        .projection
                        .restore_row(&key, &json)
                        .map_err(corrupt)?,
                    None => replayed.projection.restore_absent(&key).map_err(corrupt)?,
                }
            }
        }
    }

    /// The timeline of `subject` (`<kind>:<id>`) at the replayed moment.
    pub fn timeline(&self, replayed: &Replayed, subject: &str) -> Result<Vec<Step>, ReplayError> {
        let mut seqs: Vec<u64> = self
            .store
            .subject_records(subject)?
            .into_iter()
            .map(|s| s.0)
            .filter(|&s| replayed.includes(s))
            .collect();
        // A record naming the subject twice is listed once.
        seqs.dedup();
        self.steps(replayed, &seqs)
    }

    /// The last `count` records of the replayed moment, as timeline steps.
    pub fn tail(&self, replayed: &Replayed, count: usize) -> Result<Vec<Step>, ReplayError> {
        let mut seqs: Vec<u64> = replayed
            .selected
            .iter()
            .rev()
            .take(count)
            .copied()
            .collect();
        let mut before = replayed.snapshot;
        while seqs.len() < count && before > 0 {
            before -= 1;
            seqs.push(before);
        }
        seqs.reverse();
        self.steps(replayed, &seqs)
    }

    fn steps(&self, replayed: &Replayed, seqs: &[u64]) -> Result<Vec<Step>, ReplayError> {
        // "True at T" uses everything known now: a signer enrolled (or named) after T still
        // has a name.
        let known_now = match replayed.moment {
            Moment::TrueAt(_) => Some(self.known_now(&["signers"])?),
            _ => None,
        };
        Ok(self
            .open(seqs)?
            .into_iter()
            .map(|(record, body, _)| {
                let signer = KeyId::of(&body.signer);
                let key = signer.to_hex();
                let signer_name = replayed
                    .projection
                    .signers
                    .get(&key)
                    .or_else(|| known_now.as_ref()?.signers.get(&key))
                    .cloned();
                Step {
                    seq: record.seq,
                    event_type: body.event_type.to_string(),
                    occurred_at: probity_projector::time::of(body.occurred_at.datetime()),
                    recorded_at: record.recorded_at.unix_micros(),
                    signer_name,
                    signer,
                }
            })
            .collect())
    }

    /// Reads records `seqs` (ascending) from the book and decodes their events.
    fn open(&self, seqs: &[u64]) -> Result<Vec<(Record, EventBody, Event)>, ReplayError> {
        let mut records = Vec::with_capacity(seqs.len());
        // Contiguous runs are read on all cores.
        let mut i = 0;
        while i < seqs.len() {
            let mut j = i + 1;
            while j < seqs.len() && seqs[j] == seqs[j - 1] + 1 {
                j += 1;
            }
            let run = self
                .book
                .records_parallel(Seq(seqs[i]), Seq(seqs[j - 1] + 1))
                .map_err(|e| ReplayError::Book(e.to_string()))?;
            records.extend(run);
            i = j;
        }
        let decoded = probity_core::par::par_map(&records, |record| {
            let body = EventBody::parse(record.event.body_bytes())
                .map_err(|e| format!("record {}: {e}", record.seq))?;
            let event = probity_events::validate_body(&body)
                .map_err(|e| format!("record {}: {e}", record.seq))?;
            Ok::<_, String>((body, event))
        });
        records
            .into_iter()
            .zip(decoded)
            .map(|(record, decoded)| {
                let (body, event) = decoded.map_err(ReplayError::Book)?;
                Ok((record, body, event))
            })
            .collect()
    }
}

fn corrupt(e: probity_projector::RowError) -> ReplayError {
    ReplayError::Store(StoreError::Corrupt(e.to_string()))
}
