//! The oversight queries. Embedded (`--data DIR`): the views in `DIR/views` are brought up to
//! date from the book (each new record verified before it is applied), then asked. Over NATS:
//! the request goes to projectord on `probity.<ledger>.query.<kind>`. Both give the same JSON.

use std::path::Path;

use probity_ledger::wire::ErrorCode;
use probity_views::query::{self, ProjectorStatus};
use probity_views::{embedded, ProjectError};
use serde::Serialize;
use serde_json::{json, Value};

use crate::target::Target;
use crate::Failure;

fn refused(e: ProjectError) -> Failure {
    match e {
        ProjectError::Halted(halt) => Failure::Refused(
            "chain-broken".into(),
            format!(
                "record {} does not verify, so nothing from it on is projected: {}",
                halt.seq, halt.reason
            ),
        ),
        other => Failure::Input(other.to_string()),
    }
}

/// Asks `kind` with `body` of the ledger in `data` (embedded) or behind `target` (NATS).
pub fn ask(
    target: Target,
    data: Option<&Path>,
    kind: &str,
    body: &impl Serialize,
) -> Result<Value, Failure> {
    let body = serde_json::to_value(body).map_err(|e| Failure::Input(e.to_string()))?;
    let payload = body.to_string().into_bytes();
    let answer = match (&target, data) {
        (Target::Embedded(ledger), Some(data)) => {
            let views = embedded::views_dir(data);
            let mut bar = crate::audit::ViewsProgress::default();
            let mut progress = |done: u64, size: u64| bar.report(done, size);
            let projector = embedded::open_current(&views, ledger, &mut progress);
            bar.finish();
            let mut projector = projector.map_err(|e| match e {
                ProjectError::Store(e) => Failure::Input(format!("{}: {e}", views.display())),
                other => refused(other),
            })?;
            let now = probity_ledger::now().unix_micros();
            let zone = probity_views::answers::Zone(crate::text().zone());
            let answer =
                projector.settle(|projection| query::answer(projection, kind, &payload, now, zone));
            projector.close();
            answer.map_err(|e| Failure::Input(format!("{}: {e}", views.display())))?
        }
        (Target::Nats { ledger, .. }, _) => {
            let subject = query::subject(ledger, kind);
            target.request::<Value, Value>(subject, &body)?
        }
        _ => return Err(Failure::Input("not a data directory".into())),
    };
    target.close();
    answer.map_err(|e| match e.code {
        // The asker's mistake, like any bad argument: exit code 2.
        ErrorCode::BadTime
        | ErrorCode::UnknownRule
        | ErrorCode::MalformedJson
        | ErrorCode::MalformedRequest
        | ErrorCode::UnknownQuery => Failure::Input(e.message),
        _ => Failure::Refused(e.code.to_string(), e.message),
    })
}

/// How far the views are behind: embedded, the views' cursor against the book; over NATS,
/// projectord's own report (`None` when no projectord answers).
pub fn lag(target: &Target, data: Option<&Path>) -> Option<ProjectorStatus> {
    match (target, data) {
        (Target::Embedded(ledger), Some(data)) => {
            let views = embedded::views_dir(data);
            if !views.exists() {
                return None;
            }
            // The cursor alone: no row is read.
            let store = probity_views::ViewStore::open(&views).ok()?;
            let cursor = store.cursor().ok()??;
            store.close();
            let head = ledger.size();
            let behind = head.saturating_sub(cursor.applied);
            let seconds_behind = match ledger.record(probity_core::ids::Seq(cursor.applied)) {
                Ok(Some(next)) if behind > 0 => {
                    (probity_ledger::now().unix_micros() - next.recorded_at.unix_micros()).max(0)
                        as f64
                        / 1e6
                }
                _ => 0.0,
            };
            Some(ProjectorStatus {
                applied: cursor.applied,
                head,
                records_behind: behind,
                seconds_behind,
                state_hash: String::new(),
                halted: cursor.halted,
            })
        }
        (Target::Nats { ledger, .. }, _) => target
            .request::<Value, ProjectorStatus>(query::subject(ledger, "status"), &json!({}))
            .ok()?
            .ok(),
        _ => None,
    }
}
