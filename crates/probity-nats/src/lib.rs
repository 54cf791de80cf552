//! What every Probity program that talks to NATS (ledgerd, projectord, `probity --nats`) does
//! alike: connect to a comma-separated list of servers whose URLs may carry the credentials
//! (`nats://user:password@host:port`; the Rust client takes them as options, not from the URL),
//! and, for the services, stop cleanly on SIGTERM or SIGINT from the moment they start.

pub mod exporter;
pub mod urls;

use std::future::Future;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, ServerAddr};
use probity_wire as wire;

/// Why a connection was not made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A server address did not parse.
    #[error("NATS URL {urls}: {message}")]
    BadUrl {
        /// The servers as given (without credentials).
        urls: String,
        /// What is wrong.
        message: String,
    },
    /// No server could be reached.
    #[error("cannot connect to NATS at {urls}: {message}")]
    Unreachable {
        /// The servers as given (without credentials).
        urls: String,
        /// The client's error.
        message: String,
    },
}

/// The prefix of every inbox: `_INBOX` for an anonymous connection, `_INBOX_<user>` for a
/// named one. deploy/nats/accounts.conf lets each user subscribe to its own inbox only, so
/// that nobody reads another's replies (receipts, records, status).
pub fn inbox_prefix(user: Option<&str>) -> String {
    match user {
        Some(user) => format!("_INBOX_{user}"),
        None => "_INBOX".to_owned(),
    }
}

/// Whether `subject` is a reply inbox (`_INBOX.…` or `_INBOX_<user>.…`, no wildcard). ledgerd
/// and projectord answer only there: a request naming any other reply subject (say
/// `probity.<ledger>.records`) would make them publish where the requester may not.
pub fn is_inbox(subject: &str) -> bool {
    let Some(rest) = subject.strip_prefix("_INBOX") else {
        return false;
    };
    let rest = match rest.strip_prefix('_') {
        Some(named) => match named.split_once('.') {
            Some((user, tail)) if valid_user(user) => tail,
            _ => return false,
        },
        None => match rest.strip_prefix('.') {
            Some(tail) => tail,
            None => return false,
        },
    };
    !rest.is_empty()
        && rest
            .split('.')
            .all(|token| !token.is_empty() && token != "*" && token != ">")
        && !rest.contains(char::is_whitespace)
}

/// A user name that can name an inbox: letters, digits, `-` and `_`.
fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The subscription capacity of ledgerd: with requests answered or refused (`busy`) as fast
/// as they arrive, a thousand is plenty (the publisher's window of 256 stream acks shares the
/// reply subscription), and it bounds what can wait in memory to this many messages of at
/// most NATS's `max_payload` each per subscription.
pub const SERVICE_SUBSCRIPTION_CAPACITY: usize = 1024;

/// How to connect.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client's name, as the server shows it.
    pub name: &'static str,
    /// Comma-separated server URLs, possibly with `user:password@`.
    pub urls: String,
    /// Credentials that win over those in the URLs (from a configuration file, say).
    pub credentials: Option<(String, String)>,
    /// Keep trying until a server answers (services), rather than failing at once (people's
    /// commands).
    pub retry_initial: bool,
    /// Messages a subscription may hold before the client drops more (`None`: the client's
    /// default, 65,536). A service sets it low: what waits there is memory.
    pub subscription_capacity: Option<usize>,
    /// Where to keep what the server reports as errors (a permissions violation, say), so
    /// that a request that then goes unanswered can say why.
    pub server_errors: Option<ServerErrors>,
}

