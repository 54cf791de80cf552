//! consumables-ratio: a department's reported medical consumables per 100 yuan of revenue
//! (drugs excluded) above the policy's warning, restriction or stop tier.

use probity_events::Event;

use super::RuleCheck;
use crate::findings::{Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let Event::ConsumablesUsageReported(e) = f.event else {
            return;
        };
        let tiers = &p.policy_in_force(f.t).consumables_tiers;
        // Yuan of consumables per 100 yuan of revenue, in hundredths for exact comparison.
        let ratio_x100 =
            e.material_cost.fen().saturating_mul(10_000) / e.revenue_excluding_drugs.fen().max(1);
        let (tier, severity) = if ratio_x100 > u64::from(tiers.stop) * 100 {
            ("stop", Severity::High)
        } else if ratio_x100 > u64::from(tiers.restrict) * 100 {
            ("restrict", Severity::Medium)
        } else if ratio_x100 > u64::from(tiers.warning) * 100 {
            ("warning", Severity::Low)
        } else {
            return;
        };
        let finding = Finding {
            id: format!("consumables-ratio/{}/{}", e.department, f.seq),
            rule: Rule::ConsumablesRatio,
            severity,
            evidence: vec![f.seq],
            occurred_at: f.t,
            detectable_at: f.recorded_at,
            knowable: true,
            subjects: vec![],
            summary: format!(
                "{}: {}.{:02} yuan of consumables per 100 yuan of revenue ({tier} tier)",
                e.department,
                ratio_x100 / 100,
                ratio_x100 % 100
            ),
        };
        raise(&mut p.findings, finding);
    }
}
