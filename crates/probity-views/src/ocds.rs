//! Sunshine publication: every purchase case as Open Contracting Data Standard 1.1 releases
//! (`schemas/OCDS.md` is the mapping). One release per recorded step of a case, dated by the
//! step's `occurred_at` in the hospital's zone, carrying the ledger record it came from (the
//! `probity` extension: seq, event id, recorded time, where to fetch its proof bundle), so that
//! what is published can be proved to be what was recorded. Compiled releases follow OCDS's
//! merge rules.
//!
//! Personal data is left out by design: no staff ids, no reps, no signers; only the hospital
//! (the buyer), its departments, and suppliers (organisations, identified by their unified
//! social credit code).
//!
//! The builder is a fold over records in ledger order; it reads no clock and no store.

use std::collections::{BTreeMap, BTreeSet};

use probity_core::envelope::EventBody;
use probity_core::hash::Hash;
use probity_core::ids::Seq;
use probity_core::record::Record;
use probity_core::time::RecordedAt;
use probity_events::purchase::{Method, QuoteResult};
use probity_events::types::{Money, Uscc};
use probity_events::{CheckedEvent, Event};
use probity_ledger::Ledger;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The OCDS version published.
pub const OCDS_VERSION: &str = "1.1";

/// Where the Open Contracting Partnership publishes the bids extension this mapping uses.
pub const BIDS_EXTENSION: &str =
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json";

/// The organisation identifier scheme of a supplier's unified social credit code (统一社会信用代码),
/// as org-id.guide lists it (State Administration for Market Regulation).
pub const USCC_SCHEME: &str = "CN-SAMR";

/// The classification scheme of a purchase's category (the government procurement catalogue
/// code, e.g. `A0232`).
pub const CATEGORY_SCHEME: &str = "CN-GPC";

/// The path, under the publishing server's base URL, of the `probity` extension's metadata.
pub const EXTENSION_PATH: &str = "/ocds/extension.json";

/// What a publication needs from outside the ledger.
#[derive(Clone, Debug)]
pub struct Options {
    /// The OCID prefix the Open Contracting Partnership registered for the publisher
    /// (`ocds-` and six characters); ocids are `<prefix>-<case id>`.
    pub ocid_prefix: String,
    /// The public address of the `probity serve` that publishes this ledger (no trailing
    /// slash): proof bundles, the package's own address and the extension are found under it.
    pub base_url: String,
    /// The bids extension's address (its official one unless a mirror is named).
    pub bids_extension: String,
    /// The hospital's name (the buyer and publisher); the ledger's origin when not given.
    pub buyer_name: Option<String>,
    /// The hospital's offset from UTC: every date is written at it, to the second.
    pub zone: UtcOffset,
}

impl Options {
    /// Options with the default ocid prefix for `origin` ([`default_ocid_prefix`]), the
    /// official bids extension and no buyer name.
    pub fn new(origin: &str, base_url: &str, zone: UtcOffset) -> Options {
        Options {
            ocid_prefix: default_ocid_prefix(origin),
            base_url: base_url.trim_end_matches('/').to_owned(),
            bids_extension: BIDS_EXTENSION.to_owned(),
            buyer_name: None,
            zone,
        }
    }
}

/// A stand-in OCID prefix until the publisher registers one: `ocds-` and the first six hex
/// digits of SHA-256 of the ledger's origin (stable for a ledger, distinct between ledgers).
pub fn default_ocid_prefix(origin: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(origin.as_bytes());
    format!("ocds-{}", &hex_of(&digest)[..6])
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the builder remembers of a case between its steps.
#[derive(Debug, Default)]
struct CaseTrack {
    /// Every role each organisation has had in the case so far (a party's `roles` is an array
    /// that OCDS's merge replaces, so each release states them all).
    roles: BTreeMap<String, BTreeSet<&'static str>>,
    /// The latest award's id.
    award: Option<String>,
    /// The latest contract's id and the award it was signed under.
    contract: Option<(String, String)>,
    /// Every contract's award (a contract object, in any release, names its award).
    awards_of: BTreeMap<String, String>,
    /// The suppliers that submitted a quote.
    tenderers: BTreeSet<String>,
}

/// The record a release comes from.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// Its sequence number.
    pub seq: Seq,
    /// When the ledger recorded it.
    pub recorded_at: RecordedAt,
    /// The record's hash (its Merkle leaf hash).
    pub hash: Hash,
    /// Its body.
    pub body: &'a EventBody,
    /// Its decoded payload.
    pub event: &'a Event,
}

