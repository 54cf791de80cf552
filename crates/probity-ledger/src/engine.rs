//! The ledger engine: stateless checks on the caller's thread, then one writer thread that
//! orders, checks and seals events, writes each batch to sled atomically, flushes once per
//! batch (group commit) and only then answers. Receipts are signed back on the caller's
//! thread, so signature work spreads over every core.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use probity_core::append::{admit, AppendRules};
use probity_core::checkpoint::{Checkpoint, NoteSigner, SignedNote, VerifierKey};
use probity_core::envelope::{AuthenticEvent, SignedEvent};
use probity_core::hash::Hash;
use probity_core::ids::Seq;
use probity_core::keys::{PublicKey, SecretKey};
use probity_core::merkle::{self, Frontier};
use probity_core::receipt::Receipt;
use probity_core::record::{ChainHead, Record};
use probity_core::registry::{KeyEffect, KeyRegistry};
use probity_core::roles::{RoleMatrix, GENESIS, KEY_ENROLLED, KEY_REVOKED};
use probity_core::subject::Subject;
use probity_core::time::RecordedAt;
use probity_events::{role_matrix, CheckedEvent, Event};
use probity_wire::ErrorCode;
use tokio::sync::{oneshot, watch};

use crate::acked::{self, Acked, AckedFile};
use crate::book::{Book, NodeError};
use crate::error::{AppendError, LedgerError};
use crate::layout::{self, Head};
use probity_core::keychain::KeyChain;

/// Where the engine gets `recorded_at` from. Injected so tests can set time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now.
    fn now(&self) -> RecordedAt;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> RecordedAt {
        now()
    }
}

/// Now, by the system clock: the one place Probity's programs read it (the core reads no
/// clock; engines take a [`Clock`]).
pub fn now() -> RecordedAt {
    // Invariant: a running machine's clock is within the years 0000–9999.
    RecordedAt::from_system_time(std::time::SystemTime::now())
        .expect("the system clock is within the years 0000-9999")
}

/// A clock set by hand: records get whatever time it says. For stories told after the fact
/// (the scenario fixtures, `probity demo`) where each event must carry its own `recorded_at`.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<RecordedAt>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: RecordedAt) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: RecordedAt) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the clock forward by `micros`.
    pub fn advance(&self, micros: i64) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = RecordedAt::from_unix_micros(now.unix_micros() + micros);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> RecordedAt {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Limits on appended events (clock skew).
    pub rules: AppendRules,
    /// Sign a checkpoint once this many records were added since the last one.
    pub checkpoint_every: u64,
    /// … or once this much time passed with records added since the last one.
    pub checkpoint_interval: Duration,
    /// The most events one group commit takes.
    pub max_batch: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            rules: AppendRules::default(),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_millis(1000),
            max_batch: 4096,
        }
    }
}

/// An append: the signed event, and optionally the versions the caller expects the event's
/// subject streams to be at (optimistic concurrency, as EventStoreDB's expected version).
#[derive(Clone, Debug)]
pub struct AppendRequest {
    /// The signed event.
    pub event: SignedEvent,
    /// `(stream, version)` pairs: `stream` is `kind:id` (`case:CASE-1`), `version` the number of
    /// records that named it so far.
    pub expect: Vec<(String, u64)>,
}

impl AppendRequest {
    /// An append without expectations.
    pub fn new(event: SignedEvent) -> Self {
        AppendRequest {
            event,
            expect: Vec::new(),
        }
    }
}

/// What the writer decided for one event.
#[derive(Clone, Debug)]
enum Outcome {
    New(Record),
    Duplicate(Record),
}

type Reply = oneshot::Sender<Result<Outcome, AppendError>>;

/// One append as the writer receives it: the checked event, expected versions, where to answer.
struct PendingAppend {
    event: CheckedEvent,
    expect: Vec<(String, u64)>,
    reply: Reply,
}

enum Command {
    Append(Box<PendingAppend>),
    Checkpoint(oneshot::Sender<Result<Option<SignedNote>, AppendError>>),
    Stop(oneshot::Sender<()>),
}

/// State shared between the handle and the writer.
#[derive(Debug)]
struct Shared {
    book: Book,
    origin: String,
    /// `None` for a read-only copy (imported from an export): nothing is appended or signed.
    ledger_key: Option<SecretKey>,
    ledger_public: PublicKey,
    committed: watch::Sender<u64>,
    latest_checkpoint: RwLock<Option<(u64, SignedNote)>>,
    /// Held while cosignatures are merged into a stored checkpoint (read, merge, write).
    cosigning: Mutex<()>,
    failed: AtomicBool,
    /// Damage found on a read-only open (see [`Ledger::damage`]).
    damage: RwLock<Option<String>>,
}

pub use probity_wire::Status;

/// A ledger: the book on disk and its writer. Cheap to clone; all clones share one writer.
#[derive(Clone, Debug)]
pub struct Ledger {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
    ledger_id: String,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Append(..) => "Append",
            Command::Checkpoint(_) => "Checkpoint",
            Command::Stop(_) => "Stop",
        })
    }
}

/// sled's page cache per store. sled's default (1 GiB) let a rebuild of a million records hold
/// 1.9 GB, the book's cache filling with records read once and the views' with rows written
/// once; at 128 MiB the same rebuild peaks at about 1.1 GB and runs as fast (BENCHMARKS.md,
/// "Peak memory of a 1M-record rebuild"): what a store reads again — the book's tail, the tree
/// nodes of recent proofs, the rows of recent batches — fits.
pub const SLED_CACHE_BYTES: u64 = 128 << 20;

