//! The JSON API under `/api/`, health and metrics (`schemas/HTTP.md`). Every answer is the
//! NATS services' reply shape, `{"ok": …}` or `{"error": {"code", "message"}}`, produced by
//! the same code (`probity_ledger::requests`, `probity_views::query`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use probity_core::checkpoint::VerifierKey;
use probity_core::envelope::{EventBody, Subjects};
use probity_core::ids::{EventId, EventType, LedgerId, Seq, SubjectId};
use probity_core::keys::PublicKey;
use probity_core::receipt::Receipt;
use probity_core::subject::Subject;
use probity_core::time::OccurredAt;
use probity_ledger::requests::{self, LedgerQuery};
use probity_ledger::wire::{self, AppendMessage, Reply};
use probity_ledger::AppendError;
use probity_views::{answers, ocds, query};
use probity_wire::{ErrorCode, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::{self, Access, Caller};
use crate::error::ApiError;
use crate::upstream::Upstream;
use crate::{metrics, App};

pub(crate) type AppState = State<Arc<App>>;
pub(crate) type Answer = Result<Response, ApiError>;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/status", get(status))
        .route("/api/checkpoint", get(checkpoint))
        .route("/api/version", get(version))
        .route("/api/proof/inclusion", get(inclusion))
        .route("/api/proof/consistency", get(consistency))
        .route("/api/records/{seq}", get(record))
        .route("/api/records/{seq}/proof-bundle", get(proof_bundle))
        .route("/api/records/{seq}/record.json", get(record_file))
        .route("/api/keys", get(keys))
        .route("/api/policy", get(policy))
        .route("/api/blacklist", get(blacklist))
        .route("/api/findings", get(findings))
        .route("/api/suppliers/{id}", get(supplier))
        .route("/api/reps/{id}", get(rep))
        .route("/api/cases", get(cases))
        .route("/api/cases/{id}", get(case))
        .route("/api/staff/{id}", get(staff))
        .route("/api/export", get(export))
        .route("/api/ocds", get(ocds))
        .route("/ocds/extension.json", get(ocds_extension))
        .route("/ocds/release-schema.json", get(ocds_extension_schema))
        .route("/api/event-types", get(event_types))
        .route("/api/event-types/{event_type}", get(event_schema))
        .route("/api/drafts", post(draft))
        .route("/api/events", post(append))
        .route("/api/events/batch", post(append_batch))
}

/// Who is asking, if they may use a route needing `access` (see `auth`).
pub(crate) fn authorize(
    app: &App,
    headers: &HeaderMap,
    access: Access,
) -> Result<Caller, ApiError> {
    let Some(tokens) = &app.config.tokens else {
        return local_only(headers);
    };
    let caller = match auth::presented(headers) {
        None if access == Access::Public => return Ok(Caller::anonymous()),
        None => return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "this needs a token: send Authorization: Bearer <token> (probity token add makes one)",
        )),
        Some(token) => tokens.caller(&token).cloned().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the token is not one this server knows",
            )
        })?,
    };
    if caller.may(access) {
        Ok(caller)
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("{} ({}) may not do this", caller.user, caller.role_name()),
        ))
    }
}

/// Without a tokens file the caller is the local operator, who may do everything; the server
/// listens on loopback only, and answers only requests addressed to a loopback name, so that a
/// web page elsewhere cannot reach it by pointing its own domain name at 127.0.0.1 (DNS
/// rebinding).
fn local_only(headers: &HeaderMap) -> Result<Caller, ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
        Ok(Caller::local())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("this server has no tokens file, so it answers only requests to 127.0.0.1, localhost or [::1], not to {host:?}"),
        ))
    }
}

/// Runs blocking work (the book and the views are read synchronously) off the async threads.
pub(crate) async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, WireError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(ApiError)
}

pub(crate) fn ok<T: Serialize>(value: T) -> Response {
    Json(Reply::Ok(value)).into_response()
}

