//! `/metrics` (Prometheus text, series named `probity_*`) and the access log: every request
//! is counted, and logged with who made it (target `probity_http::access`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::auth;
use crate::App;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

/// The server's counters and gauges.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    appends: Counter,
    refusals: Family<CodeLabels, Counter>,
    ledger_records: Gauge,
    views_applied: Gauge,
    views_behind: Gauge,
    uncheckpointed: Gauge,
    copy_stopped: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("probity");
        let requests = Family::<RequestLabels, Counter>::default();
        let appends = Counter::default();
        let refusals = Family::<CodeLabels, Counter>::default();
        let ledger_records = Gauge::default();
        let views_applied = Gauge::default();
        let views_behind = Gauge::default();
        let uncheckpointed = Gauge::default();
        let copy_stopped = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method and status",
            requests.clone(),
        );
        registry.register(
            "appends",
            "Events appended (receipts sent, retries included)",
            appends.clone(),
        );
        registry.register(
            "append_refusals",
            "Appends refused, by error code",
            refusals.clone(),
        );
        registry.register(
            "ledger_records",
            "Records in the book",
            ledger_records.clone(),
        );
        registry.register(
            "views_applied_records",
            "Records the views have applied",
            views_applied.clone(),
        );
        registry.register(
            "projector_lag_records",
            "Records in the book the views have not applied yet",
            views_behind.clone(),
        );
        registry.register(
            "records_not_checkpointed",
            "Records after the latest signed checkpoint",
            uncheckpointed.clone(),
        );
        registry.register(
            "copy_stopped",
            "1 when the copy of a running ledger (serve --nats) stopped at a record or checkpoint that did not verify",
            copy_stopped.clone(),
        );
        Metrics {
            registry,
            requests,
            appends,
            refusals,
            ledger_records,
            views_applied,
            views_behind,
            uncheckpointed,
            copy_stopped,
        }
    }
}

impl Metrics {
    /// An append answered: a receipt, or a refusal with `code`.
    pub(crate) fn append(&self, refused: Option<&str>) {
        match refused {
            None => {
                self.appends.inc();
            }
            Some(code) => {
                self.refusals
                    .get_or_create(&CodeLabels {
                        code: code.to_owned(),
                    })
                    .inc();
            }
        }
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The Prometheus text of `app`'s metrics, with the gauges read now.
pub(crate) fn render(app: &App) -> String {
    let m = &app.metrics;
    let (applied, size) = app.progress();
    m.ledger_records.set(gauge(size));
    m.views_applied.set(gauge(applied));
    m.views_behind.set(gauge(size.saturating_sub(applied)));
    let checkpoint = app.ledger.latest_checkpoint().map_or(0, |(s, _)| s);
    m.uncheckpointed.set(gauge(size.saturating_sub(checkpoint)));
    let stopped = app.upstream.as_ref().is_some_and(|u| u.refused().is_some());
    m.copy_stopped.set(i64::from(stopped));
    let mut text = String::new();
    // Invariant: encoding into a String cannot fail (fmt::Write on String is infallible).
    prometheus_client::encoding::text::encode(&mut text, &m.registry)
        .expect("metrics encode into a String");
    text
}

/// Counts every request and logs who made it and what it asked.
pub(crate) async fn count_and_log(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let user = match &app.config.tokens {
        None => Some("local".to_owned()),
        Some(tokens) => auth::presented(request.headers())
            .and_then(|t| tokens.caller(&t).map(|c| c.user.clone())),
    };
    let response = next.run(request).await;
    let status = response.status().as_u16();
    app.metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            status,
        })
        .inc();
    if path != "/healthz"
        && path != "/readyz"
        && path != "/metrics"
        && !path.starts_with("/assets/")
    {
        tracing::info!(
            target: "probity_http::access",
            user = user.as_deref().unwrap_or("-"),
            %method,
            %path,
            query = query.as_deref().unwrap_or(""),
            status,
            "request"
        );
    }
    response
}
