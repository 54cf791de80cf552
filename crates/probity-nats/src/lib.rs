//! What every Probity program that talks to NATS (ledgerd, projectord, `probity --nats`) does
//! alike: connect to a comma-separated list of servers whose URLs may carry the credentials
//! (`nats://user:password@host:port`; the Rust client takes them as options, not from the URL),
//! and, for the services, stop cleanly on SIGTERM or SIGINT from the moment they start.

use std::future::Future;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, ServerAddr};
use probity_ledger::wire;

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
}

impl Connection {
    /// Connects; credentials are never part of an error message.
    pub async fn connect(self) -> Result<Client, ConnectError> {
        let (servers, url_credentials) = wire::split_credentials(&self.urls);
        let mut options = ConnectOptions::new()
            .name(self.name)
            .connection_timeout(Duration::from_secs(5));
        if self.retry_initial {
            options = options.retry_on_initial_connect();
        }
        if let Some((user, password)) = self.credentials.or(url_credentials) {
            options = options.user_and_password(user, password);
        }
        let addresses = wire::server_list(&servers)
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
