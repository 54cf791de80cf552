//! Checkpoints as C2SP signed notes: the `tlog-checkpoint` body, Ed25519 note signatures
//! (`signed-note`, type 0x01), witness cosignatures (`tlog-cosignature`: Ed25519
//! `cosignature/v1`, type 0x04, and ML-DSA-44 `subtree/v1`, type 0x06), and a witness policy
//! ("the ledger key plus k of these n witnesses").

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::hash::Hash;
use crate::keys::{PublicKey, SecretKey, Signature};
use crate::mldsa::{self, MlDsa44PublicKey, MlDsa44SecretKey};

/// Signature type byte of an Ed25519 note signature.
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type byte of an Ed25519 `cosignature/v1`.
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;
/// Signature type byte of an ML-DSA-44 cosignature (`subtree/v1` message).
pub const SIG_TYPE_COSIGNATURE_MLDSA44: u8 = 0x06;
const MAX_SIGNATURES: usize = 100;

/// Why a note, checkpoint or key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is not UTF-8 text ending in a signature block.
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    /// The checkpoint body is not `origin\nsize\nroot\n[extensions]`.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A verifier key string is not `name+hexid+base64(type‖key)`.
    #[error("malformed verifier key: {0}")]
    MalformedKey(&'static str),
    /// The note has no valid signature by the ledger key.
    #[error("checkpoint has no valid signature by the ledger key {0}")]
    MissingLogSignature(String),
    /// The checkpoint's origin is not the ledger's.
    #[error("checkpoint origin {found:?} is not the ledger's origin {expected:?}")]
    WrongOrigin {
        /// Expected origin.
        expected: String,
        /// Found origin.
        found: String,
    },
    /// Fewer valid witness cosignatures than the policy needs.
    #[error("checkpoint has {have} valid witness cosignatures; the policy needs {need}")]
    QuorumNotMet {
        /// How many verified.
        have: usize,
        /// How many are needed.
        need: usize,
    },
}

/// A `tlog-checkpoint` body: origin, tree size, root hash, optional extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of leaves (records).
    pub size: u64,
    /// Root hash of the first `size` records.
    pub root: Hash,
    /// Extension lines: Probity writes its key commitment (`keychain`); others are kept when read.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: `origin\nsize\nbase64(root)\n` plus extension lines.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a note text as a checkpoint.
    pub fn from_text(text: &str) -> Result<Checkpoint, NoteError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(NoteError::MalformedCheckpoint(
                "text must end with a newline",
            ));
        };
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or(NoteError::MalformedCheckpoint("empty origin line"))?;
        let size_text = lines
            .next()
            .ok_or(NoteError::MalformedCheckpoint("missing size line"))?;
        if size_text.is_empty()
            || !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(NoteError::MalformedCheckpoint(
                "size must be a decimal number without leading zeros",
            ));
        }
        let size = size_text
            .parse()
            .map_err(|_| NoteError::MalformedCheckpoint("size out of range"))?;
        let root_text = lines
            .next()
            .ok_or(NoteError::MalformedCheckpoint("missing root hash line"))?;
        let root = B64
            .decode(root_text)
            .ok()
            .and_then(|b| Hash::from_slice(&b).ok())
            .ok_or(NoteError::MalformedCheckpoint(
                "root hash must be base64 of 32 bytes",
            ))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::MalformedCheckpoint("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// One signature line of a note: `— name base64(keyid ‖ signature)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// 32-bit key id.
    pub key_id: u32,
    /// What follows the key id (a signature, or a timestamp and a signature).
    pub data: Vec<u8>,
}

impl NoteSignature {
    /// The signature line: `— <name> <base64(key id ‖ data)>` and a newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.data);
        format!("\u{2014} {} {}\n", self.name, B64.encode(raw))
    }
}

/// A signed note: text plus signature lines (C2SP `signed-note`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

