//! What every event payload is: the [`EventPayload`] contract each payload type implements
//! (through [`payload!`]), and [`DecodeError`], why a payload is not a valid event. A leaf: the
//! payload modules and the catalogue both build on it.

use probity_core::roles::Role;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::types::Check;

/// A typed event payload.
pub trait EventPayload: Serialize + DeserializeOwned + JsonSchema + Check {
    /// The event type name, e.g. `supplier.admitted`.
    const TYPE: &'static str;
    /// The current schema version.
    const SCHEMA: u32;
    /// The roles that may record it.
    const ROLES: &'static [Role];
    /// One line for people.
    const SUMMARY: &'static str;
}

/// Implements [`EventPayload`] for a payload struct.
macro_rules! payload {
    ($ty:ident, $name:literal, $schema:literal, [$($role:expr),* $(,)?], $summary:literal) => {
        impl $crate::payload::EventPayload for $ty {
            const TYPE: &'static str = $name;
            const SCHEMA: u32 = $schema;
            const ROLES: &'static [probity_core::roles::Role] = &[$($role),*];
            const SUMMARY: &'static str = $summary;
        }
    };
}
pub(crate) use payload;

/// Why a payload is not a valid event of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The catalogue has no such type.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The schema version is not one this catalogue knows.
    #[error("{event_type} has no schema version {schema} (current: {current})")]
    UnsupportedSchema {
        /// The type.
        event_type: String,
        /// The version given.
        schema: u32,
        /// The current version.
        current: u32,
    },
    /// A field is missing, unknown, of the wrong type, or breaks a rule.
    #[error("invalid {event_type} payload: field `{field}`: {message}")]
    Invalid {
        /// The type.
        event_type: String,
        /// The path of the field (`.` for the payload itself).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The payload is well formed but breaks a rule across fields (e.g. an interval that ends
    /// before it starts), which JSON Schema cannot express.
    #[error("invalid {event_type} payload: field `{field}`: {message}")]
    Rule {
        /// The type.
        event_type: String,
        /// The path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The body's `subjects` do not name what the payload concerns.
    #[error("{event_type}: subjects.{kind} must include {id:?} (named in the payload)")]
    MissingSubject {
        /// The type.
        event_type: String,
        /// `supplier`, `rep` or `case`.
        kind: &'static str,
        /// The id the payload names.
        id: String,
    },
}
