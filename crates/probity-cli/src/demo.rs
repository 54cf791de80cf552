//! `probity demo`: a city hospital's ledger on the embedded default — its first month (March 2026)
//! of suppliers, reps and purchases recorded as signed events (each at its own `recorded_at`),
//! then the blacklist and the red flags, a full verification, a witnessed checkpoint and an
//! export, all in one data directory every other command can read with `--data DIR`.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use probity_core::checkpoint::{Checkpoint, Cosigner, WitnessPolicy};
use probity_core::keys::SecretKey;
use probity_events::scenario::Scenario;
use probity_ledger::keyfile;

use crate::target::{book_dir, ledger_key_path, Target};
use crate::{audit, blacklist, findings, input, out, Failure, Where};

/// The story: `tests/scenarios/demo-hospital` (its expected findings are checked there).
const STORY: &str = include_str!("../../../tests/scenarios/demo-hospital/events.json");

/// The event that blacklists the supplier whose rep kept visiting wards.
const BLACKLISTING: &str = "city-hospital-demo-0001";

/// The auditor's witness, as it names itself in cosignatures.
const WITNESS: &str = "audit.example/city-hospital-witness";

fn step(text: &str) {
    out(&format!("\n==> {text}"));
}

/// Writes `key` to `dir/<name>.key` (mode 0600) and its public key beside it.
fn write_key(dir: &Path, name: &str, key: &SecretKey) -> Result<(), Failure> {
    keyfile::write_key_pair(&dir.join(format!("{name}.key")), key, false)
        .map(drop)
        .map_err(|e| Failure::Input(e.to_string()))
}

