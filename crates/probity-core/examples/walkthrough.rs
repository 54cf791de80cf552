//! A guided tour of the core on a small hospital ledger, with no server and no storage:
//! keys, genesis, enrolment, signed events, a witnessed checkpoint, verification, tamper
//! detection and an inclusion proof.
//!
//! `cargo run --release -p probity-core --example walkthrough -- [OUT_DIR]` writes the ledger
//! (`records.jsonl`, `checkpoint.note`, `keys.json`) to OUT_DIR (default `./walkthrough-out`).

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use probity_core::merkle;
use probity_core::prelude::*;
use serde_json::json;

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "walkthrough-out".into()),
    );
    fs::create_dir_all(&out)?;

    // 1. Keys. Fixed seeds keep the tour reproducible; real keys come from `SecretKey::generate`.
    let admin = SecretKey::from_seed(&[11; 32]);
    let ledger_key = SecretKey::from_seed(&[12; 32]);
    let clerk = SecretKey::from_seed(&[13; 32]);
    let discipline = SecretKey::from_seed(&[14; 32]);
    let witness = Cosigner::new(
        "audit.example/municipal-audit",
        SecretKey::from_seed(&[15; 32]),
    );
    let origin = "probity.example/city-hospital-3";

    let mut matrix = RoleMatrix::governance();
    matrix.allow("purchase.requested", &[Role::Clerk, Role::DepartmentHead]);
    matrix.allow("supplier.sanction_imposed", &[Role::DisciplineOffice]);
    let mut ledger = MemoryLedger::new(matrix.clone(), AppendRules::default());

    let mut n = 0;
    let mut record = |ledger: &mut MemoryLedger,
                      signer: &SecretKey,
                      event_type: &str,
                      occurred: &str,
                      payload: serde_json::Value|
     -> Result<Record, Box<dyn Error>> {
        n += 1;
        let body = EventBody {
            id: EventId::new(format!("walkthrough-{n:03}"))?,
            event_type: EventType::new(event_type)?,
            schema: 1,
            ledger: LedgerId::new("city-hospital-3")?,
            subjects: Subjects::default(),
            occurred_at: OccurredAt::parse(occurred)?,
            signer: signer.public_key(),
            payload: payload.into(),
        };
        // Recorded two minutes after it happened.
        let at = RecordedAt::from_unix_micros(body.occurred_at.unix_micros() + 120_000_000);
        Ok(ledger
            .append(SignedEvent::sign(&body, signer), at)?
            .record()
            .clone())
    };

    // 2. Genesis names the ledger key and the first administrator; the rest is enrolled in-log.
    record(
        &mut ledger,
        &admin,
        GENESIS,
        "2026-03-01T09:00:00+08:00",
        json!({
        "origin": origin, "ledger_key": ledger_key.public_key(),
        "admins": [{"key": admin.public_key(), "holder": "Zhang Wei", "department": "Information"}]}),
    )?;
    record(
        &mut ledger,
        &admin,
        KEY_ENROLLED,
        "2026-03-01T09:10:00+08:00",
        json!({
        "key": clerk.public_key(), "role": "clerk", "holder": "Li Na", "department": "Equipment"}),
    )?;
    record(
        &mut ledger,
        &admin,
        KEY_ENROLLED,
        "2026-03-01T09:11:00+08:00",
        json!({
        "key": discipline.public_key(), "role": "discipline_office", "holder": "Chen Jie"}),
    )?;
    let request = record(
        &mut ledger,
        &clerk,
        "purchase.requested",
        "2026-03-02T10:00:00+08:00",
        json!({
        "department": "cardiology", "item": "infusion pump", "quantity": 4,
        "estimated": {"fen": 18_000_000, "currency": "CNY"}}),
    )?;
    record(
        &mut ledger,
        &discipline,
        "supplier.sanction_imposed",
        "2026-03-03T15:00:00+08:00",
        json!({
        "supplier": "91110000600037341L", "kind": "blacklist", "period_days": 730}),
    )?;

    // 3. The ledger refuses what the rules forbid: a clerk may not impose a sanction.
    let refused = record(
        &mut ledger,
        &clerk,
        "supplier.sanction_imposed",
        "2026-03-03T16:00:00+08:00",
        json!({}),
    );
    println!(
        "A clerk tries to record a sanction -> refused: {}",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    );

    // 4. A checkpoint signed by the ledger, cosigned by an outside witness.
    let mut checkpoint = ledger.checkpoint(&NoteSigner::new(origin, ledger_key));
    checkpoint.add_signature(witness.cosign(&checkpoint, 1_772_600_000)?);
    println!(
        "\nWitnessed checkpoint:\n{}",
        String::from_utf8_lossy(&checkpoint.to_bytes())
    );

    let jsonl: Vec<String> = ledger
        .records()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.to_json()).into_owned())
        .collect();
    fs::write(out.join("records.jsonl"), jsonl.join("\n") + "\n")?;
    fs::write(out.join("checkpoint.note"), checkpoint.to_bytes())?;
    fs::write(
        out.join("keys.json"),
        serde_json::to_vec_pretty(&json!({
        "ledger_vkey": ledger.registry().genesis().map(|g| VerifierKey::ed25519(origin, g.ledger_key).to_string()),
        "witness_vkey": witness.verifier_key().to_string()}))?,
    )?;

    // 5. An auditor verifies everything, requiring the witness.
    let verify = |records: &[Record]| {
        let mut verifier = ChainVerifier::new(&matrix);
        verifier.require_witnesses(vec![witness.verifier_key()], 1);
        verifier.add_checkpoint(checkpoint.clone(), ledger.size());
        records.iter().for_each(|r| verifier.push(r));
        verifier.finish()
    };
    let report = verify(ledger.records());
    println!(
        "Verification of {} records: {} findings",
        report.records,
        report.findings.len()
    );

    // 6. Someone quietly edits the purchase request's quantity in the stored copy.
    let mut tampered = ledger.records().to_vec();
    let body = String::from_utf8_lossy(tampered[3].event.body_bytes())
        .replace("\"quantity\":4", "\"quantity\":40");
    tampered[3].event = SignedEvent::from_parts(
        body.into_bytes(),
        tampered[3].event.keyid(),
        *tampered[3].event.signature(),
    );
    println!("\nAfter changing quantity 4 -> 40 in record 3:");
    for finding in verify(&tampered).findings {
        println!("  [{}] {}", finding.code(), finding);
    }

    // 7. Anyone holding the checkpoint can check one record with a short proof.
    let proof = ledger
        .inclusion_proof(request.seq, ledger.size())
        .unwrap_or_default();
    let ok = merkle::verify_inclusion(
        &request.hash,
        request.seq.0,
        ledger.size(),
        &proof,
        &ledger.root(),
    )
    .is_ok();
    println!(
        "\nInclusion proof for record {} ({} hashes): {}",
        request.seq,
        proof.len(),
        if ok { "verifies" } else { "FAILS" }
    );
    println!("Ledger written to {}", out.display());
    if report.is_intact() && ok {
        Ok(())
    } else {
        Err("the walkthrough ledger did not verify".into())
    }
}
