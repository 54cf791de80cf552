//! The projection's state: every table it keeps, declared once, and what it answers from
//! them (the policy in force, the blacklist, a case's timeline). Records change it through
//! [`crate::fold`] (the views) and [`crate::rules`] (findings and the rules' memory).

use probity_core::envelope::EventBody;
use probity_core::ids::Seq;
use probity_core::time::RecordedAt;
use probity_events::governance::Policy;
use probity_events::supplier::{ListingScope, SanctionKind};
use probity_events::Event;
use serde::{Deserialize, Serialize};

use crate::findings::Finding;
use crate::table::{AnyTable, RowError, Table};
use crate::time::{known, of, Micros};
use crate::views::{
    chunk_key, ineligibility, supplier_item_key, BlacklistEntry, CaseView, Decision, Ineligibility,
    RepMeeting, RepView, Review, SanctionView, Steps, SupplierRow, SupplierView, TimelineChunk,
    TimelineEntry, VisitView, TIMELINE_CHUNK,
};

/// One record as the projection sees it.
#[derive(Clone, Copy, Debug)]
pub struct Applied<'a> {
    /// Its sequence number.
    pub seq: Seq,
    /// When the ledger recorded it.
    pub recorded_at: RecordedAt,
    /// Its body.
    pub body: &'a EventBody,
    /// Its decoded payload.
    pub event: &'a Event,
}

/// One record as the fold and the rules see it: [`Applied`] with its two instants worked out
/// once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fact<'a> {
    /// Its sequence number.
    pub(crate) seq: Seq,
    /// When the ledger recorded it (when a finding it completes became detectable).
    pub(crate) recorded_at: RecordedAt,
    /// Its body.
    pub(crate) body: &'a EventBody,
    /// Its decoded payload.
    pub(crate) event: &'a Event,
    /// When it happened (true time).
    pub(crate) t: Micros,
    /// When it was recorded (known time).
    pub(crate) k: Micros,
}

impl<'a> Fact<'a> {
    pub(crate) fn of(r: Applied<'a>) -> Self {
        Fact {
            seq: r.seq,
            recorded_at: r.recorded_at,
            body: r.body,
            event: r.event,
            t: of(r.body.occurred_at.datetime()),
            k: known(r.recorded_at),
        }
    }

    /// The offset of the hospital's clock where it happened (for calendar days).
    pub(crate) fn offset(&self) -> time::UtcOffset {
        self.body.occurred_at.datetime().offset()
    }
}

/// Bookkeeping for the store: whether something changed since it was last written. Not part
/// of what the projection knows, so two projections of the same records are equal whatever
/// their bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Changed(pub(crate) bool);

impl PartialEq for Changed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Changed {}

/// Where a projection reads back the rows it let go of: the store they were committed to.
pub trait RowSource: Send + Sync + std::fmt::Debug {
    /// The committed JSON of the row `<table>/<row>`, `None` if there is none.
    fn row(&self, key: &str) -> Result<Option<Vec<u8>>, RowError>;
}

/// The store a projection may let go of committed rows to ([`Projection::read_from`]). Not
/// part of what the projection knows: two projections of the same records are equal whether
/// or not they have one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Source(pub(crate) Option<std::sync::Arc<dyn RowSource>>);

