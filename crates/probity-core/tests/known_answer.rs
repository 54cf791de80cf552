//! Known-answer tests against pinned public vectors: RFC 6962 (transparency-dev/merkle),
//! RFC 8032 and Wycheproof Ed25519, and the C2SP / Go signed-note examples.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use probity_core::checkpoint::{Checkpoint, NoteSigner, SignedNote, VerifierKey, WitnessPolicy};
use probity_core::hash::Hash;
use probity_core::keys::{PublicKey, SecretKey, Signature};
use probity_core::merkle::{self, verify_consistency, verify_inclusion, LeafSlice};
use serde_json::Value;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn raw_hash(value: &Value) -> Option<Hash> {
    let bytes = B64.decode(value.as_str().unwrap_or("")).unwrap();
    Hash::from_slice(&bytes).ok()
}

/// The vectors carry some deliberately malformed roots (empty, or placeholder text such as
/// `don't care`), which the reference compares only for equality. Our API takes 32-byte
/// hashes, so a root of another length is mapped injectively onto a 32-byte value no real
/// hash equals: equal placeholders stay equal, different ones stay different.
fn root_of(value: &Value) -> Hash {
    raw_hash(value).unwrap_or_else(|| {
        let bytes = B64.decode(value.as_str().unwrap_or("")).unwrap();
        Hash::digest_parts(&[b"probity-test-placeholder", &bytes])
    })
}

/// A leaf hash or proof node of the wrong length cannot even be passed to our typed API: the
/// reference rejects such input, and so does the type system here (`None`).
fn proof_of(value: &Value) -> Option<Vec<Hash>> {
    value.as_array().map_or(Some(Vec::new()), |items| {
        items.iter().map(raw_hash).collect()
    })
}

