//! rep-visit: a rep checked in who was not validly registered at that moment, had no booking,
//! had a booking nobody approved, or was received outside the reception room it designated.

use probity_events::Event;

use super::RuleCheck;
use crate::findings::{Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let Event::CheckedIn(e) = f.event else {
            return;
        };
        let (visit_id, rep_id, room) =
            (e.visit.as_str(), e.filing_number.as_str(), e.room.as_str());
        let t = f.t;
        let registered = p.reps.get(rep_id).is_some_and(|rep| {
            matches!(rep.registered, Some((from, until, _)) if from <= t && t < until)
                && rep.revoked.is_none_or(|(rv, _)| t < rv)
        });
        let mut problems = Vec::new();
        let mut evidence = vec![f.seq];
        if !registered {
            problems.push("the rep was not validly registered".to_owned());
        }
        match p.visits.get(visit_id) {
            None => problems.push("there was no booking".to_owned()),
            Some(v) => {
                evidence.push(v.requested);
                match &v.approved_room {
                    None => problems.push("the booking was not approved".to_owned()),
                    Some(approved) if approved != room => problems.push(format!(
                        "the rep was received in {room}, not the designated {approved}"
                    )),
                    Some(_) => {}
                }
            }
        }
        if problems.is_empty() {
            return;
        }
        evidence.sort_unstable();
        raise(
            &mut p.findings,
            Finding {
                id: format!("rep-visit/{rep_id}/{}", f.seq),
                rule: Rule::RepVisit,
                severity: if registered {
                    Severity::Medium
                } else {
                    Severity::High
                },
                evidence,
                detectable_at: f.recorded_at,
                knowable: true,
                subjects: vec![format!("rep:{rep_id}")],
                summary: format!("visit {visit_id} of rep {rep_id}: {}", problems.join("; ")),
            },
        );
    }
}