impl SignedNote {
    /// Parses `text\n\n— sig…`.
    pub fn parse(bytes: &[u8]) -> Result<SignedNote, NoteError> {
        let message = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("not UTF-8"))?;
        if message.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::Malformed(
                "control characters other than newline",
            ));
        }
        let split = message
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no signature block"))?;
        let text = &message[..split + 1];
        let block = &message[split + 2..];
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::Malformed(
                "signature block must end with a newline",
            ));
        };
        let mut signatures = Vec::new();
        for line in block.split('\n') {
            let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
                "signature line must start with an em dash",
            ))?;
            let (name, encoded) = rest.split_once(' ').ok_or(NoteError::Malformed(
                "signature line needs a name and a signature",
            ))?;
            if !valid_key_name(name) {
                return Err(NoteError::Malformed("invalid key name"));
            }
            let raw = B64
                .decode(encoded)
                .map_err(|_| NoteError::Malformed("signature is not base64"))?;
            if raw.len() < 5 {
                return Err(NoteError::Malformed("signature too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                data: raw[4..].to_vec(),
            });
        }
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note as bytes: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for sig in &self.signatures {
            out.push_str(&sig.to_line());
        }
        out.into_bytes()
    }

    /// Adds a signature, replacing an earlier one with the same name and key id.
    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.signatures.push(sig);
    }
}

/// `SHA-256(name ‖ "\n" ‖ type ‖ key)[:4]` as a big-endian u32, `key` being the public key's
/// encoding (32 bytes for Ed25519, 1,312 for ML-DSA-44).
pub fn note_key_id(name: &str, sig_type: u8, key: &[u8]) -> u32 {
    let digest = Hash::digest_parts(&[name.as_bytes(), b"\n", &[sig_type], key]);
    u32::from_be_bytes([digest.0[0], digest.0[1], digest.0[2], digest.0[3]])
}

/// The public key of a verifier key: Ed25519 (note signatures and `cosignature/v1`) or
/// ML-DSA-44 (cosignatures only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoteKey {
    /// An Ed25519 key.
    Ed25519(PublicKey),
    /// An ML-DSA-44 key.
    MlDsa44(MlDsa44PublicKey),
}

impl NoteKey {
    /// The key's encoding, as vkeys and key ids carry it.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            NoteKey::Ed25519(key) => key.to_bytes().to_vec(),
            NoteKey::MlDsa44(key) => key.as_bytes().to_vec(),
        }
    }
}

/// A named public key that verifies note signatures of one type (a C2SP "vkey").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    /// Key name (the log origin, or the witness's name).
    pub name: String,
    /// Signature type: [`SIG_TYPE_ED25519`], [`SIG_TYPE_COSIGNATURE_V1`] or
    /// [`SIG_TYPE_COSIGNATURE_MLDSA44`].
    pub sig_type: u8,
    /// The key (ML-DSA-44 exactly when the type is [`SIG_TYPE_COSIGNATURE_MLDSA44`]).
    pub key: NoteKey,
}

impl VerifierKey {
    /// A note-signature (0x01) verifier key.
    pub fn ed25519(name: impl Into<String>, key: PublicKey) -> Self {
        VerifierKey {
            name: name.into(),
            sig_type: SIG_TYPE_ED25519,
            key: NoteKey::Ed25519(key),
        }
    }

    /// A cosignature/v1 (0x04) verifier key.
    pub fn cosigner(name: impl Into<String>, key: PublicKey) -> Self {
        VerifierKey {
            name: name.into(),
            sig_type: SIG_TYPE_COSIGNATURE_V1,
            key: NoteKey::Ed25519(key),
        }
    }

    /// An ML-DSA-44 cosignature (0x06) verifier key.
    pub fn ml_dsa_44_cosigner(name: impl Into<String>, key: MlDsa44PublicKey) -> Self {
        VerifierKey {
            name: name.into(),
            sig_type: SIG_TYPE_COSIGNATURE_MLDSA44,
            key: NoteKey::MlDsa44(key),
        }
    }

