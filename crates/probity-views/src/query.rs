//! The oversight queries: `probity.<ledger>.query.<kind>` over NATS, or the same request
//! answered in process on a data directory. Documented in `schemas/QUERIES.md`.

use probity_core::time::OccurredAt;
use probity_projector::{Finding, Projection, Review, Rule};
use probity_wire::{ErrorCode, WireError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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

/// `policy`: the thresholds and windows in force, and where they came from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyQuery {
    /// True at (RFC 3339; default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
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

fn not_found(kind: &str, id: &str) -> WireError {
    error(
        ErrorCode::NotFound,
        format!("the ledger names no {kind} {id:?}"),
    )
}

/// Answers the query `kind` with body `payload` from `projection`, at wall-clock `now` (µs).
/// `status` is answered by the caller, which knows the cursor.
pub fn answer(
    projection: &Projection,
    kind: &str,
    payload: &[u8],
    now: i64,
) -> Result<serde_json::Value, WireError> {
    match kind {
        "blacklist" => {
            let q: BlacklistQuery = parse(payload)?;
            let at = instant("at", q.at.as_deref(), now)?;
            let known_at = instant("known_at", q.known_at.as_deref(), now)?;
            json(&projection.blacklist(at, known_at))
        }
        "policy" => {
            let q: PolicyQuery = parse(payload)?;
            let at = instant("at", q.at.as_deref(), now)?;
            json(&projection.policy_report(at))
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
            let selected: Vec<FindingAnswer> = projection
                .findings
                .values()
                .filter(|f| rule.is_none_or(|r| f.rule == r))
                .filter(|f| since.is_none_or(|s| f.detectable_at.unix_micros() >= s))
                .map(|f| FindingAnswer::reviewed(projection, f.clone()))
                .collect();
            json(&selected)
        }
        "supplier" | "rep" | "case" | "staff" => {
            let q: SubjectQuery = parse(payload)?;
            let at = instant("at", q.at.as_deref(), now)?;
            let id = q.id.as_str();
            match kind {
                "supplier" => json(
                    &projection
                        .supplier_report(id, at)
                        .ok_or_else(|| not_found(kind, id))?,
                ),
                "rep" => json(
                    &projection
                        .rep_report(id, at)
                        .ok_or_else(|| not_found(kind, id))?,
                ),
                "case" => json(
                    &projection
                        .case_report(id)
                        .ok_or_else(|| not_found(kind, id))?,
                ),
                _ => json(
                    &projection
                        .staff_report(id)
                        .ok_or_else(|| not_found(kind, id))?,
                ),
            }
        }
        other => Err(error(
            ErrorCode::UnknownQuery,
            format!("no query {other:?}; one of: {}", KINDS.join(", ")),
        )),
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
