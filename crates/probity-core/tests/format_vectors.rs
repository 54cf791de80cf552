//! The worked test vectors of `schemas/FORMAT.md`: a small ledger built from fixed seeds,
//! written under `schemas/vectors/`. This test checks that the code reproduces every file byte
//! for byte; `PROBITY_BLESS=1 cargo test -p probity-core --test format_vectors` rewrites them
//! (only ever with a format version bump).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::PathBuf;

use probity_core::checkpoint::{Cosigner, NoteSigner};
use probity_core::envelope::{pae, PAYLOAD_TYPE};
use probity_core::merkle;
use probity_core::prelude::*;
use serde_json::{json, Value};

const ORIGIN: &str = "probity.example/vector-hospital";
const LEDGER: &str = "vector-hospital";
const COSIGNED_AT: u64 = 1_772_330_400; // 2026-03-01T02:00:00Z

fn seed(tag: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = tag.wrapping_mul(16).wrapping_add(i as u8);
    }
    seed
}

struct Keys {
    admin: SecretKey,
    ledger: SecretKey,
    clerk: SecretKey,
    witness: SecretKey,
}

fn keys() -> Keys {
    Keys {
        admin: SecretKey::from_seed(&seed(1)),
        ledger: SecretKey::from_seed(&seed(2)),
        clerk: SecretKey::from_seed(&seed(3)),
        witness: SecretKey::from_seed(&seed(4)),
    }
}

fn body(
    id: &str,
    event_type: &str,
    signer: &SecretKey,
    occurred: &str,
    payload: Value,
) -> EventBody {
    EventBody {
        id: EventId::new(id).unwrap(),
        event_type: EventType::new(event_type).unwrap(),
        schema: 1,
        ledger: LedgerId::new(LEDGER).unwrap(),
        subjects: Subjects::default(),
        occurred_at: OccurredAt::parse(occurred).unwrap(),
        signer: signer.public_key(),
        payload: payload.into(),
    }
}

fn build() -> (MemoryLedger, Vec<EventBody>) {
    let k = keys();
    let mut case = Subjects::default();
    case.case.push(SubjectId::new("CASE-2026-001").unwrap());
    let bodies = vec![
        body(
            "vec-0001",
            GENESIS,
            &k.admin,
            "2026-03-01T09:00:00+08:00",
            json!({
                "origin": ORIGIN,
                "ledger_key": k.ledger.public_key(),
                "admins": [{"key": k.admin.public_key(), "holder": "Wang Admin", "department": "IT"}],
            }),
        ),
        body(
            "vec-0002",
            KEY_ENROLLED,
            &k.admin,
            "2026-03-01T09:05:00+08:00",
            json!({"key": k.clerk.public_key(), "role": "clerk", "holder": "Li Clerk", "department": "Equipment"}),
        ),
        EventBody {
            subjects: case,
            ..body(
                "vec-0003",
                "purchase.requested",
                &k.clerk,
                "2026-03-01T09:30:00+08:00",
                json!({"item": "infusion pump", "quantity": 4, "estimated": {"fen": 12000000, "currency": "CNY"}}),
            )
        },
    ];
    let mut matrix = RoleMatrix::governance();
    matrix.allow("purchase.requested", &[Role::Clerk]);
    let mut ledger = MemoryLedger::new(matrix, AppendRules::default());
    let signers = [&k.admin, &k.admin, &k.clerk];
    for (i, (b, signer)) in bodies.iter().zip(signers).enumerate() {
        let recorded =
            RecordedAt::from_unix_micros(1_772_330_400_000_000 + i as i64 * 60_000_000 + 123_456);
        ledger
            .append(SignedEvent::sign(b, signer), recorded)
            .unwrap();
    }
    (ledger, bodies)
}

fn key_json(key: &SecretKey) -> Value {
    json!({
        "seed_hex": key.to_seed_hex(),
        "public_key_base64": key.public_key().to_base64(),
        "key_id": key.public_key().key_id(),
    })
}

