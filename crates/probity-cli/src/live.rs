//! Auditor commands on a running ledger (`--nats URL --ledger ID`): `export`, `prove` and
//! `witness-request`. A data directory is locked while ledgerd runs, so these read what
//! ledgerd publishes instead: its latest checkpoint, its proofs, and the records from the
//! JetStream copy through a consumer ledgerd makes. Everything they write is checked offline
//! exactly as the embedded forms' output is (`probity verify`, `verify-proof`, `witness`).

use std::io::{BufWriter, Write};
use std::path::Path;

use probity_core::checkpoint::{Checkpoint, SignedNote};
use probity_core::ids::Seq;
use probity_core::proof::ProofBundle;
use probity_core::record::Record;
use probity_core::registry::GenesisPayload;
use probity_core::witness::AddCheckpoint;
use probity_ledger::export::{Line, FORMAT};
use probity_ledger::wire;

use crate::audit::{read_stream, StreamItem};
use crate::target::Target;
use crate::Failure;

/// How long to wait for ledgerd to sign a checkpoint covering what is asked (it signs one
/// within `every_ms` of an append).
const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn ledger_id(target: &Target) -> Result<&str, Failure> {
    match target {
        Target::Nats { ledger, .. } => Ok(ledger),
        Target::Embedded(_) => Err(Failure::Input("not connected to NATS".into())),
    }
}

