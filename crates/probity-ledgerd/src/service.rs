//! The NATS service: append intake and the read-only queries, with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, Message};
use futures_util::StreamExt;
use probity_core::checkpoint::VerifierKey;
use probity_core::receipt::Receipt;
use probity_ledger::requests::{self, bounded_error, error, into_reply, parse, LedgerQuery};
use probity_ledger::wire::{self, AppendMessage, Reply, WireError};
use probity_ledger::Ledger;
use probity_wire::ErrorCode;
use serde::Serialize;
use tokio::sync::{watch, Semaphore};

use crate::metrics::ServiceMetrics;
use crate::publisher::{ensure_stream, PublishError, Publisher};

/// What the service needs besides the ledger and the connection.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Stream name.
    pub stream_name: String,
    /// Stream replicas.
    pub replicas: usize,
    /// Appends in flight at once.
    pub max_in_flight: usize,
    /// Witnesses whose cosignatures (`probity.<ledger>.cosign`) are attached to checkpoints.
    pub witnesses: Vec<VerifierKey>,
    /// Witnesses ledgerd asks to cosign each new checkpoint (C2SP tlog-witness over HTTP).
    pub http_witnesses: Vec<crate::witnesses::HttpWitness>,
    /// Appends and refusals, counted as they are answered.
    pub metrics: Arc<ServiceMetrics>,
}

/// Why the service stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The stream could not be reconciled with the book.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// NATS failed.
    #[error("nats: {0}")]
    Nats(String),
}

/// Whether a request may be answered: only on a reply inbox (`probity_nats::is_inbox`). A
/// reply subject anywhere else (the records stream, another service's subject) is refused and
/// logged; so is a request with none, or a message a push consumer delivered (its reply is a
/// `$JS.ACK` subject), before anything is parsed.
fn answerable(message: &Message, what: &str) -> bool {
    /// Refusals so far: logged at the 1st, 2nd, 4th, 8th… so that a flood of them (a push
    /// consumer delivering the stream onto the intake, say) cannot flood the log too.
    static REFUSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    match &message.reply {
        Some(reply) if probity_nats::is_inbox(reply) => true,
        reply => {
            let refused = REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if refused.is_power_of_two() {
                let shown: String = reply
                    .as_deref()
                    .unwrap_or("(none)")
                    .chars()
                    .take(80)
                    .collect();
                tracing::warn!(subject = %message.subject, reply = %shown, refused, "{what} refused: its reply subject is not an inbox");
            }
            false
        }
    }
}

async fn respond<T: Serialize>(client: &Client, message: &Message, reply: Reply<T>) {
    let Some(to) = message.reply.clone().filter(|r| probity_nats::is_inbox(r)) else {
        return;
    };
    match serde_json::to_vec(&reply) {
        Ok(bytes) => {
            if let Err(e) = client.publish(to, bytes.into()).await {
                tracing::warn!(error = %e, "could not send a reply");
            }
        }
        Err(e) => tracing::error!(error = %e, "could not encode a reply"),
    }
}

async fn handle_append(
    ledger: Ledger,
    metrics: Arc<ServiceMetrics>,
    client: Client,
    message: Message,
) {
    let result = match parse::<AppendMessage>(&message.payload) {
        Err(e) => Err(e),
        Ok(request) => ledger
            .append_async(request.into())
            .await
            .map_err(|e| bounded_error(WireError::from(&e))),
    };
    if let Err(e) = &result {
        tracing::info!(code = %e.code, message = %e.message, "append refused");
    }
    metrics.append(result.as_ref().err().map(|e| e.code.as_str()));
    respond(&client, &message, into_reply(result)).await;
}