fn expected_files() -> Vec<(&'static str, String)> {
    let k = keys();
    let (ledger, bodies) = build();
    let note_signer = NoteSigner::new(ORIGIN, SecretKey::from_seed(&seed(2)));
    let witness = Cosigner::new("audit.example/witness-1", SecretKey::from_seed(&seed(4)));
    let mut note = ledger.checkpoint(&note_signer);
    note.add_signature(witness.cosign(&note, COSIGNED_AT).unwrap());
    // The same checkpoint cosigned by an ML-DSA-44 witness (seed tag 5), deterministically.
    let pq_witness = Cosigner::ml_dsa_44("audit.example/witness-pq", &seed(5));
    let mut pq_note = ledger.checkpoint(&note_signer);
    pq_note.add_signature(pq_witness.cosign(&pq_note, COSIGNED_AT).unwrap());

    let keys_json = json!({
        "admin": key_json(&k.admin),
        "ledger": {
            "note_verifier_key": note_signer.verifier_key().to_string(),
            "key": key_json(&k.ledger),
        },
        "clerk": key_json(&k.clerk),
        "witness": {
            "cosigner_verifier_key": witness.verifier_key().to_string(),
            "key": key_json(&k.witness),
        },
        "ml_dsa_44_witness": {
            "cosigner_verifier_key": pq_witness.verifier_key().to_string(),
            "seed_hex": hex::encode(seed(5)),
        },
    });

    let records_jsonl: String = ledger
        .records()
        .iter()
        .map(|r| format!("{}\n", String::from_utf8(r.to_json()).unwrap()))
        .collect();

    let details: Vec<Value> = ledger
        .records()
        .iter()
        .zip(&bodies)
        .map(|(r, _)| {
            json!({
                "seq": r.seq,
                "body_utf8": String::from_utf8(r.event.body_bytes().to_vec()).unwrap(),
                "pae_hex": hex::encode(pae(PAYLOAD_TYPE, r.event.body_bytes())),
                "signature_hex": hex::encode(r.event.signature().0),
                "leaf_bytes_hex": hex::encode(r.leaf_bytes()),
                "record_hash": r.hash,
            })
        })
        .collect();

    let size = ledger.size();
    let inclusion = json!({
        "seq": 1,
        "tree_size": size,
        "leaf_hash": ledger.records()[1].hash,
        "proof": ledger.inclusion_proof(Seq(1), size).unwrap(),
        "root": ledger.root(),
    });
    let consistency = json!({
        "size1": 1,
        "size2": size,
        "root1": ledger.tree().root_at(1),
        "root2": ledger.root(),
        "proof": merkle::consistency_proof(ledger.tree(), 1, size).unwrap(),
    });

    let receipt = Receipt::sign(
        ORIGIN,
        &ledger.records()[2],
        &SecretKey::from_seed(&seed(2)),
        false,
    );
    let receipt = json!({
        "receipt": receipt,
        "message_hex": hex::encode(probity_core::receipt::receipt_message(ORIGIN, receipt.seq, receipt.recorded_at, &receipt.hash)),
    });

    let bundle = probity_core::proof::ProofBundle {
        index: 1,
        record: ledger.records()[1].clone(),
        proof: ledger.inclusion_proof(Seq(1), size).unwrap(),
        checkpoint: note.clone(),
    };

    let pretty = |v: &Value| format!("{}\n", serde_json::to_string_pretty(v).unwrap());
    vec![
        ("keys.json", pretty(&keys_json)),
        ("records.jsonl", records_jsonl),
        ("records-detail.json", pretty(&Value::Array(details))),
        (
            "checkpoint.note",
            String::from_utf8(note.to_bytes()).unwrap(),
        ),
        (
            "checkpoint-ml-dsa-44.note",
            String::from_utf8(pq_note.to_bytes()).unwrap(),
        ),
        ("inclusion-proof.json", pretty(&inclusion)),
        ("consistency-proof.json", pretty(&consistency)),
        ("receipt.json", pretty(&receipt)),
        ("record-1.tlog-proof", bundle.to_text()),
    ]
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/vectors")
}

#[test]
fn code_reproduces_the_format_vectors() {
    let bless = std::env::var_os("PROBITY_BLESS").is_some();
    for (name, content) in expected_files() {
        let path = vectors_dir().join(name);
        if bless {
            fs::create_dir_all(vectors_dir()).unwrap();
            fs::write(&path, &content).unwrap();
        }
        let on_disk = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with PROBITY_BLESS=1 to create)",
                path.display()
            )
        });
        assert_eq!(
            on_disk, content,
            "{name} differs from what the code produces"
        );
    }
}

#[test]
fn the_vector_ledger_verifies_from_its_files_alone() {
    // The current checkpoint, with its key commitment, and the one signed before checkpoints
    // carried it: both still verify.
    for (file, committed) in [
        ("checkpoint.note", true),
        ("checkpoint-without-key-commitment.note", false),
    ] {
        let report = verify_vector_ledger(file);
        assert!(report.is_intact(), "{file}: {:#?}", report.findings);
        assert_eq!(report.key_commitment_checked, committed, "{file}");
    }
}

fn vector_records() -> Vec<Record> {
    fs::read_to_string(vectors_dir().join("records.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn verify_vector_ledger(checkpoint_file: &str) -> VerifyReport {
    // Read back only what is on disk, as an independent verifier would.
    let records = vector_records();
    let note = SignedNote::parse(&fs::read(vectors_dir().join(checkpoint_file)).unwrap()).unwrap();
    let keys: Value =
        serde_json::from_str(&fs::read_to_string(vectors_dir().join("keys.json")).unwrap())
            .unwrap();
    let witness =
        VerifierKey::parse(keys["witness"]["cosigner_verifier_key"].as_str().unwrap()).unwrap();
    let log = VerifierKey::parse(keys["ledger"]["note_verifier_key"].as_str().unwrap()).unwrap();

    let mut matrix = RoleMatrix::governance();
    matrix.allow("purchase.requested", &[Role::Clerk]);
    let mut verifier = ChainVerifier::new(&matrix);
    verifier.pin_log_key(log);
    verifier.require_witnesses(vec![witness], 1);
    verifier.add_checkpoint(note, records.len() as u64);
    records.iter().for_each(|r| verifier.push(r));
    let report = verifier.finish();
    assert_eq!(report.checkpoints_checked, 1);
    report
}