/// Opens a sled database the way every Probity store is opened: high-throughput mode, a
/// [`SLED_CACHE_BYTES`] page cache, no
/// background flusher (every store flushes each batch itself before acknowledging; a
/// background flusher would add nothing but a thread that keeps the directory locked for a
/// moment after close), and up to 2 s of retries while a store closed an instant ago in this
/// process releases its lock.
pub fn open_sled(dir: &Path) -> Result<sled::Db, sled::Error> {
    let config = sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(SLED_CACHE_BYTES)
        .flush_every_ms(None);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::Other && Instant::now() < deadline =>
            {
                tracing::debug!(error = %e, "store locked; retrying");
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Opens the book's sled database, turning what can go wrong into errors that say what it is:
/// another process holding it ([`LedgerError::Locked`]), damage sled detects or panics on while
/// recovering ([`LedgerError::Damaged`]). A snapshot sled was still writing when it stopped
/// (`snap.*.generating`, left by a full disk or a crash; sled would read it as the latest
/// snapshot and call the store corrupt) is removed and the open tried again once.
fn open_db(dir: &Path) -> Result<sled::Db, LedgerError> {
    match open_db_once(dir) {
        Err(LedgerError::Damaged { .. }) if remove_unfinished_snapshots(dir) > 0 => {
            open_db_once(dir)
        }
        other => other,
    }
}

fn open_db_once(dir: &Path) -> Result<sled::Db, LedgerError> {
    let damaged = |detail: String| LedgerError::Damaged {
        path: dir.display().to_string(),
        detail,
    };
    // sled panics on some damage it meets while recovering its log; that is damage, not a bug
    // of the caller, and must not take the process down with a backtrace.
    let opened = std::panic::catch_unwind(|| open_sled(dir)).map_err(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        damaged(format!("sled failed while recovering: {text}"))
    })?;
    opened.map_err(|e| match e {
        sled::Error::Corruption { .. } => damaged(e.to_string()),
        sled::Error::Io(ref io)
            if io.kind() == std::io::ErrorKind::Other && io.to_string().contains("lock") =>
        {
            LedgerError::Locked(dir.display().to_string())
        }
        other => LedgerError::Storage(other),
    })
}

/// Removes the snapshots sled began and never finished in `dir`; returns how many.
fn remove_unfinished_snapshots(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::warn!(file = %name, "removed a snapshot sled never finished");
                    removed += 1;
                }
                Err(e) => {
                    tracing::error!(file = %name, error = %e, "cannot remove an unfinished snapshot")
                }
            }
        }
    }
    removed
}

/// Reads every record of the book and checks it is there, in order, linked and hashing to its
/// stated hash, up to the head: what an append after an unclean stop relies on.
fn check_every_record(book: &Book, head: &Head) -> Result<(), LedgerError> {
    const PIECE: u64 = 16_384;
    let size = head.next_seq.0;
    tracing::info!(
        records = size,
        "the writer did not stop cleanly: checking every record"
    );
    let mut prev = Hash::ZERO;
    let mut from = 0;
    while from < size {
        let to = (from + PIECE).min(size);
        let records = book.records_parallel(Seq(from), Seq(to))?;
        let hashes = probity_core::par::par_map(&records, Record::compute_hash);
        for (expected, (record, computed)) in (from..).zip(records.iter().zip(hashes)) {
            if record.seq.0 != expected || record.prev != prev || computed != record.hash {
                return Err(LedgerError::Corrupt(format!(
                    "record {expected} is missing or damaged (found record {} instead)",
                    record.seq
                )));
            }
            prev = record.hash;
        }
        if records.len() as u64 != to - from {
            return Err(LedgerError::Corrupt(format!(
                "records {from}..{to}: {} of them are missing",
                to - from - records.len() as u64
            )));
        }
        from = to;
    }
    if prev != head.last_hash {
        return Err(LedgerError::Corrupt(
            "the last record is not the head's".into(),
        ));
    }
    Ok(())
}

/// Checks the book's head against what was acknowledged (see [`acked`]): the book must hold
/// every acknowledged record, the last of them with the acknowledged hash.
fn check_acknowledged(dir: &Path, book: &Book, head: &Head) -> Result<Option<Acked>, LedgerError> {
    let acked = acked::read(dir).map_err(LedgerError::Corrupt)?;
    let Some(acked) = acked else {
        return Ok(None);
    };
    if head.next_seq.0 < acked.size {
        return Err(LedgerError::RecordsLost {
            book: head.next_seq.0,
            acknowledged: acked.size,
            file: acked::path(dir).display().to_string(),
        });
    }
    if let Some(last) = acked.size.checked_sub(1) {
        let stored = book.record(Seq(last))?.map(|r| r.hash);
        if stored != Some(acked.last_hash) {
            return Err(LedgerError::Corrupt(format!(
                "record {last} is not the one acknowledged (hash {}, the book holds {})",
                acked.last_hash,
                stored.map_or_else(|| "nothing".to_owned(), |h| h.to_string())
            )));
        }
    }
    Ok(Some(acked))
}

