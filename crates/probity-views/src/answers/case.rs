//! The `case` answer, version 3.

use probity_core::ids::Seq;
use probity_core::keys::KeyId;
use probity_events::purchase::Method;
use probity_projector::time::Micros;
use probity_projector::CaseReport;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Amount, Answers, Dated, Finding, Time};

/// The `case` answer: a purchase case, its steps in order, who signed each and under whose
/// supervision, and the step expected next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Case {
    /// Case id.
    pub case: String,
    /// The last purchase step recorded, without `purchase.` (`none` before the first).
    pub state: String,
    /// The purchase step expected next (an event type); `null` once paid or cancelled.
    pub next_step: Option<String>,
    /// The request that opened it.
    pub request: Option<Request>,
    /// How the process was opened.
    pub opened: Option<Opened>,
    /// The demand published on the website.
    pub published: Option<Dated>,
    /// Suppliers taking part, with the record that brought each in.
    pub bidders: Vec<Named>,
    /// Quotes, by supplier.
    pub quotes: Vec<Quote>,
    /// Quotes judged valid: the supplier and the evaluation record.
    pub valid_quotes: Vec<Named>,
    /// Panel and selection-meeting members: the staff member and the record.
    pub panel: Vec<Named>,
    /// The selection meeting's chair.
    pub meeting_chair: Option<Named>,
    /// Staff who recused themselves.
    pub recusals: Vec<String>,
    /// Who approved it in the annual plan.
    pub plan_approver: Option<Named>,
    /// Outside (health and finance bureau) approvals.
    pub external_approvals: Vec<Seq>,
    /// The award.
    pub award: Option<Award>,
    /// The contract: who signed it for the hospital.
    pub contract: Option<Named>,
    /// The delivery acceptance: who accepted it.
    pub acceptance: Option<Named>,
    /// Supervised steps, each with the supervision record.
    pub supervised: Vec<Supervision>,
    /// Every record of the case, in order.
    pub timeline: Vec<CaseStep>,
    /// Findings that name the case.
    pub findings: Vec<Finding>,
}

/// The request that opened a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Request {
    /// The record.
    pub record: Seq,
    /// Requesting department.
    pub department: String,
    /// Who asked (staff id).
    pub requester: String,
    /// What is wanted.
    pub item: String,
    /// The estimated total.
    pub estimated: Amount,
    /// Category.
    pub category: String,
    /// Budget project.
    pub budget_project: String,
    /// Quantity.
    pub quantity: u32,
    /// Catalogue item and price, when bought from the catalogue.
    pub catalogue: Option<Catalogue>,
}

/// A catalogue item and its price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Catalogue {
    /// The catalogue item.
    pub item: String,
    /// The catalogue price.
    pub price: Amount,
}

/// How a case's process was opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Opened {
    /// The method.
    pub method: Method,
    /// The deadline for quotes (true time).
    pub deadline: Time,
    /// The suppliers invited (USCC).
    pub invited: Vec<String>,
    /// The record.
    pub record: Seq,
}

/// Someone or something named in a case, and the record that named them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Named {
    /// The staff id or the supplier's USCC.
    pub who: String,
    /// The record.
    pub record: Seq,
}

/// A quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Quote {
    /// The supplier (USCC).
    pub supplier: String,
    /// The amount quoted.
    pub amount: Amount,
    /// When it was submitted (true time).
    pub submitted_at: Time,
    /// The record.
    pub record: Seq,
}

/// An award.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Award {
    /// The supplier awarded (USCC).
    pub supplier: String,
    /// The amount awarded.
    pub amount: Amount,
    /// The record.
    pub record: Seq,
}

/// A supervised step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Supervision {
    /// The step's event type.
    pub step: String,
    /// The supervision record.
    pub record: Seq,
}

/// One record of a case's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaseStep {
    /// The record.
    pub record: Seq,
    /// Its event type.
    pub event_type: String,
    /// When it happened (true time).
    pub occurred_at: Time,
    /// When the ledger recorded it.
    pub recorded_at: Time,
    /// The key that signed it (hex key id).
    pub signer: KeyId,
    /// Who holds that key, as enrolled.
    pub signer_name: Option<String>,
    /// The supervision record that covers this step, if any.
    pub supervised_by: Option<Seq>,
}

fn named((who, record): &(String, Seq)) -> Named {
    Named {
        who: who.clone(),
        record: *record,
    }
}

fn listed<'a>(map: impl IntoIterator<Item = (&'a String, &'a Seq)>) -> Vec<Named> {
    map.into_iter()
        .map(|(who, record)| Named {
            who: who.clone(),
            record: *record,
        })
        .collect()
}

impl Answers<'_> {
    /// The `case` answer; `now` (µs) decides which policy names the next step.
    pub fn case(&self, r: &CaseReport, now: Micros) -> Case {
        let v = &r.detail.view;
        Case {
            case: r.case.clone(),
            state: r.state.clone(),
            next_step: self.projection.next_step(&r.case, now).map(str::to_owned),
            request: v.request.as_ref().map(|q| Request {
                record: q.seq,
                department: q.department.clone(),
                requester: q.requester.clone(),
                item: q.item.clone(),
                estimated: Amount::of(q.estimated),
                category: q.category.clone(),
                budget_project: q.budget_project.clone(),
                quantity: q.quantity,
                catalogue: q.catalogue.as_ref().map(|(item, price)| Catalogue {
                    item: item.clone(),
                    price: Amount::of(price.fen()),
                }),
            }),
            opened: v
                .method
                .as_ref()
                .map(|(method, deadline, invited, record)| Opened {
                    method: *method,
                    deadline: self.time(*deadline),
                    invited: invited.clone(),
                    record: *record,
                }),
            published: v.published.map(|d| self.dated(d)),
            bidders: listed(&v.bidders),
            quotes: v
                .quotes
                .iter()
                .map(|(supplier, (fen, at, record))| Quote {
                    supplier: supplier.clone(),
                    amount: Amount::of(*fen),
                    submitted_at: self.time(*at),
                    record: *record,
                })
                .collect(),
            valid_quotes: listed(&v.valid_quotes),
            panel: listed(&v.panel),
            meeting_chair: v.meeting.as_ref().map(named),
            recusals: v.recusals.iter().cloned().collect(),
            plan_approver: v.plan_approver.as_ref().map(named),
            external_approvals: v.external_approvals.clone(),
            award: v.award.as_ref().map(|(supplier, fen, record)| Award {
                supplier: supplier.clone(),
                amount: Amount::of(*fen),
                record: *record,
            }),
            contract: v.contract.as_ref().map(named),
            acceptance: v.acceptance.as_ref().map(named),
            supervised: v
                .supervised
                .iter()
                .map(|(step, record)| Supervision {
                    step: step.clone(),
                    record: *record,
                })
                .collect(),
            timeline: r
                .detail
                .timeline
                .iter()
                .map(|e| CaseStep {
                    record: e.seq,
                    event_type: e.event_type.clone(),
                    occurred_at: self.time(e.occurred_at),
                    recorded_at: self.time(e.recorded_at),
                    signer: e.signer,
                    signer_name: e.signer_name.clone(),
                    supervised_by: e.supervised_by,
                })
                .collect(),
            findings: self.findings(&r.findings),
        }
    }
}
