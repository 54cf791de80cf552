//! Supplier admission, integrity and sanctions (供应商准入 / 诚信承诺 / 诚信评估 / 黑名单).
//! Every supplier event names the supplier in `subjects.supplier` too.

use probity_core::roles::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::payload::payload;
use crate::types::{
    check_duration, check_interval, check_non_empty, Check, Duration, FieldError, Interval, RefId,
    Text, Timestamp, Uscc,
};

/// What kind of firm a supplier is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupplierKind {
    /// Manufacturer.
    Manufacturer,
    /// Marketing-authorisation holder (上市许可持有人).
    MarketingAuthorisationHolder,
    /// Distributor.
    Distributor,
}

/// A licence the supplier holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Licence {
    /// Kind, e.g. `medical_device_operation`, `drug_distribution`, `business_licence`.
    pub kind: Text,
    /// Licence number.
    pub number: Text,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// A supplier applied for admission (准入申请) with its licences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierRegistered {
    /// The supplier.
    pub uscc: Uscc,
    /// Registered name.
    pub name: Text,
    /// Legal representative.
    pub legal_representative: Text,
    /// Manufacturer, MAH or distributor.
    pub kind: SupplierKind,
    /// Procurement categories it applies for (e.g. `A0232`).
    pub categories: Vec<Text>,
    /// Licences, each with its expiry.
    pub licences: Vec<Licence>,
}
impl Check for SupplierRegistered {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("categories", &self.categories)
    }
}
payload!(
    SupplierRegistered,
    "supplier.registered",
    1,
    [Role::EquipmentOffice, Role::Clerk],
    "A supplier applied for admission, with its licences."
);

/// The outcome of a credit-list check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditResult {
    /// Not on the list.
    Clear,
    /// On the list.
    Listed,
}

/// The hospital checked a credit list for the supplier (e.g. Credit China, the government
/// procurement serious-violation list).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditChecked {
    /// The supplier.
    pub uscc: Uscc,
    /// Which list, e.g. `credit-china`, `ccgp-serious-violation`.
    pub source: Text,
    /// Clear or listed.
    pub result: CreditResult,
    /// What the list says, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Text>,
}
impl Check for CreditChecked {}
payload!(
    CreditChecked,
    "supplier.credit_checked",
    1,
    [Role::EquipmentOffice, Role::DisciplineOffice],
    "A credit list was checked for the supplier."
);

/// The supplier signed the hospital's integrity commitment (诚信承诺书).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitmentSigned {
    /// The supplier.
    pub uscc: Uscc,
    /// Version of the commitment text.
    pub version: Text,
    /// When the commitment is valid.
    pub validity: Interval,
}
impl Check for CommitmentSigned {
    fn check(&self) -> Result<(), FieldError> {
        check_interval("validity", &self.validity)
    }
}
payload!(
    CommitmentSigned,
    "supplier.commitment_signed",
    1,
    [Role::EquipmentOffice, Role::DisciplineOffice],
    "The supplier signed the integrity commitment."
);

/// The supplier was admitted (准入) by a recorded decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierAdmitted {
    /// The supplier.
    pub uscc: Uscc,
    /// Reference of the decision.
    pub decision: RefId,
    /// The meeting that decided.
    pub meeting: Text,
    /// Categories admitted (all applied for when empty).
    #[serde(default)]
    pub categories: Vec<Text>,
}
impl Check for SupplierAdmitted {}
payload!(
    SupplierAdmitted,
    "supplier.admitted",
    1,
    [Role::EquipmentOffice],
    "The supplier was admitted by a recorded decision."
);

/// The supplier's admission was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionRejected {
    /// The supplier.
    pub uscc: Uscc,
    /// Reference of the decision.
    pub decision: RefId,
    /// The meeting that decided.
    pub meeting: Text,
    /// Why.
    pub reason: Text,
}
impl Check for AdmissionRejected {}
payload!(
    AdmissionRejected,
    "supplier.admission_rejected",
    1,
    [Role::EquipmentOffice],
    "The supplier's admission was rejected."
);

/// An integrity evaluation grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Grade {
    /// Excellent.
    A,
    /// Good.
    B,
    /// Fair.
    C,
    /// Poor.
    D,
}