    /// Whether this key verifies witness cosignatures (either type).
    pub fn is_cosigner(&self) -> bool {
        self.sig_type != SIG_TYPE_ED25519
    }

    /// The 32-bit key id.
    pub fn key_id(&self) -> u32 {
        note_key_id(&self.name, self.sig_type, &self.key.to_bytes())
    }

    /// Parses `name+hexid+base64(type ‖ key)`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey("expected name+keyid+key"));
        };
        if !valid_key_name(name) {
            return Err(NoteError::MalformedKey("invalid key name"));
        }
        let id = u32::from_str_radix(id, 16)
            .ok()
            .filter(|_| id.len() == 8)
            .ok_or(NoteError::MalformedKey("key id must be 8 hex characters"))?;
        let raw = B64
            .decode(material)
            .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        let Some((&sig_type, material)) = raw.split_first() else {
            return Err(NoteError::MalformedKey("no signature type byte"));
        };
        let key = match sig_type {
            SIG_TYPE_ED25519 | SIG_TYPE_COSIGNATURE_V1 => {
                let bytes: [u8; 32] = material.try_into().map_err(|_| {
                    NoteError::MalformedKey("an Ed25519 key must be a type byte and 32 bytes")
                })?;
                NoteKey::Ed25519(
                    PublicKey::from_bytes(&bytes)
                        .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 public key"))?,
                )
            }
            SIG_TYPE_COSIGNATURE_MLDSA44 => {
                NoteKey::MlDsa44(MlDsa44PublicKey::from_bytes(material).ok_or(
                    NoteError::MalformedKey("an ML-DSA-44 key must be a type byte and 1312 bytes"),
                )?)
            }
            _ => {
                return Err(NoteError::MalformedKey(
                    "unsupported signature type (0x01, 0x04 or 0x06)",
                ))
            }
        };
        let parsed = VerifierKey {
            name: name.to_owned(),
            sig_type,
            key,
        };
        if parsed.key_id() != id {
            return Err(NoteError::MalformedKey(
                "key id does not match name and key",
            ));
        }
        Ok(parsed)
    }

    /// Verifies a plain Ed25519 note signature over `text`.
    pub fn verify_note(&self, text: &str, sig: &NoteSignature) -> bool {
        let NoteKey::Ed25519(key) = &self.key else {
            return false;
        };
        self.sig_type == SIG_TYPE_ED25519
            && self.matches(sig)
            && <[u8; 64]>::try_from(sig.data.as_slice())
                .is_ok_and(|s| key.verify(text.as_bytes(), &Signature(s)).is_ok())
    }

    /// Whether a signature line names this key (name and key id): per signed-note, such a
    /// line must verify or the note is malformed; others are ignored.
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id()
    }

    /// Verifies a cosignature over the checkpoint `text` (Ed25519 `cosignature/v1` or
    /// ML-DSA-44 over the whole tree); returns its timestamp.
    pub fn verify_cosignature(&self, text: &str, sig: &NoteSignature) -> Option<u64> {
        if !self.matches(sig) || sig.data.len() < 8 {
            return None;
        }
        let timestamp = u64::from_be_bytes(sig.data[..8].try_into().ok()?);
        if timestamp > i64::MAX as u64 {
            return None;
        }
        let signature = &sig.data[8..];
        let verified = match (&self.key, self.sig_type) {
            (NoteKey::Ed25519(key), SIG_TYPE_COSIGNATURE_V1) => <[u8; 64]>::try_from(signature)
                .is_ok_and(|s| {
                    key.verify(&cosigned_message(text, timestamp), &Signature(s))
                        .is_ok()
                }),
            (NoteKey::MlDsa44(key), SIG_TYPE_COSIGNATURE_MLDSA44) => {
                let Ok(checkpoint) = Checkpoint::from_text(text) else {
                    return None;
                };
                signature.len() == mldsa::SIGNATURE_LEN
                    && mldsa::cosigned_message(
                        &self.name,
                        timestamp,
                        &checkpoint.origin,
                        0,
                        checkpoint.size,
                        &checkpoint.root,
                    )
                    .is_some_and(|message| key.verify(&message, signature))
            }
            _ => false,
        };
        verified.then_some(timestamp)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = vec![self.sig_type];
        material.extend_from_slice(&self.key.to_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id(),
            B64.encode(material)
        )
    }
}

