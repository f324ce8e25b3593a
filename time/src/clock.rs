//! The time of day, one grammar for `--at` phrases and `--every` schedules.
//!
//! Accepted (any letter case, surrounding whitespace ignored):
//!
//! | form | examples | means |
//! | --- | --- | --- |
//! | 24-hour `H:MM`, `HH:MM` | `9:05`, `21:05`, `00:00` | hour 0-23, two-digit minutes |
//! | with seconds `H:MM:SS` | `21:05:30`, `9:30:15` | two-digit seconds 00-59 |
//! | with a fraction `H:MM:SS.f` | `17:30:15.25` | up to 9 digits kept, more dropped |
//! | 12-hour | `9am`, `9 am`, `9 a.m.`, `9:30pm`, `9:30 p.m.`, `9:30:15pm` | hour 1-12 |
//! | `12am` / `12pm` | | midnight / noon |
//! | words | `noon`, `midnight` | 12:00 / 00:00 |
//!
//! A bare number (`9`, `17`) is not a time: it needs minutes or am/pm. Hours and minutes
//! have at most 2 digits, minutes and seconds exactly 2.
//!
//! Before this module `clout --at` accepted `a.m.`/`p.m.`, seconds and fractions while
//! `cloutd`'s schedules took only `am`/`pm` and `HH:MM`; both now take all of the above
//! (a schedule refuses a fraction of a second, as it fires on whole seconds).

use chrono::NaiveTime;

/// The 12-hour suffixes, with whether each means afternoon.
const MERIDIEMS: [(&str, bool); 4] = [("am", false), ("a.m.", false), ("pm", true), ("p.m.", true)];

/// Why a text is not a time of day. The messages are written to follow the quoted text:
/// "`9:5` needs two-digit minutes after the colon, e.g. `9:05`".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeOfDayError {
    /// Not shaped like a time at all (`blah`, `:30`, `9：00`).
    #[error(
        "is not a time; write `HH:MM` (18:00, 9:05), `HH:MM:SS` (9:30:15), `9am`, `9 a.m.`, \
         `5:30pm`, `12pm` (noon), `12am` (midnight), `noon` or `midnight`"
    )]
    NotATime,
    /// Minutes not written as two digits (`9:5`, `9:`).
    #[error("needs two-digit minutes after the colon, e.g. `9:05`")]
    Minutes,
    /// Seconds not written as two digits, optionally with a fraction (`9:30:5`).
    #[error("needs two-digit seconds after the second colon, e.g. `9:30:15`")]
    Seconds,
    /// A bare hour without am/pm (`9`).
    #[error("needs minutes or am/pm: write `{hour}:00` or `{hour}am`")]
    NeedsMinutes {
        /// The hour as given.
        hour: u32,
    },
    /// Minute above 59.
    #[error("has minute {0}, out of range 00-59")]
    Minute(u32),
    /// Second above 59.
    #[error("has second {0}, out of range 00-59")]
    Second(u32),
    /// A 24-hour hour above 23.
    #[error("has hour {0}, out of range 0-23")]
    Hour(u32),
    /// A 12-hour hour outside 1-12 (`13pm`, `0am`).
    #[error("has hour {0}: with am/pm the hour must be 1-12")]
    TwelveHour(u32),
}

/// Whether `word` is a 12-hour suffix on its own: `am`, `a.m.`, `pm`, `p.m.` (any case).
pub fn is_meridiem(word: &str) -> bool {
    MERIDIEMS.iter().any(|(suffix, _)| word.eq_ignore_ascii_case(suffix))
}

/// Whether `text` ends with a 12-hour suffix (`9am`, `5 p.m.`), any case.
pub fn has_meridiem(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    MERIDIEMS.iter().any(|(suffix, _)| lower.ends_with(suffix))
}

/// Parses a time of day in the grammar of the [module documentation](self).
pub fn parse_time_of_day(text: &str) -> Result<NaiveTime, TimeOfDayError> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "noon" => return Ok(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN)),
        "midnight" => return Ok(NaiveTime::MIN),
        _ => {}
    }
    let (clock, pm) = MERIDIEMS
        .iter()
        .find_map(|(suffix, pm)| lower.strip_suffix(suffix).map(|rest| (rest.trim_end(), Some(*pm))))
        .unwrap_or((lower.as_str(), None));
    let mut parts = clock.split(':');
    let hour_text = parts.next().unwrap_or_default();
    let Some(hour) = digits(hour_text, 1, 2) else {
        return Err(TimeOfDayError::NotATime);
    };
    let minute = match parts.next() {
        Some(text) => digits(text, 2, 2).ok_or(TimeOfDayError::Minutes)?,
        None if pm.is_some() => 0,
        None => return Err(TimeOfDayError::NeedsMinutes { hour }),
    };
    let (second, nano) = match parts.next() {
        Some(text) => seconds(text).ok_or(TimeOfDayError::Seconds)?,
        None => (0, 0),
    };
    if parts.next().is_some() {
        return Err(TimeOfDayError::NotATime);
    }
    if minute > 59 {
        return Err(TimeOfDayError::Minute(minute));
    }
    if second > 59 {
        return Err(TimeOfDayError::Second(second));
    }
    let hour = match pm {
        None if hour > 23 => return Err(TimeOfDayError::Hour(hour)),
        None => hour,
        Some(_) if !(1..=12).contains(&hour) => return Err(TimeOfDayError::TwelveHour(hour)),
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    NaiveTime::from_hms_nano_opt(hour, minute, second, nano).ok_or(TimeOfDayError::NotATime)
}

