//! The projection: records applied in ledger order build the supplier, rep and case views, and
//! the rules raise findings as soon as the ledger holds enough to detect them.
//!
//! Two clocks run through everything: `occurred_at` (when it was true) and `recorded_at` (when
//! it was known). A sanction recorded on 10 March but effective from 1 March makes an award of
//! 5 March a finding when the sanction is recorded, marked not knowable at the time; an award
//! made after 10 March is a knowable finding at once.

use std::collections::{BTreeMap, BTreeSet};

use probity_core::envelope::EventBody;
use probity_core::ids::Seq;
use probity_core::keys::KeyId;
use probity_core::time::RecordedAt;
use probity_events::governance::Policy;
use probity_events::purchase::{Method, QuoteResult};
use probity_events::supplier::{ListingScope, SanctionKind};
use probity_events::types::Money;
use probity_events::Event;
use serde::{Deserialize, Serialize};

use crate::findings::{Finding, Rule, Severity};
use crate::table::Table;
use crate::time::{at, calendar_days, known, of, Micros};

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

/// A sanction, with its end derived from its duration and any lifting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SanctionView {
    /// The hospital's id.
    pub sanction: String,
    /// Kind.
    pub kind: SanctionKind,
    /// Products (product suspensions).
    pub products: Vec<String>,
    /// Effective from (true time).
    pub from: Micros,
    /// Ends by its duration (true time); `None` when indefinite.
    pub until: Option<Micros>,
    /// Lifted from (true time), and when that was recorded.
    pub lifted: Option<(Micros, Micros)>,
    /// Conditions, and when each was met (true time, recorded time).
    pub conditions: BTreeMap<String, Option<(Micros, Micros)>>,
    /// The record that imposed it.
    pub seq: Seq,
    /// When it was recorded.
    pub known: Micros,
}

impl SanctionView {
    /// The end of the sanction as known at `k` (true time), `None` if open-ended.
    fn end_known_at(&self, k: Micros) -> Option<Micros> {
        let mut end = self.until;
        let earliest = |end: Option<Micros>, t: Micros| Some(end.map_or(t, |e| e.min(t)));
        if let Some((t, rec)) = self.lifted {
            if rec <= k {
                end = earliest(end, t);
            }
        }
        if !self.conditions.is_empty() {
            let met: Option<Vec<Micros>> = self
                .conditions
                .values()
                .map(|m| m.filter(|(_, rec)| *rec <= k).map(|(t, _)| t))
                .collect();
            if let Some(all) = met {
                if let Some(last) = all.into_iter().max() {
                    end = earliest(end, last);
                }
            }
        }
        end
    }

    /// Whether it is in force at true time `t` as known at `k`.
    pub fn active(&self, t: Micros, k: Micros) -> bool {
        self.known <= k && self.from <= t && self.end_known_at(k).is_none_or(|end| t < end)
    }

    fn covers(&self, product: Option<&str>) -> bool {
        match self.kind {
            SanctionKind::ProductSuspension => {
                product.is_some_and(|p| self.products.iter().any(|x| x == p))
            }
            _ => true,
        }
    }
}

/// An external listing with its penalty period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingView {
    /// Which list (snake_case).
    pub list: String,
    /// Grade in the scheme's terms.
    pub grade: String,
    /// Scheme version.
    pub scheme_version: String,
    /// Whole firm, or products.
    pub scope: ListingScope,
    /// Products in scope.
    pub products: Vec<String>,
    /// Penalty from (true time).
    pub from: Micros,
    /// Penalty until (true time), `None` when indefinite.
    pub until: Option<Micros>,
    /// The record.
    pub seq: Seq,
    /// When it was recorded.
    pub known: Micros,
}

impl ListingView {
    fn blocks(&self, product: Option<&str>, t: Micros, k: Micros) -> bool {
        self.known <= k
            && self.from <= t
            && self.until.is_none_or(|u| t < u)
            && match self.scope {
                ListingScope::Supplier => true,
                ListingScope::Products => {
                    product.is_some_and(|p| self.products.iter().any(|x| x == p))
                }
            }
    }
}

/// What the ledger says of a supplier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierView {
    /// Registered name.
    pub name: Option<String>,
    /// Admission: (true time, recorded time, record).
    pub admitted: Option<(Micros, Micros, Seq)>,
    /// Admission rejected at this record.
    pub rejected: Option<Seq>,
    /// Sanctions, in recording order.
    pub sanctions: Vec<SanctionView>,
    /// External listings.
    pub listings: Vec<ListingView>,
    /// Violations recorded (records).
    pub violations: Vec<Seq>,
    /// Integrity evaluations: (record, score, grade).
    pub evaluations: Vec<(Seq, u8, String)>,
    /// Its reps' observed breaches of the visit rules (strikes): (true time, record).
    pub rep_strikes: Vec<(Micros, Seq)>,
}

/// Why a supplier may not be bought from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ineligibility {
    /// Not admitted (as of the time asked).
    NotAdmitted,
    /// A sanction in force.
    Sanctioned {
        /// Its kind.
        kind: SanctionKind,
        /// The record that imposed it.
        seq: Seq,
    },
    /// An external listing in force.
    Listed {
        /// The list.
        list: String,
        /// The record.
        seq: Seq,
    },
}

impl std::fmt::Display for Ineligibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ineligibility::NotAdmitted => f.write_str("not admitted"),
            Ineligibility::Sanctioned { kind, seq } => {
                write!(f, "{kind} sanction in force (record {seq})")
            }
            Ineligibility::Listed { list, seq } => write!(f, "listed on {list} (record {seq})"),
        }
    }
}

