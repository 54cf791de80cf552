//! Answers to the oversight queries, built from a [`Projection`]: what `probity supplier`,
//! `rep`, `case` and `staff` print, and what `probity.<ledger>.query.*` replies carry.

use serde::{Deserialize, Serialize};

use probity_core::ids::Seq;
use probity_events::governance::Policy;

use crate::findings::Finding;
use crate::state::Projection;
use crate::time::{Micros, DAY};
use crate::views::{
    CaseView, Ineligibility, RepMeeting, RepView, SupplierView, TimelineEntry, VisitView,
};

/// The policy in force at a moment, and where it came from (`probity policy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PolicyReport {
    /// The moment asked about (true time, µs).
    pub at: Micros,
    /// The `policy.set` record in force then; `None` when none is and the defaults apply.
    pub source: Option<Seq>,
    /// From when that record's policy applies (true time, µs).
    pub effective_from: Option<Micros>,
    /// Every threshold and window the rules use.
    pub policy: Policy,
}

/// A supplier: everything recorded, its eligibility and its strikes, as of a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SupplierReport {
    /// USCC.
    pub uscc: String,
    /// The view.
    pub supplier: SupplierView,
    /// The moment asked about (true time, µs).
    pub at: Micros,
    /// Why it may not be bought from at `at` (whole firm), as known now; `None`: eligible.
    pub ineligible: Option<Ineligibility>,
    /// Products it may not be bought from for at `at`, as known now, with the record that
    /// blocks each (a product suspension or a product-scope listing).
    pub blocked_products: Vec<(String, Seq)>,
    /// Rep strikes within the policy's rolling window ending at `at`.
    pub strikes_in_window: usize,
    /// The window, in days.
    pub strike_window_days: u32,
    /// The customary escalation for that many strikes (docs/RULES.md): interview, product
    /// suspension, blacklist.
    pub escalation: Option<String>,
    /// Findings that name the supplier.
    pub findings: Vec<Finding>,
}

/// A rep: registration, visit log, refusals and breaches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RepReport {
    /// Filing number.
    pub filing_number: String,
    /// The view.
    pub rep: RepView,
    /// Registration valid at `at`.
    pub valid: bool,
    /// The moment asked about (true time, µs).
    pub at: Micros,
    /// Visits in booking order, with their state.
    pub visits: Vec<VisitLine>,
    /// Findings that name the rep.
    pub findings: Vec<Finding>,
}

/// One visit in a rep's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VisitLine {
    /// Visit id.
    pub visit: String,
    /// `requested`, `approved`, `rejected`, `checked_in` or `completed`.
    pub state: String,
    /// The visit.
    pub detail: VisitView,
}

/// A purchase case: its steps in order, with signers and supervision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseReport {
    /// Case id.
    pub case: String,
    /// The last purchase step recorded, e.g. `award_decided`.
    pub state: String,
    /// The view (timeline, quotes, panel, award, …).
    pub detail: CaseDetail,
    /// Findings that name the case.
    pub findings: Vec<Finding>,
}

/// A case's view with its timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseDetail {
    /// The view.
    #[serde(flatten)]
    pub view: CaseView,
    /// Every record of the case, in order, with who signed it and its supervision.
    pub timeline: Vec<TimelineEntry>,
}

/// The detail reads as the view it extends (renderers take `detail.award`, `detail.timeline`).
impl std::ops::Deref for CaseDetail {
    type Target = CaseView;
    fn deref(&self) -> &CaseView {
        &self.view
    }
}

/// A staff member: rep meetings, roles in cases, recusals, findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StaffReport {
    /// Staff id.
    pub staff: String,
    /// Meetings with reps.
    pub meetings: Vec<RepMeeting>,
    /// Roles held in cases: (case, role, record).
    pub roles: Vec<CaseRole>,
    /// Cases the staff member recused from.
    pub recusals: Vec<String>,
    /// Findings that name the staff member.
    pub findings: Vec<Finding>,
}

/// A role someone held in one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseRole {
    /// Case id.
    pub case: String,
    /// `requester`, `panel`, `chair`, `plan_approver`, `contract_signer`, `acceptor`.
    pub role: String,
    /// The record.
    pub seq: Seq,
}

fn findings_about(p: &Projection, subject: &str) -> Vec<Finding> {
    findings_by(p, subject, Micros::MAX)
}

/// The findings naming `subject` whose breach happened by true time `at`.
fn findings_by(p: &Projection, subject: &str, at: Micros) -> Vec<Finding> {
    p.findings
        .values()
        .filter(|f| f.occurred_at <= at && f.subjects.iter().any(|s| s == subject))
        .cloned()
        .collect()
}

impl Projection {
    /// The policy in force at true time `at` and the record it came from.
    pub fn policy_report(&self, at: Micros) -> PolicyReport {
        let set = self.policy_set_at(at);
        PolicyReport {
            at,
            source: set.map(|(_, seq, _)| *seq),
            effective_from: set.map(|(from, _, _)| *from),
            policy: self.policy_in_force(at).clone(),
        }
    }

    /// The supplier `uscc` as of true time `at` (as known now), if the ledger names it: what
    /// happened after `at` is left out ([`SupplierView::as_of`], findings by `occurred_at`).
    pub fn supplier_report(&self, uscc: &str, at: Micros) -> Option<SupplierReport> {
        let supplier = self.supplier(uscc)?.as_of(at);
        let window = self.policy_at(at).rep_strike_window_days;
        let since = at - i64::from(window) * DAY;
        let strikes = supplier
            .rep_strikes
            .iter()
            .filter(|(t, _)| since < *t && *t <= at)
            .count();
        let escalation = match strikes {
            0 => None,
            1 => Some("1st strike: interview the company".to_owned()),
            2 => Some("2nd strike: suspend that rep's products for 3–6 months".to_owned()),
            _ => Some("3rd strike: blacklist the company".to_owned()),
        };
        Some(SupplierReport {
            uscc: uscc.to_owned(),
            ineligible: supplier.ineligible(None, at, i64::MAX),
            blocked_products: supplier.blocked_products(at, i64::MAX),
            supplier,
            at,
            strikes_in_window: strikes,
            strike_window_days: window,
            escalation,
            findings: findings_by(self, &format!("supplier:{uscc}"), at),
        })
    }

