//! The answers of the queries, version 3 (`schemas/QUERIES.md`): every member named, times as
//! RFC 3339 text at the hospital's offset, money as fen with a display string, subjects as
//! `{kind, id}`. Built from the views' reports, which keep their stored forms (tuples and
//! microseconds, the version 2 answers): the rows can change without changing this contract.

mod case;
mod rep;
mod supplier;

use probity_core::ids::Seq;
use probity_events::governance::{ConsumablesTiers, Policy as StoredPolicy};
use probity_projector::time::Micros;
use probity_projector::{
    BlacklistEntry, Finding as StoredFinding, PolicyReport, Projection, Review as StoredReview,
    Rule, Severity, StaffReport,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

pub use case::{Award, Case, CaseStep, Catalogue, Named, Opened, Quote, Request, Supervision};
pub use rep::{Registration, Rep, Visit, VisitApproval, VisitCheckIn, VisitCompletion, WalkIn};
pub use supplier::{
    Admission, BlockedProduct, Condition, Evaluation, Ineligible, Listing, Met, Sanction, Supplier,
};

/// The hospital's offset from UTC: every time of an answer is written at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(pub UtcOffset);

/// China Standard Time: every hospital in China keeps it, with no daylight saving.
impl Default for Zone {
    fn default() -> Zone {
        Zone(probity_projector::render::Text::default().zone())
    }
}

impl Zone {
    /// The offset written `±hh:mm` (e.g. `+08:00`), if it is one.
    pub fn parse(text: &str) -> Option<Zone> {
        probity_projector::render::Text::parse_zone(text).map(|t| Zone(t.zone()))
    }

    /// `t` (µs since the epoch) as RFC 3339 at the hospital's offset, to the second, with six
    /// digits of fraction only when the instant has one: `2027-01-01T00:00:00+08:00`,
    /// `2026-03-05T12:00:00.250000+08:00`. One text per instant.
    pub fn time(self, t: Micros) -> Time {
        let seconds =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let offset =
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
        let text = OffsetDateTime::from_unix_timestamp_nanos(i128::from(t) * 1000)
            .ok()
            .map(|d| d.to_offset(self.0))
            .and_then(|d| {
                let mut text = d.format(seconds).ok()?;
                if d.microsecond() != 0 {
                    text.push_str(&format!(".{:06}", d.microsecond()));
                }
                text.push_str(&d.format(offset).ok()?);
                Some(text)
            });
        // Invariant: the views' times come from RFC 3339 texts (years 0000-9999) plus
        // durations the events bound, so they format; µs stand in rather than nothing.
        Time(text.unwrap_or_else(|| format!("{t}µs")))
    }
}

/// A time: RFC 3339 at the hospital's offset (see [`Zone::time`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time(pub String);

impl JsonSchema for Time {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Time".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 at the hospital's offset, to the second; six digits of fraction only when the instant has one",
        })
    }
}

/// An amount of renminbi: exact fen, and the text people read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Amount {
    /// In fen (hundredths of a yuan).
    pub fen: u64,
    /// With separators, and in 万元 when a whole number of them: `¥500,000 (50万元)`,
    /// `¥705,000.50`.
    pub display: String,
}

impl Amount {
    /// `fen` with its display text.
    pub fn of(fen: u64) -> Amount {
        Amount {
            fen,
            display: probity_projector::render::yuan(fen),
        }
    }
}

/// What a finding or a replay names: a case, supplier, rep or staff member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Subject {
    /// `case`, `supplier`, `rep` or `staff`.
    pub kind: String,
    /// The case id, USCC, filing number or staff id.
    pub id: String,
}

impl Subject {
    /// From the views' `kind:id`.
    pub fn parse(text: &str) -> Subject {
        match text.parse::<probity_core::subject::Subject>() {
            Ok(s) => Subject {
                kind: s.kind.as_str().to_owned(),
                id: s.id.to_string(),
            },
            // Invariant: the rules name subjects they parsed from records; were one not, the
            // text is kept whole rather than lost.
            Err(_) => Subject {
                kind: String::new(),
                id: text.to_owned(),
            },
        }
    }
}

/// A record and when what it records happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Dated {
    /// When (true time).
    pub at: Time,
    /// The record.
    pub record: Seq,
}

