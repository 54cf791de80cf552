//! Every error code a Probity service sends, in one enum: ledgerd's (`schemas/PROTOCOL.md`),
//! projectord's queries (`schemas/QUERIES.md`), the HTTP API's (`schemas/HTTP.md`), and what a client sees. Written kebab-case on
//! the wire; a code this build does not know (a newer server) reads as [`ErrorCode::Other`]
//! with its text kept, so an old client still shows it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// An error code (see the module).
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this build does not know, as sent.
            Other(String),
        }

        impl ErrorCode {
            /// Every code this build knows, in the order the protocol documents list them.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Other(code) => code,
                }
            }

            /// The code written `text` (an unknown one as [`ErrorCode::Other`]).
            pub fn parse(text: &str) -> ErrorCode {
                match text {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

codes! {
    /// The request is not JSON.
    MalformedJson = "malformed-json",
    /// JSON of the wrong shape (the message names the member).
    MalformedRequest = "malformed-request",
    /// The request or the event body exceeds its limit.
    TooLarge = "too-large",
    /// A batch holds more than 256 events.
    TooMany = "too-many",
    /// The DSSE envelope is wrong (payload type, number of signatures, base64).
    MalformedEnvelope = "malformed-envelope",
    /// The event body is not valid (the message names the field).
    MalformedBody = "malformed-body",
    /// An object in the body repeats a key.
    DuplicateKey = "duplicate-key",
    /// The signer's public key is malformed, non-canonical or small-order, or `keyid` does not
    /// match it.
    BadKey = "bad-key",
    /// The signature does not verify strictly.
    BadSignature = "bad-signature",
    /// The catalogue has no such event type.
    UnknownEventType = "unknown-event-type",
    /// No such schema version of the type.
    UnsupportedSchema = "unsupported-schema",
    /// The payload breaks its schema or a rule (the message names the field).
    SchemaViolation = "schema-violation",
    /// The body's `subjects` do not name what the payload concerns.
    MissingSubject = "missing-subject",
    /// The event id was used before for different content.
    IdConflict = "id-conflict",
    /// An expected stream version did not match.
    VersionMismatch = "version-mismatch",
    /// The signer's key is not enrolled.
    UnknownKey = "unknown-key",
    /// The signer's key was revoked.
    RevokedKey = "revoked-key",
    /// The signer's role may not record this type.
    WrongRole = "wrong-role",
    /// The event names another ledger.
    WrongLedger = "wrong-ledger",
    /// `occurred_at` is too far in the future.
    ClockSkew = "clock-skew",
    /// An invalid genesis, enrolment or revocation.
    Governance = "governance",
    /// An invalid `expect` stream name.
    BadRequest = "bad-request",
    /// No checkpoint (at that size) exists.
    NoCheckpoint = "no-checkpoint",
    /// A cosigned note's text is not the ledger's checkpoint of that size.
    OtherCheckpoint = "other-checkpoint",
    /// A proof was asked beyond the ledger's size or with impossible sizes.
    BadProofRequest = "bad-proof-request",
    /// The ledger is a read-only copy (imported from an export): it signs and keeps nothing new.
    ReadOnly = "read-only",
    /// The ledger is shutting down or stopped after a storage failure.
    Unavailable = "unavailable",
    /// The service is at its limit: nothing was done; try again shortly.
    Busy = "busy",
    /// The book could not be written; nothing was acknowledged.
    Storage = "storage",
    /// A bug; please report it.
    Internal = "internal",
    /// A query's moment is not a time (queries).
    BadTime = "bad-time",
    /// A findings query names no rule the projector has (queries).
    UnknownRule = "unknown-rule",
    /// No such query (queries).
    UnknownQuery = "unknown-query",
    /// The ledger names no such subject (queries).
    NotFound = "not-found",
    /// A timeline query's subject kind is not supplier, rep, case or staff (queries).
    UnknownSubject = "unknown-subject",
    /// No credentials, or ones the server does not know (HTTP).
    Unauthenticated = "unauthenticated",
    /// The caller's role may not do this (HTTP).
    Forbidden = "forbidden",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl schemars::JsonSchema for ErrorCode {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Open: a newer server may send a code this build does not know.
        schemars::json_schema!({
            "type": "string",
            "description": "A kebab-case error code (PROTOCOL.md, QUERIES.md, HTTP.md)",
            "pattern": "^[a-z]+(-[a-z]+)*$"
        })
    }
}

/// Compares with the code as written, as scripts do.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ErrorCode, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(ErrorCode::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_as_written_and_an_unknown_one_is_kept() {
        for code in ErrorCode::KNOWN {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *code);
        }
        let newer: ErrorCode = serde_json::from_str("\"rate-limited\"").unwrap();
        assert_eq!(newer, ErrorCode::Other("rate-limited".into()));
        assert_eq!(serde_json::to_string(&newer).unwrap(), "\"rate-limited\"");
    }

    /// The protocol documents list every code the services send, and nothing else.
    #[test]
    fn the_protocol_documents_list_exactly_these_codes() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/");
        let mut documented = std::collections::BTreeSet::new();
        for doc in ["PROTOCOL.md", "QUERIES.md", "HTTP.md"] {
            let text = std::fs::read_to_string(format!("{root}{doc}")).unwrap();
            // Error tables: rows whose first cell is a code in backticks, under a "code" header.
            let mut in_codes = false;
            for line in text.lines() {
                if line.starts_with("| code") {
                    in_codes = true;
                } else if !line.starts_with('|') {
                    in_codes = false;
                } else if in_codes {
                    if let Some(code) = line.split('`').nth(1) {
                        documented.insert(code.to_owned());
                    }
                }
            }
        }
        let known: std::collections::BTreeSet<String> = ErrorCode::KNOWN
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        assert_eq!(documented, known);
    }
}