/// Builds the releases of every purchase case from records given in ledger order.
#[derive(Debug)]
pub struct Builder {
    options: Options,
    ledger: String,
    origin: String,
    cases: BTreeMap<String, CaseTrack>,
    releases: Vec<Value>,
    names: BTreeMap<String, String>,
    last_recorded: Option<RecordedAt>,
}

impl Builder {
    /// A builder for the ledger `ledger` whose checkpoints name `origin`.
    pub fn new(options: Options, ledger: &str, origin: &str) -> Builder {
        Builder {
            options,
            ledger: ledger.to_owned(),
            origin: origin.to_owned(),
            cases: BTreeMap::new(),
            releases: Vec::new(),
            names: BTreeMap::new(),
            last_recorded: None,
        }
    }

    /// Takes in the next record.
    pub fn add(&mut self, source: Source<'_>) {
        self.last_recorded = Some(source.recorded_at);
        let step = Step {
            source,
            date: self.date(source.body.occurred_at.datetime()),
        };
        match source.event {
            Event::SupplierRegistered(s) => {
                self.names
                    .insert(party_id(&s.uscc), s.name.as_str().to_owned());
            }
            Event::PurchaseRequested(p) => {
                let mut item = json!({
                    "id": "1",
                    "description": p.item.as_str(),
                    "classification": {"scheme": CATEGORY_SCHEME, "id": p.category.as_str()},
                    "quantity": p.quantity,
                });
                if let Some(entry) = &p.catalogue {
                    item["unit"] = json!({
                        "name": "unit",
                        "value": value(&entry.unit_price),
                    });
                    item["additionalClassifications"] = json!([
                        {"scheme": "X-CN-WINNING-BID-CATALOGUE", "id": entry.code.as_str()}
                    ]);
                }
                let sections = json!({
                    "planning": {
                        "rationale": p.justification.as_str(),
                        "budget": {
                            "id": p.budget_project.as_str(),
                            "description": format!("requested by the {} department", p.department),
                            "amount": value(&p.estimated),
                        },
                    },
                    "tender": {
                        "id": p.case.as_str(),
                        "title": p.item.as_str(),
                        "status": "planning",
                        "items": [item],
                        "value": value(&p.estimated),
                    },
                });
                self.release(p.case.as_str(), &step, &["planning"], &[], sections);
            }
            Event::RequestsAggregated(a) => {
                let related: Vec<Value> = a
                    .requests
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.as_str(),
                            "relationship": ["planning"],
                            "title": format!("request {r}, aggregated into this case"),
                            "scheme": "ocid",
                            "identifier": self.ocid(r.as_str()),
                        })
                    })
                    .collect();
                let sections = json!({"relatedProcesses": related});
                self.release(a.case.as_str(), &step, &["planningUpdate"], &[], sections);
            }
            Event::SelectionMeetingHeld(m) => {
                let decision = serde_name(&m.decision);
                let sections = json!({"planning": {"milestones": [milestone(
                    &step, "selection-meeting", "approval",
                    "Selection meeting (遴选会)",
                    &format!("decision: {decision}; minutes {}", m.minutes),
                )]}});
                self.release(m.case.as_str(), &step, &["planningUpdate"], &[], sections);
            }
            Event::AnnualPlanApproved(plan) => {
                for case in &plan.cases {
                    let sections = json!({"planning": {"milestones": [milestone(
                        &step, "annual-plan", "approval",
                        "Annual purchase plan approved",
                        &format!("plan {} for {}", plan.plan, plan.year),
                    )]}});
                    self.release(case.as_str(), &step, &["planningUpdate"], &[], sections);
                }
            }
            Event::ExternalApprovalGranted(a) => {
                let sections = json!({"planning": {"milestones": [milestone(
                    &step, "external-approval", "approval",
                    &format!("Approved by the {}", a.authority),
                    &format!("reference {}", a.reference),
                )]}});
                self.release(a.case.as_str(), &step, &["planningUpdate"], &[], sections);
            }
            Event::ProcessOpened(p) => {
                let (method, details) = method(p.method);
                let mut tender = json!({
                    "id": p.case.as_str(),
                    "status": "active",
                    "procurementMethod": method,
                    "procurementMethodDetails": details,
                    "tenderPeriod": {"endDate": self.date(p.deadline.datetime())},
                });
                if let Some(why) = &p.justification {
                    tender["procurementMethodRationale"] = json!(why.as_str());
                }
                let invited: Vec<Value> = p
                    .invited_suppliers
                    .iter()
                    .map(|s| {
                        json!({"id": bid_id(s), "status": "invited",
                               "tenderers": [organisation(s)]})
                    })
                    .collect();
                let mut sections = json!({"tender": tender});
                if !invited.is_empty() {
                    sections["bids"] = json!({"details": invited});
                }
                let parties: Vec<(&Uscc, &'static str)> = p
                    .invited_suppliers
                    .iter()
                    .map(|s| (s, "interestedParty"))
                    .collect();
                self.release(p.case.as_str(), &step, &["tender"], &parties, sections);
            }
            Event::DemandPublished(d) => {
                let sections = json!({"tender": {
                    "id": d.case.as_str(),
                    "tenderPeriod": {"startDate": step.date},
                    "documents": [{
                        "id": format!("notice-{}", step.source.seq.0),
                        "documentType": "tenderNotice",
                        "title": "Demand publication (需求公示)",
                        "description": format!("published on {} until {}", d.channel,
                            self.date(d.until.datetime())),
                        "datePublished": step.date,
                    }],
                }});
                self.release(d.case.as_str(), &step, &["tenderUpdate"], &[], sections);
            }
            Event::SupplierSignedUp(s) => {
                let sections = json!({"tender": {"id": s.case.as_str()}});
                let parties = [(&s.supplier, "interestedParty")];
                self.release(
                    s.case.as_str(),
                    &step,
                    &["tenderUpdate"],
                    &parties,
                    sections,
                );
            }
            Event::QuoteSubmitted(q) => {
                let track = self.track(q.case.as_str());
                track.tenderers.insert(q.supplier.as_str().to_owned());
                let tenderers = track.tenderers.len();
                let sections = json!({
                    "tender": {"id": q.case.as_str(), "numberOfTenderers": tenderers},
                    "bids": {"details": [{
                        "id": bid_id(&q.supplier),
                        "date": self.date(q.submitted_at.datetime()),
                        "status": "pending",
                        "tenderers": [organisation(&q.supplier)],
                        "value": value(&q.amount),
                    }]},
                });
                let parties = [(&q.supplier, "tenderer")];
                self.release(
                    q.case.as_str(),
                    &step,
                    &["tenderUpdate"],
                    &parties,
                    sections,
                );
            }
            Event::QuoteEvaluated(q) => {
                let status = match q.result {
                    QuoteResult::Valid => "valid",
                    QuoteResult::Disqualified => "disqualified",
                };
                let mut bid = json!({"id": bid_id(&q.supplier), "status": status});
                if let Some(reason) = &q.reason {
                    bid["probityEvaluationReason"] = json!(reason.as_str());
                }
                let sections = json!({"bids": {"details": [bid]}});
                let parties = [(&q.supplier, "tenderer")];
                self.release(
                    q.case.as_str(),
                    &step,
                    &["tenderUpdate"],
                    &parties,
                    sections,
                );
            }
            Event::EvaluationPanelFormed(p) => {
                let sections = json!({"tender": {"id": p.case.as_str(), "milestones": [milestone(
                    &step, "evaluation-panel", "assessment",
                    "Evaluation panel formed",
                    &format!("{} members, each declared their interests", p.members.len()),
                )]}});
                self.release(p.case.as_str(), &step, &["tenderUpdate"], &[], sections);
            }
            Event::AwardDecided(a) => {
                let id = format!("award-{}", step.source.seq.0);
                let mut award = json!({
                    "id": id,
                    "status": "active",
                    "date": step.date,
                    "value": value(&a.amount),
                    "suppliers": [organisation(&a.supplier)],
                    "relatedBid": bid_id(&a.supplier),
                });
                if let Some(product) = &a.product {
                    award["items"] = json!([{"id": "1", "description": product.as_str()}]);
                }
                self.track(a.case.as_str()).award = Some(id);
                let sections = json!({"awards": [award]});
                let parties = [(&a.supplier, "supplier")];
                self.release(a.case.as_str(), &step, &["award"], &parties, sections);
            }
            Event::ContractSigned(c) => {
                let track = self.track(c.case.as_str());
                // A contract with no award before it is itself a finding (step-order); it is
                // published as recorded, pointing at no award.
                let award = track.award.clone().unwrap_or_else(|| "unrecorded".into());
                let id = c.contract.as_str().to_owned();
                track.contract = Some((id.clone(), award.clone()));
                track.awards_of.insert(id, award.clone());
                let sections = json!({"contracts": [{
                    "id": c.contract.as_str(),
                    "awardID": award,
                    "status": "active",
                    "value": value(&c.amount),
                    "dateSigned": step.date,
                }]});
                let parties = [(&c.supplier, "supplier")];
                self.release(c.case.as_str(), &step, &["contract"], &parties, sections);
            }
            Event::ContractAmended(c) => {
                let track = self.track(c.case.as_str());
                let award = track
                    .awards_of
                    .get(c.contract.as_str())
                    .or(track.award.as_ref())
                    .cloned()
                    .unwrap_or_else(|| "unrecorded".into());
                let mut contract = json!({
                    "id": c.contract.as_str(),
                    "awardID": award,
                    "amendments": [{
                        "id": format!("amendment-{}", step.source.seq.0),
                        "date": step.date,
                        "rationale": c.reason.as_str(),
                    }],
                });
                if let Some(amount) = &c.amount {
                    contract["value"] = value(amount);
                }
                let sections = json!({"contracts": [contract]});
                self.release(
                    c.case.as_str(),
                    &step,
                    &["contractAmendment"],
                    &[],
                    sections,
                );
            }
            Event::DeliveryAccepted(d) => {
                let note = d
                    .notes
                    .as_ref()
                    .map_or("delivery accepted", |n| n.as_str())
                    .to_owned();
                let m = milestone(&step, "acceptance", "delivery", "Delivery accepted", &note);
                let sections = match self.track(d.case.as_str()).contract.clone() {
                    Some((contract, award)) => json!({"contracts": [{
                        "id": contract, "awardID": award, "implementation": {"milestones": [m]},
                    }]}),
                    // Accepted with no contract on the ledger (a step-order finding): the
                    // milestone stays with the tender.
                    None => json!({"tender": {"id": d.case.as_str(), "milestones": [m]}}),
                };
                self.release(d.case.as_str(), &step, &["implementation"], &[], sections);
            }
            Event::PaymentMade(p) => {
                let transaction = json!({
                    "id": format!("payment-{}", step.source.seq.0),
                    "date": step.date,
                    "value": value(&p.amount),
                    "payer": self.buyer(),
                    "payee": organisation(&p.supplier),
                });
                let sections = match self.track(p.case.as_str()).contract.clone() {
                    Some((contract, award)) => json!({"contracts": [{
                        "id": contract, "awardID": award,
                        "implementation": {"transactions": [transaction]},
                    }]}),
                    None => json!({"contracts": [{
                        "id": format!("{}-no-contract", p.case),
                        "awardID": self.track(p.case.as_str()).award.clone()
                            .unwrap_or_else(|| "unrecorded".into()),
                        "implementation": {"transactions": [transaction]},
                    }]}),
                };
                let parties = [(&p.supplier, "payee")];
                self.release(
                    p.case.as_str(),
                    &step,
                    &["implementation"],
                    &parties,
                    sections,
                );
            }
            Event::CaseCancelled(c) => {
                let sections = json!({"tender": {
                    "id": c.case.as_str(),
                    "status": "cancelled",
                    "milestones": [milestone(&step, "cancellation", "approval",
                        "Case cancelled", c.reason.as_str())],
                }});
                self.release(
                    c.case.as_str(),
                    &step,
                    &["tenderCancellation"],
                    &[],
                    sections,
                );
            }
            Event::SupervisionRecorded(s) => {
                let opinion = serde_name(&s.opinion);
                let description = match &s.note {
                    Some(note) => format!("opinion on {}: {opinion} ({note})", s.step),
                    None => format!("opinion on {}: {opinion}", s.step),
                };
                let sections = json!({"tender": {"id": s.case.as_str(), "milestones": [milestone(
                    &step, "supervision", "assessment",
                    "Supervised by the discipline-inspection office (全程监督)",
                    &description,
                )]}});
                self.release(s.case.as_str(), &step, &["tenderUpdate"], &[], sections);
            }
            // Recusals name staff: personal data, left out. Everything else is not about a
            // purchase case.
            _ => {}
        }
    }

    /// The releases built so far, in ledger order.
    pub fn releases(&self) -> &[Value] {
        &self.releases
    }

    /// A release package of every release (the package's `publishedDate` is the time the
    /// last record was recorded, so the same ledger always gives the same package).
    pub fn release_package(self) -> Value {
        let mut package = self.package_head();
        package["releases"] = Value::Array(self.named_releases());
        package
    }

    /// A record package: per case, its releases and the compiled release.
    pub fn record_package(self) -> Value {
        let mut package = self.package_head();
        let mut by_ocid: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for release in self.named_releases() {
            let ocid = release["ocid"].as_str().unwrap_or_default().to_owned();
            by_ocid.entry(ocid).or_default().push(release);
        }
        let records: Vec<Value> = by_ocid
            .into_iter()
            .map(|(ocid, releases)| {
                let compiled = compile(&releases);
                json!({"ocid": ocid, "releases": releases, "compiledRelease": compiled})
            })
            .collect();
        package["records"] = Value::Array(records);
        package
    }

    fn package_head(&self) -> Value {
        let published = self.last_recorded.map_or_else(
            || "1970-01-01T00:00:00Z".to_owned(),
            |t| self.date(t.datetime()),
        );
        json!({
            "uri": format!("{}/api/ocds", self.options.base_url),
            "version": OCDS_VERSION,
            "extensions": [
                self.options.bids_extension,
                format!("{}{EXTENSION_PATH}", self.options.base_url),
            ],
            "publishedDate": published,
            "publisher": {"name": self.buyer_name()},
        })
    }

    /// The releases with every supplier's registered name filled in (a case may be recorded
    /// before its suppliers' registrations, when archives are typed in late).
    fn named_releases(&self) -> Vec<Value> {
        let mut releases = self.releases.clone();
        for release in &mut releases {
            fill_names(release, &self.names);
        }
        releases
    }

    fn buyer_name(&self) -> String {
        self.options
            .buyer_name
            .clone()
            .unwrap_or_else(|| self.origin.clone())
    }

    fn buyer(&self) -> Value {
        json!({"id": self.origin, "name": self.buyer_name()})
    }

    fn ocid(&self, case: &str) -> String {
        format!("{}-{case}", self.options.ocid_prefix)
    }

    fn date(&self, at: OffsetDateTime) -> String {
        // Invariant: RFC 3339 formats every date-time between years 0 and 9999, and events'
        // times are RFC 3339 to begin with.
        at.to_offset(self.options.zone)
            .replace_nanosecond(0)
            .unwrap_or(at)
            .format(&Rfc3339)
            .expect("an event's time formats as RFC 3339")
    }

    fn track(&mut self, case: &str) -> &mut CaseTrack {
        self.cases.entry(case.to_owned()).or_default()
    }

    fn release(
        &mut self,
        case: &str,
        step: &Step<'_>,
        tags: &[&str],
        parties: &[(&Uscc, &'static str)],
        sections: Value,
    ) {
        let mut party_list = vec![json!({
            "id": self.origin,
            "name": self.buyer_name(),
            "roles": ["buyer", "procuringEntity"],
        })];
        let track = self.cases.entry(case.to_owned()).or_default();
        for (uscc, role) in parties {
            track.roles.entry(party_id(uscc)).or_default().insert(role);
        }
        for (uscc, _) in parties {
            let id = party_id(uscc);
            let roles: Vec<&str> = track.roles[&id].iter().copied().collect();
            party_list.push(json!({
                "id": id,
                "name": uscc.as_str(),
                "identifier": {"scheme": USCC_SCHEME, "id": uscc.as_str()},
                "roles": roles,
            }));
        }
        let source = step.source;
        let ocid = self.ocid(case);
        let mut release = json!({
            "ocid": ocid,
            "id": format!("{ocid}-{}", source.seq.0),
            "date": step.date,
            "tag": tags,
            "initiationType": "tender",
            "buyer": self.buyer(),
            "parties": party_list,
        });
        if let (Value::Object(release), Value::Object(sections)) = (&mut release, sections) {
            release.extend(sections);
        }
        release["probity"] = json!({
            "ledger": self.ledger,
            "origin": self.origin,
            "seq": source.seq.0,
            "eventId": source.body.id.as_str(),
            "eventType": source.body.event_type.as_str(),
            "recordedAt": self.date(source.recorded_at.datetime()),
            "recordHash": source.hash.to_string(),
            "inclusionProof": format!("{}/api/proof/inclusion?seq={}", self.options.base_url, source.seq.0),
            "proofBundle": format!("{}/api/records/{}/proof-bundle", self.options.base_url, source.seq.0),
        });
        self.releases.push(release);
    }
}

/// Why a ledger could not be published.
#[derive(Debug, thiserror::Error)]
pub enum OcdsError {
    /// A record that does not open or decode (a damaged book: `probity verify` says more).
    #[error("record {seq} cannot be published: {reason}")]
    Record {
        /// Its sequence number.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The book could not be read.
    #[error("the book cannot be read: {0}")]
    Book(String),
}

impl Builder {
    /// Takes in records in ledger order, opening each (strict signature) and decoding it.
    pub fn add_records(&mut self, records: &[Record]) -> Result<(), OcdsError> {
        for record in records {
            let checked = CheckedEvent::check(&record.event).map_err(|e| OcdsError::Record {
                seq: record.seq.0,
                reason: e.to_string(),
            })?;
            self.add(Source {
                seq: record.seq,
                recorded_at: record.recorded_at,
                hash: record.hash,
                body: checked.body(),
                event: checked.event(),
            });
        }
        Ok(())
    }
}

/// How many records are read from the book at a time.
const BATCH: u64 = 4096;

/// Builds the releases of every record of `ledger`, reporting `(done, size)` after each
/// batch.
pub fn from_ledger(
    ledger: &Ledger,
    options: Options,
    mut progress: impl FnMut(u64, u64),
) -> Result<Builder, OcdsError> {
    let mut builder = Builder::new(options, ledger.ledger_id(), ledger.origin());
    let size = ledger.size();
    let mut from = 0;
    while from < size {
        let to = (from + BATCH).min(size);
        let records = ledger
            .book()
            .records_parallel(Seq(from), Seq(to))
            .map_err(|e| OcdsError::Book(e.to_string()))?;
        builder.add_records(&records)?;
        progress(to, size);
        from = to;
    }
    Ok(builder)
}

/// One step being published: its record and its date as written.
struct Step<'a> {
    source: Source<'a>,
    date: String,
}

fn party_id(uscc: &Uscc) -> String {
    format!("{USCC_SCHEME}-{}", uscc.as_str())
}

fn bid_id(uscc: &Uscc) -> String {
    format!("bid-{}", uscc.as_str())
}

fn organisation(uscc: &Uscc) -> Value {
    json!({"id": party_id(uscc), "name": uscc.as_str()})
}

/// An amount as OCDS writes it: a number of yuan (integral when there are no fen).
fn value(money: &Money) -> Value {
    let fen = money.fen();
    let amount = if fen % 100 == 0 {
        json!(fen / 100)
    } else {
        // Two decimals: f64 holds every fen amount the events allow (≤ 2^53 − 1 fen) and its
        // shortest form prints exactly those two decimals.
        json!(fen as f64 / 100.0)
    };
    json!({"amount": amount, "currency": money.currency.code()})
}

/// OCDS's procurement method (open, selective, limited, direct) and the hospital's own name.
fn method(m: Method) -> (&'static str, &'static str) {
    match m {
        Method::OpenTender => ("open", "公开招标 (open tender)"),
        Method::CentralTender => ("open", "政府集中采购 (government central tender)"),
        Method::Inquiry => ("limited", "询价 (price inquiry among invited suppliers)"),
        Method::CatalogueCallOff => (
            "direct",
            "中标目录采购 (call-off from the provincial winning-bid catalogue)",
        ),
        Method::SingleSource => ("direct", "单一来源 (single source)"),
    }
}

fn milestone(step: &Step<'_>, kind: &str, typ: &str, title: &str, description: &str) -> Value {
    json!({
        "id": format!("{kind}-{}", step.source.seq.0),
        "title": title,
        "type": typ,
        "description": description,
        "status": "met",
        "dateMet": step.date,
    })
}

fn serde_name<T: serde::Serialize>(value: &T) -> String {
    // Invariant: the enums named here serialise as strings.
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("a unit enum serialises as its name")
}

/// Replaces every organisation reference's `name` (the code, until now) with the registered
/// name, wherever the reference is.
fn fill_names(value: &mut Value, names: &BTreeMap<String, String>) {
    match value {
        Value::Object(object) => {
            let registered = object
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| names.get(id))
                .cloned();
            if let (Some(name), Some(slot)) = (registered, object.get_mut("name")) {
                *slot = Value::String(name);
            }
            for (_, child) in object.iter_mut() {
                fill_names(child, names);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| fill_names(i, names)),
        _ => {}
    }
}

/// Compiles releases of one ocid into its compiled release by OCDS's merge rules: releases in
/// date order (ties in ledger order); objects merge field by field; arrays of objects that all
/// have an `id` merge by id; any other value is replaced by the later one.
pub fn compile(releases: &[Value]) -> Value {
    let mut ordered: Vec<&Value> = releases.iter().collect();
    ordered.sort_by_key(|r| {
        (
            r["date"]
                .as_str()
                .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok()),
            r["probity"]["seq"].as_u64(),
        )
    });
    let mut compiled = Value::Object(Map::new());
    for release in &ordered {
        merge(&mut compiled, release);
    }
    let ocid = compiled["ocid"].as_str().unwrap_or_default().to_owned();
    let date = compiled["date"].as_str().unwrap_or_default().to_owned();
    compiled["id"] = json!(format!("{ocid}-{date}"));
    compiled["tag"] = json!(["compiled"]);
    compiled
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) if identified(into) && identified(from) => {
            for item in from {
                match into.iter_mut().find(|i| i["id"] == item["id"]) {
                    Some(slot) => merge(slot, item),
                    None => into.push(item.clone()),
                }
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}

fn identified(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| i.get("id").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_what_earlier_releases_said_and_merges_arrays_by_id() {
        let first = json!({"ocid": "o", "date": "2026-03-01T09:00:00+08:00", "tag": ["tender"],
            "tender": {"id": "C", "status": "active"},
            "bids": {"details": [{"id": "b1", "status": "invited"}, {"id": "b2", "status": "invited"}]},
            "probity": {"seq": 1}});
        let second = json!({"ocid": "o", "date": "2026-03-02T09:00:00+08:00", "tag": ["tenderUpdate"],
            "bids": {"details": [{"id": "b2", "status": "pending", "value": {"amount": 5}}]},
            "probity": {"seq": 2}});
        // Given out of order: compiled by date.
        let compiled = compile(&[second, first]);
        assert_eq!(compiled["tag"], json!(["compiled"]));
        assert_eq!(compiled["tender"]["status"], "active");
        assert_eq!(compiled["bids"]["details"][0]["status"], "invited");
        assert_eq!(compiled["bids"]["details"][1]["status"], "pending");
        assert_eq!(compiled["bids"]["details"][1]["value"]["amount"], 5);
        assert_eq!(compiled["id"], "o-2026-03-02T09:00:00+08:00");
        assert_eq!(compiled["probity"]["seq"], 2);
    }

    #[test]
    fn amounts_are_yuan_with_fen_as_decimals() {
        assert_eq!(value(&Money::cny(18_000_000))["amount"], json!(180000));
        assert_eq!(value(&Money::cny(123_456))["amount"], json!(1234.56));
        assert_eq!(value(&Money::cny(5))["amount"], json!(0.05));
        assert_eq!(value(&Money::cny(5))["currency"], "CNY");
    }

    #[test]
    fn the_default_prefix_is_stable_and_the_registered_shape() {
        let prefix = default_ocid_prefix("probity.example/city-hospital-3");
        assert_eq!(
            prefix,
            default_ocid_prefix("probity.example/city-hospital-3")
        );
        assert_ne!(
            prefix,
            default_ocid_prefix("probity.example/city-hospital-4")
        );
        assert_eq!(prefix.len(), "ocds-".len() + 6);
    }
}
