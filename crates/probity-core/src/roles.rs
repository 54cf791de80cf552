//! Roles and the role matrix: which role may record which event type.
//!
//! The core knows the governance event types it interprets itself (genesis, key enrolment and
//! revocation, all administrators' business); the event catalogue adds the rest. An event type
//! absent from the matrix cannot be recorded by anyone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The role a key is enrolled with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Role {
    /// Enrols and revokes keys, sets policy.
    Administrator,
    /// A procurement clerk or department secretary recording purchase steps.
    Clerk,
    /// Head of a using department: requests and acceptance.
    DepartmentHead,
    /// The equipment / procurement office: aggregation, plans, inquiries, contracts.
    EquipmentOffice,
    /// Secretary of the selection meeting or evaluation panel.
    SelectionSecretary,
    /// The discipline-inspection office: reps, visits, violations, sanctions, supervision.
    DisciplineOffice,
    /// Finance: payments.
    Finance,
    /// Internal or external auditor; records audit observations.
    Auditor,
}

impl Role {
    /// Every role, in matrix order.
    pub const ALL: [Role; 8] = [
        Role::Administrator,
        Role::Clerk,
        Role::DepartmentHead,
        Role::EquipmentOffice,
        Role::SelectionSecretary,
        Role::DisciplineOffice,
        Role::Finance,
        Role::Auditor,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Clerk => "clerk",
            Role::DepartmentHead => "department_head",
            Role::EquipmentOffice => "equipment_office",
            Role::SelectionSecretary => "selection_secretary",
            Role::DisciplineOffice => "discipline_office",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Event type of the genesis record.
pub const GENESIS: &str = "ledger.genesis";
/// Event type of a key enrolment.
pub const KEY_ENROLLED: &str = "key.enrolled";
/// Event type of a key revocation.
pub const KEY_REVOKED: &str = "key.revoked";

/// Which roles may record which event types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleMatrix {
    allowed: BTreeMap<String, BTreeSet<Role>>,
}

impl Default for RoleMatrix {
    fn default() -> Self {
        Self::governance()
    }
}

impl RoleMatrix {
    /// The governance rows only: administrators enrol and revoke keys. (Genesis is not in the
    /// matrix: it is valid only at sequence 0, signed by an administrator it names.)
    pub fn governance() -> Self {
        let mut matrix = RoleMatrix {
            allowed: BTreeMap::new(),
        };
        matrix.allow(KEY_ENROLLED, &[Role::Administrator]);
        matrix.allow(KEY_REVOKED, &[Role::Administrator]);
        matrix
    }

    /// Lets `roles` record `event_type` (adding to any roles already allowed).
    pub fn allow(&mut self, event_type: &str, roles: &[Role]) -> &mut Self {
        self.allowed
            .entry(event_type.to_owned())
            .or_default()
            .extend(roles.iter().copied());
        self
    }

    /// The roles allowed to record `event_type`, or `None` for a type the matrix does not know.
    pub fn roles_for(&self, event_type: &str) -> Option<&BTreeSet<Role>> {
        self.allowed.get(event_type)
    }

    /// Whether `role` may record `event_type`.
    pub fn is_allowed(&self, role: Role, event_type: &str) -> bool {
        self.roles_for(event_type)
            .is_some_and(|roles| roles.contains(&role))
    }

    /// Every row, in event-type order.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &BTreeSet<Role>)> {
        self.allowed.iter().map(|(t, r)| (t.as_str(), r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
    }

    #[test]
    fn governance_matrix() {
        let m = RoleMatrix::governance();
        assert!(m.is_allowed(Role::Administrator, KEY_ENROLLED));
        assert!(!m.is_allowed(Role::Clerk, KEY_ENROLLED));
        assert!(m.roles_for("supplier.sanction_imposed").is_none());
    }
}
