//! The catalogue: every event type with its schema version, the roles that may record it and
//! its JSON Schema; decoding (with upcasting and field-naming errors); the role matrix.

use probity_core::envelope::{EventBody, Payload};
use probity_core::ids::SubjectId;
use probity_core::roles::{Role, RoleMatrix, GENESIS};
use probity_core::subject::{Subject, SubjectKind};
use schemars::Schema;
use serde_json::Value;

use crate::governance::PolicySet;
use crate::integrity::*;
pub use crate::payload::DecodeError;
pub use crate::payload::EventPayload;
use crate::purchase::*;
use crate::rep::*;
use crate::supplier::*;
use crate::upcast;
use probity_core::registry::{GenesisPayload, KeyEnrolledPayload, KeyRevokedPayload};

/// The families events belong to (one table each in `schemas/EVENTS.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// Genesis, keys, policy.
    Governance,
    /// Supplier admission, integrity and sanctions.
    Supplier,
    /// Sales reps and visits.
    Rep,
    /// Purchase cases.
    Purchase,
    /// Integrity records and monitoring.
    Integrity,
}

impl Family {
    /// Display name.
    pub fn title(&self) -> &'static str {
        match self {
            Family::Governance => "Governance",
            Family::Supplier => "Suppliers",
            Family::Rep => "Sales representatives",
            Family::Purchase => "Purchases",
            Family::Integrity => "Integrity and monitoring",
        }
    }
}

/// One row of the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct EventSpec {
    /// Type name.
    pub event_type: &'static str,
    /// Current schema version.
    pub schema: u32,
    /// Roles that may record it.
    pub roles: &'static [Role],
    /// Family.
    pub family: Family,
    /// One line for people.
    pub summary: &'static str,
    /// Its JSON Schema (draft 2020-12).
    pub json_schema: fn() -> Schema,
}

impl EventSpec {
    fn of<T: EventPayload>(family: Family) -> EventSpec {
        EventSpec {
            event_type: T::TYPE,
            schema: T::SCHEMA,
            roles: T::ROLES,
            family,
            summary: T::SUMMARY,
            json_schema: || schemars::schema_for!(T),
        }
    }
}

/// The field an error is about: serde's path, or, for a missing or unknown field of the
/// payload object itself (path `.`), the field the message names.
fn field_of(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    }
}

fn decode_as<T: EventPayload>(json: &str) -> Result<T, DecodeError> {
    // The common case, a valid payload, takes the fast path; only a refusal is decoded again
    // with path tracking, to name the field.
    let value: T = match probity_core::strict_json::from_str(json) {
        Ok(value) => value,
        Err(_) => return Err(path_error::<T>(json)),
    };
    value.check().map_err(|e| DecodeError::Rule {
        event_type: T::TYPE.to_owned(),
        field: e.field,
        message: e.message,
    })?;
    Ok(value)
}

/// The error of decoding `json` as `T`, naming the field.
fn path_error<T: EventPayload>(json: &str) -> DecodeError {
    let invalid = |field: String, message: String| DecodeError::Invalid {
        event_type: T::TYPE.to_owned(),
        field,
        message,
    };
    let mut de = serde_json::Deserializer::from_str(json);
    let result: Result<T, _> =
        serde_path_to_error::deserialize(probity_core::strict_json::Strict(&mut de));
    let Err(e) = result else {
        return invalid(".".into(), "does not decode".into());
    };
    // serde_json appends " at line L column C", which means nothing to a clerk.
    let message = e.inner().to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    invalid(field_of(&e.path().to_string(), &message), message)
}

macro_rules! catalogue {
    ($($family:ident { $($variant:ident($ty:ty)),* $(,)? })*) => {
        /// A decoded event payload of any type, at its current schema version.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Event {
            $($(
                #[doc = concat!("`", stringify!($ty), "`")]
                $variant($ty),
            )*)*
        }

        impl Event {
            /// The event type name.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $($(Event::$variant(_) => <$ty as EventPayload>::TYPE,)*)*
                }
            }

            /// The subjects its payload names in its top-level fields (`uscc` and `supplier`:
            /// suppliers, `filing_number`: a rep, `case`), as (kind, id text), in field order.
            pub fn named_subjects(&self) -> Vec<(SubjectKind, String)> {
                match self {
                    $($(Event::$variant(p) => crate::subjects::named_by(p),)*)*
                }
            }

            /// The payload as JSON.
            pub fn to_value(&self) -> Value {
                let value = match self {
                    $($(Event::$variant(p) => serde_json::to_value(p),)*)*
                };
                // Invariant: payload types serialize infallibly (no non-string map keys).
                value.expect("payload types serialize (no non-string map keys)")
            }
        }

        /// Every event type, in catalogue order.
        pub fn specs() -> Vec<EventSpec> {
            vec![$($(EventSpec::of::<$ty>(Family::$family),)*)*]
        }

        fn decode_current(event_type: &str, json: &str) -> Result<Event, DecodeError> {
            match event_type {
                $($(<$ty as EventPayload>::TYPE => decode_as::<$ty>(json).map(Event::$variant),)*)*
                other => Err(DecodeError::UnknownType(other.to_owned())),
            }
        }
    };
}

