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
    /// A record's `recorded_at` in any text but its one canonical form.
    #[error(
        "recorded_at {0:?} is not in its one form: UTC with six fraction digits, e.g. 2026-03-10T02:00:00.000000Z"
    )]
    NotCanonical(String),
}

/// True when `text` has the shape FORMAT.md §3 allows for `occurred_at`:
/// `YYYY-MM-DDTHH:MM:SS`, an optional `.` and 1–9 digits, then `Z` or `+hh:mm` / `-hh:mm`
/// (upper-case `T` and `Z`; no space, no other precision). RFC 3339 also allows lower case
/// and, by a note, a space: each is one more text of the same instant, so Probity takes none.
fn has_rfc3339_shape(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        || b[10] != b'T'
        || !(digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':' && digits(17..19))
    {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest {
        [b'Z'] => true,
        [sign, h1, h2, b':', m1, m2] => {
            matches!(sign, b'+' | b'-') && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// When something happened in the world, as the signer states it. Keeps its offset, so a
/// hospital's local time reads back as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OccurredAt(OffsetDateTime);

impl OccurredAt {
    /// Parses RFC 3339 with an offset, in the one shape FORMAT.md §3 allows (upper-case `T`
    /// and `Z`, 0–9 fraction digits).
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let refused = || TimeError::NotRfc3339(text.chars().take(64).collect());
        if !has_rfc3339_shape(text) {
            return Err(refused());
        }
        OffsetDateTime::parse(text, &Rfc3339)
            .map(OccurredAt)
            .map_err(|_| refused())
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

    /// The instant `t` (a system time read by the caller: the core reads no clock), to the
    /// microsecond; `None` outside the years 0000–9999 that `recorded_at` can be written in.
    pub fn from_system_time(t: std::time::SystemTime) -> Option<Self> {
        let at = OffsetDateTime::from(t);
        (0..=9999)
            .contains(&at.year())
            .then(|| RecordedAt((at.unix_timestamp_nanos() / 1000) as i64))
    }

    /// Parses a record's `recorded_at`: only its one canonical text
    /// (`2026-03-10T02:00:00.000000Z`) is accepted, so two records cannot state one instant
    /// in two texts under one hash.
    pub fn parse_canonical(text: &str) -> Result<Self, TimeError> {
        let at = RecordedAt::parse(text)?;
        if at.to_string() != text {
            return Err(TimeError::NotCanonical(text.chars().take(64).collect()));
        }
        Ok(at)
    }

    /// Parses a time a person typed (any RFC 3339 offset and precision; nanoseconds are
    /// truncated). Records use [`parse_canonical`](Self::parse_canonical).
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
        RecordedAt::parse_canonical(&text).map_err(serde::de::Error::custom)
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
    fn occurred_at_has_one_shape() {
        for good in [
            "2026-03-05T09:30:00Z",
            "2026-03-05T09:30:00.5+08:00",
            "2026-03-05T09:30:00.123456789-05:00",
        ] {
            assert!(OccurredAt::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "2026-03-05 09:30:00+08:00",
            "2026-03-05t09:30:00+08:00",
            "2026-03-05T09:30:00z",
            "2026-03-05T09:30:00.+08:00",
            "2026-03-05T09:30:00.1234567890Z",
            "2026-03-05T09:30:00+0800",
            "2026-03-05T09:30+08:00",
            "2026-03-05T09:30:00+08:00 ",
            "2026-02-30T09:30:00+08:00",
        ] {
            assert!(OccurredAt::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_record_states_its_time_in_one_text() {
        let canonical = "2026-03-10T02:00:00.123456Z";
        assert!(RecordedAt::parse_canonical(canonical).is_ok());
        for other in [
            "2026-03-10T10:00:00.123456+08:00",
            "2026-03-10T02:00:00.123456z",
            "2026-03-10T02:00:00.123Z",
            "2026-03-10T02:00:00.123456000Z",
            "2026-03-10T02:00:00.123456999Z",
            "2026-03-10 02:00:00.123456Z",
        ] {
            assert!(RecordedAt::parse_canonical(other).is_err(), "{other}");
            let json = format!("\"{other}\"");
            assert!(
                serde_json::from_str::<RecordedAt>(&json).is_err(),
                "{other}"
            );
        }
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
