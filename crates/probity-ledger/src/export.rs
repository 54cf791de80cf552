//! The export format (`schemas/EXPORT.md`): writing one from a ledger, and importing one into a
//! new data directory, verifying every record and checkpoint on the way in.
//!
//! An imported data directory holds the book exactly as the ledger laid it out (records, event
//! ids, key-record markers, Merkle nodes, checkpoints, subject versions, head) but not the
//! ledger's key: it opens read-only ([`Ledger::open_read_only`]), and every reading command
//! (queries, views, `replay`, proofs against its checkpoints) works on it as on the original.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use probity_core::checkpoint::{SignedNote, VerifierKey};
use probity_core::ids::Seq;
use probity_core::merkle::Frontier;
use probity_core::record::Record;
use probity_core::verify::{ChainVerifier, Finding, VerifyReport};
use serde::{Deserialize, Serialize};

use crate::datadir;
use crate::engine::{open_sled, stage_verified};
use crate::layout::{self, Head};
use crate::{Ledger, LedgerError};

/// The format name of a whole ledger's export.
pub const FORMAT: &str = "probity-export/v1";

/// The format name of a range's export (`from` > 0): v1 plus the key records before the range
/// with inclusion proofs, and the chain's state where the range starts.
pub const RANGE_FORMAT: &str = "probity-export/v2";

