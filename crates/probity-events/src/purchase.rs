//! Purchasing (阳光采购): request, aggregation, selection, plan, approval, price inquiry or
//! tender, award, contract, acceptance, payment, all under supervision. Every purchase event
//! names its case in `subjects.case`.

use probity_core::roles::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::payload::payload;
use crate::types::{
    check_non_empty, check_positive, CaseId, Check, FieldError, Money, RefId, StaffId, Text,
    Timestamp, Uscc,
};

/// An item in the provincial winning-bid catalogue (中标目录).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntry {
    /// Catalogue code of the item.
    pub code: RefId,
    /// Catalogue (winning-bid) unit price.
    pub unit_price: Money,
}

/// A using department requested a purchase, with its justification (论证).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequested {
    /// The case this request opens.
    pub case: CaseId,
    /// Requesting department.
    pub department: Text,
    /// The staff member who requests.
    pub requester: StaffId,
    /// What is wanted.
    pub item: Text,
    /// Procurement category code (e.g. `A0232`).
    pub category: Text,
    /// How many.
    pub quantity: u32,
    /// Estimated total amount.
    pub estimated: Money,
    /// Budget project it is charged to.
    pub budget_project: RefId,
    /// Why it is needed.
    pub justification: Text,
    /// The catalogue entry, when the item is in the provincial winning-bid catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<CatalogueEntry>,
}
impl Check for PurchaseRequested {
    fn check(&self) -> Result<(), FieldError> {
        check_positive("quantity", u64::from(self.quantity))
    }
}
payload!(
    PurchaseRequested,
    "purchase.requested",
    1,
    [Role::Clerk, Role::DepartmentHead],
    "A department requested a purchase: item, category, quantity, estimate, budget project."
);

/// The equipment office aggregated departments' requests into one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestsAggregated {
    /// The case that carries the purchase from now on.
    pub case: CaseId,
    /// The request cases folded into it.
    pub requests: Vec<CaseId>,
}
impl Check for RequestsAggregated {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("requests", &self.requests)
    }
}
payload!(
    RequestsAggregated,
    "purchase.requests_aggregated",
    1,
    [Role::EquipmentOffice],
    "Requests were aggregated into one case."
);

/// What a selection meeting decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeetingDecision {
    /// Go ahead.
    Approved,
    /// Do not buy.
    Rejected,
    /// Decide later.
    Deferred,
}

/// The hospital's selection meeting (遴选) discussed the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionMeetingHeld {
    /// The case.
    pub case: CaseId,
    /// Who chaired (and so approved).
    pub chair: StaffId,
    /// Members who sat.
    pub members: Vec<StaffId>,
    /// Members who recused themselves.
    #[serde(default)]
    pub recusals: Vec<StaffId>,
    /// The decision.
    pub decision: MeetingDecision,
    /// Reference of the minutes.
    pub minutes: RefId,
}
impl Check for SelectionMeetingHeld {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("members", &self.members)
    }
}
payload!(
    SelectionMeetingHeld,
    "purchase.selection_meeting_held",
    1,
    [Role::SelectionSecretary],
    "The selection meeting decided on the case: chair, members, recusals, decision."
);

/// The annual procurement plan was approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnualPlanApproved {
    /// The plan.
    pub plan: RefId,
    /// Its year.
    #[schemars(range(min = 2000, max = 2200))]
    pub year: u16,
    /// Cases in the plan.
    pub cases: Vec<CaseId>,
    /// Who approved it.
    pub approved_by: StaffId,
}
impl Check for AnnualPlanApproved {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("cases", &self.cases)?;
        if !(2000..=2200).contains(&self.year) {
            return Err(FieldError::new("year", "must be between 2000 and 2200"));
        }
        Ok(())
    }
}
payload!(
    AnnualPlanApproved,
    "purchase.annual_plan_approved",
    1,
    [Role::EquipmentOffice],
    "The annual procurement plan was approved."
);

/// An outside authority (health bureau, finance bureau) approved the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalApprovalGranted {
    /// The case.
    pub case: CaseId,
    /// The authority, e.g. `municipal health bureau`.
    pub authority: Text,
    /// The authority's reference.
    pub reference: RefId,
}
impl Check for ExternalApprovalGranted {}
payload!(
    ExternalApprovalGranted,
    "purchase.external_approval_granted",
    1,
    [Role::EquipmentOffice],
    "An outside authority approved the case."
);

/// How a purchase is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Public tender by the hospital.
    OpenTender,
    /// Price inquiry (询价) among invited suppliers.
    Inquiry,
    /// Call-off from the provincial winning-bid catalogue at the catalogue price.
    CatalogueCallOff,
    /// Single source (with justification).
    SingleSource,
    /// Government central tender.
    CentralTender,
}