    /// The rep `filing_number` as of true time `at` (as known now): visits booked, and walk-ins,
    /// refusals, breaches and findings that happened, by `at`, each visit as it then stood.
    pub fn rep_report(&self, filing_number: &str, at: Micros) -> Option<RepReport> {
        let mut rep = self.reps.get(filing_number)?.as_of(at);
        let valid = matches!(rep.registered, Some((from, until, _)) if from <= at && at < until)
            && rep.revoked.is_none();
        let visits: Vec<VisitLine> = rep
            .visits
            .iter()
            .filter_map(|id| {
                let v = self.visits.get(id)?.as_of(at)?;
                Some(VisitLine {
                    visit: id.clone(),
                    state: v.state().to_owned(),
                    detail: v,
                })
            })
            .collect();
        rep.visits = visits.iter().map(|v| v.visit.clone()).collect();
        Some(RepReport {
            filing_number: filing_number.to_owned(),
            valid,
            at,
            visits,
            findings: findings_by(self, &format!("rep:{filing_number}"), at),
            rep,
        })
    }

    /// The purchase case `case`.
    pub fn case_report(&self, case: &str) -> Option<CaseReport> {
        let view = self.cases.get(case)?.clone();
        let state = self
            .case_state(case)
            .map_or("none", |t| t.trim_start_matches("purchase."))
            .to_owned();
        Some(CaseReport {
            case: case.to_owned(),
            state,
            findings: findings_about(self, &format!("case:{case}")),
            detail: CaseDetail {
                view,
                timeline: self.timeline(case),
            },
        })
    }

    /// The purchase step case `case` expects next at true time `t`, in the order the
    /// step-order rule checks (docs/RULES.md): a request; outside approval when the estimate
    /// is at or above the approval threshold; the process opened; for a method that competes,
    /// quotes and their evaluation; the award; the contract; the delivery accepted; the
    /// payment. `None` once paid or cancelled. Publishing the demand is not named: DOMAIN.md
    /// asks it of off-catalogue consumables only, and short-publication judges it when done.
    pub fn next_step(&self, case: &str, t: Micros) -> Option<&'static str> {
        use probity_events::purchase::Method;
        if matches!(
            self.case_state(case),
            Some("purchase.payment_made" | "purchase.case_cancelled")
        ) {
            return None;
        }
        let Some(request) = self.cases.get(case).and_then(|c| c.request.as_ref()) else {
            return Some("purchase.requested");
        };
        let view = self.cases.get(case)?;
        let Some((method, ..)) = &view.method else {
            let threshold = self.policy_in_force(t).external_approval_threshold.fen();
            if request.estimated >= threshold && view.external_approvals.is_empty() {
                return Some("purchase.external_approval_granted");
            }
            return Some("purchase.process_opened");
        };
        let competes = !matches!(method, Method::CatalogueCallOff | Method::SingleSource);
        Some(match () {
            () if view.award.is_none() && competes && view.quotes.is_empty() => {
                "purchase.quote_submitted"
            }
            () if view.award.is_none() && competes && view.valid_quotes.is_empty() => {
                "purchase.quote_evaluated"
            }
            () if view.award.is_none() => "purchase.award_decided",
            () if view.contract.is_none() => "purchase.contract_signed",
            () if view.acceptance.is_none() => "purchase.delivery_accepted",
            () => "purchase.payment_made",
        })
    }

    /// The staff member `staff`, if the ledger names them anywhere.
    pub fn staff_report(&self, staff: &str) -> Option<StaffReport> {
        let meetings = self.meetings.get(staff).cloned().unwrap_or_default();
        let mut roles = Vec::new();
        let mut recusals = Vec::new();
        for (id, case) in self.cases.iter() {
            let mut role = |name: &str, seq| {
                roles.push(CaseRole {
                    case: id.clone(),
                    role: name.to_owned(),
                    seq,
                })
            };
            if let Some(r) = case.request.as_ref().filter(|r| r.requester == staff) {
                role("requester", r.seq);
            }
            if let Some(seq) = case.panel.get(staff) {
                role("panel", *seq);
            }
            if let Some((_, seq)) = case.meeting.as_ref().filter(|(chair, _)| chair == staff) {
                role("chair", *seq);
            }
            if let Some((_, seq)) = case.plan_approver.as_ref().filter(|(a, _)| a == staff) {
                role("plan_approver", *seq);
            }
            if let Some((_, seq)) = case.contract.as_ref().filter(|(s, _)| s == staff) {
                role("contract_signer", *seq);
            }
            if let Some((_, seq)) = case.acceptance.as_ref().filter(|(s, _)| s == staff) {
                role("acceptor", *seq);
            }
            if case.recusals.contains(staff) {
                recusals.push(id.clone());
            }
        }
        let findings = findings_about(self, &format!("staff:{staff}"));
        if meetings.is_empty() && roles.is_empty() && recusals.is_empty() && findings.is_empty() {
            return None;
        }
        Some(StaffReport {
            staff: staff.to_owned(),
            meetings,
            roles,
            recusals,
            findings,
        })
    }
}
