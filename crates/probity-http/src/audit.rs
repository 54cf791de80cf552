//! An auditor's check of an export they hold: `POST /api/verify` takes the export's bytes
//! (EXPORT.md) and verifies them as `probity verify FILE --ledger-vkey VKEY --json` does, on
//! the server's cores, reading the upload as it arrives (an export of any size, in bounded
//! memory). Nothing is kept: the answer is the report.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use futures_util::TryStreamExt;
use probity_core::checkpoint::VerifierKey;
use probity_ledger::audit::{Trust, VerifyExportError};
use probity_wire::ErrorCode;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::api::{authorize, ok, Answer, AppState};
use crate::auth::Access;
use crate::error::ApiError;
use crate::App;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/verify", post(verify_upload))
}

/// What the auditor trusts, from the query: `ledger_vkey` (the ledger's C2SP verifier key as
/// the hospital gave it, `<origin>+<key id>+<base64>`; without it the genesis record's own key
/// is used, which shows only that the export agrees with itself), `witness` (a witness's
/// cosigner key, repeatable) with `quorum` (how many of them must have cosigned the anchoring
/// checkpoint) and `witnessed_at` (that checkpoint's size instead of the largest's), and
/// `allow_unanchored` (`true` or `false`, the default) — `probity verify`'s options.
fn trust_of(pairs: Vec<(String, String)>) -> Result<Trust, ApiError> {
    let mut trust = Trust::default();
    let mut seen = Vec::new();
    let malformed = |message: String| ApiError::new(ErrorCode::MalformedRequest, message);
    let count = |name: &str, value: &str| {
        value
            .parse::<u64>()
            .map_err(|_| malformed(format!("{name}: {value:?} is not a whole number")))
    };
    for (name, value) in pairs {
        if name == "witness" {
            let key = VerifierKey::parse(value.trim())
                .map_err(|e| malformed(format!("witness: not a verifier key ({e})")))?;
            trust.witnesses.push(key);
            continue;
        }
        if seen.contains(&name) {
            return Err(malformed(format!(
                "parameter {name:?} is given twice; give it once"
            )));
        }
        match name.as_str() {
            // Parsed as text only: a server must not read a file a caller names.
            "ledger_vkey" => {
                trust.ledger_vkey = Some(
                    VerifierKey::parse(value.trim())
                        .map_err(|e| malformed(format!("ledger_vkey: not a verifier key ({e})")))?,
                )
            }
            "quorum" => {
                trust.quorum = usize::try_from(count("quorum", &value)?)
                    .map_err(|_| malformed(format!("quorum: {value} is too large")))?
            }
            "witnessed_at" => trust.witnessed_at = Some(count("witnessed_at", &value)?),
            "allow_unanchored" => {
                trust.allow_unanchored = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(malformed(format!(
                            "allow_unanchored: {value:?} is not true or false"
                        )))
                    }
                }
            }
            _ => {
                return Err(malformed(format!(
                    "parameter {name:?}: /api/verify takes ledger_vkey, witness, quorum, witnessed_at and allow_unanchored"
                )))
            }
        }
        seen.push(name);
    }
    if trust.quorum > trust.witnesses.len() {
        return Err(malformed(format!(
            "quorum {} needs at least {} witness keys",
            trust.quorum, trust.quorum
        )));
    }
    if trust.witnessed_at.is_some() && trust.quorum == 0 {
        return Err(malformed(
            "witnessed_at names the checkpoint that must carry the quorum: give quorum too".into(),
        ));
    }
    Ok(trust)
}

/// Verifies the uploaded export; answers the report (`schemas/http/verify.json`), intact or
/// not — findings are the answer, not an error.
async fn verify_upload(
    State(app): AppState,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Body,
) -> Answer {
    let judged = authorize(&app, &headers, Access::Oversight).and_then(|_| trust_of(pairs));
    let trust = match judged {
        Ok(trust) => trust,
        Err(refusal) => {
            discard(body).await;
            return Err(refusal);
        }
    };
    let upload = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    // Made here: the bridge blocks on this runtime from the thread below.
    let lines = std::io::BufReader::new(SyncIoBridge::new(upload));
    let verified = tokio::task::spawn_blocking(move || {
        probity_ledger::audit::verify_export(lines, "the upload", &trust, &mut |_, _| {})
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    match verified {
        Ok((report, _range)) => Ok(ok(report)),
        Err(e @ VerifyExportError::Io { .. }) => Err(ApiError::new(
            ErrorCode::MalformedRequest,
            format!("the upload could not be read: {e}"),
        )),
        Err(e) => Err(ApiError::new(ErrorCode::MalformedRequest, e.to_string())),
    }
}

/// How much of a refused upload is read (and thrown away) so that the client, still sending,
/// gets the refusal rather than a broken connection; past it the connection is closed.
const DISCARD_LIMIT: usize = 64 << 20;

async fn discard(body: Body) {
    let mut chunks = body.into_data_stream();
    let mut read = 0;
    while let Ok(Some(chunk)) = chunks.try_next().await {
        read += chunk.len();
        if read > DISCARD_LIMIT {
            break;
        }
    }
}
