//! The oversight queries: `probity.<ledger>.query.<kind>` over NATS, or the same request
//! answered in process on a data directory. Documented in `schemas/QUERIES.md`.

use probity_core::time::OccurredAt;
use probity_projector::{Finding, Projection, Review, Rule};
use probity_wire::{ErrorCode, WireError};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::answers::{Answers, Zone};

/// The kinds of query, as the last token of their subject.
pub const KINDS: [&str; 8] = [
    "blacklist",
    "policy",
    "findings",
    "supplier",
    "rep",
    "case",
    "staff",
    "status",
];

/// `probity.<ledger>.query.<kind>`.
pub fn subject(ledger: &str, kind: &str) -> String {
    format!("probity.{ledger}.query.{kind}")
}

/// The shape of the answers a request asks for (its `version` member): 3, the default, with
/// every member named, times as RFC 3339 at the hospital's offset and money as fen with a
/// display string ([`crate::answers`]); or 2, the shapes of QUERIES.md 2.x, for old clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Version {
    /// QUERIES.md 2.x: tuples as arrays, times as µs since the epoch.
    V2,
    /// QUERIES.md 3.0.
    #[default]
    V3,
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(match self {
            Version::V2 => 2,
            Version::V3 => 3,
        })
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u64::deserialize(deserializer)? {
            2 => Ok(Version::V2),
            3 => Ok(Version::V3),
            other => Err(serde::de::Error::custom(format!(
                "version {other}: the answers have versions 2 and 3"
            ))),
        }
    }
}

fn is_default(version: &Version) -> bool {
    *version == Version::V3
}

/// `policy`: the thresholds and windows in force, and where they came from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyQuery {
    /// True at (RFC 3339; default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The answer's shape (default 3).
    #[serde(default, skip_serializing_if = "is_default")]
    pub version: Version,
}

/// `blacklist`: suppliers under a whole-firm ban.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlacklistQuery {
    /// True at (RFC 3339; default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Known at (RFC 3339; default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_at: Option<String>,
    /// The answer's shape (default 3).
    #[serde(default, skip_serializing_if = "is_default")]
    pub version: Version,
}

/// `findings`: red flags.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsQuery {
    /// Only this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Only findings detectable at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The answer's shape (default 3).
    #[serde(default, skip_serializing_if = "is_default")]
    pub version: Version,
}

/// One finding of the `findings` answer, with the discipline office's reviews of it
/// (`integrity.finding_reviewed`), oldest first (QUERIES.md 1.2 on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FindingAnswer {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// Its reviews; empty while none was recorded.
    #[serde(default)]
    pub reviews: Vec<Review>,
}

impl FindingAnswer {
    /// `finding` with the reviews `projection` holds of it.
    pub fn reviewed(projection: &Projection, finding: Finding) -> FindingAnswer {
        FindingAnswer {
            reviews: projection
                .reviews
                .get(&finding.id)
                .cloned()
                .unwrap_or_default(),
            finding,
        }
    }
}

/// `supplier`, `rep`, `case`, `staff`: one subject.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectQuery {
    /// The USCC, filing number, case id or staff id.
    pub id: String,
    /// As of (RFC 3339; default now), for `supplier` and `rep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The answer's shape (default 3).
    #[serde(default, skip_serializing_if = "is_default")]
    pub version: Version,
}

/// The longest error message a reply carries: an error quoting a query near `max_payload`
/// must not make a reply too large to send.
const MAX_MESSAGE_CHARS: usize = 300;

fn error(code: ErrorCode, message: impl Into<String>) -> WireError {
    let message = message.into();
    let message = match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message,
        Some((at, _)) => format!("{}… (cut)", &message[..at]),
    };
    WireError::new(code, message)
}

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    let body: &[u8] = if payload.is_empty() { b"{}" } else { payload };
    probity_core::strict_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            error(ErrorCode::MalformedJson, format!("query is not JSON: {e}"))
        }
        _ => error(
            ErrorCode::MalformedRequest,
            format!("query has the wrong shape: {e}"),
        ),
    })
}

/// An instant from an optional RFC 3339 field; `now` when absent.
pub fn instant(field: &str, text: Option<&str>, now: i64) -> Result<i64, WireError> {
    match text {
        None => Ok(now),
        Some(text) => OccurredAt::parse(text)
            .map(|t| t.unix_micros())
            .map_err(|e| error(ErrorCode::BadTime, format!("{field}: {e}"))),
    }
}

fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, WireError> {
    serde_json::to_value(value).map_err(|e| error(ErrorCode::Internal, e.to_string()))
}

