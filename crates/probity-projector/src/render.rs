//! Readable text for people: the supplier, rep, case and staff reports, findings and
//! blacklist entries, as `probity` and `replay` print them (`--json` prints the values whole).

use std::fmt::Write;

use probity_core::ids::Seq;
use probity_core::time::RecordedAt;
use time::{OffsetDateTime, UtcOffset};

use crate::{
    BlacklistEntry, CaseReport, Finding, PolicyReport, RepReport, Review, StaffReport,
    SupplierReport,
};

/// Text in the hospital's time zone: every time is written there, to the second, with the
/// offset (`2026-03-05 12:00:00 +08:00`), as people there read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    zone: UtcOffset,
}

/// China Standard Time, the default hospital zone: every hospital in China keeps it, with no
/// daylight saving.
impl Default for Text {
    fn default() -> Text {
        Text {
            zone: UtcOffset::from_whole_seconds(8 * 3600).unwrap_or(UtcOffset::UTC),
        }
    }
}

impl Text {
    /// The zone written `±hh:mm` (e.g. `+08:00`), if it is one.
    pub fn parse_zone(text: &str) -> Option<Text> {
        let format =
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
        UtcOffset::parse(text, format).ok().map(Text::in_zone)
    }

    /// The zone's offset from UTC.
    pub fn zone(&self) -> UtcOffset {
        self.zone
    }

    /// Text with times at `zone`, the hospital's offset from UTC.
    pub fn in_zone(zone: UtcOffset) -> Text {
        Text { zone }
    }

    /// An instant (µs since the epoch) in the hospital's zone, to the second, with its offset.
    pub fn when(&self, t: i64) -> String {
        let format = time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(t) * 1000)
            .ok()
            .and_then(|d| d.to_offset(self.zone).format(format).ok())
            .unwrap_or_else(|| RecordedAt::from_unix_micros(t).to_string())
    }
}

