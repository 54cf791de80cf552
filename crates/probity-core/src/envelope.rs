//! The signed event: an event body (JSON) in a DSSE envelope with one strict Ed25519 signature.
//!
//! The signature covers the DSSE pre-authentication encoding of the body's exact bytes:
//!
//! ```text
//! "DSSEv1" SP len(payloadType) SP payloadType SP len(body) SP body
//! ```
//!
//! (lengths in ASCII decimal). Signing exact bytes rather than re-canonicalised JSON means a
//! verifier in any language needs no JSON canonicaliser and cannot disagree with us about
//! number formatting or key order; `schemas/FORMAT.md` gives the reasons in full.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{EventId, EventType, LedgerId, SubjectId};
use crate::keys::{KeyError, KeyId, PublicKey, SecretKey, Signature};
use crate::time::OccurredAt;

/// The DSSE `payloadType` of a Probity event body, version 1.
pub const PAYLOAD_TYPE: &str = "application/vnd.probity.event.v1+json";

/// The largest event body the ledger accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why an envelope or its body was rejected. Every variant names the problem precisely
/// enough for a clerk's tool to show it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The envelope is not the DSSE JSON object this format requires.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(String),
    /// `payloadType` is not [`PAYLOAD_TYPE`].
    #[error("unsupported payloadType {0:?}; expected {PAYLOAD_TYPE:?}")]
    PayloadType(String),
    /// Exactly one signature is required.
    #[error("envelope has {0} signatures; exactly one is required")]
    SignatureCount(usize),
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("event body is {size} bytes; the limit is {max}")]
    TooLarge {
        /// Size of the body.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The body is not valid JSON, or violates the body schema (the message names the field).
    #[error("malformed event body: {0}")]
    MalformedBody(String),
    /// An object in the body repeats a key, which parsers resolve differently.
    #[error("event body repeats the key {0:?}")]
    DuplicateKey(String),
    /// `payload` is not a JSON object.
    #[error("event payload must be a JSON object")]
    PayloadNotObject,
    /// `schema` is 0.
    #[error("event schema version must be 1 or more")]
    SchemaVersion,
    /// The envelope's `keyid` is not the id of the body's `signer`.
    #[error("envelope keyid {envelope} does not match the signer's key id {signer}")]
    KeyIdMismatch {
        /// The key id the envelope names.
        envelope: KeyId,
        /// The key id of the body's signer.
        signer: KeyId,
    },
    /// The signature or a key is malformed or does not verify.
    #[error(transparent)]
    Signature(#[from] KeyError),
}

/// What an event concerns, for indexing and for investigators' filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subjects {
    /// Suppliers, by unified social credit code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supplier: Vec<SubjectId>,
    /// Sales representatives, by filing number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rep: Vec<SubjectId>,
    /// Purchase cases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub case: Vec<SubjectId>,
    /// Hospital staff.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff: Vec<SubjectId>,
}

impl Subjects {
    /// True when the event names no subject.
    pub fn is_empty(&self) -> bool {
        self.supplier.is_empty()
            && self.rep.is_empty()
            && self.case.is_empty()
            && self.staff.is_empty()
    }
}

/// The body of an event: everything its signer states, all of it signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// Chosen by the client; the same id can be appended once only.
    pub id: EventId,
    /// What happened, e.g. `supplier.admitted`.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Version of the payload schema of `event_type`, from 1.
    pub schema: u32,
    /// The ledger this event is meant for; another ledger refuses it.
    pub ledger: LedgerId,
    /// The suppliers, reps, cases and staff the event concerns.
    #[serde(default, skip_serializing_if = "Subjects::is_empty")]
    pub subjects: Subjects,
    /// When it happened in the world, as the signer states it.
    pub occurred_at: OccurredAt,
    /// The public key of the person who records it.
    pub signer: PublicKey,
    /// The event-type specific content (a JSON object).
    pub payload: Payload,
}

