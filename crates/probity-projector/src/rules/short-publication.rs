//! short-publication: an off-catalogue demand published on the website fewer calendar days
//! before its quote deadline than the policy requires.

use super::{opened_award, raise_case, RuleCheck};
use crate::findings::{Rule, Severity};
use crate::state::{Fact, Projection};
use crate::time::calendar_days;

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let min_days = p.policy_in_force(f.t).min_publication_days;
        let Some((award, case, (_, deadline, _, opened_seq))) = opened_award(&p.cases, f) else {
            return;
        };
        let Some((published, published_seq)) = case.published else {
            return;
        };
        let days = calendar_days(published, *deadline, f.offset());
        if days >= i64::from(min_days) {
            return;
        }
        let case_id = award.case.as_str();
        raise_case(
            &mut p.findings,
            f,
            Rule::ShortPublication,
            case_id,
            Severity::Medium,
            vec![published_seq, *opened_seq],
            format!(
                "demand of case {case_id} published {days} days before its deadline \
                 (minimum {min_days})"
            ),
        );
    }
}
