//! too-few-quotes: an inquiry awarded with fewer invited suppliers, or fewer valid quotes,
//! than the policy requires.

use probity_events::purchase::Method;

use super::{opened_award, raise_case, RuleCheck};
use crate::findings::{Rule, Severity};
use crate::state::{Fact, Projection};

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let policy = p.policy_in_force(f.t);
        let (min_invited, min_valid) = (policy.min_invited_suppliers, policy.min_valid_quotes);
        let Some((award, case, (method, _, invited, opened_seq))) = opened_award(&p.cases, f)
        else {
            return;
        };
        if *method != Method::Inquiry {
            return;
        }
        let valid = case.valid_quotes.len();
        if invited.len() >= min_invited as usize && valid >= min_valid as usize {
            return;
        }
        let mut evidence = vec![*opened_seq, f.seq];
        evidence.extend(case.valid_quotes.values());
        let case_id = award.case.as_str();
        raise_case(
            &mut p.findings,
            f,
            Rule::TooFewQuotes,
            case_id,
            Severity::Medium,
            evidence,
            format!(
                "inquiry {case_id} had {} invited suppliers and {valid} valid quotes",
                invited.len()
            ),
        );
    }
}