/// `stored` (the views' report) as `version` asks: as it is (2), or in its version 3 shape.
fn shaped<T: Serialize, U: Serialize>(
    version: Version,
    stored: T,
    shape: impl FnOnce(&T) -> U,
) -> Result<serde_json::Value, WireError> {
    match version {
        Version::V2 => json(&stored),
        Version::V3 => json(&shape(&stored)),
    }
}

fn not_found(kind: &str, id: &str) -> WireError {
    error(
        ErrorCode::NotFound,
        format!("the ledger names no {kind} {id:?}"),
    )
}

/// Answers the query `kind` with body `payload` from `projection`, at wall-clock `now` (µs),
/// writing times at the hospital's offset `zone`. `status` is answered by the caller, which
/// knows the cursor.
pub fn answer(
    projection: &Projection,
    kind: &str,
    payload: &[u8],
    now: i64,
    zone: Zone,
) -> Result<serde_json::Value, WireError> {
    let shape = Answers { projection, zone };
    match kind {
        "blacklist" => {
            let q: BlacklistQuery = parse(payload)?;
            let at = instant("at", q.at.as_deref(), now)?;
            let known_at = instant("known_at", q.known_at.as_deref(), now)?;
            let list = projection.blacklist(at, known_at);
            match q.version {
                Version::V2 => json(&list),
                Version::V3 => json(
                    &list
                        .iter()
                        .map(|e| shape.blacklisted(e))
                        .collect::<Vec<_>>(),
                ),
            }
        }
        "policy" => {
            let q: PolicyQuery = parse(payload)?;
            let at = instant("at", q.at.as_deref(), now)?;
            shaped(q.version, projection.policy_report(at), |r| shape.policy(r))
        }
        "findings" => {
            let q: FindingsQuery = parse(payload)?;
            let rule = match q.rule.as_deref() {
                None => None,
                Some(code) => Some(Rule::parse(code).ok_or_else(|| {
                    error(
                        ErrorCode::UnknownRule,
                        format!(
                            "unknown rule {code:?}; one of: {}",
                            Rule::ALL
                                .iter()
                                .map(Rule::code)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?),
            };
            let since = match q.since.as_deref() {
                None => None,
                Some(text) => Some(instant("since", Some(text), now)?),
            };
            let selected = projection
                .findings
                .values()
                .filter(|f| rule.is_none_or(|r| f.rule == r))
                .filter(|f| since.is_none_or(|s| f.detectable_at.unix_micros() >= s));
            match q.version {
                Version::V2 => json(
                    &selected
                        .map(|f| FindingAnswer::reviewed(projection, f.clone()))
                        .collect::<Vec<_>>(),
                ),
                Version::V3 => json(&selected.map(|f| shape.finding(f)).collect::<Vec<_>>()),
            }
        }
        "supplier" | "rep" | "case" | "staff" => {
            let q: SubjectQuery = parse(payload)?;
            let at = instant("at", q.at.as_deref(), now)?;
            let id = q.id.as_str();
            let missing = || not_found(kind, id);
            let v = q.version;
            match kind {
                "supplier" => shaped(
                    v,
                    projection.supplier_report(id, at).ok_or_else(missing)?,
                    |r| shape.supplier(r),
                ),
                "rep" => shaped(v, projection.rep_report(id, at).ok_or_else(missing)?, |r| {
                    shape.rep(r)
                }),
                "case" => shaped(v, projection.case_report(id).ok_or_else(missing)?, |r| {
                    shape.case(r, now)
                }),
                _ => shaped(v, projection.staff_report(id).ok_or_else(missing)?, |r| {
                    shape.staff(r)
                }),
            }
        }
        other => Err(error(
            ErrorCode::UnknownQuery,
            format!("no query {other:?}; one of: {}", KINDS.join(", ")),
        )),
    }
}

/// The `status` request: whether to compute the state hash. A `version` is accepted (the
/// status answer is the same in both).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    /// Compute the views' state hash (it reads every row).
    #[serde(default)]
    pub state_hash: bool,
    /// Accepted, with no effect.
    #[serde(default, skip_serializing_if = "is_default")]
    pub version: Version,
}

impl StatusQuery {
    /// The request in `payload` (empty: the defaults).
    pub fn parse(payload: &[u8]) -> Result<StatusQuery, WireError> {
        parse(payload)
    }
}

/// The projector's own status: how far it is, how far behind, and its state hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectorStatus {
    /// Records applied.
    pub applied: u64,
    /// Records the source holds (book size or stream length) as last seen.
    pub head: u64,
    /// `head - applied`.
    pub records_behind: u64,
    /// How long the oldest record not yet applied has waited, in seconds (0 when caught up).
    pub seconds_behind: f64,
    /// The views' state hash (see `schemas/QUERIES.md`).
    pub state_hash: String,
    /// The record that stopped the projector, if one did.
    pub halted: Option<crate::store::Halt>,
}
