//! Keys inside the log: the genesis record names the ledger key and the first administrators;
//! later records enrol and revoke keys. [`KeyRegistry`] replays that history and decides, for
//! each new event, whether its signer's key was active, with an allowed role, at that sequence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::EventBody;
use crate::ids::{LedgerId, Seq};
use crate::keys::{KeyId, PublicKey};
use crate::roles::{Role, RoleMatrix, GENESIS, KEY_ENROLLED, KEY_REVOKED};

/// Payload of `ledger.genesis` (schema 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GenesisPayload {
    /// The checkpoint origin and note key name, a schema-less URL such as
    /// `probity.example/city-hospital-3`.
    pub origin: String,
    /// The key that signs checkpoints and receipts.
    pub ledger_key: PublicKey,
    /// The first administrators; the genesis event is signed by one of them.
    pub admins: Vec<KeyHolder>,
}

/// A key and the person who holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyHolder {
    /// The public key.
    pub key: PublicKey,
    /// Who holds it (a name or staff number).
    pub holder: String,
    /// Their department, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// Payload of `key.enrolled` (schema 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyEnrolledPayload {
    /// The key being enrolled.
    pub key: PublicKey,
    /// What it may record.
    pub role: Role,
    /// Who holds it.
    pub holder: String,
    /// Their department, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// Payload of `key.revoked` (schema 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyRevokedPayload {
    /// The key being revoked.
    pub key_id: KeyId,
    /// Why (lost, left the post, compromised…).
    pub reason: String,
}

/// A key known to the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The public key.
    pub key: PublicKey,
    /// Its role.
    pub role: Role,
    /// Who holds it.
    pub holder: String,
    /// Their department.
    pub department: Option<String>,
    /// The record that enrolled it (0 for genesis administrators).
    pub enrolled_at: Seq,
    /// The record that revoked it; the key signs nothing after this.
    pub revoked_at: Option<Seq>,
}

/// Why an event may not be recorded at its sequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Record 0 must be `ledger.genesis`.
    #[error("record 0 must be {GENESIS}, found {0}")]
    MissingGenesis(String),
    /// Genesis appears again after record 0.
    #[error("{GENESIS} is only valid as record 0")]
    GenesisRepeated,
    /// The genesis payload is unusable (message says why).
    #[error("invalid genesis: {0}")]
    BadGenesis(String),
    /// The event names another ledger.
    #[error("event is for ledger {found:?}, this ledger is {expected:?}")]
    WrongLedger {
        /// This ledger.
        expected: LedgerId,
        /// The event's.
        found: LedgerId,
    },
    /// Nobody enrolled this key.
    #[error("signer key {0} is not enrolled in this ledger")]
    UnknownKey(KeyId),
    /// The key was revoked at or before this sequence.
    #[error("signer key {key} was revoked at record {revoked_at}")]
    RevokedKey {
        /// The key.
        key: KeyId,
        /// Where it was revoked.
        revoked_at: Seq,
    },
    /// The role matrix does not know the event type.
    #[error("event type {0} is not in the role matrix; nobody may record it")]
    UnknownEventType(String),
    /// The key's role may not record this type.
    #[error("signer key {key} has role {role}, which may not record {event_type}")]
    WrongRole {
        /// The key.
        key: KeyId,
        /// Its role.
        role: Role,
        /// The event type.
        event_type: String,
    },
    /// A governance payload does not parse (message names the field).
    #[error("invalid {event_type} payload: {message}")]
    BadGovernancePayload {
        /// The event type.
        event_type: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The key is already enrolled (and not revoked).
    #[error("key {0} is already enrolled")]
    AlreadyEnrolled(KeyId),
    /// The key to revoke is unknown or already revoked.
    #[error("key {0} is not an active key and cannot be revoked")]
    NotRevocable(KeyId),
}

/// What a verified event does to the key registry once it is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEffect {
    /// Nothing.
    None,
    /// Establishes the ledger.
    Genesis {
        /// The ledger id.
        ledger: LedgerId,
        /// The genesis payload.
        payload: GenesisPayload,
    },
    /// Adds a key.
    Enrol(KeyEnrolledPayload),
    /// Revokes a key.
    Revoke(KeyId),
}

/// The keys of one ledger, as of some sequence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRegistry {
    ledger: Option<LedgerId>,
    genesis: Option<GenesisPayload>,
    keys: BTreeMap<KeyId, KeyEntry>,
}

fn payload<T: serde::de::DeserializeOwned>(
    body: &EventBody,
    event_type: &'static str,
) -> Result<T, AuthError> {
    // The governance events have one schema; another number would be a second meaning for
    // the same payload (FORMAT.md §7).
    if body.schema != 1 {
        return Err(AuthError::BadGovernancePayload {
            event_type,
            message: format!(
                "schema {} is unknown; {event_type} has schema 1",
                body.schema
            ),
        });
    }
    body.payload
        .parse()
        .map_err(|e| AuthError::BadGovernancePayload {
            event_type,
            message: e.to_string(),
        })
}

impl KeyRegistry {
    /// An empty registry (before genesis).
    pub fn new() -> Self {
        Self::default()
    }

    /// The ledger id, once genesis is applied.
    pub fn ledger(&self) -> Option<&LedgerId> {
        self.ledger.as_ref()
    }

