//! The investigators' API (`schemas/HTTP.md`): the views as of any moment, what changed
//! between two, and the investigation bundle of a replay — what `replay --json`, `replay
//! --diff --json` and `replay --bundle` give, from the same library.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use probity_core::time::OccurredAt;
use probity_views::answers::Zone;
use probity_views::investigation::{Question, View};
use probity_views::replay::{Moment, ReplayError, Replayer};
use probity_wire::{ErrorCode, WireError};
use serde::Deserialize;

use crate::api::{attachment, authorize, blocking, ok, params, Answer, AppState};
use crate::auth::Access;
use crate::error::ApiError;
use crate::App;

/// The most latest events a replay without a subject lists.
const MAX_EVENTS: usize = 1000;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/replay", get(replay))
        .route("/api/replay/diff", get(diff))
        .route("/api/replay/bundle", get(bundle))
}

/// `GET /api/replay` and `/api/replay/bundle`: one moment, at most one subject.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    seq: Option<u64>,
    known_at: Option<String>,
    true_at: Option<String>,
    supplier: Option<String>,
    rep: Option<String>,
    case: Option<String>,
    staff: Option<String>,
    events: Option<usize>,
}

/// `GET /api/replay/diff`: two moments in one sense.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffRequest {
    from: String,
    to: String,
    sense: Option<String>,
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::MalformedRequest, message)
}

fn instant(name: &str, text: &str) -> Result<i64, ApiError> {
    OccurredAt::parse(text)
        .map(|t| t.unix_micros())
        .map_err(|e| ApiError::new(ErrorCode::BadTime, format!("{name}: {e}")))
}

fn request<T: serde::de::DeserializeOwned>(pairs: Vec<(String, String)>) -> Result<T, ApiError> {
    let (body, format) = params(pairs)?;
    if let Some(format) = format.filter(|f| f != "json") {
        return Err(malformed(format!(
            "format {format:?}: this answer is JSON only"
        )));
    }
    probity_core::strict_json::from_slice(&body)
        .map_err(|e| malformed(format!("the request has the wrong shape: {e}")))
}

impl ReplayRequest {
    /// The question, or why it is not one: exactly one moment, at most one subject.
    fn question(self) -> Result<Question, ApiError> {
        let moment = match (self.seq, &self.known_at, &self.true_at) {
            (Some(seq), None, None) => Moment::Records(seq.saturating_add(1)),
            (None, Some(t), None) => Moment::KnownAt(instant("known_at", t)?),
            (None, None, Some(t)) => Moment::TrueAt(instant("true_at", t)?),
            _ => {
                return Err(malformed(
                    "give exactly one moment: seq=N, known_at=T or true_at=T",
                ))
            }
        };
        let subjects: Vec<(String, String)> = [
            ("supplier", self.supplier),
            ("rep", self.rep),
            ("case", self.case),
            ("staff", self.staff),
        ]
        .into_iter()
        .filter_map(|(kind, id)| id.map(|id| (kind.to_owned(), id)))
        .collect();
        if subjects.len() > 1 {
            return Err(malformed(
                "give at most one subject: supplier, rep, case or staff",
            ));
        }
        let events = self.events.unwrap_or(20);
        if events > MAX_EVENTS {
            return Err(malformed(format!("events={events}: at most {MAX_EVENTS}")));
        }
        Ok(Question {
            moment,
            subject: subjects.into_iter().next(),
            events,
        })
    }
}

/// A replay error as the API reports it: a moment past the ledger is the asker's to fix.
fn replay_error(e: ReplayError) -> WireError {
    match e {
        ReplayError::Beyond { .. } => WireError::new(ErrorCode::NotFound, e.to_string()),
        other => WireError::new(ErrorCode::Storage, other.to_string()),
    }
}

fn zone(app: &App) -> Zone {
    Zone(app.config.offset)
}

/// `read` of a replayer over the history of `app`'s views.
fn with_replayer<R>(
    app: &App,
    read: impl FnOnce(&Replayer<'_>) -> Result<R, ReplayError>,
) -> Result<R, WireError> {
    app.with_history(|store, book| {
        Replayer::new(store, book)
            .and_then(|r| read(&r))
            .map_err(replay_error)
    })
}

/// The views at `question`, replayed from the history of `app`'s views.
fn replayed(app: &App, question: &Question) -> Result<View, WireError> {
    let size = app.ledger.size();
    with_replayer(app, |r| r.view(question, size, zone(app)))
}

async fn replay(
    State(app): AppState,
    headers: axum::http::HeaderMap,
    q: Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Oversight)?;
    let question = request::<ReplayRequest>(q.0)?.question()?;
    let answer = blocking(move || replayed(&app, &question).map(|view| view.answer)).await?;
    Ok(ok(answer))
}

async fn diff(
    State(app): AppState,
    headers: axum::http::HeaderMap,
    q: Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Oversight)?;
    let asked: DiffRequest = request(q.0)?;
    let (from, to) = (instant("from", &asked.from)?, instant("to", &asked.to)?);
    let (from, to) = match asked.sense.as_deref() {
        None | Some("known") => (Moment::KnownAt(from), Moment::KnownAt(to)),
        Some("true") => (Moment::TrueAt(from), Moment::TrueAt(to)),
        Some(other) => return Err(malformed(format!("sense {other:?}: known or true"))),
    };
    let answer =
        blocking(move || with_replayer(&app, |r| r.diff_answer(from, to, zone(&app)))).await?;
    Ok(ok(answer))
}

async fn bundle(
    State(app): AppState,
    headers: axum::http::HeaderMap,
    q: Query<Vec<(String, String)>>,
) -> Answer {
    authorize(&app, &headers, Access::Oversight)?;
    let question = request::<ReplayRequest>(q.0)?.question()?;
    let text = blocking(move || {
        let view = replayed(&app, &question)?;
        let bundle = probity_ledger::evidence::investigation(
            &app.ledger,
            &view.bundle_records(),
            view.bundle_question(),
        )
        .map_err(|e| WireError::new(ErrorCode::Storage, e.to_string()))?;
        serde_json::to_string_pretty(&bundle)
            .map_err(|e| WireError::new(ErrorCode::Internal, e.to_string()))
    })
    .await?;
    Ok(attachment(
        text.into_bytes(),
        "application/json",
        "investigation.json",
    ))
}
