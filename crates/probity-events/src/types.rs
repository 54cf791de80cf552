//! Value types shared by the events: identifiers with checked syntax (the USCC with its check
//! character), money in fen, RFC 3339 timestamps, periods.

use std::borrow::Cow;
use std::fmt;

use probity_core::time::OccurredAt;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};
use time::{Date, Month, OffsetDateTime};

/// Why a value was rejected; serde reports it with the path of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from
/// `0-9 A-H J-N P-R T U W-Y`, the last a check character over the first 17.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Uscc(String);

impl Uscc {
    /// Validates syntax and the check character.
    pub fn new(code: &str) -> Result<Uscc, ValueError> {
        let bytes = code.as_bytes();
        if bytes.len() != 18 {
            return Err(ValueError(format!(
                "USCC {code:?} must have 18 characters, has {}",
                code.chars().count()
            )));
        }
        let mut values = [0u32; 18];
        for (i, b) in bytes.iter().enumerate() {
            values[i] = USCC_CHARS.iter().position(|c| c == b).ok_or_else(|| {
                ValueError(format!(
                    "USCC {code:?} has {:?} at position {}, not one of 0-9 A-H J-N P-R T U W-Y",
                    char::from(*b),
                    i + 1
                ))
            })? as u32;
        }
        let sum: u32 = values[..17]
            .iter()
            .zip(USCC_WEIGHTS)
            .map(|(v, w)| v * w)
            .sum();
        let check = (31 - sum % 31) % 31;
        if values[17] != check {
            return Err(ValueError(format!(
                "USCC {code:?} fails its check character: expected {:?}",
                char::from(USCC_CHARS[check as usize])
            )));
        }
        Ok(Uscc(code.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Uscc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        Uscc::new(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Uscc {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Uscc".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Unified social credit code (GB 32100-2015); the 18th character is a check character over the first 17",
            "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"
        })
    }
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates: 1-64 characters from `A-Z a-z 0-9 - _ . :`.
            pub fn new(text: &str) -> Result<Self, ValueError> {
                if text.is_empty()
                    || text.len() > $max
                    || !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
                {
                    return Err(ValueError(format!(
                        concat!($what, " {:?} must be 1-", stringify!($max), " characters from A-Z a-z 0-9 - _ . :"),
                        text
                    )));
                }
                Ok(Self(text.to_owned()))
            }

            /// The id.
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
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <Cow<'de, str>>::deserialize(d)?;
                Self::new(&text).map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "description": $what,
                    "pattern": concat!("^[A-Za-z0-9_.:-]{1,", stringify!($max), "}$")
                })
            }
        }
    };
}

text_id!(
    /// A hospital staff number.
    StaffId, "staff id", 64
);
text_id!(
    /// A sales representative's filing (备案) number.
    FilingNumber, "rep filing number", 64
);
text_id!(
    /// A purchase case number.
    CaseId, "purchase case id", 64
);
text_id!(
    /// An identifier the hospital assigns (sanction, visit, contract, plan, decision…).
    RefId, "reference id", 64
);

/// A non-empty line of free text, at most 2,000 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// Validates.
    pub fn new(text: &str) -> Result<Text, ValueError> {
        if text.trim().is_empty() {
            return Err(ValueError("must not be empty".into()));
        }
        if text.chars().count() > 2000 {
            return Err(ValueError("must be at most 2000 characters".into()));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ValueError("must not contain control characters".into()));
        }
        Ok(Text(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        Text::new(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "minLength": 1, "maxLength": 2000})
    }
}

/// An amount of money: an integer number of fen (0.01 yuan) and an ISO 4217 currency. Never
/// a float.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Amount in fen (hundredths of the currency unit), at most 2^53 - 1.
    pub fen: Fen,
    /// ISO 4217 currency code; `CNY` for renminbi.
    pub currency: Currency,
}

impl Money {
    /// Renminbi.
    pub fn cny(fen: u64) -> Money {
        Money {
            fen: Fen(fen),
            currency: Currency::Cny,
        }
    }

    /// Amount in fen.
    pub fn fen(&self) -> u64 {
        self.fen.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}.{:02}",
            self.currency.code(),
            self.fen.0 / 100,
            self.fen.0 % 100
        )
    }
}

/// A non-negative amount in fen that a JSON number holds exactly (≤ 2^53 − 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Fen(pub u64);

impl<'de> Deserialize<'de> for Fen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(d)?;
        if value > 9_007_199_254_740_991 {
            return Err(serde::de::Error::custom(
                "amount in fen must be at most 2^53 - 1 to survive JSON",
            ));
        }
        Ok(Fen(value))
    }
}

