//! The `supplier` answer, version 3.

use probity_core::ids::Seq;
use probity_events::supplier::{ListingScope, SanctionKind};
use probity_projector::time::Micros;
use probity_projector::{Ineligibility, SanctionView, SupplierReport};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Answers, Dated, Finding, Time};

/// The `supplier` answer: what the ledger says of a supplier as of a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Supplier {
    /// USCC.
    pub uscc: String,
    /// Registered name, if recorded.
    pub name: Option<String>,
    /// The moment asked about (true time); what happened later is left out.
    pub at: Time,
    /// Whether it may be bought from at `at` (whole firm), as known now.
    pub eligible: bool,
    /// Why not, when it may not.
    pub ineligible: Option<Ineligible>,
    /// Admission.
    pub admitted: Option<Admission>,
    /// Admission rejected.
    pub rejected: Option<Dated>,
    /// Sanctions, in recording order.
    pub sanctions: Vec<Sanction>,
    /// External listings.
    pub listings: Vec<Listing>,
    /// Violations recorded.
    pub violations: Vec<Dated>,
    /// Integrity evaluations.
    pub evaluations: Vec<Evaluation>,
    /// Its reps' observed breaches of the visit rules (strikes).
    pub rep_strikes: Vec<Dated>,
    /// Products it may not be bought from for at `at`, as known now.
    pub blocked_products: Vec<BlockedProduct>,
    /// Rep strikes within the policy's rolling window ending at `at`.
    pub strikes_in_window: usize,
    /// That window, in days.
    pub strike_window_days: u32,
    /// The customary escalation for that many strikes, if any.
    pub escalation: Option<String>,
    /// Findings that name the supplier and happened by `at`.
    pub findings: Vec<Finding>,
}

/// Why a supplier may not be bought from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Ineligible {
    /// Not admitted by then.
    NotAdmitted,
    /// A sanction in force.
    Sanctioned {
        /// Its kind.
        kind: SanctionKind,
        /// The record that imposed it.
        record: Seq,
    },
    /// An external listing in force.
    Listed {
        /// The list.
        list: String,
        /// The record.
        record: Seq,
    },
}

impl From<&Ineligibility> for Ineligible {
    fn from(i: &Ineligibility) -> Ineligible {
        match i {
            Ineligibility::NotAdmitted => Ineligible::NotAdmitted,
            Ineligibility::Sanctioned { kind, seq } => Ineligible::Sanctioned {
                kind: *kind,
                record: *seq,
            },
            Ineligibility::Listed { list, seq } => Ineligible::Listed {
                list: list.clone(),
                record: *seq,
            },
        }
    }
}

/// An admission: when it took effect, when the ledger learnt of it, the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Admission {
    /// Admitted from (true time).
    pub at: Time,
    /// Recorded (recorded time).
    pub known_at: Time,
    /// The record.
    pub record: Seq,
}

/// A sanction, with its end derived from its duration, lifting and conditions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Sanction {
    /// The hospital's id.
    pub sanction: String,
    /// `warning`, `interview`, `product_suspension`, `supplier_suspension` or `blacklist`.
    pub kind: SanctionKind,
    /// Products (product suspensions).
    pub products: Vec<String>,
    /// In force from (true time).
    pub from: Time,
    /// Ends by its duration (true time); `null` when indefinite.
    pub until: Option<Time>,
    /// Its end as known now: the earliest of its duration's end, its lifting and the last of
    /// its conditions met; `null` while open-ended.
    pub ends: Option<Time>,
    /// Lifted.
    pub lifted: Option<Met>,
    /// Conditions, each with when it was met.
    pub conditions: Vec<Condition>,
    /// The record that imposed it.
    pub record: Seq,
    /// When that was recorded.
    pub known_at: Time,
}

/// When something took effect (true time) and when the ledger learnt of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Met {
    /// True time.
    pub at: Time,
    /// Recorded time.
    pub known_at: Time,
}

