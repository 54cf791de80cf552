//! late-quote-won: the winning supplier's quote was submitted after the deadline.

use super::{opened_award, raise_case, RuleCheck};
use crate::findings::{Rule, Severity};
use crate::state::{Fact, Projection};

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let Some((award, case, (_, deadline, _, opened_seq))) = opened_award(&p.cases, f) else {
            return;
        };
        let Some((_, submitted, quote_seq)) = case.quotes.get(award.supplier.as_str()) else {
            return;
        };
        if submitted <= deadline {
            return;
        }
        let case_id = award.case.as_str();
        raise_case(
            &mut p.findings,
            f,
            Rule::LateQuoteWon,
            case_id,
            Severity::High,
            vec![*opened_seq, *quote_seq, f.seq],
            format!("the winning quote of case {case_id} arrived after the deadline"),
        );
    }
}
