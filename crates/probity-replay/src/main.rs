//! `replay`: what the ledger said, and what was true, at any moment.
//!
//! An investigator's tool. It rebuilds the views as of a record (`--seq N`), as known at a
//! time (`--known-at T`: the records the ledger had recorded by then) or as true at a time
//! (`--true-at T`: what had happened by then, as known now), optionally for one supplier, rep,
//! case or staff member, and prints the timeline, the blacklist and the findings at that
//! moment. `--diff T1 T2` shows what changed in the blacklist and the findings between two
//! moments. Output is deterministic; `--json` prints the same as one JSON document.
//!
//! Replays start from the nearest snapshot of the views (kept in the data directory's views
//! store), so a replay to any moment of a large ledger applies at most one snapshot interval
//! of records.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, ValueEnum};
use probity_core::time::OccurredAt;
use probity_ledger::{datadir, evidence, export, keyfile, Ledger};
use probity_projector::render;
use probity_views::answers::Zone;
use probity_views::embedded;
use probity_views::investigation::{Question, View};
use probity_views::replay::{Diff, Moment, ReplayError, Replayer, Step};
use serde::Serialize;
use serde_json::Value;

// Rebuilding views allocates per record and per row (parsing, serialising, sled's node copies):
// mimalloc does that markedly faster than glibc's allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "replay",
    version,
    about = "The views of a ledger as of any record or moment, in both time senses",
    group(ArgGroup::new("moment").required(true).args(["seq", "known_at", "true_at", "diff"])),
    group(ArgGroup::new("subject").args(["supplier", "rep", "case", "staff"])),
    after_help = "Times are RFC 3339 with an offset, e.g. 2026-03-10T09:00:00+08:00.\n\
                  Exit status: 0 done; 2 bad usage, unreadable data, or a moment past the ledger."
)]
struct Args {
    /// An export file (`probity export`) to replay instead of a data directory: it is imported
    /// once, verified on the way in, into `<EXPORT>.replay/` beside it, and re-imported if the
    /// file changes.
    #[arg(conflicts_with = "data", required_unless_present = "data")]
    export: Option<PathBuf>,
    /// The data directory (embedded; e.g. the one `probity demo` made).
    #[arg(long)]
    data: Option<PathBuf>,
    /// With an export: pin the ledger's key (C2SP vkey, or a file holding it) for the import's
    /// verification, instead of trusting the key the genesis names.
    #[arg(long, requires = "export", value_name = "VKEY")]
    ledger_vkey: Option<String>,
    /// As of record N: records 0 to N inclusive.
    #[arg(long, value_name = "N")]
    seq: Option<u64>,
    /// As the ledger stood at T: the records recorded at or before T.
    #[arg(long, value_name = "T")]
    known_at: Option<String>,
    /// As things were at T, by what is known now: the records of events that happened at or
    /// before T.
    #[arg(long, value_name = "T")]
    true_at: Option<String>,
    /// What changed in the blacklist and the findings from T1 to T2.
    #[arg(long, num_args = 2, value_names = ["T1", "T2"])]
    diff: Option<Vec<String>>,
    /// The time sense of `--diff`.
    #[arg(long, value_enum, default_value_t = Sense::Known, requires = "diff")]
    sense: Sense,
    /// Only this supplier (USCC): its timeline and its view.
    #[arg(long, value_name = "USCC")]
    supplier: Option<String>,
    /// Only this rep (filing number).
    #[arg(long, value_name = "FILING_NUMBER")]
    rep: Option<String>,
    /// Only this purchase case.
    #[arg(long, value_name = "CASE")]
    case: Option<String>,
    /// Only this staff member.
    #[arg(long, value_name = "STAFF")]
    staff: Option<String>,
    /// Without a subject: how many of the latest events to list.
    #[arg(long, default_value_t = 20, value_name = "COUNT")]
    events: usize,
    /// Also write an investigation bundle to OUT: the records shown (timeline, the findings'
    /// evidence, the blacklist entries) and the key records before them, each with its
    /// inclusion proof in one ledger checkpoint; `probity verify OUT --ledger-vkey KEY`
    /// checks it offline.
    #[arg(long, value_name = "OUT", conflicts_with = "diff")]
    bundle: Option<PathBuf>,
    /// One JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// The hospital's offset from UTC: text and JSON output show times in it.
    #[arg(
        long,
        env = "PROBITY_UTC_OFFSET",
        default_value = "+08:00",
        allow_hyphen_values = true
    )]
    utc_offset: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Sense {
    /// By `recorded_at`: what the ledger said.
    Known,
    /// By `occurred_at`: what was true, as known now.
    True,
}

/// What went wrong, for people; always exit status 2.
#[derive(Debug)]
struct Failure(String);