/// A condition of a sanction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// The condition, as imposed.
    pub condition: String,
    /// When it was met; `null` while it is not.
    pub met: Option<Met>,
}

/// An external listing with its penalty period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Listing {
    /// Which list.
    pub list: String,
    /// Grade in the scheme's terms.
    pub grade: String,
    /// Scheme version.
    pub scheme_version: String,
    /// `supplier` (whole firm) or `products`.
    pub scope: ListingScope,
    /// Products in scope.
    pub products: Vec<String>,
    /// Penalty from (true time).
    pub from: Time,
    /// Penalty until (true time); `null` when indefinite.
    pub until: Option<Time>,
    /// The record.
    pub record: Seq,
    /// When it was recorded.
    pub known_at: Time,
}

/// An integrity evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evaluation {
    /// When (true time).
    pub at: Time,
    /// The record.
    pub record: Seq,
    /// Score.
    pub score: u8,
    /// Grade.
    pub grade: String,
}

/// A product that may not be bought from the supplier, and the record that blocks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockedProduct {
    /// The product.
    pub product: String,
    /// A product suspension or a product-scope listing.
    pub record: Seq,
}

impl Answers<'_> {
    fn met(&self, (at, known): (Micros, Micros)) -> Met {
        Met {
            at: self.time(at),
            known_at: self.time(known),
        }
    }

    fn sanction(&self, s: &SanctionView) -> Sanction {
        Sanction {
            sanction: s.sanction.clone(),
            kind: s.kind,
            products: s.products.clone(),
            from: self.time(s.from),
            until: s.until.map(|t| self.time(t)),
            ends: s.end_known_at(Micros::MAX).map(|t| self.time(t)),
            lifted: s.lifted.map(|m| self.met(m)),
            conditions: s
                .conditions
                .iter()
                .map(|(condition, met)| Condition {
                    condition: condition.clone(),
                    met: met.map(|m| self.met(m)),
                })
                .collect(),
            record: s.seq,
            known_at: self.time(s.known),
        }
    }

    /// The `supplier` answer.
    pub fn supplier(&self, r: &SupplierReport) -> Supplier {
        let s = &r.supplier;
        Supplier {
            uscc: r.uscc.clone(),
            name: s.name.clone(),
            at: self.time(r.at),
            eligible: r.ineligible.is_none(),
            ineligible: r.ineligible.as_ref().map(Ineligible::from),
            admitted: s.admitted.map(|(at, known, record)| Admission {
                at: self.time(at),
                known_at: self.time(known),
                record,
            }),
            rejected: s.rejected.map(|d| self.dated(d)),
            sanctions: s.sanctions.iter().map(|x| self.sanction(x)).collect(),
            listings: s
                .listings
                .iter()
                .map(|l| Listing {
                    list: l.list.clone(),
                    grade: l.grade.clone(),
                    scheme_version: l.scheme_version.clone(),
                    scope: l.scope,
                    products: l.products.clone(),
                    from: self.time(l.from),
                    until: l.until.map(|t| self.time(t)),
                    record: l.seq,
                    known_at: self.time(l.known),
                })
                .collect(),
            violations: s.violations.iter().map(|d| self.dated(*d)).collect(),
            evaluations: s
                .evaluations
                .iter()
                .map(|(at, record, score, grade)| Evaluation {
                    at: self.time(*at),
                    record: *record,
                    score: *score,
                    grade: grade.clone(),
                })
                .collect(),
            rep_strikes: s.rep_strikes.iter().map(|d| self.dated(*d)).collect(),
            blocked_products: r
                .blocked_products
                .iter()
                .map(|(product, record)| BlockedProduct {
                    product: product.clone(),
                    record: *record,
                })
                .collect(),
            strikes_in_window: r.strikes_in_window,
            strike_window_days: r.strike_window_days,
            escalation: r.escalation.clone(),
            findings: self.findings(&r.findings),
        }
    }
}
