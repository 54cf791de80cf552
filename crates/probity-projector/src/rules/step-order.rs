//! step-order: a purchase step taken before the step it depends on (an award before the
//! process was opened, a contract without an award, a payment without a contract and an
//! accepted delivery), an award at or above the approval threshold without outside approval,
//! or a step whose predecessor has no supervision record. One finding per record: the first
//! problem found names it.

use probity_core::ids::Seq;
use probity_events::Event;

use super::{raise_case, yuan, RuleCheck};
use crate::findings::{Rule, Severity};
use crate::state::{Fact, Projection};

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        match f.event {
            Event::AwardDecided(e) => {
                let case_id = e.case.as_str();
                let Some(case) = p.cases.get(case_id) else {
                    return;
                };
                if case.method.is_none() {
                    let what = "an award was decided before the procurement process was opened";
                    return out_of_order(p, f, case_id, what);
                }
                let unapproved = case.request.is_some()
                    && case.external_approvals.is_empty()
                    && e.amount.fen() >= p.policy_in_force(f.t).external_approval_threshold.fen();
                unsupervised(p, f, case_id, "purchase.process_opened");
                if unapproved {
                    let what = format!(
                        "an award of {} (at or above the approval threshold) without outside \
                         approval",
                        yuan(e.amount.fen())
                    );
                    out_of_order(p, f, case_id, &what);
                }
            }
            Event::ContractSigned(e) => {
                let case_id = e.case.as_str();
                if p.cases.get(case_id).is_none_or(|c| c.award.is_none()) {
                    out_of_order(p, f, case_id, "a contract was signed without an award");
                }
                unsupervised(p, f, case_id, "purchase.award_decided");
            }
            Event::DeliveryAccepted(e) => {
                unsupervised(p, f, e.case.as_str(), "purchase.contract_signed");
            }
            Event::PaymentMade(e) => {
                let case_id = e.case.as_str();
                if p.cases
                    .get(case_id)
                    .is_none_or(|c| c.contract.is_none() || c.acceptance.is_none())
                {
                    let what =
                        "a payment was made without a signed contract and an accepted delivery";
                    out_of_order(p, f, case_id, what);
                }
                unsupervised(p, f, case_id, "purchase.delivery_accepted");
            }
            _ => {}
        }
    }
}

/// Raises that `case` did `what` out of order; the evidence is the case's whole timeline.
fn out_of_order(p: &mut Projection, f: Fact<'_>, case: &str, what: &str) {
    let mut evidence: Vec<_> = p.timeline(case).iter().map(|e| e.seq).collect();
    evidence.push(f.seq);
    raise(p, f, case, evidence, format!("case {case}: {what}"));
}

/// A later step shows whether the earlier `step` it follows was supervised: raises if the case
/// has that step and no supervision record for it.
fn unsupervised(p: &mut Projection, f: Fact<'_>, case: &str, step: &str) {
    let Some(c) = p.cases.get(case) else {
        return;
    };
    let step_seq = p.steps.get(case).and_then(|s| s.first.get(step)).copied();
    let Some(step_seq) = step_seq.filter(|_| !c.supervised.contains_key(step)) else {
        return;
    };
    let summary = format!("case {case}: step {step} has no supervision record");
    raise(p, f, case, vec![step_seq, f.seq], summary);
}

/// Raises a step-order finding about `case` (medium: a step out of order is a question to
/// answer, not yet a breach).
fn raise(p: &mut Projection, f: Fact<'_>, case: &str, evidence: Vec<Seq>, summary: String) {
    let (rule, severity) = (Rule::StepOrder, Severity::Medium);
    raise_case(&mut p.findings, f, rule, case, severity, evidence, summary);
}
