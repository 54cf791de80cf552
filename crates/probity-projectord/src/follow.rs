//! projectord over NATS: follows the ledger's JetStream stream from the views' cursor through a
//! pull consumer ledgerd makes for it (`probity_nats::reader`; stream sequence = record seq + 1,
//! checked message by message; the sled cursor, not a server-side consumer, is the truth about
//! what was applied), fetches ledger checkpoints to check, and answers
//! `probity.<ledger>.query.*`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::{Client, Message};
use futures_util::StreamExt;
use probity_core::checkpoint::{SignedNote, VerifierKey};
use probity_core::record::Record;
use probity_wire::{self as wire, CheckpointReply, ErrorCode, Reply, WireError};
use tokio::sync::watch;

use probity_views::answers::Zone;
use probity_views::query::{self, ProjectorStatus};
use probity_views::{ProjectError, Projector};

/// Where to follow from and where to keep the views.
#[derive(Clone, Debug)]
pub struct FollowConfig {
    /// The ledger id.
    pub ledger: String,
    /// The JetStream stream (default `PROBITY_<LEDGER>`).
    pub stream: String,
    /// The views directory.
    pub views: PathBuf,
    /// Most records applied (and committed) in one batch.
    pub max_batch: usize,
    /// How often to fetch the latest ledger checkpoint.
    pub checkpoint_every: Duration,
    /// The ledger's checkpoint key, pinned by the operator. Without it, checkpoints are checked
    /// against the key the stream's genesis record names (trust on first use: a forged stream
    /// could come with its own genesis and checkpoints).
    pub ledger_vkey: Option<VerifierKey>,
    /// Verify again the record a previous run refused (see [`Projector::clear_halt`]).
    pub retry_halted: bool,
    /// The hospital's offset: the answers' times are written at it.
    pub zone: Zone,
}

impl FollowConfig {
    /// Defaults for `ledger` with views in `views`.
    pub fn new(ledger: &str, views: PathBuf) -> FollowConfig {
        FollowConfig {
            ledger: ledger.to_owned(),
            stream: wire::default_stream_name(ledger),
            views,
            max_batch: 4096,
            checkpoint_every: Duration::from_secs(2),
            ledger_vkey: None,
            retry_halted: false,
            zone: Zone::default(),
        }
    }
}

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The projector refused a record or its store failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// NATS or JetStream failed.
    #[error("jetstream: {0}")]
    Nats(String),
}

fn nats<E: std::fmt::Display>(e: E) -> FollowError {
    FollowError::Nats(e.to_string())
}

/// A running follower's shared state.
#[derive(Clone, Debug)]
pub struct Shared {
    projector: Arc<RwLock<Projector>>,
    head: Arc<AtomicU64>,
    applied: watch::Sender<u64>,
    zone: Zone,
}

impl Shared {
    /// Watches the number of records applied (and committed).
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// The status: cursor, head, lag; with the state hash when asked (it reads every row).
    pub fn status(&self, with_hash: bool) -> Result<ProjectorStatus, WireError> {
        let projector = self.projector.read().unwrap_or_else(|e| e.into_inner());
        let cursor = projector.cursor();
        let head = self.head.load(Ordering::Relaxed).max(cursor.applied);
        let behind = head - cursor.applied;
        let seconds_behind = if behind == 0 || cursor.last_recorded_at == 0 {
            0.0
        } else {
            (probity_ledger::now().unix_micros() - cursor.last_recorded_at).max(0) as f64 / 1e6
        };
        let state_hash = if with_hash {
            projector
                .store()
                .state_hash()
                .map_err(|e| WireError::new(ErrorCode::Internal, e.to_string()))?
                .to_hex()
        } else {
            String::new()
        };
        Ok(ProjectorStatus {
            applied: cursor.applied,
            head,
            records_behind: behind,
            seconds_behind,
            state_hash,
            halted: cursor.halted.clone(),
        })
    }
}

fn answer(shared: &Shared, kind: &str, payload: &[u8]) -> Result<serde_json::Value, WireError> {
    if kind == "status" {
        let q = query::StatusQuery::parse(payload)?;
        return serde_json::to_value(shared.status(q.state_hash)?)
            .map_err(|e| WireError::new(ErrorCode::Internal, e.to_string()));
    }
    let projector = shared.projector.read().unwrap_or_else(|e| e.into_inner());
    query::answer(
        projector.projection(),
        kind,
        payload,
        probity_ledger::now().unix_micros(),
        shared.zone,
    )
}

