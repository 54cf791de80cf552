//! Integrity records and monitoring: returned gifts, key-post assignment and rotation, and the
//! consumables ratio (百元耗材比).

use probity_core::roles::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::payload::payload;
use crate::types::{
    check_interval, Check, FieldError, FilingNumber, Interval, Money, StaffId, Text, Uscc,
};

/// The form a gift took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GiftForm {
    /// A red envelope (红包) of cash.
    RedEnvelope,
    /// A shopping or prepaid card.
    PrepaidCard,
    /// Goods.
    Goods,
    /// Anything else.
    Other,
}

/// A staff member returned a gift or red envelope: a positive record for the staff member, a
/// negative one for the giver's supplier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftReturned {
    /// The staff member who returned it.
    pub staff: StaffId,
    /// Who gave it (a patient, a relative, a rep…).
    pub giver: Text,
    /// The rep, if a registered rep gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rep: Option<FilingNumber>,
    /// The supplier behind it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<Uscc>,
    /// Its value.
    pub amount: Money,
    /// Its form.
    pub form: GiftForm,
}
impl Check for GiftReturned {}
payload!(
    GiftReturned,
    "integrity.gift_returned",
    1,
    [Role::DisciplineOffice],
    "A staff member returned a gift or red envelope."
);

/// What the discipline office concluded about a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// A breach: the office acts on it (interview, sanction, …).
    Confirmed,
    /// Explained: the records show a reason that makes it no breach (the note says which).
    Explained,
    /// Handed to the discipline inspection commission (纪委) or another authority.
    Referred,
}

impl ReviewOutcome {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewOutcome::Confirmed => "confirmed",
            ReviewOutcome::Explained => "explained",
            ReviewOutcome::Referred => "referred",
        }
    }
}

/// The discipline office reviewed a red-flag finding: the review is on the ledger too, so that
/// what was done about each finding, by whom and when, can be checked like everything else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingReviewed {
    /// The finding's id, as the findings query gives it (e.g.
    /// `split-purchase/2026/cardiology/BP-7/A0232`).
    pub finding: Text,
    /// What the office concluded.
    pub outcome: ReviewOutcome,
    /// Why, and what follows.
    pub note: Text,
}
impl Check for FindingReviewed {}
payload!(
    FindingReviewed,
    "integrity.finding_reviewed",
    1,
    [Role::DisciplineOffice],
    "The discipline office reviewed a red-flag finding: confirmed, explained or referred."
);

/// A staff member was assigned to a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffAssignedToPost {
    /// The staff member.
    pub staff: StaffId,
    /// The post.
    pub post: Text,
    /// The department.
    pub department: Text,
    /// Whether it is a risk post (风险岗位) subject to rotation.
    pub risk_post: bool,
}
impl Check for StaffAssignedToPost {}
payload!(
    StaffAssignedToPost,
    "staff.assigned_to_post",
    1,
    [Role::Administrator, Role::DisciplineOffice],
    "A staff member was assigned to a post (risk post or not)."
);

/// A staff member on a risk post was rotated (轮岗).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffRotated {
    /// The staff member.
    pub staff: StaffId,
    /// Post left.
    pub from_post: Text,
    /// Post taken.
    pub to_post: Text,
}
impl Check for StaffRotated {
    fn check(&self) -> Result<(), FieldError> {
        if self.from_post == self.to_post {
            return Err(FieldError::new(
                "to_post",
                "a rotation must change the post",
            ));
        }
        Ok(())
    }
}
payload!(
    StaffRotated,
    "staff.rotated",
    1,
    [Role::Administrator, Role::DisciplineOffice],
    "A staff member was rotated off a post."
);

/// A department's consumables usage for a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumablesUsageReported {
    /// The department.
    pub department: Text,
    /// The period.
    pub period: Interval,
    /// Cost of medical consumables used.
    pub material_cost: Money,
    /// Medical revenue excluding drugs.
    pub revenue_excluding_drugs: Money,
}
impl Check for ConsumablesUsageReported {
    fn check(&self) -> Result<(), FieldError> {
        check_interval("period", &self.period)?;
        if self.revenue_excluding_drugs.fen() == 0 {
            return Err(FieldError::new(
                "revenue_excluding_drugs",
                "must be greater than 0",
            ));
        }
        if self.material_cost.currency != self.revenue_excluding_drugs.currency {
            return Err(FieldError::new(
                "material_cost",
                "must be in the same currency as the revenue",
            ));
        }
        Ok(())
    }
}
payload!(
    ConsumablesUsageReported,
    "monitoring.consumables_usage_reported",
    1,
    [Role::Finance, Role::DepartmentHead],
    "A department's consumables cost and revenue (excluding drugs) for a period."
);
