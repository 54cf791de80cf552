//! ledgerd's configuration: a TOML file, overridden by environment variables and flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use probity_core::checkpoint::VerifierKey;
use serde::Deserialize;

/// The file's shape; every field optional so that env and flags can fill or override it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The book's directory.
    pub data_dir: Option<PathBuf>,
    /// The ledger key file (default `<data_dir>/ledger.key`).
    pub ledger_key_file: Option<PathBuf>,
    /// NATS server URL(s), comma-separated.
    pub nats_url: Option<String>,
    /// NATS user and password (optional; for the deploy/ configurations).
    pub nats_user: Option<String>,
    /// NATS password.
    pub nats_password: Option<String>,
    /// JetStream stream.
    #[serde(default)]
    pub stream: StreamConfig,
    /// Checkpoint cadence.
    #[serde(default)]
    pub checkpoints: CheckpointConfig,
    /// Limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `[stream]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// Stream name (default `PROBITY_<LEDGER>`).
    pub name: Option<String>,
    /// Replicas: 1, or 3 on a cluster.
    pub replicas: Option<usize>,
}

/// `[checkpoints]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Sign a checkpoint every this many records (default 1000).
    pub every_records: Option<u64>,
    /// … or every this many milliseconds with new records (default 1000).
    pub every_ms: Option<u64>,
    /// Witnesses whose cosignatures ledgerd attaches to its checkpoints (C2SP vkeys of type
    /// cosignature/v1, or files holding them).
    #[serde(default)]
    pub witnesses: Vec<String>,
    /// Witnesses ledgerd asks itself over C2SP tlog-witness HTTP, each `URL VKEY` (the
    /// submission prefix, a space, the witness's cosigner vkey or a file holding it); their
    /// cosignatures are kept too.
    #[serde(default)]
    pub http_witnesses: Vec<String>,
}

/// The most appends `[limits] max_in_flight` may allow at once (each holds a request in
/// memory; far more than 2 cores can check).
pub const MAX_IN_FLIGHT_LIMIT: usize = 1_000_000;

/// The largest `[limits] max_clock_skew_secs`: a day.
pub const MAX_CLOCK_SKEW_LIMIT: i64 = 86_400;

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// How far in the future `occurred_at` may be, in seconds (default 300).
    pub max_clock_skew_secs: Option<i64>,
    /// Appends in flight at once (default 4096).
    pub max_in_flight: Option<usize>,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A required setting is missing.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// A setting has an invalid value.
    #[error("invalid setting {name}: {message}")]
    Invalid {
        /// Which.
        name: &'static str,
        /// Why.
        message: String,
    },
}

/// The settings ledgerd runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The book's directory.
    pub data_dir: PathBuf,
    /// The ledger key file.
    pub ledger_key_file: PathBuf,
    /// NATS URL(s).
    pub nats_url: String,
    /// NATS user and password.
    pub nats_user_password: Option<(String, String)>,
    /// Stream name, when set explicitly.
    pub stream_name: Option<String>,
    /// Stream replicas.
    pub replicas: usize,
    /// Checkpoint every N records.
    pub checkpoint_every: u64,
    /// Checkpoint interval.
    pub checkpoint_interval: Duration,
    /// Clock skew.
    pub max_clock_skew_secs: i64,
    /// Appends in flight.
    pub max_in_flight: usize,
    /// Witnesses whose cosignatures are attached to checkpoints.
    pub witnesses: Vec<VerifierKey>,
    /// Witnesses ledgerd posts its checkpoints to.
    pub http_witnesses: Vec<crate::witnesses::HttpWitness>,
}

