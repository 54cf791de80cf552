//! `projectord`: follows a ledger's JetStream stream, verifies and projects every record into
//! durable views, and answers `probity.<ledger>.query.*`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use probity_projectord::follow::{FollowConfig, Follower};

// Rebuilding views allocates per record and per row (parsing, serialising, sled's node copies):
// mimalloc does that markedly faster than glibc's allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Follow a Probity ledger's stream and serve its oversight views.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// NATS server URL(s), comma-separated; `nats://user:password@host:port` for credentials.
    #[arg(long, env = "PROBITY_NATS", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The ledger id.
    #[arg(long, env = "PROBITY_LEDGER")]
    ledger: String,
    /// The views directory (sled).
    #[arg(long, env = "PROBITY_VIEWS_DIR")]
    views: PathBuf,
    /// The JetStream stream (default `PROBITY_<LEDGER>`).
    #[arg(long, env = "PROBITY_STREAM")]
    stream: Option<String>,
    /// The ledger's checkpoint key (C2SP vkey as `probity init` printed it, or a file holding
    /// it). Without it the key named by the stream's genesis is trusted.
    #[arg(long, env = "PROBITY_LEDGER_VKEY")]
    ledger_vkey: Option<String>,
    /// Verify again the record a previous run refused (after fixing what made it fail, e.g. a
    /// wrong --ledger-vkey). Without it a halted projectord stays halted across restarts.
    #[arg(long)]
    retry_halted: bool,
    /// Most records applied in one durable batch.
    #[arg(long, default_value_t = 4096)]
    max_batch: usize,
    /// Serve `/metrics` (Prometheus text) and `/healthz` on this address, e.g.
    /// 127.0.0.1:9465 (default: no metrics endpoint).
    #[arg(long, env = "PROBITY_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// The hospital's offset from UTC, written ±hh:mm: the answers' times are written at it.
    #[arg(long, env = "PROBITY_UTC_OFFSET", default_value = "+08:00")]
    utc_offset: String,
    /// Logs as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    probity_ledger::without_huge_pages();
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if args.json_logs {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    // Settings first: a bad one fails at once, before any connection.
    let ledger_vkey = args
        .ledger_vkey
        .as_deref()
        .map(probity_ledger::keyfile::read_vkey)
        .transpose()
        .context("--ledger-vkey")?;
    let zone = probity_views::answers::Zone::parse(&args.utc_offset).with_context(|| {
        format!(
            "--utc-offset {:?}: the hospital's offset from UTC, written ±hh:mm (e.g. +08:00)",
            args.utc_offset
        )
    })?;
    // SIGTERM is caught from here on, also while connecting and starting: a stop during
    // startup is a clean stop, not a kill.
    let stop = probity_nats::shutdown_signal().context("installing the signal handlers")?;
    tokio::pin!(stop);
    let connection = probity_nats::Connection {
        name: "projectord",
        urls: args.nats.clone(),
        credentials: None,
        retry_initial: true,
        // The stream's consumer asks for batches of its own size: the default capacity.
        subscription_capacity: None,
        server_errors: None,
    };
    let client = tokio::select! {
        client = connection.connect() => client?,
        () = &mut stop => {
            tracing::info!("stopped during startup");
            return Ok(());
        }
    };
    let mut config = FollowConfig::new(&args.ledger, args.views);
    config.ledger_vkey = ledger_vkey;
    config.max_batch = args.max_batch.max(1);
    config.retry_halted = args.retry_halted;
    config.zone = zone;
    if let Some(stream) = args.stream {
        config.stream = stream;
    }
    let follower = tokio::select! {
        follower = Follower::start(client, config) => follower?,
        () = &mut stop => {
            tracing::info!("stopped during startup");
            return Ok(());
        }
    };
    tracing::info!(ledger = %args.ledger, "projectord started");
    let metrics_stop = match args.metrics_listen {
        None => None,
        Some(address) => {
            let shared = follower.shared().clone();
            let render: probity_nats::exporter::Render =
                std::sync::Arc::new(move || probity_projectord::metrics::render(&shared));
            let stop = probity_nats::exporter::spawn(address, render)
                .await
                .with_context(|| format!("--metrics-listen {address}"))?;
            Some(stop)
        }
    };
    let followed = follower.run(stop).await;
    drop(metrics_stop);
    followed?;
    Ok(())
}
