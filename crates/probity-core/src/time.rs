//! The two clocks of every record: `occurred_at` (stated by the signer, RFC 3339 with an
//! offset) and `recorded_at` (assigned by the ledger, microseconds since the Unix epoch, UTC).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Why a timestamp was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not RFC 3339 with an explicit offset (`Z` or `+08:00`).
    #[error(
        "invalid timestamp {0:?}: expected RFC 3339 with an offset, e.g. 2026-03-05T09:30:00+08:00"
    )]
    NotRfc3339(String),
    /// Outside the range a record can carry.
    #[error("timestamp {0:?} is out of range")]
    OutOfRange(String),
}

/// When something happened in the world, as the signer states it. Keeps its offset, so a
/// hospital's local time reads back as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OccurredAt(OffsetDateTime);

impl OccurredAt {
    /// Parses RFC 3339 with an offset.
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(OccurredAt)
            .map_err(|_| TimeError::NotRfc3339(text.chars().take(64).collect()))
    }

    /// Wraps a date-time.
    pub fn new(at: OffsetDateTime) -> Self {
        OccurredAt(at)
    }

    /// The instant as a date-time with its original offset.
    pub fn datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// The instant in microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        // Invariant: years are limited to 4 digits by RFC 3339, so this fits in i64 micros.
        (self.0.unix_timestamp_nanos() / 1000) as i64
    }
}

impl fmt::Display for OccurredAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{:?}", self.0),
        }
    }
}

impl Serialize for OccurredAt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OccurredAt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        OccurredAt::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// When the ledger accepted a record: microseconds since the Unix epoch, UTC. Written in JSON
/// as RFC 3339 UTC with exactly six fractional digits (`2026-03-10T02:00:00.000000Z`); hashed
/// as a big-endian i64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordedAt(i64);

impl RecordedAt {
    /// From microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Self {
        RecordedAt(micros)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.0
    }

    /// The current time from the system clock. Engines take a clock instead of calling this.
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        RecordedAt((now.unix_timestamp_nanos() / 1000) as i64)
    }

    /// Parses the RFC 3339 form (any offset and precision; nanoseconds are truncated).
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let at = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| TimeError::NotRfc3339(text.chars().take(64).collect()))?;
        Ok(RecordedAt((at.unix_timestamp_nanos() / 1000) as i64))
    }

    /// As a UTC date-time.
    pub fn datetime(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(UtcOffset::UTC)
    }
}

impl fmt::Display for RecordedAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.datetime();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond()
        )
    }
}

impl Serialize for RecordedAt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordedAt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        RecordedAt::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurred_at_requires_offset() {
        assert!(OccurredAt::parse("2026-03-05T09:30:00+08:00").is_ok());
        assert!(OccurredAt::parse("2026-03-05T09:30:00Z").is_ok());
        assert!(OccurredAt::parse("2026-03-05T09:30:00").is_err());
        assert!(OccurredAt::parse("2026-03-05").is_err());
    }

    #[test]
    fn recorded_at_text_round_trip() {
        let at = RecordedAt::parse("2026-03-10T02:00:00.123456Z").unwrap();
        assert_eq!(at.to_string(), "2026-03-10T02:00:00.123456Z");
        assert_eq!(RecordedAt::parse(&at.to_string()).unwrap(), at);
        let local = RecordedAt::parse("2026-03-10T10:00:00.123456+08:00").unwrap();
        assert_eq!(local, at);
    }
}