/// Runs the demo into `data`, which must not exist yet (or be empty).
pub fn run(data: &Path) -> Result<(), Failure> {
    let started = Instant::now();
    if std::fs::read_dir(data).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Failure::Input(format!(
            "{} already holds files; choose another --data DIR or remove it",
            data.display()
        )));
    }
    let scenario = Scenario::parse(STORY).map_err(|e| Failure::Input(e.to_string()))?;
    let keys_dir = data.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(input(&keys_dir.display().to_string()))?;

    out(&format!(
        "Probity demo: {} — a city hospital's March, recorded in {}",
        scenario.ledger,
        data.display()
    ));
    step(&format!(
        "1. keys for the ledger, the administrator and {} staff (fresh, mode 0600, in {})",
        scenario.actors.len(),
        keys_dir.display()
    ));
    for (alias, role) in &scenario.actors {
        out(&format!("    {alias:<14} {role}"));
    }
    let prepared = scenario
        .prepare_with_keys(|_| SecretKey::generate(&mut rand_core::OsRng))
        .map_err(|e| Failure::Input(e.to_string()))?;
    keyfile::write_key(&ledger_key_path(data), &prepared.ledger_key, false)
        .map_err(|e| Failure::Input(e.to_string()))?;
    for (alias, key) in &prepared.keys {
        write_key(&keys_dir, alias, key)?;
    }

    step(&format!(
        "2. recording {} signed events: suppliers admitted and sanctioned, reps registered, \
         visits booked and refused, an equipment purchase by price inquiry, consumables inquiries",
        prepared.events.len()
    ));
    let size = probity_ledger::scenario::record(&book_dir(data), prepared)
        .map_err(|e| Failure::Input(format!("recording the demo: {e}")))?;
    let target = Target::embedded(data)?;
    let Target::Embedded(ledger) = &target else {
        return Err(Failure::Input("the demo ledger did not open".into()));
    };
    let (checkpoint_size, checkpoint) = ledger
        .latest_checkpoint()
        .ok_or_else(|| Failure::Input("the ledger signed no checkpoint".into()))?;
    out(&format!(
        "    {size} records, hash-chained; Merkle root {}; checkpoint signed by the ledger at size {checkpoint_size}",
        ledger.root_at(size).map_err(|e| Failure::Input(e.to_string()))?
    ));

    step(
        "3. verifying the whole chain (every hash, link, strict signature, key, role, checkpoint)",
    );
    let report = audit::verify_book(ledger, &audit::Trust::default())?;
    if !report.is_intact() {
        return Err(Failure::Input(format!(
            "the demo ledger does not verify: {:?}",
            report.findings
        )));
    }
    out(&format!(
        "    intact: {} records, {} checkpoints checked",
        report.records, report.checkpoints_checked
    ));

    step("4. a witnessed checkpoint: the auditor's witness checks it, cosigns, and keeps it");
    let witness_key = SecretKey::generate(&mut rand_core::OsRng);
    write_key(&keys_dir, "witness", &witness_key)?;
    let witness = Cosigner::new(WITNESS, witness_key);
    let policy = WitnessPolicy {
        log: ledger.verifier_key(),
        witnesses: vec![witness.verifier_key()],
        quorum: 1,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut witnessed = checkpoint.clone();
    witnessed.signatures.push(
        witness
            .cosign(&checkpoint, now)
            .map_err(|e| Failure::Input(e.to_string()))?,
    );
    let verified = policy
        .verify(&witnessed)
        .map_err(|e| Failure::Input(format!("witnessed checkpoint: {e}")))?;
    // The ledger keeps the cosignature with its checkpoint, so every proof against it carries it.
    ledger
        .attach_cosignatures(&witnessed, &[witness.verifier_key()])
        .map_err(|e| Failure::Input(format!("attaching the cosignature: {e}")))?;
    probity_ledger::datadir::write_ledger_vkey(data, ledger)
        .map_err(input(&data.display().to_string()))?;
    let kept = data.join("checkpoint.witnessed");
    std::fs::write(&kept, witnessed.to_bytes()).map_err(input(&kept.display().to_string()))?;
    let vkey_path = keys_dir.join("witness.vkey");
    std::fs::write(&vkey_path, format!("{}\n", witness.verifier_key()))
        .map_err(input(&vkey_path.display().to_string()))?;
    let Checkpoint { size: cp_size, .. } = verified.checkpoint;
    out(&format!(
        "    size {cp_size}, ledger key and 1 of 1 witness → {}",
        kept.display()
    ));

    step("5. an export for investigators and auditors (records, keys, checkpoints), a proof, and the sunshine publication");
    let export = data.join("export.jsonl");
    let exported = audit::export(ledger, &export, 0, ledger.size())?;
    out(&format!("    {exported} records → {}", export.display()));
    // And an offline proof of the blacklisting: the record, its inclusion proof, the checkpoint.
    let blacklisting = ledger
        .book()
        .seq_of_event(BLACKLISTING)
        .map_err(|e| Failure::Input(e.to_string()))?
        .ok_or_else(|| Failure::Input(format!("no {BLACKLISTING} in the demo")))?;
    let proof = data.join("blacklisting.tlog-proof");
    let bundle = audit::proof_bundle(ledger, blacklisting.0)?;
    std::fs::write(&proof, bundle.to_text()).map_err(input(&proof.display().to_string()))?;
    out(&format!(
        "    proof that record {} (the blacklisting) is in the ledger → {}",
        blacklisting.0,
        proof.display()
    ));
    // The sunshine publication: every purchase case as Open Contracting data.
    let ocds_path = data.join("ocds.json");
    let options = probity_views::ocds::Options::new(
        ledger.origin(),
        "http://127.0.0.1:8080",
        crate::text().zone(),
    );
    let package = probity_views::ocds::from_ledger(ledger, options, |_, _| {})
        .map_err(|e| Failure::Input(e.to_string()))?;
    let releases = package.releases().len();
    let text = serde_json::to_vec_pretty(&package.release_package())
        .map_err(|e| Failure::Input(e.to_string()))?;
    std::fs::write(&ocds_path, text).map_err(input(&ocds_path.display().to_string()))?;
    out(&format!(
        "    the purchase cases as open contracting data (OCDS 1.1, {releases} releases, staff left out) → {}",
        ocds_path.display()
    ));
    target.close();

    let view = Where {
        data: Some(data.to_path_buf()),
        nats: None,
        ledger: None,
        json: false,
    };
    step("6. the blacklist today (verified views, kept in DIR/views)");
    blacklist(&view, None, None)?;
    step("7. red flags, each with the records that prove it");
    findings(&view, None, None)?;

    step("8. an investigation bundle: the split purchase, offline-checkable by anyone");
    let bundle_path = data.join("split-purchase.investigation.json");
    let proven = investigation_bundle(data, &bundle_path)?;
    out(&format!(
        "    {proven} records (the split purchase's evidence, the blacklisting, and the keys that \
         signed them), each with its inclusion proof in the witnessed checkpoint → {}",
        bundle_path.display()
    ));

    out(&format!(
        "\ndone in {:.1} s. Try, on this data:",
        started.elapsed().as_secs_f64()
    ));
    let d = shell_path(data);
    for line in [
        format!("probity verify --data {d} --trusted-checkpoint {d}/checkpoint.witnessed --json"),
        format!("probity verify {d}/export.jsonl --ledger-vkey {d}/ledger.vkey"),
        format!("probity verify-proof {d}/blacklisting.tlog-proof --ledger-vkey {d}/ledger.vkey --witness {d}/keys/witness.vkey --quorum 1"),
        format!("probity verify {d}/split-purchase.investigation.json --ledger-vkey {d}/ledger.vkey --witness {d}/keys/witness.vkey --quorum 1"),
        format!("probity findings --data {d} --rule split-purchase"),
        format!("probity blacklist --data {d} --known-at 2026-03-20T00:00:00+08:00"),
        format!("replay --data {d} --known-at 2026-03-20T00:00:00+08:00 --case CASE-2"),
        format!("replay --data {d} --diff 2026-03-15T00:00:00+08:00 2026-04-01T00:00:00+08:00"),
        format!("probity supplier 91330100MA2H0007XM --data {d}"),
        format!("probity rep REP-R7 --data {d}"),
        format!("probity status --data {d}"),
    ] {
        out(&format!("  {line}"));
    }
    out(&format!(
        "\nThe web console on this data (then open http://127.0.0.1:8080/ in a browser):\n  probity serve --data {d}"
    ));
    Ok(())
}

