//! ledgerd's metrics (`--metrics-listen`): appends and refusals by code, counted as they are
//! answered; the book's size and what the latest checkpoint does not cover, read at each scrape.
//! Series named `probity_*`, as `probity serve` names its own (`schemas/HTTP.md`).

use probity_ledger::Ledger;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

/// The counters the service updates and the gauges read at a scrape.
#[derive(Debug)]
pub struct ServiceMetrics {
    registry: Registry,
    appends: Counter,
    refusals: Family<CodeLabels, Counter>,
    ledger_records: Gauge,
    uncheckpointed: Gauge,
}

impl Default for ServiceMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("probity");
        let appends = Counter::default();
        let refusals = Family::<CodeLabels, Counter>::default();
        let ledger_records = Gauge::default();
        let uncheckpointed = Gauge::default();
        registry.register(
            "appends",
            "Events appended (receipts sent, retries included)",
            appends.clone(),
        );
        registry.register(
            "append_refusals",
            "Appends refused, by error code (busy included)",
            refusals.clone(),
        );
        registry.register(
            "ledger_records",
            "Records in the book",
            ledger_records.clone(),
        );
        registry.register(
            "records_not_checkpointed",
            "Records after the latest signed checkpoint",
            uncheckpointed.clone(),
        );
        ServiceMetrics {
            registry,
            appends,
            refusals,
            ledger_records,
            uncheckpointed,
        }
    }
}

impl ServiceMetrics {
    /// An append answered: a receipt, or a refusal with `code`.
    pub fn append(&self, refused: Option<&str>) {
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

    /// The Prometheus text, with the gauges read from `ledger` now.
    pub fn render(&self, ledger: &Ledger) -> String {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let size = ledger.size();
        let checkpoint = ledger.latest_checkpoint().map_or(0, |(s, _)| s);
        self.ledger_records.set(gauge(size));
        self.uncheckpointed
            .set(gauge(size.saturating_sub(checkpoint)));
        let mut text = String::new();
        // Invariant: encoding into a String cannot fail (fmt::Write on String is infallible).
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("metrics encode into a String");
        text
    }
}
