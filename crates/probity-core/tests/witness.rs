//! The witness's checks (C2SP tlog-witness add-checkpoint): first sight, consistent growth,
//! and each refusal with the spec's status — unknown log 404, unsigned 403, old size beyond
//! the checkpoint 400, conflict 409, and 422 for a wrong empty root, a proof from 0, a fork or
//! an inconsistent proof. Also: ML-DSA-44 and Ed25519 cosignatures in one quorum.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use probity_core::checkpoint::{Checkpoint, Cosigner, NoteError, VerifierKey, WitnessPolicy};
use probity_core::merkle;
use probity_core::prelude::*;
use probity_core::witness::{AddCheckpoint, WitnessError, WitnessedTree};
use std::collections::BTreeMap;

fn logs() -> Vec<VerifierKey> {
    vec![note_signer().verifier_key()]
}

fn state(tree: Option<&WitnessedTree>) -> BTreeMap<String, WitnessedTree> {
    tree.map(|t| (t.origin.clone(), t.clone()))
        .into_iter()
        .collect()
}

fn request(ledger: &MemoryLedger, old: u64) -> AddCheckpoint {
    let size = ledger.size();
    let proof = if old == 0 || old == size {
        Vec::new()
    } else {
        merkle::consistency_proof(ledger.tree(), old, size).unwrap()
    };
    AddCheckpoint {
        old,
        proof,
        checkpoint: ledger.checkpoint(&note_signer()),
    }
}

#[test]
fn a_witness_accepts_consistent_growth_and_refuses_the_rest() {
    let short = ledger(3);
    let long = ledger(9);
    // A fork of `long` from record 6 on: same first 6 records, other events after.
    let mut fork = ledger(3);
    let mut t = 1_000_000;
    for i in 0..6 {
        t += 1_000;
        fork.append(request_event(i), at(t)).unwrap();
    }
    assert_eq!(fork.size(), long.size());

    let first = request(&short, 0);
    let seen = first.check(&logs(), &state(None)).unwrap();
    assert_eq!(seen.size, short.size());
    // The text form round-trips.
    assert_eq!(AddCheckpoint::parse(&first.to_text()).unwrap(), first);

    let grown = request(&long, short.size());
    let now = grown.check(&logs(), &state(Some(&seen))).unwrap();
    assert_eq!((now.size, now.root), (long.size(), long.root()));

    let refusal = |req: &AddCheckpoint, latest: &WitnessedTree| {
        req.check(&logs(), &state(Some(latest))).unwrap_err()
    };
    let conflict = refusal(&request(&long, 0), &seen);
    assert!(matches!(
        conflict,
        WitnessError::Conflict { latest: 6, old: 0 }
    ));
    assert_eq!(conflict.http_status(), 409);
    // A rollback: the request starts from the size cosigned, beyond the checkpoint's.
    let mut rollback = request(&short, 0);
    rollback.old = now.size;
    let error = refusal(&rollback, &now);
    assert!(
        matches!(error, WitnessError::OldBeyondCheckpoint { .. }),
        "{error}"
    );
    assert_eq!(error.http_status(), 400);
    let error = refusal(&request(&fork, fork.size()), &now);
    assert!(matches!(error, WitnessError::Fork { .. }));
    assert_eq!(error.http_status(), 422);
    fork.append(request_event(50), at(9_000_000)).unwrap();
    let forked_growth = request(&fork, now.size);
    let error = refusal(&forked_growth, &now);
    assert!(
        matches!(error, WitnessError::Inconsistent { .. }),
        "{error}"
    );
    assert_eq!(error.http_status(), 422);
    let mut unsigned = request(&long, short.size());
    unsigned.checkpoint = long.checkpoint(&NoteSigner::new(ORIGIN, stranger()));
    assert_eq!(refusal(&unsigned, &seen).http_status(), 403);
    // A signature line with the trusted key's name and id that does not verify: 403, even
    // beside a good one.
    let mut bad = request(&long, short.size());
    let mut broken = bad.checkpoint.signatures[0].clone();
    broken.data[0] ^= 1;
    bad.checkpoint.signatures.push(broken);
    assert_eq!(refusal(&bad, &seen).http_status(), 403);
    // A log the witness does not follow: 404, before anything else.
    let other = NoteSigner::new("other.example/log", stranger());
    let mut unknown = request(&long, 0);
    unknown.checkpoint =
        other.sign_checkpoint(&Checkpoint::new("other.example/log", 9, long.root()));
    let error = refusal(&unknown, &seen);
    assert!(matches!(error, WitnessError::UnknownOrigin(_)), "{error}");
    assert_eq!(error.http_status(), 404);
}