/// The query string as the JSON request the NATS services take: each parameter a member
/// (`seq`, `size`, `size1`, `size2`, `version`, `events` as numbers), a repeated one refused; `format` is taken out
/// and returned apart.
pub(crate) fn params(pairs: Vec<(String, String)>) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let mut object = Map::new();
    let mut format = None;
    for (name, value) in pairs {
        if name == "format" {
            if format.replace(value).is_some() {
                return Err(repeated("format"));
            }
            continue;
        }
        let value = match (name.as_str(), value.parse::<u64>()) {
            ("seq" | "size" | "size1" | "size2" | "version" | "events", Ok(n)) => Value::from(n),
            _ => Value::from(value),
        };
        if object.insert(name.clone(), value).is_some() {
            return Err(repeated(&name));
        }
    }
    if format.as_deref() == Some("csv") && object.contains_key("version") {
        return Err(ApiError::new(
            ErrorCode::MalformedRequest,
            "version chooses the shape of JSON answers; CSV has one shape",
        ));
    }
    // Invariant: a JSON object always serializes.
    let body = serde_json::to_vec(&object).expect("a JSON object serializes");
    Ok((body, format))
}

/// [`params`] for an answer that is JSON only: `format` may be `json` or absent.
fn json_params(pairs: Vec<(String, String)>) -> Result<Vec<u8>, ApiError> {
    let (body, format) = params(pairs)?;
    match format.as_deref() {
        None | Some("json") => Ok(body),
        Some(other) => Err(ApiError::new(
            ErrorCode::MalformedRequest,
            format!("format {other:?}: this answer is JSON only (CSV: blacklist, findings, cases)"),
        )),
    }
}

fn repeated(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedRequest,
        format!("parameter {name:?} is given twice; give it once"),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `/readyz`'s answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Readiness {
    /// Records in the book.
    ledger_records: u64,
    /// Records the views have applied.
    views_applied: u64,
    /// When serving a copy of a running ledger (`probity serve --nats`): why the copy stopped
    /// taking records (a record or checkpoint from the stream that did not verify), or null
    /// while it follows. Absent when serving a data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    copy_stopped: Option<Option<String>>,
}

/// Ready when the views hold every record the book holds (or are catching up within a
/// moment), and not halted; serving a copy, also while the copy follows the ledger.
async fn readyz(State(app): AppState) -> Response {
    let (applied, size) = app.progress();
    let copy_stopped = app.upstream.as_ref().map(Upstream::refused);
    let stopped = copy_stopped.as_ref().is_some_and(Option::is_some);
    let body = Readiness {
        ledger_records: size,
        views_applied: applied,
        copy_stopped,
    };
    let status = if applied >= size && !stopped {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics_text(State(app): AppState) -> Response {
    let text = metrics::render(&app);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn ledger_query(
    app: Arc<App>,
    headers: &HeaderMap,
    query: LedgerQuery,
    pairs: Vec<(String, String)>,
) -> Answer {
    let access = match query {
        // How many records name a case, rep or staff member is the hospital's to know.
        LedgerQuery::Version => Access::Staff,
        _ => Access::Public,
    };
    authorize(&app, headers, access)?;
    let body = json_params(pairs)?;
    let value =
        blocking(move || requests::answer(&app.ledger, &[] as &[VerifierKey], query, &body))
            .await?;
    Ok(ok(value))
}

async fn status(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    ledger_query(app, &headers, LedgerQuery::Status, q).await
}

/// A subject's version, for an append's `expect`.
async fn version(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    ledger_query(app, &headers, LedgerQuery::Version, q).await
}

async fn checkpoint(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    ledger_query(app, &headers, LedgerQuery::Checkpoint, q).await
}

async fn inclusion(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    ledger_query(app, &headers, LedgerQuery::Inclusion, q).await
}

async fn consistency(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    ledger_query(app, &headers, LedgerQuery::Consistency, q).await
}

fn seq_of(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("{text:?} is not a record number"),
        )
    })
}

/// Record `seq` of the book, for an oversight caller (a record shows its event).
async fn oversight_record(
    app: Arc<App>,
    headers: &HeaderMap,
    seq: &str,
) -> Result<probity_core::record::Record, ApiError> {
    authorize(&app, headers, Access::Oversight)?;
    let seq = seq_of(seq)?;
    blocking(move || {
        app.ledger
            .record(Seq(seq))
            .map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()))?
            .ok_or_else(|| WireError::new(ErrorCode::NotFound, format!("no record {seq}")))
    })
    .await
}

