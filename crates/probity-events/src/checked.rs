//! A checked event: everything about a signed event that can be checked without the ledger's
//! state, done once — envelope, strict signature, body, payload against the catalogue, and the
//! subjects the payload names against those the body lists. The writer carries it to the
//! ledger's rules, so nothing is opened or parsed twice.

use probity_core::envelope::{AuthenticEvent, EnvelopeError, EventBody, SignedEvent};
use probity_core::subject::Subject;

use crate::catalogue::{decode_body, DecodeError, Event};

/// A signed event that opened, verified and decoded (see the module).
#[derive(Clone, Debug)]
pub struct CheckedEvent {
    authentic: AuthenticEvent,
    event: Event,
    named: Vec<Subject>,
}

/// Why a signed event is not a valid event.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckError {
    /// The envelope, signature or body.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The payload against the catalogue, or the subjects.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl CheckedEvent {
    /// Opens `signed` (strict signature) and decodes its payload.
    pub fn check(signed: &SignedEvent) -> Result<CheckedEvent, CheckError> {
        Ok(CheckedEvent::decode(signed.open()?)?)
    }

    /// Decodes the payload of an event already opened.
    pub fn decode(authentic: AuthenticEvent) -> Result<CheckedEvent, DecodeError> {
        let (event, named) = decode_body(authentic.body())?;
        Ok(CheckedEvent {
            authentic,
            event,
            named,
        })
    }

    /// The authentic envelope.
    pub fn authentic(&self) -> &AuthenticEvent {
        &self.authentic
    }

    /// The body.
    pub fn body(&self) -> &EventBody {
        self.authentic.body()
    }

    /// The decoded payload.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The subjects the payload names (each also listed in the body's `subjects`).
    pub fn named(&self) -> &[Subject] {
        &self.named
    }

    /// The authentic envelope, for the ledger's rules.
    pub fn into_authentic(self) -> AuthenticEvent {
        self.authentic
    }
}
