//! Property tests: any single-byte change to any record, and any removal, reordering or
//! duplication of records, is detected at the right sequence number; every consistency and
//! inclusion proof verifies, and any mutation of one fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use common::*;
use probity_core::merkle::{self, verify_consistency, verify_inclusion, MemoryTree};
use probity_core::prelude::*;
use proptest::prelude::*;

const RECORDS: u64 = 12;

fn fixture() -> &'static (Vec<Record>, SignedNote) {
    static FIXTURE: OnceLock<(Vec<Record>, SignedNote)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let ledger = ledger(RECORDS - 3);
        let note = ledger.checkpoint(&note_signer());
        (ledger.records().to_vec(), note)
    })
}

fn report_of(records: &[Record]) -> VerifyReport {
    verify(records, &[fixture().1.clone()])
}

fn assert_found_at(report: &VerifyReport, allowed: &[u64], what: &str) {
    let first = allowed.iter().min().copied().unwrap_or(0);
    assert!(
        report.findings.iter().any(|f| allowed.contains(&f.seq())),
        "{what}: nothing found at {allowed:?}: {:#?}",
        report.findings
    );
    assert!(
        report.findings.iter().all(|f| f.seq() >= first),
        "{what}: a finding before {first}: {:#?}",
        report.findings
    );
}

#[derive(Clone, Copy, Debug)]
enum Field {
    Seq,
    RecordedAt,
    Prev,
    Body,
    KeyId,
    Signature,
    Hash,
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        Just(Field::Seq),
        Just(Field::RecordedAt),
        Just(Field::Prev),
        Just(Field::Body),
        Just(Field::KeyId),
        Just(Field::Signature),
        Just(Field::Hash),
    ]
}

fn flip(bytes: &mut [u8], at: usize, mask: u8) {
    let i = at % bytes.len();
    bytes[i] ^= mask;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_byte_change_is_found_at_its_record(
        k in 0..RECORDS, field in field(), at in 0usize..10_000, mask in 1u8..=255,
    ) {
        let mut records = fixture().0.clone();
        let record = &mut records[k as usize];
        let mut allowed = vec![k];
        match field {
            Field::Seq => {
                let mut b = record.seq.0.to_be_bytes();
                flip(&mut b, at, mask);
                record.seq = Seq(u64::from_be_bytes(b));
                allowed.push(record.seq.0);
            }
            Field::RecordedAt => {
                let mut b = record.recorded_at.unix_micros().to_be_bytes();
                flip(&mut b, at, mask);
                record.recorded_at = RecordedAt::from_unix_micros(i64::from_be_bytes(b));
            }
            Field::Prev => flip(&mut record.prev.0, at, mask),
            Field::Hash => flip(&mut record.hash.0, at, mask),
            Field::Body | Field::KeyId | Field::Signature => {
                let mut body = record.event.body_bytes().to_vec();
                let mut keyid = record.event.keyid();
                let mut sig = *record.event.signature();
                match field {
                    Field::Body => flip(&mut body, at, mask),
                    Field::KeyId => flip(&mut keyid.0, at, mask),
                    _ => flip(&mut sig.0, at, mask),
                }
                record.event = SignedEvent::from_parts(body, keyid, sig);
            }
        }
        assert_found_at(&report_of(&records), &allowed, &format!("{field:?} of record {k}"));
    }

    #[test]
    fn removing_a_record_is_found(k in 0..RECORDS) {
        let mut records = fixture().0.clone();
        records.remove(k as usize);
        let report = report_of(&records);
        if k == RECORDS - 1 {
            // Only the checkpoint can tell that the tail is gone.
            assert_found_at(&report, &[RECORDS], "removed tail");
            prop_assert!(report.findings.iter().any(|f| f.code() == "checkpoint-beyond-log"));
        } else {
            assert_found_at(&report, &[k], "removed record");
        }
    }

    #[test]
    fn reordering_records_is_found(k in 0..RECORDS, j in 0..RECORDS) {
        prop_assume!(k != j);
        let mut records = fixture().0.clone();
        records.swap(k as usize, j as usize);
        assert_found_at(&report_of(&records), &[k.min(j)], "swapped records");
    }

    #[test]
    fn duplicating_a_record_is_found(k in 0..RECORDS) {
        let mut records = fixture().0.clone();
        records.insert(k as usize + 1, records[k as usize].clone());
        assert_found_at(&report_of(&records), &[k, k + 1], "duplicated record");
    }
}