/// A red flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable id: the rule and what it is about.
    pub id: String,
    /// The rule's code.
    pub rule: Rule,
    /// `low`, `medium` or `high`.
    pub severity: Severity,
    /// The records that prove it, ascending.
    pub evidence: Vec<Seq>,
    /// When the breach happened (true time).
    pub occurred_at: Time,
    /// When the ledger first held enough to detect it (recorded time).
    pub detectable_at: Time,
    /// Whether the breach was knowable from the ledger when it was committed.
    pub knowable: bool,
    /// The case, supplier, rep and staff concerned.
    pub subjects: Vec<Subject>,
    /// What happened, for people.
    pub summary: String,
    /// The discipline office's reviews of it, oldest first.
    pub reviews: Vec<Review>,
}

/// The discipline office's review of a finding (`integrity.finding_reviewed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Review {
    /// `confirmed`, `explained` or `referred`.
    pub outcome: String,
    /// Why, and what follows.
    pub note: String,
    /// When it was reviewed (true time).
    pub reviewed_at: Time,
    /// Who signed the review, as enrolled (their key id when the holder is unknown).
    pub reviewer: String,
    /// The review's record.
    pub record: Seq,
}

/// Builds answers from the views at the hospital's offset.
#[derive(Clone, Copy, Debug)]
pub struct Answers<'a> {
    /// The views.
    pub projection: &'a Projection,
    /// The hospital's offset.
    pub zone: Zone,
}

impl Answers<'_> {
    fn time(&self, t: Micros) -> Time {
        self.zone.time(t)
    }

    fn dated(&self, (at, record): (Micros, Seq)) -> Dated {
        Dated {
            at: self.time(at),
            record,
        }
    }

    /// A finding with its reviews.
    pub fn finding(&self, f: &StoredFinding) -> Finding {
        let reviews = self
            .projection
            .reviews
            .get(&f.id)
            .map(|list| list.iter().map(|r| self.review(r)).collect())
            .unwrap_or_default();
        Finding {
            id: f.id.clone(),
            rule: f.rule,
            severity: f.severity,
            evidence: f.evidence.clone(),
            occurred_at: self.time(f.occurred_at),
            detectable_at: self.time(f.detectable_at.unix_micros()),
            knowable: f.knowable,
            subjects: f.subjects.iter().map(|s| Subject::parse(s)).collect(),
            summary: f.summary.clone(),
            reviews,
        }
    }

    fn review(&self, r: &StoredReview) -> Review {
        Review {
            outcome: r.outcome.clone(),
            note: r.note.clone(),
            reviewed_at: self.time(r.occurred),
            reviewer: r.reviewer.clone(),
            record: r.seq,
        }
    }

    fn findings(&self, list: &[StoredFinding]) -> Vec<Finding> {
        list.iter().map(|f| self.finding(f)).collect()
    }

    /// The `policy` answer.
    pub fn policy(&self, r: &PolicyReport) -> PolicyAnswer {
        PolicyAnswer {
            at: self.time(r.at),
            source: r.source,
            effective_from: r.effective_from.map(|t| self.time(t)),
            policy: Policy::from(&r.policy),
        }
    }

    /// One line of the `blacklist` answer.
    pub fn blacklisted(&self, e: &BlacklistEntry) -> Blacklisted {
        let (ban, list) = match e.reason.as_str() {
            "blacklist" | "supplier_suspension" => (e.reason.clone(), None),
            list => ("listing".to_owned(), Some(list.to_owned())),
        };
        Blacklisted {
            uscc: e.uscc.clone(),
            name: e.name.clone(),
            ban,
            list,
            from: self.time(e.from),
            until: e.until.map(|t| self.time(t)),
            record: e.seq,
        }
    }

    /// The `staff` answer.
    pub fn staff(&self, r: &StaffReport) -> Staff {
        Staff {
            staff: r.staff.clone(),
            meetings: r
                .meetings
                .iter()
                .map(|m| Meeting {
                    supplier: m.supplier.clone(),
                    rep: m.rep.clone(),
                    at: self.time(m.occurred),
                    record: m.seq,
                })
                .collect(),
            roles: r
                .roles
                .iter()
                .map(|c| CaseRole {
                    case: c.case.clone(),
                    role: c.role.clone(),
                    record: c.seq,
                })
                .collect(),
            recusals: r.recusals.clone(),
            findings: self.findings(&r.findings),
        }
    }
}

/// The `policy` answer: the thresholds and windows in force at a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyAnswer {
    /// The moment asked about (true time).
    pub at: Time,
    /// The `policy.set` record in force then; `null` when none is and the defaults apply.
    pub source: Option<Seq>,
    /// From when that record's policy applies (true time).
    pub effective_from: Option<Time>,
    /// The thresholds and windows.
    pub policy: Policy,
}

