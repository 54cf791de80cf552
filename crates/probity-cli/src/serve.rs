//! `probity serve`: the HTTP API and web console on a data directory, and `probity token add`,
//! which issues the tokens it accepts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use probity_core::roles::Role;
use probity_http::{App, AppConfig, OpenError, Tokens};
use time::UtcOffset;

use crate::{out, target, Failure};

/// Serves `data` on `listen` until Ctrl-C or SIGTERM.
pub fn run(
    data: &Path,
    listen: &str,
    tokens: Option<&Path>,
    offset: UtcOffset,
) -> Result<(), Failure> {
    let address = listen_address(listen, "127.0.0.1:8080")?;
    let tokens = match tokens {
        Some(path) => Some(Tokens::read(path).map_err(|e| Failure::Input(e.to_string()))?),
        None if address.ip().is_loopback() => None,
        None => {
            return Err(Failure::Input(format!(
                "--listen {listen}: without --tokens every caller may do everything, so probity serve listens on loopback only (127.0.0.1); give --tokens FILE (probity token add makes one) to listen on {}",
                address.ip()
            )))
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    eprintln!(
        "probity serve: opening {} and bringing its views up to date…",
        data.display()
    );
    let mut bar = crate::audit::ViewsProgress::default();
    let mut progress = |done: u64, size: u64| bar.report(done, size);
    let opened = App::open_reporting(data, AppConfig { offset, tokens }, &mut progress);
    bar.finish();
    let app = opened.map_err(|e| match e {
        OpenError::Ledger(e) => target::open_failure(data, e),
        OpenError::Views(e) => Failure::Damaged(format!("views: {e}")),
    })?;
    let app = Arc::new(app);
    let (runtime, listener) = runtime_and_listener(address, listen)?;
    runtime.block_on(async {
        let (listener, bound) = listener.into_tokio()?;
        out(&format!(
            "serving {} ({} records) on http://{bound}/ — the console is at http://{bound}/, the API under /api/; Ctrl-C stops",
            data.display(),
            app.ledger().size()
        ));
        probity_http::serve(listener, app, stop_signal())
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))
    })
}

/// `--listen ADDR:PORT`, parsed (`example` shows the form).
pub(crate) fn listen_address(listen: &str, example: &str) -> Result<SocketAddr, Failure> {
    listen.parse().map_err(|_| {
        Failure::Input(format!(
            "--listen {listen:?}: an address and port, e.g. {example}"
        ))
    })
}

/// A socket bound before the runtime runs, so that a port in use is reported at once.
pub(crate) struct BoundSocket(std::net::TcpListener);

impl BoundSocket {
    /// The listener for the runtime, and the address it is bound to (port 0 resolved).
    pub(crate) fn into_tokio(self) -> Result<(tokio::net::TcpListener, SocketAddr), Failure> {
        let bound = self
            .0
            .local_addr()
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        let listener = tokio::net::TcpListener::from_std(self.0)
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        Ok((listener, bound))
    }
}

/// What both servers (`serve`, `witness serve`) start with: a runtime and a bound socket.
pub(crate) fn runtime_and_listener(
    address: SocketAddr,
    listen: &str,
) -> Result<(tokio::runtime::Runtime, BoundSocket), Failure> {
    let socket = std::net::TcpListener::bind(address)
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .map_err(|e| Failure::Unreachable(format!("--listen {listen}: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Input(e.to_string()))?;
    Ok((runtime, BoundSocket(socket)))
}

/// Ctrl-C, or SIGTERM (what a service manager sends).
pub(crate) async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// `probity token add`: a new token for `user` with `role`, printed once.
pub fn add(tokens: &Path, user: &str, role: &str, json: bool) -> Result<(), Failure> {
    let role = Role::parse(role).ok_or_else(|| {
        Failure::Input(format!(
            "--role {role:?}: one of {}",
            Role::ALL.map(|r| r.as_str()).join(", ")
        ))
    })?;
    let token = probity_http::auth::add_token(tokens, user, role)
        .map_err(|e| Failure::Input(e.to_string()))?;
    if json {
        crate::out_json(&serde_json::json!({"user": user, "role": role.as_str(), "token": token}));
    } else {
        out(&format!("token for {user} ({role}): {token}"));
        out(&format!(
            "shown once: give it to {user}; {} keeps only its SHA-256",
            tokens.display()
        ));
    }
    Ok(())
}
