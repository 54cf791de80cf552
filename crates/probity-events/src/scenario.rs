//! Scenario fixtures: a ledger's story as a JSON file of unsigned events by named actors,
//! turned into signed events ready to append. Used by the tests, the benchmarks and the demo.
//!
//! ```json
//! {"ledger": "city-hospital-3", "origin": "probity.example/city-hospital-3",
//!  "description": "…",
//!  "actors": {"clerk-zhou": "clerk", "do-chen": "discipline_office"},
//!  "events": [{"id": "e1", "type": "supplier.registered", "as": "clerk-zhou",
//!              "occurred_at": "2026-01-05T09:00:00+08:00", "payload": {…}}]}
//! ```
//!
//! An administrator `admin` is implicit: the loader records genesis and each actor's key
//! enrolment one day before the first event. `recorded_at` defaults to one minute after
//! `occurred_at`; events are appended in `recorded_at` order. `subjects` defaults to what the
//! payload names. Actors' keys derive from the ledger id and alias (`SHA-256("probity-scenario-key\n"
//! ‖ ledger ‖ "\n" ‖ alias)`): fixture keys, never for real use.

use std::collections::{BTreeMap, BTreeSet};

use probity_core::envelope::{EventBody, Payload, SignedEvent, Subjects};
use probity_core::ids::{EventId, EventType, LedgerId, SubjectId};
use probity_core::keys::SecretKey;
use probity_core::roles::{Role, GENESIS, KEY_ENROLLED};
use probity_core::time::{OccurredAt, RecordedAt};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::catalogue::{implied_subjects, validate_body, DecodeError};
use probity_core::subject::Subject;

/// Why a scenario could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file is not a scenario.
    #[error("scenario does not parse: {0}")]
    Parse(#[from] serde_json::Error),
    /// An event names an actor the scenario does not declare.
    #[error("event {event}: unknown actor {actor:?}")]
    UnknownActor {
        /// The event.
        event: String,
        /// The alias.
        actor: String,
    },
    /// Two events share an id.
    #[error("event id {0} is used twice")]
    DuplicateId(String),
    /// An event's envelope fields are invalid.
    #[error("event {event}: {message}")]
    Field {
        /// The event.
        event: String,
        /// What is wrong.
        message: String,
    },
    /// An event's payload is invalid.
    #[error("event {event}: {error}")]
    Payload {
        /// The event.
        event: String,
        /// What is wrong.
        error: DecodeError,
    },
}

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Ledger id.
    pub ledger: String,
    /// Checkpoint origin.
    pub origin: String,
    /// What the scenario shows.
    pub description: String,
    /// Actor aliases and their roles (`admin` is implicit).
    pub actors: BTreeMap<String, Role>,
    /// The events, in any order.
    pub events: Vec<ScenarioEvent>,
}

fn one() -> u32 {
    1
}

/// One event of a scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioEvent {
    /// Event id.
    pub id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Schema version (default 1).
    #[serde(default = "one")]
    pub schema: u32,
    /// The actor who signs it.
    #[serde(rename = "as")]
    pub actor: String,
    /// When it happened.
    pub occurred_at: String,
    /// When the ledger records it (default: one minute after it happened).
    #[serde(default)]
    pub recorded_at: Option<String>,
    /// Extra subjects (those the payload names are added).
    #[serde(default)]
    pub subjects: Option<Subjects>,
    /// The payload.
    pub payload: Value,
}

/// A scenario turned into signed events.
#[derive(Debug)]
pub struct Prepared {
    /// Ledger id.
    pub ledger: LedgerId,
    /// Checkpoint origin.
    pub origin: String,
    /// Signed events with the time the ledger records each, in recording order.
    pub events: Vec<(SignedEvent, RecordedAt)>,
    /// The ledger's checkpoint key.
    pub ledger_key: SecretKey,
    /// Every actor's key, `admin` included.
    pub keys: BTreeMap<String, SecretKey>,
}

/// The fixture key of `alias` in `ledger`.
pub fn actor_key(ledger: &str, alias: &str) -> SecretKey {
    let digest = Sha256::new()
        .chain_update(b"probity-scenario-key\n")
        .chain_update(ledger.as_bytes())
        .chain_update(b"\n")
        .chain_update(alias.as_bytes())
        .finalize();
    SecretKey::from_seed(&digest.into())
}

const MINUTE: i64 = 60_000_000;
const DAY: i64 = 24 * 60 * MINUTE;

impl Scenario {
    /// Parses a scenario file.
    pub fn parse(json: &str) -> Result<Scenario, ScenarioError> {
        Ok(serde_json::from_str(json)?)
    }

    /// Signs every event (genesis and enrolments first) with the fixture keys
    /// ([`actor_key`]) and orders them for appending.
    pub fn prepare(&self) -> Result<Prepared, ScenarioError> {
        self.prepare_with_keys(|alias| actor_key(&self.ledger, alias))
    }

