//! `probity witness serve`: a C2SP tlog-witness over HTTP. `POST /add-checkpoint` answers
//! with the spec's status codes (404 unknown log, 403 not signed by it, 400 malformed or old
//! size beyond the checkpoint, 409 with the witness's size as `text/x.tlog.size`, 422 for an
//! empty tree's wrong root, a proof from 0, a fork or a bad consistency proof) and, on 200,
//! the cosignature line; `GET /<hex SHA-256 of origin>/checkpoint` serves the latest
//! checkpoint cosigned for that log, with the log's signature and the witness's cosignature.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use probity_core::witness::{AddCheckpoint, WitnessError};

use crate::witness::{Algorithm, Identity, Refusal, Witness};
use crate::{out, Failure};

/// The media type of a 409's body (the witness's latest size).
pub const TLOG_SIZE: &str = "text/x.tlog.size";

/// Serves the witness on `listen` until Ctrl-C or SIGTERM (ML-DSA-44 unless `--algorithm`).
pub fn run(identity: &Identity, listen: &str) -> Result<(), Failure> {
    let address = crate::serve::listen_address(listen, "127.0.0.1:7380")?;
    let witness = Arc::new(Witness::open(identity, Algorithm::MlDsa44)?);
    let (runtime, listener) = crate::serve::runtime_and_listener(address, listen)?;
    runtime.block_on(async {
        let (listener, bound) = listener.into_tokio()?;
        out(&format!(
            "witness {} on http://{bound}/ (POST /add-checkpoint, GET /<origin hash>/checkpoint); vkey {}",
            witness.vkey().name,
            witness.vkey()
        ));
        axum::serve(listener, router(witness))
            .with_graceful_shutdown(crate::serve::stop_signal())
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))
    })
}

fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .with_state(witness)
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let Ok(body) = std::str::from_utf8(&body) else {
        return text(StatusCode::BAD_REQUEST, "the body is not UTF-8\n".into());
    };
    let request = match AddCheckpoint::parse(body) {
        Ok(request) => request,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    // Checking, cosigning and the fsync of the state run off the async workers.
    let answer = tokio::task::spawn_blocking(move || witness.add_checkpoint(&request)).await;
    match answer {
        Ok(Ok((_, signature))) => text(StatusCode::OK, signature.to_line()),
        Ok(Err(Refusal::Protocol(WitnessError::Conflict { latest, .. }))) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, TLOG_SIZE)],
            format!("{latest}\n"),
        )
            .into_response(),
        Ok(Err(Refusal::Protocol(e))) => {
            let status =
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                // A signed checkpoint that is not consistent is evidence against the log.
                eprintln!("probity witness: refused a signed checkpoint: {e}");
            }
            text(status, format!("{e}\n"))
        }
        Ok(Err(Refusal::Storage(e))) => {
            eprintln!("probity witness: cannot keep state, not cosigning: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness cannot keep its state\n".into(),
            )
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into()),
    }
}

async fn checkpoint(
    State(witness): State<Arc<Witness>>,
    Path(origin_hash): Path<String>,
) -> Response {
    match witness.latest_note(&origin_hash) {
        Some(note) => text(StatusCode::OK, note),
        None => text(
            StatusCode::NOT_FOUND,
            "this witness has cosigned no checkpoint for that log\n".into(),
        ),
    }
}