/// The message a `cosignature/v1` signs: `cosignature/v1\ntime <t>\n` then the note text.
pub fn cosigned_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// Signs notes as a log (type 0x01).
#[derive(Debug)]
pub struct NoteSigner {
    name: String,
    key: SecretKey,
}

impl NoteSigner {
    /// A signer named `name` (for a ledger: its origin).
    pub fn new(name: impl Into<String>, key: SecretKey) -> Self {
        NoteSigner {
            name: name.into(),
            key,
        }
    }

    /// The verifier key for this signer.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey::ed25519(self.name.clone(), self.key.public_key())
    }

    /// Signs a checkpoint, producing a note with one signature.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> SignedNote {
        let text = checkpoint.to_text();
        let signature = self.key.sign(text.as_bytes());
        SignedNote {
            signatures: vec![NoteSignature {
                name: self.name.clone(),
                key_id: self.verifier_key().key_id(),
                data: signature.0.to_vec(),
            }],
            text,
        }
    }
}

/// Cosigns checkpoints as a witness: Ed25519 (`cosignature/v1`, type 0x04) or ML-DSA-44
/// (type 0x06, which C2SP recommends for new witnesses).
#[derive(Debug)]
pub struct Cosigner {
    key: CosignerKey,
    // Its name and public key, as verifiers hold them (the name is `verifier.name`).
    verifier: VerifierKey,
}

#[derive(Debug)]
enum CosignerKey {
    Ed25519(Box<SecretKey>),
    MlDsa44(MlDsa44SecretKey),
}

impl Cosigner {
    /// An Ed25519 witness named `name` (a schema-less URL, e.g. `audit.example/witness-1`).
    pub fn new(name: impl Into<String>, key: SecretKey) -> Self {
        Cosigner {
            verifier: VerifierKey::cosigner(name, key.public_key()),
            key: CosignerKey::Ed25519(Box::new(key)),
        }
    }

    /// An ML-DSA-44 witness named `name`, its key expanded from a 32-byte seed.
    pub fn ml_dsa_44(name: impl Into<String>, seed: &[u8; 32]) -> Self {
        let key = MlDsa44SecretKey::from_seed(seed);
        Cosigner {
            verifier: VerifierKey::ml_dsa_44_cosigner(name, key.public_key()),
            key: CosignerKey::MlDsa44(key),
        }
    }

    /// The verifier key for this witness.
    pub fn verifier_key(&self) -> VerifierKey {
        self.verifier.clone()
    }

    /// A cosignature over the checkpoint `note` at `timestamp` (seconds since the epoch); an
    /// ML-DSA-44 one covers the whole tree (start 0, end = size).
    pub fn cosign(&self, note: &SignedNote, timestamp: u64) -> Result<NoteSignature, NoteError> {
        let mut data = timestamp.to_be_bytes().to_vec();
        match &self.key {
            CosignerKey::Ed25519(key) => {
                data.extend_from_slice(&key.sign(&cosigned_message(&note.text, timestamp)).0);
            }
            CosignerKey::MlDsa44(key) => {
                let checkpoint = Checkpoint::from_text(&note.text)?;
                let message = mldsa::cosigned_message(
                    &self.verifier.name,
                    timestamp,
                    &checkpoint.origin,
                    0,
                    checkpoint.size,
                    &checkpoint.root,
                )
                .ok_or(NoteError::MalformedCheckpoint(
                    "an origin or witness name longer than 255 bytes",
                ))?;
                data.extend_from_slice(&key.sign(&message));
            }
        }
        Ok(NoteSignature {
            name: self.verifier.name.clone(),
            key_id: self.verifier.key_id(),
            data,
        })
    }
}

