//! The outbox: every committed record is published, in order, to the ledger's JetStream
//! stream, with the record hash as `Nats-Msg-Id` and the expected last stream sequence, so the
//! stream is an exact copy of the book (stream sequence = record seq + 1). On start the stream
//! is checked against the book and whatever it lacks is published before appends are taken.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use probity_core::ids::Seq;
use probity_ledger::Ledger;
use tokio::sync::watch;

/// The one field of a stored record the publisher reads.
#[derive(serde::Deserialize)]
struct HashOnly {
    hash: probity_core::hash::Hash,
}

/// How many publishes may await their acknowledgement at once.
const WINDOW: usize = 256;

/// How many messages at the stream's end are compared with the book at start.
const TAIL_CHECKED: u64 = 16;

/// Why the stream and the book cannot be reconciled, or publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The stream holds more records than the book: the book lost acknowledged records, or the
    /// stream belongs to another ledger. ledgerd refuses to run rather than diverge.
    #[error("stream {stream} holds {stream_len} records but the book only {book_len}")]
    StreamAhead {
        /// Stream name.
        stream: String,
        /// Messages in the stream.
        stream_len: u64,
        /// Records in the book.
        book_len: u64,
    },
    /// The stream's last message is not the book's record at that position.
    #[error(
        "stream {stream} message {seq} is not the book's record {seq_book} (hash {book_hash})"
    )]
    Diverged {
        /// Stream name.
        stream: String,
        /// Stream sequence.
        seq: u64,
        /// Record seq.
        seq_book: u64,
        /// The book's hash.
        book_hash: String,
    },
    /// NATS or JetStream failed.
    #[error("jetstream: {0}")]
    Nats(String),
    /// The book could not be read.
    #[error("book: {0}")]
    Book(String),
}

fn nats<E: std::fmt::Display>(e: E) -> PublishError {
    PublishError::Nats(e.to_string())
}

/// Creates the stream if needed (file storage, no deletes, no purges).
pub async fn ensure_stream(
    js: &jetstream::Context,
    name: &str,
    subject: &str,
    replicas: usize,
) -> Result<stream::Stream, PublishError> {
    js.get_or_create_stream(stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.to_owned()],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(nats)
}

/// Publishes the book's records to the stream.
#[derive(Debug)]
pub struct Publisher {
    js: jetstream::Context,
    stream: stream::Stream,
    stream_name: String,
    subject: String,
    ledger: Ledger,
    published: u64,
}

impl Publisher {
    /// Checks the stream against the book and returns a publisher positioned at the end of
    /// the stream.
    pub async fn reconcile(
        js: jetstream::Context,
        mut stream: stream::Stream,
        stream_name: String,
        subject: String,
        ledger: Ledger,
    ) -> Result<Publisher, PublishError> {
        let last = stream.info().await.map_err(nats)?.state.last_sequence;
        let book_len = ledger.size();
        if last > book_len {
            return Err(PublishError::StreamAhead {
                stream: stream_name,
                stream_len: last,
                book_len,
            });
        }
        let mut publisher = Publisher {
            js,
            stream,
            stream_name,
            subject,
            ledger,
            published: 0,
        };
        // The tail, message by message (the last few): each must be the book's record there,
        // by message id and by the record it holds.
        publisher
            .check_stream(last.saturating_sub(TAIL_CHECKED) + 1, last)
            .await?;
        publisher.published = last;
        Ok(publisher)
    }

    /// Checks stream messages `from..=to` against the book: each must carry the book's record
    /// at that position (its hash as `Nats-Msg-Id`, and the record itself).
    async fn check_stream(&mut self, from: u64, to: u64) -> Result<(), PublishError> {
        for seq in from..=to {
            let message = self.stream.get_raw_message(seq).await.map_err(nats)?;
            let id = message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            let held = probity_core::record::Record::from_json(&message.payload)
                .ok()
                .map(|r| (r.seq.0, r.hash));
            let record = self
                .ledger
                .record(Seq(seq - 1))
                .map_err(|e| PublishError::Book(e.to_string()))?
                .ok_or_else(|| PublishError::Book(format!("record {} missing", seq - 1)))?;
            if id != record.hash.to_hex() || held != Some((seq - 1, record.hash)) {
                return Err(PublishError::Diverged {
                    stream: self.stream_name.clone(),
                    seq,
                    seq_book: seq - 1,
                    book_hash: record.hash.to_hex(),
                });
            }
        }
        Ok(())
    }

    /// Records in the stream.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// Publishes everything up to `target` records, a window at a time.
    pub async fn publish_up_to(&mut self, target: u64) -> Result<(), PublishError> {
        while self.published < target {
            let end = target.min(self.published + WINDOW as u64);
            let mut acks = Vec::with_capacity(WINDOW);
            for seq in self.published..end {
                let json = self
                    .ledger
                    .book()
                    .record_json(Seq(seq))
                    .map_err(|e| PublishError::Book(e.to_string()))?
                    .ok_or_else(|| PublishError::Book(format!("record {seq} missing")))?;
                // Only the hash is needed: skip decoding the rest of the record.
                let HashOnly { hash } =
                    serde_json::from_slice(&json).map_err(|e| PublishError::Book(e.to_string()))?;
                let publish = PublishMessage::build()
                    .payload(bytes::Bytes::copy_from_slice(&json))
                    .message_id(hash.to_hex())
                    .expected_last_sequence(seq);
                acks.push(
                    self.js
                        .send_publish(self.subject.clone(), publish)
                        .await
                        .map_err(nats)?,
                );
            }
            for ack in acks {
                match ack.await {
                    Ok(_) => self.published += 1,
                    Err(e)
                        if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence =>
                    {
                        // The stream got further than we knew: an earlier run of ours (then
                        // every message is the book's record there), or someone else's message
                        // (then it is not). Never skip over what is there without checking it.
                        let last = self.stream.info().await.map_err(nats)?.state.last_sequence;
                        if last > self.ledger.size() {
                            return Err(PublishError::StreamAhead {
                                stream: self.stream_name.clone(),
                                stream_len: last,
                                book_len: self.ledger.size(),
                            });
                        }
                        self.check_stream(self.published + 1, last).await?;
                        self.published = last;
                        tracing::info!(stream = %self.stream_name, published = self.published, "resynchronised with the stream, message by message");
                        break;
                    }
                    Err(e) => return Err(nats(e)),
                }
            }
        }
        Ok(())
    }

    /// Follows the committed size until `stop` turns true, then publishes what remains.
    /// Returns an error when the stream disagrees with the book: ledgerd then stops rather
    /// than publish past a message that is not the book's (NATS failures are retried).
    pub async fn run(
        mut self,
        mut size: watch::Receiver<u64>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), PublishError> {
        let mut backoff = Duration::from_millis(50);
        loop {
            let target = *size.borrow_and_update();
            match self.publish_up_to(target).await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e @ (PublishError::Diverged { .. } | PublishError::StreamAhead { .. })) => {
                    tracing::error!(error = %e, "the stream is not a copy of the book: stopping; the book is intact, the stream needs an operator");
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(error = %e, published = self.published, "publishing to the stream failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
            if *stop.borrow() {
                return Ok(());
            }
            tokio::select! {
                changed = size.changed() => if changed.is_err() { return Ok(()) },
                _ = stop.changed() => {}
            }
        }
    }
}
