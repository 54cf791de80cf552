//! Governance: the ledger's genesis, key enrolment and revocation (payloads defined by the
//! core, which interprets them), and the policy in force: rule thresholds and windows that
//! apply from a time, so a replay uses the policy of its day, not today's.

use probity_core::registry::{GenesisPayload, KeyEnrolledPayload, KeyRevokedPayload};
use probity_core::roles::Role;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::payload::payload;
use crate::types::{check_positive, Check, FieldError, Money, Timestamp};

impl Check for GenesisPayload {
    fn check(&self) -> Result<(), FieldError> {
        if self.admins.is_empty() {
            return Err(FieldError::new(
                "admins",
                "must name at least one administrator",
            ));
        }
        Ok(())
    }
}
payload!(
    GenesisPayload,
    "ledger.genesis",
    1,
    [Role::Administrator],
    "Record 0: the ledger's origin, its checkpoint key and the first administrators."
);

impl Check for KeyEnrolledPayload {
    fn check(&self) -> Result<(), FieldError> {
        if self.holder.trim().is_empty() {
            return Err(FieldError::new("holder", "must not be empty"));
        }
        Ok(())
    }
}
payload!(
    KeyEnrolledPayload,
    "key.enrolled",
    1,
    [Role::Administrator],
    "A key was enrolled with a role, for a named holder."
);

impl Check for KeyRevokedPayload {
    fn check(&self) -> Result<(), FieldError> {
        if self.reason.trim().is_empty() {
            return Err(FieldError::new("reason", "must not be empty"));
        }
        Ok(())
    }
}
payload!(
    KeyRevokedPayload,
    "key.revoked",
    1,
    [Role::Administrator],
    "A key was revoked; it signs nothing after this record."
);

/// Consumables-ratio tiers: consumables cost per 100 yuan of medical revenue excluding drugs
/// (百元耗材比), in yuan, at which each measure applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumablesTiers {
    /// Above this: warning (预警).
    pub warning: u32,
    /// Above this: restricted use (限用).
    pub restrict: u32,
    /// Above this: use stopped (停用).
    pub stop: u32,
}

/// Rule thresholds and windows. Every number the red-flag rules use is here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Non-open purchases in one fiscal year, department, budget project and category must not
    /// add up to more than this (split-purchase), and purchases above it need an open tender.
    pub open_tender_threshold: Money,
    /// Purchases above this need an outside authority's approval (step-order).
    pub external_approval_threshold: Money,
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
    /// Consumables-ratio tiers.
    pub consumables_tiers: ConsumablesTiers,
}

impl Default for Policy {
    /// The defaults of `docs/RULES.md`: threshold ¥500,000, windows of 90 days, 3 quotes.
    fn default() -> Self {
        Policy {
            open_tender_threshold: Money::cny(50_000_000),
            external_approval_threshold: Money::cny(100_000_000),
            near_threshold_percent: 90,
            near_threshold_window_days: 90,
            rep_conflict_window_days: 90,
            min_invited_suppliers: 3,
            min_valid_quotes: 3,
            min_publication_days: 5,
            rep_strike_window_days: 365,
            consumables_tiers: ConsumablesTiers {
                warning: 20,
                restrict: 25,
                stop: 30,
            },
        }
    }
}

/// A policy was set, in force from `effective_from` until the next one takes effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    /// From when it applies (by the time events happened).
    pub effective_from: Timestamp,
    /// The whole policy (nothing is inherited from the previous one).
    pub policy: Policy,
}
impl Check for PolicySet {
    fn check(&self) -> Result<(), FieldError> {
        let p = &self.policy;
        if !(1..=100).contains(&p.near_threshold_percent) {
            return Err(FieldError::new(
                "policy.near_threshold_percent",
                "must be 1-100",
            ));
        }
        for (field, value) in [
            (
                "policy.near_threshold_window_days",
                p.near_threshold_window_days,
            ),
            (
                "policy.rep_conflict_window_days",
                p.rep_conflict_window_days,
            ),
            ("policy.min_invited_suppliers", p.min_invited_suppliers),
            ("policy.min_valid_quotes", p.min_valid_quotes),
            ("policy.rep_strike_window_days", p.rep_strike_window_days),
        ] {
            check_positive(field, u64::from(value))?;
        }
        let t = &p.consumables_tiers;
        if !(t.warning <= t.restrict && t.restrict <= t.stop) {
            return Err(FieldError::new(
                "policy.consumables_tiers",
                "must satisfy warning <= restrict <= stop",
            ));
        }
        Ok(())
    }
}
payload!(
    PolicySet,
    "policy.set",
    1,
    [Role::Administrator],
    "The rule thresholds and windows in force from a time."
);
