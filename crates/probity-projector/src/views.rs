//! The views: what the ledger says of each supplier, rep, visit and case, as the fold keeps
//! them, and the rows the rules remember between records. Their serde forms are the stored
//! rows (`<table>/<key>` → JSON): change them only with the views' format version.

use std::collections::{BTreeMap, BTreeSet};

use probity_core::ids::Seq;
use probity_core::keys::KeyId;
use probity_events::purchase::Method;
use probity_events::supplier::{ListingScope, SanctionKind};
use probity_events::types::Money;
use serde::{Deserialize, Serialize};

use crate::time::Micros;

/// A sanction, with its end derived from its duration and any lifting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SanctionView {
    /// The hospital's id.
    pub sanction: String,
    /// Kind.
    pub kind: SanctionKind,
    /// Products (product suspensions).
    pub products: Vec<String>,
    /// Effective from (true time).
    pub from: Micros,
    /// Ends by its duration (true time); `None` when indefinite; `from` itself for a one-off
    /// warning or interview recorded without a duration.
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
    pub fn end_known_at(&self, k: Micros) -> Option<Micros> {
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

    pub(crate) fn covers(&self, product: Option<&str>) -> bool {
        match self.kind {
            SanctionKind::ProductSuspension => {
                product.is_some_and(|p| self.products.iter().any(|x| x == p))
            }
            _ => true,
        }
    }
}

/// An external listing with its penalty period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    pub(crate) fn blocks(&self, product: Option<&str>, t: Micros, k: Micros) -> bool {
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

/// A supplier's row as the views store it: everything the ledger says of it but its
/// sanctions, which are rows of their own (`sanctions/<uscc>/<n>`, see
/// [`supplier_item_key`]): kept in the supplier's row, a supplier sanctioned again and again made
/// every batch rewrite (and the history keep) its whole record, megabytes after thousands of
/// sanctions. A sanction row is written when it is imposed and when it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupplierRow {
    /// Registered name.
    pub name: Option<String>,
    /// Admission: (true time, recorded time, record).
    pub admitted: Option<(Micros, Micros, Seq)>,
    /// Admission rejected: (true time, record).
    pub rejected: Option<(Micros, Seq)>,
    /// Sanctions imposed, in recording order: rows `0..sanctions` of the sanctions table.
    pub sanctions: u32,
    /// External listings.
    pub listings: Vec<ListingView>,
    /// Violations recorded: (true time, record).
    pub violations: Vec<(Micros, Seq)>,
    /// Integrity evaluations: (true time, record, score, grade).
    pub evaluations: Vec<(Micros, Seq, u8, String)>,
    /// Its reps' observed breaches of the visit rules (strikes): (true time, record).
    pub rep_strikes: Vec<(Micros, Seq)>,
}

/// The key of a supplier's `n`th sanction in the sanctions table, or its `n`th purchase
/// decision in the decisions table (USCCs have no `/`, so a supplier's rows sort together and
/// in order).
pub(crate) fn supplier_item_key(uscc: &str, n: u32) -> String {
    format!("{uscc}/{n:08}")
}

// A supplier's row and its sanction rows together ([`SupplierView::assemble`]): what
// reports and answers show.
/// What the ledger says of a supplier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupplierView {
    /// Registered name.
    pub name: Option<String>,
    /// Admission: (true time, recorded time, record).
    pub admitted: Option<(Micros, Micros, Seq)>,
    /// Admission rejected: (true time, record).
    pub rejected: Option<(Micros, Seq)>,
    /// Sanctions, in recording order.
    pub sanctions: Vec<SanctionView>,
    /// External listings.
    pub listings: Vec<ListingView>,
    /// Violations recorded: (true time, record).
    pub violations: Vec<(Micros, Seq)>,
    /// Integrity evaluations: (true time, record, score, grade).
    pub evaluations: Vec<(Micros, Seq, u8, String)>,
    /// Its reps' observed breaches of the visit rules (strikes): (true time, record).
    pub rep_strikes: Vec<(Micros, Seq)>,
}

