//! What an investigator asks of a replay — the views at one moment, optionally about one
//! subject — answered once for `replay` (text, `--json`, `--bundle`) and the HTTP API
//! (`/api/replay`, `/api/replay/bundle`).

use probity_core::ids::Seq;
use probity_core::keys::KeyId;
use probity_projector::{BlacklistEntry, Finding};
use serde::Serialize;
use serde_json::Value;

use crate::answers::{self, Answers, Time, Zone};
use crate::replay::{Moment, MomentAnswer, ReplayError, Replayed, Replayer, Step};

/// The subject kinds a replay can be about, as `kind:id` names them.
pub const SUBJECT_KINDS: [&str; 4] = ["supplier", "rep", "case", "staff"];

/// A replay question: the moment, and optionally one subject (`kind`, `id`).
#[derive(Clone, Debug)]
pub struct Question {
    /// The moment.
    pub moment: Moment,
    /// `(kind, id)`: its timeline and its view; `kind` one of [`SUBJECT_KINDS`].
    pub subject: Option<(String, String)>,
    /// Without a subject: how many of the latest events to list.
    pub events: usize,
}

/// The views at one moment: in the views' forms (for text), and as [`ViewAnswer`].
#[derive(Debug)]
pub struct View {
    /// The moment.
    pub moment: Moment,
    /// Records the moment includes.
    pub records: u64,
    /// Records the ledger holds.
    pub ledger_records: u64,
    /// `<kind>:<id>` of the subject, if one was asked for.
    pub subject: Option<String>,
    /// The subject's records, or the latest events.
    pub timeline: Vec<Step>,
    /// Whole-firm bans in force at the moment.
    pub blacklist: Vec<BlacklistEntry>,
    /// Findings at the moment.
    pub findings: Vec<Finding>,
    /// The subject's report in the views' forms (`None` when the ledger names no such
    /// subject at the moment, or none was asked for).
    pub view: Option<Value>,
    /// The same, in the answers' shapes.
    pub answer: ViewAnswer,
}

/// The views at one moment in the answers' shapes of QUERIES.md 3.0, times at the hospital's
/// offset: what `replay --json` prints and `GET /api/replay` answers.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ViewAnswer {
    /// The moment.
    pub moment: MomentAnswer,
    /// True time the views are read at, when the moment has one.
    pub true_at: Option<Time>,
    /// Known time the views are read at; `null`: everything known now.
    pub known_at: Option<Time>,
    /// Records the moment includes.
    pub records: u64,
    /// Records the ledger holds.
    pub ledger_records: u64,
    /// The subject, if one was asked for.
    pub subject: Option<answers::Subject>,
    /// The subject's records in order, or the latest events.
    pub timeline: Vec<StepAnswer>,
    /// Whole-firm bans in force at the moment.
    pub blacklist: Vec<answers::Blacklisted>,
    /// Findings at the moment.
    pub findings: Vec<answers::Finding>,
    /// The subject's answer, as `probity supplier|rep|case|staff --json` prints it; `null`
    /// without a subject or when the ledger names no such subject at the moment.
    pub view: Option<Value>,
}

/// One record of a timeline.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct StepAnswer {
    /// The record.
    pub record: Seq,
    /// Its event type.
    pub event_type: String,
    /// When it happened.
    pub occurred_at: Time,
    /// When the ledger recorded it.
    pub recorded_at: Time,
    /// The key that signed it.
    pub signer: KeyId,
    /// Who holds that key, if known.
    pub signer_name: Option<String>,
}

/// `t`, unless it stands for the ends of time (a moment with no true or known time).
fn bounded(t: i64) -> Option<i64> {
    (t != i64::MIN && t != i64::MAX).then_some(t)
}

