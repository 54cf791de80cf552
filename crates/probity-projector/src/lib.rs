//! Probity's projections, pure: records in (in ledger order), views and findings out.
//!
//! * supplier views and eligibility in both time senses (true at / known at);
//! * the blacklist as of any moment, in both senses;
//! * the red-flag rules of `docs/RULES.md`, each finding with its rule, severity, the records that
//!   prove it, when it became detectable and whether it was knowable when it happened.
//!
//! Thresholds and windows come from the `policy.set` in force when the event happened.

//! Inside, by job: [`state`](Projection) declares every table once; `views` are what they
//! hold; `fold` takes each record into the views; `rules/` holds one file per red-flag rule,
//! listed once in `findings`; applying a record is the fold, then every rule.

mod apply;
mod findings;
mod fold;
pub mod render;
mod report;
mod rows;
mod rules;
mod state;
mod table;
pub mod time;
mod views;

pub use findings::{Finding, Rule, Severity};
pub use report::{
    CaseDetail, CaseReport, CaseRole, PolicyReport, RepReport, StaffReport, SupplierReport,
    VisitLine,
};
pub use rows::{Trial, POLICIES_KEY};
pub use state::{Applied, Projection, RowSource, TABLES};
pub use table::{RowError, Table};
pub use views::{
    BlacklistEntry, CaseView, Ineligibility, ListingView, Opened, RepMeeting, RepView, Request,
    Review, SanctionView, SupplierRow, SupplierView, TimelineEntry, VisitView,
};