impl SupplierView {
    /// Why the supplier was not eligible for `product` at true time `t`, as known at `k`.
    pub fn ineligible(&self, product: Option<&str>, t: Micros, k: Micros) -> Option<Ineligibility> {
        if let Some(s) = self
            .sanctions
            .iter()
            .filter(|s| s.kind.blocks_purchases() && s.covers(product))
            .find(|s| s.active(t, k))
        {
            return Some(Ineligibility::Sanctioned {
                kind: s.kind,
                seq: s.seq,
            });
        }
        if let Some(l) = self.listings.iter().find(|l| l.blocks(product, t, k)) {
            return Some(Ineligibility::Listed {
                list: l.list.clone(),
                seq: l.seq,
            });
        }
        match self.admitted {
            Some((t_adm, k_adm, _)) if t_adm <= t && k_adm <= k => None,
            _ => Some(Ineligibility::NotAdmitted),
        }
    }
}

/// A blacklist entry: a supplier under a whole-firm ban at the time asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistEntry {
    /// The supplier.
    pub uscc: String,
    /// Its name, if registered.
    pub name: Option<String>,
    /// `blacklist`, `supplier_suspension`, or the external list.
    pub reason: String,
    /// From (true time, µs).
    pub from: Micros,
    /// Until (true time, µs), as known; `None` when open-ended.
    pub until: Option<Micros>,
    /// The record that imposed it.
    pub seq: Seq,
}

/// A purchase decision whose eligibility may be judged again when sanctions arrive late.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Decision {
    case: String,
    step: String,
    product: Option<String>,
    occurred: Micros,
    known: Micros,
    seq: Seq,
}

/// The request that opened a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The record.
    pub seq: Seq,
    /// Requesting department.
    pub department: String,
    /// Who asked.
    pub requester: String,
    /// Category.
    pub category: String,
    /// Budget project.
    pub budget_project: String,
    /// Quantity.
    pub quantity: u32,
    /// Catalogue item and price, when bought from the catalogue.
    pub catalogue: Option<(String, Money)>,
}

/// Everything recorded about one purchase case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    /// The request that opened it.
    pub request: Option<Request>,
    /// Method chosen: (method, deadline, invited suppliers, record).
    pub method: Option<(Method, Micros, Vec<String>, Seq)>,
    /// Demand published on the website: (true time, record).
    pub published: Option<(Micros, Seq)>,
    /// Suppliers taking part, with the record that brought each in.
    pub bidders: BTreeMap<String, Seq>,
    /// Quotes: supplier → (amount in fen, submitted at, record).
    pub quotes: BTreeMap<String, (u64, Micros, Seq)>,
    /// Quotes judged valid: supplier → record.
    pub valid_quotes: BTreeMap<String, Seq>,
    /// Panel and selection-meeting members: staff → record.
    pub panel: BTreeMap<String, Seq>,
    /// Selection meeting: (chair, record).
    pub meeting: Option<(String, Seq)>,
    /// Staff who recused themselves.
    pub recusals: BTreeSet<String>,
    /// Annual plan approval: (approver, record).
    pub plan_approver: Option<(String, Seq)>,
    /// External (health and finance bureau) approvals.
    pub external_approvals: Vec<Seq>,
    /// Award: (supplier, amount in fen, record).
    pub award: Option<(String, u64, Seq)>,
    /// Contract: (signed by, record).
    pub contract: Option<(String, Seq)>,
    /// Delivery acceptance: (accepted by, record).
    pub acceptance: Option<(String, Seq)>,
    /// Supervised steps: event type → supervision record.
    pub supervised: BTreeMap<String, Seq>,
}

/// Timeline entries per stored chunk. A case's timeline grows with every record naming it;
/// kept in one row, every batch touching the case would write the whole timeline again (on a
/// long-lived case, most of what a rebuild writes). In chunks, a batch writes only the chunks
/// it appended to or changed.
pub(crate) const TIMELINE_CHUNK: u64 = 16;

/// What the rules and reports need to know of a case's timeline without reading it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Steps {
    /// Entries in the timeline.
    pub(crate) len: u64,
    /// The first record of each event type in the timeline.
    pub(crate) first: BTreeMap<String, Seq>,
    /// The last purchase step recorded (supervision records aside).
    pub(crate) state: Option<String>,
}

/// The key of chunk `n` of `case`'s timeline (case ids have no `/`, so a case's chunks sort
/// together and in order).
fn chunk_key(case: &str, n: u64) -> String {
    format!("{case}/{n:08}")
}

/// A stored chunk of a case's timeline. Stored as an array of arrays (the fields of
/// [`TimelineEntry`] in order) rather than objects: timelines are most of what a rebuild
/// writes, and the field names were half of each entry's bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimelineChunk(pub(crate) Vec<TimelineEntry>);

/// [`TimelineEntry`]'s fields in order, as stored in a [`TimelineChunk`].
type StoredEntry = (
    Seq,
    String,
    Micros,
    Micros,
    KeyId,
    Option<String>,
    Option<Seq>,
);

impl Serialize for TimelineChunk {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|e| {
            (
                e.seq,
                &e.event_type,
                e.occurred_at,
                e.recorded_at,
                e.signer,
                &e.signer_name,
                e.supervised_by,
            )
        }))
    }
}

impl<'de> Deserialize<'de> for TimelineChunk {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Vec::<StoredEntry>::deserialize(deserializer)?;
        let entries = stored.into_iter().map(|e| TimelineEntry {
            seq: e.0,
            event_type: e.1,
            occurred_at: e.2,
            recorded_at: e.3,
            signer: e.4,
            signer_name: e.5,
            supervised_by: e.6,
        });
        Ok(TimelineChunk(entries.collect()))
    }
}

/// One record in a case's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The record.
    pub seq: Seq,
    /// Its event type.
    pub event_type: String,
    /// When it happened (µs since the epoch).
    pub occurred_at: Micros,
    /// When the ledger recorded it (µs since the epoch).
    pub recorded_at: Micros,
    /// The key that signed it.
    pub signer: KeyId,
    /// Who holds that key, as enrolled.
    pub signer_name: Option<String>,
    /// The supervision record that covers this step, if any.
    pub supervised_by: Option<Seq>,
}

/// A meeting between a rep and hospital staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepMeeting {
    /// The rep's supplier.
    pub supplier: String,
    /// The rep.
    pub rep: String,
    /// When (true time).
    pub occurred: Micros,
    /// The visit-completed record.
    pub seq: Seq,
}

