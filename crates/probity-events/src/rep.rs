//! Sales representatives (医药代表): registration with the discipline-inspection office, and
//! visits, which happen only by approved booking in a designated reception room. Every rep
//! event names the rep in `subjects.rep` (when it has a filing number) and its supplier in
//! `subjects.supplier`.

use probity_core::roles::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::payload::payload;
use crate::types::{
    check_interval, check_non_empty, Check, FieldError, FilingNumber, Interval, RefId, StaffId,
    Text, Timestamp, Uscc,
};

/// A rep was registered (备案) with the discipline-inspection office.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepRegistered {
    /// Filing number.
    pub filing_number: FilingNumber,
    /// The rep's name.
    pub name: Text,
    /// The supplier the rep works for (one only).
    pub supplier: Uscc,
    /// Product lines the rep may discuss.
    pub product_lines: Vec<Text>,
    /// Registration is valid until this time.
    pub valid_until: Timestamp,
}
impl Check for RepRegistered {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("product_lines", &self.product_lines)
    }
}
payload!(
    RepRegistered,
    "rep.registered",
    1,
    [Role::DisciplineOffice],
    "A sales rep was registered: supplier, filing number, product lines, validity."
);

/// A rep's registration was revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepRegistrationRevoked {
    /// Filing number.
    pub filing_number: FilingNumber,
    /// Why.
    pub reason: Text,
}
impl Check for RepRegistrationRevoked {}
payload!(
    RepRegistrationRevoked,
    "rep.registration_revoked",
    1,
    [Role::DisciplineOffice],
    "A rep's registration was revoked."
);

/// A visit was booked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitRequested {
    /// The hospital's id of the visit.
    pub visit: RefId,
    /// Filing number of the rep.
    pub filing_number: FilingNumber,
    /// The staff member to meet.
    pub host: StaffId,
    /// The host's department.
    pub department: Text,
    /// The time slot.
    pub slot: Interval,
    /// Whether the rep signed the integrity pledge for this visit.
    pub pledge_signed: bool,
}
impl Check for VisitRequested {
    fn check(&self) -> Result<(), FieldError> {
        check_interval("slot", &self.slot)
    }
}
payload!(
    VisitRequested,
    "rep.visit_requested",
    1,
    [Role::Clerk, Role::DisciplineOffice],
    "A rep visit was booked: host, department, slot, pledge."
);

/// A visit booking was approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitApproved {
    /// The visit.
    pub visit: RefId,
    /// The reception room assigned.
    pub reception_room: RefId,
}
impl Check for VisitApproved {}
payload!(
    VisitApproved,
    "rep.visit_approved",
    1,
    [Role::DisciplineOffice],
    "A rep visit booking was approved, with its reception room."
);

/// A visit booking was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitRejected {
    /// The visit.
    pub visit: RefId,
    /// Why.
    pub reason: Text,
}
impl Check for VisitRejected {}
payload!(
    VisitRejected,
    "rep.visit_rejected",
    1,
    [Role::DisciplineOffice],
    "A rep visit booking was rejected."
);

/// A rep checked in for a visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckedIn {
    /// The visit.
    pub visit: RefId,
    /// Filing number of the rep.
    pub filing_number: FilingNumber,
    /// Where the rep was received (must be a designated reception room).
    pub room: RefId,
    /// Whether the rep's identity matched the registration.
    pub identity_matched: bool,
}
impl Check for CheckedIn {}
payload!(
    CheckedIn,
    "rep.checked_in",
    1,
    [Role::DisciplineOffice, Role::Clerk],
    "A rep checked in for a visit: room, identity check."
);

/// A visit took place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitCompleted {
    /// The visit.
    pub visit: RefId,
    /// Hospital staff present.
    pub attendees: Vec<StaffId>,
    /// Minutes of the meeting.
    pub minutes: Text,
}
impl Check for VisitCompleted {
    fn check(&self) -> Result<(), FieldError> {
        check_non_empty("attendees", &self.attendees)
    }
}
payload!(
    VisitCompleted,
    "rep.visit_completed",
    1,
    [Role::DisciplineOffice, Role::Clerk],
    "A rep visit took place: attendees, minutes."
);

/// Why a rep was refused at the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// Not registered.
    Unregistered,
    /// Registration revoked or expired.
    RegistrationInvalid,
    /// No approved booking.
    NoBooking,
    /// Identity did not match.
    IdentityMismatch,
}

/// A rep was refused entry; the refusal itself is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRefused {
    /// Filing number, if the rep has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filing_number: Option<FilingNumber>,
    /// The name the person gave.
    pub name: Text,
    /// The supplier the person claimed to represent, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<Uscc>,
    /// Why.
    pub reason: RefusalReason,
}
impl Check for EntryRefused {}
payload!(
    EntryRefused,
    "rep.entry_refused",
    1,
    [Role::DisciplineOffice, Role::Clerk],
    "A rep was refused entry (unregistered, invalid, no booking, identity)."
);

/// Where a rep was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// A ward.
    Ward,
    /// A doctor's office.
    Office,
    /// The pharmacy.
    Pharmacy,
    /// The equipment department.
    EquipmentDepartment,
    /// Outpatient clinics.
    Outpatients,
    /// Elsewhere (describe).
    Other,
}

/// A rep was seen breaking the visit rules (e.g. in a ward instead of the reception room).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepViolationObserved {
    /// Filing number, if the rep has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filing_number: Option<FilingNumber>,
    /// The rep's supplier.
    pub supplier: Uscc,
    /// Where.
    pub place: Place,
    /// What the rep did.
    pub description: Text,
    /// Staff involved, if any.
    #[serde(default)]
    pub staff: Vec<StaffId>,
    /// When exactly, if not the event's `occurred_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<Timestamp>,
}
impl Check for RepViolationObserved {}
payload!(
    RepViolationObserved,
    "rep.violation_observed",
    1,
    [Role::DisciplineOffice],
    "A rep was seen breaking the visit rules (place, kind)."
);
