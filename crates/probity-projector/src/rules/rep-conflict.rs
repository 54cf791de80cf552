//! rep-conflict: when an award is decided, every member of the case's panel or selection
//! meeting who met a rep of one of its bidders within the policy's window before it, and did
//! not recuse, is a finding (high when that supplier won).

use probity_events::Event;

use super::RuleCheck;
use crate::findings::{Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};
use crate::time::calendar_days;

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let Event::AwardDecided(e) = f.event else {
            return;
        };
        let (case_id, winner) = (e.case.as_str(), e.supplier.as_str());
        let window = i64::from(p.policy_in_force(f.t).rep_conflict_window_days);
        let Some(case) = p.cases.get(case_id).filter(|c| c.method.is_some()) else {
            return;
        };
        let offset = f.offset();
        let mut found = Vec::new();
        for (staff, panel_seq) in &case.panel {
            if case.recusals.contains(staff) {
                continue;
            }
            for m in p.meetings.get(staff).into_iter().flatten() {
                let Some(bid_seq) = case.bidders.get(&m.supplier) else {
                    continue;
                };
                let gap = calendar_days(m.occurred, f.t, offset);
                if m.occurred > f.t || gap > window {
                    continue;
                }
                let won = m.supplier == winner;
                let mut evidence = vec![m.seq, *panel_seq, *bid_seq, f.seq];
                evidence.sort_unstable();
                evidence.dedup();
                found.push(Finding {
                    id: format!("rep-conflict/{case_id}/{staff}/{}", m.supplier),
                    rule: Rule::RepConflict,
                    severity: if won {
                        Severity::High
                    } else {
                        Severity::Medium
                    },
                    evidence,
                    occurred_at: f.t,
                    detectable_at: f.recorded_at,
                    knowable: true,
                    subjects: vec![
                        format!("case:{case_id}"),
                        format!("staff:{staff}"),
                        format!("supplier:{}", m.supplier),
                        format!("rep:{}", m.rep),
                    ],
                    summary: format!(
                        "{staff} met rep {} of {} {} days before sitting on the panel of case \
                         {case_id}, without recusal{}",
                        m.rep,
                        m.supplier,
                        gap,
                        if won { "; that supplier won" } else { "" }
                    ),
                });
            }
        }
        for finding in found {
            raise(&mut p.findings, finding);
        }
    }
}
