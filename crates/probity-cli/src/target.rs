//! Where a command sends its requests: the book in a data directory (embedded, no server) or
//! a running ledgerd over NATS. Both speak the same request and reply types.

use std::path::Path;
use std::time::Duration;

use probity_core::receipt::Receipt;
use probity_ledger::wire::{self, AppendMessage, Reply, WireError};
use probity_ledger::{datadir, Ledger, Status};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Failure;

/// The ledger a command talks to.
pub enum Target {
    /// The book in a data directory, opened in this process.
    Embedded(Ledger),
    /// A running ledgerd.
    Nats {
        /// The connection.
        client: async_nats::Client,
        /// The ledger id (part of every subject).
        ledger: String,
        /// A runtime for the async client (boxed: it is large, and there is one per process).
        runtime: Box<tokio::runtime::Runtime>,
        /// What the server reported as errors (permissions violations).
        server_errors: probity_nats::ServerErrors,
    },
}

pub use probity_ledger::datadir::{book_dir, ledger_key_path};

impl Target {
    /// Opens the book in `data`.
    pub fn embedded(data: &Path) -> Result<Target, Failure> {
        let ledger = datadir::open(data).map_err(|e| open_failure(data, e))?;
        Ok(Target::Embedded(ledger))
    }

    /// Connects to NATS.
    pub fn nats(url: &str, ledger: &str) -> Result<Target, Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Input(e.to_string()))?;
        let server_errors = probity_nats::ServerErrors::default();
        let connection = probity_nats::Connection {
            name: "probity",
            urls: url.to_owned(),
            credentials: None,
            retry_initial: false,
            subscription_capacity: None,
            server_errors: Some(server_errors.clone()),
        };
        let client = runtime
            .block_on(connection.connect())
            .map_err(|e| match e {
                probity_nats::ConnectError::BadUrl { .. } => Failure::Input(e.to_string()),
                probity_nats::ConnectError::Unreachable { .. } => {
                    Failure::Unreachable(e.to_string())
                }
            })?;
        Ok(Target::Nats {
            client,
            ledger: ledger.to_owned(),
            runtime: Box::new(runtime),
            server_errors,
        })
    }

    /// Sends a request over NATS; `Ok(Err(_))` is the service's refusal.
    pub fn request<Q: Serialize, A: DeserializeOwned>(
        &self,
        subject: String,
        body: &Q,
    ) -> Result<Result<A, WireError>, Failure> {
        let Target::Nats {
            client,
            runtime,
            server_errors,
            ..
        } = self
        else {
            return Err(Failure::Input("not connected to NATS".into()));
        };
        let payload = serde_json::to_vec(body).map_err(|e| Failure::Input(e.to_string()))?;
        let seen = server_errors.seen();
        let reply = runtime
            .block_on(async {
                let request = client.request(subject.clone(), payload.into());
                // A permissions violation comes back at once as a server error while the
                // request itself would wait out its timeout: stop waiting when one names this
                // subject or the inbox.
                let refused = async {
                    loop {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if server_errors.permission_violation_since(seen).is_some() {
                            return;
                        }
                    }
                };
                tokio::select! {
                    reply = tokio::time::timeout(Duration::from_secs(10), request) => reply,
                    () = refused => tokio::time::timeout(Duration::ZERO, std::future::pending()).await,
                }
            })
            .map_err(|_| {
                Failure::Unreachable(match server_errors.permission_violation_since(seen) {
                    Some(violation) => format!(
                        "permission denied: the NATS server says {violation}; your NATS user may not do this (see deploy/nats/accounts.conf)"
                    ),
                    None => format!(
                        "no reply on {subject} within 10 s: the service may be down or overloaded, or your NATS user may not publish there or read its own inbox (_INBOX_<user>; see deploy/nats/accounts.conf)"
                    ),
                })
            })?
            .map_err(|e| {
                use async_nats::client::RequestErrorKind;
                let ledger = self.ledger_id().unwrap_or_default();
                Failure::Unreachable(match e.kind() {
                    RequestErrorKind::NoResponders => format!(
                        "nobody answers on {subject}: is ledgerd (appends, status, proofs) or projectord (queries) running for ledger {ledger:?}? Check --ledger: it is the ledger id `probity init` was given"
                    ),
                    _ => format!("request on {subject} failed: {e}"),
                })
            })?;
        let parsed: Reply<A> = serde_json::from_slice(&reply.payload)
            .map_err(|e| Failure::Unreachable(format!("unexpected reply on {subject}: {e}")))?;
        Ok(match parsed {
            Reply::Ok(v) => Ok(v),
            Reply::Error(e) => Err(e),
        })
    }

    /// The ledger id.
    pub fn ledger_id(&self) -> Result<String, Failure> {
        match self {
            Target::Embedded(ledger) => Ok(ledger.ledger_id().to_owned()),
            Target::Nats { ledger, .. } => Ok(ledger.clone()),
        }
    }

    /// Appends; `Ok(Err(_))` is the ledger's refusal.
    pub fn append(&self, message: AppendMessage) -> Result<Result<Receipt, WireError>, Failure> {
        match self {
            Target::Embedded(ledger) => Ok(ledger
                .append(message.into())
                .map_err(|e| WireError::from(&e))),
            Target::Nats { ledger, .. } => self.request(wire::append_subject(ledger), &message),
        }
    }

    /// Appends several events: one result per event, in order (`append.batch` over NATS).
    pub fn append_batch(
        &self,
        messages: Vec<AppendMessage>,
    ) -> Result<Vec<Result<Receipt, WireError>>, Failure> {
        let wire_error = |e: probity_ledger::AppendError| WireError::from(&e);
        match self {
            Target::Embedded(ledger) => Ok(ledger
                .append_batch(messages.into_iter().map(Into::into).collect())
                .into_iter()
                .map(|result| result.map_err(wire_error))
                .collect()),
            Target::Nats { ledger, .. } => {
                let batch = wire::AppendBatchMessage { events: messages };
                let replies: Vec<Reply<Receipt>> = self
                    .request(wire::append_batch_subject(ledger), &batch)?
                    .map_err(|e| Failure::Refused(e.code.to_string(), e.message))?;
                Ok(replies
                    .into_iter()
                    .map(|reply| match reply {
                        Reply::Ok(receipt) => Ok(receipt),
                        Reply::Error(e) => Err(e),
                    })
                    .collect())
            }
        }
    }

    /// Status.
    pub fn status(&self) -> Result<Status, Failure> {
        match self {
            Target::Embedded(ledger) => ledger.status().map_err(|e| Failure::Input(e.to_string())),
            Target::Nats { ledger, .. } => self
                .request(wire::status_subject(ledger), &serde_json::json!({}))?
                .map_err(|e| Failure::Refused(e.code.to_string(), e.message)),
        }
    }

    /// How many records name `subject` (`kind:id`): the version an append's `expect`
    /// compares. A subject that is not one is the asker's mistake.
    pub fn subject_version(&self, subject: &str) -> Result<wire::VersionReply, Failure> {
        let request = wire::VersionRequest {
            subject: subject.to_owned(),
        };
        let answer: Result<wire::VersionReply, WireError> = match self {
            Target::Embedded(ledger) => {
                let body =
                    serde_json::to_vec(&request).map_err(|e| Failure::Input(e.to_string()))?;
                probity_ledger::requests::answer(
                    ledger,
                    &[],
                    probity_ledger::requests::LedgerQuery::Version,
                    &body,
                )
                .and_then(|value| {
                    serde_json::from_value(value)
                        .map_err(|e| WireError::new(wire::ErrorCode::Internal, e.to_string()))
                })
            }
            Target::Nats { ledger, .. } => self.request(wire::version_subject(ledger), &request)?,
        };
        answer.map_err(|e| match e.code {
            wire::ErrorCode::MalformedRequest => Failure::Input(e.message),
            _ => Failure::Refused(e.code.to_string(), e.message),
        })
    }

    /// Closes the book (embedded): last checkpoint, flush.
    pub fn close(self) {
        if let Target::Embedded(ledger) = self {
            ledger.close();
        }
    }
}

/// What opening the data directory `data` failed with, as the CLI reports it: another process
/// holding it is "unreachable" (use --nats), damage is damage, the rest is input.
pub fn open_failure(data: &Path, e: datadir::OpenError) -> Failure {
    use probity_ledger::LedgerError;
    match e {
        datadir::OpenError::Ledger(LedgerError::Locked(_)) => Failure::Unreachable(format!(
            "{} is in use by another process: ledgerd (use --nats then) or probity serve (use its HTTP API then)?",
            data.display()
        )),
        datadir::OpenError::Ledger(e) if e.is_damage() => Failure::Damaged(e.to_string()),
        other => Failure::Input(other.to_string()),
    }
}
