//! Text for people: times in the hospital's zone to the second, the console's two languages.

use time::{OffsetDateTime, UtcOffset};

/// `2026-03-05 12:00:00` in the hospital's zone (the page header names the offset).
pub fn local(micros: i64, offset: UtcOffset) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.to_offset(offset).format(format).ok())
        .unwrap_or_else(|| format!("{micros} µs"))
}

/// An answer's time (RFC 3339 at the hospital's offset) as a CSV cell: `2026-03-05 12:00:00`,
/// as [`local`] writes it (the column's header names the offset).
pub fn cell_time(time: &probity_views::answers::Time) -> String {
    let text = &time.0;
    match text.get(..19) {
        Some(seconds) if text.len() > 19 => seconds.replacen('T', " ", 1),
        _ => text.clone(),
    }
}

/// `+08:00`.
pub fn offset_text(offset: UtcOffset) -> String {
    let format = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    offset.format(format).unwrap_or_else(|_| "+00:00".into())
}

/// The value of an `<input type="datetime-local">` (`2026-03-05T12:00`, with or without
/// seconds), read in the hospital's zone, as RFC 3339 for the queries.
pub fn from_local_input(text: &str, offset: UtcOffset) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let with_seconds = if text.len() == 16 {
        format!("{text}:00")
    } else {
        text.to_owned()
    };
    Some(format!("{with_seconds}{}", offset_text(offset)))
}

/// The console's languages: Chinese first, English on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `?lang=` first, then the `lang` cookie, then `Accept-Language` (Chinese unless the
    /// browser prefers English over it).
    pub fn choose(param: Option<&str>, headers: &axum::http::HeaderMap) -> Lang {
        let named = |text: &str| match text {
            "en" => Some(Lang::En),
            "zh" | "zh-CN" => Some(Lang::Zh),
            _ => None,
        };
        if let Some(lang) = param.and_then(named) {
            return lang;
        }
        if let Some(lang) = crate::auth::cookie(headers, "lang").and_then(named) {
            return lang;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let first = |prefix: &str| {
            accept
                .split(',')
                .position(|item| item.trim().to_ascii_lowercase().starts_with(prefix))
        };
        match (first("en"), first("zh")) {
            (Some(en), Some(zh)) if en < zh => Lang::En,
            (Some(_), None) => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The `lang` attribute of the page.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `zh` or `en`, as the text.
    pub fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_the_hospitals_zone_to_the_second() {
        let offset = UtcOffset::from_hms(8, 0, 0).unwrap();
        // 2026-12-31T16:00:00Z is midnight on New Year's day in Beijing.
        let t = OffsetDateTime::parse(
            "2026-12-31T16:00:00.123456Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let micros = (t.unix_timestamp_nanos() / 1000) as i64;
        assert_eq!(local(micros, offset), "2027-01-01 00:00:00");
        assert_eq!(offset_text(offset), "+08:00");
        assert_eq!(
            from_local_input("2026-03-05T12:00", offset).as_deref(),
            Some("2026-03-05T12:00:00+08:00")
        );
    }

    #[test]
    fn chinese_unless_english_is_preferred() {
        let with = |accept: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(axum::http::header::ACCEPT_LANGUAGE, accept.parse().unwrap());
            Lang::choose(None, &headers)
        };
        assert_eq!(with("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(with("en-US,en;q=0.9"), Lang::En);
        assert_eq!(with("en-US,zh-CN;q=0.5"), Lang::En);
        assert_eq!(Lang::choose(None, &axum::http::HeaderMap::new()), Lang::Zh);
        assert_eq!(
            Lang::choose(Some("en"), &axum::http::HeaderMap::new()),
            Lang::En
        );
    }
}