/// Records read, verified and written per batch on import.
const BATCH: usize = 4096;

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    /// First line.
    Header {
        /// [`FORMAT`], or [`RANGE_FORMAT`] for a range.
        format: String,
        /// Ledger id.
        ledger: String,
        /// Checkpoint origin.
        origin: String,
        /// The ledger's note verifier key, as the exporter states it (auditors pin their own).
        ledger_vkey: String,
        /// The first record of a range (v2 only).
        #[serde(default, skip_serializing_if = "is_zero")]
        from: u64,
        /// The end of the records in the export (records `from..size`).
        size: u64,
    },
    /// A signed checkpoint (all of them come before the records).
    Checkpoint {
        /// Its tree size.
        size: u64,
        /// The signed note text.
        note: String,
    },
    /// A key record (genesis, enrolment, revocation) from before a range (v2), with its
    /// inclusion proof in the export's checkpoint of `tree_size` records.
    KeyRecord {
        /// The record.
        record: Record,
        /// The tree size of the checkpoint the proof leads to (one of the export's).
        tree_size: u64,
        /// Sibling hashes, leaf to root (RFC 6962).
        proof: Vec<probity_core::hash::Hash>,
    },
    /// Where a range starts (v2): the hash of the record before it and the Merkle tree's right
    /// edge at its first record. Not trusted: a checkpoint in the range checks both.
    Start {
        /// Hash of record `from - 1`.
        prev_hash: probity_core::hash::Hash,
        /// The right edge of the tree of the first `from` records.
        frontier: Frontier,
    },
    /// A record, in sequence order.
    Record(Record),
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why an export could not be written or imported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not an export.
    #[error("{}: {message}", .path.display())]
    NotAnExport {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The export holds no records (not even genesis): nothing to import.
    #[error("the export holds no records: nothing imported")]
    NoRecords,
    /// The target directory already holds a ledger.
    #[error("{} already holds a ledger; import into a new directory", .0.display())]
    Exists(PathBuf),
    /// The export does not verify: nothing was imported.
    #[error("the export does not verify ({} findings, the first at record {}): nothing imported", .0.findings.len(), .0.findings.first().map_or(0, |f| f.seq()))]
    Findings(Box<VerifyReport>),
    /// The book could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the whole ledger to `out`; returns the number of records.
pub fn write(ledger: &Ledger, out: &Path) -> Result<u64, ExportError> {
    write_range(ledger, out, 0, ledger.size())
}

/// Writes records `from..to` of the ledger to `out` (`to` at most its size). With `from` 0
/// this is a whole export (v1) up to `to`; otherwise a range export (v2), which needs a
/// checkpoint in `from + 1 ..= to` to anchor the range (one is signed if `to` is the ledger's
/// size).
pub fn write_range(ledger: &Ledger, out: &Path, from: u64, to: u64) -> Result<u64, ExportError> {
    let size = ledger.size();
    let bad = |message: String| ExportError::NotAnExport {
        path: out.to_owned(),
        message,
    };
    if from == 0 {
        if to > size {
            return Err(bad(format!("records 0..{to}: the ledger holds 0..{size}")));
        }
    } else if to > size || from >= to {
        return Err(bad(format!(
            "records {from}..{to}: the ledger holds 0..{size}, and a range holds at least one"
        )));
    }
    let tree_size = if from == 0 {
        // A whole export of the ledger as it stands ends at a checkpoint: without one at its
        // size, its last records would be unanchored (FORMAT.md §9).
        let behind = ledger.latest_checkpoint().is_none_or(|(s, _)| s < to);
        if to == size && size > 0 && behind && !ledger.is_read_only() {
            ledger
                .checkpoint_now()
                .map_err(|e| bad(format!("signing a checkpoint: {e}")))?;
        }
        0
    } else {
        anchor(ledger, from, to, &bad)?
    };
    let file = std::fs::File::create(out).map_err(io(out))?;
    let mut w = BufWriter::new(file);
    let mut line = |value: &Line| -> Result<(), ExportError> {
        serde_json::to_writer(&mut w, value).map_err(|e| io(out)(e.into()))?;
        w.write_all(b"\n").map_err(io(out))
    };
    line(&Line::Header {
        format: if from == 0 { FORMAT } else { RANGE_FORMAT }.into(),
        ledger: ledger.ledger_id().into(),
        origin: ledger.origin().into(),
        ledger_vkey: ledger.verifier_key().to_string(),
        from,
        size: to,
    })?;
    for checkpoint in ledger.book().checkpoints_between(from + 1, to) {
        let (cp_size, note) = checkpoint?;
        line(&Line::Checkpoint {
            size: cp_size,
            note: String::from_utf8_lossy(&note.to_bytes()).into_owned(),
        })?;
    }
    if from > 0 {
        for seq in crate::evidence::key_records(ledger, from)? {
            let record = ledger
                .record(Seq(seq))?
                .ok_or_else(|| LedgerError::Corrupt(format!("key record {seq} missing")))?;
            let proof = ledger
                .inclusion_proof(Seq(seq), tree_size)
                .map_err(|e| bad(format!("inclusion proof of record {seq}: {e}")))?;
            line(&Line::KeyRecord {
                record,
                tree_size,
                proof,
            })?;
        }
        let prev = ledger
            .record(Seq(from - 1))?
            .ok_or_else(|| LedgerError::Corrupt(format!("record {} missing", from - 1)))?;
        let frontier = Frontier::restore(from, ledger.book())
            .map_err(|e| LedgerError::Corrupt(format!("Merkle edge at {from}: {e}")))?;
        line(&Line::Start {
            prev_hash: prev.hash,
            frontier,
        })?;
    }
    for record in ledger.book().records(Seq(from), Seq(to)) {
        line(&Line::Record(record?))?;
    }
    w.flush().map_err(io(out))?;
    Ok(to - from)
}

/// A key record of a range export, as read: the record, the tree size its proof leads to, the
/// proof.
pub type KeyRecord = (Record, u64, Vec<probity_core::hash::Hash>);

/// The chain's state where a range export starts, for a verifier to resume from: the keys
/// from the key records (each checked: hash, inclusion proof against the export's checkpoint
/// of its tree size, strict signature, authorisation in order), the previous hash and the
/// Merkle edge as stated. Returns the state and what did not check out (the verifier then
/// reports each). The checkpoints' signatures and roots are checked by the verifier itself
/// when it reaches their sizes, which also vouches for the stated edge and previous hash.
pub fn range_state(
    from: u64,
    key_records: &[KeyRecord],
    checkpoints: &[(u64, SignedNote)],
    prev_hash: probity_core::hash::Hash,
    frontier: Frontier,
    matrix: &probity_core::roles::RoleMatrix,
) -> (probity_core::verify::VerifierState, Vec<Finding>) {
    let mut problems = Vec::new();
    if frontier.size() != from {
        problems.push(Finding::BadRangeStart {
            seq: Seq(from),
            reason: format!("its Merkle edge is of {} records", frontier.size()),
        });
    }
    let mut registry = probity_core::registry::KeyRegistry::new();
    let mut keys = probity_core::keychain::KeyChain::new();
    let mut last_recorded_at = None;
    for (record, tree_size, proof) in key_records {
        let seq = record.seq;
        let bad = |reason: String| Finding::BadKeyRecord { seq, reason };
        let computed = record.compute_hash();
        if computed != record.hash {
            problems.push(bad("its stated hash is not the hash of its content".into()));
            continue;
        }
        if seq.0 >= from {
            problems.push(bad(format!(
                "it is not before the range (from record {from})"
            )));
            continue;
        }
        let root = checkpoints
            .iter()
            .find(|(size, _)| size == tree_size)
            .and_then(|(_, note)| probity_core::checkpoint::Checkpoint::from_text(&note.text).ok())
            .map(|c| c.root);
        let Some(root) = root else {
            problems.push(bad(format!(
                "the export has no checkpoint of {tree_size} records"
            )));
            continue;
        };
        if let Err(e) =
            probity_core::merkle::verify_inclusion(&computed, seq.0, *tree_size, proof, &root)
        {
            problems.push(bad(format!(
                "not in the checkpoint of {tree_size} records: {e}"
            )));
            continue;
        }
        match record.event.open() {
            Ok(event) => match registry.authorize(seq, event.body(), matrix) {
                Ok(effect) => registry.apply(seq, effect),
                Err(e) => problems.push(bad(e.to_string())),
            },
            Err(e) => problems.push(bad(e.to_string())),
        }
        last_recorded_at = Some(record.recorded_at);
        keys.push(&computed);
    }
    let state = probity_core::verify::VerifierState {
        next_seq: from,
        last_hash: prev_hash,
        registry,
        frontier,
        // The record before the range is not carried; the last key record before it is a
        // lower bound for the range's first `recorded_at`.
        last_recorded_at,
        // Checked against the key commitment of the range's checkpoints: only that shows no
        // key record before the range was left out.
        keys: Some(keys),
    };
    (state, problems)
}

/// True when a line that did not parse still reads as a `{"record": …}` line: a damaged
/// record, which stands in the record's place (rather than an unknown line).
pub fn looks_like_record_line(line: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(map)) => map.contains_key("record"),
        Ok(_) => false,
        // Not even JSON: a record (they are the bulk of an export) unless it opens as
        // another kind of line.
        Err(_) => ![
            "{\"header\"",
            "{\"checkpoint\"",
            "{\"key_record\"",
            "{\"start\"",
        ]
        .iter()
        .any(|kind| line.trim_start().starts_with(kind)),
    }
}