impl PartialEq for Source {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Source {}

/// Declares the projection's tables once: the struct's fields, [`TABLES`] and
/// [`Projection::tables_mut`] all come from this list, so a table cannot be stored but not
/// restored, or kept but not stored.
macro_rules! tables {
    ($($(#[$doc:meta])* $vis:vis $name:ident: $row:ty,)*) => {
        /// Everything the projection knows, as of the last record applied.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct Projection {
            /// Records applied.
            pub applied: u64,
            pub(crate) policies: Vec<(Micros, Seq, Policy)>,
            #[serde(skip)]
            pub(crate) policies_changed: Changed,
            #[serde(skip)]
            pub(crate) source: Source,
            $($(#[$doc])* $vis $name: Table<$row>,)*
        }

        /// The tables of a projection, by name (the first part of a row key).
        pub const TABLES: &[&str] = &[$(stringify!($name)),*];

        impl Projection {
            /// Every table with its name, in [`TABLES`] order.
            pub(crate) fn tables_mut(&mut self) -> [(&'static str, &mut dyn AnyTable); TABLES.len()] {
                [$((stringify!($name), &mut self.$name as &mut dyn AnyTable)),*]
            }

            /// Every table with its name, in [`TABLES`] order, to look at.
            pub(crate) fn tables(&self) -> [(&'static str, &dyn AnyTable); TABLES.len()] {
                [$((stringify!($name), &self.$name as &dyn AnyTable)),*]
            }
        }
    };
}

tables! {
    /// Suppliers by USCC (their sanctions apart, in `sanctions`).
    pub suppliers: SupplierRow,
    /// Each supplier's sanctions, in recording order: `<uscc>/<n>` (see [`SupplierRow`]).
    pub(crate) sanctions: SanctionView,
    /// Reps by filing number.
    pub reps: RepView,
    /// Visits by visit id.
    pub visits: VisitView,
    /// Rep meetings by staff member.
    pub meetings: Vec<RepMeeting>,
    /// Cases by id.
    pub cases: CaseView,
    /// Each case's timeline at a glance, by case id.
    pub(crate) steps: Steps,
    /// Each case's timeline, in chunks of [`TIMELINE_CHUNK`] entries: `<case>/<chunk>`.
    pub(crate) timelines: TimelineChunk,
    /// The award-to-ineligible rule's memory: each supplier's purchase decisions, one row
    /// each (`<uscc>/<n>`), so that a supplier's thousandth award does not rewrite the others.
    pub(crate) decisions: Decision,
    /// How many decisions each supplier has, by USCC.
    pub(crate) decision_counts: u32,
    /// The split-purchase rule's memory: non-open purchases by year, department, budget
    /// project and category: (case, amount in fen, record, true time).
    pub(crate) split_groups: Vec<(String, u64, Seq, Micros)>,
    /// The near-threshold rule's memory: each supplier's current cluster of awards just under
    /// the threshold, each within the window of the one before (true time, record).
    pub(crate) near_threshold: Vec<(Micros, Seq)>,
    /// Findings by id.
    pub findings: Finding,
    /// The discipline office's reviews, by finding id, in the order recorded.
    pub reviews: Vec<Review>,
    /// Who holds each key (by key id), from genesis and enrolments.
    pub signers: String,
}

/// The policy in force when no `policy.set` is.
static DEFAULT_POLICY: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(Policy::default);

impl Projection {
    /// An empty projection.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy in force at true time `t`.
    pub fn policy_at(&self, t: Micros) -> Policy {
        self.policy_in_force(t).clone()
    }

    /// The policy in force at true time `t`, borrowed: the rules ask for it on every award.
    pub(crate) fn policy_in_force(&self, t: Micros) -> &Policy {
        self.policy_set_at(t)
            .map_or(&*DEFAULT_POLICY, |(_, _, p)| p)
    }

    /// The `policy.set` in force at true time `t` (effective from, record, policy): the one
    /// effective latest by then, the later record of two effective at once; `None` when none
    /// is, and the defaults apply.
    pub(crate) fn policy_set_at(&self, t: Micros) -> Option<&(Micros, Seq, Policy)> {
        self.policies
            .iter()
            .filter(|(from, _, _)| *from <= t)
            .max_by_key(|(from, seq, _)| (*from, *seq))
    }

    /// Suppliers under a whole-firm ban at true time `true_at`, as known at `known_at`.
    pub fn blacklist(&self, true_at: Micros, known_at: Micros) -> Vec<BlacklistEntry> {
        let mut out = Vec::new();
        for (uscc, s) in self.suppliers.iter() {
            for sanction in self.sanctions_of(uscc, s).filter(|x| {
                matches!(
                    x.kind,
                    SanctionKind::Blacklist | SanctionKind::SupplierSuspension
                ) && x.active(true_at, known_at)
            }) {
                out.push(BlacklistEntry {
                    uscc: uscc.clone(),
                    name: s.name.clone(),
                    reason: sanction.kind.as_str().to_owned(),
                    from: sanction.from,
                    until: sanction.end_known_at(known_at),
                    seq: sanction.seq,
                });
            }
            for listing in s
                .listings
                .iter()
                .filter(|l| l.scope == ListingScope::Supplier && l.blocks(None, true_at, known_at))
            {
                out.push(BlacklistEntry {
                    uscc: uscc.clone(),
                    name: s.name.clone(),
                    reason: listing.list.clone(),
                    from: listing.from,
                    until: listing.until,
                    seq: listing.seq,
                });
            }
        }
        out
    }

    /// Appends `entry` to `case`'s timeline (creating the case when this is its first record).
    pub(crate) fn push_step(&mut self, case: &str, entry: TimelineEntry) {
        if self.cases.get(case).is_none() {
            self.cases.entry(case);
        }
        let steps = self.steps.entry(case);
        let at = steps.len;
        steps.len += 1;
        // Cloning the type only when it is new here: this runs for every record of a case.
        if !steps.first.contains_key(&entry.event_type) {
            steps.first.insert(entry.event_type.clone(), entry.seq);
        }
        if entry.event_type.starts_with("purchase.")
            && entry.event_type != "purchase.supervision_recorded"
            && steps.state.as_deref() != Some(entry.event_type.as_str())
        {
            steps.state = Some(entry.event_type.clone());
        }
        self.timelines
            .entry(&chunk_key(case, at / TIMELINE_CHUNK))
            .0
            .push(entry);
    }

    /// Marks the latest entry of `step` in `case`'s timeline not yet supervised as supervised
    /// by `seq`. Supervision follows its step closely, so this reads the last chunk or two.
    pub(crate) fn mark_supervised(&mut self, case: &str, step: &str, seq: Seq) {
        let len = self.steps.get(case).map_or(0, |s| s.len);
        for n in (0..len.div_ceil(TIMELINE_CHUNK)).rev() {
            let key = chunk_key(case, n);
            if self.source.0.is_some() && !self.timelines.holds(&key) {
                // Let go of earlier: read it back to mark it (it is written again).
                let chunk = self.read_back(&key);
                self.timelines.restore(key.clone(), chunk);
            }
            let found = self.timelines.get(&key).and_then(|chunk| {
                chunk
                    .0
                    .iter()
                    .rposition(|e| e.event_type == step && e.supervised_by.is_none())
            });
            if let Some(i) = found {
                if let Some(chunk) = self.timelines.get_mut(&key) {
                    chunk.0[i].supervised_by = Some(seq);
                }
                return;
            }
        }
    }

    /// Every record of `case`, in order, with who signed it and its supervision (the chunks
    /// let go of read back from the store).
    pub fn timeline(&self, case: &str) -> Vec<TimelineEntry> {
        let len = self.steps.get(case).map_or(0, |s| s.len);
        (0..len.div_ceil(TIMELINE_CHUNK))
            .flat_map(|n| {
                let key = chunk_key(case, n);
                match self.timelines.get(&key) {
                    Some(chunk) => chunk.0.clone(),
                    None => self.read_back(&key).0,
                }
            })
            .collect()
    }

    /// Reads and lets go of committed rows through `source` from now on: see
    /// [`let_go_of_full_chunks`](Self::let_go_of_full_chunks).
    pub fn read_from(&mut self, source: std::sync::Arc<dyn RowSource>) {
        self.source = Source(Some(source));
    }

    /// Lets go of the case timeline chunks that are full and committed, keeping each case's
    /// last chunk (where entries are added and supervision is marked): a case's older
    /// records are read back from the store when its timeline is asked for. What a
    /// projection holds then grows with the number of cases, not of records. Does nothing
    /// without a [`RowSource`]; call it after the changed rows were drained and committed.
    pub fn let_go_of_full_chunks(&mut self) {
        if self.source.0.is_none() {
            return;
        }
        // Bookkeeping, not a reader: a partial projection must not count this as listing
        // its timelines (nor asking for their cases' steps).
        let settled: Vec<String> = self
            .timelines
            .held_keys()
            .filter(|key| self.is_full_chunk(key))
            .cloned()
            .collect();
        for key in settled {
            self.timelines.forget_clean(&key);
        }
    }

    /// This projection with every timeline chunk it let go of read back: what it would hold had
    /// it kept them (to compare projections, and for tests).
    pub fn whole(&self) -> Projection {
        let mut whole = self.clone();
        // It holds everything: it needs no store (and must not keep one open).
        whole.source = Source(None);
        for (case, steps) in self.steps.iter() {
            for n in 0..steps.len.div_ceil(TIMELINE_CHUNK) {
                let key = chunk_key(case, n);
                if !whole.timelines.holds(&key) {
                    let chunk = self.read_back(&key);
                    whole.timelines.restore(key, chunk);
                }
            }
        }
        whole
    }

    /// The stored rows of table `timelines` this projection holds once opened: each case's
    /// last chunk (`timelines/<case>/<n>`), as its `steps` row (restored first) says. The
    /// others stay in the store, read back when a timeline is asked for.
    pub fn last_chunks(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|(case, steps)| {
                last_chunk(steps).map(|n| format!("timelines/{}", chunk_key(case, n)))
            })
            .collect()
    }

    /// Whether timeline chunk `row` (`<case>/<n>`) comes before its case's last chunk.
    fn is_full_chunk(&self, row: &str) -> bool {
        let Some((case, n)) = row.rsplit_once('/') else {
            return false;
        };
        let (Ok(n), Some(steps)) = (n.parse::<u64>(), self.steps.peek(case)) else {
            return false;
        };
        last_chunk(steps).is_some_and(|last| n < last)
    }

    /// A timeline chunk let go of, read back from the store (empty without one: a partial
    /// projection's missing chunk, as it always was).
    fn read_back(&self, row: &str) -> TimelineChunk {
        // Invariant: the store holds every chunk let go of, as it wrote it; a row that does
        // not read back is damage, not an empty timeline.
        self.try_read_back(row).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_read_back(&self, row: &str) -> Result<TimelineChunk, RowError> {
        let key = format!("timelines/{row}");
        let missing = |message: &str| RowError {
            key: key.clone(),
            message: message.to_owned(),
        };
        let Some(source) = &self.source.0 else {
            return Ok(TimelineChunk(Vec::new()));
        };
        let json = source
            .row(&key)?
            .ok_or_else(|| missing("not in the store"))?;
        serde_json::from_slice(&json).map_err(|e| missing(&e.to_string()))
    }

    /// The last purchase step recorded in `case` (supervision records aside).
    pub fn case_state(&self, case: &str) -> Option<&str> {
        self.steps.get(case)?.state.as_deref()
    }

    /// The latest sanction `id` of supplier `uscc`, to change.
    pub(crate) fn sanction_mut(&mut self, uscc: &str, id: &str) -> Option<&mut SanctionView> {
        let count = self.suppliers.get(uscc)?.sanctions;
        let key = (0..count)
            .rev()
            .map(|n| supplier_item_key(uscc, n))
            .find(|key| self.sanctions.get(key).is_some_and(|s| s.sanction == id))?;
        self.sanctions.get_mut(&key)
    }

    /// The sanctions of supplier `uscc` (whose row is `row`), in recording order.
    pub(crate) fn sanctions_of<'a>(
        &'a self,
        uscc: &'a str,
        row: &SupplierRow,
    ) -> impl Iterator<Item = &'a SanctionView> + 'a {
        (0..row.sanctions).filter_map(move |n| self.sanctions.get(&supplier_item_key(uscc, n)))
    }

    /// The purchase decisions of supplier `uscc`, in recording order.
    pub(crate) fn decisions_of<'a>(
        &'a self,
        uscc: &'a str,
    ) -> impl Iterator<Item = &'a Decision> + 'a {
        let count = self.decision_counts.get(uscc).copied().unwrap_or(0);
        (0..count).filter_map(move |n| self.decisions.get(&supplier_item_key(uscc, n)))
    }

    /// Records `decision` as supplier `uscc`'s latest.
    pub(crate) fn add_decision(&mut self, uscc: &str, decision: Decision) {
        let count = self.decision_counts.entry(uscc);
        let n = *count;
        *count += 1;
        self.decisions.insert(supplier_item_key(uscc, n), decision);
    }

    /// Records sanction `view` of supplier `uscc` as its latest.
    pub(crate) fn add_sanction(&mut self, uscc: &str, view: SanctionView) {
        let row = self.suppliers.entry(uscc);
        let n = row.sanctions;
        row.sanctions += 1;
        self.sanctions.insert(supplier_item_key(uscc, n), view);
    }

    /// The supplier `uscc` with its sanctions, if the ledger names it.
    pub fn supplier(&self, uscc: &str) -> Option<SupplierView> {
        let row = self.suppliers.get(uscc)?;
        Some(SupplierView::assemble(
            row,
            self.sanctions_of(uscc, row).cloned().collect(),
        ))
    }

    /// Why supplier `uscc` was not eligible for `product` at true time `t`, as known at `k`
    /// (a supplier the ledger does not name was not admitted), read from its rows in place.
    pub(crate) fn supplier_ineligible(
        &self,
        uscc: &str,
        product: Option<&str>,
        t: Micros,
        k: Micros,
    ) -> Option<Ineligibility> {
        let unknown = SupplierRow::default();
        let row = self.suppliers.get(uscc).unwrap_or(&unknown);
        ineligibility(
            self.sanctions_of(uscc, row),
            &row.listings,
            row.admitted,
            product,
            t,
            k,
        )
    }
}

/// Raises `finding` unless one with its id was raised before (a finding keeps the record that
/// first completed it). Takes the findings table alone so that a rule may hold other tables'
/// rows while it raises.
pub(crate) fn raise(findings: &mut Table<Finding>, finding: Finding) {
    if findings.get(&finding.id).is_none() {
        findings.insert(finding.id.clone(), finding);
    }
}

/// The number of a case's last timeline chunk (`None` before its first entry).
fn last_chunk(steps: &Steps) -> Option<u64> {
    steps.len.checked_sub(1).map(|last| last / TIMELINE_CHUNK)
}