impl JsonSchema for Fen {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Fen".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "maximum": 9_007_199_254_740_991u64})
    }
}

/// Currencies a hospital in China pays in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Currency {
    /// Renminbi.
    #[serde(rename = "CNY")]
    Cny,
    /// Hong Kong dollar.
    #[serde(rename = "HKD")]
    Hkd,
    /// US dollar (imported equipment).
    #[serde(rename = "USD")]
    Usd,
    /// Euro (imported equipment).
    #[serde(rename = "EUR")]
    Eur,
}

impl Currency {
    /// The ISO 4217 code.
    pub fn code(&self) -> &'static str {
        match self {
            Currency::Cny => "CNY",
            Currency::Hkd => "HKD",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
        }
    }
}

/// A point in time: RFC 3339 with an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub OccurredAt);

impl Timestamp {
    /// Parses RFC 3339 with an offset.
    pub fn parse(text: &str) -> Result<Timestamp, ValueError> {
        OccurredAt::parse(text)
            .map(Timestamp)
            .map_err(|e| ValueError(e.to_string()))
    }

    /// As a date-time.
    pub fn datetime(&self) -> OffsetDateTime {
        self.0.datetime()
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.0.unix_micros()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 date-time with an offset, e.g. 2026-03-05T09:30:00+08:00",
            "pattern": "(Z|z|[+-][0-9]{2}:[0-9]{2})$"
        })
    }
}

/// A half-open interval of time `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// Start (inclusive).
    pub from: Timestamp,
    /// End (exclusive); after `from`.
    pub to: Timestamp,
}

impl Interval {
    /// Checks `from < to`.
    pub fn check(&self) -> Result<(), ValueError> {
        if self.from < self.to {
            Ok(())
        } else {
            Err(ValueError(format!(
                "interval ends ({}) before it starts ({})",
                self.to, self.from
            )))
        }
    }
}

/// How long a sanction or penalty lasts from its start. The end is always derived from this,
/// never recorded.
// Written `{"unit": "days", "count": 30}`, read through `DurationWire`, a plain struct: the
// derived reader of an internally tagged enum also takes `["days", 30]`, a second form of the
// same signed payload (see `probity_core::strict_json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "unit", rename_all = "snake_case", deny_unknown_fields)]
pub enum Duration {
    /// A number of days.
    Days {
        /// How many (1 or more).
        #[schemars(range(min = 1))]
        count: u32,
    },
    /// A number of calendar months (the day of month is kept, clamped to the month's end).
    Months {
        /// How many (1 or more).
        #[schemars(range(min = 1))]
        count: u32,
    },
    /// A number of calendar years.
    Years {
        /// How many (1 or more).
        #[schemars(range(min = 1))]
        count: u32,
    },
    /// Until lifted by a recorded decision.
    Indefinite,
}

/// The unit of a [`Duration`].
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DurationUnit {
    Days,
    Months,
    Years,
    Indefinite,
}

/// The object form of a [`Duration`], as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DurationWire {
    unit: DurationUnit,
    count: Option<u32>,
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let wire = DurationWire::deserialize(deserializer)?;
        let count = || wire.count.ok_or_else(|| D::Error::missing_field("count"));
        Ok(match wire.unit {
            DurationUnit::Days => Duration::Days { count: count()? },
            DurationUnit::Months => Duration::Months { count: count()? },
            DurationUnit::Years => Duration::Years { count: count()? },
            DurationUnit::Indefinite if wire.count.is_some() => {
                return Err(D::Error::unknown_field("count", &["unit"]))
            }
            DurationUnit::Indefinite => Duration::Indefinite,
        })
    }
}

impl Duration {
    /// The end of a period of this length starting at `start`, or `None` when indefinite.
    pub fn end_from(&self, start: OffsetDateTime) -> Option<OffsetDateTime> {
        match *self {
            Duration::Days { count } => Some(start + time::Duration::days(i64::from(count))),
            Duration::Months { count } => Some(add_months(start, count)),
            Duration::Years { count } => Some(add_months(start, count.saturating_mul(12))),
            Duration::Indefinite => None,
        }
    }

    fn check(&self) -> Result<(), ValueError> {
        match self {
            Duration::Days { count } | Duration::Months { count } | Duration::Years { count }
                if *count == 0 =>
            {
                Err(ValueError("a duration must be 1 or more".into()))
            }
            _ => Ok(()),
        }
    }
}

