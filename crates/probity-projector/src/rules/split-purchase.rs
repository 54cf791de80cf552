//! split-purchase: non-open purchases in one fiscal year (the calendar year where they
//! happened), department, budget project and category that add up to more than the
//! open-tender threshold. One finding per group, raised when the total first passes the
//! threshold and grown with every later purchase of the group.

use probity_core::ids::Seq;
use probity_events::purchase::Method;

use super::{opened_award, yuan, RuleCheck};
use crate::findings::{Finding, Rule, Severity};
use crate::state::{Fact, Projection};
use crate::time::Micros;

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let threshold = p.policy_in_force(f.t).open_tender_threshold.fen();
        let Some((award, case, (method, ..))) = opened_award(&p.cases, f) else {
            return;
        };
        let Some(req) = &case.request else {
            return;
        };
        if method.is_open() || *method == Method::CatalogueCallOff {
            return;
        }
        let case_id = award.case.as_str();
        let year = f.body.occurred_at.datetime().year();
        let key = format!(
            "{year}/{}/{}/{}",
            req.department, req.budget_project, req.category
        );
        let group = p.split_groups.entry(&key);
        group.push((case_id.to_owned(), award.amount.fen(), f.seq, f.t));
        let total: u64 = group.iter().map(|(_, a, ..)| a).sum();
        if total <= threshold {
            return;
        }
        let cases: Vec<String> = group.iter().map(|(c, ..)| c.clone()).collect();
        let evidence = group.iter().map(|(_, _, s, _)| *s).collect();
        let occurred_at = crossing(group, threshold);
        let id = format!("split-purchase/{key}");
        let summary = format!(
            "{year}, {}, budget project {}, category {}: non-open purchases {} total {} \
             (threshold {})",
            req.department,
            req.budget_project,
            req.category,
            cases.join(", "),
            yuan(total),
            yuan(threshold)
        );
        let finding = p.findings.entry_or_insert_with(&id, || Finding {
            id: id.clone(),
            rule: Rule::SplitPurchase,
            severity: Severity::High,
            evidence: vec![],
            occurred_at: f.t,
            detectable_at: f.recorded_at,
            knowable: true,
            subjects: vec![],
            summary: String::new(),
        });
        finding.evidence = evidence;
        finding.subjects = cases.iter().map(|c| format!("case:{c}")).collect();
        finding.summary = summary;
        finding.occurred_at = occurred_at;
    }
}

/// When the group's total first passed `threshold` in true time (purchases may be typed in out
/// of order): the purchase that made it a breach. `group`'s total is above the threshold.
fn crossing(group: &[(String, u64, Seq, Micros)], threshold: u64) -> Micros {
    let mut by_time: Vec<_> = group.iter().map(|(_, fen, _, t)| (*t, *fen)).collect();
    by_time.sort_unstable();
    let mut total = 0u64;
    for (t, fen) in &by_time {
        total = total.saturating_add(*fen);
        if total > threshold {
            return *t;
        }
    }
    by_time.last().map_or(0, |(t, _)| *t)
}