/// Every threshold and window the rules use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Policy {
    /// Non-open purchases in one year, department, budget project and category must not add
    /// up to more; purchases above it need an open tender.
    pub open_tender_threshold: Amount,
    /// Purchases at or above it need an outside authority's approval.
    pub external_approval_threshold: Amount,
    /// Awards at or above this percentage of the threshold (and below it) are near-threshold.
    pub near_threshold_percent: u8,
    /// Window for counting near-threshold awards to one supplier, in days.
    pub near_threshold_window_days: u32,
    /// Window before a panel in which a rep meeting is a conflict, in days.
    pub rep_conflict_window_days: u32,
    /// Minimum suppliers invited to an inquiry.
    pub min_invited_suppliers: u32,
    /// Minimum valid quotes in an inquiry.
    pub min_valid_quotes: u32,
    /// Minimum days an off-catalogue demand is published before the deadline.
    pub min_publication_days: u32,
    /// Window for counting a supplier's rep strikes, in days.
    pub rep_strike_window_days: u32,
    /// Consumables-ratio tiers, in percent.
    pub consumables_tiers: ConsumablesTiers,
}

impl From<&StoredPolicy> for Policy {
    fn from(p: &StoredPolicy) -> Policy {
        Policy {
            open_tender_threshold: Amount::of(p.open_tender_threshold.fen()),
            external_approval_threshold: Amount::of(p.external_approval_threshold.fen()),
            near_threshold_percent: p.near_threshold_percent,
            near_threshold_window_days: p.near_threshold_window_days,
            rep_conflict_window_days: p.rep_conflict_window_days,
            min_invited_suppliers: p.min_invited_suppliers,
            min_valid_quotes: p.min_valid_quotes,
            min_publication_days: p.min_publication_days,
            rep_strike_window_days: p.rep_strike_window_days,
            consumables_tiers: p.consumables_tiers,
        }
    }
}

/// A supplier under a whole-firm ban.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Blacklisted {
    /// The supplier's USCC.
    pub uscc: String,
    /// Its name, if registered.
    pub name: Option<String>,
    /// `blacklist` (黑名单), `supplier_suspension` (a sanction of that kind) or `listing` (an
    /// external list's whole-firm penalty).
    pub ban: String,
    /// The external list, for a `listing`.
    pub list: Option<String>,
    /// In force from (true time).
    pub from: Time,
    /// Until (true time), as known then; `null` when open-ended.
    pub until: Option<Time>,
    /// The record that imposed it (the sanction or the listing).
    pub record: Seq,
}

/// The `staff` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Staff {
    /// Staff id.
    pub staff: String,
    /// Meetings with reps (completed visits they attended).
    pub meetings: Vec<Meeting>,
    /// Roles held in cases.
    pub roles: Vec<CaseRole>,
    /// Cases they recused themselves from.
    pub recusals: Vec<String>,
    /// Findings that name them.
    pub findings: Vec<Finding>,
}

/// A meeting between a rep and hospital staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Meeting {
    /// The rep's supplier.
    pub supplier: String,
    /// The rep's filing number.
    pub rep: String,
    /// When (true time).
    pub at: Time,
    /// The visit-completed record.
    pub record: Seq,
}

/// A role someone held in one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaseRole {
    /// Case id.
    pub case: String,
    /// `requester`, `panel`, `chair`, `plan_approver`, `contract_signer` or `acceptor`.
    pub role: String,
    /// The record.
    pub record: Seq,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_at_the_hospital_offset_to_the_second() {
        let zone = Zone(UtcOffset::from_hms(8, 0, 0).unwrap());
        // 2026-12-31T16:00:00Z, the end of a rep's registration written +08:00.
        assert_eq!(
            zone.time(1_798_732_800_000_000).0,
            "2027-01-01T00:00:00+08:00"
        );
        assert_eq!(
            zone.time(1_798_732_800_250_000).0,
            "2027-01-01T00:00:00.250000+08:00"
        );
        assert_eq!(Zone(UtcOffset::UTC).time(0).0, "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn amounts_carry_fen_and_text() {
        let a = Amount::of(50_000_000);
        assert_eq!(a.fen, 50_000_000);
        assert_eq!(a.display, "¥500,000 (50万元)");
        assert_eq!(Amount::of(70_500_050).display, "¥705,000.50");
    }

    #[test]
    fn subjects_are_kind_and_id() {
        assert_eq!(
            Subject::parse("case:CG-2026-017"),
            Subject {
                kind: "case".into(),
                id: "CG-2026-017".into()
            }
        );
    }
}
