//! The log's side of C2SP tlog-witness: ledgerd posts each new checkpoint to the HTTP
//! witnesses in its configuration (`add-checkpoint`, with a consistency proof from the size the
//! witness last cosigned), follows a 409 with the size the witness answers, and keeps the
//! cosignatures that verify under the witness's pinned key (`Ledger::attach_cosignatures`,
//! durable). A witness that is down or refuses delays nothing: appends never wait for it.

use std::io::Read;
use std::time::Duration;

use probity_core::checkpoint::{SignedNote, VerifierKey};
use probity_core::witness::AddCheckpoint;
use probity_ledger::Ledger;
use tokio::sync::watch;

/// An HTTP witness: where to post, and the key its cosignatures must verify under.
#[derive(Debug, Clone)]
pub struct HttpWitness {
    /// The submission prefix (`…/add-checkpoint` is posted under it).
    pub url: String,
    /// The witness's cosigner key.
    pub vkey: VerifierKey,
}

impl HttpWitness {
    /// Parses `URL VKEY` (a space between; the vkey inline or a file holding it).
    pub fn parse(text: &str) -> Result<HttpWitness, String> {
        let (url, vkey) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{text:?}: expected `URL VKEY`"))?;
        HttpWitness::new(url, vkey.trim())
    }

    /// A witness at `url` with the key `vkey` (inline or a file).
    pub fn new(url: &str, vkey: &str) -> Result<HttpWitness, String> {
        if !url.starts_with("http://") {
            return Err(format!(
                "{url:?}: ledgerd speaks plain HTTP to witnesses (http://…); put a TLS-terminating proxy in front for https"
            ));
        }
        let vkey = probity_ledger::keyfile::read_vkey(vkey).map_err(|e| e.to_string())?;
        if !vkey.is_cosigner() {
            return Err(format!(
                "{vkey}: not a witness's cosigner key (type 0x04 or 0x06)"
            ));
        }
        Ok(HttpWitness {
            url: url.trim_end_matches('/').to_owned(),
            vkey,
        })
    }
}

/// What one post came to.
#[derive(Debug, PartialEq, Eq)]
enum Posted {
    /// Cosigned: the signature lines.
    Cosigned(String),
    /// 409: the size the witness last cosigned.
    Conflict(u64),
    /// Anything else (status 0: not reached).
    Failed(u16, String),
}

fn post(agent: &ureq::Agent, url: &str, body: String) -> Posted {
    let response = agent
        .post(format!("{url}/add-checkpoint"))
        .header("Content-Type", "text/plain; charset=utf-8")
        .send(body);
    let mut response = match response {
        Ok(response) => response,
        Err(e) => return Posted::Failed(0, e.to_string()),
    };
    let status = response.status().as_u16();
    let mut text = String::new();
    // A witness's answer is a few lines; anything longer is not one.
    let read = response
        .body_mut()
        .as_reader()
        .take(64 * 1024)
        .read_to_string(&mut text);
    if let Err(e) = read {
        return Posted::Failed(status, e.to_string());
    }
    match status {
        200 => Posted::Cosigned(text),
        409 => match text.strip_suffix('\n').and_then(|t| t.parse().ok()) {
            Some(size) => Posted::Conflict(size),
            None => Posted::Failed(409, format!("a 409 without a size: {text:?}")),
        },
        _ => Posted::Failed(status, text.trim().to_owned()),
    }
}

/// Asks `witness` to cosign the ledger's latest checkpoint, starting from `known` (what we
/// believe it last cosigned); returns the size it has now cosigned, if it did.
fn cosign_latest(
    ledger: &Ledger,
    agent: &ureq::Agent,
    witness: &HttpWitness,
    known: &mut u64,
) -> Result<Option<u64>, String> {
    let Some((size, checkpoint)) = ledger.latest_checkpoint() else {
        return Ok(None);
    };
    // Two tries: the second after a 409 told us the witness's size.
    for _ in 0..2 {
        if *known > size {
            return Err(format!(
                "the witness has cosigned size {known}, beyond this ledger's latest checkpoint {size}: it saw another history"
            ));
        }
        let proof = if *known == 0 || *known == size {
            Vec::new()
        } else {
            ledger
                .consistency_proof(*known, size)
                .map_err(|e| e.to_string())?
        };
        let request = AddCheckpoint {
            old: *known,
            proof,
            checkpoint: checkpoint.clone(),
        };
        match post(agent, &witness.url, request.to_text()) {
            Posted::Cosigned(lines) => {
                let mut note = checkpoint.to_bytes();
                note.extend_from_slice(lines.as_bytes());
                let cosigned = SignedNote::parse(&note)
                    .map_err(|e| format!("the witness's answer is not signature lines: {e}"))?;
                if !cosigned
                    .signatures
                    .iter()
                    .any(|s| witness.vkey.verify_cosignature(&cosigned.text, s).is_some())
                {
                    return Err("the witness answered with no cosignature that verifies".into());
                }
                ledger
                    .attach_cosignatures(&cosigned, std::slice::from_ref(&witness.vkey))
                    .map_err(|e| e.to_string())?;
                *known = size;
                return Ok(Some(size));
            }
            Posted::Conflict(theirs) => *known = theirs,
            Posted::Failed(status, text) => return Err(format!("status {status}: {text}")),
        }
    }
    Err("the witness's size kept changing".into())
}

/// How long a witness that failed is left alone before the same checkpoint is offered again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Follows the ledger's checkpoints and has every witness cosign each new latest one, until
/// `stop` turns true.
pub async fn run(
    ledger: Ledger,
    witnesses: Vec<HttpWitness>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    if witnesses.is_empty() {
        return;
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    // What each witness last cosigned, as far as we know (0 until it tells us otherwise).
    let mut known = vec![0u64; witnesses.len()];
    let mut cosigned = vec![None::<u64>; witnesses.len()];
    // After a failure, the same checkpoint is offered again only after a pause.
    let mut failed: Vec<Option<(u64, std::time::Instant)>> = vec![None; witnesses.len()];
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let Some((size, _)) = ledger.latest_checkpoint() else {
            continue;
        };
        for (i, witness) in witnesses.iter().enumerate() {
            if cosigned[i] == Some(size) {
                continue;
            }
            if failed[i].is_some_and(|(at, when)| at == size && when.elapsed() < RETRY_AFTER) {
                continue;
            }
            let (ledger, agent, witness_for_task, mut from) =
                (ledger.clone(), agent.clone(), witness.clone(), known[i]);
            let done = tokio::task::spawn_blocking(move || {
                let result = cosign_latest(&ledger, &agent, &witness_for_task, &mut from);
                (result, from)
            })
            .await;
            match done {
                Ok((Ok(Some(at)), from)) => {
                    known[i] = from;
                    cosigned[i] = Some(at);
                    tracing::info!(witness = %witness.vkey.name, size = at, "checkpoint cosigned");
                }
                Ok((Ok(None), _)) => {}
                Ok((Err(e), from)) => {
                    known[i] = from;
                    failed[i] = Some((size, std::time::Instant::now()));
                    tracing::warn!(witness = %witness.vkey.name, url = %witness.url, "witness did not cosign: {e}");
                }
                Err(e) => tracing::warn!("witness task failed: {e}"),
            }
        }
    }
}