/// A rep's registration and visits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepView {
    /// Name.
    pub name: Option<String>,
    /// The supplier.
    pub supplier: Option<String>,
    /// Product lines.
    pub product_lines: Vec<String>,
    /// Registered: (true time, until, record).
    pub registered: Option<(Micros, Micros, Seq)>,
    /// Revoked at (true time), and the record.
    pub revoked: Option<(Micros, Seq)>,
    /// Visits booked, by visit id, in booking order.
    pub visits: Vec<String>,
    /// Entries refused at the door: (true time, record).
    pub refusals: Vec<(Micros, Seq)>,
    /// Rule breaches observed: (true time, record).
    pub violations: Vec<(Micros, Seq)>,
}

/// A booked visit and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitView {
    /// The rep's filing number.
    pub rep: String,
    /// The host.
    pub host: String,
    /// The host's department.
    pub department: String,
    /// The slot booked (true time, µs): from, until.
    pub slot: (Micros, Micros),
    /// The integrity pledge was signed.
    pub pledge_signed: bool,
    /// The booking.
    pub requested: Seq,
    /// Approved, with its reception room, at this record.
    pub approved: Option<(String, Seq)>,
    /// The room the approval designated (kept for the rules).
    pub approved_room: Option<String>,
    /// Rejected at this record.
    pub rejected: Option<Seq>,
    /// Checked in: room, identity matched, true time, record.
    pub checked_in: Option<(String, bool, Micros, Seq)>,
    /// Completed: attendees, record.
    pub completed: Option<(Vec<String>, Seq)>,
}

impl VisitView {
    /// Where the visit stands: `requested`, `approved`, `rejected`, `checked_in`, `completed`.
    pub fn state(&self) -> &'static str {
        match self {
            VisitView {
                completed: Some(_), ..
            } => "completed",
            VisitView {
                checked_in: Some(_),
                ..
            } => "checked_in",
            VisitView {
                rejected: Some(_), ..
            } => "rejected",
            VisitView {
                approved: Some(_), ..
            } => "approved",
            _ => "requested",
        }
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

/// Everything the projection knows, as of the last record applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    /// Records applied.
    pub applied: u64,
    pub(crate) policies: Vec<(Micros, Seq, Policy)>,
    #[serde(skip)]
    pub(crate) policies_changed: Changed,
    /// Suppliers by USCC.
    pub suppliers: Table<SupplierView>,
    /// Reps by filing number.
    pub reps: Table<RepView>,
    /// Visits by visit id.
    pub visits: Table<VisitView>,
    /// Rep meetings by staff member.
    pub meetings: Table<Vec<RepMeeting>>,
    /// Cases by id.
    pub cases: Table<CaseView>,
    /// Each case's timeline at a glance, by case id.
    pub(crate) steps: Table<Steps>,
    /// Each case's timeline, in chunks of [`TIMELINE_CHUNK`] entries: `<case>/<chunk>`.
    pub(crate) timelines: Table<TimelineChunk>,
    pub(crate) decisions: Table<Vec<Decision>>,
    pub(crate) split_groups: Table<Vec<(String, u64, Seq)>>,
    pub(crate) near_threshold: Table<Vec<(Micros, Seq)>>,
    /// Findings by id.
    pub findings: Table<Finding>,
    /// Who holds each key (by key id), from genesis and enrolments.
    pub signers: Table<String>,
}

fn yuan(fen: u64) -> String {
    format!("¥{}", fen / 100)
}

impl Projection {
    /// An empty projection.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy in force at true time `t`.
    pub fn policy_at(&self, t: Micros) -> Policy {
        self.policies
            .iter()
            .filter(|(from, _, _)| *from <= t)
            .max_by_key(|(from, seq, _)| (*from, *seq))
            .map(|(_, _, p)| p.clone())
            .unwrap_or_default()
    }

