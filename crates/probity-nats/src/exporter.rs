//! The services' metrics endpoint: `GET /metrics` (Prometheus / OpenMetrics text, series
//! `probity_*`) and `GET /healthz`, on the address a service is configured with
//! (`--metrics-listen`). Only those two paths; nothing else is served.

use std::future::Future;
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Renders the metrics text at each scrape.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `/metrics` and `/healthz` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    render: Render,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new()
        .route(
            "/metrics",
            get(move || {
                let render = render.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        render(),
                    )
                        .into_response()
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `address` and serves `render`'s metrics there in the background (logging where);
/// sending on (or dropping) the returned handle stops it.
pub async fn spawn(
    address: std::net::SocketAddr,
    render: Render,
) -> std::io::Result<tokio::sync::oneshot::Sender<()>> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tracing::info!(%address, "metrics on /metrics");
    tokio::spawn(async move {
        let stopped = async {
            let _ = stopped.await;
        };
        if let Err(e) = serve(listener, render, stopped).await {
            tracing::warn!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok(stop)
}
