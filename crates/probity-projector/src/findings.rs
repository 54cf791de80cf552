//! Findings: a broken rule, the records that prove it, when it became detectable, and whether
//! the breach was knowable when it happened.

use std::fmt;

use probity_core::ids::Seq;
use probity_core::time::RecordedAt;
use serde::{Deserialize, Serialize};

/// The red-flag rules of `DOMAIN.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// An award, contract or payment to a supplier not eligible at decision time.
    AwardToIneligible,
    /// A visit by an unregistered or revoked rep, without an approved booking, or outside a
    /// designated room.
    RepVisit,
    /// A staff member met a bidder's rep shortly before sitting on its panel, without recusal.
    RepConflict,
    /// Non-open purchases in one year, department, budget project and category above the
    /// open-tender threshold.
    SplitPurchase,
    /// Two or more awards to one supplier just under the threshold within a window.
    NearThreshold,
    /// An inquiry with too few invited suppliers or valid quotes.
    TooFewQuotes,
    /// An off-catalogue demand published for too few days before the deadline.
    ShortPublication,
    /// The winning quote arrived after the deadline.
    LateQuoteWon,
    /// One person held two incompatible roles in one case.
    Duties,
    /// A step missing or out of order.
    StepOrder,
    /// An off-catalogue purchase of a catalogue item, or above the catalogue price.
    CatalogueBypass,
    /// A department's consumables ratio above a tier.
    ConsumablesRatio,
}

impl Rule {
    /// Every rule, in `DOMAIN.md` order.
    pub const ALL: [Rule; 12] = [
        Rule::AwardToIneligible,
        Rule::RepVisit,
        Rule::RepConflict,
        Rule::SplitPurchase,
        Rule::NearThreshold,
        Rule::TooFewQuotes,
        Rule::ShortPublication,
        Rule::LateQuoteWon,
        Rule::Duties,
        Rule::StepOrder,
        Rule::CatalogueBypass,
        Rule::ConsumablesRatio,
    ];

    /// The kebab-case code.
    pub fn code(&self) -> &'static str {
        match self {
            Rule::AwardToIneligible => "award-to-ineligible",
            Rule::RepVisit => "rep-visit",
            Rule::RepConflict => "rep-conflict",
            Rule::SplitPurchase => "split-purchase",
            Rule::NearThreshold => "near-threshold",
            Rule::TooFewQuotes => "too-few-quotes",
            Rule::ShortPublication => "short-publication",
            Rule::LateQuoteWon => "late-quote-won",
            Rule::Duties => "duties",
            Rule::StepOrder => "step-order",
            Rule::CatalogueBypass => "catalogue-bypass",
            Rule::ConsumablesRatio => "consumables-ratio",
        }
    }

    /// Parses the code.
    pub fn parse(code: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id: the rule and what it is about, e.g. `split-purchase/2026/cardiology/BP-7/A0232`.
    pub id: String,
    /// The rule.
    pub rule: Rule,
    /// Severity.
    pub severity: Severity,
    /// The records that prove it, ascending.
    pub evidence: Vec<Seq>,
    /// When the ledger first held enough to detect it.
    pub detectable_at: RecordedAt,
    /// Whether the breach was knowable from the ledger when it was committed.
    pub knowable: bool,
    /// The case, supplier, rep and staff concerned (as `kind:id`).
    pub subjects: Vec<String>,
    /// What happened, for people.
    pub summary: String,
}
