//! The HTTP API and the web console (`schemas/HTTP.md`), served by `probity serve`.
//!
//! One process owns a data directory (the embedded default): the ledger's book, which takes
//! appends of events **already signed** by the people who record them (in the browser, with a
//! WebCrypto key, or by the CLI), and the views, brought up to date before a read that needs
//! them. Requests are read and answered by the same code as the NATS services
//! (`probity_ledger::requests`, `probity_views::query`), so both transports give the same
//! answers and the same error codes.

mod api;
mod audit;
pub mod auth;
mod console;
mod display;
mod error;
mod investigate;
mod metrics;
pub mod schemas;
mod state;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;

use axum::Router;

pub use auth::{Caller, Standing, TokenError, Tokens};
pub use state::{App, AppConfig, OpenError};

/// How long the views keeper gathers appends before it applies them.
const KEEP_WARM_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Every route: `/healthz`, `/readyz`, `/metrics`, the JSON API under `/api/` and the console.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(investigate::routes())
        .merge(audit::routes())
        .merge(console::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            metrics::count_and_log,
        ))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` completes, then closes the ledger (last
/// checkpoint, flush).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, None, shutdown).await
}

/// [`serve`] for a copy of a running ledger (`probity serve --nats`): `follower` keeps the
/// copy meanwhile, and is stopped (between two writes) before the copy is closed. Needs a
/// multi-threaded runtime.
pub async fn serve_following(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    follower: upstream::Follower,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, Some(follower), shutdown).await
}

async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    follower: Option<upstream::Follower>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let following = follower.map(|f| tokio::spawn(f.run(std::future::pending())));
    // Keep the views warm: apply new records soon after they are committed, so that a read
    // seldom waits for them (a read still catches up itself if it finds the views behind).
    // Changes are gathered for a moment first: each catch-up commits the views (a flush), and
    // one per append would take the disk and the cores from the appends themselves.
    let warm = app.clone();
    let (stop_keeper, mut keeper_stops) = tokio::sync::watch::channel(false);
    let keeper = tokio::spawn(async move {
        let mut size = warm.ledger().watch_size();
        loop {
            tokio::select! {
                changed = size.changed() => if changed.is_err() { break },
                _ = keeper_stops.changed() => break,
            }
            tokio::select! {
                () = tokio::time::sleep(KEEP_WARM_EVERY) => {}
                _ = keeper_stops.changed() => break,
            }
            size.borrow_and_update();
            let app = warm.clone();
            if tokio::task::spawn_blocking(move || app.refresh())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let served = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    // Stopped between two catch-ups, never during one: a views store dropped while another
    // store in this process is being written can hang sled, so nothing is left writing.
    let _ = stop_keeper.send(true);
    let _ = keeper.await;
    if let Some(following) = following {
        // It stops at its next await: never inside a write of the copy.
        following.abort();
        let _ = following.await;
    }
    let closing = app.clone();
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .map_err(std::io::Error::other)?;
    served
}