/// The size of the checkpoint that anchors records `from..to`: the last one in `from + 1
/// ..= to`, signed now if there is none and `to` is the ledger's size.
fn anchor(
    ledger: &Ledger,
    from: u64,
    to: u64,
    bad: &dyn Fn(String) -> ExportError,
) -> Result<u64, ExportError> {
    let mut anchor = ledger
        .book()
        .checkpoints_between(from + 1, to)
        .last()
        .transpose()?;
    if anchor.is_none() && to == ledger.size() {
        ledger
            .checkpoint_now()
            .map_err(|e| bad(format!("signing a checkpoint: {e}")))?;
        anchor = ledger
            .latest_checkpoint()
            .filter(|(s, _)| *s > from && *s <= to);
    }
    let Some((tree_size, _)) = anchor else {
        return Err(bad(format!(
            "no checkpoint between {} and {to} anchors the range: end it at a checkpoint size",
            from + 1
        )));
    };
    Ok(tree_size)
}

pub use crate::datadir::marker_path;

/// What an imported data directory notes about its source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    /// The export file, as given.
    pub from: String,
    /// Its length in bytes and modification time (s since the epoch) when imported, so that a
    /// cache of it can tell it changed.
    pub bytes: u64,
    /// Modification time.
    pub modified: u64,
    /// Records imported.
    pub records: u64,
}

/// The length and modification time of `path`.
pub fn file_stamp(path: &Path) -> Result<(u64, u64), ExportError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Ok((meta.len(), modified))
}

/// The longest line an export may have: far above any record (an event is at most 131,072
/// bytes, PROTOCOL.md) or checkpoint, so that a file of one endless line is refused rather
/// than read into memory whole.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// An export's lines: at most [`MAX_LINE_BYTES`] each, numbered from 0, as UTF-8 text without
/// their `\n` (or `\r\n`, as `BufRead::lines` reads them).
pub(crate) struct BoundedLines<R> {
    reader: R,
    buffer: Vec<u8>,
    number: usize,
}

pub(crate) fn bounded_lines<R: BufRead>(reader: R) -> BoundedLines<R> {
    BoundedLines {
        reader,
        buffer: Vec::new(),
        number: 0,
    }
}