impl From<ReplayError> for Failure {
    fn from(e: ReplayError) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    probity_ledger::without_huge_pages();
    let args = Args::parse();
    let Some(zone) = render::Text::parse_zone(&args.utc_offset) else {
        eprintln!(
            "replay: --utc-offset {:?}: the hospital's offset from UTC, written ±hh:mm (e.g. +08:00)",
            args.utc_offset
        );
        return ExitCode::from(2);
    };
    let _ = TEXT.set(zone);
    match run(&args) {
        Ok(text) => {
            print(&text);
            ExitCode::SUCCESS
        }
        Err(Failure(message)) => {
            eprintln!("replay: {message}");
            ExitCode::from(2)
        }
    }
}

#[allow(clippy::print_stdout)]
fn print(text: &str) {
    println!("{text}");
}

fn instant(flag: &str, text: &str) -> Result<i64, Failure> {
    OccurredAt::parse(text)
        .map(|t| t.unix_micros())
        .map_err(|e| Failure(format!("{flag} {text}: {e}")))
}

/// How text output writes times: in the hospital's zone (`--utc-offset`), set once at start.
static TEXT: std::sync::OnceLock<render::Text> = std::sync::OnceLock::new();

/// The text writer of this run.
fn text() -> render::Text {
    *TEXT.get_or_init(render::Text::default)
}

/// An instant for text, in the hospital's zone (`None` for the ends of time).
fn when(t: i64) -> Option<String> {
    (t != i64::MIN && t != i64::MAX).then(|| text().when(t))
}

/// The answers' zone: the hospital's offset of this run.
fn zone() -> Zone {
    Zone(text().zone())
}

/// The data directory to replay: `--data`, or the import of the export file (made or renewed
/// as needed).
fn data_dir(args: &Args) -> Result<PathBuf, Failure> {
    let Some(file) = &args.export else {
        return args
            .data
            .clone()
            .ok_or_else(|| Failure("give an export file or --data DIR".into()));
    };
    let cache = PathBuf::from(format!("{}.replay", file.display()));
    let fail = |e: &dyn std::fmt::Display| Failure(e.to_string());
    let stamp = export::file_stamp(file).map_err(|e| fail(&e))?;
    let current = std::fs::read(export::marker_path(&cache))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<export::Imported>(&bytes).ok())
        .is_some_and(|imported| (imported.bytes, imported.modified) == stamp);
    if !current {
        if cache.exists() {
            std::fs::remove_dir_all(&cache)
                .map_err(|e| fail(&format!("{}: {e}", cache.display())))?;
        }
        let key = args
            .ledger_vkey
            .as_deref()
            .map(keyfile::read_vkey)
            .transpose()
            .map_err(|e| fail(&format!("--ledger-vkey: {e}")))?;
        export::import(file, &cache, key).map_err(|e| match e {
            export::ExportError::Findings(_) => Failure(format!(
                "{}: {e}; `probity verify {}` lists the findings",
                file.display(),
                file.display()
            )),
            other => fail(&other),
        })?;
    }
    Ok(cache)
}

fn run(args: &Args) -> Result<String, Failure> {
    let data = data_dir(args)?;
    let ledger = datadir::open(&data).map_err(|e| Failure(format!("{}: {e}", data.display())))?;
    // Bring the views (and their snapshots) up to date, verifying every new record.
    let views = embedded::views_dir(&data);
    let store = embedded::current_store(&views, &ledger)
        .map_err(|e| Failure(format!("{}: {e}", views.display())))?;
    let replayer = Replayer::new(&store, ledger.book())?;
    let out = match &args.diff {
        Some(times) => {
            let moment = |text: &str| -> Result<Moment, Failure> {
                let t = instant("--diff", text)?;
                Ok(match args.sense {
                    Sense::Known => Moment::KnownAt(t),
                    Sense::True => Moment::TrueAt(t),
                })
            };
            let (from, to) = (moment(&times[0])?, moment(&times[1])?);
            if args.json {
                json(&replayer.diff_answer(from, to, zone())?)
            } else {
                diff_text(&replayer.diff(from, to)?)
            }
        }
        None => {
            let moment = if let Some(seq) = args.seq {
                Moment::Records(seq.saturating_add(1))
            } else if let Some(t) = &args.known_at {
                Moment::KnownAt(instant("--known-at", t)?)
            } else if let Some(t) = &args.true_at {
                Moment::TrueAt(instant("--true-at", t)?)
            } else {
                return Err(Failure("no moment given".into()));
            };
            let view = view(args, &replayer, moment, ledger.size())?;
            let mut text = if args.json {
                json(&view.answer)
            } else {
                view_text(&view)
            };
            if let Some(out) = &args.bundle {
                let proven = write_bundle(&ledger, &view, out)?;
                if !args.json {
                    text.push_str(&format!(
                        "\n\nInvestigation bundle: {proven} records with their inclusion proofs → {}",
                        out.display()
                    ));
                }
            }
            text
        }
    };
    store.close();
    ledger.close();
    Ok(out)
}