fn add_months(start: OffsetDateTime, months: u32) -> OffsetDateTime {
    let total =
        i64::from(start.year()) * 12 + i64::from(u8::from(start.month()) - 1) + i64::from(months);
    let year = (total.div_euclid(12)) as i32;
    let month = Month::try_from((total.rem_euclid(12) + 1) as u8).unwrap_or(Month::December);
    let last_day = time::util::days_in_month(month, year);
    let day = start.day().min(last_day);
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => start.replace_date(date),
        // Beyond the supported calendar: saturate.
        Err(_) => start,
    }
}

/// Validation beyond what a field's type enforces (cross-field rules). Most payloads have
/// none and keep the default.
pub trait Check {
    /// Checks the rules; the error names the field.
    fn check(&self) -> Result<(), FieldError> {
        Ok(())
    }
}

/// A rule broken by one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the field within the payload, e.g. `slot` or `members`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    /// An error at `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub(crate) fn check_interval(field: &str, interval: &Interval) -> Result<(), FieldError> {
    interval.check().map_err(|e| FieldError::new(field, e.0))
}

pub(crate) fn check_duration(field: &str, duration: &Duration) -> Result<(), FieldError> {
    duration.check().map_err(|e| FieldError::new(field, e.0))
}

pub(crate) fn check_non_empty<T>(field: &str, items: &[T]) -> Result<(), FieldError> {
    if items.is_empty() {
        Err(FieldError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

pub(crate) fn check_positive(field: &str, value: u64) -> Result<(), FieldError> {
    if value == 0 {
        Err(FieldError::new(field, "must be greater than 0"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_check_character() {
        for valid in [
            "91350100M000100Y43",
            "91440300708461136T",
            "91310000MA1FL1MMXL",
        ] {
            assert!(Uscc::new(valid).is_ok(), "{valid}");
        }
        let err = Uscc::new("91350100M000100Y44").unwrap_err();
        assert!(err.0.contains("expected '3'"), "{err}");
        assert!(Uscc::new("91350100M000100Y4").is_err());
        assert!(Uscc::new("91350100I000100Y43")
            .unwrap_err()
            .0
            .contains("position 9"));
    }

    #[test]
    fn money_rejects_floats_negatives_and_unknown_currencies() {
        let ok: Money = serde_json::from_str(r#"{"fen":18000000,"currency":"CNY"}"#).unwrap();
        assert_eq!(ok.to_string(), "CNY 180000.00");
        for bad in [
            r#"{"fen":1.5,"currency":"CNY"}"#,
            r#"{"fen":-1,"currency":"CNY"}"#,
            r#"{"fen":1,"currency":"XXX"}"#,
            r#"{"fen":9007199254740992,"currency":"CNY"}"#,
            r#"{"fen":1}"#,
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_and_durations_have_one_form() {
        use probity_core::strict_json::from_str;
        assert!(from_str::<Money>(r#"[18000000,"CNY"]"#).is_err());
        for (text, expected) in [
            (
                r#"{"unit":"days","count":30}"#,
                Some(Duration::Days { count: 30 }),
            ),
            (
                r#"{"count":2,"unit":"years"}"#,
                Some(Duration::Years { count: 2 }),
            ),
            (r#"{"unit":"indefinite"}"#, Some(Duration::Indefinite)),
            (r#"["days",30]"#, None),
            (r#"{"unit":"days"}"#, None),
            (r#"{"unit":"indefinite","count":1}"#, None),
            (r#"{"unit":"days","count":3,"count":4}"#, None),
            (r#"{"unit":"days","count":3,"extra":1}"#, None),
        ] {
            assert_eq!(from_str::<Duration>(text).ok(), expected, "{text}");
        }
        let written = serde_json::to_string(&Duration::Months { count: 6 }).unwrap();
        assert_eq!(written, r#"{"unit":"months","count":6}"#);
    }

    #[test]
    fn durations_derive_ends() {
        let start = Timestamp::parse("2026-01-31T00:00:00+08:00")
            .unwrap()
            .datetime();
        let end = |d: Duration| d.end_from(start).map(|t| t.date().to_string());
        assert_eq!(end(Duration::Days { count: 30 }), Some("2026-03-02".into()));
        assert_eq!(
            end(Duration::Months { count: 1 }),
            Some("2026-02-28".into())
        );
        assert_eq!(end(Duration::Years { count: 2 }), Some("2028-01-31".into()));
        assert_eq!(end(Duration::Indefinite), None);
    }
}
