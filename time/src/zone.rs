//! IANA time zone names: parsing with suggestions, and the local zone.

use chrono_tz::{TZ_VARIANTS, Tz};

/// An unknown IANA time zone name, with up to 3 close matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", tz_error_message(.input, .suggestions))]
pub struct TzError {
    /// The name as given (trimmed; cut to 64 characters).
    pub input: String,
    /// Up to 3 known zone names close to `input`, best first.
    pub suggestions: Vec<String>,
}

/// Longest name looked up case-insensitively or given suggestions, in characters.
const MAX_NAME_CHARS: usize = 64;

/// The zone with this IANA name, exactly or in any letter case (`europe/berlin`), trimmed.
pub fn find_tz(name: &str) -> Option<Tz> {
    let name = name.trim();
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return None;
    }
    TZ_VARIANTS.iter().find(|tz| tz.name().eq_ignore_ascii_case(name)).copied()
}

/// Parses an IANA zone name, also case-insensitively (`europe/berlin`). On failure the
/// error lists up to 3 close matches from [`chrono_tz::TZ_VARIANTS`].
pub fn parse_tz(name: &str) -> Result<Tz, TzError> {
    let name = name.trim();
    if let Some(tz) = find_tz(name) {
        return Ok(tz);
    }
    let short = name.chars().count() <= MAX_NAME_CHARS;
    Err(TzError {
        input: name.chars().take(MAX_NAME_CHARS).collect(),
        suggestions: if short && !name.is_empty() { tz_suggestions(name) } else { Vec::new() },
    })
}

/// The local zone of this process: the `TZ` environment variable when it names an IANA zone
/// (see [`tz_from_env_value`]), else the system zone from `iana_time_zone::get_timezone()`,
/// else UTC.
pub fn local_tz() -> Tz {
    let env = std::env::var("TZ").ok();
    tz_from_env_value(env.as_deref())
        .or_else(|| iana_time_zone::get_timezone().ok().and_then(|name| find_tz(&name)))
        .unwrap_or(Tz::UTC)
}

/// The zone named by a value of `TZ`, if it names an IANA zone: `Europe/Berlin`,
/// `:Europe/Berlin`, or a path into a zoneinfo folder such as
/// `/usr/share/zoneinfo/Europe/Berlin`. POSIX rules (`CET-1CEST,M3.5.0,M10.5.0/3`) name none.
pub fn tz_from_env_value(value: Option<&str>) -> Option<Tz> {
    let value = value?.trim();
    let value = value.strip_prefix(':').unwrap_or(value);
    const ZONEINFO: &str = "zoneinfo/";
    let value = match value.rfind(ZONEINFO) {
        Some(at) => value.get(at + ZONEINFO.len()..)?,
        None => value,
    };
    if value.is_empty() {
        return None;
    }
    find_tz(value)
}

/// ` (did you mean `x`?)` for the word in `words` closest to `input` (Jaro-Winkler at least
/// 0.8), or nothing.
pub fn did_you_mean(input: &str, words: &[&str]) -> String {
    if input.chars().count() > 32 {
        return String::new();
    }
    words
        .iter()
        .map(|w| (strsim::jaro_winkler(input, w), *w))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, w)| format!(" (did you mean `{w}`?)"))
        .unwrap_or_default()
}

/// `s` with control characters escaped (`\u{1b}`), for error messages that quote input.
pub fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn tz_suggestions(input: &str) -> Vec<String> {
    let needle = input.to_lowercase();
    let mut scored: Vec<(f64, &'static str)> = TZ_VARIANTS
        .iter()
        .map(|tz| {
            let name = tz.name();
            let lower = name.to_lowercase();
            let city = lower.rsplit('/').next().unwrap_or(&lower);
            let score = strsim::jaro_winkler(&needle, &lower).max(strsim::jaro_winkler(&needle, city) - 0.02);
            (score, name)
        })
        .filter(|(score, _)| *score >= 0.85)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, name)| name.to_string()).collect()
}

fn tz_error_message(input: &str, suggestions: &[String]) -> String {
    const USE: &str = "Use an IANA name such as Europe/Berlin or America/New_York.";
    let input = printable(input);
    if suggestions.is_empty() {
        format!("unknown time zone `{input}`. {USE}")
    } else {
        format!("unknown time zone `{input}`; did you mean {}? {USE}", suggestions.join(", "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::Berlin;

    #[test]
    fn parse_tz_accepts_iana_names_case_insensitively() {
        assert_eq!(parse_tz("Europe/Berlin"), Ok(Berlin));
        assert_eq!(parse_tz("europe/berlin"), Ok(Berlin));
        assert_eq!(parse_tz(" AMERICA/NEW_YORK "), Ok(New_York));
        assert_eq!(parse_tz("UTC"), Ok(Tz::UTC));
    }

    #[test]
    fn parse_tz_suggests_close_matches() {
        let e = parse_tz("Europe/Berln").unwrap_err();
        assert_eq!(e.input, "Europe/Berln");
        assert_eq!(e.suggestions.first().map(String::as_str), Some("Europe/Berlin"));
        assert!(e.suggestions.len() <= 3);
        let msg = e.to_string();
        assert!(msg.starts_with("unknown time zone `Europe/Berln`; did you mean Europe/Berlin"), "{msg}");
        assert!(msg.ends_with("? Use an IANA name such as Europe/Berlin or America/New_York."));
        assert!(parse_tz("berlin").unwrap_err().suggestions.contains(&"Europe/Berlin".to_string()));
        let e = parse_tz("Mars/Olympus").unwrap_err();
        assert!(e.to_string().starts_with("unknown time zone `Mars/Olympus`. Use"), "{e}");
        for junk in ["", "日本", &"x".repeat(10_000), "Europe/", "/"] {
            assert!(parse_tz(junk).is_err(), "{junk:?}");
        }
        assert_eq!(parse_tz(&"x".repeat(100)).unwrap_err().input.chars().count(), 64);
        assert!(parse_tz("Bad\u{1b}Zone").unwrap_err().to_string().contains("\\u{1b}"));
    }

    #[test]
    fn tz_from_env_values() {
        assert_eq!(tz_from_env_value(Some("Europe/Berlin")), Some(Berlin));
        assert_eq!(tz_from_env_value(Some(":Europe/Berlin")), Some(Berlin));
        assert_eq!(tz_from_env_value(Some(" Asia/Kolkata ")), Some(Kolkata));
        assert_eq!(tz_from_env_value(Some("europe/berlin")), Some(Berlin));
        assert_eq!(tz_from_env_value(Some("/usr/share/zoneinfo/Europe/Berlin")), Some(Berlin));
        assert_eq!(tz_from_env_value(Some(":/usr/share/zoneinfo/Asia/Kolkata")), Some(Kolkata));
        for none in [None, Some(""), Some(":"), Some("Not/A_Zone"), Some(":/etc/localtime")] {
            assert_eq!(tz_from_env_value(none), None, "{none:?}");
        }
        assert_eq!(tz_from_env_value(Some("/usr/share/zoneinfo/")), None);
        assert_eq!(tz_from_env_value(Some("CET-1CEST,M3.5.0,M10.5.0/3")), None);
    }

    #[test]
    fn suggestions_for_words() {
        assert_eq!(did_you_mean("fry", &["fri", "sat"]), " (did you mean `fri`?)");
        assert_eq!(did_you_mean("zzz", &["fri", "sat"]), "");
        assert_eq!(did_you_mean(&"f".repeat(40), &["fri"]), "");
    }
}