/// Record numbers, comma-separated.
pub fn seqs(list: &[Seq]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Text {
    /// A finding in two lines: what, then when it happened, when it was detectable and the
    /// evidence.
    pub fn finding(&self, f: &Finding) -> String {
        format!(
            "[{}] {:?}{} — {}\n    happened {}; detectable at {}; evidence: records {}",
            f.rule,
            f.severity,
            if f.knowable {
                ""
            } else {
                ", not knowable at the time"
            },
            f.summary,
            self.when(f.occurred_at),
            self.when(f.detectable_at.unix_micros()),
            seqs(&f.evidence)
        )
    }

    /// A review of a finding, indented under it.
    pub fn review(&self, r: &Review) -> String {
        format!(
            "    reviewed {} by {} on {} (record {}): {}",
            r.outcome,
            r.reviewer,
            self.when(r.occurred),
            r.seq,
            r.note
        )
    }

    /// A blacklist entry in one line.
    pub fn blacklist_entry(&self, e: &BlacklistEntry) -> String {
        format!(
            "{}  {}  {} from {} until {} (record {})",
            e.uscc,
            e.name.as_deref().unwrap_or("-"),
            e.reason,
            self.when(e.from),
            e.until
                .map_or("further notice".to_owned(), |t| self.when(t)),
            e.seq
        )
    }

    fn findings(&self, text: &mut String, list: &[Finding]) {
        let _ = writeln!(text, "findings     {}", list.len());
        for f in list {
            let _ = writeln!(
                text,
                "  [{}] {:?} — {} (records {})",
                f.rule,
                f.severity,
                f.summary,
                f.evidence
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }

    /// A supplier.
    pub fn supplier(&self, r: &SupplierReport) -> String {
        let s = &r.supplier;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "supplier     {} {}",
            r.uscc,
            s.name.as_deref().unwrap_or("(name not recorded)")
        );
        let _ = writeln!(
            text,
            "admission    {}",
            match (s.admitted, s.rejected) {
                (Some((t, _, seq)), _) => format!("admitted {} (record {seq})", self.when(t)),
                (None, Some((t, seq))) => format!("rejected {} (record {seq})", self.when(t)),
                _ => "not admitted".into(),
            }
        );
        let _ = writeln!(
            text,
            "eligible     {} at {}",
            match &r.ineligible {
                None if r.blocked_products.is_empty() => "yes".to_owned(),
                None => "yes, except the blocked products below".to_owned(),
                Some(why) => format!("NO: {why}"),
            },
            self.when(r.at)
        );
        for (product, seq) in &r.blocked_products {
            let _ = writeln!(text, "blocked      {product} (record {seq})");
        }
        for x in &s.sanctions {
            let period = match x.until {
                // A one-off warning or interview: no period.
                Some(until) if until == x.from => format!("on {}, one-off", self.when(x.from)),
                Some(until) => format!("from {} until {}", self.when(x.from), self.when(until)),
                None => format!("from {} until further notice", self.when(x.from)),
            };
            let _ = writeln!(
                text,
                "sanction     {} {} {period}{} (record {})",
                x.sanction,
                x.kind,
                x.lifted
                    .map_or(String::new(), |(t, _)| format!(", lifted {}", self.when(t))),
                x.seq
            );
        }
        for l in &s.listings {
            let _ = writeln!(
                text,
                "listing      {} grade {} (scheme {}) from {} (record {})",
                l.list,
                l.grade,
                l.scheme_version,
                self.when(l.from),
                l.seq
            );
        }
        for (t, seq, score, grade) in &s.evaluations {
            let _ = writeln!(
                text,
                "evaluation   {score} ({grade}) on {} (record {seq})",
                self.when(*t)
            );
        }
        let _ = writeln!(
            text,
            "rep strikes  {} in the last {} days{}",
            r.strikes_in_window,
            r.strike_window_days,
            r.escalation
                .as_ref()
                .map_or(String::new(), |e| format!(" — {e}"))
        );
        self.findings(&mut text, &r.findings);
        text.trim_end().to_owned()
    }

    /// A rep.
    pub fn rep(&self, r: &RepReport) -> String {
        let rep = &r.rep;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "rep          {} {} of {}",
            r.filing_number,
            rep.name.as_deref().unwrap_or("(name not recorded)"),
            rep.supplier.as_deref().unwrap_or("?")
        );
        let _ = writeln!(
            text,
            "registration {} at {}{}",
            if r.valid { "valid" } else { "NOT valid" },
            self.when(r.at),
            rep.registered
                .map_or(String::new(), |(_, until, seq)| format!(
                    " (until {}, record {seq})",
                    self.when(until)
                ))
        );
        for v in &r.visits {
            let d = &v.detail;
            let _ = writeln!(
                text,
                "visit        {} {} host {} ({}) slot {}{}",
                v.visit,
                v.state,
                d.host,
                d.department,
                self.when(d.slot.0),
                d.checked_in
                    .as_ref()
                    .map_or(String::new(), |(room, matched, _, _)| format!(
                        ", checked in at {room}{}",
                        if *matched {
                            ""
                        } else {
                            " (identity NOT matched)"
                        }
                    ))
            );
        }
        for (visit, room, t, seq) in &rep.walk_ins {
            let _ = writeln!(
                text,
                "walk-in      {visit} at {room} {}, no booking (record {seq})",
                self.when(*t)
            );
        }
        if let Some((t, seq)) = rep.revoked {
            let _ = writeln!(text, "revoked      {} (record {seq})", self.when(t));
        }
        let _ = writeln!(text, "refusals     {}", rep.refusals.len());
        for (t, seq) in &rep.refusals {
            let _ = writeln!(text, "  refused    {} (record {seq})", self.when(*t));
        }
        let _ = writeln!(text, "breaches     {}", rep.violations.len());
        for (t, seq) in &rep.violations {
            let _ = writeln!(text, "  seen       {} (record {seq})", self.when(*t));
        }
        self.findings(&mut text, &r.findings);
        text.trim_end().to_owned()
    }

    /// A purchase case.
    pub fn case(&self, r: &CaseReport) -> String {
        let c = &r.detail;
        let mut text = String::new();
        let _ = writeln!(text, "case         {} — {}", r.case, r.state);
        if let Some(req) = &c.request {
            let _ = writeln!(
            text,
            "request      {} × {}, estimated {}, category {}, by {} ({}), budget {} (record {})",
            req.quantity,
            req.item,
            yuan(req.estimated),
            req.category,
            req.requester,
            req.department,
            req.budget_project,
            req.seq
        );
        }
        for (supplier, (fen, _, seq)) in &c.quotes {
            let valid = if c.valid_quotes.contains_key(supplier) {
                "valid"
            } else {
                "not valid"
            };
            let _ = writeln!(
                text,
                "quote        {supplier} {} {valid} (record {seq})",
                yuan(*fen)
            );
        }
        if let Some((supplier, fen, seq)) = &c.award {
            let _ = writeln!(
                text,
                "award        {supplier} {} (record {seq})",
                yuan(*fen)
            );
        }
        let _ = writeln!(text, "timeline");
        for e in &c.timeline {
            let _ = writeln!(
                text,
                "  {:>6}  {}  {:<34} signed by {}{}",
                e.seq.to_string(),
                self.when(e.occurred_at),
                e.event_type,
                e.signer_name.clone().unwrap_or_else(|| e.signer.to_hex()),
                e.supervised_by
                    .map_or(String::new(), |s| format!(", supervised (record {s})"))
            );
        }
        self.findings(&mut text, &r.findings);
        text.trim_end().to_owned()
    }

    /// A staff member.
    pub fn staff(&self, r: &StaffReport) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "staff        {}", r.staff);
        for m in &r.meetings {
            let _ = writeln!(
                text,
                "met rep      {} of {} on {} (record {})",
                m.rep,
                m.supplier,
                self.when(m.occurred),
                m.seq
            );
        }
        for role in &r.roles {
            let _ = writeln!(
                text,
                "role         {} in case {} (record {})",
                role.role, role.case, role.seq
            );
        }
        for case in &r.recusals {
            let _ = writeln!(text, "recused      case {case}");
        }
        self.findings(&mut text, &r.findings);
        text.trim_end().to_owned()
    }
}

