//! The auditor's commands: `export` (a self-contained JSON-lines file: header, checkpoints,
//! records; `schemas/EXPORT.md`) and `verify` (an export file or a data directory, on all
//! cores, reporting every finding).

use std::io::BufReader;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use probity_core::checkpoint::{SignedNote, VerifierKey, WitnessPolicy};
use probity_core::envelope::AuthenticEvent;
use probity_core::ids::Seq;
use probity_core::investigation::Investigation;
use probity_core::proof::ProofBundle;
use probity_core::record::Record;
use probity_core::verify::{Finding, VerifyReport};
use probity_ledger::export;
use probity_ledger::{evidence, wire, Ledger};

use crate::target::Target;
use crate::Failure;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| Failure::Input(format!("{}: {e}", path.display()))
}

/// Writes records `from..to` to `out` (the whole ledger: `0..size`; a range export when
/// `from` > 0).
pub fn export(ledger: &Ledger, out: &Path, from: u64, to: u64) -> Result<u64, Failure> {
    export::write_range(ledger, out, from, to).map_err(|e| Failure::Input(e.to_string()))
}

/// Imports the export `from` into the new data directory `data`, verifying as it goes.
pub fn import(
    from: &Path,
    data: &Path,
    ledger_vkey: Option<VerifierKey>,
) -> Result<export::Imported, Failure> {
    export::import(from, data, ledger_vkey).map_err(|e| match e {
        export::ExportError::Findings(report) => {
            for finding in &report.findings {
                crate::out(&format!("[{}] {finding}", finding.code()));
            }
            Failure::Findings(report.findings.len())
        }
        other => Failure::Input(other.to_string()),
    })
}

use probity_ledger::audit::BATCH;
pub use probity_ledger::audit::{verifier, Trust};

impl From<probity_ledger::audit::VerifyExportError> for Failure {
    fn from(e: probity_ledger::audit::VerifyExportError) -> Failure {
        Failure::Input(e.to_string())
    }
}