impl Ledger {
    /// Creates a new ledger in `dir` whose record 0 is `genesis`, signed by an administrator it
    /// names, naming `ledger_key`'s public half as the ledger key.
    pub fn create(
        dir: &Path,
        genesis: SignedEvent,
        ledger_key: SecretKey,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(Ledger, Receipt), LedgerError> {
        let db = open_db(dir)?;
        if db.get(layout::HEAD)?.is_some() {
            return Err(LedgerError::AlreadyExists(dir.display().to_string()));
        }
        let checked = check_stateless(&genesis).map_err(LedgerError::Genesis)?;
        let Event::Genesis(payload) = checked.event() else {
            return Err(LedgerError::Genesis(AppendError::BadRequest(format!(
                "the first record must be genesis, not {}",
                checked.body().event_type
            ))));
        };
        if payload.ledger_key != ledger_key.public_key() {
            return Err(LedgerError::WrongLedgerKey);
        }
        let head = Head {
            next_seq: Seq(0),
            last_hash: Hash::ZERO,
            last_recorded_at: RecordedAt::from_unix_micros(i64::MIN),
        };
        let ledger = Ledger::start(
            dir,
            db,
            checked.body().ledger.to_string(),
            payload.origin.clone(),
            head,
            (KeyRegistry::new(), KeyChain::new()),
            Frontier::new(),
            (Some(ledger_key), payload.ledger_key),
            config,
            clock,
        )?;
        let receipt = ledger
            .append(AppendRequest::new(genesis))
            .map_err(LedgerError::Genesis)?;
        Ok((ledger, receipt))
    }

    /// Opens the ledger in `dir`. `ledger_key` must be the key its genesis names.
    pub fn open(
        dir: &Path,
        ledger_key: SecretKey,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Ledger, LedgerError> {
        Self::open_with(dir, Some(ledger_key), config, clock)
    }

    /// Opens the ledger in `dir` to read only, without its key (a copy imported from an
    /// export): appends are refused and no checkpoint is signed.
    pub fn open_read_only(dir: &Path) -> Result<Ledger, LedgerError> {
        Self::open_with(dir, None, EngineConfig::default(), Arc::new(SystemClock))
    }

    fn open_with(
        dir: &Path,
        ledger_key: Option<SecretKey>,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Ledger, LedgerError> {
        let db = open_db(dir)?;
        let head = db
            .get(layout::HEAD)?
            .ok_or_else(|| LedgerError::NotInitialised(dir.display().to_string()))
            .and_then(|bytes| {
                Head::from_bytes(&bytes).ok_or_else(|| LedgerError::Corrupt("head".into()))
            })?;
        let book = Book::new(db.clone());
        let last = head
            .next_seq
            .0
            .checked_sub(1)
            .ok_or_else(|| LedgerError::Corrupt("head names no record".into()))?;
        match book.record(Seq(last))? {
            Some(r) if r.hash == head.last_hash && r.compute_hash() == r.hash => {}
            _ => {
                return Err(LedgerError::Corrupt(format!(
                    "record {last} does not match the head"
                )))
            }
        }
        // Keys: replay only the records that change them.
        let matrix = role_matrix();
        let mut registry = KeyRegistry::new();
        let mut keys = KeyChain::new();
        for seq in book.governance_seqs() {
            let seq = seq?;
            let record = book
                .record(seq)?
                .ok_or_else(|| LedgerError::Corrupt(format!("governance record {seq} missing")))?;
            let authentic = record
                .event
                .open()
                .map_err(|e| LedgerError::Corrupt(format!("record {seq}: {e}")))?;
            let effect = registry
                .authorize(seq, authentic.body(), &matrix)
                .map_err(|e| LedgerError::Corrupt(format!("record {seq}: {e}")))?;
            registry.apply(seq, effect);
            keys.push(&record.hash);
        }
        let genesis = registry
            .genesis()
            .cloned()
            .ok_or_else(|| LedgerError::Corrupt("no genesis".into()))?;
        if ledger_key
            .as_ref()
            .is_some_and(|key| genesis.ledger_key != key.public_key())
        {
            return Err(LedgerError::WrongLedgerKey);
        }
        // A writable ledger refuses damage outright; a read-only one opens to show what is
        // left and names the damage (`Ledger::damage`).
        let damage = match check_acknowledged(dir, &book, &head).and_then(|acked| {
            match acked {
                // After an unclean stop sled's recovery may also have lost a record in the
                // middle: check them all before appending again.
                Some(acked) if !acked.closed && ledger_key.is_some() => {
                    check_every_record(&book, &head)
                }
                _ => Ok(()),
            }
        }) {
            Ok(()) => None,
            Err(e) if ledger_key.is_none() && e.is_damage() => Some(e.to_string()),
            Err(e) => return Err(e),
        };
        let frontier = Frontier::restore(head.next_seq.0, &book)
            .map_err(|e| LedgerError::Corrupt(format!("Merkle edge: {e}")))?;
        let ledger_id = registry
            .ledger()
            .map(ToString::to_string)
            .ok_or_else(|| LedgerError::Corrupt("no ledger id".into()))?;
        let ledger = Ledger::start(
            dir,
            db,
            ledger_id,
            genesis.origin,
            head,
            (registry, keys),
            frontier,
            (ledger_key, genesis.ledger_key),
            config,
            clock,
        )?;
        if let Some(damage) = damage {
            *ledger
                .shared
                .damage
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Some(damage);
        }
        Ok(ledger)
    }

    /// What is wrong with the book's storage, when it was opened read-only despite damage
    /// (records lost against what was acknowledged).
    pub fn damage(&self) -> Option<String> {
        self.shared
            .damage
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        dir: &Path,
        db: sled::Db,
        ledger_id: String,
        origin: String,
        head: Head,
        (registry, keys): (KeyRegistry, KeyChain),
        frontier: Frontier,
        (ledger_key, ledger_public): (Option<SecretKey>, PublicKey),
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Ledger, LedgerError> {
        let book = Book::new(db);
        let latest = match book.db().get(layout::LATEST_CHECKPOINT)? {
            Some(size) => {
                let size = layout::read_u64(&size)
                    .ok_or_else(|| LedgerError::Corrupt("latest checkpoint".into()))?;
                book.checkpoint(size)?.map(|note| (size, note))
            }
            None => None,
        };
        let (committed, _) = watch::channel(head.next_seq.0);
        let shared = Arc::new(Shared {
            book,
            origin: origin.clone(),
            ledger_key: ledger_key.clone(),
            ledger_public,
            committed,
            latest_checkpoint: RwLock::new(latest.clone()),
            cosigning: Mutex::new(()),
            failed: AtomicBool::new(false),
            damage: RwLock::new(None),
        });
        let (commands, receiver) = mpsc::channel();
        let Some(ledger_key) = ledger_key else {
            // Read-only: no writer; every command finds the channel closed.
            drop(receiver);
            return Ok(Ledger {
                shared,
                commands,
                writer: Arc::new(Mutex::new(None)),
                ledger_id,
            });
        };
        let mut acked = AckedFile::open(dir)
            .map_err(|e| LedgerError::Corrupt(format!("{}: {e}", acked::path(dir).display())))?;
        if head.next_seq.0 > 0 {
            // Everything the book holds now is durable: a ledger made before the file was
            // kept starts it here, and one that crashed between its flush and this file's
            // update catches up. Marked open until the writer stops cleanly.
            acked
                .store(Acked {
                    size: head.next_seq.0,
                    last_hash: head.last_hash,
                    closed: false,
                })
                .map_err(|e| {
                    LedgerError::Corrupt(format!("{}: {e}", acked::path(dir).display()))
                })?;
        }
        let writer = Writer {
            acked,
            keys,
            shared: shared.clone(),
            matrix: role_matrix(),
            config,
            clock,
            head,
            registry,
            frontier,
            signer: NoteSigner::new(origin, ledger_key),
            last_checkpoint: (latest.map_or(0, |(size, _)| size), Instant::now()),
        };
        let handle = std::thread::Builder::new()
            .name("probity-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(LedgerError::Thread)?;
        Ok(Ledger {
            shared,
            commands,
            writer: Arc::new(Mutex::new(Some(handle))),
            ledger_id,
        })
    }

    /// Appends an event and waits until it is durable; returns the signed receipt. Blocking:
    /// call from a plain thread, or use [`Ledger::append_async`].
    pub fn append(&self, request: AppendRequest) -> Result<Receipt, AppendError> {
        let outcome = self
            .submit(request)?
            .blocking_recv()
            .map_err(|_| AppendError::Unavailable("the writer stopped"))??;
        self.receipt(&outcome)
    }

    /// [`Ledger::append`] for async callers.
    pub async fn append_async(&self, request: AppendRequest) -> Result<Receipt, AppendError> {
        let outcome = self
            .submit(request)?
            .await
            .map_err(|_| AppendError::Unavailable("the writer stopped"))??;
        self.receipt(&outcome)
    }

    /// Appends several events, in the order given, and waits until the accepted ones are
    /// durable; returns one result per event, in the same order. Each event is checked and
    /// accepted or refused on its own, exactly as by [`Ledger::append`] (a refusal does not
    /// affect the others; their records follow one another in the given order, though other
    /// clients' records may come between them). The strict signature checks and the receipt
    /// signatures run on all cores, and the whole batch usually shares one flush. Blocking.
    pub fn append_batch(&self, requests: Vec<AppendRequest>) -> Vec<Result<Receipt, AppendError>> {
        // Signatures are checked (and receipts signed) 8 at a time per core.
        const PER_CORE: usize = 8;
        if let Err(e) = self.ensure_writable() {
            return requests.iter().map(|_| Err(e.clone())).collect();
        }
        let checked = probity_core::par::par_map_by(&requests, PER_CORE, |request| {
            check_request(request).and_then(|()| check_stateless(&request.event))
        });
        let pending: Vec<_> = requests
            .into_iter()
            .zip(checked)
            .map(|(request, checked)| {
                checked.and_then(|event| self.send_append(event, request.expect))
            })
            .collect();
        let outcomes: Vec<_> = pending
            .into_iter()
            .map(|submitted| {
                submitted.and_then(|rx| {
                    rx.blocking_recv()
                        .map_err(|_| AppendError::Unavailable("the writer stopped"))?
                })
            })
            .collect();
        probity_core::par::par_map_by(&outcomes, PER_CORE, |outcome| match outcome {
            Ok(outcome) => self.receipt(outcome),
            Err(e) => Err(e.clone()),
        })
    }

    /// Whether this is a read-only copy (no ledger key: imported from an export).
    pub fn is_read_only(&self) -> bool {
        self.shared.ledger_key.is_none()
    }

    fn submit(
        &self,
        request: AppendRequest,
    ) -> Result<oneshot::Receiver<Result<Outcome, AppendError>>, AppendError> {
        self.ensure_writable()?;
        check_request(&request)?;
        let checked = check_stateless(&request.event)?;
        self.send_append(checked, request.expect)
    }

    /// Refuses appends to a read-only copy, and after a storage failure.
    fn ensure_writable(&self) -> Result<(), AppendError> {
        if self.is_read_only() {
            return Err(READ_ONLY);
        }
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(AppendError::Unavailable(
                "stopped after a storage failure; restart to recover",
            ));
        }
        Ok(())
    }

    /// Hands a checked event to the writer.
    fn send_append(
        &self,
        event: CheckedEvent,
        expect: Vec<(String, u64)>,
    ) -> Result<oneshot::Receiver<Result<Outcome, AppendError>>, AppendError> {
        // Checked again: the writer may have failed since.
        self.ensure_writable()?;
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Append(Box::new(PendingAppend {
                event,
                expect,
                reply: tx,
            })))
            .map_err(|_| AppendError::Unavailable("the ledger is closed"))?;
        Ok(rx)
    }

    fn receipt(&self, outcome: &Outcome) -> Result<Receipt, AppendError> {
        let key = self.shared.ledger_key.as_ref().ok_or(READ_ONLY)?;
        Ok(match outcome {
            Outcome::New(record) => Receipt::sign(&self.shared.origin, record, key, false),
            Outcome::Duplicate(record) => Receipt::sign(&self.shared.origin, record, key, true),
        })
    }

    /// Signs a checkpoint now if records were added since the last one; returns the latest.
    pub fn checkpoint_now(&self) -> Result<Option<SignedNote>, AppendError> {
        if self.is_read_only() {
            return Ok(self.latest_checkpoint().map(|(_, note)| note));
        }
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Checkpoint(tx))
            .map_err(|_| AppendError::Unavailable("the ledger is closed"))?;
        rx.blocking_recv()
            .map_err(|_| AppendError::Unavailable("the writer stopped"))?
    }

    /// Attaches to the stored checkpoint of the same size the cosignatures in `cosigned` that
    /// verify under one of `witnesses` (C2SP cosignature/v1), durably; returns the checkpoint's
    /// size, the witnesses whose cosignature it now carries that it did not before, and the
    /// checkpoint as stored now. The
    /// note's text must be the stored checkpoint's, byte for byte. Signatures by other keys,
    /// or that do not verify, are ignored: only what a verifier can check is kept.
    pub fn attach_cosignatures(
        &self,
        cosigned: &SignedNote,
        witnesses: &[VerifierKey],
    ) -> Result<(u64, Vec<String>, SignedNote), CosignError> {
        if self.is_read_only() {
            return Err(CosignError::ReadOnly);
        }
        let size = Checkpoint::from_text(&cosigned.text)
            .map_err(|e| CosignError::Malformed(e.to_string()))?
            .size;
        let _guard = self
            .shared
            .cosigning
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stored = self
            .shared
            .book
            .checkpoint(size)?
            .ok_or(CosignError::NoCheckpoint(size))?;
        if stored.text != cosigned.text {
            return Err(CosignError::OtherCheckpoint(size));
        }
        let mut added = Vec::new();
        for witness in witnesses {
            let Some(sig) = cosigned
                .signatures
                .iter()
                .find(|s| witness.verify_cosignature(&cosigned.text, s).is_some())
            else {
                continue;
            };
            if !stored.signatures.contains(sig) {
                stored.add_signature(sig.clone());
                added.push(witness.name.clone());
            }
        }
        if added.is_empty() {
            return Ok((size, added, stored));
        }
        let db = self.shared.book.db();
        db.insert(layout::checkpoint(size), stored.to_bytes())
            .and_then(|_| db.flush().map(|_| ()))
            .map_err(LedgerError::from)?;
        if let Ok(mut latest) = self.shared.latest_checkpoint.write() {
            if let Some((latest_size, note)) = latest.as_mut() {
                if *latest_size == size {
                    *note = stored.clone();
                }
            }
        }
        Ok((size, added, stored))
    }

    /// A [`Mirror`](crate::mirror::Mirror) wrote records up to `size` (and perhaps a newer
    /// checkpoint) to this read-only copy's book: readers see them from now on.
    pub(crate) fn mirrored(&self, size: u64, latest: Option<(u64, SignedNote)>) {
        if let Some(latest) = latest {
            if let Ok(mut stored) = self.shared.latest_checkpoint.write() {
                *stored = Some(latest);
            }
        }
        self.shared.committed.send_replace(size);
    }

    /// Read access to the book (bounded by [`Ledger::size`] for committed records).
    pub fn book(&self) -> &Book {
        &self.shared.book
    }

    /// Number of durable records.
    pub fn size(&self) -> u64 {
        *self.shared.committed.borrow()
    }

    /// A receiver that sees the committed size change.
    pub fn watch_size(&self) -> watch::Receiver<u64> {
        self.shared.committed.subscribe()
    }

    /// The ledger id.
    pub fn ledger_id(&self) -> &str {
        &self.ledger_id
    }

    /// The checkpoint origin.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// The ledger's public key.
    pub fn ledger_public_key(&self) -> PublicKey {
        self.shared.ledger_public
    }

    /// The ledger's note verifier key (C2SP vkey).
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey::ed25519(self.shared.origin.clone(), self.shared.ledger_public)
    }

    /// The latest signed checkpoint.
    pub fn latest_checkpoint(&self) -> Option<(u64, SignedNote)> {
        self.shared
            .latest_checkpoint
            .read()
            .map(|guard| guard.clone())
            .unwrap_or(None)
    }

    /// The committed record at `seq`.
    pub fn record(&self, seq: Seq) -> Result<Option<Record>, LedgerError> {
        if seq.0 >= self.size() {
            return Ok(None);
        }
        self.shared.book.record(seq)
    }

    /// The Merkle root of the first `size` records.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(ProofError::BeyondSize {
                size,
                current: self.size(),
            });
        }
        merkle::root(&self.shared.book, size).map_err(ProofError::Node)
    }

    /// The inclusion proof of record `seq` in the tree of `size` records.
    pub fn inclusion_proof(&self, seq: Seq, size: u64) -> Result<Vec<Hash>, ProofError> {
        if size > self.size() {
            return Err(ProofError::BeyondSize {
                size,
                current: self.size(),
            });
        }
        merkle::inclusion_proof(&self.shared.book, seq.0, size).map_err(ProofError::from)
    }

    /// The consistency proof between the trees of `old` and `new` records.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        if new > self.size() {
            return Err(ProofError::BeyondSize {
                size: new,
                current: self.size(),
            });
        }
        merkle::consistency_proof(&self.shared.book, old, new).map_err(ProofError::from)
    }

    /// Every key the first `size` records enrolled, with its role, holder and whether (and
    /// where) it was revoked.
    pub fn key_registry_at(&self, size: u64) -> Result<KeyRegistry, LedgerError> {
        let mut registry = KeyRegistry::new();
        let matrix = role_matrix();
        for seq in self.shared.book.governance_seqs() {
            let seq = seq?;
            if seq.0 >= size {
                break;
            }
            if let Some(record) = self.shared.book.record(seq)? {
                if let Ok(event) = record.event.open() {
                    if let Ok(effect) = registry.authorize(seq, event.body(), &matrix) {
                        registry.apply(seq, effect);
                    }
                }
            }
        }
        Ok(registry)
    }

    /// Size, root, checkpoint and keys.
    pub fn status(&self) -> Result<Status, LedgerError> {
        let size = self.size();
        let root = merkle::root(&self.shared.book, size)
            .map_err(|e| LedgerError::Corrupt(format!("Merkle root: {e}")))?;
        let last = match size.checked_sub(1) {
            Some(last) => self.shared.book.record(Seq(last))?.map(|r| r.recorded_at),
            None => None,
        };
        let registry = self.key_registry_at(size)?;
        Ok(Status {
            ledger: self.ledger_id.clone(),
            origin: self.shared.origin.clone(),
            size,
            root,
            checkpoint_size: self.latest_checkpoint().map(|(s, _)| s),
            last_recorded_at: last,
            active_keys: registry
                .keys()
                .filter(|(_, k)| k.revoked_at.is_none())
                .count(),
        })
    }

    /// Finishes in-flight appends, signs a last checkpoint, flushes and stops the writer.
    /// Later appends through any clone fail with `unavailable`.
    pub fn close(&self) {
        let handle = match self.writer.lock() {
            Ok(mut guard) => guard.take(),
            Err(_) => None,
        };
        if let Some(handle) = handle {
            let (tx, rx) = oneshot::channel();
            if self.commands.send(Command::Stop(tx)).is_ok() {
                let _ = rx.blocking_recv();
            }
            let _ = handle.join();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.book.db().flush();
    }
}

