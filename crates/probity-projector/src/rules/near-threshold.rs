//! near-threshold: awards to one supplier, each at or above the policy's percentage of the
//! open-tender threshold and below it, that follow one another within the policy's window
//! (calendar days in the hospital's time zone). Two make a cluster and a finding; every later
//! award within the window of the one before joins the cluster, and the finding grows to cite
//! it (as split-purchase grows), keeping when it first became detectable.

use super::{opened_award, RuleCheck};
use crate::findings::{Finding, Rule, Severity};
use crate::state::{Fact, Projection};
use crate::time::calendar_days;

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let Some((award, ..)) = opened_award(&p.cases, f) else {
            return;
        };
        let policy = p.policy_in_force(f.t);
        let (percent, window_days) = (
            policy.near_threshold_percent,
            policy.near_threshold_window_days,
        );
        let threshold = policy.open_tender_threshold.fen();
        let low = threshold / 100 * u64::from(percent);
        let amount = award.amount.fen();
        if amount < low || amount >= threshold {
            return;
        }
        let supplier = award.supplier.as_str();
        let offset = f.offset();
        // The supplier's current cluster: the awards so far, each within the window of the one
        // before. One outside it starts a new cluster.
        let cluster = p.near_threshold.entry(supplier);
        let follows = cluster
            .last()
            .is_some_and(|(last, _)| calendar_days(*last, f.t, offset) <= i64::from(window_days));
        if !follows {
            cluster.clear();
        }
        cluster.push((f.t, f.seq));
        if cluster.len() < 2 {
            return;
        }
        let evidence: Vec<_> = cluster.iter().map(|(_, s)| *s).collect();
        let id = format!("near-threshold/{supplier}/{}", evidence[0]);
        let summary = format!(
            "{} awards to {supplier} at {percent}-100% of the threshold, each within \
             {window_days} days of the one before",
            evidence.len(),
        );
        let finding = p.findings.entry_or_insert_with(&id, || Finding {
            id: id.clone(),
            rule: Rule::NearThreshold,
            severity: Severity::Medium,
            evidence: vec![],
            occurred_at: f.t,
            detectable_at: f.recorded_at,
            knowable: true,
            subjects: vec![format!("supplier:{supplier}")],
            summary: String::new(),
        });
        finding.evidence = evidence;
        finding.summary = summary;
        // A cluster is a breach from its second award in true time (records may be typed in
        // out of order).
        let mut times: Vec<_> = cluster.iter().map(|(t, _)| *t).collect();
        times.sort_unstable();
        finding.occurred_at = times[1];
    }
}