/// A record as the book holds it (FORMAT.md §5): it shows the event, so oversight only.
async fn record(State(app): AppState, headers: HeaderMap, Path(seq): Path<String>) -> Answer {
    Ok(ok(oversight_record(app, &headers, &seq).await?))
}

/// The record's JSON exactly as the export holds it, as the attachment
/// `record-<seq>.tlog-proof.record.json`: what travels beside a proof bundle whose record is
/// too large for its extra line (saved next to the bundle, `verify-proof` finds it).
async fn record_file(State(app): AppState, headers: HeaderMap, Path(seq): Path<String>) -> Answer {
    let record = oversight_record(app, &headers, &seq).await?;
    let seq = record.seq.0;
    Ok(attachment(
        record.to_json(),
        "application/json",
        &format!("record-{seq}.tlog-proof.record.json"),
    ))
}

/// The record's proof bundle (PROOF.md), which `probity verify-proof` checks offline.
async fn proof_bundle(State(app): AppState, headers: HeaderMap, Path(seq): Path<String>) -> Answer {
    authorize(&app, &headers, Access::Oversight)?;
    let seq = seq_of(&seq)?;
    let text = blocking(move || {
        if seq >= app.ledger.size() {
            return Err(WireError::new(
                ErrorCode::NotFound,
                format!("no record {seq}"),
            ));
        }
        let mut bundles = probity_ledger::evidence::proof_bundles(&app.ledger, &[seq])
            .map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()))?;
        bundles
            .pop()
            .map(|b| b.to_text())
            .ok_or_else(|| WireError::new(ErrorCode::NotFound, format!("no record {seq}")))
    })
    .await?;
    Ok(attachment(
        text.into_bytes(),
        "text/plain; charset=utf-8",
        &format!("record-{seq}.tlog-proof"),
    ))
}

pub(crate) fn attachment(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// One enrolled key.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct KeyLine {
    /// Its key id (32 hex characters).
    pub key_id: String,
    /// The public key.
    pub key: PublicKey,
    /// Its role (`schemas/roles.md`).
    pub role: String,
    /// Who holds it.
    pub holder: String,
    /// Their department.
    pub department: Option<String>,
    /// The record that enrolled it (0: genesis).
    pub enrolled_at: Seq,
    /// The record that revoked it; `null` while active.
    pub revoked_at: Option<Seq>,
}

pub(crate) fn key_lines(app: &App) -> Result<Vec<KeyLine>, WireError> {
    let registry = app
        .ledger
        .key_registry_at(app.ledger.size())
        .map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()))?;
    Ok(registry
        .keys()
        .map(|(id, entry)| KeyLine {
            key_id: id.to_string(),
            key: entry.key,
            role: entry.role.as_str().to_owned(),
            holder: entry.holder.clone(),
            department: entry.department.clone(),
            enrolled_at: entry.enrolled_at,
            revoked_at: entry.revoked_at,
        })
        .collect())
}

async fn keys(State(app): AppState, headers: HeaderMap) -> Answer {
    authorize(&app, &headers, Access::Staff)?;
    Ok(ok(blocking(move || key_lines(&app)).await?))
}

/// A views query (QUERIES.md) answered from the up-to-date views.
pub(crate) async fn views_query(
    app: Arc<App>,
    kind: &'static str,
    body: Vec<u8>,
) -> Result<Value, ApiError> {
    blocking(move || {
        let now = probity_ledger::now().unix_micros();
        let zone = answers::Zone(app.config.offset);
        app.with_views(|projection| query::answer(projection, kind, &body, now, zone))
    })
    .await
}

async fn policy(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Public)?;
    let body = json_params(q)?;
    Ok(ok(views_query(app, "policy", body).await?))
}

async fn blacklist(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Public)?;
    let (body, format) = params(q)?;
    let offset = app.config.offset;
    let value = views_query(app, "blacklist", body).await?;
    match csv_wanted(format.as_deref())? {
        false => Ok(ok(value)),
        true => {
            let entries: Vec<answers::Blacklisted> = from_value(value)?;
            let zone = crate::display::offset_text(offset);
            let mut rows = vec![vec![
                "uscc".to_owned(),
                "name".into(),
                "ban".into(),
                "list".into(),
                format!("from ({zone})"),
                format!("until ({zone})"),
                "record".into(),
            ]];
            for e in entries {
                rows.push(vec![
                    e.uscc,
                    e.name.unwrap_or_default(),
                    e.ban,
                    e.list.unwrap_or_default(),
                    crate::display::cell_time(&e.from),
                    e.until
                        .as_ref()
                        .map(crate::display::cell_time)
                        .unwrap_or_default(),
                    e.record.to_string(),
                ]);
            }
            csv_response(rows, "blacklist.csv")
        }
    }
}