/// Why cosignatures could not be attached.
#[derive(Debug, thiserror::Error)]
pub enum CosignError {
    /// The note is not a checkpoint.
    #[error("not a checkpoint: {0}")]
    Malformed(String),
    /// The ledger signed no checkpoint of that size.
    #[error("the ledger signed no checkpoint of {0} records")]
    NoCheckpoint(u64),
    /// The note's text is not the ledger's checkpoint of that size.
    #[error("the note is not the ledger's checkpoint of {0} records (its text differs)")]
    OtherCheckpoint(u64),
    /// A read-only copy keeps the checkpoints it was given.
    #[error("a read-only copy cannot take cosignatures; send them to the ledger itself")]
    ReadOnly,
    /// The book could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl CosignError {
    /// A stable code for the wire.
    pub fn code(&self) -> ErrorCode {
        match self {
            CosignError::Malformed(_) => ErrorCode::MalformedRequest,
            CosignError::NoCheckpoint(_) => ErrorCode::NoCheckpoint,
            CosignError::OtherCheckpoint(_) => ErrorCode::OtherCheckpoint,
            CosignError::ReadOnly => ErrorCode::ReadOnly,
            CosignError::Ledger(_) => ErrorCode::Storage,
        }
    }
}

/// What appending to a read-only copy gets.
const READ_ONLY: AppendError = AppendError::Unavailable(
    "this is a read-only copy imported from an export: record on the ledger itself",
);

