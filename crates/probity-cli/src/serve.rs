//! `probity serve`: the HTTP API and web console on a data directory, and `probity token add`,
//! which issues the tokens it accepts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use probity_core::checkpoint::VerifierKey;
use probity_core::roles::Role;
use probity_http::upstream::{FollowError, Follower};
use probity_http::{App, AppConfig, OpenError, Tokens};
use probity_ledger::mirror::Mirror;
use time::UtcOffset;

use crate::{out, target, Failure};

/// How to serve: where to listen, whom to let in, the hospital's offset.
pub struct How {
    /// `--listen`.
    pub listen: String,
    /// `--tokens`.
    pub tokens: Option<PathBuf>,
    /// The hospital's offset from UTC.
    pub offset: UtcOffset,
}

impl How {
    /// The address, and the tokens (none only on loopback).
    fn checked(&self) -> Result<(SocketAddr, Option<Tokens>), Failure> {
        let listen = &self.listen;
        let address = listen_address(listen, "127.0.0.1:8080")?;
        let tokens = match &self.tokens {
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
        Ok((address, tokens))
    }
}

/// Serves `data` as `how` says until Ctrl-C or SIGTERM.
pub fn run(data: &Path, how: &How) -> Result<(), Failure> {
    let (address, tokens) = how.checked()?;
    eprintln!(
        "probity serve: opening {} and bringing its views up to date…",
        data.display()
    );
    let mut bar = crate::audit::ViewsProgress::default();
    let mut progress = |done: u64, size: u64| bar.report(done, size);
    let config = AppConfig {
        offset: how.offset,
        tokens,
    };
    let opened = App::open_reporting(data, config, &mut progress);
    bar.finish();
    let app = opened.map_err(|e| match e {
        OpenError::Ledger(e) => target::open_failure(data, e),
        OpenError::Views(e) => Failure::Damaged(format!("views: {e}")),
    })?;
    let app = Arc::new(app);
    let (runtime, listener) = runtime_and_listener(address, &how.listen)?;
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

/// Where `serve --nats` keeps its copy of `ledger` unless told: the user's cache directory.
pub fn default_copy_dir(ledger: &str) -> Result<PathBuf, Failure> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .ok_or_else(|| {
            Failure::Input("neither XDG_CACHE_HOME nor HOME is set: give --copy DIR".into())
        })?;
    Ok(cache.join("probity").join(ledger))
}

/// How long `serve --nats` waits at start for ledgerd's first checkpoint.
const FIRST_CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Serves a running ledger (`--nats URL --ledger ID`): a verified copy kept in `copy` from its
/// stream, brought up to ledgerd's latest checkpoint before serving, then followed; appends
/// are handed to ledgerd.
pub fn run_following(
    url: &str,
    ledger: &str,
    copy: &Path,
    pinned: Option<VerifierKey>,
    how: &How,
) -> Result<(), Failure> {
    let (address, tokens) = how.checked()?;
    let (runtime, listener) = runtime_and_listener(address, &how.listen)?;
    runtime.block_on(async {
        let client = probity_nats::Connection {
            name: "probity-serve",
            urls: url.to_owned(),
            credentials: None,
            retry_initial: false,
            subscription_capacity: None,
            server_errors: None,
        }
        .connect()
        .await
        .map_err(|e| match e {
            probity_nats::ConnectError::BadUrl { .. } => Failure::Input(e.to_string()),
            probity_nats::ConnectError::Unreachable { .. } => Failure::Unreachable(e.to_string()),
        })?;
        // A ledger's own data directory is not a copy: following into it would write its book.
        if probity_ledger::datadir::ledger_key_path(copy).exists() {
            return Err(Failure::Input(format!(
                "--copy {}: that is a ledger's data directory (it holds ledger.key); give the copy a directory of its own",
                copy.display()
            )));
        }
        let book = probity_ledger::datadir::book_dir(copy);
        std::fs::create_dir_all(copy)
            .map_err(|e| Failure::Input(format!("--copy {}: {e}", copy.display())))?;
        let mirror = Mirror::open(&book, pinned).map_err(|e| {
            Failure::Damaged(format!("the copy in {}: {e} (remove it to copy the ledger again)", copy.display()))
        })?;
        if !mirror.is_pinned() {
            eprintln!("probity serve: no --ledger-vkey: checkpoints are checked against the key the copied genesis names (trust on first use)");
        }
        eprintln!(
            "probity serve: copying ledger {ledger} from NATS into {} (every record verified)…",
            copy.display()
        );
        let follower = Follower::new(client, ledger, None, mirror);
        let deadline = std::time::Instant::now() + FIRST_CHECKPOINT_WAIT;
        let mut bar = crate::audit::ViewsProgress::saying("copying and verifying the ledger");
        loop {
            let mut progress = |done: u64, size: u64| bar.report(done, size);
            match follower.step(&mut progress).await {
                Ok(_) if follower.ledger().is_some() => break,
                // A copy kept before is served as it is while ledgerd is away; it follows
                // again once ledgerd answers.
                Err(FollowError::Unreachable(e)) if follower.ledger().is_some() => {
                    eprintln!("probity serve: ledgerd did not answer ({e}); serving the copy as it is and following once it answers");
                    break;
                }
                Err(FollowError::Unreachable(e)) if std::time::Instant::now() >= deadline => {
                    return Err(Failure::Unreachable(e))
                }
                Err(e @ (FollowError::Refused(_) | FollowError::Storage(_))) => {
                    return Err(Failure::Damaged(e.to_string()))
                }
                _ if std::time::Instant::now() >= deadline => {
                    return Err(Failure::Unreachable(format!(
                        "ledgerd has signed no checkpoint of ledger {ledger} within {} s",
                        FIRST_CHECKPOINT_WAIT.as_secs()
                    )))
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
        bar.finish();
        let copied = follower.ledger().ok_or_else(|| Failure::Damaged("the copy did not open".into()))?;
        let upstream = follower.upstream();
        let config = AppConfig {
            offset: how.offset,
            tokens,
        };
        let dir = copy.to_owned();
        let app = tokio::task::spawn_blocking(move || {
            let mut bar = crate::audit::ViewsProgress::default();
            let mut progress = |done: u64, size: u64| bar.report(done, size);
            let opened = App::open_following(&dir, copied, upstream, config, &mut progress);
            bar.finish();
            opened
        })
        .await
        .map_err(|e| Failure::Damaged(e.to_string()))?
        .map_err(|e| Failure::Damaged(format!("the copy's views: {e}")))?;
        let app = Arc::new(app);
        let (listener, bound) = listener.into_tokio()?;
        out(&format!(
            "serving ledger {ledger} ({} records, copied into {}) on http://{bound}/ — the console is at http://{bound}/, the API under /api/; appends go to ledgerd; Ctrl-C stops",
            app.ledger().size(),
            copy.display()
        ));
        probity_http::serve_following(listener, app, follower, stop_signal())
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