async fn findings(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Oversight)?;
    let (body, format) = params(q)?;
    let offset = app.config.offset;
    let value = views_query(app, "findings", body).await?;
    match csv_wanted(format.as_deref())? {
        false => Ok(ok(value)),
        true => {
            let list: Vec<answers::Finding> = from_value(value)?;
            let zone = crate::display::offset_text(offset);
            let mut rows = vec![vec![
                "id".to_owned(),
                "rule".into(),
                "severity".into(),
                format!("occurred_at ({zone})"),
                format!("detectable_at ({zone})"),
                "knowable".into(),
                "subjects".into(),
                "evidence".into(),
                "summary".into(),
                "reviews".into(),
            ]];
            for f in list {
                rows.push(vec![
                    f.id,
                    f.rule.code().to_owned(),
                    format!("{:?}", f.severity).to_lowercase(),
                    crate::display::cell_time(&f.occurred_at),
                    crate::display::cell_time(&f.detectable_at),
                    f.knowable.to_string(),
                    f.subjects
                        .iter()
                        .map(|s| format!("{}:{}", s.kind, s.id))
                        .collect::<Vec<_>>()
                        .join(" "),
                    f.evidence
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                    f.summary,
                    f.reviews
                        .iter()
                        .map(|r| format!("{} (record {})", r.outcome, r.record))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]);
            }
            csv_response(rows, "findings.csv")
        }
    }
}

fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

fn csv_wanted(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::new(
            ErrorCode::MalformedRequest,
            format!("format {other:?}: json or csv"),
        )),
    }
}

/// CSV with a byte-order mark, so that spreadsheet programs read the Chinese names as UTF-8.
fn csv_response(rows: Vec<Vec<String>>, name: &str) -> Answer {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    for row in rows {
        writer
            .write_record(&row)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(attachment(bytes, "text/csv; charset=utf-8", name))
}

/// One purchase case of the list (`GET /api/cases?version=2`; the console and the CSV are
/// written from it).
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct CaseLine {
    /// The case id.
    pub case: String,
    /// The last purchase step recorded, without `purchase.`; `none` before the first.
    pub state: String,
    /// The step expected next (as the case page names it); `null` once paid or cancelled.
    pub next_step: Option<String>,
    /// The requesting department.
    pub department: Option<String>,
    /// What is wanted.
    pub item: Option<String>,
    /// The estimated total, in fen.
    pub estimated_fen: Option<u64>,
    /// How it is bought, once the process was opened.
    pub method: Option<probity_events::purchase::Method>,
    /// The supplier awarded (USCC).
    pub award_supplier: Option<String>,
    /// The amount awarded, in fen.
    pub award_fen: Option<u64>,
    /// Findings that name the case.
    pub findings: usize,
}

/// One purchase case of the list (`GET /api/cases`), amounts as fen with their text.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct CaseLineAnswer {
    /// The case id.
    pub case: String,
    /// The last purchase step recorded, without `purchase.`; `none` before the first.
    pub state: String,
    /// The purchase step expected next (an event type); `null` once paid or cancelled.
    pub next_step: Option<String>,
    /// The requesting department.
    pub department: Option<String>,
    /// What is wanted.
    pub item: Option<String>,
    /// The estimated total.
    pub estimated: Option<answers::Amount>,
    /// How it is bought, once the process was opened.
    pub method: Option<probity_events::purchase::Method>,
    /// The supplier awarded (USCC).
    pub award_supplier: Option<String>,
    /// The amount awarded.
    pub award_amount: Option<answers::Amount>,
    /// Findings that name the case.
    pub findings: usize,
}