    /// As [`prepare`](Self::prepare), with the key of each alias (`ledger`, `admin` and the
    /// actors) from `key_of` (e.g. freshly generated keys for a demo ledger someone will go
    /// on using).
    pub fn prepare_with_keys(
        &self,
        mut key_of: impl FnMut(&str) -> SecretKey,
    ) -> Result<Prepared, ScenarioError> {
        let field = |event: &str, message: String| ScenarioError::Field {
            event: event.to_owned(),
            message,
        };
        let ledger = LedgerId::new(&self.ledger).map_err(|e| field("(scenario)", e.to_string()))?;
        let ledger_key = key_of("ledger");
        let mut keys: BTreeMap<String, SecretKey> = BTreeMap::new();
        keys.insert("admin".into(), key_of("admin"));
        for alias in self.actors.keys() {
            keys.insert(alias.clone(), key_of(alias));
        }

        let mut timed = Vec::new();
        for event in &self.events {
            let occurred = OccurredAt::parse(&event.occurred_at)
                .map_err(|e| field(&event.id, e.to_string()))?;
            let recorded = match &event.recorded_at {
                Some(text) => {
                    RecordedAt::parse(text).map_err(|e| field(&event.id, e.to_string()))?
                }
                None => RecordedAt::from_unix_micros(occurred.unix_micros() + MINUTE),
            };
            timed.push((event, occurred, recorded));
        }
        let start = timed
            .iter()
            .map(|(_, occurred, _)| occurred.unix_micros())
            .min()
            .unwrap_or(0)
            - DAY;
        let at = |micros: i64| -> Result<OccurredAt, ScenarioError> {
            let text = RecordedAt::from_unix_micros(micros).to_string();
            OccurredAt::parse(&text).map_err(|e| field("(setup)", e.to_string()))
        };

        let mut out = Vec::new();
        let admin = &keys["admin"];
        let body = |id: String,
                    event_type: &str,
                    signer: &SecretKey,
                    occurred: OccurredAt,
                    subjects: Subjects,
                    payload: Value| {
            Ok::<_, ScenarioError>(EventBody {
                id: EventId::new(id.as_str()).map_err(|e| field(&id, e.to_string()))?,
                event_type: EventType::new(event_type).map_err(|e| field(&id, e.to_string()))?,
                schema: 1,
                ledger: ledger.clone(),
                subjects,
                occurred_at: occurred,
                signer: signer.public_key(),
                payload: Payload::from(payload),
            })
        };

        let genesis = body(
            format!("{}-genesis", self.ledger),
            GENESIS,
            admin,
            at(start)?,
            Subjects::default(),
            json!({"origin": self.origin, "ledger_key": ledger_key.public_key(),
                   "admins": [{"key": admin.public_key(), "holder": "admin"}]}),
        )?;
        out.push((
            SignedEvent::sign(&genesis, admin),
            RecordedAt::from_unix_micros(start),
        ));
        for (i, (alias, role)) in self.actors.iter().enumerate() {
            let t = start + (i as i64 + 1) * MINUTE;
            let enrol = body(
                format!("{}-enrol-{alias}", self.ledger),
                KEY_ENROLLED,
                admin,
                at(t)?,
                Subjects::default(),
                json!({"key": keys[alias].public_key(), "role": role, "holder": alias}),
            )?;
            out.push((
                SignedEvent::sign(&enrol, admin),
                RecordedAt::from_unix_micros(t),
            ));
        }

        let mut ids = BTreeSet::new();
        timed.sort_by_key(|(_, _, recorded)| *recorded);
        for (event, occurred, recorded) in timed {
            if !ids.insert(event.id.as_str()) {
                return Err(ScenarioError::DuplicateId(event.id.clone()));
            }
            let signer = keys
                .get(&event.actor)
                .ok_or_else(|| ScenarioError::UnknownActor {
                    event: event.id.clone(),
                    actor: event.actor.clone(),
                })?;
            let mut subjects = event.subjects.clone().unwrap_or_default();
            for (kind, id) in implied_subjects(&event.payload) {
                let id = SubjectId::new(id).map_err(|e| field(&event.id, e.to_string()))?;
                subjects.add(Subject::new(kind, id));
            }
            let mut event_body = body(
                event.id.clone(),
                &event.event_type,
                signer,
                occurred,
                subjects,
                event.payload.clone(),
            )?;
            event_body.schema = event.schema;
            validate_body(&event_body).map_err(|error| ScenarioError::Payload {
                event: event.id.clone(),
                error,
            })?;
            out.push((SignedEvent::sign(&event_body, signer), recorded));
        }
        Ok(Prepared {
            ledger,
            origin: self.origin.clone(),
            events: out,
            ledger_key,
            keys,
        })
    }
}
