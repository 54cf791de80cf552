//! split-purchase: non-open purchases in one fiscal year (the calendar year where they
//! happened), department, budget project and category that add up to more than the
//! open-tender threshold. One finding per group, raised when the total first passes the
//! threshold and grown with every later purchase of the group.

use probity_events::purchase::Method;

use super::{opened_award, yuan, RuleCheck};
use crate::findings::{Finding, Rule, Severity};
use crate::state::{Fact, Projection};

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
        group.push((case_id.to_owned(), award.amount.fen(), f.seq));
        let total: u64 = group.iter().map(|(_, a, _)| a).sum();
        if total <= threshold {
            return;
        }
        let cases: Vec<String> = group.iter().map(|(c, ..)| c.clone()).collect();
        let evidence = group.iter().map(|(_, _, s)| *s).collect();
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
            detectable_at: f.recorded_at,
            knowable: true,
            subjects: vec![],
            summary: String::new(),
        });
        finding.evidence = evidence;
        finding.subjects = cases.iter().map(|c| format!("case:{c}")).collect();
        finding.summary = summary;
    }
}
