//! Findings: a broken rule, the records that prove it, when it became detectable, and whether
//! the breach was knowable when it happened.

use std::fmt;

use probity_core::ids::Seq;
use probity_core::time::RecordedAt;
use serde::{Deserialize, Serialize};

use crate::time::Micros;

/// The rules, listed once, in `docs/RULES.md` order: each line is a rule and its file under
/// `src/rules/`, named by its code (the kebab-case of the name, as in findings and the
/// `rule-<code>-…` scenarios). Hands the list to `$then`: [`Rule`] is made from it here and
/// the checks in `rules/mod.rs`. Adding a rule is a file there, a line here, and its
/// scenarios (ARCHITECTURE.md, "Adding a rule").
macro_rules! rule_list {
    ($then:ident) => {
        $then! {
            /// An award, contract or payment to a supplier not eligible at decision time.
            AwardToIneligible "award-to-ineligible.rs",
            /// A rep met outside the rules: not validly registered, without an approved
            /// booking, received outside the designated room, or sighted on a ward.
            RepVisit "rep-visit.rs",
            /// A staff member met a bidder's rep shortly before sitting on its panel, without
            /// recusal.
            RepConflict "rep-conflict.rs",
            /// Non-open purchases in one year, department, budget project and category above
            /// the open-tender threshold.
            SplitPurchase "split-purchase.rs",
            /// Awards to one supplier just under the threshold, each within a window of the
            /// one before.
            NearThreshold "near-threshold.rs",
            /// An inquiry with too few invited suppliers or valid quotes.
            TooFewQuotes "too-few-quotes.rs",
            /// An off-catalogue demand published for too few days before the deadline.
            ShortPublication "short-publication.rs",
            /// The winning quote arrived after the deadline.
            LateQuoteWon "late-quote-won.rs",
            /// One person held two incompatible roles in one case.
            Duties "duties.rs",
            /// A step missing or out of order.
            StepOrder "step-order.rs",
            /// An off-catalogue purchase of a catalogue item, or above the catalogue price.
            CatalogueBypass "catalogue-bypass.rs",
            /// A department's consumables ratio above a tier.
            ConsumablesRatio "consumables-ratio.rs",
        }
    };
}
pub(crate) use rule_list;

/// Makes [`Rule`] from the list.
macro_rules! rule_enum {
    ($($(#[$doc:meta])* $name:ident $file:literal,)*) => {
        /// The red-flag rules of `docs/RULES.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "kebab-case")]
        pub enum Rule {
            $($(#[$doc])* $name,)*
        }

        impl Rule {
            /// Every rule, in `docs/RULES.md` order.
            pub const ALL: &'static [Rule] = &[$(Rule::$name),*];

            /// The kebab-case code (its file's name without `.rs`).
            pub fn code(&self) -> &'static str {
                let file = match self {
                    $(Rule::$name => $file,)*
                };
                file.strip_suffix(".rs").unwrap_or(file)
            }
        }
    };
}

rule_list!(rule_enum);

impl Rule {
    /// Parses the code.
    pub fn parse(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.code() == code)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How serious a finding is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Needs an explanation.
    Medium,
    /// A likely breach.
    High,
}

/// One red flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable id: the rule and what it is about, e.g. `split-purchase/2026/cardiology/BP-7/A0232`.
    pub id: String,
    /// The rule.
    pub rule: Rule,
    /// Severity.
    pub severity: Severity,
    /// The records that prove it, ascending.
    pub evidence: Vec<Seq>,
    /// When the breach happened (true time, µs): the act it judges — the award, check-in,
    /// sighting or step — or, for a cluster, the decision that first made it one. A subject
    /// asked about as of a time lists the findings that happened by then.
    pub occurred_at: Micros,
    /// When the ledger first held enough to detect it.
    pub detectable_at: RecordedAt,
    /// Whether the breach was knowable from the ledger when it was committed.
    pub knowable: bool,
    /// The case, supplier, rep and staff concerned (as `kind:id`).
    pub subjects: Vec<String>,
    /// What happened, for people.
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_code_is_its_serde_name_and_parses_back() {
        for rule in Rule::ALL {
            let json = serde_json::to_value(rule).unwrap();
            assert_eq!(json, rule.code(), "{rule:?}");
            assert_eq!(Rule::parse(rule.code()), Some(*rule));
        }
        assert_eq!(Rule::parse("no-such-rule"), None);
    }
}
