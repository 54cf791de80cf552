//! A full disk: on a small tmpfs the ledger appends until the disk is full; the append that
//! does not fit is refused (`storage`) and so is every later one, nothing unacknowledged is
//! acknowledged; a restart while still full does not damage the book; once space is freed a
//! restart opens with every acknowledged record, without hand work, and appends again.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says it was skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use probity_ledger::{AppendRequest, EngineConfig, Ledger, SystemClock};
use probity_testkit::Hospital;

/// A tmpfs of `megabytes`, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(megabytes: u32) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if !status.status.success() {
            return Err(String::from_utf8_lossy(&status.stderr).trim().to_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn resize(&self, megabytes: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={megabytes}m")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Free bytes on the file system of `path`, from `df`.
fn available_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

fn open(book: &Path, h: &Hospital) -> Result<Ledger, probity_ledger::LedgerError> {
    Ledger::open(
        book,
        h.ledger_key.clone(),
        EngineConfig::default(),
        Arc::new(SystemClock),
    )
}

#[test]
fn a_full_disk_refuses_appends_and_a_restart_after_freeing_space_recovers() {
    let fs = match Tmpfs::mount(8) {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs here ({why})");
            return;
        }
    };
    let book = fs.path().join("book");
    // Ballast, so that later restarts can be given room a little at a time.
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 4 << 20]).unwrap();
    let h = Hospital::default();
    let ledger = h.create_ledger_with(&book, EngineConfig::default());
    let mut acknowledged = Vec::new();
    let mut refused = None;
    // Large events fill the disk in a few hundred appends.
    let padding = "x".repeat(1_900);
    for i in 0..20_000 {
        let mut payload = probity_testkit::request_payload("CASE-FULL");
        payload["justification"] = format!("{i} {padding}").into();
        let event = h.event(
            &format!("fill-{i}"),
            "purchase.requested",
            &h.clerk,
            "2026-01-02T09:00:00+08:00",
            payload,
        );
        match ledger.append(AppendRequest::new(event)) {
            Ok(receipt) => acknowledged.push((receipt.seq, receipt.hash)),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("the disk filled up");
    assert_eq!(refused.code(), "storage", "{refused}");
    let later = ledger
        .append(AppendRequest::new(h.request(
            "while-full",
            "CASE-2",
            &h.clerk,
        )))
        .unwrap_err();
    assert!(
        matches!(later.code().as_str(), "storage" | "unavailable"),
        "{later}"
    );
    ledger.close();
    drop(ledger);
    let last_acknowledged = acknowledged.last().unwrap().0 .0;
    eprintln!(
        "{} acknowledged before the disk was full; then: {refused}",
        acknowledged.len()
    );

    // Restarts while the disk is still (nearly) full, as Restart=on-failure does, with a
    // little more room each time: each may refuse, but must not panic or leave the book
    // unreadable once there is room again.
    for free in [0u64, 4 << 10, 64 << 10] {
        let _ = std::fs::remove_file(&filler);
        let available = available_bytes(fs.path());
        std::fs::write(&filler, vec![0u8; available.saturating_sub(free) as usize]).ok();
        let restarted = std::panic::catch_unwind(|| open(&book, &h)).expect("no panic");
        match restarted {
            Ok(ledger) => {
                assert!(ledger.size() > last_acknowledged);
                ledger.close();
            }
            Err(e) => eprintln!("restart with {free} bytes free refused: {e}"),
        }
    }
    let _ = std::fs::remove_file(&filler);

    fs.resize(64);
    let ledger = open(&book, &h).expect("opens once space is freed");
    assert!(ledger.size() > last_acknowledged);
    for (seq, hash) in &acknowledged {
        assert_eq!(
            ledger.record(*seq).unwrap().map(|r| r.hash),
            Some(*hash),
            "record {seq}"
        );
    }
    let receipt = ledger
        .append(AppendRequest::new(h.request("after", "CASE-3", &h.clerk)))
        .unwrap();
    assert!(receipt.seq.0 > last_acknowledged);
    ledger.close();
}

/// What a start on a full disk can leave: a snapshot sled created and could not write. sled
/// would take it for the latest snapshot and call the store corrupt; the ledger removes it and
/// opens.
#[test]
fn an_unfinished_snapshot_left_by_a_full_disk_does_not_stop_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    let h = Hospital::default();
    let ledger = h.create_ledger_with(&book, EngineConfig::default());
    let receipt = ledger
        .append(AppendRequest::new(h.request("before", "CASE-1", &h.clerk)))
        .unwrap();
    ledger.close();
    drop(ledger);
    let unfinished = book.join("snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::write(&unfinished, b"").unwrap();
    let ledger = open(&book, &h).expect("opens");
    assert_eq!(
        ledger.record(receipt.seq).unwrap().map(|r| r.hash),
        Some(receipt.hash)
    );
    assert!(!unfinished.exists());
    ledger.close();
}