impl From<CaseLine> for CaseLineAnswer {
    fn from(l: CaseLine) -> CaseLineAnswer {
        CaseLineAnswer {
            case: l.case,
            state: l.state,
            next_step: l.next_step,
            department: l.department,
            item: l.item,
            estimated: l.estimated_fen.map(answers::Amount::of),
            method: l.method,
            award_supplier: l.award_supplier,
            award_amount: l.award_fen.map(answers::Amount::of),
            findings: l.findings,
        }
    }
}

/// The members the case list takes (besides `format`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesQuery {
    #[serde(default)]
    version: query::Version,
}

/// Every case the views hold, by case id.
pub(crate) fn case_lines(p: &probity_projector::Projection, now: i64) -> Vec<CaseLine> {
    let mut findings: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for f in p.findings.values() {
        for subject in &f.subjects {
            if let Some(case) = subject.strip_prefix("case:") {
                *findings.entry(case).or_default() += 1;
            }
        }
    }
    p.cases
        .iter()
        .map(|(id, c)| CaseLine {
            case: id.clone(),
            state: p
                .case_state(id)
                .map_or("none", |t| t.trim_start_matches("purchase."))
                .to_owned(),
            next_step: p.next_step(id, now).map(str::to_owned),
            department: c.request.as_ref().map(|r| r.department.clone()),
            item: c.request.as_ref().map(|r| r.item.clone()),
            estimated_fen: c.request.as_ref().map(|r| r.estimated),
            method: c.method.as_ref().map(|(m, ..)| *m),
            award_supplier: c.award.as_ref().map(|(s, ..)| s.clone()),
            award_fen: c.award.as_ref().map(|(_, fen, _)| *fen),
            findings: findings.get(id.as_str()).copied().unwrap_or(0),
        })
        .collect()
}

/// The purchase cases, as JSON or CSV (amounts with separators and 万元).
async fn cases(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Staff)?;
    let (body, format) = params(q)?;
    let asked: CasesQuery = probity_core::strict_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("the case list takes only format and version: {e}"),
        )
    })?;
    let lines = blocking(move || {
        app.with_views(|p| Ok(case_lines(p, probity_ledger::now().unix_micros())))
    })
    .await?;
    if !csv_wanted(format.as_deref())? {
        return Ok(match asked.version {
            query::Version::V2 => ok(lines),
            query::Version::V3 => ok(lines
                .into_iter()
                .map(CaseLineAnswer::from)
                .collect::<Vec<_>>()),
        });
    }
    let money = |fen: Option<u64>| fen.map(probity_projector::render::yuan).unwrap_or_default();
    let mut rows = vec![[
        "case",
        "state",
        "next_step",
        "department",
        "item",
        "estimated",
        "method",
        "award_supplier",
        "award",
        "findings",
    ]
    .map(str::to_owned)
    .to_vec()];
    for l in lines {
        rows.push(vec![
            l.case,
            l.state,
            l.next_step.unwrap_or_default(),
            l.department.unwrap_or_default(),
            l.item.unwrap_or_default(),
            money(l.estimated_fen),
            l.method.map(|m| m.as_str().to_owned()).unwrap_or_default(),
            l.award_supplier.unwrap_or_default(),
            money(l.award_fen),
            l.findings.to_string(),
        ]);
    }
    csv_response(rows, "cases.csv")
}

async fn subject_query(
    app: Arc<App>,
    headers: &HeaderMap,
    access: Access,
    kind: &'static str,
    id: String,
    pairs: Vec<(String, String)>,
) -> Answer {
    authorize(&app, headers, access)?;
    let mut pairs = pairs;
    if pairs.iter().any(|(name, _)| name == "id") {
        return Err(repeated("id"));
    }
    pairs.push(("id".into(), id));
    let body = json_params(pairs)?;
    Ok(ok(views_query(app, kind, body).await?))
}

async fn supplier(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    subject_query(app, &headers, Access::Staff, "supplier", id, q).await
}

async fn case(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    subject_query(app, &headers, Access::Staff, "case", id, q).await
}

async fn rep(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    subject_query(app, &headers, Access::Oversight, "rep", id, q).await
}

async fn staff(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    subject_query(app, &headers, Access::Oversight, "staff", id, q).await
}