impl FileConfig {
    /// Reads a TOML file.
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Resolves defaults and checks values.
    pub fn settle(self) -> Result<Settings, ConfigError> {
        let data_dir = self.data_dir.ok_or(ConfigError::Missing(
            "data_dir (or --data / PROBITY_DATA_DIR)",
        ))?;
        let replicas = self.stream.replicas.unwrap_or(1);
        if !(1..=5).contains(&replicas) {
            return Err(ConfigError::Invalid {
                name: "stream.replicas",
                message: format!("{replicas} is not between 1 and 5"),
            });
        }
        let checkpoint_every = self.checkpoints.every_records.unwrap_or(1000);
        if checkpoint_every == 0 {
            return Err(ConfigError::Invalid {
                name: "checkpoints.every_records",
                message: "must be at least 1".into(),
            });
        }
        let max_in_flight = self.limits.max_in_flight.unwrap_or(4096);
        if !(1..=MAX_IN_FLIGHT_LIMIT).contains(&max_in_flight) {
            return Err(ConfigError::Invalid {
                name: "limits.max_in_flight",
                message: format!("{max_in_flight} is not between 1 and {MAX_IN_FLIGHT_LIMIT}"),
            });
        }
        let max_clock_skew_secs = self.limits.max_clock_skew_secs.unwrap_or(300);
        if !(0..=MAX_CLOCK_SKEW_LIMIT).contains(&max_clock_skew_secs) {
            return Err(ConfigError::Invalid {
                name: "limits.max_clock_skew_secs",
                message: format!(
                    "{max_clock_skew_secs} is not between 0 and {MAX_CLOCK_SKEW_LIMIT}"
                ),
            });
        }
        let nats_user_password = match (self.nats_user, self.nats_password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "nats_user / nats_password",
                    message: "give both or neither".into(),
                })
            }
        };
        let witnesses = self
            .checkpoints
            .witnesses
            .iter()
            .map(|w| {
                probity_ledger::keyfile::read_vkey(w).map_err(|e| ConfigError::Invalid {
                    name: "checkpoints.witnesses",
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let http_witnesses = self
            .checkpoints
            .http_witnesses
            .iter()
            .map(|w| {
                crate::witnesses::HttpWitness::parse(w).map_err(|message| ConfigError::Invalid {
                    name: "checkpoints.http_witnesses",
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut witnesses = witnesses;
        for w in &http_witnesses {
            if !witnesses.contains(&w.vkey) {
                witnesses.push(w.vkey.clone());
            }
        }
        Ok(Settings {
            witnesses,
            http_witnesses,
            ledger_key_file: self
                .ledger_key_file
                .unwrap_or_else(|| data_dir.join("ledger.key")),
            data_dir,
            nats_url: self
                .nats_url
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            nats_user_password,
            stream_name: self.stream.name,
            replicas,
            checkpoint_every,
            checkpoint_interval: Duration::from_millis(
                self.checkpoints.every_ms.unwrap_or(1000).max(10),
            ),
            max_clock_skew_secs,
            max_in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(limits: &str) -> Result<Settings, ConfigError> {
        let text = format!("data_dir = \"/tmp/probity\"\n[limits]\n{limits}\n");
        toml::from_str::<FileConfig>(&text)
            .map_err(|e| ConfigError::Parse {
                path: "test".into(),
                message: e.to_string(),
            })?
            .settle()
    }

    #[test]
    fn limits_out_of_range_are_refused_by_name_not_wrapped() {
        assert_eq!(settle("").unwrap().max_in_flight, 4096);
        assert_eq!(settle("max_in_flight = 1").unwrap().max_in_flight, 1);
        for bad in [
            "max_in_flight = 0",
            "max_in_flight = 4294967297",
            "max_clock_skew_secs = -1",
            "max_clock_skew_secs = 86401",
        ] {
            let error = settle(bad).unwrap_err().to_string();
            assert!(error.contains("limits."), "{bad}: {error}");
        }
    }

    #[test]
    fn the_shipped_configuration_parses_and_http_witnesses_are_checked() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/ledgerd.toml");
        let settings = FileConfig::read(&shipped).unwrap().settle().unwrap();
        assert!(settings.http_witnesses.is_empty());
        let witness = probity_core::checkpoint::Cosigner::ml_dsa_44("audit.example/w", &[3; 32])
            .verifier_key()
            .to_string();
        let with = |entry: &str| {
            let text = format!(
                "data_dir = \"/tmp/probity\"\n[checkpoints]\nhttp_witnesses = [{entry:?}]\n"
            );
            toml::from_str::<FileConfig>(&text).unwrap().settle()
        };
        let settings = with(&format!("http://127.0.0.1:7380/ {witness}")).unwrap();
        assert_eq!(settings.http_witnesses[0].url, "http://127.0.0.1:7380");
        // Its cosignatures are kept, as a configured witness's are.
        assert_eq!(
            settings.witnesses,
            [settings.http_witnesses[0].vkey.clone()]
        );
        for bad in [
            format!("https://w.example {witness}"),
            "http://w.example".to_owned(),
            "http://w.example not-a-vkey".to_owned(),
        ] {
            let error = with(&bad).unwrap_err().to_string();
            assert!(
                error.contains("checkpoints.http_witnesses"),
                "{bad}: {error}"
            );
        }
    }
}