/// ledgerd's latest checkpoint, waiting (up to 10 s) for one of at least `at_least` records.
fn latest_checkpoint(target: &Target, at_least: u64) -> Result<(Checkpoint, SignedNote), Failure> {
    let ledger = ledger_id(target)?;
    let deadline = std::time::Instant::now() + CHECKPOINT_WAIT;
    loop {
        let reply: Result<wire::CheckpointReply, _> =
            target.request(wire::checkpoint_subject(ledger), &serde_json::json!({}))?;
        match reply {
            Ok(reply) if reply.size >= at_least || std::time::Instant::now() >= deadline => {
                let note = SignedNote::parse(reply.note.as_bytes())
                    .map_err(|e| Failure::Input(format!("ledgerd's checkpoint: {e}")))?;
                let checkpoint = Checkpoint::from_text(&note.text)
                    .map_err(|e| Failure::Input(format!("ledgerd's checkpoint: {e}")))?;
                if checkpoint.size < at_least {
                    return Err(Failure::Input(format!(
                        "ledgerd's latest checkpoint covers {} records, not {at_least}",
                        checkpoint.size
                    )));
                }
                return Ok((checkpoint, note));
            }
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(Failure::Input(format!("ledgerd: {}", e.message)))
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// Records `from..to` from the stream; a message that is not a record is an error here (the
/// auditor's `probity verify --nats` reports it as a finding).
fn records(target: &Target, from: u64, to: u64, what: &str) -> Result<Vec<Record>, Failure> {
    let mut out = Vec::new();
    let mut bad = None;
    read_stream(target, None, from, to, what, |item| match item {
        StreamItem::Records(records) => out.extend_from_slice(records),
        StreamItem::Unreadable { seq, reason } => {
            bad.get_or_insert(format!("stream message {}: {reason}", seq + 1));
        }
    })?;
    match bad {
        Some(reason) => Err(Failure::Damaged(format!(
            "{reason} (probity verify --nats says more)"
        ))),
        None => Ok(out),
    }
}

/// `probity export --nats`: a whole export (v1) of the records up to ledgerd's latest
/// checkpoint (waiting for one that covers the size it reports), carrying that checkpoint with
/// its cosignatures; the header's vkey is the one genesis names. Returns the records written.
pub fn export(target: &Target, out: &Path) -> Result<u64, Failure> {
    let ledger = ledger_id(target)?.to_owned();
    let reported = target.status()?.size;
    let (checkpoint, note) = latest_checkpoint(target, reported)?;
    let size = checkpoint.size;
    let genesis = records(target, 0, 1.min(size), "reading genesis")?;
    let vkey = match genesis.first() {
        Some(record) => {
            let opened = record
                .event
                .open()
                .map_err(|e| Failure::Damaged(format!("genesis: {e}")))?;
            let payload: GenesisPayload = opened
                .body()
                .payload
                .parse()
                .map_err(|e| Failure::Damaged(format!("genesis: {e}")))?;
            probity_core::checkpoint::VerifierKey::ed25519(payload.origin, payload.ledger_key)
                .to_string()
        }
        None => String::new(),
    };
    let io = |e: std::io::Error| Failure::Input(format!("{}: {e}", out.display()));
    let file = std::fs::File::create(out).map_err(io)?;
    let mut w = BufWriter::new(file);
    let mut line = |value: &Line| -> Result<(), Failure> {
        serde_json::to_writer(&mut w, value).map_err(|e| io(e.into()))?;
        w.write_all(b"\n").map_err(io)
    };
    line(&Line::Header {
        format: FORMAT.into(),
        ledger,
        origin: checkpoint.origin.clone(),
        ledger_vkey: vkey,
        from: 0,
        size,
    })?;
    if size > 0 {
        line(&Line::Checkpoint {
            size,
            note: String::from_utf8_lossy(&note.to_bytes()).into_owned(),
        })?;
    }
    let mut failed = None;
    read_stream(target, None, 0, size, "exporting", |item| {
        if failed.is_some() {
            return;
        }
        match item {
            StreamItem::Records(records) => {
                for record in records {
                    if let Err(e) = line(&Line::Record(record.clone())) {
                        failed = Some(e);
                        return;
                    }
                }
            }
            StreamItem::Unreadable { seq, reason } => {
                failed = Some(Failure::Damaged(format!(
                    "stream message {}: {reason} (probity verify --nats says more)",
                    seq + 1
                )));
            }
        }
    })?;
    if let Some(failure) = failed {
        return Err(failure);
    }
    w.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    Ok(size)
}

/// `probity prove --nats`: the proof bundle of record `seq` against ledgerd's latest
/// checkpoint (waiting for one that covers it): the record from the stream, the inclusion
/// proof from ledgerd, checked against the checkpoint's root before it is written.
pub fn prove(target: &Target, seq: u64) -> Result<ProofBundle, Failure> {
    let ledger = ledger_id(target)?.to_owned();
    let (checkpoint, note) = latest_checkpoint(target, seq + 1)?;
    let reply: wire::InclusionProof = target
        .request(
            wire::inclusion_subject(&ledger),
            &wire::InclusionRequest {
                seq: Seq(seq),
                size: Some(checkpoint.size),
            },
        )?
        .map_err(|e| Failure::Input(format!("ledgerd: {}", e.message)))?;
    let record = records(target, seq, seq + 1, "reading the record")?
        .pop()
        .ok_or_else(|| Failure::Input(format!("no record {seq} in the stream")))?;
    let bundle = ProofBundle {
        index: seq,
        record,
        proof: reply.proof,
        checkpoint: note,
    };
    // What ledgerd and the stream said must add up before anyone is handed it.
    if bundle.record.compute_hash() != bundle.record.hash
        || probity_core::merkle::verify_inclusion(
            &bundle.record.hash,
            seq,
            checkpoint.size,
            &bundle.proof,
            &checkpoint.root,
        )
        .is_err()
    {
        return Err(Failure::Damaged(format!(
            "record {seq} from the stream is not proven by ledgerd's proof against its checkpoint of {} records (probity verify --nats says more)",
            checkpoint.size
        )));
    }
    Ok(bundle)
}

/// `probity witness-request --nats`: ledgerd's latest checkpoint (waiting for one that covers
/// the size it reports) with the consistency proof from `old` (from ledgerd).
pub fn witness_request(target: &Target, old: u64) -> Result<AddCheckpoint, Failure> {
    let ledger = ledger_id(target)?.to_owned();
    let reported = target.status()?.size;
    let (checkpoint, note) = latest_checkpoint(target, reported)?;
    if old > checkpoint.size {
        return Err(Failure::Input(format!(
            "--old {old} is beyond ledgerd's latest checkpoint of {} records",
            checkpoint.size
        )));
    }
    let proof = if old == 0 || old == checkpoint.size {
        Vec::new()
    } else {
        let reply: wire::ConsistencyProof = target
            .request(
                wire::consistency_subject(&ledger),
                &wire::ConsistencyRequest {
                    size1: old,
                    size2: Some(checkpoint.size),
                },
            )?
            .map_err(|e| Failure::Input(format!("ledgerd: {}", e.message)))?;
        if reply.root2 != checkpoint.root {
            return Err(Failure::Damaged(
                "ledgerd's consistency proof does not end at its checkpoint's root".into(),
            ));
        }
        reply.proof
    };
    Ok(AddCheckpoint {
        old,
        proof,
        checkpoint: note,
    })
}