#[test]
fn empty_trees_and_proofs_from_zero() {
    let empty = state(None);
    let signed = |size, root| AddCheckpoint {
        old: 0,
        proof: Vec::new(),
        checkpoint: note_signer().sign_checkpoint(&Checkpoint::new(ORIGIN, size, root)),
    };
    let tree = signed(0, merkle::EMPTY_ROOT)
        .check(&logs(), &empty)
        .unwrap();
    assert_eq!(tree.size, 0);
    let error = signed(0, Hash([7; 32])).check(&logs(), &empty).unwrap_err();
    assert!(matches!(error, WitnessError::EmptyTreeRoot));
    assert_eq!(error.http_status(), 422);
    let long = ledger(9);
    let mut with_proof = request(&long, 0);
    with_proof.proof = merkle::consistency_proof(long.tree(), 3, 9).unwrap();
    let error = with_proof.check(&logs(), &empty).unwrap_err();
    assert!(matches!(error, WitnessError::ProofFromZero));
    assert_eq!(error.http_status(), 422);
    // From a cosigned empty tree, growth needs no proof either.
    request(&long, 0)
        .check(&logs(), &state(Some(&tree)))
        .unwrap();
}

#[test]
fn the_request_text_is_strict() {
    let long = ledger(9);
    let text = request(&long, 0).to_text();
    for bad in [
        text.replacen("old 0", "old 00", 1),
        text.replacen("old 0", "old +0", 1),
        text.replacen("old 0", "old  0", 1),
        text.replacen("old 0\n", "", 1),
    ] {
        let error = AddCheckpoint::parse(&bad).unwrap_err();
        assert_eq!(error.http_status(), 400, "{bad:?}: {error}");
    }
    let proof_line = format!("{}\n", "A".repeat(43) + "=");
    let too_long = text.replacen("old 0\n", &format!("old 1\n{}", proof_line.repeat(64)), 1);
    let error = AddCheckpoint::parse(&too_long).unwrap_err();
    assert!(error.to_string().contains("63"), "{error}");
    let max = text.replacen("old 0\n", &format!("old 1\n{}", proof_line.repeat(63)), 1);
    assert_eq!(AddCheckpoint::parse(&max).unwrap().proof.len(), 63);
}

/// An ML-DSA-44 witness and an Ed25519 witness cosign the same checkpoint; a quorum of two
/// holds, a tampered ML-DSA cosignature does not count, and the vkeys round-trip.
#[test]
fn ml_dsa_44_and_ed25519_cosignatures_in_one_quorum() {
    let long = ledger(9);
    let mut note = long.checkpoint(&note_signer());
    let pq = Cosigner::ml_dsa_44("audit.example/pq", &[21; 32]);
    let classic = Cosigner::new("audit.example/ed", SecretKey::from_seed(&[22; 32]));
    note.add_signature(pq.cosign(&note, 1_790_000_000).unwrap());
    note.add_signature(classic.cosign(&note, 1_790_000_001).unwrap());
    let pq_vkey = VerifierKey::parse(&pq.verifier_key().to_string()).unwrap();
    assert_eq!(pq_vkey, pq.verifier_key());
    assert_eq!(pq_vkey.sig_type, 0x06);
    let policy = WitnessPolicy {
        log: note_signer().verifier_key(),
        witnesses: vec![pq_vkey, classic.verifier_key()],
        quorum: 2,
    };
    let verified = policy
        .verify(&SignedNote::parse(&note.to_bytes()).unwrap())
        .unwrap();
    assert_eq!(verified.witnesses.len(), 2);
    let line = note
        .signatures
        .iter()
        .position(|s| s.name == "audit.example/pq")
        .unwrap();
    note.signatures[line].data[100] ^= 1;
    assert!(matches!(
        policy.verify(&note),
        Err(NoteError::QuorumNotMet { have: 1, need: 2 })
    ));
    // A key that is neither 32 nor 1312 bytes after its type is refused.
    let truncated = pq.verifier_key().to_string();
    assert!(VerifierKey::parse(&truncated[..truncated.len() - 8]).is_err());
}

fn request_event(i: u64) -> SignedEvent {
    common::request(&format!("fork-{i}"), 1000 + i)
}

/// The example request body of C2SP tlog-witness parses as the spec describes it: old size,
/// four proof lines, and a checkpoint with two signature lines. A witness that does not
/// follow its log answers 404.
#[test]
fn the_specs_example_request_parses() {
    let body = "old 20852014\n\
        PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
        jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
        5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
        /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
        \n\
        example.com/behind-the-sofa\n\
        20852163\n\
        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
        \n\
        \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
        \u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";
    let request = AddCheckpoint::parse(body).unwrap();
    assert_eq!(request.old, 20_852_014);
    assert_eq!(request.proof.len(), 4);
    assert_eq!(request.checkpoint.signatures.len(), 2);
    let checkpoint = Checkpoint::from_text(&request.checkpoint.text).unwrap();
    assert_eq!(
        (checkpoint.origin.as_str(), checkpoint.size),
        ("example.com/behind-the-sofa", 20_852_163)
    );
    assert_eq!(request.to_text(), body);
    let error = request.check(&logs(), &state(None)).unwrap_err();
    assert_eq!(error.http_status(), 404);
}
