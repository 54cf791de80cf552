//! `probity`: the command-line tool for people who record and check the ledger.
//!
//! Exit codes: 0 success; 1 the ledger refused the request (its error code is printed);
//! 2 usage, input or file error; 3 the ledger could not be reached (no ledgerd on NATS, or the
//! data directory is in use).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args as ClapArgs, Parser, Subcommand};
use probity_core::envelope::{EventBody, SignedEvent, Subjects};
use probity_core::ids::{EventId, EventType, LedgerId, SubjectId};
use probity_core::keys::{KeyId, PublicKey, SecretKey};
use probity_core::receipt::Receipt;
use probity_core::roles::{Role, GENESIS, KEY_ENROLLED, KEY_REVOKED};
use probity_core::subject::Subject;
use probity_core::time::OccurredAt;
use probity_events::catalogue::implied_subjects;
use probity_ledger::wire::{self, AppendMessage};
use probity_ledger::{keyfile, EngineConfig, Ledger, SystemClock};
use probity_projector::render;
use probity_views::query::{BlacklistQuery, FindingsQuery, PolicyQuery, SubjectQuery};
use serde_json::{json, Value};

mod audit;
mod demo;
mod oversight;
mod publish;
mod serve;

mod live;
mod target;
mod witness;
mod witness_serve;

use target::{book_dir, ledger_key_path, Target};

// Rebuilding views allocates per record and per row (parsing, serialising, sled's node copies):
// mimalloc does that markedly faster than glibc's allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a command failed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// The ledger refused: code and message.
    Refused(String, String),
    /// Bad usage, input or files.
    Input(String),
    /// The ledger could not be reached.
    Unreachable(String),
    /// Verification found problems (already printed).
    Findings(usize),
    /// The data directory's storage is damaged (or lost records it had acknowledged).
    Damaged(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(..) | Failure::Findings(_) => 1,
            Failure::Input(_) => 2,
            Failure::Unreachable(_) => 3,
            Failure::Damaged(_) => 4,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(code, message) => write!(f, "refused ({code}): {message}"),
            Failure::Input(message) | Failure::Unreachable(message) => f.write_str(message),
            Failure::Damaged(message) => write!(f, "damaged: {message}"),
            Failure::Findings(n) => write!(f, "{n} finding(s), listed above: NOT verified"),
        }
    }
}

fn input<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> Failure + '_ {
    move |e| Failure::Input(format!("{context}: {e}"))
}

/// Probity: a tamper-evident oversight ledger for public procurement.
#[derive(Debug, Parser)]
#[command(name = "probity", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The hospital's offset from UTC: text output, the views' --json answers and the console
    /// show times in it.
    #[arg(
        long,
        global = true,
        env = "PROBITY_UTC_OFFSET",
        default_value = "+08:00",
        allow_hyphen_values = true
    )]
    utc_offset: String,
}

/// How text output writes times: in the hospital's zone (`--utc-offset`), set once at start.
static TEXT: std::sync::OnceLock<render::Text> = std::sync::OnceLock::new();

/// The text writer of this run.
fn text() -> render::Text {
    *TEXT.get_or_init(render::Text::default)
}