/// The whole ledger as an export (EXPORT.md), for `probity verify` offline.
async fn export(State(app): AppState, headers: HeaderMap) -> Answer {
    let caller = authorize(&app, &headers, Access::Oversight)?;
    let (bytes, name) = blocking(move || {
        let dir = app.data().join("exports");
        std::fs::create_dir_all(&dir)
            .map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()))?;
        let name = format!("{}-{}.jsonl", app.ledger.ledger_id(), app.ledger.size());
        let path = dir.join(format!(".serve-{}-{name}", std::process::id()));
        let written = probity_ledger::export::write(&app.ledger, &path)
            .map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()));
        let bytes = written.and_then(|_| {
            std::fs::read(&path).map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()))
        });
        let _ = std::fs::remove_file(&path);
        Ok((bytes?, name))
    })
    .await?;
    tracing::info!(target: "probity_http::access", user = %caller.user, export = %name, "export downloaded");
    Ok(attachment(bytes, "application/x-ndjson", &name))
}

/// The purchase cases as an OCDS 1.1 release package (`?package=records`: a record package with
/// each case's compiled release); public, like the sunshine publication it is. Links in it
/// (proofs, the `probity` extension) are under the address the caller used.
async fn ocds(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Public)?;
    let mut records = None;
    for (name, value) in q {
        let wanted = match (name.as_str(), value.as_str()) {
            ("package", "releases") => false,
            ("package", "records") => true,
            ("package", other) => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("package={other:?}: say releases or records"),
                ))
            }
            (other, _) => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("unknown parameter {other:?} (only package=releases|records)"),
                ))
            }
        };
        if records.replace(wanted).is_some() {
            return Err(repeated("package"));
        }
    }
    let base = format!("http://{}", public_host(&headers));
    let offset = app.config.offset;
    let package = blocking(move || {
        let options = ocds::Options::new(app.ledger.origin(), &base, offset);
        let built = ocds::from_ledger(&app.ledger, options, |_, _| {})
            .map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()))?;
        if built.releases().is_empty() {
            return Err(WireError::new(
                ErrorCode::NotFound,
                "no purchase case is recorded: nothing to publish",
            ));
        }
        Ok(match records.unwrap_or(false) {
            true => built.record_package(),
            false => built.release_package(),
        })
    })
    .await?;
    Ok(ok(package))
}

/// The host the caller addressed (for links back to this server), when it is a plain host
/// name or address and port; `localhost` otherwise (an HTTP/1.0 request without one).
fn public_host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        })
        .unwrap_or("localhost")
        .to_owned()
}

/// The `probity` OCDS extension's metadata (schemas/ocds/extension.json).
async fn ocds_extension() -> Response {
    json_file(include_str!("../../../schemas/ocds/extension.json"))
}

/// The `probity` OCDS extension's release schema patch.
async fn ocds_extension_schema() -> Response {
    json_file(include_str!("../../../schemas/ocds/release-schema.json"))
}

fn json_file(text: &'static str) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// One event type of the catalogue, for the console's forms.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct EventTypeLine {
    /// The type, e.g. `purchase.requested`.
    event_type: &'static str,
    /// Its current payload schema version.
    schema: u32,
    /// Its family (a heading of EVENTS.md).
    family: &'static str,
    /// One line for people.
    summary: &'static str,
    /// The roles that may record it.
    roles: Vec<&'static str>,
}

async fn event_types(State(app): AppState, headers: HeaderMap) -> Answer {
    authorize(&app, &headers, Access::Staff)?;
    let list: Vec<EventTypeLine> = probity_events::catalogue::specs()
        .into_iter()
        .filter(|s| s.event_type != probity_core::roles::GENESIS)
        .map(|s| EventTypeLine {
            event_type: s.event_type,
            schema: s.schema,
            family: s.family.title(),
            summary: s.summary,
            roles: s.roles.iter().map(|r| r.as_str()).collect(),
        })
        .collect();
    Ok(ok(list))
}

async fn event_schema(
    State(app): AppState,
    headers: HeaderMap,
    Path(event_type): Path<String>,
) -> Answer {
    authorize(&app, &headers, Access::Staff)?;
    let (_, schema) = probity_events::docs::current_schema(&event_type).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownEventType,
            format!("the catalogue has no event type {event_type:?}"),
        )
    })?;
    Ok(ok(schema))
}