/// Writes the investigation bundle of the split-purchase findings and the blacklisting to
/// `out`; returns how many records it proves.
fn investigation_bundle(data: &Path, out: &Path) -> Result<usize, Failure> {
    let target = Target::embedded(data)?;
    let Target::Embedded(ledger) = &target else {
        return Err(Failure::Input("the demo ledger did not open".into()));
    };
    let views = probity_views::embedded::views_dir(data);
    let mut projector =
        probity_views::embedded::open(&views, ledger).map_err(|e| Failure::Input(e.to_string()))?;
    probity_views::embedded::catch_up(&mut projector, ledger)
        .map_err(|e| Failure::Input(e.to_string()))?;
    let projection = projector.projection();
    let mut seqs: Vec<u64> = projection
        .findings
        .values()
        .filter(|f| f.rule == probity_projector::Rule::SplitPurchase)
        .flat_map(|f| f.evidence.iter().map(|s| s.0))
        .collect();
    let blacklisting = ledger
        .book()
        .seq_of_event(BLACKLISTING)
        .map_err(|e| Failure::Input(e.to_string()))?;
    seqs.extend(blacklisting.map(|s| s.0));
    projector.close();
    let question = serde_json::json!({"rule": "split-purchase", "and": BLACKLISTING});
    let bundle = probity_ledger::evidence::investigation(ledger, &seqs, question)
        .map_err(|e| Failure::Input(e.to_string()))?;
    target.close();
    let text = serde_json::to_string_pretty(&bundle).map_err(|e| Failure::Input(e.to_string()))?;
    std::fs::write(out, text).map_err(input(&out.display().to_string()))?;
    Ok(bundle.proofs.len())
}

fn shell_path(path: &Path) -> String {
    let text = path.display().to_string();
    if text.contains(char::is_whitespace) {
        format!("'{text}'")
    } else {
        text
    }
}