async fn respond(client: Client, message: Message, shared: Shared) {
    // Only on a reply inbox: a request naming any other reply subject would have projectord
    // publish where the requester may not (see probity_nats::is_inbox).
    let Some(reply_to) = message.reply.clone().filter(|r| probity_nats::is_inbox(r)) else {
        let shown: String = message
            .reply
            .as_deref()
            .unwrap_or("(none)")
            .chars()
            .take(80)
            .collect();
        tracing::warn!(subject = %message.subject, reply = %shown, "query refused: its reply subject is not an inbox");
        return;
    };
    let kind = message
        .subject
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let result = tokio::task::spawn_blocking(move || answer(&shared, &kind, &message.payload))
        .await
        .unwrap_or_else(|e| Err(WireError::new(ErrorCode::Internal, e.to_string())));
    let reply = match result {
        Ok(v) => Reply::Ok(v),
        Err(e) => Reply::Error(e),
    };
    match serde_json::to_vec(&reply) {
        Ok(bytes) => {
            if let Err(e) = client.publish(reply_to, bytes.into()).await {
                tracing::warn!(error = %e, "could not send a query reply");
            }
        }
        Err(e) => tracing::error!(error = %e, "could not encode a query reply"),
    }
}

/// Opens the views and starts answering queries; [`Follower::run`] then follows the stream.
#[derive(Debug)]
pub struct Follower {
    client: Client,
    config: FollowConfig,
    shared: Shared,
}

impl Follower {
    /// Opens the views in `config.views` and subscribes to the query subjects.
    pub async fn start(client: Client, config: FollowConfig) -> Result<Follower, FollowError> {
        let views = config.views.clone();
        let mut projector = tokio::task::spawn_blocking(move || Projector::open(&views))
            .await
            .map_err(nats)?
            .map_err(ProjectError::from)?;
        if config.retry_halted {
            if let Some(halt) = projector.clear_halt().map_err(ProjectError::from)? {
                tracing::warn!(seq = halt.seq, reason = %halt.reason, "retrying the record refused before");
            }
        }
        match &config.ledger_vkey {
            Some(key) => projector.pin_log_key(key.clone()),
            None => tracing::warn!(
                "no --ledger-vkey: checkpoints are checked against the key the stream's genesis names"
            ),
        }
        let (applied, _) = watch::channel(projector.applied());
        let shared = Shared {
            projector: Arc::new(RwLock::new(projector)),
            head: Arc::new(AtomicU64::new(0)),
            applied,
            zone: config.zone,
        };
        let mut queries = client
            .subscribe(query::subject(&config.ledger, "*"))
            .await
            .map_err(nats)?;
        client.flush().await.map_err(nats)?;
        let (answering, handle) = (client.clone(), shared.clone());
        tokio::spawn(async move {
            while let Some(message) = queries.next().await {
                tokio::spawn(respond(answering.clone(), message, handle.clone()));
            }
        });
        Ok(Follower {
            client,
            config,
            shared,
        })
    }

