//! `probity serve --nats`: the server in front of a running ledgerd. It keeps a verified copy
//! of the ledger ([`Mirror`]) from the JetStream stream, with ledgerd's checkpoints, and
//! serves every read from that copy and its views exactly as from a data directory; appends
//! (events already signed) are handed to ledgerd over NATS, and its replies returned as they
//! are, so the receipts are ledgerd's.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_nats::jetstream::consumer::pull::{MessagesError, Stream as Messages};
use async_nats::jetstream::Message;
use async_nats::Client;
use futures_util::StreamExt;
use probity_core::checkpoint::SignedNote;
use probity_core::record::Record;
use probity_ledger::mirror::{Mirror, MirrorError};
use probity_wire::{self as wire, CheckpointReply, ErrorCode, Reply, WireError};

/// Records handed to the copy per batch (verified on all cores, written in one sled batch).
const BATCH: usize = 4096;

/// How often to ask ledgerd for its latest checkpoint while following.
const POLL: Duration = Duration::from_millis(200);

/// The longest pause between attempts to follow again while NATS or ledgerd is away (short:
/// an append answered by ledgerd waits for the copy to hold it).
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How long the stream may stay silent while ledgerd's checkpoints say it holds records the
/// copy lacks, before the copy reads again from where it ends.
const STALLED: Duration = Duration::from_secs(1);

/// How long a request to ledgerd, or the next stream message, may take.
const WAIT: Duration = Duration::from_secs(10);

/// ledgerd as the server sees it: where appends go, and how far the copy has got.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client,
    ledger: String,
    /// Why the copy stopped taking records (a record or checkpoint that did not verify).
    refused: Arc<RwLock<Option<String>>>,
}

impl Upstream {
    /// The ledger id.
    pub fn ledger(&self) -> &str {
        &self.ledger
    }

    /// Why the copy stopped, if it did.
    pub fn refused(&self) -> Option<String> {
        self.refused.read().map_or(None, |r| r.clone())
    }

    /// Sends `body` to ledgerd on `subject` and returns its reply's bytes.
    pub(crate) async fn request(
        &self,
        subject: String,
        body: Vec<u8>,
    ) -> Result<bytes::Bytes, WireError> {
        match tokio::time::timeout(WAIT, self.client.request(subject, body.into())).await {
            Ok(Ok(reply)) => Ok(reply.payload),
            Ok(Err(e)) => Err(WireError::new(
                ErrorCode::Unavailable,
                format!("ledgerd did not answer: {e}"),
            )),
            Err(_) => Err(WireError::new(
                ErrorCode::Unavailable,
                format!("ledgerd did not answer within {} s", WAIT.as_secs()),
            )),
        }
    }
}

/// Why the copy could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// NATS or ledgerd did not answer as expected (worth trying again).
    #[error("{0}")]
    Unreachable(String),
    /// The copy refused what it was given (not worth trying again).
    #[error("the ledger's copy stopped: {0}")]
    Refused(String),
    /// The copy's book failed.
    #[error("the ledger's copy: {0}")]
    Storage(String),
}

/// Keeps the copy. Its futures must run on a multi-threaded tokio runtime (the copy is written
/// with `block_in_place`).
#[derive(Debug)]
pub struct Follower {
    mirror: Arc<Mutex<Mirror>>,
    upstream: Upstream,
    stream: String,
}

impl Follower {
    /// A follower of `ledger` (its stream `PROBITY_<LEDGER>` unless `stream` names another)
    /// through `client`, keeping `mirror`.
    pub fn new(client: Client, ledger: &str, stream: Option<String>, mirror: Mirror) -> Follower {
        let refused = mirror
            .refused()
            .map(|(seq, why)| format!("record {seq}: {why}"));
        Follower {
            mirror: Arc::new(Mutex::new(mirror)),
            upstream: Upstream {
                client,
                ledger: ledger.to_owned(),
                refused: Arc::new(RwLock::new(refused)),
            },
            stream: stream.unwrap_or_else(|| wire::default_stream_name(ledger)),
        }
    }

    /// What the server needs of ledgerd.
    pub fn upstream(&self) -> Upstream {
        self.upstream.clone()
    }

