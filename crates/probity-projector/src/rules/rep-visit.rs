//! rep-visit: a rep met outside the rules. At check-in: a rep not validly registered at that
//! moment (never, not yet, expired, or revoked — the revocation in evidence), with no booking,
//! on a booking that was rejected or never approved, or received in another room than the one
//! the approval designated (the approval in evidence). And a rep sighted anywhere but a
//! reception room (`rep.violation_observed`: a ward, an office, the pharmacy…), which is a visit
//! outside a designated room by definition.

use probity_core::ids::Seq;
use probity_events::rep::{CheckedIn, RepViolationObserved};
use probity_events::Event;

use super::RuleCheck;
use crate::findings::{Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};
use crate::time::{at, Micros};
use crate::views::RepView;

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        match f.event {
            Event::CheckedIn(e) => check_in(p, f, e),
            Event::RepViolationObserved(e) => sighting(p, f, e),
            _ => {}
        }
    }
}

/// Why a rep was not validly registered at `t`, and the record that shows it.
fn unregistered(rep: Option<&RepView>, t: Micros) -> Option<(String, Option<Seq>)> {
    let Some((rep, (from, until, seq))) = rep.and_then(|r| Some((r, r.registered?))) else {
        return Some(("the rep was never registered".to_owned(), None));
    };
    let why = if t < from {
        ("the rep was not yet registered", seq)
    } else if t >= until {
        ("the rep's registration had expired", seq)
    } else {
        let (_, revocation) = rep.revoked.filter(|(at, _)| *at <= t)?;
        ("the rep's registration had been revoked", revocation)
    };
    Some((why.0.to_owned(), Some(why.1)))
}

fn check_in(p: &mut Projection, f: Fact<'_>, e: &CheckedIn) {
    let (visit_id, rep_id, room) = (e.visit.as_str(), e.filing_number.as_str(), e.room.as_str());
    let mut problems = Vec::new();
    let mut evidence = vec![f.seq];
    let unregistered = unregistered(p.reps.get(rep_id), f.t);
    let registered = unregistered.is_none();
    if let Some((why, seq)) = unregistered {
        problems.push(why);
        evidence.extend(seq);
    }
    match p.visits.get(visit_id) {
        None => problems.push("there was no booking".to_owned()),
        Some(v) => {
            evidence.push(v.requested);
            match (&v.approved, v.rejected) {
                (_, Some(rejected)) => {
                    problems.push("the booking was rejected".to_owned());
                    evidence.push(rejected);
                }
                (None, None) => problems.push("the booking was not approved".to_owned()),
                (Some((approved, approval)), None) if approved != room => {
                    problems.push(format!(
                        "the rep was received in {room}, not the designated {approved}"
                    ));
                    evidence.push(*approval);
                }
                (Some(_), None) => {}
            }
        }
    }
    if problems.is_empty() {
        return;
    }
    evidence.sort_unstable();
    evidence.dedup();
    let finding = Finding {
        id: format!("rep-visit/{rep_id}/{}", f.seq),
        rule: Rule::RepVisit,
        severity: if registered {
            Severity::Medium
        } else {
            Severity::High
        },
        evidence,
        occurred_at: f.t,
        detectable_at: f.recorded_at,
        knowable: true,
        subjects: vec![format!("rep:{rep_id}")],
        summary: format!("visit {visit_id} of rep {rep_id}: {}", problems.join("; ")),
    };
    raise(&mut p.findings, finding);
}

fn sighting(p: &mut Projection, f: Fact<'_>, e: &RepViolationObserved) {
    let place = place_of(e);
    let who = match &e.filing_number {
        Some(rep) => format!("rep {rep} of {}", e.supplier),
        None => format!("an unregistered rep of {}", e.supplier),
    };
    let mut subjects = Vec::new();
    if let Some(rep) = &e.filing_number {
        subjects.push(format!("rep:{rep}"));
    }
    subjects.push(format!("supplier:{}", e.supplier));
    let finding = Finding {
        id: format!(
            "rep-visit/{}/{}",
            e.filing_number
                .as_ref()
                .map_or(e.supplier.as_str(), |r| r.as_str()),
            f.seq
        ),
        rule: Rule::RepVisit,
        severity: Severity::Medium,
        evidence: vec![f.seq],
        // When the rep was seen, if the report says, else when it was reported.
        occurred_at: e.seen_at.as_ref().map_or(f.t, at),
        detectable_at: f.recorded_at,
        knowable: true,
        subjects,
        summary: format!(
            "{who} was seen in {place}, outside a designated reception room: {}",
            e.description
        ),
    };
    raise(&mut p.findings, finding);
}

/// Where a rep was sighted, for people.
fn place_of(e: &RepViolationObserved) -> &'static str {
    use probity_events::rep::Place;
    match e.place {
        Place::Ward => "a ward",
        Place::Office => "a doctor's office",
        Place::Pharmacy => "the pharmacy",
        Place::EquipmentDepartment => "the equipment department",
        Place::Outpatients => "the outpatient clinics",
        Place::Other => "another place",
    }
}
