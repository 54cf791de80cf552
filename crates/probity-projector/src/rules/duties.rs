//! duties: one person held two roles in a case that must be held by different people —
//! requested the purchase and chaired the meeting that approved it, or approved the plan;
//! signed the contract and accepted the delivery; approved and executed the payment.

use probity_core::ids::Seq;
use probity_events::Event;

use super::{opened_award, RuleCheck};
use crate::findings::{Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};
use crate::table::Table;

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        match f.event {
            Event::AwardDecided(_) => {
                let Some((award, case, _)) = opened_award(&p.cases, f) else {
                    return;
                };
                let Some(req) = &case.request else {
                    return;
                };
                let case_id = award.case.as_str();
                if let Some((chair, _)) = case.meeting.as_ref().filter(|(c, _)| *c == req.requester)
                {
                    let what = "requested the purchase and chaired the meeting that approved it";
                    duty(
                        &mut p.findings,
                        f,
                        case_id,
                        chair,
                        what,
                        vec![req.seq, f.seq],
                    );
                }
                if let Some((approver, plan_seq)) = case
                    .plan_approver
                    .as_ref()
                    .filter(|(a, _)| *a == req.requester)
                {
                    let what = "requested the purchase and approved the plan";
                    duty(
                        &mut p.findings,
                        f,
                        case_id,
                        approver,
                        what,
                        vec![req.seq, *plan_seq],
                    );
                }
            }
            Event::DeliveryAccepted(e) => {
                let case_id = e.case.as_str();
                let signed = p.cases.get(case_id).and_then(|c| c.contract.as_ref());
                if let Some((_, contract_seq)) =
                    signed.filter(|(signer, _)| signer == e.accepted_by.as_str())
                {
                    let what = "signed the contract and accepted the delivery";
                    let evidence = vec![*contract_seq, f.seq];
                    duty(
                        &mut p.findings,
                        f,
                        case_id,
                        e.accepted_by.as_str(),
                        what,
                        evidence,
                    );
                }
            }
            Event::PaymentMade(e) if e.approver == e.executor => {
                let what = "approved and executed the payment";
                let (case_id, staff) = (e.case.as_str(), e.approver.as_str());
                duty(&mut p.findings, f, case_id, staff, what, vec![f.seq]);
            }
            _ => {}
        }
    }
}

/// Raises that `staff` did `what` in `case`, proven by `evidence`.
fn duty(
    findings: &mut Table<Finding>,
    f: Fact<'_>,
    case: &str,
    staff: &str,
    what: &str,
    mut evidence: Vec<Seq>,
) {
    evidence.sort_unstable();
    evidence.dedup();
    raise(
        findings,
        Finding {
            id: format!("duties/{case}/{staff}/{}", f.seq),
            rule: Rule::Duties,
            severity: Severity::High,
            evidence,
            occurred_at: f.t,
            detectable_at: f.recorded_at,
            knowable: true,
            subjects: vec![format!("case:{case}"), format!("staff:{staff}")],
            summary: format!("{staff} {what} in case {case}"),
        },
    );
}