    /// The genesis payload (origin, ledger key, first administrators).
    pub fn genesis(&self) -> Option<&GenesisPayload> {
        self.genesis.as_ref()
    }

    /// A key by id.
    pub fn key(&self, id: &KeyId) -> Option<&KeyEntry> {
        self.keys.get(id)
    }

    /// Every key ever enrolled.
    pub fn keys(&self) -> impl Iterator<Item = (&KeyId, &KeyEntry)> {
        self.keys.iter()
    }

    /// Decides whether `body` may be recorded at `seq`, without changing anything.
    pub fn authorize(
        &self,
        seq: Seq,
        body: &EventBody,
        matrix: &RoleMatrix,
    ) -> Result<KeyEffect, AuthError> {
        let event_type = body.event_type.as_str();
        if seq.0 == 0 {
            return self.authorize_genesis(body);
        }
        if event_type == GENESIS {
            return Err(AuthError::GenesisRepeated);
        }
        let Some(ledger) = &self.ledger else {
            return Err(AuthError::MissingGenesis(event_type.to_owned()));
        };
        if &body.ledger != ledger {
            return Err(AuthError::WrongLedger {
                expected: ledger.clone(),
                found: body.ledger.clone(),
            });
        }
        let key_id = body.signer.key_id();
        let entry = self
            .keys
            .get(&key_id)
            .filter(|e| e.key == body.signer && e.enrolled_at < seq)
            .ok_or(AuthError::UnknownKey(key_id))?;
        if let Some(revoked_at) = entry.revoked_at.filter(|r| *r < seq) {
            return Err(AuthError::RevokedKey {
                key: key_id,
                revoked_at,
            });
        }
        if matrix.roles_for(event_type).is_none() {
            return Err(AuthError::UnknownEventType(event_type.to_owned()));
        }
        if !matrix.is_allowed(entry.role, event_type) {
            return Err(AuthError::WrongRole {
                key: key_id,
                role: entry.role,
                event_type: event_type.to_owned(),
            });
        }
        match event_type {
            KEY_ENROLLED => {
                let enrol: KeyEnrolledPayload = payload(body, KEY_ENROLLED)?;
                let id = enrol.key.key_id();
                if self.keys.get(&id).is_some_and(|e| e.revoked_at.is_none()) {
                    return Err(AuthError::AlreadyEnrolled(id));
                }
                Ok(KeyEffect::Enrol(enrol))
            }
            KEY_REVOKED => {
                let revoke: KeyRevokedPayload = payload(body, KEY_REVOKED)?;
                let active = self
                    .keys
                    .get(&revoke.key_id)
                    .filter(|e| e.revoked_at.is_none());
                if active.is_none() {
                    return Err(AuthError::NotRevocable(revoke.key_id));
                }
                Ok(KeyEffect::Revoke(revoke.key_id))
            }
            _ => Ok(KeyEffect::None),
        }
    }

    fn authorize_genesis(&self, body: &EventBody) -> Result<KeyEffect, AuthError> {
        if body.event_type.as_str() != GENESIS {
            return Err(AuthError::MissingGenesis(body.event_type.to_string()));
        }
        let genesis: GenesisPayload = payload(body, GENESIS)?;
        if genesis.origin.is_empty()
            || genesis.origin.contains(char::is_whitespace)
            || genesis.origin.contains('+')
        {
            return Err(AuthError::BadGenesis(
                "origin must be a non-empty schema-less URL without spaces or '+'".into(),
            ));
        }
        if !genesis.admins.iter().any(|a| a.key == body.signer) {
            return Err(AuthError::BadGenesis(
                "genesis must be signed by one of the administrators it names".into(),
            ));
        }
        if genesis.admins.iter().any(|a| a.key == genesis.ledger_key) {
            return Err(AuthError::BadGenesis(
                "the ledger key must not also be an administrator key".into(),
            ));
        }
        Ok(KeyEffect::Genesis {
            ledger: body.ledger.clone(),
            payload: genesis,
        })
    }

    /// Applies what a recorded event at `seq` does to the keys.
    pub fn apply(&mut self, seq: Seq, effect: KeyEffect) {
        match effect {
            KeyEffect::None => {}
            KeyEffect::Genesis { ledger, payload } => {
                for admin in &payload.admins {
                    self.keys.insert(
                        admin.key.key_id(),
                        KeyEntry {
                            key: admin.key,
                            role: Role::Administrator,
                            holder: admin.holder.clone(),
                            department: admin.department.clone(),
                            enrolled_at: seq,
                            revoked_at: None,
                        },
                    );
                }
                self.ledger = Some(ledger);
                self.genesis = Some(payload);
            }
            KeyEffect::Enrol(enrol) => {
                self.keys.insert(
                    enrol.key.key_id(),
                    KeyEntry {
                        key: enrol.key,
                        role: enrol.role,
                        holder: enrol.holder,
                        department: enrol.department,
                        enrolled_at: seq,
                        revoked_at: None,
                    },
                );
            }
            KeyEffect::Revoke(id) => {
                if let Some(entry) = self.keys.get_mut(&id) {
                    entry.revoked_at = Some(seq);
                }
            }
        }
    }
}