impl<R: BufRead> BoundedLines<R> {
    /// The next line and its number; a line past the limit, or not UTF-8, is an
    /// `InvalidData` error that names it.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<(usize, String)>> {
        use std::io::Read as _;
        self.buffer.clear();
        let number = self.number;
        self.number += 1;
        let invalid =
            |message: String| std::io::Error::new(std::io::ErrorKind::InvalidData, message);
        let read = (&mut self.reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buffer)?;
        if read == 0 {
            return Ok(None);
        }
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
            if self.buffer.last() == Some(&b'\r') {
                self.buffer.pop();
            }
        } else if self.buffer.len() > MAX_LINE_BYTES {
            return Err(invalid(format!(
                "line {} is longer than {MAX_LINE_BYTES} bytes; no export line is",
                number + 1
            )));
        }
        String::from_utf8(std::mem::take(&mut self.buffer))
            .map(|line| Some((number, line)))
            .map_err(|e| invalid(format!("line {}: {e}", number + 1)))
    }
}

/// Imports the export `from` into the new data directory `data`, verifying as it goes with
/// the chain verifier (every record's hash, link, strict signature, key and role, event-id
/// uniqueness, every checkpoint's signature — against `ledger_vkey` if pinned, else the key
/// the genesis names — and root). A batch is written only once it verified; if anything fails,
/// the directory is removed and the findings returned.
pub fn import(
    from: &Path,
    data: &Path,
    ledger_vkey: Option<VerifierKey>,
) -> Result<Imported, ExportError> {
    let book_dir = datadir::book_dir(data);
    if book_dir.exists() || marker_path(data).exists() {
        return Err(ExportError::Exists(data.to_owned()));
    }
    let created = !data.exists();
    std::fs::create_dir_all(data).map_err(io(data))?;
    let result = import_into(from, &book_dir, ledger_vkey);
    let result = result.and_then(|records| {
        let (bytes, modified) = file_stamp(from)?;
        let imported = Imported {
            from: from.display().to_string(),
            bytes,
            modified,
            records,
        };
        // Invariant: the marker is plain data.
        let json = serde_json::to_vec_pretty(&imported).expect("the import note serializes");
        std::fs::write(marker_path(data), json).map_err(io(data))?;
        Ok(imported)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&book_dir);
        if created {
            let _ = std::fs::remove_dir_all(data);
        }
    }
    result
}

fn import_into(
    from: &Path,
    book_dir: &Path,
    ledger_vkey: Option<VerifierKey>,
) -> Result<u64, ExportError> {
    let not_export = |message: String| ExportError::NotAnExport {
        path: from.to_owned(),
        message,
    };
    let file = std::fs::File::open(from).map_err(io(from))?;
    let db = open_sled(book_dir).map_err(LedgerError::from)?;
    let matrix = probity_events::role_matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    if let Some(key) = ledger_vkey {
        verifier.pin_log_key(key);
    }
    let mut checkpoints: Vec<(u64, SignedNote)> = Vec::new();
    let mut writer = BookWriter::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = bounded_lines(BufReader::new(file));
    while let Some((number, line)) = lines.next_line().map_err(io(from))? {
        let parsed: Line = probity_core::strict_json::from_str(&line)
            .map_err(|e| not_export(format!("line {}: {e}", number + 1)))?;
        match parsed {
            Line::Header { format, from, .. } if number == 0 => {
                if format == RANGE_FORMAT || from > 0 {
                    return Err(not_export(format!(
                        "a range export (from record {from}) cannot be imported: the ledger before it is not there"
                    )));
                }
                if format != FORMAT {
                    return Err(not_export(format!("format {format:?} is not {FORMAT}")));
                }
            }
            _ if number == 0 => return Err(not_export(format!("no {FORMAT} header"))),
            Line::Header { .. } | Line::KeyRecord { .. } | Line::Start { .. } => {
                return Err(not_export(format!("line {}: unexpected here", number + 1)))
            }
            Line::Checkpoint { size, note } => {
                let note = SignedNote::parse(note.as_bytes())
                    .map_err(|e| not_export(format!("line {}: checkpoint: {e}", number + 1)))?;
                verifier.add_checkpoint(note.clone(), size);
                checkpoints.push((size, note));
            }
            Line::Record(record) => {
                batch.push(record);
                if batch.len() == BATCH {
                    if !writer.verify_and_write(&db, &mut verifier, &batch)? {
                        batch.clear();
                        break;
                    }
                    batch.clear();
                }
            }
        }
    }
    if !batch.is_empty() {
        writer.verify_and_write(&db, &mut verifier, &batch)?;
    }
    let report = verifier.finish();
    if !report.is_intact() {
        return Err(ExportError::Findings(Box::new(report)));
    }
    writer.finish(&db, &checkpoints)?;
    Ok(report.records)
}

