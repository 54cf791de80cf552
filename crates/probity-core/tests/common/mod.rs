//! A small, deterministic ledger for the integration tests: fixed keys, a few event types.

#![allow(dead_code, clippy::unwrap_used)]

use probity_core::prelude::*;
use serde_json::json;

pub const ORIGIN: &str = "probity.example/test-hospital";
pub const LEDGER: &str = "test-hospital";

pub fn admin() -> SecretKey {
    SecretKey::from_seed(&[1; 32])
}
pub fn ledger_key() -> SecretKey {
    SecretKey::from_seed(&[2; 32])
}
pub fn clerk() -> SecretKey {
    SecretKey::from_seed(&[3; 32])
}
pub fn discipline() -> SecretKey {
    SecretKey::from_seed(&[4; 32])
}
pub fn stranger() -> SecretKey {
    SecretKey::from_seed(&[5; 32])
}
pub fn note_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, ledger_key())
}

pub fn matrix() -> RoleMatrix {
    let mut m = RoleMatrix::governance();
    m.allow("purchase.requested", &[Role::Clerk]);
    m.allow("supplier.sanction_imposed", &[Role::DisciplineOffice]);
    m
}

pub fn at(micros: i64) -> RecordedAt {
    RecordedAt::from_unix_micros(1_767_225_600_000_000 + micros)
}

pub fn event(
    id: &str,
    event_type: &str,
    signer: &SecretKey,
    payload: serde_json::Value,
) -> SignedEvent {
    let body = EventBody {
        id: EventId::new(id).unwrap(),
        event_type: EventType::new(event_type).unwrap(),
        schema: 1,
        ledger: LedgerId::new(LEDGER).unwrap(),
        subjects: Subjects::default(),
        occurred_at: OccurredAt::parse("2026-01-01T08:00:00+08:00").unwrap(),
        signer: signer.public_key(),
        payload: payload.into(),
    };
    SignedEvent::sign(&body, signer)
}

pub fn genesis() -> SignedEvent {
    event(
        "genesis",
        GENESIS,
        &admin(),
        json!({
            "origin": ORIGIN,
            "ledger_key": ledger_key().public_key(),
            "admins": [{"key": admin().public_key(), "holder": "Administrator", "department": "IT"}],
        }),
    )
}

pub fn enrol(id: &str, key: &SecretKey, role: Role) -> SignedEvent {
    event(
        id,
        KEY_ENROLLED,
        &admin(),
        json!({"key": key.public_key(), "role": role, "holder": format!("{role} holder")}),
    )
}

pub fn revoke(id: &str, key: &SecretKey) -> SignedEvent {
    event(
        id,
        KEY_REVOKED,
        &admin(),
        json!({"key_id": key.public_key().key_id(), "reason": "left the post"}),
    )
}

pub fn request(id: &str, n: u64) -> SignedEvent {
    event(
        id,
        "purchase.requested",
        &clerk(),
        json!({"item": "infusion pump", "quantity": n}),
    )
}

/// Genesis, two enrolments, then `n` purchase requests.
pub fn ledger(n: u64) -> MemoryLedger {
    let mut ledger = MemoryLedger::new(matrix(), AppendRules::default());
    let mut t = 0;
    let mut push = |ledger: &mut MemoryLedger, e: SignedEvent| {
        t += 1_000;
        ledger.append(e, at(t)).unwrap();
    };
    push(&mut ledger, genesis());
    push(&mut ledger, enrol("enrol-clerk", &clerk(), Role::Clerk));
    push(
        &mut ledger,
        enrol("enrol-do", &discipline(), Role::DisciplineOffice),
    );
    for i in 0..n {
        push(&mut ledger, request(&format!("req-{i}"), i));
    }
    ledger
}

/// Verifies `records` with the ledger's checkpoints.
pub fn verify(records: &[Record], checkpoints: &[SignedNote]) -> VerifyReport {
    let matrix = matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    for note in checkpoints {
        let size = Checkpoint::from_text(&note.text).unwrap().size;
        verifier.add_checkpoint(note.clone(), size);
    }
    for record in records {
        verifier.push(record);
    }
    verifier.finish()
}

/// Re-seals records from `from` on with fresh links (what a forger with the records but not
/// the signers' keys can do), keeping the events as they are.
pub fn relink(records: &mut [Record]) {
    let mut head = ChainHead::default();
    for record in records.iter_mut() {
        head.next_seq = record.seq;
        *record = head.append(record.event.clone(), record.recorded_at);
    }
}
