//! Upcasting: older schema versions of an event are rewritten to the current one when read,
//! so projections and rules only ever see current payloads. The signed bytes are untouched.
//!
//! The one real case so far: `supplier.external_listing_observed` schema 1 predates the 2025
//! revision of the medical-insurance pricing-credit rating (four grades became three) and had
//! no `scheme_version`; its grades belong to the 2020 four-grade scheme, so upcasting to
//! schema 2 sets `scheme_version` to `2020` and keeps the grade.
//!
//! `supplier.sanction_imposed` schema 1 required a `duration` of every sanction; schema 2 lets a
//! one-off warning or interview have none. Every schema-1 payload is a schema-2 payload as it
//! stands, so upcasting only checks it against schema 1.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::payload::DecodeError;
use crate::supplier::{ExternalList, ListingScope, SanctionKind};
use crate::types::{Duration, RefId, Text, Timestamp, Uscc};

/// Grades of the 2020 four-grade pricing-credit scheme (一般、中等、严重、特别严重).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade2020 {
    /// 一般 (general).
    General,
    /// 中等 (medium).
    Medium,
    /// 严重 (serious).
    Serious,
    /// 特别严重 (particularly serious).
    ParticularlySerious,
}

impl Grade2020 {
    fn as_str(&self) -> &'static str {
        match self {
            Grade2020::General => "general",
            Grade2020::Medium => "medium",
            Grade2020::Serious => "serious",
            Grade2020::ParticularlySerious => "particularly_serious",
        }
    }
}

/// `supplier.external_listing_observed`, schema 1 (before rating schemes carried a version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalListingObservedV1 {
    /// The supplier.
    pub uscc: Uscc,
    /// Which list.
    pub list: ExternalList,
    /// The list's own name when `list` is `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_name: Option<Text>,
    /// Grade in the 2020 four-grade scheme.
    pub grade: Grade2020,
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

// `supplier.sanction_imposed`, schema 1: a duration for every kind. The doc comment below is
// its published schema's description, kept as it was.
/// A sanction imposed on the supplier. It ends when its duration passes (derived, never
/// recorded), when it is lifted, or, if it has conditions, when all are met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionImposedV1 {
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
    /// How long it lasts.
    pub duration: Duration,
    /// Conditions that end it early once all are met (e.g. rectification accepted).
    #[serde(default)]
    pub conditions: Vec<Text>,
    /// Reference of the decision.
    pub decision: RefId,
    /// Why.
    pub reason: Text,
}

/// The scheme version that schema-1 grades belong to.
pub const SCHEME_2020: &str = "2020";

/// Rewrites `json`, a payload of `event_type` at `schema`, to the current schema (`current`).
pub fn to_current(
    event_type: &str,
    schema: u32,
    current: u32,
    json: &str,
) -> Result<String, DecodeError> {
    let invalid = |field: &str, message: String| DecodeError::Invalid {
        event_type: event_type.to_owned(),
        field: field.to_owned(),
        message: format!("(schema {schema}) {message}"),
    };
    match (event_type, schema) {
        ("supplier.external_listing_observed", 1) => {
            let mut de = serde_json::Deserializer::from_str(json);
            let v1: ExternalListingObservedV1 =
                serde_path_to_error::deserialize(probity_core::strict_json::Strict(&mut de))
                    .map_err(|e| invalid(&e.path().to_string(), e.inner().to_string()))?;
            let mut value = serde_json::to_value(&v1).map_err(|e| invalid(".", e.to_string()))?;
            if let Value::Object(map) = &mut value {
                map.insert("grade".into(), Value::from(v1.grade.as_str()));
                map.insert("scheme_version".into(), Value::from(SCHEME_2020));
            }
            Ok(value.to_string())
        }
        ("supplier.sanction_imposed", 1) => {
            let mut de = serde_json::Deserializer::from_str(json);
            let _: SanctionImposedV1 =
                serde_path_to_error::deserialize(probity_core::strict_json::Strict(&mut de))
                    .map_err(|e| invalid(&e.path().to_string(), e.inner().to_string()))?;
            Ok(json.to_owned())
        }
        _ => Err(DecodeError::UnsupportedSchema {
            event_type: event_type.to_owned(),
            schema,
            current,
        }),
    }
}
