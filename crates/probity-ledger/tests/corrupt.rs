//! Crash and corruption: a writer process appends and is killed with SIGKILL; then, in each of
//! many seeded trials, one byte of a copy of its book is flipped and the copy reopened. Each
//! trial must either open with every acknowledged record (the acknowledged hashes at the
//! acknowledged sequence numbers, and a next append past them) or refuse with a clear error —
//! never a panic, never a reused sequence number, never an "intact" book missing records.
//!
//! The writer is this test binary run again as a child (`PROBITY_CORRUPT_WRITER=<dir>`), as
//! sled's own crash tests do. The seed is printed (`PROBITY_CORRUPT_SEED` replays the positions;
//! where the writer was killed varies from run to run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use probity_core::prelude::*;
use probity_ledger::{AppendRequest, EngineConfig, Ledger, LedgerError, SystemClock};
use probity_testkit::{Hospital, Rng};

const WRITER: &str = "PROBITY_CORRUPT_WRITER";
const ACKNOWLEDGED: usize = 400;
const TRIALS: u64 = 40;

/// The child: a new ledger in the directory named by `PROBITY_CORRUPT_WRITER`, appending until
/// killed and printing `seq hash` for every receipt it gets.
#[test]
fn writer_child() {
    let Ok(dir) = std::env::var(WRITER) else {
        return;
    };
    let h = Hospital::default();
    let ledger = h.create_ledger_with(
        &PathBuf::from(dir),
        EngineConfig {
            checkpoint_every: 50,
            ..EngineConfig::default()
        },
    );
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        let receipt = ledger
            .append(AppendRequest::new(h.request(
                &format!("e-{i}"),
                "CASE-1",
                &h.clerk,
            )))
            .unwrap();
        use std::io::Write as _;
        writeln!(out, "{} {}", receipt.seq, receipt.hash).unwrap();
        out.flush().unwrap();
    }
}

/// Runs the writer until `ACKNOWLEDGED` receipts came back, kills it; the receipts.
fn killed_writer(book: &Path) -> Vec<(Seq, Hash)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "writer_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(WRITER, book)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut receipts = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while receipts.len() < ACKNOWLEDGED {
        let line = lines.next().expect("the writer stopped early").unwrap();
        let Some((seq, hash)) = line.split_once(' ') else {
            continue;
        };
        let (Ok(seq), Ok(hash)) = (seq.parse(), Hash::from_hex(hash)) else {
            continue;
        };
        receipts.push((Seq(seq), hash));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    receipts
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file of the book, with its length.
fn files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files(&entry.path()));
        } else {
            let len = entry.metadata().unwrap().len();
            if len > 0 {
                out.push((entry.path(), len));
            }
        }
    }
    out.sort();
    out
}

#[derive(Debug, Default)]
struct Outcomes {
    opened_whole: u32,
    refused: Vec<String>,
}

#[test]
fn a_flipped_byte_after_a_crash_never_loses_an_acknowledged_record_silently() {
    if std::env::var(WRITER).is_ok() {
        return;
    }
    let mut rng = Rng::seeded("PROBITY_CORRUPT_SEED", "corruption test");
    let seed = rng.0;
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("original");
    std::fs::create_dir_all(&original).unwrap();
    let book = original.join("book");
    let receipts = killed_writer(&book);
    let acknowledged = receipts.last().unwrap().0 .0 + 1;
    let h = Hospital::default();
    let mut outcomes = Outcomes::default();
    for trial in 0..TRIALS {
        let copy = work.path().join(format!("trial-{trial}"));
        copy_dir(&original, &copy);
        let book = copy.join("book");
        let files = files(&book);
        let total: u64 = files.iter().map(|(_, len)| len).sum();
        let mut at = rng.next_u64() % total;
        let (path, offset) = files
            .iter()
            .find_map(|(path, len)| {
                if at < *len {
                    Some((path.clone(), at))
                } else {
                    at -= len;
                    None
                }
            })
            .unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offset as usize] ^= 1 << (rng.next_u64() % 8);
        std::fs::write(&path, bytes).unwrap();
        let what = format!(
            "trial {trial} (seed {seed}): bit flipped in {} at {offset}",
            path.strip_prefix(&copy).unwrap().display()
        );

        let opened = std::panic::catch_unwind(|| {
            Ledger::open(
                &book,
                h.ledger_key.clone(),
                EngineConfig::default(),
                Arc::new(SystemClock),
            )
        });
        let opened = opened.unwrap_or_else(|_| panic!("{what}: opening panicked"));
        match opened {
            Ok(ledger) => {
                assert!(
                    ledger.size() >= acknowledged,
                    "{what}: opened with {} of {acknowledged} acknowledged records",
                    ledger.size()
                );
                for (seq, hash) in &receipts {
                    let record = ledger.record(*seq);
                    let stored = record
                        .as_ref()
                        .ok()
                        .and_then(|r| r.as_ref())
                        .map(|r| r.hash);
                    assert_eq!(
                        stored,
                        Some(*hash),
                        "{what}: record {seq} is not the acknowledged one"
                    );
                }
                let next = ledger.append(AppendRequest::new(h.request(
                    "after-the-flip",
                    "CASE-2",
                    &h.clerk,
                )));
                if let Ok(receipt) = next {
                    assert!(
                        receipt.seq.0 >= acknowledged,
                        "{what}: sequence number {} given again",
                        receipt.seq
                    );
                }
                ledger.close();
                outcomes.opened_whole += 1;
            }
            Err(e) => {
                let message = e.to_string();
                assert!(
                    matches!(
                        e,
                        LedgerError::Damaged { .. }
                            | LedgerError::RecordsLost { .. }
                            | LedgerError::Corrupt(_)
                            | LedgerError::Storage(_)
                    ),
                    "{what}: {e:?}"
                );
                assert!(
                    !message.contains("in use by another process"),
                    "{what}: {message}"
                );
                outcomes.refused.push(message);
            }
        }
    }
    eprintln!(
        "{} of {TRIALS} trials opened with every acknowledged record; {} refused: {:#?}",
        outcomes.opened_whole,
        outcomes.refused.len(),
        outcomes.refused
    );
}