/// Why a proof could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The tree is not that large (yet).
    #[error("tree size {size} is beyond the ledger's {current} records")]
    BeyondSize {
        /// Asked.
        size: u64,
        /// Current.
        current: u64,
    },
    /// The request does not fit (index beyond size, old > new, old = 0).
    #[error("{0}")]
    OutOfRange(&'static str),
    /// A node could not be read.
    #[error(transparent)]
    Node(NodeError),
}

impl From<merkle::ProveError<NodeError>> for ProofError {
    fn from(e: merkle::ProveError<NodeError>) -> Self {
        match e {
            merkle::ProveError::OutOfRange(what) => ProofError::OutOfRange(what),
            merkle::ProveError::Store(e) => ProofError::Node(e),
        }
    }
}

/// Everything that can be checked without the ledger's state: envelope, body, strict
/// signature, payload schema and subjects; done once, and carried to the writer.
pub fn check_stateless(event: &SignedEvent) -> Result<CheckedEvent, AppendError> {
    Ok(CheckedEvent::decode(event.open()?)?)
}

/// The request's own shape, before its event is opened: the expected-version streams.
fn check_request(request: &AppendRequest) -> Result<(), AppendError> {
    for (stream, _) in &request.expect {
        check_stream_name(stream)?;
    }
    Ok(())
}

