//! award-to-ineligible: an award, contract or payment to a supplier that was not eligible when
//! it was decided (not admitted, under a sanction, or on an external list). Judged when the
//! decision is recorded, and again for every earlier decision when a sanction or listing is
//! recorded late. The finding is *knowable* when the facts that made the supplier ineligible
//! were recorded before the decision was made (their `recorded_at` at or before its
//! `occurred_at`): whether whoever decided could have read it in the ledger then. A decision
//! typed in weeks later is judged by when it was made, not by when it was typed in.

use probity_events::Event;

use super::RuleCheck;
use crate::findings::{Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};
use crate::views::{Decision, Ineligibility};
use probity_core::time::RecordedAt;

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        match f.event {
            Event::AwardDecided(e) => decide(
                p,
                f,
                e.case.as_str(),
                "award",
                e.supplier.as_str(),
                e.product.as_ref().map(|p| p.to_string()),
            ),
            Event::ContractSigned(e) => {
                decide(p, f, e.case.as_str(), "contract", e.supplier.as_str(), None)
            }
            Event::PaymentMade(e) => {
                decide(p, f, e.case.as_str(), "payment", e.supplier.as_str(), None)
            }
            Event::SanctionImposed(e) => recheck(p, f, e.uscc.as_str()),
            Event::ExternalListingObserved(e) => recheck(p, f, e.uscc.as_str()),
            _ => {}
        }
    }
}

/// Remembers a purchase decision and judges it against what is known now.
fn decide(
    p: &mut Projection,
    f: Fact<'_>,
    case: &str,
    step: &str,
    supplier: &str,
    product: Option<String>,
) {
    let decision = Decision {
        case: case.to_owned(),
        step: step.to_owned(),
        product,
        occurred: f.t,
        seq: f.seq,
    };
    if let Some(finding) = ineligible_decision(p, supplier, &decision, f.recorded_at) {
        raise(&mut p.findings, finding);
    }
    p.add_decision(supplier, decision);
}

/// A sanction or listing just recorded may make the supplier's earlier decisions findings.
/// Judged from borrowed rows: a long-standing supplier has many decisions and a long record,
/// and copying them for every decision made a late sanction cost their product.
fn recheck(p: &mut Projection, f: Fact<'_>, supplier: &str) {
    let mut found = Vec::new();
    for d in p.decisions_of(supplier) {
        if let Some(finding) = ineligible_decision(p, supplier, d, f.recorded_at) {
            found.push(finding);
        }
    }
    for finding in found {
        raise(&mut p.findings, finding);
    }
}

/// The finding decision `d` makes if `supplier` was ineligible at it (true time, as known
/// now), and whether that was knowable when it was made.
fn ineligible_decision(
    p: &Projection,
    supplier: &str,
    d: &Decision,
    detectable_at: RecordedAt,
) -> Option<Finding> {
    let product = d.product.as_deref();
    let why = p.supplier_ineligible(supplier, product, d.occurred, i64::MAX)?;
    // Whether the ledger already said so when the decision was made.
    let knowable = p
        .supplier_ineligible(supplier, product, d.occurred, d.occurred)
        .is_some();
    let (reason, mut evidence) = match &why {
        Ineligibility::NotAdmitted => ("was not admitted".to_owned(), vec![]),
        Ineligibility::Sanctioned { kind, seq } => (
            format!("was under a {} sanction", kind.as_str().replace('_', " ")),
            vec![*seq],
        ),
        Ineligibility::Listed { list, seq } => (format!("was listed on {list}"), vec![*seq]),
    };
    evidence.push(d.seq);
    evidence.sort_unstable();
    Some(Finding {
        id: format!("award-to-ineligible/{}/{}/{}", d.case, d.step, d.seq),
        rule: Rule::AwardToIneligible,
        severity: if knowable {
            Severity::High
        } else {
            Severity::Medium
        },
        evidence,
        occurred_at: d.occurred,
        detectable_at,
        knowable,
        subjects: vec![format!("case:{}", d.case), format!("supplier:{supplier}")],
        summary: format!(
            "{} of case {} to supplier {supplier}, which {reason} at the time{}",
            d.step,
            d.case,
            if knowable {
                ""
            } else {
                " (recorded only after the decision was made: not knowable then)"
            }
        ),
    })
}