/// What the console asks to have drafted: the body is built here, as the CLI builds it, and
/// signed in the browser.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftRequest {
    #[serde(rename = "type")]
    event_type: String,
    payload: Value,
    /// The signer's public key (base64).
    signer: String,
    /// RFC 3339; default now.
    #[serde(default)]
    occurred_at: Option<String>,
    /// Default: a fresh id.
    #[serde(default)]
    id: Option<String>,
    /// Further subjects, `kind:id`.
    #[serde(default)]
    subjects: Vec<String>,
}

/// The body to sign, as exact text, with the payload checked against its schema first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Draft {
    /// The event body to sign, exactly these bytes (UTF-8).
    body: String,
}

fn fresh_id() -> String {
    let mut random = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
    format!(
        "ev-{}-{}",
        probity_ledger::now().unix_micros(),
        hex::encode(random)
    )
}

fn bad(field: &str) -> impl Fn(String) -> ApiError + '_ {
    move |e| ApiError::new(ErrorCode::MalformedRequest, format!("{field}: {e}"))
}

async fn draft(State(app): AppState, headers: HeaderMap, body: Body) -> Answer {
    // The body is read before the caller is judged, so that a refusal leaves the connection
    // clean for the client's next request (an unread body would make it unusable).
    let bytes = read_body(body, wire::MAX_REQUEST_BYTES).await?;
    authorize(&app, &headers, Access::Record)?;
    let request: DraftRequest = requests::parse(&bytes)?;
    let mut subjects = Subjects::default();
    // A payload field that is no subject id is left to the payload's own check below, which
    // names the field (a form can mark it) where this could only say "payload".
    for (kind, id) in probity_events::catalogue::implied_subjects(&request.payload) {
        if let Ok(id) = SubjectId::new(id) {
            subjects.add(Subject::new(kind, id));
        }
    }
    for subject in &request.subjects {
        subjects.add(
            subject
                .parse()
                .map_err(|e: probity_core::subject::SubjectError| bad("subjects")(e.to_string()))?,
        );
    }
    let occurred_at = match &request.occurred_at {
        Some(text) => OccurredAt::parse(text).map_err(|e| bad("occurred_at")(e.to_string()))?,
        None => OccurredAt::new(probity_ledger::now().datetime()),
    };
    let signer: PublicKey = serde_json::from_value(Value::from(request.signer.clone()))
        .map_err(|e| ApiError::new(ErrorCode::BadKey, format!("signer: {e}")))?;
    let body = EventBody {
        id: EventId::new(request.id.clone().unwrap_or_else(fresh_id))
            .map_err(|e| bad("id")(e.to_string()))?,
        event_type: EventType::new(&request.event_type).map_err(|e| bad("type")(e.to_string()))?,
        schema: probity_events::spec(&request.event_type).map_or(1, |s| s.schema),
        ledger: LedgerId::new(app.ledger.ledger_id()).map_err(|e| bad("ledger")(e.to_string()))?,
        subjects,
        occurred_at,
        signer,
        payload: request.payload.into(),
    };
    probity_events::catalogue::decode_body(&body)
        .map_err(|e| ApiError(WireError::from(&AppendError::from(e))))?;
    let text = String::from_utf8(body.to_bytes())
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(ok(Draft { body: text }))
}

/// The body, or `too-large` if it passes `limit` (read no further).
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit + 1)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::TooLarge,
                format!("the request passes {limit} bytes, the limit"),
            )
        })
        .and_then(|bytes| {
            if bytes.len() > limit {
                Err(ApiError::new(
                    ErrorCode::TooLarge,
                    format!("the request is {} bytes; the limit is {limit}", bytes.len()),
                ))
            } else {
                Ok(bytes)
            }
        })
}

/// An append of an event already signed: checked and answered exactly as over NATS.
async fn append(State(app): AppState, headers: HeaderMap, body: Body) -> Answer {
    // Read first, as in `draft`.
    let bytes = read_body(body, wire::MAX_REQUEST_BYTES)
        .await
        .inspect_err(|e| app.metrics.append(Some(e.0.code.as_str())))?;
    let caller = authorize(&app, &headers, Access::Record)?;
    let result = async {
        let request: AppendMessage = requests::parse(&bytes)?;
        match &app.upstream {
            Some(upstream) => forwarded_append(&app, upstream, &bytes).await,
            None => app
                .ledger
                .append_async(request.into())
                .await
                .map_err(|e| ApiError(requests::bounded_error(WireError::from(&e)))),
        }
    }
    .await;
    match &result {
        Ok(receipt) => {
            app.metrics.append(None);
            tracing::info!(target: "probity_http::access", user = %caller.user, seq = %receipt.seq, duplicate = receipt.duplicate, "append");
        }
        Err(e) => {
            app.metrics.append(Some(e.0.code.as_str()));
            tracing::info!(target: "probity_http::access", user = %caller.user, code = %e.0.code, message = %e.0.message, "append refused");
        }
    }
    Ok(ok(result?))
}