/// Fen as yuan with thousands separators, and in 万元 (ten thousands of yuan) as procurement
/// papers write thresholds: `¥500,000 (50万元)`.
pub fn yuan(fen: u64) -> String {
    let amount = amount(fen);
    let yuan = fen / 100;
    if yuan >= 10_000 && fen % 1_000_000 == 0 {
        format!("{amount} ({}万元)", yuan / 10_000)
    } else {
        amount
    }
}

/// Money in fen with thousands separators and no 万元 (inside a sentence that already has
/// parentheses, as finding summaries do): `¥545,000`, `¥1,234.50`.
pub fn amount(fen: u64) -> String {
    let yuan = fen / 100;
    let digits = yuan.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let cents = fen % 100;
    if cents == 0 {
        format!("¥{grouped}")
    } else {
        format!("¥{grouped}.{cents:02}")
    }
}

impl Text {
    /// The policy in force, field by field, with where it came from.
    pub fn policy(&self, r: &PolicyReport) -> String {
        let p = &r.policy;
        let source = match (r.source, r.effective_from) {
            (Some(seq), Some(from)) => {
                format!(
                    "the policy.set of record {seq}, effective from {}",
                    self.when(from)
                )
            }
            _ => "the defaults (no policy.set in force)".to_owned(),
        };
        let tiers = &p.consumables_tiers;
        let rows = [
            (
                "open-tender threshold (split-purchase, near-threshold)",
                "open_tender_threshold",
                yuan(p.open_tender_threshold.fen()),
            ),
            (
                "outside approval above (step-order)",
                "external_approval_threshold",
                yuan(p.external_approval_threshold.fen()),
            ),
            (
                "near-threshold from",
                "near_threshold_percent",
                format!("{} % of the threshold", p.near_threshold_percent),
            ),
            (
                "near-threshold window",
                "near_threshold_window_days",
                format!("{} days", p.near_threshold_window_days),
            ),
            (
                "rep-conflict window",
                "rep_conflict_window_days",
                format!("{} days", p.rep_conflict_window_days),
            ),
            (
                "inquiry: suppliers invited at least",
                "min_invited_suppliers",
                p.min_invited_suppliers.to_string(),
            ),
            (
                "inquiry: valid quotes at least",
                "min_valid_quotes",
                p.min_valid_quotes.to_string(),
            ),
            (
                "demand published at least",
                "min_publication_days",
                format!("{} days before the deadline", p.min_publication_days),
            ),
            (
                "rep strikes counted over",
                "rep_strike_window_days",
                format!("{} days", p.rep_strike_window_days),
            ),
            (
                "consumables per ¥100 of revenue",
                "consumables_tiers",
                format!(
                    "warning above ¥{}, restrict above ¥{}, stop above ¥{}",
                    tiers.warning, tiers.restrict, tiers.stop
                ),
            ),
        ];
        let mut text = format!("Policy in force at {}: {source}\n", self.when(r.at));
        for (label, field, value) in rows {
            let _ = writeln!(text, "  {label}: {value}  [{field}]");
        }
        text.trim_end().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_with_separators_and_in_wan_yuan() {
        assert_eq!(yuan(50_000_000), "¥500,000 (50万元)");
        assert_eq!(yuan(100_000_000), "¥1,000,000 (100万元)");
        assert_eq!(yuan(18_000_050), "¥180,000.50");
        assert_eq!(yuan(99_900), "¥999");
        assert_eq!(yuan(0), "¥0");
    }
}