impl Method {
    /// The name used in events (`inquiry`, `catalogue_call_off`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::OpenTender => "open_tender",
            Method::Inquiry => "inquiry",
            Method::CatalogueCallOff => "catalogue_call_off",
            Method::SingleSource => "single_source",
            Method::CentralTender => "central_tender",
        }
    }

    /// Whether the method is an open competition (which the split-purchase rule exempts).
    pub fn is_open(&self) -> bool {
        matches!(self, Method::OpenTender | Method::CentralTender)
    }
}

/// The procurement process of a case was opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessOpened {
    /// The case.
    pub case: CaseId,
    /// The method.
    pub method: Method,
    /// Deadline for sign-ups and quotes.
    pub deadline: Timestamp,
    /// Suppliers invited (for an inquiry; may grow by sign-ups).
    #[serde(default)]
    pub invited_suppliers: Vec<Uscc>,
    /// Justification, required for single source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<Text>,
}
impl Check for ProcessOpened {
    fn check(&self) -> Result<(), FieldError> {
        if self.method == Method::SingleSource && self.justification.is_none() {
            return Err(FieldError::new(
                "justification",
                "is required for a single-source purchase",
            ));
        }
        Ok(())
    }
}
payload!(
    ProcessOpened,
    "purchase.process_opened",
    1,
    [Role::EquipmentOffice, Role::Clerk],
    "The procurement process was opened: method, deadline, invited suppliers."
);

/// An off-catalogue demand was published (on the hospital website).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemandPublished {
    /// The case.
    pub case: CaseId,
    /// Where (URL or channel).
    pub channel: Text,
    /// Published until.
    pub until: Timestamp,
}
impl Check for DemandPublished {}
payload!(
    DemandPublished,
    "purchase.demand_published",
    1,
    [Role::EquipmentOffice, Role::Clerk],
    "An off-catalogue demand was published: where, until when."
);

/// A supplier signed up for a published demand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierSignedUp {
    /// The case.
    pub case: CaseId,
    /// The supplier.
    pub supplier: Uscc,
}
impl Check for SupplierSignedUp {}
payload!(
    SupplierSignedUp,
    "purchase.supplier_signed_up",
    1,
    [Role::EquipmentOffice, Role::Clerk],
    "A supplier signed up for a published demand."
);

/// A supplier's quote was received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteSubmitted {
    /// The case.
    pub case: CaseId,
    /// The supplier.
    pub supplier: Uscc,
    /// Quoted total.
    pub amount: Money,
    /// When it was received.
    pub submitted_at: Timestamp,
}
impl Check for QuoteSubmitted {}
payload!(
    QuoteSubmitted,
    "purchase.quote_submitted",
    1,
    [Role::EquipmentOffice, Role::Clerk],
    "A supplier's quote was received: amount, time."
);

/// The evaluation of one quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuoteResult {
    /// Valid.
    Valid,
    /// Disqualified (say why).
    Disqualified,
}

/// A quote was evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteEvaluated {
    /// The case.
    pub case: CaseId,
    /// The supplier whose quote it is.
    pub supplier: Uscc,
    /// Valid or disqualified.
    pub result: QuoteResult,
    /// Why, required when disqualified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}
impl Check for QuoteEvaluated {
    fn check(&self) -> Result<(), FieldError> {
        if self.result == QuoteResult::Disqualified && self.reason.is_none() {
            return Err(FieldError::new(
                "reason",
                "is required when a quote is disqualified",
            ));
        }
        Ok(())
    }
}
payload!(
    QuoteEvaluated,
    "purchase.quote_evaluated",
    1,
    [Role::SelectionSecretary],
    "A quote was evaluated: valid or disqualified, with reason."
);

/// A panel member's declaration of interests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Declaration {
    /// No conflict of interest.
    NoConflict,
    /// A conflict was declared (and the member should recuse).
    ConflictDeclared,
}

/// A member of an evaluation panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelMember {
    /// The staff member.
    pub staff: StaffId,
    /// Their declaration.
    pub declaration: Declaration,
}

/// The evaluation panel of a case was formed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationPanelFormed {
    /// The case.
    pub case: CaseId,
    /// Members and declarations.
    pub members: Vec<PanelMember>,
}
impl Check for EvaluationPanelFormed {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("members", &self.members)
    }
}
payload!(
    EvaluationPanelFormed,
    "purchase.evaluation_panel_formed",
    1,
    [Role::SelectionSecretary],
    "The evaluation panel was formed: members and their declarations."
);