fn check_stream_name(stream: &str) -> Result<(), AppendError> {
    match stream.parse::<Subject>() {
        Ok(_) => Ok(()),
        Err(_) => Err(AppendError::BadRequest(format!(
            "expected-version stream {stream:?} must be supplier:ID, rep:ID, case:ID or staff:ID"
        ))),
    }
}

/// Stages the writes of one sealed record: the record, its event-id index entry, its marker if
/// it is a key record (genesis, enrolment, revocation), and the interior Merkle nodes it
/// completes. Shared by the writer and the importer, so both lay a book out alike.
pub(crate) fn stage_record(
    batch: &mut sled::Batch,
    record: &Record,
    event_id: &str,
    key_record: bool,
    frontier: &mut Frontier,
) {
    if key_record {
        batch.insert(&layout::governance(record.seq)[..], &[][..]);
    }
    batch.insert(&layout::record(record.seq)[..], record.to_json());
    batch.insert(layout::event_id(event_id), &record.seq.0.to_be_bytes()[..]);
    // Level-0 nodes are the record hashes, already stored in the records: keep only the
    // interior nodes (one key fewer per record on the hot path).
    frontier.push_reporting(record.hash, |level, index, hash| {
        if level > 0 {
            batch.insert(&layout::node(level, index)[..], &hash.0[..]);
        }
    });
}

