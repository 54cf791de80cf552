//! What the ledger has acknowledged, kept outside sled: a small file beside the book
//! (`<book>.acked`), rewritten and synced after every commit and before any receipt leaves.
//!
//! sled recovers its log by dropping everything after the first damaged entry. If a byte of
//! the log is flipped after a crash, the book can open shorter than what receipts were given
//! for, and the next append would reuse an acknowledged sequence number. This file survives
//! that: on open the book must hold at least the acknowledged size, and the record at that size
//! must have the acknowledged hash; otherwise the ledger refuses to open for appends.
//!
//! It also says whether the writer stopped cleanly: `open` while a writer runs, `closed` after
//! its last flush. After an unclean stop the engine checks every record before appending
//! again (sled's recovery can also lose a record in the middle of the log).
//!
//! The file is one line, `probity-acked/1 <size> <hash of record size-1 in hex> <open|closed>\n`.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use probity_core::hash::Hash;

const TAG: &str = "probity-acked/1";

/// The acknowledged size and the hash of the last acknowledged record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acked {
    /// Records acknowledged.
    pub size: u64,
    /// Hash of record `size - 1`.
    pub last_hash: Hash,
    /// Whether the writer stopped cleanly after writing this.
    pub closed: bool,
}

impl Acked {
    fn encode(&self) -> Vec<u8> {
        let state = if self.closed { "closed" } else { "open" };
        format!("{TAG} {} {} {state}\n", self.size, self.last_hash.to_hex()).into_bytes()
    }

    fn decode(text: &str) -> Option<Acked> {
        let mut parts = text.strip_suffix('\n')?.split(' ');
        if parts.next()? != TAG {
            return None;
        }
        let size = parts.next()?.parse().ok()?;
        let last_hash = Hash::from_hex(parts.next()?).ok()?;
        let closed = match parts.next()? {
            "open" => false,
            "closed" => true,
            _ => return None,
        };
        parts.next().is_none().then_some(Acked {
            size,
            last_hash,
            closed,
        })
    }
}

/// The path of the acknowledged-size file of the book in `book_dir`.
pub fn path(book_dir: &Path) -> PathBuf {
    let mut name = book_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".acked");
    book_dir.with_file_name(name)
}

/// Reads the file: `Ok(None)` when there is none (a ledger made before it was kept).
pub fn read(book_dir: &Path) -> Result<Option<Acked>, String> {
    let path = path(book_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Acked::decode(&text)
            .map(Some)
            .ok_or_else(|| format!("{} is not a {TAG} line", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The open file, rewritten in place after each commit.
#[derive(Debug)]
pub struct AckedFile {
    file: File,
}

impl AckedFile {
    /// Opens (or creates) the file of the book in `book_dir`.
    pub fn open(book_dir: &Path) -> std::io::Result<AckedFile> {
        let path = path(book_dir);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // The new file's directory entry must be durable too.
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(AckedFile { file })
    }

    /// Records `acked` durably: the bytes, then `fdatasync`. A crash mid-write leaves a line
    /// that does not parse, which opening reports rather than guesses at.
    pub fn store(&mut self, acked: Acked) -> std::io::Result<()> {
        let bytes = acked.encode();
        self.file.write_all_at(&bytes, 0)?;
        self.file.set_len(bytes.len() as u64)?;
        self.file.flush()?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_round_trips_and_anything_else_is_refused() {
        let acked = Acked {
            size: 3002,
            last_hash: Hash([7; 32]),
            closed: false,
        };
        let text = String::from_utf8(acked.encode()).unwrap_or_default();
        assert_eq!(Acked::decode(&text), Some(acked));
        for bad in [
            "",
            "probity-acked/1 3002\n",
            "probity-acked/2 3002 0707\n",
            &text.replace("open", "shut"),
            &text.replace("3002", "-1"),
            text.trim_end(),
            &format!("{} extra\n", text.trim_end()),
        ] {
            assert_eq!(Acked::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_shorter_line_replaces_a_longer_one_whole() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let book = dir.path().join("book");
        let mut file = AckedFile::open(&book).unwrap_or_else(|e| panic!("{e}"));
        for size in [12_345, 7] {
            let acked = Acked {
                size,
                last_hash: Hash([1; 32]),
                closed: size == 7,
            };
            file.store(acked).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(read(&book), Ok(Some(acked)));
        }
    }
}