/// The supplier's periodic integrity evaluation (诚信评估).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrityEvaluated {
    /// The supplier.
    pub uscc: Uscc,
    /// The period evaluated.
    pub period: Interval,
    /// Score, 0-100.
    #[schemars(range(max = 100))]
    pub score: u8,
    /// Grade.
    pub grade: Grade,
}
impl Check for IntegrityEvaluated {
    fn check(&self) -> Result<(), FieldError> {
        check_interval("period", &self.period)?;
        if self.score > 100 {
            return Err(FieldError::new("score", "must be 0-100"));
        }
        Ok(())
    }
}
payload!(
    IntegrityEvaluated,
    "supplier.integrity_evaluated",
    1,
    [Role::DisciplineOffice, Role::EquipmentOffice],
    "The supplier's periodic integrity evaluation."
);

/// Kinds of supplier misconduct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// Kickbacks (回扣).
    Kickback,
    /// Bribery, red envelopes.
    Bribery,
    /// False documents.
    FalseDocuments,
    /// Bid collusion (围标串标).
    BidCollusion,
    /// Its reps broke the visit rules.
    RepMisconduct,
    /// Buying prescription statistics (统方).
    PrescriptionStatistics,
    /// Anything else (say what in the description).
    Other,
}

/// A violation by the supplier was established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViolationRecorded {
    /// The supplier.
    pub uscc: Uscc,
    /// What kind.
    pub kind: ViolationKind,
    /// What happened.
    pub description: Text,
    /// References to the evidence (file numbers, hashes of documents).
    pub evidence: Vec<Text>,
}
impl Check for ViolationRecorded {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("evidence", &self.evidence)
    }
}
payload!(
    ViolationRecorded,
    "supplier.violation_recorded",
    1,
    [Role::DisciplineOffice],
    "A violation by the supplier was established, with evidence."
);

/// External lists that bear on eligibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExternalList {
    /// The national government-procurement serious-violation list (banned 1-3 years).
    GovernmentProcurementSeriousViolation,
    /// The medical-insurance pricing and recruitment credit rating (医药价格和招采信用评价).
    PricingCreditRating,
    /// Another list (name it in `list_name`).
    Other,
}

impl ExternalList {
    /// The name used in events (`pricing_credit_rating`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            ExternalList::GovernmentProcurementSeriousViolation => {
                "government_procurement_serious_violation"
            }
            ExternalList::PricingCreditRating => "pricing_credit_rating",
            ExternalList::Other => "other",
        }
    }
}

/// What an external listing covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListingScope {
    /// The whole firm.
    Supplier,
    /// Only the listed products.
    Products,
}

/// The hospital observed the supplier on an external list (schema 2: rating schemes carry a
/// version, since the pricing-credit scheme was revised in 2025).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalListingObserved {
    /// The supplier.
    pub uscc: Uscc,
    /// Which list.
    pub list: ExternalList,
    /// The list's own name when `list` is `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_name: Option<Text>,
    /// The grade or category the list gives, in the scheme's own terms.
    pub grade: Text,
    /// Version of the rating scheme the grade belongs to (e.g. `2020` four-grade, `2025`
    /// three-grade).
    pub scheme_version: Text,
    /// Whole firm or listed products.
    pub scope: ListingScope,
    /// Products concerned when `scope` is `products`.
    #[serde(default)]
    pub products: Vec<Text>,
    /// When the penalty starts.
    pub penalty_from: Timestamp,
    /// How long it lasts.
    pub penalty: Duration,
}
impl Check for ExternalListingObserved {
    fn check(&self) -> Result<(), FieldError> {
        if self.scope == ListingScope::Products {
            check_non_empty("products", &self.products)?;
        }
        if self.list == ExternalList::Other && self.list_name.is_none() {
            return Err(FieldError::new(
                "list_name",
                "is required when list is other",
            ));
        }
        check_duration("penalty", &self.penalty)
    }
}
payload!(
    ExternalListingObserved,
    "supplier.external_listing_observed",
    2,
    [Role::DisciplineOffice],
    "The supplier was observed on an external list (grade, scheme version, scope, penalty)."
);

/// Kinds of sanction, mildest first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SanctionKind {
    /// A written warning.
    Warning,
    /// An admonition talk with the company (约谈).
    Interview,
    /// Some products may not be bought.
    ProductSuspension,
    /// Nothing may be bought from the supplier.
    SupplierSuspension,
    /// Blacklisted (黑名单).
    Blacklist,
}