fn tree(size: u64) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for i in 0..size {
        tree.push(merkle::leaf_hash(&i.to_le_bytes()));
    }
    tree
}

#[derive(Clone, Copy, Debug)]
enum ProofMutation {
    FlipBit { element: usize, bit: u8 },
    Drop { element: usize },
    Append,
    Duplicate { element: usize },
    SwapRoots,
    FlipOldRoot { bit: u8 },
    FlipNewRoot { bit: u8 },
}

fn proof_mutation() -> impl Strategy<Value = ProofMutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>())
            .prop_map(|(element, bit)| ProofMutation::FlipBit { element, bit }),
        any::<usize>().prop_map(|element| ProofMutation::Drop { element }),
        Just(ProofMutation::Append),
        any::<usize>().prop_map(|element| ProofMutation::Duplicate { element }),
        Just(ProofMutation::SwapRoots),
        any::<u8>().prop_map(|bit| ProofMutation::FlipOldRoot { bit }),
        any::<u8>().prop_map(|bit| ProofMutation::FlipNewRoot { bit }),
    ]
}

fn flip_bit(hash: &mut Hash, bit: u8) {
    hash.0[usize::from(bit / 8) % 32] ^= 1 << (bit % 8);
}

/// Applies `mutation`; returns false when it cannot apply (e.g. dropping from an empty proof).
fn mutate(m: ProofMutation, proof: &mut Vec<Hash>, old: &mut Hash, new: &mut Hash) -> bool {
    match m {
        ProofMutation::FlipBit { element, bit } if !proof.is_empty() => {
            let i = element % proof.len();
            flip_bit(&mut proof[i], bit);
        }
        ProofMutation::Drop { element } if !proof.is_empty() => {
            let i = element % proof.len();
            proof.remove(i);
        }
        ProofMutation::Append => proof.push(Hash([0xab; 32])),
        ProofMutation::Duplicate { element } if !proof.is_empty() => {
            let i = element % proof.len();
            proof.insert(i, proof[i]);
        }
        ProofMutation::SwapRoots if old != new => std::mem::swap(old, new),
        ProofMutation::FlipOldRoot { bit } => flip_bit(old, bit),
        ProofMutation::FlipNewRoot { bit } => flip_bit(new, bit),
        _ => return false,
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn consistency_proofs_verify_and_mutations_fail(
        new in 1u64..300, old_frac in 0.0f64..=1.0, m in proof_mutation(),
    ) {
        let old = ((new as f64 * old_frac) as u64).clamp(1, new);
        let tree = tree(new);
        let mut proof = merkle::consistency_proof(&tree, old, new).unwrap();
        let (mut r1, mut r2) = (tree.root_at(old), tree.root_at(new));
        prop_assert_eq!(verify_consistency(old, new, &proof, &r1, &r2), Ok(()));
        if mutate(m, &mut proof, &mut r1, &mut r2) {
            prop_assert!(verify_consistency(old, new, &proof, &r1, &r2).is_err(), "{:?} accepted", m);
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_mutations_fail(
        size in 1u64..300, index_frac in 0.0f64..1.0, m in proof_mutation(),
    ) {
        let index = ((size as f64 * index_frac) as u64).min(size - 1);
        let tree = tree(size);
        let leaf = merkle::leaf_hash(&index.to_le_bytes());
        let mut proof = merkle::inclusion_proof(&tree, index, size).unwrap();
        let (mut leaf_m, mut root) = (leaf, tree.root_at(size));
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
        if mutate(m, &mut proof, &mut leaf_m, &mut root) {
            prop_assert!(verify_inclusion(&leaf_m, index, size, &proof, &root).is_err(), "{:?} accepted", m);
        }
    }
}