/// A batch: every event checked and appended as a single append would be, one reply each.
async fn handle_append_batch(
    ledger: Ledger,
    metrics: Arc<ServiceMetrics>,
    client: Client,
    message: Message,
) {
    let result = match requests::parse_batch(&message.payload) {
        Err(e) => Err(e),
        Ok(events) => tokio::task::spawn_blocking(move || requests::append_batch(&ledger, events))
            .await
            .map_err(|e| error(ErrorCode::Internal, e.to_string())),
    };
    match &result {
        Err(e) => tracing::info!(code = %e.code, message = %e.message, "batch refused"),
        Ok(replies) => {
            for reply in replies {
                match reply {
                    Reply::Error(e) => {
                        tracing::info!(code = %e.code, message = %e.message, "append refused");
                        metrics.append(Some(e.code.as_str()));
                    }
                    Reply::Ok(_) => metrics.append(None),
                }
            }
        }
    }
    respond(&client, &message, into_reply(result)).await;
}

async fn handle_query(
    ledger: Ledger,
    witnesses: Arc<Vec<VerifierKey>>,
    client: Client,
    message: Message,
) {
    let subject = message.subject.to_string();
    let payload = message.payload.clone();
    let lookup = ledger.clone();
    let result = tokio::task::spawn_blocking(move || {
        match LedgerQuery::of_subject(lookup.ledger_id(), &subject) {
            Some(query) => requests::answer(&lookup, &witnesses, query, &payload),
            None => Err(error(
                ErrorCode::UnknownSubject,
                format!("no query on {subject}"),
            )),
        }
    })
    .await
    .unwrap_or_else(|e| Err(error(ErrorCode::Internal, e.to_string())));
    respond(&client, &message, into_reply(result)).await;
}

/// How long a reader's consumer lives unused before the server removes it.
const READER_INACTIVE: Duration = Duration::from_secs(30);

/// At most this many reader consumers are made per [`READER_INACTIVE`]: each lives that long
/// unused, so this bounds how many a flood of read requests can leave on the server.
const READERS_PER_WINDOW: u32 = 64;

/// Counts the reader consumers made in the current window.
#[derive(Debug)]
struct ReaderBudget {
    window_start: tokio::time::Instant,
    made: u32,
}

impl ReaderBudget {
    fn new() -> ReaderBudget {
        ReaderBudget {
            window_start: tokio::time::Instant::now(),
            made: 0,
        }
    }

    /// Takes one from the budget; false when it is spent for this window.
    fn take(&mut self) -> bool {
        if self.window_start.elapsed() >= READER_INACTIVE {
            *self = ReaderBudget::new();
        }
        self.made += 1;
        self.made <= READERS_PER_WINDOW
    }
}

/// A reader asks for a consumer of the stream from a record on (`probity.<ledger>.read`):
/// ledgerd makes an ephemeral pull consumer (no deliver subject, so it cannot push the stream
/// anywhere; an unguessable name; no acks; removed when unused) and names it.
async fn handle_read(
    js: async_nats::jetstream::Context,
    stream_name: String,
    client: Client,
    message: Message,
) {
    use async_nats::jetstream::consumer::{self, pull};
    let result = async {
        let request: wire::ReadRequest = parse(&message.payload)?;
        let start_sequence = request
            .from
            .checked_add(1)
            .ok_or_else(|| error(ErrorCode::BadRequest, "from is out of range"))?;
        let stream = js
            .get_stream(&stream_name)
            .await
            .map_err(|e| error(ErrorCode::Unavailable, format!("the stream: {e}")))?;
        let mut secret = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
        let name = format!(
            "reader-{}",
            probity_core::hash::Hash::digest_parts(&[&secret]).to_hex()
        );
        stream
            .create_consumer(pull::Config {
                name: Some(name.clone()),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence },
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: READER_INACTIVE,
                memory_storage: true,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                error(
                    ErrorCode::Unavailable,
                    format!("a consumer of the stream: {e}"),
                )
            })?;
        Ok(wire::ReadReply {
            stream: stream_name,
            consumer: name,
        })
    }
    .await;
    respond(&client, &message, into_reply(result)).await;
}

/// What startup produces: the stream caught up, the subscriptions open.
struct Started {
    publisher: Publisher,
    /// Single appends and batches.
    appends: futures_util::stream::SelectAll<async_nats::Subscriber>,
    queries: futures_util::stream::SelectAll<async_nats::Subscriber>,
    /// Readers asking for consumers of the stream.
    reads: async_nats::Subscriber,
}