/// The errors a server reported on a connection, oldest first (the first 1,024).
#[derive(Debug, Clone, Default)]
pub struct ServerErrors(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl ServerErrors {
    fn push(&self, error: String) {
        let mut errors = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // A person's command makes a few requests: keep them all, within reason.
        if errors.len() < 1024 {
            errors.push(error);
        }
    }

    /// How many errors the server has reported so far.
    pub fn seen(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The latest permissions violation the server reported after the first `seen` errors.
    pub fn permission_violation_since(&self, seen: usize) -> Option<String> {
        let errors = self.0.lock().unwrap_or_else(|e| e.into_inner());
        errors
            .iter()
            .skip(seen)
            .rev()
            .find(|e| e.to_lowercase().contains("permissions violation"))
            .cloned()
    }
}

impl Connection {
    /// Connects; credentials are never part of an error message.
    pub async fn connect(self) -> Result<Client, ConnectError> {
        let (servers, url_credentials) = urls::split_credentials(&self.urls);
        let mut options = ConnectOptions::new()
            .name(self.name)
            .connection_timeout(Duration::from_secs(5));
        if self.retry_initial {
            options = options.retry_on_initial_connect();
        }
        if let Some(capacity) = self.subscription_capacity {
            options = options.subscription_capacity(capacity);
        }
        if let Some(sink) = self.server_errors.clone() {
            options = options.event_callback(move |event| {
                let sink = sink.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        sink.push(e.to_string());
                    }
                }
            });
        }
        if let Some((user, password)) = self.credentials.or(url_credentials) {
            if !valid_user(&user) {
                return Err(ConnectError::BadUrl {
                    urls: servers,
                    message: "a NATS user name must be letters, digits, '-' and '_' (it names the user's inbox)".into(),
                });
            }
            options = options
                .custom_inbox_prefix(inbox_prefix(Some(&user)))
                .user_and_password(user, password);
        }
        let addresses = urls::server_list(&servers)
            .iter()
            .map(|s| s.parse::<ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConnectError::BadUrl {
                urls: servers.clone(),
                message: e.to_string(),
            })?;
        options
            .connect(addresses)
            .await
            .map_err(|e| ConnectError::Unreachable {
                urls: servers,
                message: e.to_string(),
            })
    }
}

/// Why a reader got no consumer of the stream.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// ledgerd did not answer (down, or the ledger id is wrong).
    #[error("ledgerd gave no consumer of the stream: {0}")]
    NoAnswer(String),
    /// ledgerd refused.
    #[error("ledgerd refused a consumer of the stream ({code}): {message}")]
    Refused {
        /// The code.
        code: wire::ErrorCode,
        /// Why.
        message: String,
    },
    /// The consumer ledgerd named could not be opened.
    #[error("the consumer ledgerd made cannot be read: {0}")]
    Consumer(String),
}

/// A consumer of the ledger's stream from record `from` on, made by ledgerd for this reader
/// (`probity.<ledger>.read`; readers may not create consumers themselves): a pull consumer
/// that delivers each record once, in order, without acks. Readers check the stream
/// sequence of what they get, and ask again from where they are on any gap.
pub async fn reader(
    client: &Client,
    stream: &async_nats::jetstream::stream::Stream,
    ledger: &str,
    from: u64,
) -> Result<async_nats::jetstream::consumer::PullConsumer, ReadError> {
    let request = serde_json::to_vec(&wire::ReadRequest { from })
        .map_err(|e| ReadError::NoAnswer(e.to_string()))?;
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(wire::read_subject(ledger), request.into()),
    )
    .await
    .map_err(|_| ReadError::NoAnswer("no reply within 5 s".into()))?
    .map_err(|e| ReadError::NoAnswer(e.to_string()))?;
    let reply: wire::Reply<wire::ReadReply> = serde_json::from_slice(&reply.payload)
        .map_err(|e| ReadError::NoAnswer(format!("unexpected reply: {e}")))?;
    let made = match reply {
        wire::Reply::Ok(made) => made,
        wire::Reply::Error(e) => {
            return Err(ReadError::Refused {
                code: e.code,
                message: e.message,
            })
        }
    };
    stream
        .get_consumer(&made.consumer)
        .await
        .map_err(|e| ReadError::Consumer(e.to_string()))
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when the
/// future is first polled: call it first thing, so that a stop while connecting or starting is
/// a clean stop rather than a kill by the default action.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inboxes_are_inboxes() {
        for yes in ["_INBOX.abc.1", "_INBOX_clerk.x.y", "_INBOX_auditor-2.z"] {
            assert!(is_inbox(yes), "{yes}");
        }
        for no in [
            "probity.h.records",
            "_INBOX",
            "_INBOX.",
            "_INBOX.>",
            "_INBOX.a.*",
            "_INBOXX.a",
            "_INBOX_.a",
            "_INBOX_a b.c",
            "_INBOX..a",
            "$JS.ACK.S.c.1.1.1.0.0",
        ] {
            assert!(!is_inbox(no), "{no}");
        }
        assert_eq!(inbox_prefix(Some("clerk")), "_INBOX_clerk");
    }
}