/// The event-type specific content of a body: a JSON object, kept as the exact text that
/// was signed and parsed into a typed payload only by whoever needs it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Payload(Box<serde_json::value::RawValue>);

impl Payload {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Parses into a typed payload in its one accepted form (objects as objects, no repeated
    /// key; see [`strict_json`](crate::strict_json)); the error names the field.
    pub fn parse<T: de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        crate::strict_json::from_str(self.0.get())
    }

    /// Serializes a typed payload.
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Payload, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Payload)
    }

    /// True when the text is a JSON object.
    pub fn is_object(&self) -> bool {
        self.0.get().trim_start().starts_with('{')
    }
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Self {
        // Invariant: a `Value` always serializes (its map keys are strings). A payload is
        // signed: an empty fallback would sign something the caller never gave.
        Payload::from_serialize(&value).expect("a JSON value always serializes")
    }
}

impl Payload {
    /// `{}`.
    pub fn empty() -> Payload {
        // Invariant: "{}" is valid JSON.
        Payload(serde_json::value::RawValue::from_string("{}".to_owned()).expect("{} is JSON"))
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EventBody {
    /// Parses and checks body bytes: size, no duplicate keys, the body schema, payload an object.
    pub fn parse(bytes: &[u8]) -> Result<EventBody, EnvelopeError> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(EnvelopeError::TooLarge {
                size: bytes.len(),
                max: MAX_BODY_BYTES,
            });
        }
        reject_duplicate_keys(bytes)?;
        let body: EventBody = crate::strict_json::from_slice(bytes)
            .map_err(|e| EnvelopeError::MalformedBody(e.to_string()))?;
        if body.schema == 0 {
            return Err(EnvelopeError::SchemaVersion);
        }
        if !body.payload.is_object() {
            return Err(EnvelopeError::PayloadNotObject);
        }
        Ok(body)
    }

    /// The body's bytes as this library writes them (compact JSON, fields in declaration
    /// order). Any byte string that parses is as valid; what is signed is the bytes themselves.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Invariant: every field serializes infallibly (strings, numbers, a JSON value). These
        // bytes are signed: an empty fallback would be signed too, so fail loudly instead.
        serde_json::to_vec(self).expect("an event body always serializes")
    }
}

/// DSSE pre-authentication encoding of `body` under `payload_type`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

/// A signed event as it travels and as it is stored: the body's exact bytes, the signer's key
/// id (a hint, checked against the body) and the signature. Nothing is checked on
/// construction; [`SignedEvent::open`] checks everything that can be checked without the
/// ledger's state.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedEvent {
    body: Vec<u8>,
    keyid: KeyId,
    signature: Signature,
}

impl SignedEvent {
    /// Signs `body` with `key`, which must be the body's `signer`.
    pub fn sign(body: &EventBody, key: &SecretKey) -> SignedEvent {
        SignedEvent::sign_bytes(body.to_bytes(), key)
    }

    /// Signs body bytes as they are (the caller vouches they are a body).
    pub fn sign_bytes(body: Vec<u8>, key: &SecretKey) -> SignedEvent {
        let signature = key.sign(&pae(PAYLOAD_TYPE, &body));
        SignedEvent {
            body,
            keyid: key.public_key().key_id(),
            signature,
        }
    }

    /// Assembles an envelope from its parts, unchecked.
    pub fn from_parts(body: Vec<u8>, keyid: KeyId, signature: Signature) -> SignedEvent {
        SignedEvent {
            body,
            keyid,
            signature,
        }
    }

    /// The exact body bytes that were signed.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The key id the envelope names.
    pub fn keyid(&self) -> KeyId {
        self.keyid
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Parses the body and verifies the signature strictly against the body's `signer`.
    /// Says nothing about whether that key may record this event: that depends on the ledger.
    pub fn open(&self) -> Result<AuthenticEvent, EnvelopeError> {
        let body = EventBody::parse(&self.body)?;
        let signer_id = body.signer.key_id();
        if signer_id != self.keyid {
            return Err(EnvelopeError::KeyIdMismatch {
                envelope: self.keyid,
                signer: signer_id,
            });
        }
        body.signer
            .verify(&pae(PAYLOAD_TYPE, &self.body), &self.signature)?;
        Ok(AuthenticEvent {
            event: self.clone(),
            body,
        })
    }

    /// Parses the DSSE JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<SignedEvent, EnvelopeError> {
        crate::strict_json::from_slice(bytes)
            .map_err(|e| EnvelopeError::MalformedEnvelope(e.to_string()))
    }

