//! The `rep` answer, version 3.

use probity_core::ids::Seq;
use probity_projector::{RepReport, VisitView};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Answers, Dated, Finding, Time};

/// The `rep` answer: a rep's registration, visits, refusals and breaches as of a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rep {
    /// Filing number.
    pub filing_number: String,
    /// Name, if registered.
    pub name: Option<String>,
    /// The supplier's USCC.
    pub supplier: Option<String>,
    /// Product lines.
    pub product_lines: Vec<String>,
    /// The moment asked about (true time); what happened later is left out.
    pub at: Time,
    /// Registration valid at `at`.
    pub valid: bool,
    /// Registration.
    pub registered: Option<Registration>,
    /// Registration revoked.
    pub revoked: Option<Dated>,
    /// Visits booked by `at`, in booking order, each as it stood then.
    pub visits: Vec<Visit>,
    /// Check-ins with no booking.
    pub walk_ins: Vec<WalkIn>,
    /// Entries refused at the door.
    pub refusals: Vec<Dated>,
    /// Rule breaches observed (sightings).
    pub violations: Vec<Dated>,
    /// Findings that name the rep and happened by `at`.
    pub findings: Vec<Finding>,
}

/// A rep's registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Registration {
    /// Valid from (true time).
    pub from: Time,
    /// Valid until (true time, exclusive).
    pub until: Time,
    /// The record.
    pub record: Seq,
}

/// A booked visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Visit {
    /// Visit id.
    pub visit: String,
    /// `requested`, `approved`, `rejected`, `checked_in` or `completed`.
    pub state: String,
    /// The host.
    pub host: String,
    /// The host's department.
    pub department: String,
    /// The slot booked: from (true time).
    pub slot_from: Time,
    /// The slot booked: until (true time).
    pub slot_until: Time,
    /// The integrity pledge was signed.
    pub pledge_signed: bool,
    /// The booking.
    pub requested: Dated,
    /// The approval.
    pub approved: Option<VisitApproval>,
    /// The rejection.
    pub rejected: Option<Dated>,
    /// The check-in.
    pub checked_in: Option<VisitCheckIn>,
    /// The completion.
    pub completed: Option<VisitCompletion>,
}

/// A visit approved, and the reception room it designated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VisitApproval {
    /// When (true time).
    pub at: Time,
    /// The reception room.
    pub room: String,
    /// The record.
    pub record: Seq,
}

/// A rep checked in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VisitCheckIn {
    /// When (true time).
    pub at: Time,
    /// The room.
    pub room: String,
    /// The rep's identity matched the registration.
    pub identity_matched: bool,
    /// The record.
    pub record: Seq,
}

/// A visit completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VisitCompletion {
    /// When (true time).
    pub at: Time,
    /// Staff who attended.
    pub attendees: Vec<String>,
    /// The record.
    pub record: Seq,
}

/// A check-in with no booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WalkIn {
    /// The visit id given.
    pub visit: String,
    /// The room.
    pub room: String,
    /// When (true time).
    pub at: Time,
    /// The record.
    pub record: Seq,
}

impl Answers<'_> {
    fn visit(&self, id: &str, state: &str, v: &VisitView) -> Visit {
        let decided = v.decided_at.unwrap_or(v.requested_at);
        Visit {
            visit: id.to_owned(),
            state: state.to_owned(),
            host: v.host.clone(),
            department: v.department.clone(),
            slot_from: self.time(v.slot.0),
            slot_until: self.time(v.slot.1),
            pledge_signed: v.pledge_signed,
            requested: self.dated((v.requested_at, v.requested)),
            approved: v.approved.as_ref().map(|(room, record)| VisitApproval {
                at: self.time(decided),
                room: room.clone(),
                record: *record,
            }),
            rejected: v.rejected.map(|record| self.dated((decided, record))),
            checked_in: v
                .checked_in
                .as_ref()
                .map(|(room, matched, at, record)| VisitCheckIn {
                    at: self.time(*at),
                    room: room.clone(),
                    identity_matched: *matched,
                    record: *record,
                }),
            completed: v
                .completed
                .as_ref()
                .map(|(attendees, record)| VisitCompletion {
                    at: self.time(v.completed_at.unwrap_or(v.requested_at)),
                    attendees: attendees.clone(),
                    record: *record,
                }),
        }
    }

    /// The `rep` answer.
    pub fn rep(&self, r: &RepReport) -> Rep {
        let rep = &r.rep;
        Rep {
            filing_number: r.filing_number.clone(),
            name: rep.name.clone(),
            supplier: rep.supplier.clone(),
            product_lines: rep.product_lines.clone(),
            at: self.time(r.at),
            valid: r.valid,
            registered: rep.registered.map(|(from, until, record)| Registration {
                from: self.time(from),
                until: self.time(until),
                record,
            }),
            revoked: rep.revoked.map(|d| self.dated(d)),
            visits: r
                .visits
                .iter()
                .map(|line| self.visit(&line.visit, &line.state, &line.detail))
                .collect(),
            walk_ins: rep
                .walk_ins
                .iter()
                .map(|(visit, room, at, record)| WalkIn {
                    visit: visit.clone(),
                    room: room.clone(),
                    at: self.time(*at),
                    record: *record,
                })
                .collect(),
            refusals: rep.refusals.iter().map(|d| self.dated(*d)).collect(),
            violations: rep.violations.iter().map(|d| self.dated(*d)).collect(),
            findings: self.findings(&r.findings),
        }
    }
}