    /// The state shared with the query handlers.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Follows the stream until `shutdown` resolves. A record that does not verify stops the
    /// following (the halt is stored and shown by `status`) but not the queries.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), FollowError> {
        tokio::pin!(shutdown);
        let js = jetstream::new(self.client.clone());
        let stream = loop {
            tokio::select! {
                found = js.get_stream(&self.config.stream) => match found {
                    Ok(stream) => break stream,
                    Err(e) => tracing::warn!(stream = %self.config.stream, error = %e, "stream not there yet; retrying"),
                },
                () = &mut shutdown => return Ok(()),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        // The latest checkpoint before the first batch, so a catch-up is checked against it
        // (and takes the covered path) from the start.
        self.fetch_checkpoint().await;
        let mut checkpoints = tokio::time::interval(self.config.checkpoint_every);
        let mut backoff = Duration::from_millis(200);
        // One consumer at a time, made from the views' own cursor: when NATS restarts or the
        // stream's leader moves and the consumer is gone, a new one takes over from where the
        // views stand (nothing is skipped, nothing applied twice).
        'consumers: loop {
            let start = self.shared.applied.borrow().to_owned();
            // ledgerd makes the consumer (readers may not: a push consumer could deliver the
            // stream anywhere); it delivers once, without acks, so gaps are checked here.
            let created =
                probity_nats::reader(&self.client, &stream, &self.config.ledger, start).await;
            let mut messages = match created {
                Ok(consumer) => match consumer.messages().await {
                    Ok(messages) => messages,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the stream; retrying");
                        if self.pause(&mut backoff, &mut shutdown).await {
                            break 'consumers;
                        }
                        continue 'consumers;
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create a consumer of the stream; retrying");
                    if self.pause(&mut backoff, &mut shutdown).await {
                        break 'consumers;
                    }
                    continue 'consumers;
                }
            };
            tracing::info!(stream = %self.config.stream, from = start, "following");
            // The stream sequence the next message must have (record seq + 1).
            let mut expected = start + 1;
            loop {
                let first = tokio::select! {
                    next = messages.next() => next,
                    _ = checkpoints.tick() => {
                        self.fetch_checkpoint().await;
                        continue;
                    }
                    () = &mut shutdown => break 'consumers,
                };
                let first = match first {
                    Some(Ok(first)) => first,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "the stream's consumer failed; making a new one");
                        if self.pause(&mut backoff, &mut shutdown).await {
                            break 'consumers;
                        }
                        continue 'consumers;
                    }
                    // The consumer's messages ended (it was removed, the connection closed):
                    // only a stop signal ends following, so get a new one.
                    None => {
                        tracing::warn!("the stream's consumer ended; making a new one");
                        if self.pause(&mut backoff, &mut shutdown).await {
                            break 'consumers;
                        }
                        continue 'consumers;
                    }
                };
                backoff = Duration::from_millis(200);
                let mut batch = vec![first];
                // Take whatever else has already arrived, up to the batch limit.
                while batch.len() < self.config.max_batch {
                    match futures_util::FutureExt::now_or_never(messages.next()) {
                        Some(Some(Ok(next))) => batch.push(next),
                        _ => break,
                    }
                }
                // A message lost between the server and here (nothing is redelivered without
                // acks) shows as a jump: apply what came in order, then read again from there.
                let in_order = batch
                    .iter()
                    .zip(expected..)
                    .take_while(|(m, want)| m.info().is_ok_and(|i| i.stream_sequence == *want))
                    .count();
                let gap = in_order < batch.len();
                batch.truncate(in_order);
                expected += in_order as u64;
                let applied = if batch.is_empty() {
                    Ok(())
                } else {
                    self.apply(batch).await
                };
                match applied {
                    Err(FollowError::Project(ProjectError::Halted(halt))) => {
                        // Keep serving the views as verified so far, with the halt in `status`
                        // (an exit would only be restarted into the same record).
                        tracing::error!(seq = halt.seq, reason = %halt.reason, "stopped following at a record that does not verify; still answering queries");
                        shutdown.await;
                        return Ok(());
                    }
                    other => other?,
                }
                if gap {
                    tracing::warn!(expected, "a stream message went missing on the way; reading again from the views' cursor");
                    continue 'consumers;
                }
            }
        }
        tracing::info!("stopped following");
        Ok(())
    }

    /// Waits `backoff` (doubling it, up to 5 s); true when shutdown came first.
    async fn pause(
        &self,
        backoff: &mut Duration,
        shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(Duration::from_secs(5));
        tokio::select! {
            () = tokio::time::sleep(wait) => false,
            () = shutdown.as_mut() => true,
        }
    }

    async fn apply(&self, batch: Vec<jetstream::Message>) -> Result<(), FollowError> {
        let pending = batch
            .last()
            .and_then(|m| m.info().ok().map(|i| (i.stream_sequence, i.pending)));
        // The records up to the first message that is not one (in its one form); that one
        // halts the projection at its place, like a record that does not verify.
        let mut records = Vec::with_capacity(batch.len());
        let mut not_a_record = None;
        for message in &batch {
            match Record::from_json(&message.payload) {
                Ok(record) => records.push(record),
                Err(e) => {
                    let stream_seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
                    not_a_record = Some((
                        stream_seq.saturating_sub(1),
                        format!("stream message {stream_seq} is not a record: {e}"),
                    ));
                    break;
                }
            }
        }
        let projector = self.shared.projector.clone();
        let applied = tokio::task::spawn_blocking(move || {
            let mut projector = projector.write().unwrap_or_else(|e| e.into_inner());
            let mut result = projector.apply(&records);
            if let (Ok(()), Some((seq, reason))) = (&result, not_a_record) {
                result = Err(projector.halt(seq, reason));
            }
            (projector.applied(), result)
        })
        .await
        .map_err(nats)?;
        if let Some((stream_seq, pending)) = pending {
            self.shared
                .head
                .store(stream_seq + pending, Ordering::Relaxed);
        }
        self.shared.applied.send_replace(applied.0);
        applied.1.map_err(FollowError::from)
    }

    async fn fetch_checkpoint(&self) {
        let subject = wire::checkpoint_subject(&self.config.ledger);
        let reply = match tokio::time::timeout(
            Duration::from_secs(2),
            self.client.request(subject, bytes::Bytes::new()),
        )
        .await
        {
            Ok(Ok(reply)) => reply,
            _ => return, // ledgerd away: checked again later
        };
        let Ok(Reply::Ok(CheckpointReply { size, note })) =
            serde_json::from_slice::<Reply<CheckpointReply>>(&reply.payload)
        else {
            return;
        };
        match SignedNote::parse(note.as_bytes()) {
            Ok(note) => {
                let mut projector = self
                    .shared
                    .projector
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                projector.add_checkpoint(note, size);
            }
            Err(e) => tracing::warn!(error = %e, "ledger checkpoint does not parse"),
        }
    }
}