/// A checkpoint whose ledger signature, and enough witness cosignatures, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Witnesses whose cosignature verified, with the time they cosigned.
    pub witnesses: Vec<(String, u64)>,
}

/// "The ledger key plus `quorum` of these witnesses."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPolicy {
    /// The ledger's note key; its name is the origin.
    pub log: VerifierKey,
    /// Witness cosigner keys.
    pub witnesses: Vec<VerifierKey>,
    /// How many distinct witnesses must have cosigned.
    pub quorum: usize,
}

impl WitnessPolicy {
    /// Only the ledger's own signature is required.
    pub fn log_only(log: VerifierKey) -> Self {
        WitnessPolicy {
            log,
            witnesses: Vec::new(),
            quorum: 0,
        }
    }

    /// Checks a signed checkpoint note against the policy.
    pub fn verify(&self, note: &SignedNote) -> Result<VerifiedCheckpoint, NoteError> {
        let checkpoint = Checkpoint::from_text(&note.text)?;
        if checkpoint.origin != self.log.name {
            return Err(NoteError::WrongOrigin {
                expected: self.log.name.clone(),
                found: checkpoint.origin,
            });
        }
        if !note
            .signatures
            .iter()
            .any(|s| self.log.verify_note(&note.text, s))
        {
            return Err(NoteError::MissingLogSignature(self.log.to_string()));
        }
        let witnesses: Vec<(String, u64)> = self
            .witnesses
            .iter()
            .filter_map(|w| {
                note.signatures
                    .iter()
                    .find_map(|s| w.verify_cosignature(&note.text, s))
                    .map(|t| (w.name.clone(), t))
            })
            .collect();
        if witnesses.len() < self.quorum {
            return Err(NoteError::QuorumNotMet {
                have: witnesses.len(),
                need: self.quorum,
            });
        }
        Ok(VerifiedCheckpoint {
            checkpoint,
            witnesses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_text_round_trip_and_strictness() {
        let cp = Checkpoint::new("example.com/log", 20852163, Hash([7; 32]));
        assert_eq!(Checkpoint::from_text(&cp.to_text()), Ok(cp));
        for bad in [
            "",
            "origin\n",
            "origin\n01\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "origin\n1\nAAAA\n",
            "origin\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
            "\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        ] {
            assert!(Checkpoint::from_text(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn c2sp_example_checkpoint_parses() {
        // The example of C2SP tlog-cosignature (signatures by keys we do not have).
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        let parsed = SignedNote::parse(note.as_bytes()).unwrap();
        assert_eq!(parsed.to_bytes(), note.as_bytes());
        let cp = Checkpoint::from_text(&parsed.text).unwrap();
        assert_eq!(cp.size, 20852163);
        assert_eq!(parsed.signatures[0].name, "example.com/behind-the-sofa");
        assert_eq!(parsed.signatures[0].data.len(), 64);
    }

    #[test]
    fn vkey_round_trip() {
        let key = SecretKey::from_seed(&[3; 32]).public_key();
        for vkey in [
            VerifierKey::ed25519("probity.example/h1", key),
            VerifierKey::cosigner("audit.example/w1", key),
        ] {
            assert_eq!(VerifierKey::parse(&vkey.to_string()), Ok(vkey.clone()));
        }
        let text = VerifierKey::ed25519("a.example/x", key).to_string();
        let tampered = text.replacen("a.example/x", "b.example/x", 1);
        assert!(VerifierKey::parse(&tampered).is_err());
    }
}
