//! A data directory holding the fixture hospital's ledger, a `ledgerd` child process, and a
//! NATS client speaking the wire protocol: shared by ledgerd's tests and benchmarks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Hospital, LEDGER};
use probity_core::prelude::*;
use probity_ledger::wire::{self, AppendMessage, Reply, WireError};
use probity_ledger::{keyfile, EngineConfig, Ledger, Status, SystemClock};

/// A data directory holding the fixture hospital's ledger (genesis and enrolments).
#[derive(Debug)]
pub struct DataDir {
    pub dir: tempfile::TempDir,
    pub hospital: Hospital,
}

/// Runs blocking engine calls off the async runtime's threads.
pub fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(f).join().unwrap())
}

impl DataDir {
    pub fn init() -> DataDir {
        blocking(DataDir::init_now)
    }

    fn init_now() -> DataDir {
        let dir = tempfile::tempdir().unwrap();
        let hospital = Hospital::default();
        keyfile::write_key(&dir.path().join("ledger.key"), &hospital.ledger_key, false).unwrap();
        hospital.create_ledger(&dir.path().join("book")).close();
        DataDir { dir, hospital }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Opens the book in this process (ledgerd must be stopped).
    pub fn open(&self) -> Ledger {
        blocking(|| self.open_now())
    }

    fn open_now(&self) -> Ledger {
        Ledger::open(
            &self.path().join("book"),
            self.hospital.ledger_key.clone(),
            EngineConfig::default(),
            Arc::new(SystemClock),
        )
        .unwrap()
    }
}

/// A ledgerd child process.
#[derive(Debug)]
pub struct Ledgerd {
    child: Child,
    pub log: PathBuf,
}

impl Ledgerd {
    /// Starts `binary` (pass `env!("CARGO_BIN_EXE_ledgerd")`) on `data` and `nats_url`.
    pub fn spawn(binary: &str, data: &Path, nats_url: &str, extra: &[&str]) -> Ledgerd {
        let log = data.join(format!(
            "ledgerd-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        // ledgerd logs to stdout; stderr has whatever else it says (a panic, say).
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .arg("--data")
            .arg(data)
            .args(["--nats", nats_url])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Ledgerd { child, log }
    }

    /// SIGKILL, no warning.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit and returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9();
        None
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit code, once it has exited (`Some(-1)` when killed by a signal).
    pub fn exit_code(&mut self) -> Option<i32> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.code().unwrap_or(-1)),
            _ => None,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Ledgerd {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub async fn connect(url: &str) -> async_nats::Client {
    async_nats::connect(url).await.unwrap()
}

/// Sends raw bytes to a subject and parses the reply.
pub async fn request_raw<T: serde::de::DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
    payload: Vec<u8>,
) -> Result<Reply<T>, String> {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(subject, payload.into()),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    serde_json::from_slice(&reply.payload).map_err(|e| format!("bad reply: {e}"))
}

pub async fn append(
    client: &async_nats::Client,
    event: SignedEvent,
) -> Result<Reply<Receipt>, String> {
    let message = AppendMessage {
        event,
        expect: Default::default(),
    };
    request_raw(
        client,
        wire::append_subject(LEDGER),
        serde_json::to_vec(&message).unwrap(),
    )
    .await
}

/// Appends `events` in one batch request; the reply holds one reply per event.
pub async fn append_batch(
    client: &async_nats::Client,
    events: Vec<SignedEvent>,
) -> Result<Reply<Vec<Reply<Receipt>>>, String> {
    let message = wire::AppendBatchMessage {
        events: events
            .into_iter()
            .map(|event| AppendMessage {
                event,
                expect: Default::default(),
            })
            .collect(),
    };
    request_raw(
        client,
        wire::append_batch_subject(LEDGER),
        serde_json::to_vec(&message).unwrap(),
    )
    .await
}

pub async fn status(client: &async_nats::Client) -> Result<Status, String> {
    match request_raw::<Status>(client, wire::status_subject(LEDGER), b"{}".to_vec()).await? {
        Reply::Ok(status) => Ok(status),
        Reply::Error(WireError { code, message, .. }) => Err(format!("{code}: {message}")),
    }
}

/// Waits until ledgerd answers status.
pub async fn wait_ready(client: &async_nats::Client, ledgerd: &Ledgerd) -> Status {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(status) = status(client).await {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "ledgerd did not become ready; log:\n{}",
            ledgerd.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every record of the stream, by stream sequence 1..=n.
pub async fn stream_records(client: &async_nats::Client) -> Vec<(String, Record)> {
    stream_messages(client)
        .await
        .into_iter()
        .map(|(id, payload)| (id, serde_json::from_slice(&payload).unwrap()))
        .collect()
}

/// Every message of the stream as it is stored, by stream sequence 1..=n: its `Nats-Msg-Id`
/// and its payload, whatever it holds.
pub async fn stream_messages(client: &async_nats::Client) -> Vec<(String, Vec<u8>)> {
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js
        .get_stream(wire::default_stream_name(LEDGER))
        .await
        .unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        out.push((id, message.payload.to_vec()));
    }
    out
}

/// Verifies the whole book (with its checkpoints) and returns the report.
pub fn verify_book(ledger: &Ledger) -> VerifyReport {
    let matrix = probity_events::role_matrix();
    let mut verifier = ChainVerifier::new(&matrix);
    verifier.pin_log_key(ledger.verifier_key());
    for checkpoint in ledger.book().checkpoints() {
        let (size, note) = checkpoint.unwrap();
        verifier.add_checkpoint(note, size);
    }
    for record in ledger.book().records(Seq(0), Seq(ledger.size())) {
        verifier.push(&record.unwrap());
    }
    verifier.finish()
}

/// Asserts the stream is an exact copy of the book.
pub async fn assert_stream_equals_book(client: &async_nats::Client, ledger: &Ledger) {
    let stream = stream_records(client).await;
    assert_eq!(stream.len() as u64, ledger.size(), "stream length");
    for (i, (id, record)) in stream.iter().enumerate() {
        let book = ledger.record(Seq(i as u64)).unwrap().unwrap();
        assert_eq!(
            record,
            &book,
            "stream message {} differs from book record {i}",
            i + 1
        );
        assert_eq!(id, &book.hash.to_hex(), "Nats-Msg-Id of message {}", i + 1);
    }
}