impl std::fmt::Display for SanctionKind {
    /// The name used in events (`product_suspension`, …).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SanctionKind {
    /// The name used in events (`product_suspension`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            SanctionKind::Warning => "warning",
            SanctionKind::Interview => "interview",
            SanctionKind::ProductSuspension => "product_suspension",
            SanctionKind::SupplierSuspension => "supplier_suspension",
            SanctionKind::Blacklist => "blacklist",
        }
    }

    /// Whether the sanction makes the supplier (or some products) ineligible.
    pub fn blocks_purchases(&self) -> bool {
        matches!(
            self,
            SanctionKind::ProductSuspension
                | SanctionKind::SupplierSuspension
                | SanctionKind::Blacklist
        )
    }
}

/// A sanction imposed on the supplier. It ends when its duration passes (derived, never
/// recorded), when it is lifted, or, if it has conditions, when all are met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionImposed {
    /// The hospital's id of this sanction.
    pub sanction: RefId,
    /// The supplier.
    pub uscc: Uscc,
    /// What kind.
    pub kind: SanctionKind,
    /// Products concerned (required for `product_suspension`, otherwise empty).
    #[serde(default)]
    pub products: Vec<Text>,
    /// When it takes effect (may be before it is recorded).
    pub effective_from: Timestamp,
    /// How long it lasts: required for a suspension or a blacklisting; a warning or an
    /// interview is one-off and may have none (schema 2; schema 1 always had one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// Conditions that end it early once all are met (e.g. rectification accepted).
    #[serde(default)]
    pub conditions: Vec<Text>,
    /// Reference of the decision.
    pub decision: RefId,
    /// Why.
    pub reason: Text,
}

impl SanctionKind {
    /// A warning or an interview happens once; it has no period unless one is given.
    pub fn is_one_off(self) -> bool {
        matches!(self, SanctionKind::Warning | SanctionKind::Interview)
    }
}

impl Check for SanctionImposed {
    fn check(&self) -> Result<(), FieldError> {
        match (self.kind, self.products.is_empty()) {
            (SanctionKind::ProductSuspension, true) => {
                return Err(FieldError::new(
                    "products",
                    "a product suspension must name its products",
                ))
            }
            (SanctionKind::ProductSuspension, false) | (_, true) => {}
            (_, false) => {
                return Err(FieldError::new(
                    "products",
                    "only a product suspension names products",
                ))
            }
        }
        match &self.duration {
            Some(duration) => check_duration("duration", duration),
            None if self.kind.is_one_off() => Ok(()),
            None => Err(FieldError::new(
                "duration",
                format!(
                    "a {} needs a duration (days, months, years or indefinite); only a warning or an interview may have none",
                    self.kind
                ),
            )),
        }
    }
}
payload!(
    SanctionImposed,
    "supplier.sanction_imposed",
    2,
    [Role::DisciplineOffice],
    "A sanction was imposed: kind, scope, start, duration, conditions."
);

/// One condition of a sanction was met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionConditionMet {
    /// The sanction.
    pub sanction: RefId,
    /// The supplier.
    pub uscc: Uscc,
    /// The condition, as written in the sanction.
    pub condition: Text,
    /// Evidence it was met.
    pub evidence: Text,
}
impl Check for SanctionConditionMet {}
payload!(
    SanctionConditionMet,
    "supplier.sanction_condition_met",
    1,
    [Role::DisciplineOffice],
    "A condition of a sanction was met."
);

/// Why a sanction was lifted early. Expiry is not a reason: it is derived from the duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiftReason {
    /// An appeal succeeded.
    Appeal,
    /// The supplier repaired its credit (信用修复).
    CreditRepair,
    /// The decision was found wrong.
    Error,
}

/// A sanction was lifted by a recorded decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionLifted {
    /// The sanction.
    pub sanction: RefId,
    /// The supplier.
    pub uscc: Uscc,
    /// Why.
    pub reason: LiftReason,
    /// Reference of the decision.
    pub decision: RefId,
}
impl Check for SanctionLifted {}
payload!(
    SanctionLifted,
    "supplier.sanction_lifted",
    1,
    [Role::DisciplineOffice],
    "A sanction was lifted (appeal, credit repair, error; never expiry)."
);