    /// The DSSE JSON form.
    pub fn to_json(&self) -> Vec<u8> {
        // Invariant: the wire struct has only strings and serializes infallibly.
        serde_json::to_vec(self).expect("an envelope always serializes")
    }
}

impl fmt::Debug for SignedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedEvent")
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("keyid", &self.keyid)
            .field("signature", &self.signature)
            .finish()
    }
}

/// An event whose body parsed and whose signature verified under its stated signer: the
/// signed event together with its parsed body. Only [`SignedEvent::open`] makes one.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthenticEvent {
    event: SignedEvent,
    body: EventBody,
}

impl AuthenticEvent {
    /// The parsed body.
    pub fn body(&self) -> &EventBody {
        &self.body
    }

    /// The signed event as received.
    pub fn signed(&self) -> &SignedEvent {
        &self.event
    }

    /// The parsed body, by value.
    pub fn into_body(self) -> EventBody {
        self.body
    }

    /// The signed event, by value.
    pub fn into_signed(self) -> SignedEvent {
        self.event
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    keyid: String,
    sig: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<WireSignature>,
}

impl Serialize for SignedEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireEnvelope {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload: B64.encode(&self.body),
            signatures: vec![WireSignature {
                keyid: self.keyid.to_hex(),
                sig: self.signature.to_base64(),
            }],
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SignedEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireEnvelope::deserialize(deserializer)?;
        SignedEvent::try_from(wire).map_err(de::Error::custom)
    }
}

impl TryFrom<WireEnvelope> for SignedEvent {
    type Error = EnvelopeError;

    fn try_from(wire: WireEnvelope) -> Result<Self, Self::Error> {
        if wire.payload_type != PAYLOAD_TYPE {
            return Err(EnvelopeError::PayloadType(wire.payload_type));
        }
        let [signature] = <[WireSignature; 1]>::try_from(wire.signatures)
            .map_err(|sigs| EnvelopeError::SignatureCount(sigs.len()))?;
        // A base64 payload is at most 4/3 of the body: refuse before decoding a huge one.
        if wire.payload.len() > MAX_BODY_BYTES / 3 * 4 + 4 {
            return Err(EnvelopeError::TooLarge {
                size: wire.payload.len() / 4 * 3,
                max: MAX_BODY_BYTES,
            });
        }
        let body = B64.decode(wire.payload.as_bytes()).map_err(|_| {
            EnvelopeError::MalformedEnvelope("payload is not standard base64".into())
        })?;
        Ok(SignedEvent {
            body,
            keyid: KeyId::from_hex(&signature.keyid)?,
            signature: Signature::from_base64(&signature.sig)?,
        })
    }
}

/// Walks the JSON once and fails on the first object that repeats a key.
fn reject_duplicate_keys(bytes: &[u8]) -> Result<(), EnvelopeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match NoDuplicates.deserialize(&mut de).and_then(|()| de.end()) {
        Ok(()) => Ok(()),
        Err(e) => {
            let message = e.to_string();
            match message.strip_prefix(DUPLICATE_PREFIX) {
                Some(rest) => {
                    let key = rest.split(" at line").next().unwrap_or(rest);
                    Err(EnvelopeError::DuplicateKey(key.to_owned()))
                }
                None => Err(EnvelopeError::MalformedBody(message)),
            }
        }
    }
}

const DUPLICATE_PREFIX: &str = "duplicate key ";

#[derive(Clone, Copy)]
struct NoDuplicates;

