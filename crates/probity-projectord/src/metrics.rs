//! projectord's metrics (`--metrics-listen`), read from the follower's status at each scrape:
//! records applied, how far behind the stream (records and seconds), and whether it halted.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::follow::Shared;

/// The Prometheus text of `shared`'s status now (series `probity_*`).
pub fn render(shared: &Shared) -> String {
    let mut registry = Registry::with_prefix("probity");
    let gauge = |n: u64| {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(n).unwrap_or(i64::MAX));
        g
    };
    let mut text = String::new();
    match shared.status(false) {
        Ok(status) => {
            registry.register(
                "views_applied_records",
                "Records the views have applied",
                gauge(status.applied),
            );
            registry.register(
                "projector_lag_records",
                "Records in the stream the views have not applied yet",
                gauge(status.records_behind),
            );
            let seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
            seconds.set(status.seconds_behind);
            registry.register(
                "projector_lag_seconds",
                "How long the oldest record not yet applied has waited",
                seconds,
            );
            registry.register(
                "projector_halted",
                "1 when a record failed verification and the views stopped there",
                gauge(u64::from(status.halted.is_some())),
            );
        }
        Err(e) => tracing::warn!(error = %e.message, "metrics: no status"),
    }
    // Invariant: encoding into a String cannot fail (fmt::Write on String is infallible).
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("metrics encode into a String");
    text
}
