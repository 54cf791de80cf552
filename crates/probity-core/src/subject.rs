//! Subjects: what a record is about — a supplier, a rep, a purchase case or a staff member —
//! written `kind:id` wherever one is named alone (an expected-version stream, a finding's
//! subjects, an investigator's filter). Parsed once into [`Subject`]; nothing else splits or
//! builds that text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::envelope::Subjects;
use crate::ids::{IdError, SubjectId};

/// The kinds of subject, as the `subjects` of an event body lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A supplier, by unified social credit code.
    Supplier,
    /// A sales representative, by filing number.
    Rep,
    /// A purchase case.
    Case,
    /// A member of the hospital's staff.
    Staff,
}

impl SubjectKind {
    /// Every kind, in the order a body's `subjects` lists them.
    pub const ALL: [SubjectKind; 4] = [
        SubjectKind::Supplier,
        SubjectKind::Rep,
        SubjectKind::Case,
        SubjectKind::Staff,
    ];

    /// Its name: `supplier`, `rep`, `case` or `staff`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Supplier => "supplier",
            SubjectKind::Rep => "rep",
            SubjectKind::Case => "case",
            SubjectKind::Staff => "staff",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<SubjectKind> {
        SubjectKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One subject: its kind and id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    /// What it is.
    pub kind: SubjectKind,
    /// Which one.
    pub id: SubjectId,
}

/// Why a `kind:id` text is not a subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// No `:`, or a kind that is not supplier, rep, case or staff.
    #[error("{0:?} is not a subject: write supplier:ID, rep:ID, case:ID or staff:ID")]
    Form(String),
    /// The id is empty, too long or has characters ids may not have.
    #[error(transparent)]
    Id(#[from] IdError),
}

impl Subject {
    /// The subject `kind:id`.
    pub fn new(kind: SubjectKind, id: SubjectId) -> Subject {
        Subject { kind, id }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id.as_str())
    }
}

impl FromStr for Subject {
    type Err = SubjectError;

    fn from_str(text: &str) -> Result<Subject, SubjectError> {
        let (kind, id) = text
            .split_once(':')
            .ok_or_else(|| SubjectError::Form(text.to_owned()))?;
        let kind = SubjectKind::parse(kind).ok_or_else(|| SubjectError::Form(text.to_owned()))?;
        Ok(Subject::new(kind, SubjectId::new(id)?))
    }
}

impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Subject, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Subjects {
    /// The ids listed for `kind`.
    pub fn of(&self, kind: SubjectKind) -> &[SubjectId] {
        match kind {
            SubjectKind::Supplier => &self.supplier,
            SubjectKind::Rep => &self.rep,
            SubjectKind::Case => &self.case,
            SubjectKind::Staff => &self.staff,
        }
    }

    /// Adds `subject` to its kind's list, unless listed already.
    pub fn add(&mut self, subject: Subject) {
        let list = match subject.kind {
            SubjectKind::Supplier => &mut self.supplier,
            SubjectKind::Rep => &mut self.rep,
            SubjectKind::Case => &mut self.case,
            SubjectKind::Staff => &mut self.staff,
        };
        if !list.contains(&subject.id) {
            list.push(subject.id);
        }
    }

    /// Every subject listed, kind by kind in [`SubjectKind::ALL`] order, each list in its order.
    pub fn iter(&self) -> impl Iterator<Item = (SubjectKind, &SubjectId)> {
        SubjectKind::ALL
            .into_iter()
            .flat_map(move |kind| self.of(kind).iter().map(move |id| (kind, id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_reads_and_writes_as_kind_colon_id() {
        let s: Subject = "case:CG-2026-001".parse().unwrap();
        assert_eq!(s.kind, SubjectKind::Case);
        assert_eq!(s.id.as_str(), "CG-2026-001");
        assert_eq!(s.to_string(), "case:CG-2026-001");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"case:CG-2026-001\"");
        let back: Subject = serde_json::from_str("\"case:CG-2026-001\"").unwrap();
        assert_eq!(back, s);
        for bad in ["case", "case:", "vendor:X", ":X", "case:a b"] {
            assert!(bad.parse::<Subject>().is_err(), "{bad}");
        }
    }
}