/// Verifies an export file (see [`probity_ledger::audit::verify_export`]), with a progress
/// bar on a terminal.
pub fn verify_export(path: &Path, trust: &Trust) -> Result<(VerifyReport, bool), Failure> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut bar: Option<ProgressBar> = None;
    let verified = probity_ledger::audit::verify_export(
        BufReader::new(file),
        &path.display().to_string(),
        trust,
        &mut |done, of| {
            bar.get_or_insert_with(|| progress(of, "verifying"))
                .set_position(done)
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(verified?)
}

/// A progress bar on standard error when it is a terminal; hidden otherwise, so that pipes,
/// scripts and `--json` readers see nothing of it.
pub(crate) fn progress(total: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} {wide_bar} {human_pos}/{human_len} records ({eta} left)",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// A progress bar for bringing views up to date, made on the first report (so a catch-up of
/// nothing shows nothing), on a terminal only.
#[derive(Debug)]
pub(crate) struct ViewsProgress(Option<ProgressBar>, &'static str);

impl Default for ViewsProgress {
    fn default() -> Self {
        ViewsProgress(None, "verifying and applying to the views")
    }
}

impl ViewsProgress {
    /// A bar that says `what` is being done instead.
    pub(crate) fn saying(what: &'static str) -> Self {
        ViewsProgress(None, what)
    }

    /// `done` of `size` records applied.
    pub(crate) fn report(&mut self, done: u64, size: u64) {
        let what = self.1;
        self.0
            .get_or_insert_with(|| progress(size, what))
            .set_position(done);
    }

    /// Clears the bar.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

/// How long `verify --nats` waits for ledgerd to sign a checkpoint covering its size.
const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long `verify --nats` waits for the next record from the stream.
const STREAM_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Verifies a live ledger over NATS: the records from its JetStream copy (`stream`, by default
/// `PROBITY_<LEDGER>`), up to the size ledgerd reports, against ledgerd's latest checkpoint —
/// the auditor's own copy of the stream, not ledgerd's word.
pub fn verify_nats(
    target: &Target,
    stream: Option<&str>,
    trust: &Trust,
) -> Result<VerifyReport, Failure> {
    let Target::Nats { ledger, .. } = target else {
        return Err(Failure::Input("not connected to NATS".into()));
    };
    let reported = target.status()?.size;
    let matrix = probity_events::role_matrix();
    let mut verifier = verifier(&matrix, trust)?;
    // ledgerd signs a checkpoint within `every_ms` of an append: wait for one that covers
    // what it reported, so that every record read is anchored, then read up to that one.
    let deadline = std::time::Instant::now() + CHECKPOINT_WAIT;
    let checkpoint = loop {
        let reply: Result<wire::CheckpointReply, _> =
            target.request(wire::checkpoint_subject(ledger), &serde_json::json!({}))?;
        match reply {
            Ok(cp) if cp.size >= reported || std::time::Instant::now() >= deadline => {
                break Some(cp)
            }
            Err(_) if std::time::Instant::now() >= deadline => break None,
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    let mut size = reported;
    if let Some(checkpoint) = checkpoint {
        match SignedNote::parse(checkpoint.note.as_bytes()) {
            Ok(note) => {
                size = size.max(checkpoint.size);
                verifier.add_checkpoint(note, checkpoint.size);
            }
            Err(e) => verifier.push_unreadable(format!("ledgerd's checkpoint: {e}")),
        }
    }
    read_stream(
        target,
        stream,
        0,
        size,
        "verifying the stream",
        |item| match item {
            StreamItem::Records(records) => {
                verifier.push_batch(records);
            }
            StreamItem::Unreadable { seq, reason } => {
                verifier.push_unreadable_record(format!("stream message {}: {reason}", seq + 1))
            }
        },
    )?;
    Ok(verifier.finish())
}

/// What [`read_stream`] hands over, in ledger order.
pub enum StreamItem<'a> {
    /// Records that parsed.
    Records(&'a [Record]),
    /// A message at `seq` that is not a record.
    Unreadable {
        /// The record's place.
        seq: u64,
        /// Why it is not one.
        reason: String,
    },
}

/// Reads records `from..size` of a live ledger from its JetStream copy (`stream`, by default
/// `PROBITY_<LEDGER>`) through a consumer ledgerd makes, in batches, with a progress bar
/// saying `what`.
pub fn read_stream(
    target: &Target,
    stream: Option<&str>,
    from: u64,
    size: u64,
    what: &str,
    mut take: impl FnMut(StreamItem<'_>),
) -> Result<(), Failure> {
    use futures_util::StreamExt as _;
    let Target::Nats {
        client,
        ledger,
        runtime,
        ..
    } = target
    else {
        return Err(Failure::Input("not connected to NATS".into()));
    };
    let name = stream.map_or_else(|| wire::default_stream_name(ledger), str::to_owned);
    let unreachable =
        |e: &dyn std::fmt::Display| Failure::Unreachable(format!("stream {name}: {e}"));
    runtime.block_on(async {
        let js = async_nats::jetstream::new(client.clone());
        let stream = js.get_stream(&name).await.map_err(|e| unreachable(&e))?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut read = from;
        let bar = progress(size - from.min(size), what);
        // ledgerd makes the consumer (readers may not create one); it delivers each record
        // once, so a message lost on the way shows as a jump in the stream sequence: read
        // again from there (a few times at most).
        let mut attempts = 0;
        'consumers: while read < size {
            attempts += 1;
            if attempts > 5 {
                return Err(unreachable(&format!(
                    "messages keep going missing at record {read}"
                )));
            }
            let consumer = probity_nats::reader(client, &stream, ledger, read)
                .await
                .map_err(|e| unreachable(&e))?;
            let mut messages = consumer.messages().await.map_err(|e| unreachable(&e))?;
            while read < size {
                let next = tokio::time::timeout(STREAM_WAIT, messages.next())
                    .await
                    .map_err(|_| unreachable(&format!("no record {read} after {STREAM_WAIT:?}")))?;
                let Some(message) = next else {
                    return Err(unreachable(&format!("ended before record {read}")));
                };
                let message = message.map_err(|e| unreachable(&e))?;
                if !message.info().is_ok_and(|i| i.stream_sequence == read + 1) {
                    // Hand over what was read, so that a new consumer continues after it.
                    take(StreamItem::Records(&batch));
                    batch.clear();
                    continue 'consumers;
                }
                match Record::from_json(&message.payload) {
                    Ok(record) => batch.push(record),
                    Err(e) => {
                        take(StreamItem::Records(&batch));
                        batch.clear();
                        take(StreamItem::Unreadable {
                            seq: read,
                            reason: e.to_string(),
                        });
                    }
                }
                read += 1;
                if batch.len() == BATCH {
                    take(StreamItem::Records(&batch));
                    bar.set_position(read - from);
                    batch.clear();
                }
            }
        }
        take(StreamItem::Records(&batch));
        bar.finish_and_clear();
        Ok(())
    })
}

/// The report on a book whose storage could not be opened at all: one finding, nothing read.
pub fn unreadable_book_report(reason: String) -> VerifyReport {
    VerifyReport {
        records: 0,
        root: probity_core::hash::Hash::digest_parts(&[]),
        checkpoints_checked: 0,
        key_pinned: false,
        key_commitment_checked: false,
        unanchored: None,
        witnessed: None,
        findings: vec![Finding::StorageDamaged {
            seq: Seq(0),
            reason,
        }],
    }
}

/// Verifies the book of a data directory.
pub fn verify_book(ledger: &Ledger, trust: &Trust) -> Result<VerifyReport, Failure> {
    let matrix = probity_events::role_matrix();
    let mut verifier = verifier(&matrix, trust)?;
    let size = ledger.size();
    for checkpoint in ledger.book().checkpoints() {
        let (cp_size, note) = checkpoint.map_err(|e| Failure::Input(e.to_string()))?;
        verifier.add_checkpoint(note, cp_size);
    }
    let bar = progress(size, "verifying");
    let mut from = 0;
    while from < size {
        let to = (from + BATCH as u64).min(size);
        let records = ledger
            .book()
            .records_parallel(Seq(from), Seq(to))
            .map_err(|e| Failure::Input(e.to_string()))?;
        verifier.push_batch(&records);
        bar.set_position(to);
        from = to;
    }
    bar.finish_and_clear();
    let mut report = verifier.finish();
    if let Some(damage) = ledger.damage() {
        report.findings.push(Finding::StorageDamaged {
            seq: Seq(size),
            reason: damage,
        });
    }
    Ok(report)
}

/// Writes the proof bundle of record `seq` (against the latest checkpoint, signing one first if
/// records were added since) to `out`, or stdout.
pub fn prove(ledger: Ledger, seq: u64, out: Option<&Path>) -> Result<(), Failure> {
    let bundle = proof_bundle(&ledger, seq);
    ledger.close();
    write_bundle(&bundle?, out)
}

/// Where a record too large for its bundle's extra line is written: `<bundle>.record.json`.
pub fn record_beside(bundle: &Path) -> std::path::PathBuf {
    let mut name = bundle.as_os_str().to_owned();
    name.push(".record.json");
    name.into()
}

/// Writes a proof bundle to `out`, or stdout; a record too large for the extra line is
/// written beside it (`<out>.record.json`).
pub fn write_bundle(bundle: &ProofBundle, out: Option<&Path>) -> Result<(), Failure> {
    let text = bundle.to_text();
    if !bundle.carries_record() {
        let Some(path) = out else {
            return Err(Failure::Input(format!(
                "record {} is too large for a bundle's extra line ({} bytes at most): give --out FILE, and the record is written beside it as FILE.record.json",
                bundle.index,
                probity_core::proof::MAX_EXTRA_LINE
            )));
        };
        let beside = record_beside(path);
        std::fs::write(&beside, bundle.record_json()).map_err(io_error(&beside))?;
        eprintln!(
            "record {} is too large for the bundle's extra line: it is in {} (verify-proof reads it from there)",
            bundle.index,
            beside.display()
        );
    }
    match out {
        Some(path) => std::fs::write(path, text).map_err(io_error(path)),
        None => {
            crate::out(text.trim_end_matches('\n'));
            Ok(())
        }
    }
}

/// The proof bundle of record `seq` against the latest checkpoint (signing one first if the
/// record is past it).
pub fn proof_bundle(ledger: &Ledger, seq: u64) -> Result<ProofBundle, Failure> {
    evidence::proof_bundles(ledger, &[seq])
        .map_err(|e| Failure::Input(e.to_string()))?
        .pop()
        .ok_or_else(|| Failure::Input(format!("no record {seq}")))
}

/// The investigation bundle in `path`, if that is what the file holds (an export otherwise).
pub fn read_investigation(path: &Path) -> Result<Option<Investigation>, Failure> {
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let n = std::io::Read::read(&mut file, &mut head).map_err(io_error(path))?;
    if !String::from_utf8_lossy(&head[..n]).contains("\"probity-investigation/") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    probity_core::strict_json::from_str(&text)
        .map(Some)
        .map_err(|e| {
            Failure::Input(format!(
                "{}: not an investigation bundle: {e}",
                path.display()
            ))
        })
}

/// Checks an investigation bundle offline and prints what it proves.
pub fn verify_investigation(
    bundle: &Investigation,
    trust: &Trust,
    json: bool,
) -> Result<(), Failure> {
    let Some(log) = trust.ledger_vkey.clone() else {
        return Err(Failure::Input(
            "an investigation bundle is checked against the ledger key you hold: give --ledger-vkey"
                .into(),
        ));
    };
    if trust.trusted_checkpoint.is_some() {
        return Err(Failure::Input(
            "--trusted-checkpoint applies to a whole ledger, not to a bundle".into(),
        ));
    }
    let policy = WitnessPolicy {
        log,
        witnesses: trust.witnesses.clone(),
        quorum: trust.quorum,
    };
    let report = bundle.verify(&policy, &probity_events::role_matrix());
    if json {
        crate::out_json(&report);
    } else if report.is_intact() {
        let (size, root) = report.checkpoint.unwrap_or_default();
        crate::out(&format!(
            "intact: {} records proven in the ledger's checkpoint of {size} records (root {root}), each signer checked against the key records carried",
            report.records.len()
        ));
    } else {
        for p in &report.problems {
            crate::out(&format!("[{}] {}", p.code, p.message));
        }
    }
    if report.is_intact() {
        Ok(())
    } else {
        Err(Failure::Findings(report.problems.len().max(1)))
    }
}

/// Checks a proof bundle offline and prints what it proves.
pub fn verify_proof(
    path: &Path,
    record: Option<&Path>,
    policy: &WitnessPolicy,
    json: bool,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    // A record too large for the bundle's extra line travels beside it (PROOF.md).
    let parsed = match record {
        Some(file) => {
            let given = std::fs::read(file).map_err(io_error(file))?;
            ProofBundle::parse_with_record(&text, Some(&given))
        }
        None => match ProofBundle::parse(&text) {
            Err(probity_core::proof::BundleError::RecordNotCarried) => {
                match std::fs::read(record_beside(path)) {
                    Ok(given) => ProofBundle::parse_with_record(&text, Some(&given)),
                    Err(_) => Err(probity_core::proof::BundleError::RecordNotCarried),
                }
            }
            parsed => parsed,
        },
    };
    let bundle = parsed.map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
    match bundle.verify(policy) {
        Ok(proven) => {
            let body = bundle.record.event.open().map(AuthenticEvent::into_body);
            if json {
                // Invariant: a proven record is plain data.
                let mut value = serde_json::to_value(&proven).expect("a proven record serializes");
                value["proven"] = true.into();
                if let Ok(body) = &body {
                    value["event"] = serde_json::json!({"id": body.id, "type": body.event_type,
                        "occurred_at": body.occurred_at, "signer": body.signer.key_id()});
                }
                value["recorded_at"] = serde_json::json!(bundle.record.recorded_at);
                crate::out(&value.to_string());
            } else {
                crate::out(&format!(
                    "proven: record {} ({}) is in the ledger's tree of {} records, root {}",
                    proven.seq, proven.hash, proven.checkpoint_size, proven.checkpoint_root
                ));
                if let Ok(body) = body {
                    crate::out(&format!(
                        "event  {} {} signed by key {}, occurred {}, recorded {}",
                        body.event_type,
                        body.id,
                        body.signer.key_id(),
                        crate::text().when(body.occurred_at.unix_micros()),
                        crate::text().when(bundle.record.recorded_at.unix_micros())
                    ));
                }
                for (witness, at) in &proven.witnesses {
                    // A cosignature's time is whole seconds since the epoch (C2SP).
                    let micros =
                        i64::try_from(*at).map_or(i64::MAX, |s| s.saturating_mul(1_000_000));
                    crate::out(&format!(
                        "witness {witness} cosigned at {}",
                        crate::text().when(micros)
                    ));
                }
            }
            Ok(())
        }
        Err(e) => {
            if json {
                crate::out(
                    &serde_json::json!({"proven": false, "error": e.to_string()}).to_string(),
                );
            } else {
                crate::out(&format!("NOT proven: {e}"));
            }
            Err(Failure::Findings(1))
        }
    }
}
