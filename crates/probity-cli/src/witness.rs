//! `probity witness-request` (the ledger's side) and `probity witness` (an auditor's): C2SP
//! tlog-witness add-checkpoint over files. The witness keeps, per ledger origin, the last
//! checkpoint it cosigned, and cosigns a newer one only with a consistency proof from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use probity_core::checkpoint::{Cosigner, VerifierKey, WitnessPolicy};
use probity_core::witness::{AddCheckpoint, WitnessedTree};
use probity_ledger::keyfile;
use serde_json::json;

use crate::target::Target;
use crate::{input, out, Failure};

/// Writes an add-checkpoint request: the latest checkpoint (signed now if records were added
/// since the last) and the consistency proof from `old`.
pub fn request(data: &Path, old: u64, out_path: Option<&Path>) -> Result<(), Failure> {
    let Target::Embedded(ledger) = Target::embedded(data)? else {
        return Err(Failure::Input("not a data directory".into()));
    };
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
    let text = built?.to_text();
    match out_path {
        Some(path) => std::fs::write(path, text).map_err(input(&path.display().to_string())),
        None => {
            out(text.trim_end_matches('\n'));
            Ok(())
        }
    }
}

/// What `probity witness` was given.
#[derive(Debug)]
pub struct Cosign {
    /// The request file.
    pub request: PathBuf,
    /// The witness's private key file.
    pub key: PathBuf,
    /// The witness's name.
    pub name: String,
    /// The ledger's checkpoint key.
    pub log: VerifierKey,
    /// The state file.
    pub state: PathBuf,
    /// Where to write the cosigned checkpoint.
    pub out: Option<PathBuf>,
    /// JSON output.
    pub json: bool,
}

type State = BTreeMap<String, WitnessedTree>;

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

/// Checks the request and cosigns it, remembering the new checkpoint before answering.
pub fn cosign(args: &Cosign) -> Result<(), Failure> {
    let key = keyfile::read_key(&args.key).map_err(|e| Failure::Input(e.to_string()))?;
    let witness = Cosigner::new(args.name.clone(), key);
    let text = std::fs::read_to_string(&args.request)
        .map_err(input(&args.request.display().to_string()))?;
    let request = AddCheckpoint::parse(&text)
        .map_err(|e| Failure::Input(format!("{}: {e}", args.request.display())))?;
    let mut state = read_state(&args.state)?;
    let policy = WitnessPolicy {
        log: args.log.clone(),
        witnesses: Vec::new(),
        quorum: 0,
    };
    let tree = match request.check(&policy, state.get(&args.log.name)) {
        Ok(tree) => tree,
        Err(e) => {
            if args.json {
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
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signature = witness.cosign(&request.checkpoint, now);
    state.insert(tree.origin.clone(), tree.clone());
    write_state(&args.state, &state)?;
    if let Some(path) = &args.out {
        let mut cosigned = request.checkpoint.clone();
        cosigned.add_signature(signature.clone());
        std::fs::write(path, cosigned.to_bytes()).map_err(input(&path.display().to_string()))?;
    }
    let line = signature.to_line();
    if args.json {
        out(
            &json!({"cosigned": true, "size": tree.size, "root": tree.root,
            "cosignature": line.trim_end(), "witness_vkey": witness.verifier_key().to_string()})
            .to_string(),
        );
    } else {
        out(&format!(
            "cosigned size {} root {} (witness vkey {})",
            tree.size,
            tree.root,
            witness.verifier_key()
        ));
        out(line.trim_end());
    }
    Ok(())
}