    /// The copy's ledger (read-only), once it holds genesis.
    pub fn ledger(&self) -> Option<probity_ledger::Ledger> {
        self.lock().ok()?.ledger().cloned()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Mirror>, FollowError> {
        self.mirror
            .lock()
            .map_err(|_| FollowError::Storage("a writer of the copy panicked".into()))
    }

    /// One step: asks ledgerd for its latest checkpoint and, if it covers more than the copy
    /// holds, reads the records up to it from the stream, verifies and keeps them (telling
    /// `progress` records held and the checkpoint's size). Returns the copy's size.
    pub async fn step(
        &self,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, FollowError> {
        let (size, note) = self.latest_checkpoint().await?;
        let (from, expected) = {
            let mut mirror = self.lock()?;
            (mirror.size(), mirror.expect_checkpoint(size, note))
        };
        expected.map_err(|e| self.refuse(e.to_string()))?;
        if size <= from {
            return Ok(from);
        }
        self.read(from, size, progress).await
    }

    async fn latest_checkpoint(&self) -> Result<(u64, SignedNote), FollowError> {
        let reply = self
            .upstream
            .request(
                wire::checkpoint_subject(&self.upstream.ledger),
                b"{}".to_vec(),
            )
            .await
            .map_err(|e| FollowError::Unreachable(e.message))?;
        match serde_json::from_slice::<Reply<CheckpointReply>>(&reply) {
            Ok(Reply::Ok(CheckpointReply { size, note })) => SignedNote::parse(note.as_bytes())
                .map(|note| (size, note))
                .map_err(|e| FollowError::Unreachable(format!("ledgerd's checkpoint: {e}"))),
            Ok(Reply::Error(e)) => Err(FollowError::Unreachable(format!(
                "ledgerd's checkpoint: {} ({})",
                e.message, e.code
            ))),
            Err(e) => Err(FollowError::Unreachable(format!(
                "ledgerd's checkpoint: {e}"
            ))),
        }
    }

    /// Records `[from, to)` from the stream into the copy, through a consumer ledgerd makes
    /// (readers may not make one); a message lost on the way shows as a jump in the stream
    /// sequence and is read again.
    async fn read(
        &self,
        mut from: u64,
        to: u64,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, FollowError> {
        let unreachable = |e: &dyn std::fmt::Display| self.unreachable(e);
        let mut attempts = 0;
        'consumers: while from < to {
            attempts += 1;
            if attempts > 5 {
                return Err(unreachable(&format!(
                    "messages keep going missing at record {from}"
                )));
            }
            let mut messages = self.messages_from(from).await?;
            let mut batch = Vec::with_capacity(BATCH.min((to - from) as usize));
            while from + (batch.len() as u64) < to {
                let next = tokio::time::timeout(WAIT, messages.next())
                    .await
                    .map_err(|_| {
                        unreachable(&format!(
                            "no record {} within {} s",
                            from + batch.len() as u64,
                            WAIT.as_secs()
                        ))
                    })?;
                let message = self.delivered(next)?;
                let Some(record) = self.record_at(&message, from + batch.len() as u64 + 1)? else {
                    from = self.keep(std::mem::take(&mut batch)).await?;
                    progress(from, to);
                    continue 'consumers;
                };
                batch.push(record);
                if batch.len() == BATCH {
                    from = self.keep(std::mem::take(&mut batch)).await?;
                    progress(from, to);
                }
            }
            from = self.keep(batch).await?;
            progress(from, to);
        }
        Ok(from)
    }

    /// The stream's records from record `from` on, through a consumer ledgerd makes for this
    /// reader (readers may not make one); it delivers each once, so gaps are checked here.
    async fn messages_from(&self, from: u64) -> Result<Messages, FollowError> {
        let stream = async_nats::jetstream::new(self.upstream.client.clone())
            .get_stream(&self.stream)
            .await
            .map_err(|e| self.unreachable(&e))?;
        probity_nats::reader(&self.upstream.client, &stream, &self.upstream.ledger, from)
            .await
            .map_err(|e| self.unreachable(&e))?
            .messages()
            .await
            .map_err(|e| self.unreachable(&e))
    }

    /// The message a consumer delivered, or why there is none.
    fn delivered(
        &self,
        next: Option<Result<Message, MessagesError>>,
    ) -> Result<Message, FollowError> {
        next.ok_or_else(|| self.unreachable(&"the consumer ended"))?
            .map_err(|e| self.unreachable(&e))
    }

    /// The record in `message` if it is stream message `want` (record `want - 1`), `None` if
    /// another came (one went missing on the way); a message that is no record stops the copy.
    fn record_at(&self, message: &Message, want: u64) -> Result<Option<Record>, FollowError> {
        if !message.info().is_ok_and(|i| i.stream_sequence == want) {
            return Ok(None);
        }
        Record::from_json(&message.payload)
            .map(Some)
            .map_err(|e| self.refuse(format!("stream message {want} is not a record: {e}")))
    }

    fn unreachable(&self, e: &dyn std::fmt::Display) -> FollowError {
        FollowError::Unreachable(format!("stream {}: {e}", self.stream))
    }

    /// Hands `batch` to the copy: verified and written on this worker thread, which tokio
    /// hands its other tasks (`block_in_place`), so that the write is never cut off — a task
    /// aborted or a future dropped stops only at an await, between two writes.
    async fn keep(&self, batch: Vec<Record>) -> Result<u64, FollowError> {
        let kept = tokio::task::block_in_place(|| {
            let mut mirror = self.mirror.lock().map_err(|_| MirrorError::Refused {
                seq: 0,
                reason: "a writer of the copy panicked".into(),
            })?;
            mirror.add(&batch)
        });
        match kept {
            Ok(size) => Ok(size),
            Err(e @ MirrorError::Refused { .. }) => Err(self.refuse(e.to_string())),
            Err(e @ MirrorError::Gap { .. }) => Err(FollowError::Unreachable(e.to_string())),
            Err(e @ MirrorError::Ledger(_)) => Err(self.refuse(e.to_string())),
        }
    }

    fn refuse(&self, reason: String) -> FollowError {
        if let Ok(mut refused) = self.upstream.refused.write() {
            refused.get_or_insert_with(|| reason.clone());
        }
        FollowError::Refused(reason)
    }

    /// Follows until `shutdown`: takes each record as the stream delivers it (verified by its
    /// signature, as ledgerd's own tail past its latest checkpoint is), and checks and keeps
    /// each new checkpoint ledgerd signs (every [`POLL`]). A refusal stops following (the
    /// server keeps answering from the copy as verified, and `/readyz` says why); NATS or
    /// ledgerd being away is retried, from where the copy ends.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = POLL;
        let mut checkpoints = tokio::time::interval(POLL);
        checkpoints.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let followed = tokio::select! {
                followed = self.follow(&mut checkpoints) => followed,
                () = &mut shutdown => return,
            };
            match followed {
                Err(FollowError::Unreachable(e)) => {
                    tracing::warn!(error = %e, "ledgerd or its stream did not answer; trying again");
                }
                Err(e) => {
                    tracing::error!(error = %e, "stopped following the ledger; still answering from the copy as verified");
                    shutdown.await;
                    return;
                }
                Ok(()) => {
                    // A message went missing: read again from where the copy ends, at once.
                    backoff = POLL;
                    continue;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = &mut shutdown => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One consumer's worth of following: from where the copy ends until the consumer fails
    /// (an error says why) or a message goes missing on the way (`Ok`: read again from there).
    async fn follow(&self, checkpoints: &mut tokio::time::Interval) -> Result<(), FollowError> {
        let from = self.lock()?.size();
        let mut messages = self.messages_from(from).await?;
        let mut next = from + 1; // the stream sequence of record `from`
        let mut last_message = tokio::time::Instant::now();
        loop {
            let first = tokio::select! {
                message = messages.next() => message,
                _ = checkpoints.tick() => {
                    let latest = self.check_latest().await?;
                    // ledgerd has signed records the consumer has not delivered for a while
                    // (after NATS restarted, a pull consumer can sit silent until its
                    // heartbeats are missed): read again from where the copy ends.
                    if latest.is_some_and(|size| size >= next) && last_message.elapsed() > STALLED {
                        return Ok(());
                    }
                    continue;
                }
            };
            last_message = tokio::time::Instant::now();
            let mut batch = vec![self.delivered(first)?];
            while batch.len() < BATCH {
                match futures_util::FutureExt::now_or_never(messages.next()) {
                    Some(Some(Ok(message))) => batch.push(message),
                    _ => break,
                }
            }
            let mut records = Vec::with_capacity(batch.len());
            for message in &batch {
                let Some(record) = self.record_at(message, next)? else {
                    // Lost on the way (nothing is redelivered): keep what came in order, then
                    // read again from there.
                    self.keep(records).await?;
                    return Ok(());
                };
                records.push(record);
                next += 1;
            }
            self.keep(records).await?;
        }
    }

    /// Checks and keeps ledgerd's latest checkpoint (see [`Mirror::expect_checkpoint`]);
    /// returns its size (`None` when ledgerd did not answer).
    async fn check_latest(&self) -> Result<Option<u64>, FollowError> {
        let (size, note) = match self.latest_checkpoint().await {
            Ok(latest) => latest,
            Err(FollowError::Unreachable(e)) => {
                // ledgerd away for a moment: the records still come; checked next time.
                tracing::debug!(error = %e, "no checkpoint from ledgerd this time");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        // On this thread, as in `keep`.
        let checked = tokio::task::block_in_place(|| {
            let mut mirror = self.mirror.lock().map_err(|_| MirrorError::Refused {
                seq: 0,
                reason: "a writer of the copy panicked".into(),
            })?;
            mirror.expect_checkpoint(size, note)
        });
        checked.map_err(|e| self.refuse(e.to_string()))?;
        Ok(Some(size))
    }
}