/// A batch: each event as a single append would be; one reply each (PROTOCOL.md, Batches).
async fn append_batch(State(app): AppState, headers: HeaderMap, body: Body) -> Answer {
    // Read first, as in `draft`.
    let bytes = read_body(body, wire::MAX_BATCH_BYTES).await?;
    let caller = authorize(&app, &headers, Access::Record)?;
    let events = requests::parse_batch(&bytes)?;
    let replies = match &app.upstream {
        Some(upstream) => forwarded_batch(&app, upstream, &bytes).await?,
        None => {
            let ledger_app = app.clone();
            blocking(move || Ok(requests::append_batch(&ledger_app.ledger, events))).await?
        }
    };
    let mut accepted = 0;
    for reply in &replies {
        match reply {
            Reply::Ok(_) => {
                accepted += 1;
                app.metrics.append(None);
            }
            Reply::Error(e) => app.metrics.append(Some(e.code.as_str())),
        }
    }
    tracing::info!(target: "probity_http::access", user = %caller.user, events = replies.len(), accepted, "append batch");
    Ok(ok(replies))
}

/// An append handed to ledgerd as it came (`probity serve --nats`): its reply is the answer,
/// once the copy holds the record (or after a few seconds, if it lags: the receipt stands).
async fn forwarded_append(
    app: &App,
    upstream: &Upstream,
    request: &[u8],
) -> Result<Receipt, ApiError> {
    let reply = upstream
        .request(wire::append_subject(upstream.ledger()), request.to_vec())
        .await?;
    match serde_json::from_slice::<Reply<Receipt>>(&reply) {
        Ok(Reply::Ok(receipt)) => {
            wait_for_copy(app, receipt.seq.0 + 1).await;
            Ok(receipt)
        }
        Ok(Reply::Error(e)) => Err(ApiError(e)),
        Err(e) => Err(unexpected_reply(&e)),
    }
}

/// A batch handed to ledgerd (`probity serve --nats`), answered as [`forwarded_append`].
async fn forwarded_batch(
    app: &App,
    upstream: &Upstream,
    request: &[u8],
) -> Result<Vec<Reply<Receipt>>, ApiError> {
    let reply = upstream
        .request(
            wire::append_batch_subject(upstream.ledger()),
            request.to_vec(),
        )
        .await?;
    // ledgerd answers a batch with one reply per event, or one error for the whole request.
    let replies = match serde_json::from_slice::<Reply<Vec<Reply<Receipt>>>>(&reply) {
        Ok(Reply::Ok(replies)) => replies,
        Ok(Reply::Error(refusal)) => return Err(ApiError(refusal)),
        Err(e) => return Err(unexpected_reply(&e)),
    };
    let last = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Ok(receipt) => Some(receipt.seq.0 + 1),
            Reply::Error(_) => None,
        })
        .max();
    if let Some(size) = last {
        wait_for_copy(app, size).await;
    }
    Ok(replies)
}

fn unexpected_reply(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("ledgerd's reply could not be read: {e}"),
    )
}

/// How long an append's answer waits for the copy to hold its record (it takes records as
/// the stream delivers them: ~100 ms; longer only while NATS or the copy is held up).
const COPY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits (up to [`COPY_WAIT`]) until the copy holds `size` records, so that a page shown
/// after an append includes it.
async fn wait_for_copy(app: &App, size: u64) {
    if app.upstream.as_ref().is_some_and(|u| u.refused().is_some()) {
        return; // it will not get there
    }
    let mut held = app.ledger.watch_size();
    let _ = tokio::time::timeout(COPY_WAIT, held.wait_for(|held| *held >= size)).await;
}