/// Which ledger to talk to: a data directory (embedded) or a running ledgerd.
#[derive(Debug, Clone, ClapArgs)]
struct Where {
    /// The ledger's data directory (embedded mode: no server needed) [env: PROBITY_DATA_DIR].
    /// A flag wins over either environment variable.
    #[arg(long, conflicts_with = "nats")]
    data: Option<PathBuf>,
    /// A NATS URL where ledgerd serves the ledger [env: PROBITY_NATS_URL].
    #[arg(long)]
    nats: Option<String>,
    /// The ledger id (needed with --nats).
    #[arg(long, env = "PROBITY_LEDGER")]
    ledger: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Where {
    /// The data directory or NATS URL: a flag given wins over both environment variables
    /// (PROBITY_DATA_DIR, PROBITY_NATS_URL); without a flag, the one variable set.
    fn resolved(&self) -> Result<(Option<PathBuf>, Option<String>), Failure> {
        if self.data.is_some() || self.nats.is_some() {
            return Ok((self.data.clone(), self.nats.clone()));
        }
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        match (env("PROBITY_DATA_DIR"), env("PROBITY_NATS_URL")) {
            (Some(_), Some(_)) => Err(Failure::Input(
                "both PROBITY_DATA_DIR and PROBITY_NATS_URL are set: say which with --data DIR or --nats URL".into(),
            )),
            (data, nats) => Ok((
                data.map(PathBuf::from),
                nats.map(|v| v.to_string_lossy().into_owned()),
            )),
        }
    }

    /// The data directory, when the ledger is one (flag or environment).
    fn data_dir(&self) -> Option<PathBuf> {
        self.resolved().ok().and_then(|(data, _)| data)
    }

    fn connect(&self) -> Result<Target, Failure> {
        match self.resolved()? {
            (Some(dir), _) => Target::embedded(&dir),
            (None, Some(url)) => {
                let ledger = self.ledger.as_deref().ok_or_else(|| {
                    Failure::Input("--nats needs --ledger ID (or PROBITY_LEDGER)".into())
                })?;
                Target::nats(&url, ledger)
            }
            (None, None) => Err(Failure::Input(
                "say which ledger: --data DIR or --nats URL --ledger ID".into(),
            )),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API and the web console on a data directory, or on a running ledger
    /// (--nats URL --ledger ID: a verified copy kept from its stream, appends handed to
    /// ledgerd) (schemas/HTTP.md).
    Serve {
        /// The data directory.
        #[arg(long, conflicts_with = "nats", required_unless_present = "nats")]
        data: Option<PathBuf>,
        /// A NATS URL where ledgerd serves the ledger (with the user and password of the
        /// `console` account, e.g. nats://console:PASSWORD@host:4222).
        #[arg(long, requires = "ledger")]
        nats: Option<String>,
        /// The ledger id (with --nats).
        #[arg(long, requires = "nats")]
        ledger: Option<String>,
        /// With --nats: where to keep the verified copy and its views (default
        /// $XDG_CACHE_HOME/probity/<ledger>, else ~/.cache/probity/<ledger>).
        #[arg(long, requires = "nats")]
        copy: Option<PathBuf>,
        /// With --nats: pin the ledger's key (C2SP vkey, or a file holding it) instead of
        /// trusting the key the copied genesis names.
        #[arg(long, requires = "nats")]
        ledger_vkey: Option<String>,
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The tokens file (probity token add writes it). Without one, every caller may do
        /// everything, so the server listens on loopback only.
        #[arg(long)]
        tokens: Option<PathBuf>,
    },
    /// Issue tokens for probity serve.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Record a city hospital's month on a new ledger (embedded, no server), then show the
    /// blacklist and the red flags, verify the chain, get a witnessed checkpoint and export.
    Demo {
        /// The data directory to create (must not exist or be empty).
        #[arg(long, default_value = "probity-demo")]
        data: PathBuf,
    },
    /// Generate a key pair: FILE (private, mode 0600) and FILE.pub (public key, base64).
    Keygen {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a new ledger in a data directory: genesis with the ledger key and an administrator.
    Init {
        /// The data directory to create.
        #[arg(long, env = "PROBITY_DATA_DIR")]
        data: PathBuf,
        /// The ledger id, e.g. city-hospital-3.
        #[arg(long)]
        ledger: String,
        /// Checkpoint origin (default probity.example/<ledger>).
        #[arg(long)]
        origin: Option<String>,
        /// The first administrator's private key file.
        #[arg(long)]
        admin_key: PathBuf,
        /// The administrator's name.
        #[arg(long, default_value = "administrator")]
        admin_name: String,
        /// Use this ledger key instead of generating <data>/ledger.key.
        #[arg(long)]
        ledger_key: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Enrol a key with a role (administrators only).
    Enroll {
        #[command(flatten)]
        at: Where,
        /// The administrator's private key file.
        #[arg(long)]
        key: PathBuf,
        /// The key to enrol: base64, or a .pub file.
        #[arg(long)]
        public_key: String,
        /// Its role.
        #[arg(long)]
        role: String,
        /// Who holds it.
        #[arg(long)]
        holder: String,
        /// Their department.
        #[arg(long)]
        department: Option<String>,
    },
    /// Revoke a key (administrators only).
    Revoke {
        #[command(flatten)]
        at: Where,
        /// The administrator's private key file.
        #[arg(long)]
        key: PathBuf,
        /// The key id to revoke (32 hex characters).
        #[arg(long)]
        key_id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Record an event, signed with your key.
    Record(RecordArgs),
    /// Show the ledger's size, root, latest checkpoint and keys.
    Status {
        #[command(flatten)]
        at: Where,
    },
    /// How many records name a subject so far: the version `record --expect` compares
    /// (`probity subject-version case:CASE-1`, then `record … --expect case:CASE-1=N`).
    SubjectVersion {
        /// supplier:<USCC>, rep:<filing number>, case:<case id> or staff:<staff id>.
        subject: String,
        #[command(flatten)]
        at: Where,
    },
    /// Write a self-contained export of the whole ledger (JSON lines; schemas/EXPORT.md).
    Export {
        /// The ledger: --data DIR, or --nats URL --ledger ID for a running one (records up to
        /// ledgerd's latest checkpoint, read from its JetStream copy).
        #[command(flatten)]
        at: Where,
        /// The export file to write.
        #[arg(long)]
        out: PathBuf,
        /// Only records from this one (a range export: with the key records before it and
        /// the chain's state there, verifiable on its own).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Only records before this one (default: all); a range must end at or after a
        /// checkpoint.
        #[arg(long)]
        to: Option<u64>,
    },
    /// Publish every purchase case as Open Contracting data: an OCDS 1.1 release package (one
    /// release per recorded step, each naming its ledger record and proof bundle; staff and
    /// reps left out), or with --records a record package with each case's compiled release
    /// (schemas/OCDS.md). Over NATS, reads the ledger's stream up to ledgerd's latest checkpoint.
    Ocds {
        #[command(flatten)]
        at: Where,
        /// The package file to write.
        #[arg(long)]
        out: PathBuf,
        /// Write a record package (each case's releases and compiled release) instead.
        #[arg(long)]
        records: bool,
        /// The public address of the `probity serve` publishing this ledger: proof bundles,
        /// the package's address and the `probity` extension are found under it.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
        /// The OCID prefix the Open Contracting Partnership registered for the hospital
        /// (default: `ocds-` and six hex digits of SHA-256 of the ledger's origin).
        #[arg(long, value_parser = publish::ocid_prefix)]
        ocid_prefix: Option<String>,
        /// Where the bids extension is read from (default: its official address).
        #[arg(long)]
        bids_extension: Option<String>,
        /// The hospital's name, as buyer and publisher (default: the ledger's origin).
        #[arg(long)]
        buyer: Option<String>,
    },
    /// Attach witnesses' cosignatures to the ledger's checkpoint they cosigned (the output of
    /// `probity witness`, or any C2SP note carrying cosignature/v1 lines). With --data, give the
    /// witnesses whose cosignatures to keep; over NATS, ledgerd keeps those of the witnesses it
    /// is configured with. Cosignatures that do not verify are never kept.
    Cosign {
        /// The cosigned checkpoint.
        note: PathBuf,
        #[command(flatten)]
        at: Where,
        /// A witness's cosigner vkey (repeatable; with --data).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
    },
    /// Rebuild a data directory from an export, verifying every record and checkpoint on the
    /// way in (nothing is kept if anything fails). The copy has no ledger key: it answers every
    /// reading command (views, findings, replay, proofs) but takes no appends. Exit 0 imported,
    /// 1 the export does not verify, 2 usage or I/O error.
    Import {
        /// The export file.
        file: PathBuf,
        /// The new data directory.
        #[arg(long)]
        data: PathBuf,
        /// Pin the ledger's key (C2SP vkey, or a file holding it) instead of trusting genesis.
        #[arg(long)]
        ledger_vkey: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a ledger: every hash, link, strict signature, key and role, event-id uniqueness,
    /// Merkle roots against every checkpoint, checkpoint signatures and witnesses, and
    /// consistency with a checkpoint you kept. Exit 0 intact, 1 findings, 2 usage or I/O error.
    Verify {
        /// An export file or an investigation bundle (`replay --bundle`), or use --data / --nats.
        file: Option<PathBuf>,
        /// A data directory instead of an export.
        #[arg(long, conflicts_with = "file")]
        data: Option<PathBuf>,
        /// A live ledger: the records of its JetStream copy, against ledgerd's latest
        /// checkpoint (with --ledger).
        #[arg(long, conflicts_with_all = ["file", "data"], requires = "ledger")]
        nats: Option<String>,
        /// The ledger id (with --nats).
        #[arg(long, env = "PROBITY_LEDGER")]
        ledger: Option<String>,
        /// The JetStream stream (with --nats; default `PROBITY_<LEDGER>`).
        #[arg(long, requires = "nats")]
        stream: Option<String>,
        /// Pin the ledger's key (C2SP vkey, or a file holding it) instead of trusting genesis.
        #[arg(long)]
        ledger_vkey: Option<String>,
        /// A checkpoint you kept from an earlier audit: the ledger must still be consistent with it.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// A witness's cosigner vkey (repeatable).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// How many of the witnesses must have cosigned the checkpoint that anchors the
        /// verification (the largest one that verifies); older checkpoints need only the
        /// ledger's signature and a root the records match.
        #[arg(long, default_value_t = 0)]
        quorum: usize,
        /// Apply the quorum to the checkpoint of this many records instead of the largest.
        #[arg(long, requires = "quorum")]
        witnessed_at: Option<u64>,
        /// Accept records past the last checkpoint that verifies (no signed checkpoint covers
        /// them yet): report them instead of counting them as a finding.
        #[arg(long)]
        allow_unanchored: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write an offline proof that record SEQ is in the ledger: the record, its inclusion proof
    /// and a ledger-signed checkpoint (C2SP tlog-proof layout, `schemas/PROOF.md`).
    Prove {
        /// The ledger: --data DIR, or --nats URL --ledger ID for a running one (against
        /// ledgerd's latest checkpoint, the record from its JetStream copy).
        #[command(flatten)]
        at: Where,
        /// The record's sequence number.
        #[arg(long)]
        seq: u64,
        /// Where to write the bundle (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a proof bundle offline: the checkpoint's signatures against the ledger key you pin
    /// (and witnesses), the record's hash, the inclusion proof, the event's strict signature.
    /// Exit 0 proven, 1 not proven, 2 usage or I/O error.
    VerifyProof {
        /// The bundle (`probity prove --out`).
        file: PathBuf,
        /// The record's JSON, for a bundle whose record was too large for its extra line
        /// (default: FILE.record.json when the bundle carries no record).
        #[arg(long)]
        record: Option<PathBuf>,
        /// The ledger's checkpoint key (C2SP vkey, or a file holding it).
        #[arg(long)]
        ledger_vkey: String,
        /// A witness's cosigner vkey (repeatable).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// How many of the witnesses must have cosigned the checkpoint.
        #[arg(long, default_value_t = 0)]
        quorum: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask a witness to cosign: the ledger's latest checkpoint with a consistency proof from
    /// the size the witness last cosigned (a C2SP tlog-witness add-checkpoint request).
    WitnessRequest {
        /// The ledger: --data DIR, or --nats URL --ledger ID for a running one (ledgerd's
        /// latest checkpoint and consistency proof).
        #[command(flatten)]
        at: Where,
        /// The size the witness last cosigned (0 the first time).
        #[arg(long)]
        old: u64,
        /// Where to write the request (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Act as a witness (an auditor's command): check an add-checkpoint request against the
    /// ledger key and the checkpoint you last cosigned (kept in --state), and cosign it
    /// (Ed25519 cosignature/v1 unless --algorithm ml-dsa-44). Exit 0 cosigned, 1 refused
    /// (conflict, rollback, fork, bad proof or signature), 2 usage or I/O error. `probity
    /// witness serve` answers the same over HTTP (C2SP tlog-witness).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Witness {
        #[command(subcommand)]
        serve: Option<WitnessCommand>,
        /// The request (`probity witness-request`).
        #[arg(required = true)]
        request: Option<PathBuf>,
        #[command(flatten)]
        identity: witness::Identity,
        /// Also write the cosigned checkpoint (a note to keep, e.g. for --trusted-checkpoint).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Red-flag findings, each with its rule, severity and evidence records.
    Findings {
        #[command(flatten)]
        target: Where,
        /// Only this rule (e.g. split-purchase).
        #[arg(long)]
        rule: Option<String>,
        /// Only findings detectable since this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
    },
    /// Suppliers under a whole-firm ban: as true at --at, as known at --known-at (default now).
    Blacklist {
        #[command(flatten)]
        target: Where,
        /// True at this time (by when things happened).
        #[arg(long)]
        at: Option<String>,
        /// Known at this time (by when the ledger recorded them).
        #[arg(long)]
        known_at: Option<String>,
    },
    /// The thresholds and windows the rules use, in force at --at (default now), and where they
    /// came from: the defaults, or which policy.set record.
    Policy {
        #[command(flatten)]
        target: Where,
        /// True at this time (by when the policy took effect).
        #[arg(long)]
        at: Option<String>,
    },
    /// A supplier: admission, sanctions, listings, evaluations, eligibility, rep strikes.
    Supplier(SubjectArgs),
    /// A sales rep: registration, visit log, refusals, breaches.
    Rep(SubjectArgs),
    /// A purchase case: its steps with signers and supervision, quotes, panel, award.
    Case(SubjectArgs),
    /// A staff member: rep meetings, roles in cases, recusals.
    Staff(SubjectArgs),
}

/// One supplier, rep, case or staff member.
#[derive(Debug, ClapArgs)]
struct SubjectArgs {
    #[command(flatten)]
    target: Where,
    /// The USCC, filing number, case id or staff id.
    id: String,
    /// As of this time (RFC 3339; default now).
    #[arg(long)]
    at: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a token for a person with a role; print it once, keep only its hash.
    Add {
        /// The tokens file (created with mode 0600 if missing).
        #[arg(long)]
        tokens: PathBuf,
        /// Who it is for.
        #[arg(long)]
        user: String,
        /// Their role (schemas/roles.md): what they may read and do over HTTP.
        #[arg(long)]
        role: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, ClapArgs)]
struct RecordArgs {
    #[command(flatten)]
    at: Where,
    /// Your private key file.
    #[arg(long)]
    key: PathBuf,
    /// An event file: {"type", "payload", and optionally "id", "schema", "occurred_at", "subjects"}.
    #[arg(long, conflicts_with_all = ["event_type", "payload", "payload_file"])]
    file: Option<PathBuf>,
    /// Many events: a JSON-lines file, one event file per line (as --file, plus an optional
    /// "expect" object), each signed with your key and sent in batches of up to 256 — for
    /// what was recorded offline, or a paper archive being digitised. Give each line an "id"
    /// so that the whole file can be sent again safely.
    #[arg(long, conflicts_with_all = ["file", "event_type", "payload", "payload_file", "id", "schema", "occurred_at", "subjects", "expect"])]
    batch: Option<PathBuf>,
    /// The event type, e.g. purchase.requested.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// The payload as JSON.
    #[arg(long)]
    payload: Option<String>,
    /// The payload from a JSON file.
    #[arg(long, conflicts_with = "payload")]
    payload_file: Option<PathBuf>,
    /// Event id (default: generated). Reuse it to retry safely.
    #[arg(long)]
    id: Option<String>,
    /// Payload schema version.
    #[arg(long)]
    schema: Option<u32>,
    /// When it happened (RFC 3339 with offset; default now).
    #[arg(long)]
    occurred_at: Option<String>,
    /// Extra subject, kind:id (those the payload names are added automatically).
    #[arg(long = "subject")]
    subjects: Vec<String>,
    /// Expected version of a subject stream, kind:id=N (optimistic concurrency).
    #[arg(long = "expect")]
    expect: Vec<String>,
}

fn main() -> ExitCode {
    probity_ledger::without_huge_pages();
    let cli = Cli::parse();
    let Some(zone) = render::Text::parse_zone(&cli.utc_offset) else {
        let _ = writeln!(
            std::io::stderr(),
            "probity: --utc-offset {:?}: the hospital's offset from UTC, written ±hh:mm (e.g. +08:00)",
            cli.utc_offset
        );
        return ExitCode::from(2);
    };
    let _ = TEXT.set(zone);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "probity: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// `probity witness serve`.
#[derive(Debug, Subcommand)]
enum WitnessCommand {
    /// Serve the C2SP tlog-witness protocol over HTTP: POST /add-checkpoint (cosigns with
    /// ML-DSA-44 unless --algorithm ed25519) and GET /<hex SHA-256 of origin>/checkpoint.
    Serve {
        #[command(flatten)]
        identity: witness::Identity,
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: String,
    },
}

fn out(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

fn out_json(value: &impl serde::Serialize) {
    // Invariant: a JSON value always serializes.
    out(&serde_json::to_string_pretty(value).expect("a JSON value serializes"));
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Demo { data } => demo::run(&data),
        Command::Serve {
            data,
            nats,
            ledger,
            copy,
            ledger_vkey,
            listen,
            tokens,
        } => {
            let how = serve::How {
                listen,
                tokens,
                offset: text().zone(),
            };
            match (data, nats, ledger) {
                (Some(data), _, _) => serve::run(&data, &how),
                (None, Some(url), Some(ledger)) => {
                    let pinned = ledger_vkey
                        .map(|v| vkey_arg("--ledger-vkey", &v))
                        .transpose()?;
                    let copy = match copy {
                        Some(dir) => dir,
                        None => serve::default_copy_dir(&ledger)?,
                    };
                    serve::run_following(&url, &ledger, &copy, pinned, &how)
                }
                _ => Err(Failure::Input(
                    "say which ledger: --data DIR or --nats URL --ledger ID".into(),
                )),
            }
        }
        Command::Token(TokenCommand::Add {
            tokens,
            user,
            role,
            json,
        }) => serve::add(&tokens, &user, &role, json),
        Command::Keygen {
            out: path,
            force,
            json,
        } => keygen(&path, force, json),
        Command::Init {
            data,
            ledger,
            origin,
            admin_key,
            admin_name,
            ledger_key,
            json,
        } => init(
            &data,
            &ledger,
            origin,
            &admin_key,
            &admin_name,
            ledger_key.as_deref(),
            json,
        ),
        Command::Enroll {
            at,
            key,
            public_key,
            role,
            holder,
            department,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                Failure::Input(format!(
                    "unknown role {role:?}; one of: {}",
                    Role::ALL.map(|r| r.as_str()).join(", ")
                ))
            })?;
            let enrolled = read_public_key(&public_key)?;
            let mut payload = json!({"key": enrolled, "role": role, "holder": holder});
            if let Some(department) = department {
                payload["department"] = json!(department);
            }
            submit(&at, &key, KEY_ENROLLED, payload, &Extra::default())
        }
        Command::Revoke {
            at,
            key,
            key_id,
            reason,
        } => {
            let key_id = KeyId::from_hex(&key_id).map_err(input("--key-id"))?;
            submit(
                &at,
                &key,
                KEY_REVOKED,
                json!({"key_id": key_id, "reason": reason}),
                &Extra::default(),
            )
        }
        Command::Record(args) => record(args),
        Command::Export {
            at,
            out: path,
            from,
            to,
        } => {
            let written = match at.connect()? {
                Target::Embedded(ledger) => {
                    let to = to.unwrap_or_else(|| ledger.size());
                    let written = audit::export(&ledger, &path, from, to);
                    ledger.close();
                    written
                }
                target if from == 0 && to.is_none() => live::export(&target, &path),
                _ => Err(Failure::Input(
                    "a range export (--from/--to) needs --data; over NATS the export is the whole ledger up to ledgerd's latest checkpoint".into(),
                )),
            };
            out(&format!(
                "exported {} records to {}",
                written?,
                path.display()
            ));
            Ok(())
        }
        Command::Ocds {
            at,
            out: path,
            records,
            base_url,
            ocid_prefix,
            bids_extension,
            buyer,
        } => {
            let target = at.connect()?;
            let publication = publish::Publication {
                out: path.clone(),
                records,
                base_url,
                ocid_prefix,
                bids_extension,
                buyer,
                zone: text().zone(),
            };
            let written = publish::run(&target, &publication);
            target.close();
            let releases = written?;
            if at.json {
                out_json(
                    &json!({"releases": releases, "out": path, "package": if records { "record" } else { "release" }}),
                );
            } else {
                out(&format!(
                    "published {releases} releases of purchase cases to {} (OCDS 1.1 {} package)",
                    path.display(),
                    if records { "record" } else { "release" }
                ));
            }
            Ok(())
        }
        Command::Cosign {
            note,
            at,
            witnesses,
        } => cosign(&note, &at, &witnesses),
        Command::Import {
            file,
            data,
            ledger_vkey,
            json,
        } => {
            let key = ledger_vkey
                .map(|v| vkey_arg("--ledger-vkey", &v))
                .transpose()?;
            let imported = audit::import(&file, &data, key)?;
            if json {
                out_json(&imported);
            } else {
                out(&format!(
                    "imported and verified {} records into {} (read-only: no ledger key)",
                    imported.records,
                    data.display()
                ));
            }
            Ok(())
        }
        Command::Verify {
            file,
            data,
            nats,
            ledger,
            stream,
            ledger_vkey,
            trusted_checkpoint,
            witnesses,
            quorum,
            witnessed_at,
            allow_unanchored,
            json,
        } => verify(
            Source {
                file,
                data,
                nats: nats.map(|url| (url, ledger.unwrap_or_default(), stream)),
            },
            ledger_vkey,
            trusted_checkpoint,
            witnesses,
            (quorum, witnessed_at),
            allow_unanchored,
            json,
        ),
        Command::Prove { at, seq, out } => match at.connect()? {
            Target::Embedded(ledger) => audit::prove(ledger, seq, out.as_deref()),
            target => audit::write_bundle(&live::prove(&target, seq)?, out.as_deref()),
        },
        Command::VerifyProof {
            file,
            record,
            ledger_vkey,
            witnesses,
            quorum,
            json,
        } => {
            let policy = probity_core::checkpoint::WitnessPolicy {
                log: vkey_arg("--ledger-vkey", &ledger_vkey)?,
                witnesses: witnesses
                    .iter()
                    .map(|w| vkey_arg("--witness", w))
                    .collect::<Result<_, _>>()?,
                quorum,
            };
            audit::verify_proof(&file, record.as_deref(), &policy, json)
        }
        Command::WitnessRequest { at, old, out } => match at.connect()? {
            Target::Embedded(ledger) => witness::request(ledger, old, out.as_deref()),
            target => witness::write_request(&live::witness_request(&target, old)?, out.as_deref()),
        },
        Command::Witness {
            serve: Some(WitnessCommand::Serve { identity, listen }),
            ..
        } => witness_serve::run(&identity, &listen),
        Command::Witness {
            serve: None,
            request,
            identity,
            out,
            json,
        } => {
            let request = request.ok_or_else(|| Failure::Input("give the request file".into()))?;
            witness::cosign(&request, &identity, out.as_deref(), json)
        }
        Command::Findings {
            target,
            rule,
            since,
        } => findings(&target, rule, since),
        Command::Blacklist {
            target,
            at,
            known_at,
        } => blacklist(&target, at, known_at),
        Command::Policy { target, at } => policy(&target, at),
        Command::Supplier(args) => subject("supplier", &args),
        Command::Rep(args) => subject("rep", &args),
        Command::Case(args) => subject("case", &args),
        Command::Staff(args) => subject("staff", &args),
        Command::SubjectVersion { subject, at } => {
            let target = at.connect()?;
            let version = target.subject_version(&subject);
            target.close();
            let version = version?;
            if at.json {
                out_json(&version);
            } else {
                out(&format!(
                    "{} has been named by {} record(s) (ledger size {}): record on it with --expect {}={}",
                    version.subject, version.version, version.size, version.subject, version.version
                ));
            }
            Ok(())
        }
        Command::Status { at } => {
            let target = at.connect()?;
            let status = target.status();
            let lag = oversight::lag(&target, at.data_dir().as_deref());
            target.close();
            let status = status?;
            if at.json {
                let mut value =
                    serde_json::to_value(&status).map_err(|e| Failure::Input(e.to_string()))?;
                value["projector"] = json!(lag);
                out_json(&value);
            } else {
                out(&format!("ledger       {}", status.ledger));
                out(&format!("origin       {}", status.origin));
                out(&format!("records      {}", status.size));
                out(&format!("root         {}", status.root));
                out(&format!(
                    "checkpoint   {}",
                    status
                        .checkpoint_size
                        .map_or("none yet".into(), |s| format!("at size {s}"))
                ));
                out(&format!(
                    "last record  {}",
                    status
                        .last_recorded_at
                        .map_or("-".into(), |t| text().when(t.unix_micros()))
                ));
                out(&format!("active keys  {}", status.active_keys));
                out(&match lag {
                    None => "views        none (no views yet, or no projectord answering)".into(),
                    Some(l) => format!(
                        "views        {} applied, {} behind ({:.1} s){}",
                        l.applied,
                        l.records_behind,
                        l.seconds_behind,
                        l.halted.map_or(String::new(), |h| format!(
                            "; STOPPED at record {}: {}",
                            h.seq, h.reason
                        ))
                    ),
                });
            }
            Ok(())
        }
    }
}

/// A C2SP vkey given inline or as a file holding it.
fn vkey_arg(name: &str, text: &str) -> Result<probity_core::checkpoint::VerifierKey, Failure> {
    keyfile::read_vkey(text).map_err(input(name))
}

#[allow(clippy::too_many_arguments)]
/// What `verify` reads.
struct Source {
    file: Option<PathBuf>,
    data: Option<PathBuf>,
    /// URL, ledger id, stream name.
    nats: Option<(String, String, Option<String>)>,
}

fn verify(
    Source { file, data, nats }: Source,
    ledger_vkey: Option<String>,
    trusted_checkpoint: Option<PathBuf>,
    witnesses: Vec<String>,
    (quorum, witnessed_at): (usize, Option<u64>),
    allow_unanchored: bool,
    json: bool,
) -> Result<(), Failure> {
    let mut trust = audit::Trust {
        ledger_vkey: ledger_vkey
            .map(|v| vkey_arg("--ledger-vkey", &v))
            .transpose()?,
        quorum,
        witnessed_at,
        allow_unanchored,
        ..Default::default()
    };
    for w in &witnesses {
        trust.witnesses.push(vkey_arg("--witness", w)?);
    }
    if quorum > trust.witnesses.len() {
        return Err(Failure::Input(format!(
            "--quorum {quorum} needs at least {quorum} --witness keys"
        )));
    }
    if let Some(path) = trusted_checkpoint {
        let bytes = std::fs::read(&path).map_err(input("--trusted-checkpoint"))?;
        trust.trusted_checkpoint = Some(
            probity_core::checkpoint::SignedNote::parse(&bytes)
                .map_err(input("--trusted-checkpoint"))?,
        );
    }
    if let Some(file) = &file {
        if let Some(bundle) = audit::read_investigation(file)? {
            return audit::verify_investigation(&bundle, &trust, json);
        }
    }
    let report = match (file, data) {
        (None, None) if nats.is_some() => {
            let (url, ledger, stream) = nats.unwrap_or_default();
            let target = Target::nats(&url, &ledger)?;
            let report = audit::verify_nats(&target, stream.as_deref(), &trust);
            target.close();
            report?
        }
        (Some(file), None) => {
            let (report, range) = audit::verify_export(&file, &trust)?;
            if range && !report.key_commitment_checked && !json {
                eprintln!(
                    "probity: note: no checkpoint in this range commits to the key records (it was signed before checkpoints carried a key commitment): that none was left out of the key records before the range is not shown"
                );
            }
            report
        }
        (None, Some(dir)) => match probity_ledger::datadir::open_read_only(&dir) {
            Ok(ledger) => {
                let report = audit::verify_book(&ledger, &trust);
                ledger.close();
                report?
            }
            // Storage too damaged to open: that is the finding (nothing could be read).
            Err(probity_ledger::datadir::OpenError::Ledger(e)) if e.is_damage() => {
                audit::unreadable_book_report(e.to_string())
            }
            Err(e) => return Err(target::open_failure(&dir, e)),
        },
        _ => {
            return Err(Failure::Input(
                "give an export FILE, --data DIR or --nats URL --ledger ID".into(),
            ))
        }
    };
    if json {
        out_json(&report);
    } else if report.is_intact() {
        out(&format!(
            "intact: {} records, {} checkpoints verified, root {}",
            report.records, report.checkpoints_checked, report.root
        ));
        if let Some(witnessed) = &report.witnessed {
            let names: Vec<&str> = witnessed
                .witnesses
                .iter()
                .map(|w| w.name.as_str())
                .collect();
            out(&format!(
                "the anchoring checkpoint ({} records) is cosigned by {}",
                witnessed.size,
                if names.is_empty() {
                    "no required witness".to_owned()
                } else {
                    names.join(", ")
                }
            ));
        }
        if let Some(range) = report.unanchored {
            out(&format!(
                "accepted as asked (--allow-unanchored): records {} to {} are covered by no signed checkpoint yet",
                range.from, range.to
            ));
        }
        if !report.key_pinned {
            out("authenticity NOT checked: no --ledger-vkey was pinned, so checkpoints were checked against the key the genesis record names; anyone can make a ledger that agrees with itself");
        }
    } else {
        for finding in &report.findings {
            out(&format!("[{}] {finding}", finding.code()));
        }
    }
    if report.is_intact() {
        Ok(())
    } else {
        Err(Failure::Findings(report.findings.len()))
    }
}

fn cosign(note: &Path, at: &Where, witnesses: &[String]) -> Result<(), Failure> {
    let text = std::fs::read(note).map_err(input(&note.display().to_string()))?;
    let parsed = probity_core::checkpoint::SignedNote::parse(&text)
        .map_err(|e| Failure::Input(format!("{}: {e}", note.display())))?;
    let target = at.connect()?;
    let reply = match &target {
        Target::Embedded(ledger) => {
            if witnesses.is_empty() {
                return Err(Failure::Input(
                    "give the witnesses whose cosignatures to keep: --witness VKEY".into(),
                ));
            }
            let keys = witnesses
                .iter()
                .map(|w| vkey_arg("--witness", w))
                .collect::<Result<Vec<_>, _>>()?;
            let (size, attached, stored) = ledger
                .attach_cosignatures(&parsed, &keys)
                .map_err(|e| Failure::Refused(e.code().to_string(), e.to_string()))?;
            Ok(wire::CosignReply {
                size,
                attached,
                note: String::from_utf8_lossy(&stored.to_bytes()).into_owned(),
            })
        }
        Target::Nats { ledger, .. } => {
            if !witnesses.is_empty() {
                return Err(Failure::Input(
                    "over NATS, ledgerd keeps the cosignatures of the witnesses it is configured with; drop --witness".into(),
                ));
            }
            target.request(
                wire::cosign_subject(ledger),
                &wire::CosignRequest {
                    note: String::from_utf8_lossy(&text).into_owned(),
                },
            )?
        }
    };
    target.close();
    let reply = reply.map_err(|e| Failure::Refused(e.code.to_string(), e.message))?;
    if at.json {
        out_json(&reply);
    } else if reply.attached.is_empty() {
        out(&format!(
            "nothing new: the checkpoint of {} records already carries every cosignature here that verifies",
            reply.size
        ));
    } else {
        out(&format!(
            "attached to the checkpoint of {} records: {}",
            reply.size,
            reply.attached.join(", ")
        ));
    }
    Ok(())
}

/// Asks `kind`: with `--json`, prints the answer as it came and returns `None`; else returns it
/// read as `T`, for text.
fn ask<T: serde::de::DeserializeOwned>(
    target: &Where,
    kind: &str,
    body: &impl serde::Serialize,
) -> Result<Option<T>, Failure> {
    let answer = oversight::ask(target.connect()?, target.data.as_deref(), kind, body)?;
    if target.json {
        out_json(&answer);
        return Ok(None);
    }
    T::deserialize(&answer)
        .map(Some)
        .map_err(|e| Failure::Unreachable(format!("unexpected {kind} answer: {e}")))
}

/// The answers' shape to ask for: `--json` prints the current one (QUERIES.md 3.0, as the HTTP
/// API answers); text is written from the views' own forms, which version 2 answers carry.
fn shape(target: &Where) -> probity_views::query::Version {
    if target.json {
        probity_views::query::Version::V3
    } else {
        probity_views::query::Version::V2
    }
}

/// Refuses a malformed time before anything is opened, naming the flag.
fn check_time(flag: &str, value: &Option<String>) -> Result<(), Failure> {
    probity_views::query::instant(flag, value.as_deref(), 0)
        .map(drop)
        .map_err(|e| Failure::Input(e.message))
}

fn findings(target: &Where, rule: Option<String>, since: Option<String>) -> Result<(), Failure> {
    check_time("--since", &since)?;
    let selected: Option<Vec<probity_views::query::FindingAnswer>> = ask(
        target,
        "findings",
        &FindingsQuery {
            rule,
            since,
            version: shape(target),
        },
    )?;
    let Some(selected) = selected else {
        return Ok(());
    };
    if selected.is_empty() {
        out("no findings");
    }
    for f in selected {
        out(&text().finding(&f.finding));
        for r in &f.reviews {
            out(&text().review(r));
        }
    }
    Ok(())
}

fn blacklist(target: &Where, at: Option<String>, known_at: Option<String>) -> Result<(), Failure> {
    check_time("--at", &at)?;
    check_time("--known-at", &known_at)?;
    let entries: Option<Vec<probity_projector::BlacklistEntry>> = ask(
        target,
        "blacklist",
        &BlacklistQuery {
            at,
            known_at,
            version: shape(target),
        },
    )?;
    let Some(entries) = entries else {
        return Ok(());
    };
    if entries.is_empty() {
        out("no supplier is under a whole-firm ban");
    }
    for e in entries {
        out(&text().blacklist_entry(&e));
    }
    Ok(())
}

fn policy(target: &Where, at: Option<String>) -> Result<(), Failure> {
    check_time("--at", &at)?;
    let report: Option<probity_projector::PolicyReport> = ask(
        target,
        "policy",
        &PolicyQuery {
            at,
            version: shape(target),
        },
    )?;
    if let Some(report) = report {
        out(&text().policy(&report));
    }
    Ok(())
}

fn subject(kind: &str, args: &SubjectArgs) -> Result<(), Failure> {
    check_time("--at", &args.at)?;
    let query = SubjectQuery {
        id: args.id.clone(),
        at: args.at.clone(),
        version: shape(&args.target),
    };
    let Some(raw): Option<Value> = ask(&args.target, kind, &query)? else {
        return Ok(());
    };
    let text = |value: Value| -> Result<String, Failure> {
        let bad =
            |e: serde_json::Error| Failure::Unreachable(format!("unexpected {kind} answer: {e}"));
        Ok(match kind {
            "supplier" => text().supplier(&serde_json::from_value(value).map_err(bad)?),
            "rep" => text().rep(&serde_json::from_value(value).map_err(bad)?),
            "case" => text().case(&serde_json::from_value(value).map_err(bad)?),
            _ => text().staff(&serde_json::from_value(value).map_err(bad)?),
        })
    };
    out(&text(raw)?);
    Ok(())
}

fn keygen(path: &Path, force: bool, json: bool) -> Result<(), Failure> {
    let key = SecretKey::generate(&mut rand_core::OsRng);
    let pub_path =
        keyfile::write_key_pair(path, &key, force).map_err(|e| Failure::Input(e.to_string()))?;
    let public = key.public_key();
    if json {
        out_json(
            &json!({"private_key_file": path, "public_key_file": pub_path,
            "public_key": public, "key_id": public.key_id()}),
        );
    } else {
        out(&format!(
            "private key  {} (mode 0600; keep it secret)",
            path.display()
        ));
        out(&format!(
            "public key   {} ({})",
            public.to_base64(),
            pub_path.display()
        ));
        out(&format!("key id       {}", public.key_id()));
    }
    Ok(())
}

fn read_key(path: &Path) -> Result<SecretKey, Failure> {
    keyfile::read_key(path).map_err(|e| Failure::Input(e.to_string()))
}

/// A public key given as base64, or as a file holding it.
fn read_public_key(text: &str) -> Result<PublicKey, Failure> {
    let path = Path::new(text);
    let text = if path.is_file() {
        std::fs::read_to_string(path).map_err(input(text))?
    } else {
        text.to_owned()
    };
    PublicKey::from_base64(text.trim()).map_err(input("--public-key"))
}

fn now() -> OccurredAt {
    // Invariant: RecordedAt's text form is RFC 3339 with an offset.
    OccurredAt::parse(&probity_ledger::now().to_string())
        .unwrap_or_else(|_| OccurredAt::new(probity_ledger::now().datetime()))
}

fn fresh_id() -> String {
    let mut random = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
    format!(
        "ev-{}-{}",
        probity_ledger::now().unix_micros(),
        hex_of(&random)
    )
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[allow(clippy::too_many_arguments)]
fn init(
    data: &Path,
    ledger: &str,
    origin: Option<String>,
    admin_key: &Path,
    admin_name: &str,
    ledger_key: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    let ledger_id = LedgerId::new(ledger).map_err(input("--ledger"))?;
    let admin = read_key(admin_key)?;
    if book_dir(data).exists() {
        return Err(Failure::Input(format!(
            "{} already holds a ledger",
            data.display()
        )));
    }
    std::fs::create_dir_all(data).map_err(input(&data.display().to_string()))?;
    let ledger_key = match ledger_key {
        Some(path) => read_key(path)?,
        None => SecretKey::generate(&mut rand_core::OsRng),
    };
    if ledger_key.public_key() == admin.public_key() {
        return Err(Failure::Input(
            "the ledger key must not be the administrator's key".into(),
        ));
    }
    // The data directory keeps its own copy, which ledgerd and `--data` use.
    keyfile::write_key(&ledger_key_path(data), &ledger_key, false)
        .map_err(|e| Failure::Input(e.to_string()))?;
    let origin = origin.unwrap_or_else(|| format!("probity.example/{ledger}"));
    let genesis = EventBody {
        id: EventId::new(format!("{ledger}-genesis")).map_err(input("event id"))?,
        event_type: EventType::new(GENESIS).map_err(input("type"))?,
        schema: 1,
        ledger: ledger_id,
        subjects: Subjects::default(),
        occurred_at: now(),
        signer: admin.public_key(),
        payload: json!({"origin": origin, "ledger_key": ledger_key.public_key(),
            "admins": [{"key": admin.public_key(), "holder": admin_name}]})
        .into(),
    };
    let (ledger, receipt) = Ledger::create(
        &book_dir(data),
        SignedEvent::sign(&genesis, &admin),
        ledger_key,
        EngineConfig::default(),
        Arc::new(SystemClock),
    )
    .map_err(|e| Failure::Input(e.to_string()))?;
    let vkey = ledger.verifier_key().to_string();
    let vkey_file = probity_ledger::datadir::write_ledger_vkey(data, &ledger)
        .map_err(input(&data.display().to_string()))?;
    ledger.close();
    if json {
        out_json(&json!({"data": data, "origin": origin, "ledger_vkey": vkey, "receipt": receipt}));
    } else {
        out(&format!(
            "ledger {} created in {}",
            genesis.ledger,
            data.display()
        ));
        out(&format!("origin        {origin}"));
        out(&format!(
            "ledger vkey   {vkey}  (give this to your auditors; also in {})",
            vkey_file.display()
        ));
        out(&format!(
            "ledger key    {} (mode 0600)",
            ledger_key_path(data).display()
        ));
        print_receipt(&receipt);
    }
    Ok(())
}

#[derive(Default)]
struct Extra {
    id: Option<String>,
    schema: Option<u32>,
    occurred_at: Option<String>,
    subjects: Vec<String>,
    expect: Vec<String>,
}

/// An event file (`record --file`) or a line of a `--batch` file, read strictly: each member
/// of the type the README gives it, no other member, no repeated key.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    #[serde(rename = "type")]
    event_type: String,
    payload: Value,
    id: Option<String>,
    schema: Option<u32>,
    occurred_at: Option<String>,
    subjects: Option<std::collections::BTreeMap<String, Vec<String>>>,
    expect: Option<std::collections::BTreeMap<String, u64>>,
}

/// Reads an event file's members into `extra` (flags given win); returns its type and payload.
fn event_file(text: &str, origin: &str, extra: &mut Extra) -> Result<(String, Value), Failure> {
    let file: EventFile = probity_core::strict_json::from_str(text).map_err(input(origin))?;
    extra.id = extra.id.take().or(file.id);
    extra.schema = extra.schema.or(file.schema);
    extra.occurred_at = extra.occurred_at.take().or(file.occurred_at);
    for (kind, ids) in file.subjects.unwrap_or_default() {
        for id in ids {
            extra.subjects.push(format!("{kind}:{id}"));
        }
    }
    for (stream, version) in file.expect.unwrap_or_default() {
        extra.expect.push(format!("{stream}={version}"));
    }
    Ok((file.event_type, file.payload))
}

fn record(args: RecordArgs) -> Result<(), Failure> {
    if let Some(path) = &args.batch {
        return record_batch(&args.at, &args.key, path);
    }
    let mut extra = Extra {
        id: args.id,
        schema: args.schema,
        occurred_at: args.occurred_at,
        subjects: args.subjects,
        expect: args.expect,
    };
    let (event_type, payload) = match args.file {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).map_err(input(&path.display().to_string()))?;
            event_file(&text, &path.display().to_string(), &mut extra)?
        }
        None => {
            let event_type = args.event_type.ok_or_else(|| {
                Failure::Input("give --type and --payload (or --payload-file), or --file".into())
            })?;
            let text = match (args.payload, args.payload_file) {
                (Some(text), _) => text,
                (None, Some(path)) => {
                    std::fs::read_to_string(&path).map_err(input(&path.display().to_string()))?
                }
                (None, None) => {
                    return Err(Failure::Input("give --payload or --payload-file".into()))
                }
            };
            let payload: Value =
                probity_core::strict_json::from_str(&text).map_err(input("payload is not JSON"))?;
            (event_type, payload)
        }
    };
    submit(&args.at, &args.key, &event_type, payload, &extra)
}

fn submit(
    at: &Where,
    key_path: &Path,
    event_type: &str,
    payload: Value,
    extra: &Extra,
) -> Result<(), Failure> {
    let key = read_key(key_path)?;
    let target = at.connect()?;
    let result = build_and_append(&target, &key, event_type, payload, extra);
    target.close();
    let receipt = result?;
    if at.json {
        out_json(&receipt);
    } else {
        print_receipt(&receipt);
    }
    Ok(())
}

/// `record --batch`: every line signed first (a bad line stops everything before anything is
/// sent), then sent in batches; one line of output per event.
fn record_batch(at: &Where, key_path: &Path, path: &Path) -> Result<(), Failure> {
    let key = read_key(key_path)?;
    let text = std::fs::read_to_string(path).map_err(input(&path.display().to_string()))?;
    let target = at.connect()?;
    let result = sign_lines(&target, &key, path, &text).and_then(|messages| {
        let mut results = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(wire::MAX_BATCH_EVENTS) {
            let sent: Vec<AppendMessage> = chunk.iter().map(|(m, _)| m.clone()).collect();
            results.extend(target.append_batch(sent)?);
        }
        // Lines sent before whose defaulted occurred_at differs now: their original events.
        let retries: Vec<(usize, AppendMessage)> = results
            .iter()
            .zip(&messages)
            .enumerate()
            .filter_map(|(i, (result, (message, defaulted)))| {
                let refusal = result.as_ref().err()?;
                Some((i, retry_of(message, refusal, *defaulted)?))
            })
            .collect();
        for chunk in retries.chunks(wire::MAX_BATCH_EVENTS) {
            let sent = chunk.iter().map(|(_, m)| m.clone()).collect();
            for ((i, _), result) in chunk.iter().zip(target.append_batch(sent)?) {
                results[*i] = result;
            }
        }
        Ok(results)
    });
    target.close();
    let results = result?;
    let refused = results.iter().filter(|r| r.is_err()).count();
    let duplicates = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|receipt| receipt.duplicate))
        .count();
    if at.json {
        let entries: Vec<Value> = results
            .iter()
            .map(|result| match result {
                Ok(receipt) => json!({"ok": receipt}),
                Err(e) => json!({"error": e}),
            })
            .collect();
        out_json(&entries);
    } else {
        for (line, result) in results.iter().enumerate() {
            out(&match result {
                Ok(receipt) => format!(
                    "line {:<5} seq {} {}{}",
                    line + 1,
                    receipt.seq,
                    receipt.hash,
                    if receipt.duplicate {
                        " (already recorded)"
                    } else {
                        ""
                    }
                ),
                Err(e) => format!("line {:<5} refused ({}): {}", line + 1, e.code, e.message),
            });
        }
        // "2 recorded (2 already before)" read as four events; say what each count is.
        out(&format!(
            "{} newly recorded, {duplicates} already recorded before, {refused} refused",
            results.len() - refused - duplicates
        ));
    }
    if refused > 0 {
        return Err(Failure::Refused(
            "batch".into(),
            format!("{refused} of {} events refused (see above)", results.len()),
        ));
    }
    Ok(())
}

/// Each non-empty line of a `--batch` file as a signed append request.
fn sign_lines(
    target: &Target,
    key: &SecretKey,
    path: &Path,
    text: &str,
) -> Result<Vec<(AppendMessage, bool)>, Failure> {
    let mut messages = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let origin = format!("{} line {}", path.display(), number + 1);
        let mut extra = Extra::default();
        let (event_type, payload) = event_file(line, &origin, &mut extra)?;
        messages.push((
            build_message(target, key, &event_type, payload, &extra)
                .map_err(|e| Failure::Input(format!("{origin}: {e}")))?,
            extra.occurred_at.is_none(),
        ));
    }
    if messages.is_empty() {
        return Err(Failure::Input(format!("{}: no events", path.display())));
    }
    Ok(messages)
}

fn build_and_append(
    target: &Target,
    key: &SecretKey,
    event_type: &str,
    payload: Value,
    extra: &Extra,
) -> Result<Receipt, Failure> {
    let message = build_message(target, key, event_type, payload, extra)?;
    let defaulted = extra.occurred_at.is_none();
    match target.append(message.clone())? {
        Ok(receipt) => Ok(receipt),
        Err(e) => match retry_of(&message, &e, defaulted) {
            Some(original) => target
                .append(original)?
                .map_err(|e| Failure::Refused(e.code.to_string(), e.message)),
            None => Err(Failure::Refused(e.code.to_string(), e.message)),
        },
    }
}

/// A retry by id: when the ledger refused `message` as an `id-conflict` and showed the
/// signer's own earlier record under that id, and the two events differ only in what this
/// tool filled in (`occurred_at`, when the user gave none), the earlier event — sent again,
/// the ledger answers it with the original receipt.
fn retry_of(
    message: &AppendMessage,
    refusal: &wire::WireError,
    occurred_at_defaulted: bool,
) -> Option<AppendMessage> {
    let original = refusal.original.as_ref()?;
    if refusal.code != "id-conflict" || !occurred_at_defaulted {
        return None;
    }
    let content = |body: &[u8]| {
        let mut value: Value = serde_json::from_slice(body).ok()?;
        value.as_object_mut()?.remove("occurred_at");
        Some(value)
    };
    let same = content(message.event.body_bytes())? == content(original.event.body_bytes())?;
    same.then(|| AppendMessage {
        event: original.event.clone(),
        expect: message.expect.clone(),
    })
}

/// Signs an event built from flags or an event file, as an append request.
fn build_message(
    target: &Target,
    key: &SecretKey,
    event_type: &str,
    payload: Value,
    extra: &Extra,
) -> Result<AppendMessage, Failure> {
    let mut subjects = Subjects::default();
    for (kind, id) in implied_subjects(&payload) {
        let id = SubjectId::new(id).map_err(input("subject"))?;
        subjects.add(Subject::new(kind, id));
    }
    for subject in &extra.subjects {
        subjects.add(subject.parse().map_err(input("--subject"))?);
    }
    let mut expect = std::collections::BTreeMap::new();
    for item in &extra.expect {
        let (stream, version) = item
            .rsplit_once('=')
            .ok_or_else(|| Failure::Input(format!("--expect {item:?} must be kind:id=N")))?;
        let version = version.parse().map_err(input("--expect version"))?;
        expect.insert(stream.to_owned(), version);
    }
    let occurred_at = match &extra.occurred_at {
        Some(text) => OccurredAt::parse(text).map_err(input("--occurred-at"))?,
        None => now(),
    };
    let body = EventBody {
        id: EventId::new(extra.id.clone().unwrap_or_else(fresh_id)).map_err(input("--id"))?,
        event_type: EventType::new(event_type).map_err(input("--type"))?,
        schema: extra
            .schema
            .unwrap_or_else(|| probity_events::spec(event_type).map_or(1, |s| s.schema)),
        ledger: LedgerId::new(target.ledger_id()?).map_err(input("ledger"))?,
        subjects,
        occurred_at,
        signer: key.public_key(),
        payload: payload.into(),
    };
    Ok(AppendMessage {
        event: SignedEvent::sign(&body, key),
        expect,
    })
}

fn print_receipt(receipt: &Receipt) {
    out(&format!(
        "recorded     seq {}{}",
        receipt.seq,
        if receipt.duplicate {
            " (already recorded earlier; same receipt)"
        } else {
            ""
        }
    ));
    out(&format!("record hash  {}", receipt.hash));
    out(&format!(
        "recorded at  {}",
        text().when(receipt.recorded_at.unix_micros())
    ));
    out(&format!("receipt sig  {}", receipt.sig));
}