/// Writes the investigation bundle of `view` to `out`; returns how many records it proves.
fn write_bundle(ledger: &Ledger, view: &View, out: &std::path::Path) -> Result<usize, Failure> {
    let bundle = evidence::investigation(ledger, &view.bundle_records(), view.bundle_question())
        .map_err(|e| Failure(e.to_string()))?;
    std::fs::write(out, json(&bundle)).map_err(|e| Failure(format!("{}: {e}", out.display())))?;
    Ok(bundle.proofs.len())
}

fn json(value: &impl Serialize) -> String {
    // Invariant: the output types are plain data.
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn subject(args: &Args) -> Option<(&'static str, &str)> {
    [
        ("supplier", &args.supplier),
        ("rep", &args.rep),
        ("case", &args.case),
        ("staff", &args.staff),
    ]
    .into_iter()
    .find_map(|(kind, id)| id.as_deref().map(|id| (kind, id)))
}

fn view(args: &Args, replayer: &Replayer<'_>, moment: Moment, size: u64) -> Result<View, Failure> {
    let question = Question {
        moment,
        subject: subject(args).map(|(kind, id)| (kind.to_owned(), id.to_owned())),
        events: args.events,
    };
    Ok(replayer.view(&question, size, zone())?)
}

fn moment_text(moment: Moment) -> String {
    match moment {
        Moment::Records(0) => "before the first record".to_owned(),
        Moment::Records(n) => format!("as of record {}", n - 1),
        Moment::KnownAt(t) => format!("as known at {}", when(t).unwrap_or_default()),
        Moment::TrueAt(t) => format!("as true at {} (known now)", when(t).unwrap_or_default()),
    }
}

fn step_line(s: &Step) -> String {
    format!(
        "  {:>6}  {:<40} happened {}  recorded {}  signed by {} ({})",
        s.seq.0,
        s.event_type,
        text().when(s.occurred_at),
        text().when(s.recorded_at),
        s.signer_name.as_deref().unwrap_or("an unnamed key"),
        &s.signer.to_hex()[..16]
    )
}

fn view_text(v: &View) -> String {
    let mut lines = vec![format!(
        "Replay {}: {} of {} records",
        moment_text(v.moment),
        v.records,
        v.ledger_records
    )];
    lines.push(String::new());
    match &v.subject {
        Some(subject) => lines.push(format!(
            "Timeline of {subject} ({} events)",
            v.timeline.len()
        )),
        None => lines.push(format!("Latest {} events", v.timeline.len())),
    }
    lines.extend(v.timeline.iter().map(step_line));
    lines.push(String::new());
    lines.push(format!("Blacklist ({} entries)", v.blacklist.len()));
    lines.extend(
        v.blacklist
            .iter()
            .map(|e| format!("  {}", text().blacklist_entry(e))),
    );
    match &v.subject {
        None => {
            lines.push(String::new());
            lines.push(format!("Findings ({})", v.findings.len()));
            lines.extend(v.findings.iter().map(|f| indent(&text().finding(f))));
        }
        // The subject's view lists the findings that name it.
        Some(subject) => {
            lines.push(String::new());
            lines.push(match subject_text(subject, v.view.as_ref()) {
                Some(text) => text,
                None => format!("The ledger names no {subject} at this moment."),
            });
        }
    }
    lines.join("\n")
}

fn subject_text(subject: &str, view: Option<&Value>) -> Option<String> {
    let view = view?.clone();
    let kind = subject.split(':').next().unwrap_or_default();
    Some(match kind {
        "supplier" => text().supplier(&serde_json::from_value(view).ok()?),
        "rep" => text().rep(&serde_json::from_value(view).ok()?),
        "case" => text().case(&serde_json::from_value(view).ok()?),
        _ => text().staff(&serde_json::from_value(view).ok()?),
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn diff_text(d: &Diff) -> String {
    let mut lines = vec![format!(
        "From {} to {}",
        moment_text(d.from),
        moment_text(d.to)
    )];
    let section = |lines: &mut Vec<String>, title: &str, items: Vec<String>| {
        lines.push(String::new());
        lines.push(format!("{title} ({})", items.len()));
        lines.extend(items);
    };
    section(
        &mut lines,
        "Blacklisted",
        d.blacklist_added
            .iter()
            .map(|e| format!("+ {}", text().blacklist_entry(e)))
            .collect(),
    );
    section(
        &mut lines,
        "No longer blacklisted",
        d.blacklist_removed
            .iter()
            .map(|e| format!("- {}", text().blacklist_entry(e)))
            .collect(),
    );
    section(
        &mut lines,
        "New findings",
        d.findings_added
            .iter()
            .map(|f| format!("+ {}", text().finding(f)))
            .collect(),
    );
    section(
        &mut lines,
        "Findings gone",
        d.findings_removed
            .iter()
            .map(|f| format!("- {}", text().finding(f)))
            .collect(),
    );
    section(
        &mut lines,
        "Findings changed",
        d.findings_changed
            .iter()
            .map(|(a, b)| format!("~ {}\n  now: {}", text().finding(a), text().finding(b)))
            .collect(),
    );
    lines.join("\n")
}
