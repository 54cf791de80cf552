//! Instants as microseconds since the epoch, for comparing `occurred_at` (true time) and
//! `recorded_at` (known time) alike.

use probity_core::time::RecordedAt;
use probity_events::types::Timestamp;
use time::{OffsetDateTime, UtcOffset};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

/// Microseconds in a day.
pub const DAY: Micros = 86_400_000_000;

/// A timestamp's instant.
pub fn at(t: &Timestamp) -> Micros {
    t.unix_micros()
}

/// A date-time's instant.
pub fn of(t: OffsetDateTime) -> Micros {
    (t.unix_timestamp_nanos() / 1000) as Micros
}

/// A recorded_at's instant.
pub fn known(t: RecordedAt) -> Micros {
    t.unix_micros()
}

/// Calendar days from the date of `a` to the date of `b`, both read at `offset` (the
/// hospital's local time): 5 Feb 14:30 to 10 Feb 09:00 is 5 days, as people count them.
pub fn calendar_days(a: Micros, b: Micros, offset: UtcOffset) -> i64 {
    let date = |t: Micros| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(t) * 1000)
            .map(|d| d.to_offset(offset).date())
            .ok()
    };
    match (date(a), date(b)) {
        (Some(a), Some(b)) => (b - a).whole_days(),
        _ => (b - a).div_euclid(DAY),
    }
}