impl<'de> DeserializeSeed<'de> for NoDuplicates {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicates {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Objects in events are small: a linear scan without hashing, until one is not.
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(key)) = map.next_key_seed(KeySeed)? {
            let repeated = if many.is_empty() && few.len() < 16 {
                few.contains(&key)
            } else {
                many.extend(few.drain(..));
                many.contains(&key)
            };
            if repeated {
                return Err(de::Error::custom(format_args!("{DUPLICATE_PREFIX}{key}")));
            }
            if many.is_empty() {
                few.push(key);
            } else {
                many.insert(key);
            }
            map.next_value_seed(NoDuplicates)?;
        }
        Ok(())
    }
}

/// An object key, borrowed from the input unless it had escapes.
struct Key<'de>(Cow<'de, str>);

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(key: &SecretKey) -> EventBody {
        EventBody {
            id: EventId::new("ev-1").unwrap(),
            event_type: EventType::new("supplier.admitted").unwrap(),
            schema: 1,
            ledger: LedgerId::new("hospital-a").unwrap(),
            subjects: Subjects::default(),
            occurred_at: OccurredAt::parse("2026-03-05T09:30:00+08:00").unwrap(),
            signer: key.public_key(),
            payload: serde_json::json!({"decision": "admitted"}).into(),
        }
    }

    #[test]
    fn pae_matches_dsse_example() {
        // The DSSE specification's worked example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_open_round_trip_through_json() {
        let key = SecretKey::from_seed(&[1; 32]);
        let signed = SignedEvent::sign(&body(&key), &key);
        let parsed = SignedEvent::from_json(&signed.to_json()).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(parsed.open().unwrap().body(), &body(&key));
    }

    #[test]
    fn tampered_body_fails_signature() {
        let key = SecretKey::from_seed(&[1; 32]);
        let signed = SignedEvent::sign(&body(&key), &key);
        let mut bytes = signed.body_bytes().to_vec();
        let at = bytes.iter().position(|&b| b == b'1').unwrap();
        bytes[at] = b'2';
        let forged = SignedEvent::from_parts(bytes, signed.keyid(), *signed.signature());
        assert_eq!(
            forged.open().unwrap_err(),
            EnvelopeError::Signature(KeyError::BadSignature)
        );
    }

    #[test]
    fn duplicate_keys_are_named() {
        let err = EventBody::parse(br#"{"id":"a","id":"b"}"#).unwrap_err();
        assert_eq!(err, EnvelopeError::DuplicateKey("id".into()));
        let nested = EventBody::parse(br#"{"payload":{"x":[{"k":1,"k":2}]}}"#).unwrap_err();
        assert_eq!(nested, EnvelopeError::DuplicateKey("k".into()));
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let key = SecretKey::from_seed(&[1; 32]);
        let mut value = serde_json::to_value(body(&key)).unwrap();
        value["colour"] = "red".into();
        let err = EventBody::parse(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        value.as_object_mut().unwrap().remove("colour");
        value.as_object_mut().unwrap().remove("occurred_at");
        let err = EventBody::parse(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(err.to_string().contains("occurred_at"), "{err}");
    }

    #[test]
    fn envelope_shape_is_enforced() {
        let key = SecretKey::from_seed(&[1; 32]);
        let signed = SignedEvent::sign(&body(&key), &key);
        let mut value: serde_json::Value = serde_json::from_slice(&signed.to_json()).unwrap();
        value["payloadType"] = "text/plain".into();
        let err = SignedEvent::from_json(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(err.to_string().contains("payloadType"), "{err}");
        value["payloadType"] = PAYLOAD_TYPE.into();
        let sig = value["signatures"][0].clone();
        value["signatures"] = serde_json::json!([sig.clone(), sig]);
        let err = SignedEvent::from_json(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(err.to_string().contains("2 signatures"), "{err}");
    }

    #[test]
    fn oversized_body_is_refused_before_parsing() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            EventBody::parse(&big),
            Err(EnvelopeError::TooLarge { .. })
        ));
    }
}