/// Seconds, `SS` or `SS.fff` (digits past nanoseconds are dropped).
fn seconds(s: &str) -> Option<(u32, u32)> {
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    let second = digits(whole, 2, 2)?;
    let Some(fraction) = fraction else {
        return Some((second, 0));
    };
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nano = 0;
    for i in 0..9 {
        let digit = fraction.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
        nano = nano * 10 + digit;
    }
    Some((second, nano))
}

/// `min..=max` ASCII digits as a number.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hms(h: u32, m: u32, s: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, s).unwrap()
    }

    #[test]
    fn accepts_every_form() {
        let cases = [
            ("9am", hms(9, 0, 0)),
            ("9 am", hms(9, 0, 0)),
            ("9AM", hms(9, 0, 0)),
            ("9a.m.", hms(9, 0, 0)),
            ("9 a.m.", hms(9, 0, 0)),
            ("9 A.M.", hms(9, 0, 0)),
            ("9:30pm", hms(21, 30, 0)),
            ("9:30 p.m.", hms(21, 30, 0)),
            ("5p.m.", hms(17, 0, 0)),
            ("9:30:15pm", hms(21, 30, 15)),
            ("21:05", hms(21, 5, 0)),
            ("9:05", hms(9, 5, 0)),
            ("09:05", hms(9, 5, 0)),
            ("00:00", hms(0, 0, 0)),
            ("21:05:30", hms(21, 5, 30)),
            ("9:30:15", hms(9, 30, 15)),
            ("23:59:59", hms(23, 59, 59)),
            ("noon", hms(12, 0, 0)),
            ("Midnight", hms(0, 0, 0)),
            ("12pm", hms(12, 0, 0)),
            ("12am", hms(0, 0, 0)),
            ("12:15am", hms(0, 15, 0)),
            ("  7:05 ", hms(7, 5, 0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time_of_day(text), Ok(want), "{text:?}");
        }
        assert_eq!(
            parse_time_of_day("17:30:15.25"),
            Ok(NaiveTime::from_hms_milli_opt(17, 30, 15, 250).unwrap())
        );
        assert_eq!(
            parse_time_of_day("17:30:15.1234567891"),
            Ok(NaiveTime::from_hms_nano_opt(17, 30, 15, 123_456_789).unwrap())
        );
    }

    /// The forms `clout --at` took and `cloutd` schedules did not (or the reverse) before
    /// the grammar was shared: all are accepted now.
    #[test]
    fn the_forms_that_used_to_disagree_are_accepted() {
        assert_eq!(parse_time_of_day("9 a.m."), Ok(hms(9, 0, 0)));
        assert_eq!(parse_time_of_day("9:30 p.m."), Ok(hms(21, 30, 0)));
        assert_eq!(parse_time_of_day("9:30:15"), Ok(hms(9, 30, 15)));
        assert_eq!(parse_time_of_day("9:30:15am"), Ok(hms(9, 30, 15)));
    }

    #[test]
    fn rejections_say_why() {
        use TimeOfDayError::*;
        let cases = [
            ("", NotATime),
            ("blah", NotATime),
            ("am", NotATime),
            (":30", NotATime),
            ("9：00", NotATime),
            ("１７:３０", NotATime),
            ("9amm", NotATime),
            ("123:00", NotATime),
            ("12:00:00:00", NotATime),
            ("9", NeedsMinutes { hour: 9 }),
            ("17", NeedsMinutes { hour: 17 }),
            ("12:5", Minutes),
            ("9:", Minutes),
            ("1:050", Minutes),
            ("12:00:5", Seconds),
            ("12:00:00.", Seconds),
            ("12:00:00.x", Seconds),
            ("9:60", Minute(60)),
            ("12:00:60", Second(60)),
            ("25:00", Hour(25)),
            ("24:00", Hour(24)),
            ("13pm", TwelveHour(13)),
            ("0am", TwelveHour(0)),
            ("00am", TwelveHour(0)),
            ("0:30am", TwelveHour(0)),
            ("12:60pm", Minute(60)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time_of_day(text), Err(want), "{text:?}");
        }
        assert_eq!(NeedsMinutes { hour: 9 }.to_string(), "needs minutes or am/pm: write `9:00` or `9am`");
        assert!(NotATime.to_string().contains("9 a.m."));
    }

    #[test]
    fn meridiem_words() {
        for word in ["am", "PM", "a.m.", "P.M."] {
            assert!(is_meridiem(word), "{word}");
        }
        assert!(!is_meridiem("9am") && !is_meridiem("a.m"));
        assert!(has_meridiem("9am") && has_meridiem("5:30 p.m.") && !has_meridiem("9:30"));
    }
}