/// Why a supplier may not be bought from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The supplier of `row` with `sanctions` (its sanction rows, in order).
    pub fn assemble(row: &SupplierRow, sanctions: Vec<SanctionView>) -> SupplierView {
        SupplierView {
            name: row.name.clone(),
            admitted: row.admitted,
            rejected: row.rejected,
            sanctions,
            listings: row.listings.clone(),
            violations: row.violations.clone(),
            evaluations: row.evaluations.clone(),
            rep_strikes: row.rep_strikes.clone(),
        }
    }

    /// The supplier as it stood at true time `t`, as known now (docs/RULES.md, "Time"): what
    /// happened after `t` is left out — an admission, rejection, violation, evaluation or
    /// strike dated later, a sanction or listing effective later, a lifting or a condition met
    /// later.
    pub fn as_of(&self, t: Micros) -> SupplierView {
        let by = |at: &Micros| *at <= t;
        SupplierView {
            name: self.name.clone(),
            admitted: self.admitted.filter(|(at, ..)| by(at)),
            rejected: self.rejected.filter(|(at, _)| by(at)),
            sanctions: self
                .sanctions
                .iter()
                .filter(|s| by(&s.from))
                .map(|s| SanctionView {
                    lifted: s.lifted.filter(|(at, _)| by(at)),
                    conditions: s
                        .conditions
                        .iter()
                        .map(|(c, met)| (c.clone(), met.filter(|(at, _)| by(at))))
                        .collect(),
                    ..s.clone()
                })
                .collect(),
            listings: self
                .listings
                .iter()
                .filter(|l| by(&l.from))
                .cloned()
                .collect(),
            violations: self
                .violations
                .iter()
                .filter(|(at, _)| by(at))
                .copied()
                .collect(),
            evaluations: self
                .evaluations
                .iter()
                .filter(|(at, ..)| by(at))
                .cloned()
                .collect(),
            rep_strikes: self
                .rep_strikes
                .iter()
                .filter(|(at, _)| by(at))
                .copied()
                .collect(),
        }
    }

    /// The products the supplier could not be bought from for at true time `t`, as known at
    /// `k` (product suspensions and product-scope listings in force), each with the record
    /// that blocks it; sorted.
    pub fn blocked_products(&self, t: Micros, k: Micros) -> Vec<(String, Seq)> {
        let mut blocked: Vec<(String, Seq)> = self
            .sanctions
            .iter()
            .filter(|s| s.kind == SanctionKind::ProductSuspension && s.active(t, k))
            .flat_map(|s| s.products.iter().map(|p| (p.clone(), s.seq)))
            .collect();
        for l in self
            .listings
            .iter()
            .filter(|l| l.scope == ListingScope::Products)
        {
            for p in &l.products {
                if l.blocks(Some(p), t, k) {
                    blocked.push((p.clone(), l.seq));
                }
            }
        }
        blocked.sort();
        blocked.dedup();
        blocked
    }

    /// Why the supplier was not eligible for `product` at true time `t`, as known at `k`.
    pub fn ineligible(&self, product: Option<&str>, t: Micros, k: Micros) -> Option<Ineligibility> {
        ineligibility(
            self.sanctions.iter(),
            &self.listings,
            self.admitted,
            product,
            t,
            k,
        )
    }
}

/// Why a supplier with these sanctions, listings and admission was not eligible for `product`
/// at true time `t`, as known at `k`: a sanction blocking purchases in force, else an external
/// listing in force, else no admission by then.
pub(crate) fn ineligibility<'a>(
    mut sanctions: impl Iterator<Item = &'a SanctionView>,
    listings: &[ListingView],
    admitted: Option<(Micros, Micros, Seq)>,
    product: Option<&str>,
    t: Micros,
    k: Micros,
) -> Option<Ineligibility> {
    if let Some(s) =
        sanctions.find(|s| s.kind.blocks_purchases() && s.covers(product) && s.active(t, k))
    {
        return Some(Ineligibility::Sanctioned {
            kind: s.kind,
            seq: s.seq,
        });
    }
    if let Some(l) = listings.iter().find(|l| l.blocks(product, t, k)) {
        return Some(Ineligibility::Listed {
            list: l.list.clone(),
            seq: l.seq,
        });
    }
    match admitted {
        Some((t_adm, k_adm, _)) if t_adm <= t && k_adm <= k => None,
        _ => Some(Ineligibility::NotAdmitted),
    }
}

