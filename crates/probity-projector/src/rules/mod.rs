//! The red-flag rules, one file each (`<code>.rs`), listed once in `findings.rs`. A rule runs
//! after the fold has taken the record into the views: it reads them, keeps what it must
//! remember in its own table, and raises findings. Rules do not read each other's findings,
//! so their order does not matter; they run in the list's order.

use probity_core::ids::Seq;
use probity_events::purchase::AwardDecided;
use probity_events::Event;

use crate::findings::{rule_list, Finding, Rule, Severity};
use crate::state::{raise, Fact, Projection};
use crate::table::Table;
use crate::views::{CaseView, Opened};

/// One red-flag rule.
pub(crate) trait RuleCheck {
    /// Judges record `f` against the projection (whose views already hold it): raises what
    /// it finds and keeps what the rule must remember for later records.
    fn check(&self, p: &mut Projection, f: Fact<'_>);
}

/// Declares each rule's module (its file) and runs them all in the list's order. Each file
/// defines `pub(super) struct Check` implementing [`RuleCheck`].
macro_rules! rule_modules {
    ($($(#[$doc:meta])* $name:ident $file:literal,)*) => {
        $(
            #[allow(non_snake_case)]
            #[path = $file]
            mod $name;
        )*

        /// Runs every rule on record `f`.
        pub(crate) fn check_all(p: &mut Projection, f: Fact<'_>) {
            $(RuleCheck::check(&$name::Check, p, f);)*
        }
    };
}

rule_list!(rule_modules);

/// Money in fen as a summary shows it: `¥545,000` (the one formatter, `render::amount`).
pub(crate) fn yuan(fen: u64) -> String {
    crate::render::amount(fen)
}

/// Raises a finding about one case, found by record `f`, with `evidence` sorted and
/// de-duplicated; its id is `<rule>/<case>/<seq>`.
pub(crate) fn raise_case(
    findings: &mut Table<Finding>,
    f: Fact<'_>,
    rule: Rule,
    case: &str,
    severity: Severity,
    mut evidence: Vec<Seq>,
    summary: String,
) {
    evidence.sort_unstable();
    evidence.dedup();
    raise(
        findings,
        Finding {
            id: format!("{rule}/{case}/{}", f.seq),
            rule,
            severity,
            evidence,
            occurred_at: f.t,
            detectable_at: f.recorded_at,
            knowable: true,
            subjects: vec![format!("case:{case}")],
            summary,
        },
    );
}

/// The award record `f` decides, and its case, if the case's procurement process was opened:
/// the rules about awards judge nothing else (an award before that is a step-order finding).
/// Takes the case table alone so that the caller may raise findings while it holds the case.
pub(crate) fn opened_award<'a>(
    cases: &'a Table<CaseView>,
    f: Fact<'a>,
) -> Option<(&'a AwardDecided, &'a CaseView, &'a Opened)> {
    let Event::AwardDecided(award) = f.event else {
        return None;
    };
    let case = cases.get(award.case.as_str())?;
    let opened = case.method.as_ref()?;
    Some((award, case, opened))
}