/// Lays out verified records as the engine does.
#[derive(Default)]
struct BookWriter {
    frontier: Frontier,
    versions: HashMap<String, u64>,
    head: Option<Head>,
}

impl BookWriter {
    fn verify_and_write(
        &mut self,
        db: &sled::Db,
        verifier: &mut ChainVerifier<'_>,
        records: &[Record],
    ) -> Result<bool, ExportError> {
        let opened = verifier.push_batch(records);
        if !verifier.finish_peek().is_empty() {
            // Nothing of a batch with a finding is written; the caller stops.
            return Ok(false);
        }
        let mut batch = sled::Batch::default();
        for (record, event) in records.iter().zip(opened) {
            // Invariant: a record that verified without a finding opened.
            let event = event.ok_or_else(|| {
                LedgerError::Corrupt(format!("record {} verified but did not open", record.seq))
            })?;
            for stream in stage_verified(&mut batch, record, event.body(), &mut self.frontier) {
                *self.versions.entry(stream).or_default() += 1;
            }
            self.head = Some(Head {
                next_seq: record.seq.next(),
                last_hash: record.hash,
                last_recorded_at: record.recorded_at,
            });
        }
        db.apply_batch(batch).map_err(LedgerError::from)?;
        Ok(true)
    }

    fn finish(self, db: &sled::Db, checkpoints: &[(u64, SignedNote)]) -> Result<(), ExportError> {
        let Some(head) = self.head else {
            return Err(ExportError::NoRecords);
        };
        let mut batch = sled::Batch::default();
        for (stream, version) in &self.versions {
            batch.insert(layout::stream_version(stream), &version.to_be_bytes()[..]);
        }
        let size = head.next_seq.0;
        let mut latest = None;
        for (cp_size, note) in checkpoints.iter().filter(|(s, _)| *s <= size) {
            batch.insert(&layout::checkpoint(*cp_size)[..], note.to_bytes());
            latest = Some(*cp_size);
        }
        if let Some(latest) = latest {
            batch.insert(layout::LATEST_CHECKPOINT, &latest.to_be_bytes()[..]);
        }
        // The head last: a book without it does not open.
        batch.insert(layout::HEAD, &head.encode()[..]);
        db.apply_batch(batch).map_err(LedgerError::from)?;
        db.flush().map_err(LedgerError::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod bounded_line_tests {
    use super::*;

    fn read_all(text: &[u8]) -> std::io::Result<Vec<(usize, String)>> {
        let mut lines = bounded_lines(text);
        let mut read = Vec::new();
        while let Some(line) = lines.next_line()? {
            read.push(line);
        }
        Ok(read)
    }

    /// Lines come numbered from 0 without their `\n` or `\r\n`, the last with or without one.
    #[test]
    fn lines_are_read_as_buf_read_reads_them() {
        let read = read_all(b"a\nb\r\n\nlast").unwrap();
        let expected: Vec<(usize, String)> = [(0, "a"), (1, "b"), (2, ""), (3, "last")]
            .into_iter()
            .map(|(n, l)| (n, l.to_owned()))
            .collect();
        assert_eq!(read, expected);
        assert!(read_all(b"").unwrap().is_empty());
    }

    /// A line past the limit is refused, naming it, before more than the limit is held; one
    /// at the limit is read.
    #[test]
    fn an_endless_line_is_refused() {
        let mut text = b"first\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 1));
        let refused = read_all(&text).unwrap_err();
        assert!(
            refused.to_string().starts_with("line 2 is longer than"),
            "{refused}"
        );
        let mut text = vec![b'x'; MAX_LINE_BYTES];
        text.push(b'\n');
        assert_eq!(read_all(&text).unwrap()[0].1.len(), MAX_LINE_BYTES);
        let refused = read_all(b"ok\n\xff\n").unwrap_err();
        assert!(refused.to_string().starts_with("line 2:"), "{refused}");
    }
}