/// A blacklist entry: a supplier under a whole-firm ban at the time asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// A purchase decision whose eligibility may be judged again when sanctions arrive late (the
/// memory of the award-to-ineligible rule).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Decision {
    pub(crate) case: String,
    pub(crate) step: String,
    pub(crate) product: Option<String>,
    pub(crate) occurred: Micros,
    pub(crate) seq: Seq,
}

/// The request that opened a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Request {
    /// The record.
    pub seq: Seq,
    /// Requesting department.
    pub department: String,
    /// Who asked.
    pub requester: String,
    /// What is wanted.
    pub item: String,
    /// The estimated total, in fen.
    pub estimated: u64,
    /// Category.
    pub category: String,
    /// Budget project.
    pub budget_project: String,
    /// Quantity.
    pub quantity: u32,
    /// Catalogue item and price, when bought from the catalogue.
    pub catalogue: Option<(String, Money)>,
}

/// How a case's procurement process was opened: (method, deadline, invited suppliers, record).
pub type Opened = (Method, Micros, Vec<String>, Seq);

/// Everything recorded about one purchase case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseView {
    /// The request that opened it.
    pub request: Option<Request>,
    /// Method chosen: (method, deadline, invited suppliers, record).
    pub method: Option<Opened>,
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
pub(crate) fn chunk_key(case: &str, n: u64) -> String {
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// The discipline office's review of a finding (`integrity.finding_reviewed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Review {
    /// `confirmed`, `explained` or `referred`.
    pub outcome: String,
    /// Why, and what follows.
    pub note: String,
    /// When it was reviewed (true time).
    pub occurred: Micros,
    /// Who signed the review, as enrolled (their key id when the holder is unknown).
    pub reviewer: String,
    /// The review's record.
    pub seq: Seq,
}

/// A meeting between a rep and hospital staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Check-ins with no booking (walk-ins): visit id given, room, true time, record.
    #[serde(default)]
    pub walk_ins: Vec<(String, String, Micros, Seq)>,
    /// Entries refused at the door: (true time, record).
    pub refusals: Vec<(Micros, Seq)>,
    /// Rule breaches observed: (true time, record).
    pub violations: Vec<(Micros, Seq)>,
}

impl RepView {
    /// The rep as they stood at true time `t`, as known now: walk-ins, refusals, breaches and
    /// a revocation dated later are left out (the visit log is [`VisitView::as_of`]).
    pub fn as_of(&self, t: Micros) -> RepView {
        RepView {
            revoked: self.revoked.filter(|(at, _)| *at <= t),
            walk_ins: self
                .walk_ins
                .iter()
                .filter(|(_, _, at, _)| *at <= t)
                .cloned()
                .collect(),
            refusals: self
                .refusals
                .iter()
                .filter(|(at, _)| *at <= t)
                .copied()
                .collect(),
            violations: self
                .violations
                .iter()
                .filter(|(at, _)| *at <= t)
                .copied()
                .collect(),
            ..self.clone()
        }
    }
}

/// A booked visit and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// When it was booked (true time).
    pub requested_at: Micros,
    /// When it was approved or rejected (true time).
    pub decided_at: Option<Micros>,
    /// When it was completed (true time).
    pub completed_at: Option<Micros>,
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
    /// The visit as it stood at true time `t`: `None` when it was booked later; an approval,
    /// rejection, check-in or completion dated later is left out.
    pub fn as_of(&self, t: Micros) -> Option<VisitView> {
        if self.requested_at > t {
            return None;
        }
        let decided = self.decided_at.is_some_and(|at| at <= t);
        let mut v = self.clone();
        if !decided {
            (v.decided_at, v.approved, v.approved_room, v.rejected) = (None, None, None, None);
        }
        v.checked_in = v.checked_in.filter(|(_, _, at, _)| *at <= t);
        if v.completed_at.is_none_or(|at| at > t) {
            (v.completed_at, v.completed) = (None, None);
        }
        Some(v)
    }

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
