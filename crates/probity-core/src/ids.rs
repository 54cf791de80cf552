//! Identifier newtypes: sequence numbers, event ids, ledger ids, event types, subject ids.
//!
//! Each is validated when parsed, so a value of the type is always well formed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, too long, or containing a character outside the allowed set.
    #[error("invalid {kind} {value:?}: {rule}")]
    Invalid {
        /// Which identifier (for example "event id").
        kind: &'static str,
        /// The offending text, truncated for display.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
}

fn invalid(kind: &'static str, value: &str, rule: &'static str) -> IdError {
    IdError::Invalid {
        kind,
        value: value.chars().take(80).collect(),
        rule,
    }
}

/// A record's position in the ledger; the genesis record is 0. Also its Merkle leaf index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    /// The next sequence number.
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal, $check:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let check: fn(&str) -> bool = $check;
                if value.is_empty() || value.len() > $max || !check(&value) {
                    return Err(invalid($kind, &value, $rule));
                }
                Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::new(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

string_id!(
    /// The client-chosen id of an event (a UUID or ULID, say); the ledger never accepts two
    /// different events with one id, which makes retries idempotent.
    EventId,
    "event id",
    128,
    |s| s.chars().all(is_token_char),
    "1-128 characters from A-Z a-z 0-9 - _ . :"
);

string_id!(
    /// The id of one ledger (one hospital's book), e.g. `city-hospital-3`.
    LedgerId,
    "ledger id",
    64,
    |s| s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-'),
    "1-64 characters from a-z 0-9 -, not starting with -"
);

string_id!(
    /// An event type name: lowercase dotted words in the past tense, e.g. `supplier.admitted`.
    EventType,
    "event type",
    96,
    |s| s.split('.').count() >= 2
        && s.split('.').all(|part| !part.is_empty()
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')),
    "two or more dot-separated words of a-z 0-9 _"
);

string_id!(
    /// The id of a subject an event concerns: a supplier's USCC, a rep's filing number, a
    /// purchase case number or a staff number.
    SubjectId,
    "subject id",
    64,
    |s| s.chars().all(is_token_char),
    "1-64 characters from A-Z a-z 0-9 - _ . :"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_validate() {
        assert!(EventId::new("01J9Z8-abc:1").is_ok());
        assert!(EventId::new("").is_err());
        assert!(EventId::new("a b").is_err());
        assert!(EventId::new("x".repeat(129)).is_err());
        assert!(LedgerId::new("city-hospital-3").is_ok());
        assert!(LedgerId::new("City").is_err());
        assert!(LedgerId::new("-x").is_err());
        assert!(EventType::new("supplier.admitted").is_ok());
        assert!(EventType::new("supplier").is_err());
        assert!(EventType::new("supplier..admitted").is_err());
        assert!(EventType::new("Supplier.Admitted").is_err());
    }

    #[test]
    fn error_names_the_identifier() {
        let err = LedgerId::new("Bad Ledger").unwrap_err();
        assert!(err.to_string().contains("ledger id"), "{err}");
    }
}
