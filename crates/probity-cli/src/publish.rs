//! `probity ocds`: the purchase cases as an Open Contracting (OCDS 1.1) release or record
//! package (`schemas/OCDS.md`), from a data directory or a live ledger over NATS.

use std::path::PathBuf;

use probity_core::checkpoint::Checkpoint;
use probity_ledger::wire;
use probity_views::ocds::{self, Builder, Options};
use time::UtcOffset;

use crate::audit::{read_stream, StreamItem};
use crate::target::Target;
use crate::Failure;

/// What `probity ocds` was asked for.
#[derive(Debug)]
pub struct Publication {
    /// Where to write the package.
    pub out: PathBuf,
    /// A record package (releases and compiled release per case) instead of a release package.
    pub records: bool,
    /// Where `probity serve` publishes this ledger.
    pub base_url: String,
    /// The registered OCID prefix, if any.
    pub ocid_prefix: Option<String>,
    /// The bids extension's address, if not the official one.
    pub bids_extension: Option<String>,
    /// The hospital's name.
    pub buyer: Option<String>,
    /// The hospital's offset from UTC.
    pub zone: UtcOffset,
}

impl Publication {
    fn options(&self, origin: &str) -> Options {
        let mut options = Options::new(origin, &self.base_url, self.zone);
        if let Some(prefix) = &self.ocid_prefix {
            options.ocid_prefix = prefix.clone();
        }
        if let Some(url) = &self.bids_extension {
            options.bids_extension = url.clone();
        }
        options.buyer_name = self.buyer.clone();
        options
    }
}

/// Checks an OCID prefix has the registered shape: `ocds-` and six letters or digits.
pub fn ocid_prefix(text: &str) -> Result<String, String> {
    let rest = text.strip_prefix("ocds-").unwrap_or("");
    if rest.len() == 6 && rest.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not an OCID prefix: `ocds-` and six letters or digits, as registered with the Open Contracting Partnership"
        ))
    }
}

/// Builds and writes the package; returns the number of releases.
pub fn run(target: &Target, publication: &Publication) -> Result<usize, Failure> {
    let builder = match target {
        Target::Embedded(ledger) => {
            let bar = crate::audit::progress(ledger.size(), "publishing");
            let built =
                ocds::from_ledger(ledger, publication.options(ledger.origin()), |done, _| {
                    bar.set_position(done)
                });
            bar.finish_and_clear();
            built.map_err(|e| Failure::Input(e.to_string()))?
        }
        Target::Nats { ledger, .. } => live(target, ledger, publication)?,
    };
    let releases = builder.releases().len();
    if releases == 0 {
        return Err(Failure::Input(
            "no purchase case is recorded: nothing to publish (an OCDS package holds at least one release)".into(),
        ));
    }
    let package = if publication.records {
        builder.record_package()
    } else {
        builder.release_package()
    };
    let bytes = serde_json::to_vec_pretty(&package).map_err(|e| Failure::Input(e.to_string()))?;
    std::fs::write(&publication.out, bytes)
        .map_err(|e| Failure::Input(format!("{}: {e}", publication.out.display())))?;
    Ok(releases)
}

/// Reads a running ledger's records from its JetStream copy, up to its latest checkpoint (so
/// that every release published can be proved against a checkpoint ledgerd signed).
fn live(target: &Target, ledger: &str, publication: &Publication) -> Result<Builder, Failure> {
    let reply: wire::CheckpointReply = target
        .request(wire::checkpoint_subject(ledger), &serde_json::json!({}))?
        .map_err(|e| Failure::Input(format!("ledgerd: {}", e.message)))?;
    let note = probity_core::checkpoint::SignedNote::parse(reply.note.as_bytes())
        .map_err(|e| Failure::Input(format!("ledgerd's checkpoint: {e}")))?;
    let checkpoint = Checkpoint::from_text(&note.text)
        .map_err(|e| Failure::Input(format!("ledgerd's checkpoint: {e}")))?;
    let mut builder = Builder::new(
        publication.options(&checkpoint.origin),
        ledger,
        &checkpoint.origin,
    );
    let mut failed = None;
    read_stream(target, None, 0, checkpoint.size, "publishing", |item| {
        if failed.is_some() {
            return;
        }
        match item {
            StreamItem::Records(records) => {
                if let Err(e) = builder.add_records(records) {
                    failed = Some(e.to_string());
                }
            }
            StreamItem::Unreadable { seq, reason } => {
                failed = Some(format!("record {seq} cannot be published: {reason}"));
            }
        }
    })?;
    match failed {
        Some(reason) => Err(Failure::Input(reason)),
        None => Ok(builder),
    }
}