/// A staff member recused themselves from a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecusalRecorded {
    /// The case.
    pub case: CaseId,
    /// Who.
    pub staff: StaffId,
    /// Why.
    pub reason: Text,
}
impl Check for RecusalRecorded {}
payload!(
    RecusalRecorded,
    "purchase.recusal_recorded",
    1,
    [Role::SelectionSecretary, Role::DisciplineOffice],
    "A staff member recused themselves from the case."
);

/// The award of a case (or a catalogue call-off).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardDecided {
    /// The case.
    pub case: CaseId,
    /// The winning supplier.
    pub supplier: Uscc,
    /// Awarded total.
    pub amount: Money,
    /// The product awarded, when eligibility is per product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Text>,
}
impl Check for AwardDecided {}
payload!(
    AwardDecided,
    "purchase.award_decided",
    1,
    [Role::SelectionSecretary, Role::EquipmentOffice],
    "The award was decided: supplier, amount, product."
);

/// The contract of a case was signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractSigned {
    /// The case.
    pub case: CaseId,
    /// The contract.
    pub contract: RefId,
    /// The supplier.
    pub supplier: Uscc,
    /// Contract total.
    pub amount: Money,
    /// Who signed for the hospital.
    pub signed_by: StaffId,
}
impl Check for ContractSigned {}
payload!(
    ContractSigned,
    "purchase.contract_signed",
    1,
    [Role::EquipmentOffice],
    "The contract was signed: supplier, amount, signatory."
);

/// A contract was amended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractAmended {
    /// The case.
    pub case: CaseId,
    /// The contract.
    pub contract: RefId,
    /// New total, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Why.
    pub reason: Text,
}
impl Check for ContractAmended {}
payload!(
    ContractAmended,
    "purchase.contract_amended",
    1,
    [Role::EquipmentOffice],
    "A contract was amended."
);

/// The delivery was accepted (验收).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAccepted {
    /// The case.
    pub case: CaseId,
    /// Who accepted.
    pub accepted_by: StaffId,
    /// Remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Text>,
}
impl Check for DeliveryAccepted {}
payload!(
    DeliveryAccepted,
    "purchase.delivery_accepted",
    1,
    [Role::DepartmentHead, Role::EquipmentOffice],
    "The delivery was accepted."
);

/// A payment was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMade {
    /// The case.
    pub case: CaseId,
    /// The payee.
    pub supplier: Uscc,
    /// Amount paid.
    pub amount: Money,
    /// Who approved the payment.
    pub approver: StaffId,
    /// Who executed it.
    pub executor: StaffId,
}
impl Check for PaymentMade {}
payload!(
    PaymentMade,
    "purchase.payment_made",
    1,
    [Role::Finance],
    "A payment was made: payee, amount, approver, executor."
);

/// A case was cancelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseCancelled {
    /// The case.
    pub case: CaseId,
    /// Why.
    pub reason: Text,
}
impl Check for CaseCancelled {}
payload!(
    CaseCancelled,
    "purchase.case_cancelled",
    1,
    [Role::EquipmentOffice],
    "The case was cancelled."
);

/// A supervisor's opinion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Opinion {
    /// No objection.
    NoObjection,
    /// A concern was raised (see the note).
    Concern,
    /// The supervisor objects; the step should not stand.
    Objection,
}

/// The discipline-inspection office supervised a step of the case (全程监督).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupervisionRecorded {
    /// The case.
    pub case: CaseId,
    /// The step supervised, as its event type (e.g. `purchase.award_decided`).
    pub step: Text,
    /// The inspector.
    pub inspector: StaffId,
    /// The opinion.
    pub opinion: Opinion,
    /// Remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
}
impl Check for SupervisionRecorded {
    fn check(&self) -> Result<(), FieldError> {
        if !self.step.as_str().starts_with("purchase.") {
            return Err(FieldError::new(
                "step",
                "must name a purchase event type, e.g. purchase.award_decided",
            ));
        }
        if self.opinion != Opinion::NoObjection && self.note.is_none() {
            return Err(FieldError::new(
                "note",
                "is required with a concern or an objection",
            ));
        }
        Ok(())
    }
}
payload!(
    SupervisionRecorded,
    "purchase.supervision_recorded",
    1,
    [Role::DisciplineOffice],
    "A step of the case was supervised: step, inspector, opinion."
);

#[cfg(test)]
mod tests {
    use super::Method;

    /// `as_str` is the name serde writes.
    #[test]
    fn a_methods_name_is_its_serde_name() {
        for method in [
            Method::OpenTender,
            Method::Inquiry,
            Method::CatalogueCallOff,
            Method::SingleSource,
            Method::CentralTender,
        ] {
            assert_eq!(serde_json::to_value(method).unwrap(), method.as_str());
        }
    }
}
