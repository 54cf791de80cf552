//! The oversight queries on a data directory: verify the whole chain (all cores), then project
//! the records and answer from the projection. Nothing unverified is ever projected.

use probity_core::ids::Seq;
use probity_core::verify::ChainVerifier;
use probity_ledger::Ledger;
use probity_projector::{Applied, Projection};

use crate::Failure;

/// Verifies every record of `ledger` and projects them.
pub fn project(ledger: &Ledger) -> Result<Projection, Failure> {
    let matrix = probity_events::role_matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    verifier.pin_log_key(ledger.verifier_key());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let size = ledger.size();
    let mut projection = Projection::new();
    let mut from = 0;
    while from < size {
        let to = (from + 8192).min(size);
        let records = ledger
            .book()
            .records(Seq(from), Seq(to))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::Input(e.to_string()))?;
        verifier.push_batch(&records, threads);
        let report = verifier.finish_peek();
        if !report.is_empty() {
            let first: Vec<String> = report.iter().take(3).map(ToString::to_string).collect();
            return Err(Failure::Refused(
                "chain-broken".into(),
                format!(
                    "the book does not verify, so nothing is projected: {}",
                    first.join("; ")
                ),
            ));
        }
        for record in &records {
            let body = record
                .event
                .open()
                .map_err(|e| Failure::Input(format!("record {}: {e}", record.seq)))?
                .into_body();
            let event = probity_events::validate_body(&body)
                .map_err(|e| Failure::Input(format!("record {}: {e}", record.seq)))?;
            projection.apply(Applied {
                seq: record.seq,
                recorded_at: record.recorded_at,
                body: &body,
                event: &event,
            });
        }
        from = to;
    }
    Ok(projection)
}
