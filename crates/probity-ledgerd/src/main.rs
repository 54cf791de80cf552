//! `ledgerd`: argument parsing, configuration, logging, signals; the service is in the library.
//!
//! Exit codes: 0 stopped cleanly; 1 the service failed (NATS, stream/book mismatch);
//! 2 configuration, key file or data directory error.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use probity_core::append::AppendRules;
use probity_ledger::{keyfile, wire, EngineConfig, Ledger, SystemClock};
use probity_ledgerd::config::FileConfig;
use probity_ledgerd::metrics::ServiceMetrics;
use probity_ledgerd::service::{serve, ServiceConfig};
use tracing_subscriber::EnvFilter;

// sled copies a leaf node on every insert and async-nats allocates per message: with glibc's
// allocator ~13 % of ledgerd's CPU went to malloc and free under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Probity ledger as a NATS service.
#[derive(Debug, Parser)]
#[command(name = "ledgerd", version, about)]
struct Args {
    /// TOML configuration file (flags and environment override it).
    #[arg(long, env = "PROBITY_CONFIG")]
    config: Option<PathBuf>,
    /// The ledger's data directory (made by `probity init`).
    #[arg(long = "data", env = "PROBITY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The ledger key file (default: <data>/ledger.key).
    #[arg(long, env = "PROBITY_LEDGER_KEY")]
    ledger_key: Option<PathBuf>,
    /// NATS server URL(s), comma-separated.
    #[arg(long = "nats", env = "PROBITY_NATS_URL")]
    nats_url: Option<String>,
    /// JetStream replicas of the stream (1, or 3 on a cluster).
    #[arg(long, env = "PROBITY_STREAM_REPLICAS")]
    replicas: Option<usize>,
    /// Sign a checkpoint every this many records.
    #[arg(long, env = "PROBITY_CHECKPOINT_EVERY")]
    checkpoint_every: Option<u64>,
    /// … or every this many milliseconds.
    #[arg(long, env = "PROBITY_CHECKPOINT_MS")]
    checkpoint_ms: Option<u64>,
    /// A witness whose cosignatures are attached to checkpoints (repeatable; vkey or file).
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// A witness ledgerd asks to cosign each new checkpoint over C2SP tlog-witness HTTP:
    /// `"URL VKEY"` (repeatable; its cosignatures are kept).
    #[arg(long = "http-witness")]
    http_witnesses: Vec<String>,
    /// Serve `/metrics` (Prometheus text) and `/healthz` on this address, e.g.
    /// 127.0.0.1:9464 (default: no metrics endpoint).
    #[arg(long, env = "PROBITY_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "PROBITY_LOG_JSON")]
    log_json: bool,
}

fn main() -> std::process::ExitCode {
    probity_ledger::without_huge_pages();
    let args = Args::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if args.log_json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(Failure::Setup(e)) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::from(2)
        }
        Err(Failure::Service(e)) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

enum Failure {
    Setup(anyhow::Error),
    Service(anyhow::Error),
}

async fn run(args: Args) -> Result<(), Failure> {
    // SIGTERM is caught from here on, also while the book opens and NATS connects: a stop
    // during startup closes the book cleanly rather than being a kill.
    let stop = probity_nats::shutdown_signal()
        .context("installing the signal handlers")
        .map_err(Failure::Setup)?;
    tokio::pin!(stop);
    let mut file = match &args.config {
        Some(path) => FileConfig::read(path).map_err(|e| Failure::Setup(e.into()))?,
        None => FileConfig::default(),
    };
    file.data_dir = args.data_dir.or(file.data_dir);
    file.ledger_key_file = args.ledger_key.or(file.ledger_key_file);
    file.nats_url = args.nats_url.or(file.nats_url);
    file.stream.replicas = args.replicas.or(file.stream.replicas);
    file.checkpoints.every_records = args.checkpoint_every.or(file.checkpoints.every_records);
    file.checkpoints.every_ms = args.checkpoint_ms.or(file.checkpoints.every_ms);
    file.checkpoints
        .witnesses
        .extend(args.witnesses.iter().cloned());
    file.checkpoints
        .http_witnesses
        .extend(args.http_witnesses.iter().cloned());
    let settings = file.settle().map_err(|e| Failure::Setup(e.into()))?;

    let key = keyfile::read_key(&settings.ledger_key_file)
        .context("ledger key")
        .map_err(Failure::Setup)?;
    let engine = EngineConfig {
        rules: AppendRules {
            max_future_skew_micros: settings.max_clock_skew_secs.saturating_mul(1_000_000),
        },
        checkpoint_every: settings.checkpoint_every,
        checkpoint_interval: settings.checkpoint_interval,
        ..EngineConfig::default()
    };
    let book = settings.data_dir.join("book");
    let ledger = tokio::task::spawn_blocking(move || {
        Ledger::open(&book, key, engine, Arc::new(SystemClock))
    })
    .await
    .map_err(|e| Failure::Setup(e.into()))?
    .with_context(|| format!("opening the ledger in {}", settings.data_dir.display()))
    .map_err(Failure::Setup)?;
    tracing::info!(ledger = ledger.ledger_id(), size = ledger.size(), data = %settings.data_dir.display(), "book opened");

    let connection = probity_nats::Connection {
        name: "ledgerd",
        urls: settings.nats_url.clone(),
        credentials: settings.nats_user_password.clone(),
        retry_initial: true,
        subscription_capacity: Some(probity_nats::SERVICE_SUBSCRIPTION_CAPACITY),
        server_errors: None,
    };
    let client = tokio::select! {
        client = connection.connect() => client.map_err(|e| match e {
            probity_nats::ConnectError::BadUrl { .. } => Failure::Setup(e.into()),
            probity_nats::ConnectError::Unreachable { .. } => Failure::Service(e.into()),
        })?,
        () = &mut stop => {
            tracing::info!("stopped during startup");
            let _ = tokio::task::spawn_blocking(move || ledger.close()).await;
            return Ok(());
        }
    };

    let metrics = Arc::new(ServiceMetrics::default());
    let metrics_stop = match args.metrics_listen {
        None => None,
        Some(address) => {
            let (counted, book) = (metrics.clone(), ledger.clone());
            let render: probity_nats::exporter::Render = Arc::new(move || counted.render(&book));
            let stop = probity_nats::exporter::spawn(address, render)
                .await
                .with_context(|| format!("--metrics-listen {address}"))
                .map_err(Failure::Setup)?;
            Some(stop)
        }
    };
    let config = ServiceConfig {
        stream_name: settings
            .stream_name
            .clone()
            .unwrap_or_else(|| wire::default_stream_name(ledger.ledger_id())),
        replicas: settings.replicas,
        max_in_flight: settings.max_in_flight,
        witnesses: settings.witnesses.clone(),
        http_witnesses: settings.http_witnesses.clone(),
        metrics,
    };
    let served = serve(ledger, client, config, stop)
        .await
        .map_err(|e| Failure::Service(e.into()));
    drop(metrics_stop);
    served
}