catalogue! {
    Governance {
        Genesis(GenesisPayload),
        KeyEnrolled(KeyEnrolledPayload),
        KeyRevoked(KeyRevokedPayload),
        PolicySet(PolicySet),
    }
    Supplier {
        SupplierRegistered(SupplierRegistered),
        CreditChecked(CreditChecked),
        CommitmentSigned(CommitmentSigned),
        SupplierAdmitted(SupplierAdmitted),
        AdmissionRejected(AdmissionRejected),
        IntegrityEvaluated(IntegrityEvaluated),
        ViolationRecorded(ViolationRecorded),
        ExternalListingObserved(ExternalListingObserved),
        SanctionImposed(SanctionImposed),
        SanctionConditionMet(SanctionConditionMet),
        SanctionLifted(SanctionLifted),
    }
    Rep {
        RepRegistered(RepRegistered),
        RepRegistrationRevoked(RepRegistrationRevoked),
        VisitRequested(VisitRequested),
        VisitApproved(VisitApproved),
        VisitRejected(VisitRejected),
        CheckedIn(CheckedIn),
        VisitCompleted(VisitCompleted),
        EntryRefused(EntryRefused),
        RepViolationObserved(RepViolationObserved),
    }
    Purchase {
        PurchaseRequested(PurchaseRequested),
        RequestsAggregated(RequestsAggregated),
        SelectionMeetingHeld(SelectionMeetingHeld),
        AnnualPlanApproved(AnnualPlanApproved),
        ExternalApprovalGranted(ExternalApprovalGranted),
        ProcessOpened(ProcessOpened),
        DemandPublished(DemandPublished),
        SupplierSignedUp(SupplierSignedUp),
        QuoteSubmitted(QuoteSubmitted),
        QuoteEvaluated(QuoteEvaluated),
        EvaluationPanelFormed(EvaluationPanelFormed),
        RecusalRecorded(RecusalRecorded),
        AwardDecided(AwardDecided),
        ContractSigned(ContractSigned),
        ContractAmended(ContractAmended),
        DeliveryAccepted(DeliveryAccepted),
        PaymentMade(PaymentMade),
        CaseCancelled(CaseCancelled),
        SupervisionRecorded(SupervisionRecorded),
    }
    Integrity {
        GiftReturned(GiftReturned),
        FindingReviewed(FindingReviewed),
        StaffAssignedToPost(StaffAssignedToPost),
        StaffRotated(StaffRotated),
        ConsumablesUsageReported(ConsumablesUsageReported),
    }
}

/// The spec of one event type.
pub fn spec(event_type: &str) -> Option<EventSpec> {
    static BY_TYPE: std::sync::OnceLock<std::collections::HashMap<&'static str, EventSpec>> =
        std::sync::OnceLock::new();
    BY_TYPE
        .get_or_init(|| specs().into_iter().map(|s| (s.event_type, s)).collect())
        .get(event_type)
        .copied()
}

/// Decodes a payload of `event_type` at `schema`, upcasting older versions to the current one.
pub fn decode(event_type: &str, schema: u32, payload: &Payload) -> Result<Event, DecodeError> {
    let current = spec(event_type)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?
        .schema;
    if schema == current {
        return decode_current(event_type, payload.as_str());
    }
    if schema == 0 || schema > current {
        return Err(DecodeError::UnsupportedSchema {
            event_type: event_type.to_owned(),
            schema,
            current,
        });
    }
    let upcast = upcast::to_current(event_type, schema, current, payload.as_str())?;
    decode_current(event_type, &upcast)
}

/// The supplier, rep and case ids a payload in JSON names, in its top-level fields `uscc`,
/// `supplier`, `filing_number` and `case` (for tools that build a body from JSON; a decoded
/// event gives them without parsing again: [`Event::named_subjects`]).
pub fn implied_subjects(value: &Value) -> Vec<(SubjectKind, String)> {
    let mut out = Vec::new();
    for (field, kind) in [
        ("uscc", SubjectKind::Supplier),
        ("supplier", SubjectKind::Supplier),
        ("filing_number", SubjectKind::Rep),
        ("case", SubjectKind::Case),
    ] {
        if let Some(id) = value.get(field).and_then(Value::as_str) {
            out.push((kind, id.to_owned()));
        }
    }
    out
}

/// Decodes a body's payload and checks that its `subjects` name what the payload concerns.
pub fn validate_body(body: &EventBody) -> Result<Event, DecodeError> {
    let event = decode(body.event_type.as_str(), body.schema, &body.payload)?;
    // The projection's path: checked, nothing kept.
    check_named(body, &event, |_, _| {})?;
    Ok(event)
}

/// [`validate_body`], also giving the subjects the payload names (each as the body lists it).
/// The payload is parsed once, into its type; the subjects are read from that.
pub fn decode_body(body: &EventBody) -> Result<(Event, Vec<Subject>), DecodeError> {
    let event = decode(body.event_type.as_str(), body.schema, &body.payload)?;
    let mut named = Vec::new();
    check_named(body, &event, |kind, id| {
        named.push(Subject::new(kind, id.clone()))
    })?;
    Ok((event, named))
}

/// Checks that the body lists every subject `event` names, handing each to `each` as listed.
fn check_named(
    body: &EventBody,
    event: &Event,
    mut each: impl FnMut(SubjectKind, &SubjectId),
) -> Result<(), DecodeError> {
    for (kind, id) in event.named_subjects() {
        let Some(listed) = body.subjects.of(kind).iter().find(|s| s.as_str() == id) else {
            return Err(DecodeError::MissingSubject {
                event_type: body.event_type.to_string(),
                kind: kind.as_str(),
                id,
            });
        };
        each(kind, listed);
    }
    Ok(())
}

/// The role matrix of the catalogue (governance rows included).
pub fn role_matrix() -> RoleMatrix {
    let mut matrix = RoleMatrix::governance();
    for spec in specs() {
        if spec.event_type != GENESIS {
            matrix.allow(spec.event_type, spec.roles);
        }
    }
    matrix
}
