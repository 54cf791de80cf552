//! catalogue-bypass: an item on the hospital's purchase catalogue bought other than by a
//! catalogue call-off, or called off above the catalogue price times the quantity.

use probity_events::purchase::Method;

use super::{opened_award, raise_case, yuan, RuleCheck};
use crate::findings::{Rule, Severity};
use crate::state::{Fact, Projection};

pub(super) struct Check;

impl RuleCheck for Check {
    fn check(&self, p: &mut Projection, f: Fact<'_>) {
        let Some((award, case, (method, _, _, opened_seq))) = opened_award(&p.cases, f) else {
            return;
        };
        let Some(req) = &case.request else {
            return;
        };
        let Some((code, unit)) = &req.catalogue else {
            return;
        };
        let case_id = award.case.as_str();
        let amount = award.amount.fen();
        let (evidence, summary) = if *method != Method::CatalogueCallOff {
            (
                vec![req.seq, *opened_seq, f.seq],
                format!("catalogue item {code} bought off-catalogue in case {case_id}"),
            )
        } else if amount > unit.fen().saturating_mul(u64::from(req.quantity)) {
            (
                vec![req.seq, f.seq],
                format!(
                    "case {case_id} paid {} for {} × catalogue price {}",
                    yuan(amount),
                    req.quantity,
                    yuan(unit.fen())
                ),
            )
        } else {
            return;
        };
        let rule = Rule::CatalogueBypass;
        raise_case(
            &mut p.findings,
            f,
            rule,
            case_id,
            Severity::Medium,
            evidence,
            summary,
        );
    }
}