fn vector_files(dir: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![data(dir)];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The leaf hashes of the reference trees: the 8 inputs of `roots.json`, in order.
fn reference_leaves() -> Vec<Hash> {
    json(&data("rfc6962/roots.json"))["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| merkle::leaf_hash(&hex::decode(h.as_str().unwrap()).unwrap()))
        .collect()
}

#[test]
fn rfc6962_roots_for_sizes_0_to_8() {
    let roots = json(&data("rfc6962/roots.json"));
    let leaves = reference_leaves();
    let want = roots["root_for_size_hex"].as_array().unwrap();
    assert_eq!(want.len(), 9);
    for (size, root) in want.iter().enumerate() {
        let root = Hash::from_hex(root.as_str().unwrap()).unwrap();
        assert_eq!(merkle::mth(&leaves[..size]), root, "size {size}");
        assert_eq!(
            merkle::root(&LeafSlice(&leaves), size as u64).unwrap(),
            root,
            "size {size}"
        );
    }
}

#[test]
fn rfc6962_inclusion_vectors() {
    let files = vector_files("rfc6962/inclusion");
    assert!(files.len() > 50, "only {} inclusion vectors", files.len());
    for file in files {
        let case = json(&file);
        let accepted = match (raw_hash(&case["leafHash"]), proof_of(&case["proof"])) {
            (Some(leaf), Some(proof)) => verify_inclusion(
                &leaf,
                case["leafIdx"].as_u64().unwrap(),
                case["treeSize"].as_u64().unwrap(),
                &proof,
                &root_of(&case["root"]),
            )
            .is_ok(),
            _ => false,
        };
        let want_err = case["wantErr"].as_bool().unwrap();
        assert_eq!(!accepted, want_err, "{}", file.display());
    }
}

#[test]
fn rfc6962_consistency_vectors() {
    let files = vector_files("rfc6962/consistency");
    assert!(files.len() > 50, "only {} consistency vectors", files.len());
    for file in files {
        let case = json(&file);
        let accepted = proof_of(&case["proof"]).is_some_and(|proof| {
            verify_consistency(
                case["size1"].as_u64().unwrap(),
                case["size2"].as_u64().unwrap(),
                &proof,
                &root_of(&case["root1"]),
                &root_of(&case["root2"]),
            )
            .is_ok()
        });
        let want_err = case["wantErr"].as_bool().unwrap();
        assert_eq!(!accepted, want_err, "{}", file.display());
    }
}

#[test]
fn rfc6962_happy_path_proofs_are_what_we_generate() {
    // Our generator must produce exactly the reference proofs for the 8-leaf tree.
    let leaves = reference_leaves();
    let tree = LeafSlice(&leaves);
    let mut checked = 0;
    for file in vector_files("rfc6962/inclusion") {
        let case = json(&file);
        if !file.ends_with("happy-path.json") {
            continue;
        }
        let (index, size) = (
            case["leafIdx"].as_u64().unwrap(),
            case["treeSize"].as_u64().unwrap(),
        );
        if size > 8 || raw_hash(&case["leafHash"]) != Some(leaves[index as usize]) {
            continue;
        }
        let proof = merkle::inclusion_proof(&tree, index, size).unwrap();
        assert_eq!(Some(proof), proof_of(&case["proof"]), "{}", file.display());
        checked += 1;
    }
    for file in vector_files("rfc6962/consistency") {
        let case = json(&file);
        if !file.ends_with("happy-path.json") {
            continue;
        }
        let (size1, size2) = (
            case["size1"].as_u64().unwrap(),
            case["size2"].as_u64().unwrap(),
        );
        if size2 > 8 || raw_hash(&case["root2"]) != Some(merkle::mth(&leaves[..size2 as usize])) {
            continue;
        }
        let proof = merkle::consistency_proof(&tree, size1, size2).unwrap();
        assert_eq!(Some(proof), proof_of(&case["proof"]), "{}", file.display());
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} happy paths compared");
}

#[test]
fn rfc8032_vectors() {
    let vectors = json(&data("rfc8032/vectors.json"));
    for case in vectors["tests"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let seed: [u8; 32] = hex::decode(case["secret_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let message = hex::decode(case["message"].as_str().unwrap()).unwrap();
        let key = SecretKey::from_seed(&seed);
        assert_eq!(
            hex::encode(key.public_key().to_bytes()),
            case["public_key"].as_str().unwrap(),
            "{name}"
        );
        let signature = key.sign(&message);
        assert_eq!(
            hex::encode(signature.0),
            case["signature"].as_str().unwrap(),
            "{name}"
        );
        key.public_key().verify(&message, &signature).unwrap();
    }
}

#[test]
fn wycheproof_ed25519_strict() {
    let vectors = json(&data("wycheproof/wycheproof_ed25519_test.json"));
    let mut counted = (0, 0);
    for group in vectors["testGroups"].as_array().unwrap() {
        let pk_hex = group["publicKey"]["pk"].as_str().unwrap();
        let pk: [u8; 32] = hex::decode(pk_hex).unwrap().try_into().unwrap();
        let key = PublicKey::from_bytes(&pk);
        for case in group["tests"].as_array().unwrap() {
            let id = case["tcId"].as_u64().unwrap();
            let message = hex::decode(case["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(case["sig"].as_str().unwrap()).unwrap();
            let accepted = match (&key, <[u8; 64]>::try_from(sig.as_slice())) {
                (Ok(key), Ok(sig)) => key.verify(&message, &Signature(sig)).is_ok(),
                _ => false,
            };
            match case["result"].as_str().unwrap() {
                "valid" => {
                    assert!(accepted, "tcId {id} must be accepted: {}", case["comment"]);
                    counted.0 += 1;
                }
                "invalid" => {
                    assert!(!accepted, "tcId {id} must be rejected: {}", case["comment"]);
                    counted.1 += 1;
                }
                other => panic!("tcId {id}: unexpected result {other}"),
            }
        }
    }
    assert_eq!(counted, (88, 63));
}

#[test]
fn go_signed_note_example_is_reproduced() {
    let skey = fs::read_to_string(data("c2sp/peter_neumann.skey")).unwrap();
    // PRIVATE+KEY+<name>+<id>+base64(0x01 || seed); the base64 may itself contain '+'.
    let material = skey.trim().splitn(5, '+').nth(4).unwrap();
    let raw = B64.decode(material).unwrap();
    assert_eq!(raw[0], 0x01);
    let seed: [u8; 32] = raw[1..].try_into().unwrap();
    let signer = NoteSigner::new("PeterNeumann", SecretKey::from_seed(&seed));

    let vkey = fs::read_to_string(data("c2sp/peter_neumann.vkey")).unwrap();
    assert_eq!(signer.verifier_key().to_string(), vkey.trim());
    assert_eq!(VerifierKey::parse(&vkey).unwrap(), signer.verifier_key());

    let want = fs::read(data("c2sp/peter_neumann.note")).unwrap();
    let parsed = SignedNote::parse(&want).unwrap();
    assert_eq!(parsed.to_bytes(), want);

    // The text is not a checkpoint, so sign it through the note layer directly.
    let signature = SecretKey::from_seed(&seed).sign(parsed.text.as_bytes());
    assert_eq!(parsed.signatures[0].data, signature.0.to_vec());
    assert_eq!(parsed.signatures[0].key_id, signer.verifier_key().key_id());
}

#[test]
fn cosignature_key_id_matches_transparency_dev() {
    let vkey = fs::read_to_string(data("c2sp/cosigner.vkey")).unwrap();
    let parsed = VerifierKey::parse(&vkey).unwrap();
    assert_eq!(parsed.sig_type, 0x04);
    assert_eq!(parsed.to_string(), vkey.trim());
}

#[test]
fn c2sp_cosignature_example_parses() {
    let note = fs::read(data("c2sp/behind_the_sofa.note")).unwrap();
    let parsed = SignedNote::parse(&note).unwrap();
    let checkpoint = Checkpoint::from_text(&parsed.text).unwrap();
    assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size, 20852163);
    assert_eq!(parsed.to_bytes(), note);
}

#[test]
fn our_checkpoints_verify_with_the_standard_signed_note_verifier() {
    use signed_note::{Note, StandardVerifier, VerifierList};

    let signer = NoteSigner::new("probity.example/hospital", SecretKey::from_seed(&[5; 32]));
    let checkpoint = Checkpoint::new("probity.example/hospital", 42, Hash([9; 32]));
    let mut note = signer.sign_checkpoint(&checkpoint);
    let witness =
        probity_core::checkpoint::Cosigner::new("audit.example/w1", SecretKey::from_seed(&[6; 32]));
    note.add_signature(witness.cosign(&note, 1_700_000_000).unwrap());
    let bytes = note.to_bytes();

    // cloudflare/azul's signed_note, an independent implementation of C2SP signed-note.
    let verifier = StandardVerifier::new(&signer.verifier_key().to_string()).unwrap();
    let parsed = Note::from_bytes(&bytes).unwrap();
    let (verified, _unverified) = parsed
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);

    // And our own policy accepts it with the witness, and refuses a quorum of two.
    let mut policy = WitnessPolicy {
        log: signer.verifier_key(),
        witnesses: vec![witness.verifier_key()],
        quorum: 1,
    };
    let ok = policy.verify(&SignedNote::parse(&bytes).unwrap()).unwrap();
    assert_eq!(
        ok.witnesses,
        vec![("audit.example/w1".to_owned(), 1_700_000_000)]
    );
    policy.quorum = 2;
    assert!(policy.verify(&SignedNote::parse(&bytes).unwrap()).is_err());
}
