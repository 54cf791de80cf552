//! `probity witness-request` (the ledger's side) and `probity witness` (an auditor's): C2SP
//! tlog-witness add-checkpoint over files, or served over HTTP (`probity witness serve`). The
//! witness keeps, per ledger origin, the last checkpoint it cosigned, and cosigns a newer one
//! only with a consistency proof from it; checking, cosigning and durably remembering happen
//! under one lock, so two requests can never both be cosigned from the same state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use probity_core::checkpoint::{Cosigner, NoteSignature, VerifierKey};
use probity_core::witness::{AddCheckpoint, WitnessError, WitnessedTree};
use probity_ledger::keyfile;
use serde_json::json;

use crate::{input, out, Failure};

/// Writes an add-checkpoint request: the latest checkpoint (signed now if records were added
/// since the last) and the consistency proof from `old`.
pub fn request(
    ledger: probity_ledger::Ledger,
    old: u64,
    out_path: Option<&Path>,
) -> Result<(), Failure> {
    let built = (|| {
        ledger
            .checkpoint_now()
            .map_err(|e| Failure::Input(e.to_string()))?;
        let (size, checkpoint) = ledger
            .latest_checkpoint()
            .ok_or_else(|| Failure::Input("the ledger signed no checkpoint".into()))?;
        if old > size {
            return Err(Failure::Input(format!(
                "--old {old} is beyond the ledger's {size} records"
            )));
        }
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            ledger
                .consistency_proof(old, size)
                .map_err(|e| Failure::Input(e.to_string()))?
        };
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint,
        })
    })();
    ledger.close();
    write_request(&built?, out_path)
}

/// Writes an add-checkpoint request to `out_path`, or stdout.
pub fn write_request(request: &AddCheckpoint, out_path: Option<&Path>) -> Result<(), Failure> {
    let text = request.to_text();
    match out_path {
        Some(path) => std::fs::write(path, text).map_err(input(&path.display().to_string())),
        None => {
            out(text.trim_end_matches('\n'));
            Ok(())
        }
    }
}

/// Which cosignature a witness makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Algorithm {
    /// Ed25519 `cosignature/v1` (type 0x04).
    Ed25519,
    /// ML-DSA-44 (type 0x06), which C2SP recommends for new witnesses.
    #[value(name = "ml-dsa-44")]
    MlDsa44,
}

/// Who the witness is and whom it follows (shared by the file and HTTP forms).
#[derive(Debug, clap::Args)]
pub struct Identity {
    /// Your witness private key (required; mode 0600; `probity keygen`). An ML-DSA-44
    /// witness expands its key from the same 32-byte seed.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Your witness name (required), e.g. audit.example/witness-1.
    #[arg(long)]
    pub name: Option<String>,
    /// The cosignature to make (default: ed25519 for a request file, ml-dsa-44 for `serve`).
    #[arg(long, value_enum)]
    pub algorithm: Option<Algorithm>,
    /// A ledger's checkpoint key (required: C2SP vkey, or a file holding it); repeat for every
    /// ledger this witness follows.
    #[arg(long = "ledger-vkey")]
    pub ledger_vkeys: Vec<String>,
    /// The file where the witness keeps the last checkpoint it cosigned per ledger
    /// (required; created on first use, replaced atomically).
    #[arg(long)]
    pub state: Option<PathBuf>,
}

// Checked here rather than by clap: the same arguments serve `probity witness REQUEST` and
// `probity witness serve`, and clap cannot require them of both.
fn required<'a, T>(value: &'a Option<T>, flag: &str) -> Result<&'a T, Failure> {
    value
        .as_ref()
        .ok_or_else(|| Failure::Input(format!("{flag} is required")))
}

type State = BTreeMap<String, WitnessedTree>;

/// A witness: its key, the logs it follows and its durable state.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<VerifierKey>,
    state_path: PathBuf,
    state: Mutex<State>,
}

/// Why an add-checkpoint was not cosigned.
#[derive(Debug)]
pub enum Refusal {
    /// The request broke the protocol or the log misbehaved (the spec's status).
    Protocol(WitnessError),
    /// The witness could not keep its state: it must not cosign (500).
    Storage(String),
}

impl Witness {
    /// Opens the witness: reads its key and state, resolves the ledger keys.
    pub fn open(identity: &Identity, default: Algorithm) -> Result<Witness, Failure> {
        let key_path = required(&identity.key, "--key")?;
        let name = required(&identity.name, "--name")?.clone();
        let state_path = required(&identity.state, "--state")?;
        if identity.ledger_vkeys.is_empty() {
            return Err(Failure::Input(
                "--ledger-vkey is required (once per ledger the witness follows)".into(),
            ));
        }
        let key = keyfile::read_key(key_path).map_err(|e| Failure::Input(e.to_string()))?;
        let cosigner = match identity.algorithm.unwrap_or(default) {
            Algorithm::Ed25519 => Cosigner::new(name, key),
            Algorithm::MlDsa44 => Cosigner::ml_dsa_44(name, &key.to_seed()),
        };
        let mut logs = Vec::new();
        for given in &identity.ledger_vkeys {
            let vkey = keyfile::read_vkey(given).map_err(|e| Failure::Input(e.to_string()))?;
            if vkey.is_cosigner() {
                return Err(Failure::Input(format!(
                    "--ledger-vkey {given}: a witness's cosigner key, not a ledger's checkpoint key"
                )));
            }
            logs.push(vkey);
        }
        let state = read_state(state_path)?;
        Ok(Witness {
            cosigner,
            logs,
            state_path: state_path.clone(),
            state: Mutex::new(state),
        })
    }