    /// Suppliers under a whole-firm ban at true time `true_at`, as known at `known_at`.
    pub fn blacklist(&self, true_at: Micros, known_at: Micros) -> Vec<BlacklistEntry> {
        let mut out = Vec::new();
        for (uscc, s) in self.suppliers.iter() {
            for sanction in s.sanctions.iter().filter(|x| {
                matches!(
                    x.kind,
                    SanctionKind::Blacklist | SanctionKind::SupplierSuspension
                ) && x.active(true_at, known_at)
            }) {
                out.push(BlacklistEntry {
                    uscc: uscc.clone(),
                    name: s.name.clone(),
                    reason: serde_json::to_value(sanction.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
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

    fn raise(&mut self, finding: Finding) {
        if self.findings.get(&finding.id).is_none() {
            self.findings.insert(finding.id.clone(), finding);
        }
    }

    /// Applies one record. Records must come in ledger order, each once.
    pub fn apply(&mut self, r: Applied<'_>) {
        self.applied = r.seq.0 + 1;
        let t = of(r.body.occurred_at.datetime());
        let k = known(r.recorded_at);
        let signer = KeyId::of(&r.body.signer);
        for case in &r.body.subjects.case {
            let signer_name = self.signers.get(&signer.to_hex()).cloned();
            self.push_step(
                case.as_str(),
                TimelineEntry {
                    seq: r.seq,
                    event_type: r.body.event_type.to_string(),
                    occurred_at: t,
                    recorded_at: k,
                    signer,
                    signer_name,
                    supervised_by: None,
                },
            );
        }
        match r.event {
            Event::PolicySet(p) => {
                self.policies_changed = Changed(true);
                self.policies
                    .push((at(&p.effective_from), r.seq, p.policy.clone()))
            }
            Event::SupplierRegistered(e) => {
                self.suppliers.entry(e.uscc.as_str()).name = Some(e.name.to_string());
            }
            Event::SupplierAdmitted(e) => {
                self.suppliers.entry(e.uscc.as_str()).admitted = Some((t, k, r.seq));
            }
            Event::AdmissionRejected(e) => {
                self.suppliers.entry(e.uscc.as_str()).rejected = Some(r.seq);
            }
            Event::ViolationRecorded(e) => {
                self.suppliers.entry(e.uscc.as_str()).violations.push(r.seq)
            }
            Event::IntegrityEvaluated(e) => self
                .suppliers
                .entry(e.uscc.as_str())
                .evaluations
                .push((r.seq, e.score, format!("{:?}", e.grade))),
            Event::ExternalListingObserved(e) => {
                let from = at(&e.penalty_from);
                let view = ListingView {
                    list: serde_json::to_value(e.list)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    grade: e.grade.to_string(),
                    scheme_version: e.scheme_version.to_string(),
                    scope: e.scope,
                    products: e.products.iter().map(ToString::to_string).collect(),
                    from,
                    until: e.penalty.end_from(e.penalty_from.datetime()).map(of),
                    seq: r.seq,
                    known: k,
                };
                self.suppliers.entry(e.uscc.as_str()).listings.push(view);
                self.recheck_decisions(e.uscc.as_str(), r);
            }
            Event::SanctionImposed(e) => {
                let view = SanctionView {
                    sanction: e.sanction.to_string(),
                    kind: e.kind,
                    products: e.products.iter().map(ToString::to_string).collect(),
                    from: at(&e.effective_from),
                    until: e.duration.end_from(e.effective_from.datetime()).map(of),
                    lifted: None,
                    conditions: e.conditions.iter().map(|c| (c.to_string(), None)).collect(),
                    seq: r.seq,
                    known: k,
                };
                self.suppliers.entry(e.uscc.as_str()).sanctions.push(view);
                self.recheck_decisions(e.uscc.as_str(), r);
            }
            Event::SanctionConditionMet(e) => {
                if let Some(s) = self.sanction_mut(e.uscc.as_str(), e.sanction.as_str()) {
                    if let Some(slot) = s.conditions.get_mut(e.condition.as_str()) {
                        *slot = Some((t, k));
                    }
                }
            }
            Event::SanctionLifted(e) => {
                if let Some(s) = self.sanction_mut(e.uscc.as_str(), e.sanction.as_str()) {
                    s.lifted = Some((t, k));
                }
            }
            Event::RepRegistered(e) => {
                let rep = self.reps.entry(e.filing_number.as_str());
                rep.name = Some(e.name.to_string());
                rep.supplier = Some(e.supplier.to_string());
                rep.product_lines = e.product_lines.iter().map(ToString::to_string).collect();
                rep.registered = Some((t, at(&e.valid_until), r.seq));
                rep.revoked = None;
            }
            Event::RepRegistrationRevoked(e) => {
                self.reps.entry(e.filing_number.as_str()).revoked = Some((t, r.seq));
            }
            Event::VisitRequested(e) => {
                self.visits.insert(
                    e.visit.to_string(),
                    VisitView {
                        rep: e.filing_number.to_string(),
                        host: e.host.to_string(),
                        department: e.department.to_string(),
                        slot: (at(&e.slot.from), at(&e.slot.to)),
                        pledge_signed: e.pledge_signed,
                        requested: r.seq,
                        approved: None,
                        approved_room: None,
                        rejected: None,
                        checked_in: None,
                        completed: None,
                    },
                );
                self.reps
                    .entry(e.filing_number.as_str())
                    .visits
                    .push(e.visit.to_string());
            }
            Event::VisitApproved(e) => {
                if let Some(v) = self.visits.get_mut(e.visit.as_str()) {
                    v.approved = Some((e.reception_room.to_string(), r.seq));
                    v.approved_room = Some(e.reception_room.to_string());
                }
            }
            Event::VisitRejected(e) => {
                if let Some(v) = self.visits.get_mut(e.visit.as_str()) {
                    v.rejected = Some(r.seq);
                }
            }
            Event::CheckedIn(e) => {
                if let Some(v) = self.visits.get_mut(e.visit.as_str()) {
                    v.checked_in = Some((e.room.to_string(), e.identity_matched, t, r.seq));
                }
                self.check_in(
                    r,
                    t,
                    e.visit.as_str(),
                    e.filing_number.as_str(),
                    e.room.as_str(),
                )
            }
            Event::EntryRefused(e) => {
                if let Some(rep) = &e.filing_number {
                    self.reps.entry(rep.as_str()).refusals.push((t, r.seq));
                }
            }
            Event::RepViolationObserved(e) => {
                let when = e.seen_at.as_ref().map_or(t, at);
                if let Some(rep) = &e.filing_number {
                    self.reps.entry(rep.as_str()).violations.push((when, r.seq));
                }
                self.suppliers
                    .entry(e.supplier.as_str())
                    .rep_strikes
                    .push((when, r.seq));
            }
            Event::VisitCompleted(e) => {
                if let Some(v) = self.visits.get_mut(e.visit.as_str()) {
                    v.completed =
                        Some((e.attendees.iter().map(ToString::to_string).collect(), r.seq));
                }
                if let Some(v) = self.visits.get(e.visit.as_str()).cloned() {
                    let supplier = self
                        .reps
                        .get(&v.rep)
                        .and_then(|rep| rep.supplier.clone())
                        .unwrap_or_default();
                    for staff in &e.attendees {
                        self.meetings.entry(staff.as_str()).push(RepMeeting {
                            supplier: supplier.clone(),
                            rep: v.rep.clone(),
                            occurred: t,
                            seq: r.seq,
                        });
                    }
                }
            }
            Event::PurchaseRequested(e) => {
                self.cases.entry(e.case.as_str()).request = Some(Request {
                    seq: r.seq,
                    department: e.department.to_string(),
                    requester: e.requester.to_string(),
                    category: e.category.to_string(),
                    budget_project: e.budget_project.to_string(),
                    quantity: e.quantity,
                    catalogue: e
                        .catalogue
                        .as_ref()
                        .map(|c| (c.code.to_string(), c.unit_price)),
                });
            }
            Event::SelectionMeetingHeld(e) => {
                let case = self.cases.entry(e.case.as_str());
                case.meeting = Some((e.chair.to_string(), r.seq));
                for m in &e.members {
                    case.panel.entry(m.to_string()).or_insert(r.seq);
                }
                case.recusals
                    .extend(e.recusals.iter().map(ToString::to_string));
            }
            Event::AnnualPlanApproved(e) => {
                for c in &e.cases {
                    self.cases.entry(c.as_str()).plan_approver =
                        Some((e.approved_by.to_string(), r.seq));
                }
            }
            Event::ExternalApprovalGranted(e) => self
                .cases
                .entry(e.case.as_str())
                .external_approvals
                .push(r.seq),
            Event::ProcessOpened(e) => {
                let case = self.cases.entry(e.case.as_str());
                case.method = Some((
                    e.method,
                    at(&e.deadline),
                    e.invited_suppliers
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    r.seq,
                ));
                for s in &e.invited_suppliers {
                    case.bidders.entry(s.to_string()).or_insert(r.seq);
                }
            }
            Event::DemandPublished(e) => {
                self.cases.entry(e.case.as_str()).published = Some((t, r.seq))
            }
            Event::SupplierSignedUp(e) => {
                self.cases
                    .entry(e.case.as_str())
                    .bidders
                    .entry(e.supplier.to_string())
                    .or_insert(r.seq);
            }
            Event::QuoteSubmitted(e) => {
                let case = self.cases.entry(e.case.as_str());
                case.quotes.insert(
                    e.supplier.to_string(),
                    (e.amount.fen(), at(&e.submitted_at), r.seq),
                );
                case.bidders.entry(e.supplier.to_string()).or_insert(r.seq);
            }
            Event::QuoteEvaluated(e) => {
                let case = self.cases.entry(e.case.as_str());
                if e.result == QuoteResult::Valid {
                    case.valid_quotes.insert(e.supplier.to_string(), r.seq);
                } else {
                    case.valid_quotes.remove(e.supplier.as_str());
                }
            }
            Event::EvaluationPanelFormed(e) => {
                let case = self.cases.entry(e.case.as_str());
                for m in &e.members {
                    case.panel.entry(m.staff.to_string()).or_insert(r.seq);
                }
            }
            Event::RecusalRecorded(e) => {
                self.cases
                    .entry(e.case.as_str())
                    .recusals
                    .insert(e.staff.to_string());
            }
            Event::AwardDecided(e) => self.award(
                r,
                t,
                k,
                e.case.as_str(),
                e.supplier.as_str(),
                e.amount.fen(),
                e.product.as_ref().map(|p| p.to_string()),
            ),
            Event::ContractSigned(e) => {
                let case_id = e.case.to_string();
                let case = self.cases.entry(&case_id);
                case.contract = Some((e.signed_by.to_string(), r.seq));
                if case.award.is_none() {
                    self.step_order(r, &case_id, "a contract was signed without an award");
                }
                self.check_supervised(r, &case_id, "purchase.award_decided");
                self.decide(r, t, k, &case_id, "contract", e.supplier.as_str(), None);
            }
            Event::DeliveryAccepted(e) => {
                let case_id = e.case.to_string();
                let case = self.cases.entry(&case_id);
                case.acceptance = Some((e.accepted_by.to_string(), r.seq));
                if let Some((signer, contract_seq)) = case.contract.clone() {
                    if signer == e.accepted_by.as_str() {
                        self.duties(
                            r,
                            &case_id,
                            e.accepted_by.as_str(),
                            "signed the contract and accepted the delivery",
                            vec![contract_seq, r.seq],
                        );
                    }
                }
                self.check_supervised(r, &case_id, "purchase.contract_signed");
            }
            Event::PaymentMade(e) => {
                let case_id = e.case.to_string();
                if e.approver == e.executor {
                    self.duties(
                        r,
                        &case_id,
                        e.approver.as_str(),
                        "approved and executed the payment",
                        vec![r.seq],
                    );
                }
                let case = self.cases.entry(&case_id);
                if case.contract.is_none() || case.acceptance.is_none() {
                    self.step_order(
                        r,
                        &case_id,
                        "a payment was made without a signed contract and an accepted delivery",
                    );
                }
                self.check_supervised(r, &case_id, "purchase.delivery_accepted");
                self.decide(r, t, k, &case_id, "payment", e.supplier.as_str(), None);
            }
            Event::SupervisionRecorded(e) => {
                self.cases
                    .entry(e.case.as_str())
                    .supervised
                    .insert(e.step.to_string(), r.seq);
                self.mark_supervised(e.case.as_str(), e.step.as_str(), r.seq);
            }
            Event::Genesis(g) => {
                for admin in &g.admins {
                    self.signers
                        .insert(admin.key.key_id().to_hex(), admin.holder.clone());
                }
            }
            Event::KeyEnrolled(e) => self
                .signers
                .insert(e.key.key_id().to_hex(), e.holder.clone()),
            Event::ConsumablesUsageReported(e) => self.consumables(r, t, e),
            _ => {}
        }
    }

    fn sanction_mut(&mut self, uscc: &str, id: &str) -> Option<&mut SanctionView> {
        self.suppliers
            .get_mut(uscc)?
            .sanctions
            .iter_mut()
            .rev()
            .find(|s| s.sanction == id)
    }

    /// Records a purchase decision and judges it against what is known now.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        r: Applied<'_>,
        t: Micros,
        k: Micros,
        case: &str,
        step: &'static str,
        supplier: &str,
        product: Option<String>,
    ) {
        let decision = Decision {
            case: case.to_owned(),
            step: step.to_owned(),
            product,
            occurred: t,
            known: k,
            seq: r.seq,
        };
        self.judge(supplier, &decision, r.recorded_at);
        self.decisions.entry(supplier).push(decision);
    }

    /// Raises award-to-ineligible if the supplier was ineligible at the decision (true time).
    fn judge(&mut self, supplier: &str, d: &Decision, detectable_at: RecordedAt) {
        let unknown = SupplierView::default();
        let view = self.suppliers.get(supplier).unwrap_or(&unknown);
        if let Some(finding) = ineligible_decision(view, supplier, d, detectable_at) {
            self.raise(finding);
        }
    }

    /// A sanction or listing just recorded may make earlier decisions findings. Judged from
    /// borrowed rows: a long-standing supplier has many decisions and a long record, and
    /// copying them for every decision made a late sanction cost their product.
    fn recheck_decisions(&mut self, supplier: &str, r: Applied<'_>) {
        let Some(decisions) = self.decisions.get(supplier) else {
            return;
        };
        let unknown = SupplierView::default();
        let view = self.suppliers.get(supplier).unwrap_or(&unknown);
        let findings: Vec<Finding> = decisions
            .iter()
            .filter_map(|d| ineligible_decision(view, supplier, d, r.recorded_at))
            .collect();
        for finding in findings {
            self.raise(finding);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn award(
        &mut self,
        r: Applied<'_>,
        t: Micros,
        k: Micros,
        case_id: &str,
        supplier: &str,
        amount: u64,
        product: Option<String>,
    ) {
        let policy = self.policy_at(t);
        let threshold = policy.open_tender_threshold.fen();
        self.cases.entry(case_id).award = Some((supplier.to_owned(), amount, r.seq));
        let case = self.cases.get(case_id).cloned().unwrap_or_default();
        self.decide(r, t, k, case_id, "award", supplier, product);

        let Some((method, deadline, invited, opened_seq)) = case.method.clone() else {
            self.step_order(
                r,
                case_id,
                "an award was decided before the procurement process was opened",
            );
            return;
        };
        self.check_supervised(r, case_id, "purchase.process_opened");
        if let Some(req) = &case.request {
            let big = amount >= policy.external_approval_threshold.fen();
            if big && case.external_approvals.is_empty() {
                self.step_order(r, case_id, &format!("an award of {} (at or above the approval threshold) without outside approval", yuan(amount)));
            }
            if let Some(chair) = case
                .meeting
                .as_ref()
                .map(|(c, _)| c.clone())
                .filter(|c| *c == req.requester)
            {
                self.duties(
                    r,
                    case_id,
                    &chair,
                    "requested the purchase and chaired the meeting that approved it",
                    vec![req.seq, r.seq],
                );
            }
            if let Some((approver, plan_seq)) = case
                .plan_approver
                .clone()
                .filter(|(a, _)| *a == req.requester)
            {
                self.duties(
                    r,
                    case_id,
                    &approver,
                    "requested the purchase and approved the plan",
                    vec![req.seq, plan_seq],
                );
            }
            if let Some((code, unit)) = &req.catalogue {
                if method != Method::CatalogueCallOff {
                    self.raise_case(
                        r,
                        Rule::CatalogueBypass,
                        case_id,
                        Severity::Medium,
                        vec![req.seq, opened_seq, r.seq],
                        format!("catalogue item {code} bought off-catalogue in case {case_id}"),
                    );
                } else if amount > unit.fen() * u64::from(req.quantity) {
                    self.raise_case(
                        r,
                        Rule::CatalogueBypass,
                        case_id,
                        Severity::Medium,
                        vec![req.seq, r.seq],
                        format!(
                            "case {case_id} paid {} for {} × catalogue price {}",
                            yuan(amount),
                            req.quantity,
                            yuan(unit.fen())
                        ),
                    );
                }
            }
            if !method.is_open() && method != Method::CatalogueCallOff {
                self.split(r, case_id, req, amount, threshold);
            }
        }
        if method == Method::Inquiry {
            let valid = case.valid_quotes.len() as u32;
            if (invited.len() as u32) < policy.min_invited_suppliers
                || valid < policy.min_valid_quotes
            {
                let mut evidence = vec![opened_seq, r.seq];
                evidence.extend(case.valid_quotes.values());
                self.raise_case(
                    r,
                    Rule::TooFewQuotes,
                    case_id,
                    Severity::Medium,
                    evidence,
                    format!(
                        "inquiry {case_id} had {} invited suppliers and {valid} valid quotes",
                        invited.len()
                    ),
                );
            }
        }
        if let Some((pub_t, pub_seq)) = case.published {
            let days = calendar_days(pub_t, deadline, r.body.occurred_at.datetime().offset());
            if days < i64::from(policy.min_publication_days) {
                self.raise_case(r, Rule::ShortPublication, case_id, Severity::Medium, vec![pub_seq, opened_seq],
                    format!("demand of case {case_id} published {days} days before its deadline (minimum {})", policy.min_publication_days));
            }
        }
        if let Some((_, submitted, quote_seq)) = case.quotes.get(supplier) {
            if *submitted > deadline {
                self.raise_case(
                    r,
                    Rule::LateQuoteWon,
                    case_id,
                    Severity::High,
                    vec![opened_seq, *quote_seq, r.seq],
                    format!("the winning quote of case {case_id} arrived after the deadline"),
                );
            }
        }
        self.near_threshold(r, t, supplier, amount, &policy);
        self.rep_conflict(r, t, case_id, &case, supplier, &policy);
    }

    fn raise_case(
        &mut self,
        r: Applied<'_>,
        rule: Rule,
        case: &str,
        severity: Severity,
        mut evidence: Vec<Seq>,
        summary: String,
    ) {
        evidence.sort_unstable();
        evidence.dedup();
        self.raise(Finding {
            id: format!("{rule}/{case}/{}", r.seq),
            rule,
            severity,
            evidence,
            detectable_at: r.recorded_at,
            knowable: true,
            subjects: vec![format!("case:{case}")],
            summary,
        });
    }

    fn step_order(&mut self, r: Applied<'_>, case: &str, what: &str) {
        let mut evidence: Vec<Seq> = self.timeline(case).iter().map(|e| e.seq).collect();
        evidence.push(r.seq);
        self.raise_case(
            r,
            Rule::StepOrder,
            case,
            Severity::Medium,
            evidence,
            format!("case {case}: {what}"),
        );
    }

    /// Appends `entry` to `case`'s timeline (creating the case when this is its first record).
    fn push_step(&mut self, case: &str, entry: TimelineEntry) {
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
    fn mark_supervised(&mut self, case: &str, step: &str, seq: Seq) {
        let len = self.steps.get(case).map_or(0, |s| s.len);
        for n in (0..len.div_ceil(TIMELINE_CHUNK)).rev() {
            let key = chunk_key(case, n);
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

    /// Every record of `case`, in order, with who signed it and its supervision.
    pub fn timeline(&self, case: &str) -> Vec<TimelineEntry> {
        let len = self.steps.get(case).map_or(0, |s| s.len);
        (0..len.div_ceil(TIMELINE_CHUNK))
            .flat_map(|n| {
                self.timelines
                    .get(&chunk_key(case, n))
                    .map(|chunk| chunk.0.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The last purchase step recorded in `case` (supervision records aside).
    pub fn case_state(&self, case: &str) -> Option<&str> {
        self.steps.get(case)?.state.as_deref()
    }

    /// A later step shows whether the earlier step it follows was supervised.
    fn check_supervised(&mut self, r: Applied<'_>, case: &str, step: &str) {
        let Some(c) = self.cases.get(case) else {
            return;
        };
        let step_seq = self
            .steps
            .get(case)
            .and_then(|s| s.first.get(step))
            .copied();
        if let Some(step_seq) = step_seq {
            if !c.supervised.contains_key(step) {
                self.raise_case(
                    r,
                    Rule::StepOrder,
                    case,
                    Severity::Medium,
                    vec![step_seq, r.seq],
                    format!("case {case}: step {step} has no supervision record"),
                );
            }
        }
    }

    fn duties(
        &mut self,
        r: Applied<'_>,
        case: &str,
        staff: &str,
        what: &str,
        mut evidence: Vec<Seq>,
    ) {
        evidence.sort_unstable();
        evidence.dedup();
        self.raise(Finding {
            id: format!("duties/{case}/{staff}/{}", r.seq),
            rule: Rule::Duties,
            severity: Severity::High,
            evidence,
            detectable_at: r.recorded_at,
            knowable: true,
            subjects: vec![format!("case:{case}"), format!("staff:{staff}")],
            summary: format!("{staff} {what} in case {case}"),
        });
    }

    fn split(&mut self, r: Applied<'_>, case_id: &str, req: &Request, amount: u64, threshold: u64) {
        // The fiscal year is the calendar year where the purchase happened (its own offset).
        let year = r.body.occurred_at.datetime().year();
        let key = format!(
            "{year}/{}/{}/{}",
            req.department, req.budget_project, req.category
        );
        let group = self.split_groups.entry(&key);
        group.push((case_id.to_owned(), amount, r.seq));
        let total: u64 = group.iter().map(|(_, a, _)| a).sum();
        if total <= threshold {
            return;
        }
        let cases: Vec<String> = group.iter().map(|(c, ..)| c.clone()).collect();
        let evidence: Vec<Seq> = group.iter().map(|(_, _, s)| *s).collect();
        let id = format!("split-purchase/{key}");
        let summary = format!(
            "{year}, {}, budget project {}, category {}: non-open purchases {} total {} (threshold {})",
            req.department,
            req.budget_project,
            req.category,
            cases.join(", "),
            yuan(total),
            yuan(threshold)
        );
        // One finding per group, raised when the total first passes the threshold and grown
        // with every later purchase of the group.
        let finding = self.findings.entry_or_insert_with(&id, || Finding {
            id: id.clone(),
            rule: Rule::SplitPurchase,
            severity: Severity::High,
            evidence: vec![],
            detectable_at: r.recorded_at,
            knowable: true,
            subjects: vec![],
            summary: String::new(),
        });
        finding.evidence = evidence;
        finding.subjects = cases.iter().map(|c| format!("case:{c}")).collect();
        finding.summary = summary;
    }

    fn near_threshold(
        &mut self,
        r: Applied<'_>,
        t: Micros,
        supplier: &str,
        amount: u64,
        policy: &Policy,
    ) {
        let threshold = policy.open_tender_threshold.fen();
        let low = threshold / 100 * u64::from(policy.near_threshold_percent);
        if amount < low || amount >= threshold {
            return;
        }
        let window = i64::from(policy.near_threshold_window_days);
        let offset = r.body.occurred_at.datetime().offset();
        let list = self.near_threshold.entry(supplier);
        list.retain(|(when, _)| calendar_days(*when, t, offset) <= window);
        list.push((t, r.seq));
        if list.len() >= 2 {
            let evidence: Vec<Seq> = list.iter().map(|(_, s)| *s).collect();
            self.raise(Finding {
                id: format!("near-threshold/{supplier}/{}", evidence[0]),
                rule: Rule::NearThreshold,
                severity: Severity::Medium,
                evidence: evidence.clone(),
                detectable_at: r.recorded_at,
                knowable: true,
                subjects: vec![format!("supplier:{supplier}")],
                summary: format!(
                    "{} awards to {supplier} at {}-100% of the threshold within {} days",
                    evidence.len(),
                    policy.near_threshold_percent,
                    policy.near_threshold_window_days
                ),
            });
        }
    }

    fn rep_conflict(
        &mut self,
        r: Applied<'_>,
        t: Micros,
        case_id: &str,
        case: &CaseView,
        winner: &str,
        policy: &Policy,
    ) {
        let window = i64::from(policy.rep_conflict_window_days);
        let offset = r.body.occurred_at.datetime().offset();
        for (staff, panel_seq) in &case.panel {
            if case.recusals.contains(staff) {
                continue;
            }
            for m in self.meetings.get(staff).cloned().unwrap_or_default() {
                let Some(bid_seq) = case.bidders.get(&m.supplier) else {
                    continue;
                };
                let gap = calendar_days(m.occurred, t, offset);
                if m.occurred > t || gap > window {
                    continue;
                }
                let won = m.supplier == winner;
                let mut evidence = vec![m.seq, *panel_seq, *bid_seq, r.seq];
                evidence.sort_unstable();
                evidence.dedup();
                self.raise(Finding {
                    id: format!("rep-conflict/{case_id}/{staff}/{}", m.supplier),
                    rule: Rule::RepConflict,
                    severity: if won { Severity::High } else { Severity::Medium },
                    evidence,
                    detectable_at: r.recorded_at,
                    knowable: true,
                    subjects: vec![format!("case:{case_id}"), format!("staff:{staff}"), format!("supplier:{}", m.supplier), format!("rep:{}", m.rep)],
                    summary: format!(
                        "{staff} met rep {} of {} {} days before sitting on the panel of case {case_id}, without recusal{}",
                        m.rep,
                        m.supplier,
                        gap,
                        if won { "; that supplier won" } else { "" }
                    ),
                });
            }
        }
    }

    fn check_in(&mut self, r: Applied<'_>, t: Micros, visit_id: &str, rep_id: &str, room: &str) {
        let rep = self.reps.get(rep_id).cloned().unwrap_or_default();
        let visit = self.visits.get(visit_id).cloned();
        let registered = matches!(rep.registered, Some((from, until, _)) if from <= t && t < until)
            && rep.revoked.is_none_or(|(rv, _)| t < rv);
        let mut problems = Vec::new();
        let mut evidence = vec![r.seq];
        if !registered {
            problems.push("the rep was not validly registered".to_owned());
        }
        match &visit {
            None => problems.push("there was no booking".to_owned()),
            Some(v) => {
                evidence.push(v.requested);
                match &v.approved_room {
                    None => problems.push("the booking was not approved".to_owned()),
                    Some(approved) if approved != room => problems.push(format!(
                        "the rep was received in {room}, not the designated {approved}"
                    )),
                    Some(_) => {}
                }
            }
        }
        if problems.is_empty() {
            return;
        }
        evidence.sort_unstable();
        self.raise(Finding {
            id: format!("rep-visit/{rep_id}/{}", r.seq),
            rule: Rule::RepVisit,
            severity: if registered {
                Severity::Medium
            } else {
                Severity::High
            },
            evidence,
            detectable_at: r.recorded_at,
            knowable: true,
            subjects: vec![format!("rep:{rep_id}")],
            summary: format!("visit {visit_id} of rep {rep_id}: {}", problems.join("; ")),
        });
    }

    fn consumables(
        &mut self,
        r: Applied<'_>,
        t: Micros,
        e: &probity_events::integrity::ConsumablesUsageReported,
    ) {
        let policy = self.policy_at(t);
        let tiers = policy.consumables_tiers;
        // Yuan of consumables per 100 yuan of revenue, in hundredths for exact comparison.
        let ratio_x100 =
            e.material_cost.fen().saturating_mul(10_000) / e.revenue_excluding_drugs.fen().max(1);
        let (tier, severity) = if ratio_x100 > u64::from(tiers.stop) * 100 {
            ("stop", Severity::High)
        } else if ratio_x100 > u64::from(tiers.restrict) * 100 {
            ("restrict", Severity::Medium)
        } else if ratio_x100 > u64::from(tiers.warning) * 100 {
            ("warning", Severity::Low)
        } else {
            return;
        };
        self.raise(Finding {
            id: format!("consumables-ratio/{}/{}", e.department, r.seq),
            rule: Rule::ConsumablesRatio,
            severity,
            evidence: vec![r.seq],
            detectable_at: r.recorded_at,
            knowable: true,
            subjects: vec![],
            summary: format!(
                "{}: {}.{:02} yuan of consumables per 100 yuan of revenue ({tier} tier)",
                e.department,
                ratio_x100 / 100,
                ratio_x100 % 100
            ),
        });
    }
}

/// The award-to-ineligible finding decision `d` makes if `supplier` (`view`) was ineligible
/// at it (true time, as known now), and whether that was knowable when it was recorded.
fn ineligible_decision(
    view: &SupplierView,
    supplier: &str,
    d: &Decision,
    detectable_at: RecordedAt,
) -> Option<Finding> {
    let why = view.ineligible(d.product.as_deref(), d.occurred, i64::MAX)?;
    // Whether the ledger already said so when the decision was recorded.
    let knowable = view
        .ineligible(d.product.as_deref(), d.occurred, d.known)
        .is_some();
    let (reason, mut evidence) = match &why {
        Ineligibility::NotAdmitted => ("was not admitted".to_owned(), vec![]),
        Ineligibility::Sanctioned { kind, seq } => (
            format!("was under a {kind:?} sanction").to_lowercase(),
            vec![*seq],
        ),
        Ineligibility::Listed { list, seq } => (format!("was listed on {list}"), vec![*seq]),
    };
    evidence.push(d.seq);
    evidence.sort_unstable();
    Some(Finding {
        id: format!("award-to-ineligible/{}/{}/{}", d.case, d.step, d.seq),
        rule: Rule::AwardToIneligible,
        severity: if knowable {
            Severity::High
        } else {
            Severity::Medium
        },
        evidence,
        detectable_at,
        knowable,
        subjects: vec![format!("case:{}", d.case), format!("supplier:{supplier}")],
        summary: format!(
            "{} of case {} to supplier {supplier}, which {reason} at the time{}",
            d.step,
            d.case,
            if knowable {
                ""
            } else {
                " (recorded only later: not knowable then)"
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_timeline_chunk_is_arrays_and_reads_back() {
        let entry = |seq: u64, supervised_by: Option<Seq>| TimelineEntry {
            seq: Seq(seq),
            event_type: "purchase.requested".into(),
            occurred_at: 1_772_323_200_000_000,
            recorded_at: 1_772_323_260_000_000,
            signer: KeyId([7; 16]),
            signer_name: (seq == 1).then(|| "王秀英".to_owned()),
            supervised_by,
        };
        let chunk = TimelineChunk(vec![entry(1, None), entry(2, Some(Seq(3)))]);
        let json = serde_json::to_string(&chunk).unwrap();
        assert_eq!(
            json,
            format!(
                "[[1,\"purchase.requested\",1772323200000000,1772323260000000,\"{k}\",\"王秀英\",null],\
                 [2,\"purchase.requested\",1772323200000000,1772323260000000,\"{k}\",null,3]]",
                k = "07".repeat(16)
            )
        );
        assert_eq!(serde_json::from_str::<TimelineChunk>(&json).unwrap(), chunk);
    }
}
