//! Record verification rate next to the raw `verify_strict` rate measured in the same run.
//!
//! `cargo bench -p probity-core --bench verify` (env `RECORDS`, default 20000). Prints a
//! Markdown table for `BENCHMARKS.md`.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use probity_core::prelude::*;
use probity_core::verify::check_record;
use serde_json::json;

fn ledger(n: usize) -> (MemoryLedger, RoleMatrix) {
    let admin = SecretKey::from_seed(&[1; 32]);
    let clerk = SecretKey::from_seed(&[3; 32]);
    let mut matrix = RoleMatrix::governance();
    matrix.allow("purchase.requested", &[Role::Clerk]);
    let mut ledger = MemoryLedger::new(matrix.clone(), AppendRules::default());
    let body = |id: String, t: &str, signer: &SecretKey, payload: serde_json::Value| EventBody {
        id: EventId::new(id).unwrap(),
        event_type: EventType::new(t).unwrap(),
        schema: 1,
        ledger: LedgerId::new("bench").unwrap(),
        subjects: Subjects::default(),
        occurred_at: OccurredAt::parse("2026-01-01T08:00:00+08:00").unwrap(),
        signer: signer.public_key(),
        payload: payload.into(),
    };
    let mut t = 1_767_225_600_000_000;
    let mut append = |ledger: &mut MemoryLedger, b: EventBody, k: &SecretKey| {
        t += 1000;
        ledger
            .append(SignedEvent::sign(&b, k), RecordedAt::from_unix_micros(t))
            .unwrap();
    };
    let genesis = json!({"origin": "probity.example/bench", "ledger_key": SecretKey::from_seed(&[2; 32]).public_key(),
        "admins": [{"key": admin.public_key(), "holder": "admin"}]});
    append(
        &mut ledger,
        body("g".into(), GENESIS, &admin, genesis),
        &admin,
    );
    let enrol = json!({"key": clerk.public_key(), "role": "clerk", "holder": "clerk"});
    append(
        &mut ledger,
        body("e".into(), KEY_ENROLLED, &admin, enrol),
        &admin,
    );
    for i in 0..n {
        // A payload of realistic size (~350 bytes of body in all).
        let payload = json!({"department": "cardiology", "requester": "S-0042", "item": "infusion pump",
            "category": "A0232", "quantity": i, "estimated": {"fen": 18_000_000, "currency": "CNY"},
            "budget_project": "BP-7", "justification": "replacement of worn units"});
        append(
            &mut ledger,
            body(format!("req-{i}"), "purchase.requested", &clerk, payload),
            &clerk,
        );
    }
    (ledger, matrix)
}

fn rate(n: usize, seconds: f64) -> f64 {
    n as f64 / seconds
}

/// Best of `rounds` runs of `f`, in records per second.
fn best(rounds: usize, n: usize, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            rate(n, start.elapsed().as_secs_f64())
        })
        .fold(0.0, f64::max)
}

fn main() {
    let n: usize = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (ledger, matrix) = ledger(n);
    let records = ledger.records();
    let len = records.len();

    // The same messages and signatures, for verify_strict and nothing else.
    let raw: Vec<(PublicKey, Vec<u8>, Signature)> = records
        .iter()
        .map(|r| {
            let body = EventBody::parse(r.event.body_bytes()).unwrap();
            let msg = probity_core::envelope::pae(
                probity_core::envelope::PAYLOAD_TYPE,
                r.event.body_bytes(),
            );
            (body.signer, msg, *r.event.signature())
        })
        .collect();
    let raw_verify = |threads: usize| {
        std::thread::scope(|scope| {
            for part in raw.chunks(raw.len().div_ceil(threads)) {
                scope.spawn(move || {
                    for (key, msg, sig) in part {
                        key.verify(msg, sig).unwrap();
                    }
                });
            }
        })
    };
    let full = |threads: usize| {
        let mut verifier = ChainVerifier::new(&matrix);
        // No checkpoints here: what is measured is verifying each record, not anchoring.
        verifier.allow_unanchored(true);
        if threads == 1 {
            records.iter().for_each(|r| verifier.push(r));
        } else {
            verifier.push_batch(records);
        }
        assert!(verifier.finish().is_intact());
    };

    // Interleave the measurements round by round so that a noisy neighbour hurts them alike.
    let mut results = [0.0f64; 4];
    for _ in 0..rounds {
        results[0] = results[0].max(best(1, len, || raw_verify(1)));
        results[1] = results[1].max(best(1, len, || full(1)));
        results[2] = results[2].max(best(1, len, || raw_verify(threads)));
        results[3] = results[3].max(best(1, len, || full(threads)));
    }
    let [raw1, full1, rawn, fulln] = results;
    let pre: Vec<_> = records.iter().map(check_record).collect();
    let mut pre = Some(pre);
    let sequential = best(1, len, || {
        let mut verifier = ChainVerifier::new(&matrix);
        verifier.allow_unanchored(true);
        for (r, c) in records.iter().zip(pre.take().unwrap()) {
            verifier.push_checked(r, c);
        }
        assert!(verifier.finish().is_intact());
    });
    let hashing = best(rounds, len, || {
        assert!(records.iter().all(|r| r.compute_hash() == r.hash));
    });

    println!("records: {len}, threads: {threads}, best of {rounds} interleaved rounds");
    println!("| measurement | records/s | ratio to raw `verify_strict` (same threads) |");
    println!("|---|---:|---:|");
    println!("| raw `verify_strict`, 1 thread | {raw1:.0} | 1.00 |");
    println!(
        "| full record verification, 1 thread | {full1:.0} | {:.2} |",
        full1 / raw1
    );
    println!("| raw `verify_strict`, {threads} threads | {rawn:.0} | 1.00 |");
    println!(
        "| full record verification, {threads} threads | {fulln:.0} | {:.2} |",
        fulln / rawn
    );
    println!("| record hash recomputation only, 1 thread | {hashing:.0} | - |");
    println!("| sequential part only (links, ids, keys, Merkle), 1 thread | {sequential:.0} | - |");
}