    /// The witness's verifier key (what ledgers and auditors pin).
    pub fn vkey(&self) -> VerifierKey {
        self.cosigner.verifier_key()
    }

    /// Checks a request, cosigns it now, and remembers the new checkpoint durably before
    /// returning the cosignature.
    pub fn add_checkpoint(
        &self,
        request: &AddCheckpoint,
    ) -> Result<(WitnessedTree, NoteSignature), Refusal> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Refusal::Storage("the witness's state lock is poisoned".into()))?;
        let mut tree = request
            .check(&self.logs, &state)
            .map_err(Refusal::Protocol)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs().max(1));
        let signature = self
            .cosigner
            .cosign(&request.checkpoint, now)
            .map_err(|e| Refusal::Protocol(WitnessError::Malformed(e.to_string())))?;
        let mut cosigned = request.checkpoint.clone();
        cosigned.signatures.retain(|s| {
            self.logs
                .iter()
                .any(|log| log.matches(s) && log.verify_note(&cosigned.text, s))
        });
        cosigned.add_signature(signature.clone());
        tree.note = Some(String::from_utf8_lossy(&cosigned.to_bytes()).into_owned());
        let mut next = state.clone();
        next.insert(tree.origin.clone(), tree.clone());
        write_state(&self.state_path, &next).map_err(|e| Refusal::Storage(e.to_string()))?;
        *state = next;
        Ok((tree, signature))
    }

    /// The latest checkpoint cosigned for the origin whose SHA-256 is `origin_hash` (hex).
    pub fn latest_note(&self, origin_hash: &str) -> Option<String> {
        let state = self.state.lock().ok()?;
        state
            .values()
            .find(|t| probity_core::witness::origin_hash(&t.origin) == origin_hash)
            .and_then(|t| t.note.clone())
    }
}

fn read_state(path: &Path) -> Result<State, Failure> {
    match std::fs::read(path) {
        Ok(bytes) => probity_core::strict_json::from_slice(&bytes)
            .map_err(|e| Failure::Input(format!("{}: not a witness state: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::new()),
        Err(e) => Err(Failure::Input(format!("{}: {e}", path.display()))),
    }
}

/// Replaces the state file atomically and durably: the witness must never forget a checkpoint
/// it cosigned (it could then be shown a fork).
fn write_state(path: &Path, state: &State) -> Result<(), Failure> {
    let shown = path.display().to_string();
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| Failure::Input(e.to_string()))?;
    let file = std::fs::File::create(&tmp).map_err(input(&tmp.display().to_string()))?;
    std::io::Write::write_all(&mut &file, &bytes).map_err(input(&tmp.display().to_string()))?;
    file.sync_all().map_err(input(&tmp.display().to_string()))?;
    std::fs::rename(&tmp, path).map_err(input(&shown))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(input(&dir.display().to_string()))?;
    }
    Ok(())
}

/// `probity witness REQUEST`: checks the request file and cosigns it (Ed25519 unless
/// `--algorithm` says otherwise, as before ML-DSA-44 existed here).
pub fn cosign(
    request_path: &Path,
    identity: &Identity,
    out_path: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    let witness = Witness::open(identity, Algorithm::Ed25519)?;
    let text = std::fs::read_to_string(request_path)
        .map_err(input(&request_path.display().to_string()))?;
    let request = AddCheckpoint::parse(&text)
        .map_err(|e| Failure::Input(format!("{}: {e}", request_path.display())))?;
    let (tree, signature) = match witness.add_checkpoint(&request) {
        Ok(done) => done,
        Err(Refusal::Storage(e)) => return Err(Failure::Input(e)),
        Err(Refusal::Protocol(e)) => {
            if json {
                out(
                    &json!({"cosigned": false, "status": e.http_status(), "error": e.to_string()})
                        .to_string(),
                );
            } else {
                out(&format!("refused ({}): {e}", e.http_status()));
            }
            return Err(Failure::Findings(1));
        }
    };
    if let (Some(path), Some(note)) = (out_path, &tree.note) {
        std::fs::write(path, note).map_err(input(&path.display().to_string()))?;
    }
    let line = signature.to_line();
    if json {
        out(
            &json!({"cosigned": true, "size": tree.size, "root": tree.root,
            "cosignature": line.trim_end(), "witness_vkey": witness.vkey().to_string()})
            .to_string(),
        );
    } else {
        out(&format!(
            "cosigned size {} root {} (witness vkey {})",
            tree.size,
            tree.root,
            witness.vkey()
        ));
        out(line.trim_end());
    }
    Ok(())
}