/// Creates or checks the stream, reconciles it with the book and publishes what it lacks;
/// returns the publisher and how many records it republished.
async fn reconcile(
    ledger: &Ledger,
    js: &async_nats::jetstream::Context,
    config: &ServiceConfig,
    subject: &str,
) -> Result<(Publisher, u64), ServiceError> {
    let stream = ensure_stream(js, &config.stream_name, subject, config.replicas).await?;
    let mut publisher = Publisher::reconcile(
        js.clone(),
        stream,
        config.stream_name.clone(),
        subject.to_owned(),
        ledger.clone(),
    )
    .await?;
    let backlog = ledger.size() - publisher.published();
    publisher.publish_up_to(ledger.size()).await?;
    Ok((publisher, backlog))
}

/// Reconciles the stream with the book and publishes what it lacks, then subscribes.
async fn start(
    ledger: &Ledger,
    client: &Client,
    config: &ServiceConfig,
) -> Result<Started, ServiceError> {
    let ledger_id = ledger.ledger_id().to_owned();
    let js = async_nats::jetstream::new(client.clone());
    let subject = wire::records_subject(&ledger_id);
    // A cluster that is still electing its JetStream leaders answers nothing (or 503) for a
    // while, also after the stream exists: retry NATS failures, never a divergence.
    let mut wait = Duration::from_millis(200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (publisher, backlog) = loop {
        match reconcile(ledger, &js, config, &subject).await {
            Ok(reconciled) => break reconciled,
            Err(e @ ServiceError::Nats(_) | e @ ServiceError::Publish(PublishError::Nats(_)))
                if tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = %e, "JetStream not ready; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    };
    tracing::info!(stream = %config.stream_name, republished = backlog, "stream caught up with the book");

    let nats = |e: async_nats::SubscribeError| ServiceError::Nats(e.to_string());
    let appends = futures_util::stream::select_all([
        client
            .subscribe(wire::append_subject(&ledger_id))
            .await
            .map_err(nats)?,
        client
            .subscribe(wire::append_batch_subject(&ledger_id))
            .await
            .map_err(nats)?,
    ]);
    let queries = futures_util::stream::select_all([
        client
            .subscribe(wire::status_subject(&ledger_id))
            .await
            .map_err(nats)?,
        client
            .subscribe(wire::checkpoint_subject(&ledger_id))
            .await
            .map_err(nats)?,
        client
            .subscribe(wire::inclusion_subject(&ledger_id))
            .await
            .map_err(nats)?,
        client
            .subscribe(wire::consistency_subject(&ledger_id))
            .await
            .map_err(nats)?,
        client
            .subscribe(wire::cosign_subject(&ledger_id))
            .await
            .map_err(nats)?,
        client
            .subscribe(wire::version_subject(&ledger_id))
            .await
            .map_err(nats)?,
    ]);
    let reads = client
        .subscribe(wire::read_subject(&ledger_id))
        .await
        .map_err(nats)?;
    client
        .flush()
        .await
        .map_err(|e| ServiceError::Nats(e.to_string()))?;
    Ok(Started {
        publisher,
        appends,
        queries,
        reads,
    })
}

/// Runs the service until `shutdown` resolves, then stops taking requests, finishes what is in
/// flight, closes the ledger (final checkpoint, flush) and publishes what the stream lacks. A
/// shutdown during startup (e.g. while the cluster elects a leader) stops at once.
pub async fn serve(
    ledger: Ledger,
    client: Client,
    config: ServiceConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let ledger_id = ledger.ledger_id().to_owned();
    tokio::pin!(shutdown);
    let Started {
        publisher,
        mut appends,
        mut queries,
        mut reads,
    } = tokio::select! {
        started = start(&ledger, &client, &config) => started?,
        () = &mut shutdown => {
            tracing::info!("stopped during startup");
            let closing = ledger.clone();
            let _ = tokio::task::spawn_blocking(move || closing.close()).await;
            return Ok(());
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (witness_stop, witness_stopped) = watch::channel(false);
    let witnessing = tokio::spawn(crate::witnesses::run(
        ledger.clone(),
        config.http_witnesses.clone(),
        Duration::from_millis(500),
        witness_stopped,
    ));
    let mut publishing = tokio::spawn(publisher.run(ledger.watch_size(), stop_rx));
    let mut diverged = None;
    tracing::info!(ledger = %ledger_id, size = ledger.size(), "ledgerd ready");

    let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
    let mut readers = ReaderBudget::new();
    let batch_subject = wire::append_batch_subject(&ledger_id);
    let witnesses = Arc::new(config.witnesses.clone());
    loop {
        tokio::select! {
            message = appends.next() => {
                let Some(message) = message else { break };
                if !answerable(&message, "append") {
                    continue;
                }
                let batch = message.subject.as_str() == batch_subject;
                // A batch holds a permit per event it may carry (within the limit).
                let permits = if batch { wire::MAX_BATCH_EVENTS.min(config.max_in_flight) } else { 1 };
                // Full: say so at once. Waiting would leave requests queued in memory (and
                // NATS would in the end drop ledgerd as a slow consumer).
                // Invariant: max_in_flight ≤ MAX_IN_FLIGHT_LIMIT (checked with the config).
                let permits = u32::try_from(permits).unwrap_or(u32::MAX);
                let Ok(permit) = in_flight.clone().try_acquire_many_owned(permits) else {
                    let busy = error(ErrorCode::Busy, format!("{} appends are in flight; try again shortly", config.max_in_flight));
                    config.metrics.append(Some(ErrorCode::Busy.as_str()));
                    respond::<Receipt>(&client, &message, Reply::Error(busy)).await;
                    continue;
                };
                let (ledger, client, metrics) = (ledger.clone(), client.clone(), config.metrics.clone());
                tokio::spawn(async move {
                    if batch {
                        handle_append_batch(ledger, metrics, client, message).await;
                    } else {
                        handle_append(ledger, metrics, client, message).await;
                    }
                    drop(permit);
                });
            }
            message = reads.next() => {
                let Some(message) = message else { break };
                if !answerable(&message, "read") {
                    continue;
                }
                if !readers.take() {
                    let busy = error(ErrorCode::Busy, format!("{READERS_PER_WINDOW} readers were given a consumer in the last {} s; try again shortly", READER_INACTIVE.as_secs()));
                    respond::<wire::ReadReply>(&client, &message, Reply::Error(busy)).await;
                    continue;
                }
                let js = async_nats::jetstream::new(client.clone());
                tokio::spawn(handle_read(js, config.stream_name.clone(), client.clone(), message));
            }
            message = queries.next() => {
                let Some(message) = message else { break };
                if !answerable(&message, "query") {
                    continue;
                }
                tokio::spawn(handle_query(ledger.clone(), witnesses.clone(), client.clone(), message));
            }
            () = &mut shutdown => {
                tracing::info!("shutting down: no new requests");
                break;
            }
            // The publisher ends on its own only when the stream is not a copy of the book.
            ended = &mut publishing => {
                if let Ok(Err(e)) = ended {
                    diverged = Some(e);
                }
                break;
            }
        }
    }
    for subscription in appends.iter_mut() {
        let _ = subscription.unsubscribe().await;
    }
    drop(queries);
    drop(reads);
    // Wait for every append in flight to be answered.
    let _ = in_flight
        .acquire_many(u32::try_from(config.max_in_flight).unwrap_or(u32::MAX))
        .await;
    // The witness client attaches cosignatures to the book: it stops before the book closes.
    let _ = witness_stop.send(true);
    let _ = witnessing.await;
    let closing = ledger.clone();
    let _ = tokio::task::spawn_blocking(move || closing.close()).await;
    let _ = stop_tx.send(true);
    if diverged.is_none() && !publishing.is_finished() {
        match tokio::time::timeout(Duration::from_secs(10), &mut publishing).await {
            Err(_) => tracing::warn!(
                "the stream did not catch up within 10 s; the next start publishes the rest"
            ),
            Ok(Ok(Err(e))) => diverged = Some(e),
            Ok(_) => {}
        }
    }
    let _ = client.flush().await;
    tracing::info!(size = ledger.size(), "ledgerd stopped");
    match diverged {
        Some(e) => Err(ServiceError::Publish(e)),
        None => Ok(()),
    }
}
