//! near-threshold: two or more awards to one supplier, each at or above the policy's
//! percentage of the open-tender threshold and below it, within the policy's window (calendar
//! days in the hospital's time zone).

use super::{opened_award, RuleCheck};
use crate::findings::{Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};
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
        let window = i64::from(window_days);
        let offset = f.offset();
        let list = p.near_threshold.entry(supplier);
        list.retain(|(when, _)| calendar_days(*when, f.t, offset) <= window);
        list.push((f.t, f.seq));
        if list.len() < 2 {
            return;
        }
        let evidence: Vec<_> = list.iter().map(|(_, s)| *s).collect();
        raise(
            &mut p.findings,
            Finding {
                id: format!("near-threshold/{supplier}/{}", evidence[0]),
                rule: Rule::NearThreshold,
                severity: Severity::Medium,
                evidence: evidence.clone(),
                detectable_at: f.recorded_at,
                knowable: true,
                subjects: vec![format!("supplier:{supplier}")],
                summary: format!(
                    "{} awards to {supplier} at {percent}-100% of the threshold within \
                     {window_days} days",
                    evidence.len(),
                ),
            },
        );
    }
}
