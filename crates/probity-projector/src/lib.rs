//! Probity's projections, pure: records in (in ledger order), views and findings out.
//!
//! * supplier views and eligibility in both time senses (true at / known at);
//! * the blacklist as of any moment, in both senses;
//! * the red-flag rules of `DOMAIN.md`, each finding with its rule, severity, the records that
//!   prove it, when it became detectable and whether it was knowable when it happened.
//!
//! Thresholds and windows come from the `policy.set` in force when the event happened.

mod findings;
mod projection;
pub mod render;
mod report;
mod rows;
mod table;
pub mod time;

pub use findings::{Finding, Rule, Severity};
pub use projection::{
    Applied, BlacklistEntry, CaseView, Ineligibility, ListingView, Projection, RepMeeting, RepView,
    Request, SanctionView, SupplierView, TimelineEntry, VisitView,
};
pub use report::{
    CaseDetail, CaseReport, CaseRole, RepReport, StaffReport, SupplierReport, VisitLine,
};
pub use rows::{POLICIES_KEY, TABLES};
pub use table::{RowError, Table};
