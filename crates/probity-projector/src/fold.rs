//! The fold: each record's effect on the views — suppliers, reps, visits, meetings, cases and
//! their timelines, policies and key holders. It judges nothing; the rules run after it
//! (`crate::rules`) on views that already hold the record.

use probity_core::keys::KeyId;
use probity_events::purchase::QuoteResult;
use probity_events::Event;

use crate::state::{Changed, Fact, Projection};
use crate::time::{at, of};
use crate::views::{
    ListingView, RepMeeting, Request, Review, SanctionView, TimelineEntry, VisitView,
};

impl Projection {
    /// Takes record `f` into the views. Every event type is named here: a new catalogue event
    /// does not compile until someone decides what it changes.
    pub(crate) fn fold(&mut self, f: Fact<'_>) {
        self.applied = f.seq.0 + 1;
        self.add_to_timelines(f);
        let (t, k) = (f.t, f.k);
        match f.event {
            Event::PolicySet(p) => {
                self.policies_changed = Changed(true);
                self.policies
                    .push((at(&p.effective_from), f.seq, p.policy.clone()))
            }
            Event::Genesis(g) => {
                for admin in &g.admins {
                    self.signers
                        .insert(admin.key.key_id().to_hex(), admin.holder.clone());
                }
            }
            Event::KeyEnrolled(e) => self
                .signers
                .insert(e.key.key_id().to_hex(), e.holder.clone()),
            Event::SupplierRegistered(e) => {
                self.suppliers.entry(e.uscc.as_str()).name = Some(e.name.to_string());
            }
            Event::SupplierAdmitted(e) => {
                self.suppliers.entry(e.uscc.as_str()).admitted = Some((t, k, f.seq));
            }
            Event::AdmissionRejected(e) => {
                self.suppliers.entry(e.uscc.as_str()).rejected = Some((t, f.seq));
            }
            Event::ViolationRecorded(e) => self
                .suppliers
                .entry(e.uscc.as_str())
                .violations
                .push((t, f.seq)),
            Event::IntegrityEvaluated(e) => self
                .suppliers
                .entry(e.uscc.as_str())
                .evaluations
                .push((t, f.seq, e.score, format!("{:?}", e.grade))),
            Event::ExternalListingObserved(e) => {
                let view = ListingView {
                    list: e.list.as_str().to_owned(),
                    grade: e.grade.to_string(),
                    scheme_version: e.scheme_version.to_string(),
                    scope: e.scope,
                    products: e.products.iter().map(ToString::to_string).collect(),
                    from: at(&e.penalty_from),
                    until: e.penalty.end_from(e.penalty_from.datetime()).map(of),
                    seq: f.seq,
                    known: k,
                };
                self.suppliers.entry(e.uscc.as_str()).listings.push(view);
            }
            Event::SanctionImposed(e) => {
                let view = SanctionView {
                    sanction: e.sanction.to_string(),
                    kind: e.kind,
                    products: e.products.iter().map(ToString::to_string).collect(),
                    from: at(&e.effective_from),
                    // A one-off warning or interview without a period ends as it begins.
                    until: match &e.duration {
                        Some(duration) => duration.end_from(e.effective_from.datetime()).map(of),
                        None => Some(at(&e.effective_from)),
                    },
                    lifted: None,
                    conditions: e.conditions.iter().map(|c| (c.to_string(), None)).collect(),
                    seq: f.seq,
                    known: k,
                };
                self.add_sanction(e.uscc.as_str(), view);
            }
            Event::SanctionConditionMet(e) => {
                if let Some(s) = self.sanction_mut(e.uscc.as_str(), e.sanction.as_str()) {
                    if let Some(slot) = s.conditions.get_mut(e.condition.as_str()) {
                        *slot = Some((t, k));
                    }
                }
            }
            Event::SanctionLifted(e) => {
                if let Some(s) = self.sanction_mut(e.uscc.as_str(), e.sanction.as_str()) {
                    s.lifted = Some((t, k));
                }
            }
            Event::RepRegistered(e) => {
                let rep = self.reps.entry(e.filing_number.as_str());
                rep.name = Some(e.name.to_string());
                rep.supplier = Some(e.supplier.to_string());
                rep.product_lines = e.product_lines.iter().map(ToString::to_string).collect();
                rep.registered = Some((t, at(&e.valid_until), f.seq));
                rep.revoked = None;
            }
            Event::RepRegistrationRevoked(e) => {
                self.reps.entry(e.filing_number.as_str()).revoked = Some((t, f.seq));
            }
            Event::VisitRequested(e) => {
                self.visits.insert(
                    e.visit.to_string(),
                    VisitView {
                        rep: e.filing_number.to_string(),
                        host: e.host.to_string(),
                        department: e.department.to_string(),
                        slot: (at(&e.slot.from), at(&e.slot.to)),
                        pledge_signed: e.pledge_signed,
                        requested: f.seq,
                        requested_at: t,
                        decided_at: None,
                        completed_at: None,
                        approved: None,
                        approved_room: None,
                        rejected: None,
                        checked_in: None,
                        completed: None,
                    },
                );
                self.reps
                    .entry(e.filing_number.as_str())
                    .visits
                    .push(e.visit.to_string());
            }
            Event::VisitApproved(e) => {
                if let Some(v) = self.visits.get_mut(e.visit.as_str()) {
                    v.approved = Some((e.reception_room.to_string(), f.seq));
                    v.decided_at = Some(t);
                    v.approved_room = Some(e.reception_room.to_string());
                }
            }
            Event::VisitRejected(e) => {
                if let Some(v) = self.visits.get_mut(e.visit.as_str()) {
                    v.rejected = Some(f.seq);
                    v.decided_at = Some(t);
                }
            }
            Event::CheckedIn(e) => match self.visits.get_mut(e.visit.as_str()) {
                Some(v) => v.checked_in = Some((e.room.to_string(), e.identity_matched, t, f.seq)),
                // No booking: a walk-in, kept in the rep's log (and judged by rep-visit).
                None => self.reps.entry(e.filing_number.as_str()).walk_ins.push((
                    e.visit.to_string(),
                    e.room.to_string(),
                    t,
                    f.seq,
                )),
            },
            Event::EntryRefused(e) => {
                if let Some(rep) = &e.filing_number {
                    self.reps.entry(rep.as_str()).refusals.push((t, f.seq));
                }
            }
            Event::RepViolationObserved(e) => {
                let when = e.seen_at.as_ref().map_or(t, at);
                if let Some(rep) = &e.filing_number {
                    self.reps.entry(rep.as_str()).violations.push((when, f.seq));
                }
                self.suppliers
                    .entry(e.supplier.as_str())
                    .rep_strikes
                    .push((when, f.seq));
            }
            Event::VisitCompleted(e) => {
                if let Some(v) = self.visits.get_mut(e.visit.as_str()) {
                    v.completed =
                        Some((e.attendees.iter().map(ToString::to_string).collect(), f.seq));
                    v.completed_at = Some(t);
                }
                if let Some(rep) = self.visits.get(e.visit.as_str()).map(|v| v.rep.clone()) {
                    let supplier = self
                        .reps
                        .get(&rep)
                        .and_then(|r| r.supplier.clone())
                        .unwrap_or_default();
                    for staff in &e.attendees {
                        self.meetings.entry(staff.as_str()).push(RepMeeting {
                            supplier: supplier.clone(),
                            rep: rep.clone(),
                            occurred: t,
                            seq: f.seq,
                        });
                    }
                }
            }
            Event::PurchaseRequested(e) => {
                self.cases.entry(e.case.as_str()).request = Some(Request {
                    seq: f.seq,
                    department: e.department.to_string(),
                    requester: e.requester.to_string(),
                    item: e.item.to_string(),
                    estimated: e.estimated.fen(),
                    category: e.category.to_string(),
                    budget_project: e.budget_project.to_string(),
                    quantity: e.quantity,
                    catalogue: e
                        .catalogue
                        .as_ref()
                        .map(|c| (c.code.to_string(), c.unit_price)),
                });
            }
            Event::SelectionMeetingHeld(e) => {
                let case = self.cases.entry(e.case.as_str());
                case.meeting = Some((e.chair.to_string(), f.seq));
                for m in &e.members {
                    case.panel.entry(m.to_string()).or_insert(f.seq);
                }
                case.recusals
                    .extend(e.recusals.iter().map(ToString::to_string));
            }
            Event::AnnualPlanApproved(e) => {
                for c in &e.cases {
                    self.cases.entry(c.as_str()).plan_approver =
                        Some((e.approved_by.to_string(), f.seq));
                }
            }
            Event::ExternalApprovalGranted(e) => self
                .cases
                .entry(e.case.as_str())
                .external_approvals
                .push(f.seq),
            Event::ProcessOpened(e) => {
                let case = self.cases.entry(e.case.as_str());
                case.method = Some((
                    e.method,
                    at(&e.deadline),
                    e.invited_suppliers
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    f.seq,
                ));
                for s in &e.invited_suppliers {
                    case.bidders.entry(s.to_string()).or_insert(f.seq);
                }
            }
            Event::DemandPublished(e) => {
                self.cases.entry(e.case.as_str()).published = Some((t, f.seq))
            }
            Event::SupplierSignedUp(e) => {
                self.cases
                    .entry(e.case.as_str())
                    .bidders
                    .entry(e.supplier.to_string())
                    .or_insert(f.seq);
            }
            Event::QuoteSubmitted(e) => {
                let case = self.cases.entry(e.case.as_str());
                case.quotes.insert(
                    e.supplier.to_string(),
                    (e.amount.fen(), at(&e.submitted_at), f.seq),
                );
                case.bidders.entry(e.supplier.to_string()).or_insert(f.seq);
            }
            Event::QuoteEvaluated(e) => {
                let case = self.cases.entry(e.case.as_str());
                if e.result == QuoteResult::Valid {
                    case.valid_quotes.insert(e.supplier.to_string(), f.seq);
                } else {
                    case.valid_quotes.remove(e.supplier.as_str());
                }
            }
            Event::EvaluationPanelFormed(e) => {
                let case = self.cases.entry(e.case.as_str());
                for m in &e.members {
                    case.panel.entry(m.staff.to_string()).or_insert(f.seq);
                }
            }
            Event::RecusalRecorded(e) => {
                self.cases
                    .entry(e.case.as_str())
                    .recusals
                    .insert(e.staff.to_string());
            }
            Event::AwardDecided(e) => {
                self.cases.entry(e.case.as_str()).award =
                    Some((e.supplier.to_string(), e.amount.fen(), f.seq));
            }
            Event::ContractSigned(e) => {
                self.cases.entry(e.case.as_str()).contract = Some((e.signed_by.to_string(), f.seq));
            }
            Event::DeliveryAccepted(e) => {
                self.cases.entry(e.case.as_str()).acceptance =
                    Some((e.accepted_by.to_string(), f.seq));
            }
            Event::SupervisionRecorded(e) => {
                self.cases
                    .entry(e.case.as_str())
                    .supervised
                    .insert(e.step.to_string(), f.seq);
                self.mark_supervised(e.case.as_str(), e.step.as_str(), f.seq);
            }
            Event::FindingReviewed(e) => {
                let signer = KeyId::of(&f.body.signer).to_hex();
                let reviewer = self.signers.get(&signer).cloned().unwrap_or(signer);
                self.reviews.entry(e.finding.as_str()).push(Review {
                    outcome: e.outcome.as_str().to_owned(),
                    note: e.note.to_string(),
                    occurred: t,
                    reviewer,
                    seq: f.seq,
                });
            }
            // In the case timelines (as every record naming a case is), and judged by the
            // rules where one applies, but no view keeps more of them.
            Event::KeyRevoked(_)
            | Event::CreditChecked(_)
            | Event::CommitmentSigned(_)
            | Event::RequestsAggregated(_)
            | Event::ContractAmended(_)
            | Event::PaymentMade(_)
            | Event::CaseCancelled(_)
            | Event::GiftReturned(_)
            | Event::StaffAssignedToPost(_)
            | Event::StaffRotated(_)
            | Event::ConsumablesUsageReported(_) => {}
        }
    }

    /// Adds the record to the timeline of every case its body names.
    fn add_to_timelines(&mut self, f: Fact<'_>) {
        let signer = KeyId::of(&f.body.signer);
        for case in &f.body.subjects.case {
            let signer_name = self.signers.get(&signer.to_hex()).cloned();
            self.push_step(
                case.as_str(),
                TimelineEntry {
                    seq: f.seq,
                    event_type: f.body.event_type.to_string(),
                    occurred_at: f.t,
                    recorded_at: f.k,
                    signer,
                    signer_name,
                    supervised_by: None,
                },
            );
        }
    }
}