impl Replayer<'_> {
    /// The views at `question.moment` (of a ledger of `ledger_records`), at `zone`.
    pub fn view(
        &self,
        question: &Question,
        ledger_records: u64,
        zone: Zone,
    ) -> Result<View, ReplayError> {
        let mut replayed = self.replay(question.moment)?;
        let subject = question
            .subject
            .as_ref()
            .map(|(kind, id)| format!("{kind}:{id}"));
        let (timeline, view) = match (&question.subject, &subject) {
            (Some((kind, id)), Some(name)) => {
                let timeline = self.timeline(&replayed, name)?;
                (timeline, self.subject_view(&mut replayed, kind, id, zone)?)
            }
            _ => (self.tail(&replayed, question.events)?, None),
        };
        let (blacklist, findings) = (replayed.blacklist(), replayed.findings());
        let (blacklist_answer, findings_answer) = self.settle(&mut replayed, |p| {
            let a = Answers {
                projection: p,
                zone,
            };
            (
                blacklist.iter().map(|e| a.blacklisted(e)).collect(),
                findings.iter().map(|f| a.finding(f)).collect(),
            )
        })?;
        let answer = ViewAnswer {
            moment: MomentAnswer::of(question.moment, zone),
            true_at: bounded(replayed.true_at).map(|t| zone.time(t)),
            known_at: bounded(replayed.known_at).map(|t| zone.time(t)),
            records: replayed.records,
            ledger_records,
            subject: subject.as_deref().map(answers::Subject::parse),
            timeline: timeline
                .iter()
                .map(|s| StepAnswer {
                    record: s.seq,
                    event_type: s.event_type.clone(),
                    occurred_at: zone.time(s.occurred_at),
                    recorded_at: zone.time(s.recorded_at),
                    signer: s.signer,
                    signer_name: s.signer_name.clone(),
                })
                .collect(),
            blacklist: blacklist_answer,
            findings: findings_answer,
            view: view.as_ref().map(|(_, answer)| answer.clone()),
        };
        Ok(View {
            moment: question.moment,
            records: replayed.records,
            ledger_records,
            subject,
            timeline,
            blacklist,
            findings,
            view: view.map(|(stored, _)| stored),
            answer,
        })
    }

    /// The subject's report in the views' forms and in the answers' shapes.
    fn subject_view(
        &self,
        replayed: &mut Replayed,
        kind: &str,
        id: &str,
        zone: Zone,
    ) -> Result<Option<(Value, Value)>, ReplayError> {
        let at = replayed.true_at;
        if kind == "staff" {
            // The staff view looks through every case.
            let snapshot = replayed.snapshot;
            self.complete(&mut replayed.projection, "cases", snapshot)?;
        }
        let both = |stored: Result<Value, serde_json::Error>,
                    answer: Result<Value, serde_json::Error>| {
            stored
                .and_then(|s| answer.map(|a| (s, a)))
                .map_err(|e| ReplayError::Book(format!("{kind} view: {e}")))
        };
        let read = self.settle(replayed, |p| {
            let a = Answers {
                projection: p,
                zone,
            };
            match kind {
                "supplier" => p.supplier_report(id, at).map(|r| {
                    both(
                        serde_json::to_value(&r),
                        serde_json::to_value(a.supplier(&r)),
                    )
                }),
                "rep" => p
                    .rep_report(id, at)
                    .map(|r| both(serde_json::to_value(&r), serde_json::to_value(a.rep(&r)))),
                "case" => p.case_report(id).map(|r| {
                    both(
                        serde_json::to_value(&r),
                        serde_json::to_value(a.case(&r, at)),
                    )
                }),
                _ => p
                    .staff_report(id)
                    .map(|r| both(serde_json::to_value(&r), serde_json::to_value(a.staff(&r)))),
            }
        })?;
        read.transpose()
    }
}

impl View {
    /// The records an investigation bundle of this view proves: the timeline, the evidence of
    /// the findings shown (those naming the subject, when there is one), the blacklist
    /// entries. ([`probity_ledger::evidence::investigation`] adds the key records.)
    pub fn bundle_records(&self) -> Vec<u64> {
        let findings = self.findings.iter().filter(|f| match &self.subject {
            Some(subject) => f.subjects.contains(subject),
            None => true,
        });
        self.timeline
            .iter()
            .map(|s| s.seq.0)
            .chain(findings.flat_map(|f| f.evidence.iter().map(|s| s.0)))
            .chain(self.blacklist.iter().map(|e| e.seq.0))
            .collect()
    }

    /// The question a bundle of this view records (PROOF.md, investigation bundles).
    pub fn bundle_question(&self) -> Value {
        serde_json::json!({"moment": self.moment, "subject": self.subject})
    }
}