/// [`stage_record`] for a record verified elsewhere (imported, or copied from the stream),
/// whose key records are known by their event type; returns its subject streams, whose
/// versions the caller advances.
pub(crate) fn stage_verified(
    batch: &mut sled::Batch,
    record: &Record,
    body: &probity_core::envelope::EventBody,
    frontier: &mut Frontier,
) -> Vec<String> {
    let key_record = matches!(
        body.event_type.as_str(),
        GENESIS | KEY_ENROLLED | KEY_REVOKED
    );
    stage_record(batch, record, body.id.as_str(), key_record, frontier);
    streams_of(body)
}

/// The subject streams a record belongs to (`kind:id`), sorted.
pub(crate) fn streams_of(body: &probity_core::envelope::EventBody) -> Vec<String> {
    let mut out: Vec<String> = body
        .subjects
        .iter()
        .map(|(kind, id)| Subject::new(kind, id.clone()).to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The single writer.
struct Writer {
    shared: Arc<Shared>,
    matrix: RoleMatrix,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    head: Head,
    registry: KeyRegistry,
    frontier: Frontier,
    signer: NoteSigner,
    last_checkpoint: (u64, Instant),
    acked: AckedFile,
    /// The key commitment of the records written (FORMAT.md §8), for each checkpoint.
    keys: KeyChain,
}

/// What a batch adds before it is written.
#[derive(Default)]
struct Staged {
    batch: sled::Batch,
    records: HashMap<String, Record>,
    versions: HashMap<String, u64>,
    added: usize,
}

impl Writer {
    fn run(mut self, commands: mpsc::Receiver<Command>) {
        loop {
            let first = match commands.recv_timeout(self.config.checkpoint_interval) {
                Ok(command) => command,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.maybe_checkpoint(false);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut appends = Vec::new();
            let mut others = Vec::new();
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Append(pending) => appends.push(*pending),
                    other => others.push(other),
                }
                if appends.len() < self.config.max_batch {
                    next = commands.try_recv().ok();
                }
            }
            if !appends.is_empty() {
                self.commit(appends);
            }
            for command in others {
                match command {
                    Command::Checkpoint(reply) => {
                        self.maybe_checkpoint(true);
                        let _ = reply.send(Ok(self
                            .shared
                            .latest_checkpoint
                            .read()
                            .ok()
                            .and_then(|g| g.clone())
                            .map(|(_, n)| n)));
                    }
                    Command::Stop(reply) => {
                        self.maybe_checkpoint(true);
                        self.close_cleanly();
                        let _ = reply.send(());
                        return;
                    }
                    Command::Append(..) => {}
                }
            }
        }
        self.close_cleanly();
    }

    /// The last flush, then the acknowledged-size file marked closed: the next open need not
    /// check every record.
    fn close_cleanly(&mut self) {
        let flushed = self.shared.book.db().flush();
        if flushed.is_ok()
            && !self.shared.failed.load(Ordering::Acquire)
            && self.head.next_seq.0 > 0
        {
            let stored = self.acked.store(Acked {
                size: self.head.next_seq.0,
                last_hash: self.head.last_hash,
                closed: true,
            });
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not mark the book closed cleanly");
            }
        }
    }

    fn commit(&mut self, appends: Vec<PendingAppend>) {
        if self.shared.failed.load(Ordering::Acquire) {
            for PendingAppend { reply, .. } in appends {
                let _ = reply.send(Err(AppendError::Unavailable(
                    "stopped after a storage failure; restart to recover",
                )));
            }
            return;
        }
        let now = self.clock.now().max(self.head.last_recorded_at);
        let mut staged = Staged::default();
        let mut outcomes = Vec::with_capacity(appends.len());
        for PendingAppend {
            event,
            expect,
            reply,
        } in appends
        {
            let outcome = self.admit_one(event.into_authentic(), &expect, now, &mut staged);
            outcomes.push((outcome, reply));
        }
        if staged.added > 0 {
            staged.batch.insert(layout::HEAD, &self.head.encode()[..]);
            let written = self
                .shared
                .book
                .db()
                .apply_batch(staged.batch)
                .and_then(|()| self.shared.book.db().flush().map(|_| ()))
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    self.acked
                        .store(Acked {
                            size: self.head.next_seq.0,
                            last_hash: self.head.last_hash,
                            closed: false,
                        })
                        .map_err(|e| format!("{}: {e}", "the acknowledged-size file"))
                });
            if let Err(e) = written {
                // The in-memory state is ahead of the disk now: stop taking appends. A restart
                // rebuilds the state from what the book really holds.
                tracing::error!(error = %e, "book write failed; the ledger stops taking appends");
                self.shared.failed.store(true, Ordering::Release);
                for (outcome, reply) in outcomes {
                    let result = match outcome {
                        Ok(Outcome::New(_)) => Err(AppendError::Storage(e.clone())),
                        other => other,
                    };
                    let _ = reply.send(result);
                }
                return;
            }
            self.shared.committed.send_replace(self.head.next_seq.0);
        }
        for (outcome, reply) in outcomes {
            let _ = reply.send(outcome);
        }
        self.maybe_checkpoint(false);
    }

    fn admit_one(
        &mut self,
        event: AuthenticEvent,
        expect: &[(String, u64)],
        now: RecordedAt,
        staged: &mut Staged,
    ) -> Result<Outcome, AppendError> {
        let id = event.body().id.as_str().to_owned();
        // An id seen before: the same event is a retry, anything else a conflict.
        let earlier = match staged.records.get(&id) {
            Some(record) => Some(record.clone()),
            None => match self
                .shared
                .book
                .seq_of_event(&id)
                .map_err(|e| AppendError::Storage(e.to_string()))?
            {
                Some(seq) => self
                    .shared
                    .book
                    .record(seq)
                    .map_err(|e| AppendError::Storage(e.to_string()))?,
                None => None,
            },
        };
        if let Some(record) = earlier {
            return if &record.event == event.signed() {
                Ok(Outcome::Duplicate(record))
            } else {
                let first = record.seq;
                let own = record.event.keyid() == event.signed().keyid();
                Err(AppendError::IdConflict {
                    id: event.body().id.clone(),
                    first,
                    original: own.then(|| Box::new(record)),
                })
            };
        }
        for (stream, expected) in expect {
            let actual = self.version(stream, staged)?;
            if actual != *expected {
                return Err(AppendError::VersionMismatch {
                    stream: stream.clone(),
                    expected: *expected,
                    actual,
                });
            }
        }
        let streams = streams_of(event.body());
        let is_governance = matches!(
            event.body().event_type.as_str(),
            GENESIS | KEY_ENROLLED | KEY_REVOKED
        );
        let chain = ChainHead {
            next_seq: self.head.next_seq,
            last_hash: self.head.last_hash,
        };
        let admitted = admit(
            &self.registry,
            &self.matrix,
            &self.config.rules,
            &chain,
            event,
            now,
        )?;
        let record = admitted.record;

        // Checked: from here on nothing fails; stage the writes and advance the state.
        let key_record = !matches!(admitted.effect, KeyEffect::None) || is_governance;
        self.registry.apply(record.seq, admitted.effect);
        if key_record {
            self.keys.push(&record.hash);
        }
        stage_record(
            &mut staged.batch,
            &record,
            &id,
            key_record,
            &mut self.frontier,
        );
        for stream in streams {
            let version = self.version(&stream, staged)? + 1;
            staged
                .batch
                .insert(layout::stream_version(&stream), &version.to_be_bytes()[..]);
            staged.versions.insert(stream, version);
        }
        self.head = Head {
            next_seq: record.seq.next(),
            last_hash: record.hash,
            last_recorded_at: record.recorded_at,
        };
        staged.records.insert(id, record.clone());
        staged.added += 1;
        Ok(Outcome::New(record))
    }

    fn version(&self, stream: &str, staged: &Staged) -> Result<u64, AppendError> {
        match staged.versions.get(stream) {
            Some(v) => Ok(*v),
            None => self
                .shared
                .book
                .stream_version(stream)
                .map_err(|e| AppendError::Storage(e.to_string())),
        }
    }

    /// Signs a checkpoint when records were added since the last one and either `force`, or
    /// enough records, or enough time.
    fn maybe_checkpoint(&mut self, force: bool) {
        let size = self.head.next_seq.0;
        let (last_size, last_time) = self.last_checkpoint;
        let due = size > last_size
            && (force
                || size - last_size >= self.config.checkpoint_every
                || last_time.elapsed() >= self.config.checkpoint_interval);
        if !due || self.shared.failed.load(Ordering::Acquire) {
            return;
        }
        let root = self.frontier.root();
        let mut checkpoint = Checkpoint::new(self.shared.origin.clone(), size, root);
        checkpoint.extensions.push(self.keys.extension_line());
        let note = self.signer.sign_checkpoint(&checkpoint);
        let db = self.shared.book.db();
        let mut batch = sled::Batch::default();
        batch.insert(&layout::checkpoint(size)[..], note.to_bytes());
        batch.insert(layout::LATEST_CHECKPOINT, &size.to_be_bytes()[..]);
        match db.apply_batch(batch).and_then(|()| db.flush().map(|_| ())) {
            Ok(()) => {
                self.last_checkpoint = (size, Instant::now());
                if let Ok(mut latest) = self.shared.latest_checkpoint.write() {
                    *latest = Some((size, note));
                }
                tracing::debug!(size, root = %root, "checkpoint signed");
            }
            Err(e) => tracing::warn!(error = %e, "checkpoint not stored; will retry"),
        }
    }
}
