//! Reading the WHEN phrases typed at the command line (`clout post --at "tomorrow 9am"`) into an
//! absolute UTC instant.
//!
//! Every phrase is read case-insensitively, with surrounding whitespace trimmed and runs of
//! whitespace inside treated as one space. The forms are listed in [`ACCEPTED_FORMS`]:
//!
//! * an exact instant with an offset (RFC 3339 / ISO 8601): `2026-12-01T09:00:00Z`,
//!   `2026-12-01 09:00:00.5+01:00`, `2026-12-01T09:00+0530`, `2026-12-01 09:00 UTC`;
//! * a local date and time: `2026-12-01 09:00`, `2026-12-01T09:00:30`, `2026-12-01 5:30pm`;
//!   a date alone means 09:00 that day;
//! * a duration from now: `in 90s`, `in 1h30m`, `in 2 hours`, `in an hour`, `+2h`;
//! * `today 17:30`, `tomorrow 9am`, `tomorrow` (09:00), `today` (09:00), `tonight` (20:00),
//!   `eod` (17:00), `this morning`; after a day, a bare hour (`tomorrow 9`) or a part of the
//!   day (`monday morning`, `fri evening`);
//! * a day of a month: `dec 24`, `24 dec 18:00`, `december 24 2027`;
//! * `next week`: next Monday at 09:00;
//! * a weekday: `fri 17:30`, `friday 5:30pm`, `mon` (09:00), `next fri 9am`;
//! * a time alone: `17:30`, `5pm`, `noon`, `midnight`.
//!
//! Times of day and weekday names are the grammar of [`clout_time`], shared with the daemon's
//! `--every` schedules: `HH:MM`, `HH:MM:SS[.f]`, `9am`, `9 a.m.`, `9:30pm`, `noon`, `midnight`;
//! `mon`/`monday`, `tues`, `thurs`, `fridays`.
//!
//! A word `at` may stand between a day and its time (`tomorrow at 9am`, `at 5pm`).
//!
//! Wall-clock phrases are read in the time zone given to [`parse_when`] (normally [`local_tz`]).
//! A local time that occurs twice (when the clocks go back) means the earlier instant; one that
//! does not occur at all (when the clocks go forward) is the error [`WhenError::Nonexistent`]
//! ([`clout_time::resolve_once`]).
//! Days are counted on the local calendar, so `tomorrow 9am` is 09:00 on the next local date
//! even when that day is 23 or 25 hours long.
//!
//! The result is always strictly after `now`; anything else is [`WhenError::Past`].

use std::fmt;
use std::time::Duration;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
pub use clout_time::local_tz;
use clout_time::parse_weekday;

/// Text listing the accepted forms, one per line with an example, used in error messages and
/// `--help`.
pub const ACCEPTED_FORMS: &str = "\
Accepted WHEN forms (any letter case; local times are in the local time zone):
  2026-12-01T09:00:00Z   an exact instant with an offset (RFC 3339: +01:00, fractions, space for T)
  2026-12-01 09:00       a local date and time (also 09:00:00, 2026-12-01T09:00)
  2026-12-01 5:30pm      a local date and 12-hour time (also 9am, 9 a.m., noon, midnight)
  2026-12-01             a local date alone means 09:00 that day
  in 1h30m               a duration from now (also in 90s, in 2 hours, in 3 days, in 1 week)
  +2h                    the same as in 2h
  today 17:30            today at a time (also today 5pm; today alone means 09:00)
  tomorrow 9am           tomorrow at a time (also tomorrow at 9, tomorrow 09:00; alone: 09:00)
  tonight                today at 20:00 (eod: 17:00; this morning/afternoon/evening)
  monday morning         a day and a part of it: morning 09:00, afternoon 14:00, evening 18:00
  dec 24                 the next December 24 (also 24 dec 18:00, dec 24 2027; alone: 09:00)
  next week              next Monday at 09:00
  fri 17:30              the first Friday 17:30 still ahead, maybe today (also friday 5:30pm, mon)
  next fri 9am           like fri 9am but never today: 1 to 7 days ahead (next mon alone: 09:00)
  17:30                  today at 17:30 if still ahead, else tomorrow (also 5pm, 9:15am, noon)";

/// Text listing the accepted forms of a past date (`clout review --since`).
pub const SINCE_FORMS: &str = "\
Accepted SINCE forms (local dates; the period starts at 00:00 that day):
  2026-11-01             a date
  yesterday              also today
  mon                    the last Monday, maybe today (also monday, fri)
  last mon               the Monday before today: 1 to 7 days back
  last week              the Monday that started last week
  3 days ago             also 2 weeks ago, 1 day ago
  nov 1                  the last November 1st, maybe today (also 1 nov, november 1 2025)";

/// Why a WHEN phrase was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhenError {
    /// Could not read the phrase (the input as given).
    Unreadable(String),
    /// Could not read a past date (`--since`; the input as given).
    UnreadableDate(String),
    /// The phrase names a time that is not strictly after now.
    Past {
        /// The phrase as given.
        input: String,
        /// The instant the phrase was read as.
        understood: DateTime<Utc>,
        /// The zone it is shown in.
        zone: Tz,
    },
    /// A wall-clock time that does not exist in the zone (skipped when the clocks go forward),
    /// e.g. `2027-03-14 02:30` in America/New_York.
    Nonexistent {
        /// The phrase as given.
        input: String,
        /// The IANA name of the zone, e.g. `America/New_York`.
        zone: String,
    },
}

impl fmt::Display for WhenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WhenError::Unreadable(input) => {
                write!(f, "cannot read the time `{}`\n{ACCEPTED_FORMS}", Shown(input))
            }
            WhenError::UnreadableDate(input) => {
                write!(f, "cannot read the date `{}`\n{SINCE_FORMS}", Shown(input))
            }
            WhenError::Past { input, understood, zone } => write!(
                f,
                "the time `{}` is in the past: it was read as {}\n{ACCEPTED_FORMS}",
                Shown(input),
                clout_time::show_time(*understood, *zone, Utc::now())
            ),
            WhenError::Nonexistent { input, zone } => write!(
                f,
                "the time `{}` does not exist in {zone}: the clocks skip over it when daylight \
                 saving time starts; try an hour later",
                Shown(input)
            ),
        }
    }
}

impl std::error::Error for WhenError {}

/// Longest input shown in an error message, in characters; longer ones are cut with `…`.
const SHOWN_CHARS: usize = 80;

/// An input as shown in an error message: trimmed, cut to [`SHOWN_CHARS`], controls escaped.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.trim();
        for (i, c) in text.chars().enumerate() {
            if i == SHOWN_CHARS {
                return f.write_str("…");
            }
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Parses a WHEN phrase relative to `now`, reading wall-clock phrases in `tz`.
/// Returns an instant strictly after `now`, or an error.
///
/// The forms are those of [`ACCEPTED_FORMS`]. The day phrases mean:
///
/// * `today T` / `tomorrow T`: that local date at `T`; without a time, 09:00.
///   `tonight` is today at 20:00. A time that has passed is [`WhenError::Past`].
/// * `X T`, for a weekday `X` (`mon`, `monday`, `tue`, `tues`, ...): the first local date,
///   0 to 7 days from today, that is an `X` and whose `T` is strictly after now. So `fri 17:30`
///   said on a Friday at 10:00 is today at 17:30, and said on a Friday at 18:00 is next
///   week's Friday. Without a time, 09:00.
/// * `next X T`: the same as `X T`, but never today: the `X` 1 to 7 days from today.
///   Said on a Friday, `next fri` is 7 days ahead and `next sat` is tomorrow.
/// * `T` alone: today at `T` if that is still ahead, else tomorrow at `T`. So `midnight` alone
///   is the coming midnight, 00:00 of tomorrow; with a date, `midnight` is 00:00 of that date.
///
/// Times are `HH:MM`, `H:MM`, `HH:MM:SS`, `HH:MM:SS.f`, `9am`, `9 am`, `9 a.m.`, `9:30pm`,
/// `12pm` (noon), `12am` (midnight), `noon` and `midnight` ([`clout_time::clock`]).
///
/// A duration after `in` (or `+`) is read by `humantime::parse_duration`, with a space allowed
/// between a number and its unit, `a`/`an` read as 1 and the word `and` ignored. Because letter
/// case is ignored, `m` is always minutes; months and years must be written out (`in 2 months`),
/// and are humantime's fixed lengths (30.44 and 365.25 days).
pub fn parse_when(input: &str, now: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, WhenError> {
    let reader = Reader { input, now, tz };
    let phrase = normalise(input).as_deref().and_then(parse_phrase).ok_or_else(|| reader.unreadable())?;
    reader.resolve(phrase)
}

/// Reads a past local date (`clout review --since`): `2026-11-01`, `yesterday`, `mon`,
/// `last mon`, `last week`, `3 days ago`, `nov 1` ([`SINCE_FORMS`]), as seen from `now` in
/// `tz`. A weekday or a month day is the last one on or before today.
pub fn parse_since(input: &str, now: DateTime<Utc>, tz: Tz) -> Result<NaiveDate, WhenError> {
    let unreadable = || WhenError::UnreadableDate(input.to_owned());
    let s = normalise(input).ok_or_else(unreadable)?;
    let today = clout_time::wall_time(tz, now.naive_utc()).ok_or_else(unreadable)?.date();
    let back = |days: u64| today.checked_sub_days(Days::new(days));
    let words: Vec<&str> = s.split(' ').collect();
    let last_weekday =
        |day: Weekday, first: u64| (first..=first + 6).filter_map(back).find(|d| d.weekday() == day);
    let date = match words.as_slice() {
        [one] if one.len() > 4 && one.as_bytes().get(4) == Some(&b'-') => parse_date(one),
        ["today"] => Some(today),
        ["yesterday"] => back(1),
        ["last", "week"] => {
            back(7).map(|d| d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday())))
        }
        ["last", day] => last_weekday(parse_weekday(day).ok_or_else(unreadable)?, 1),
        [day] if parse_weekday(day).is_some() => last_weekday(parse_weekday(day).ok_or_else(unreadable)?, 0),
        [n, unit, "ago"] => {
            let n = u64::from(parse_digits(n, 1, 4).ok_or_else(unreadable)?);
            match *unit {
                "day" | "days" => back(n),
                "week" | "weeks" => back(n * 7),
                _ => None,
            }
        }
        [a, b, rest @ ..] => {
            let (month, day) = month_day(a, b).ok_or_else(unreadable)?;
            match rest {
                [] => (0..=4)
                    .filter_map(|y| NaiveDate::from_ymd_opt(today.year() - y, month, day))
                    .find(|d| *d <= today),
                [year] => NaiveDate::from_ymd_opt(
                    parse_digits(year, 4, 4).ok_or_else(unreadable)? as i32,
                    month,
                    day,
                ),
                _ => None,
            }
        }
        _ => None,
    };
    date.ok_or_else(unreadable)
}

/// Longest phrase read, in bytes after normalising; anything longer is unreadable.
const MAX_PHRASE_LEN: usize = 200;

/// The input trimmed, lowercased, with whitespace runs made one space; `None` when it is empty,
/// too long, or holds anything but ASCII (after whitespace).
fn normalise(input: &str) -> Option<String> {
    let mut out = String::new();
    for word in input.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX_PHRASE_LEN {
            return None;
        }
    }
    if out.is_empty() || !out.is_ascii() {
        return None;
    }
    out.make_ascii_lowercase();
    Some(out)
}

/// What a phrase says, before it is placed on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phrase {
    /// An exact instant (a date and time with an offset).
    Instant(DateTime<Utc>),
    /// A duration from now.
    After(Duration),
    /// A local date and time.
    Local(NaiveDateTime),
    /// A time on a day named relative to today.
    Day(DayRef, NaiveTime),
}

/// A day named relative to today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayRef {
    Today,
    Tomorrow,
    /// The first such weekday still ahead (`next`: never today).
    Weekday {
        day: Weekday,
        next: bool,
    },
    /// A day of a month (`dec 24`): of the given year, else the first one still ahead.
    Date {
        month: u32,
        day: u32,
        year: Option<i32>,
    },
    /// No day named: today if still ahead, else tomorrow.
    Bare,
}

/// 09:00, the time of a day named without one.
fn nine() -> NaiveTime {
    NaiveTime::MIN + TimeDelta::hours(9)
}

/// Parses a normalised phrase.
fn parse_phrase(s: &str) -> Option<Phrase> {
    if s == "now" {
        return Some(Phrase::After(Duration::ZERO));
    }
    if let Some(rest) = s.strip_prefix("in ") {
        return parse_duration(rest).map(Phrase::After);
    }
    if let Some(rest) = s.strip_prefix('+') {
        return parse_duration(rest.trim_start()).map(Phrase::After);
    }
    let first = s.split(' ').next().unwrap_or(s);
    if first.len() > 4 && first.as_bytes().get(4) == Some(&b'-') {
        return parse_dated(s);
    }
    let words: Vec<&str> = s.split(' ').collect();
    parse_day_phrase(&words)
}

/// Parses the part after `in ` (or `+`) as a duration.
fn parse_duration(s: &str) -> Option<Duration> {
    let mut tokens: Vec<String> = Vec::new();
    for word in s.split(' ') {
        let word = match word {
            "a" | "an" => "1",
            "and" => continue,
            other => other,
        };
        if word.bytes().all(|b| b.is_ascii_alphabetic()) {
            // A unit written apart from its number: `2 hours`.
            match tokens.last_mut() {
                Some(last) if is_number(last) => last.push_str(word),
                _ => return None,
            }
        } else {
            tokens.push(word.to_owned());
        }
    }
    if tokens.is_empty() || !tokens.iter().all(|t| is_duration_token(t)) {
        return None;
    }
    humantime::parse_duration(&tokens.join(" ")).ok()
}

/// Whether `s` is a number: digits, optionally with a fraction (`1.5`).
fn is_number(s: &str) -> bool {
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

/// Whether `s` is one or more number-and-unit pairs: `90s`, `1h30m`, `1.5hours`.
fn is_duration_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    if bytes.is_empty() {
        return false;
    }
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if !s.get(start..i).is_some_and(is_number) {
            return false;
        }
        let unit = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        if i == unit {
            return false;
        }
    }
    true
}

/// Parses a phrase that starts with a date: `2026-12-01`, `2026-12-01 09:00`,
/// `2026-12-01T09:00:00+01:00`, `2026-12-01 5:30pm`, ...
fn parse_dated(s: &str) -> Option<Phrase> {
    let (first, rest) = s.split_once(' ').unwrap_or((s, ""));
    let (date, time) = match first.split_once('t') {
        Some((_, "")) => return None,
        Some((date, time)) if rest.is_empty() => (date, time.to_owned()),
        Some((date, time)) => (date, format!("{time} {rest}")),
        None => (first, rest.to_owned()),
    };
    let date = parse_date(date)?;
    if time.is_empty() {
        return Some(Phrase::Local(date.and_time(nine())));
    }
    let time = match time.strip_prefix("at ") {
        Some(after_at) => after_at,
        None => &time,
    };
    let (clock, offset) = split_offset(time)?;
    let local = date.and_time(parse_time(clock)?);
    match offset {
        Some(offset) => {
            offset.from_local_datetime(&local).single().map(|t| Phrase::Instant(t.with_timezone(&Utc)))
        }
        None => Some(Phrase::Local(local)),
    }
}

/// Parses `YYYY-MM-DD` (the month and day may have one digit).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('-');
    let year = parse_digits(parts.next()?, 4, 4)?;
    let month = parse_digits(parts.next()?, 1, 2)?;
    let day = parse_digits(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Splits a trailing offset (`z`, `utc`, `gmt`, `+01:00`, `-0500`, `+05`, maybe after a space)
/// from a time.
fn split_offset(s: &str) -> Option<(&str, Option<FixedOffset>)> {
    for zulu in ["z", "utc", "gmt"] {
        if let Some(clock) = s.strip_suffix(zulu) {
            let clock = clock.trim_end();
            return (!clock.is_empty()).then_some((clock, Some(FixedOffset::east_opt(0)?)));
        }
    }
    let Some(sign_at) = s.rfind(['+', '-']) else {
        return Some((s, None));
    };
    let clock = s.get(..sign_at)?.trim_end();
    let sign = if s.as_bytes().get(sign_at) == Some(&b'-') { -1 } else { 1 };
    let offset = s.get(sign_at + 1..)?;
    let (hours, minutes) = match offset.split_once(':') {
        Some((hours, minutes)) => (hours, minutes),
        None if offset.len() == 4 => (offset.get(..2)?, offset.get(2..)?),
        None => (offset, "00"),
    };
    let hours = parse_digits(hours, 2, 2)?;
    let minutes = parse_digits(minutes, 2, 2)?;
    if clock.is_empty() || hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some((clock, Some(FixedOffset::east_opt(sign * seconds)?)))
}

/// Parses a time of day in the shared grammar of [`clout_time::clock`].
fn parse_time(s: &str) -> Option<NaiveTime> {
    clout_time::parse_time_of_day(s).ok()
}

/// Parses `min..=max` ASCII digits.
fn parse_digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `[today|tomorrow|[next] WEEKDAY|MONTH DAY [YEAR]] [at] [TIME]`, `tonight`, `eod`,
/// `next week` and `this morning`/`afternoon`/`evening`.
fn parse_day_phrase(words: &[&str]) -> Option<Phrase> {
    let (day, rest) = match words {
        ["tonight"] => {
            return Some(Phrase::Day(DayRef::Today, NaiveTime::MIN + TimeDelta::hours(20)));
        }
        ["eod"] | ["end", "of", "day"] => return Some(Phrase::Day(DayRef::Today, part_of_day("eod")?)),
        ["next", "week"] => {
            return Some(Phrase::Day(DayRef::Weekday { day: Weekday::Mon, next: true }, nine()));
        }
        ["this", part] => return Some(Phrase::Day(DayRef::Today, part_of_day(part)?)),
        ["today", rest @ ..] => (DayRef::Today, rest),
        ["tomorrow", rest @ ..] => (DayRef::Tomorrow, rest),
        ["next", day, rest @ ..] => {
            let day = parse_weekday(day)?;
            (DayRef::Weekday { day, next: true }, rest)
        }
        [day, rest @ ..] if parse_weekday(day).is_some() => {
            let day = parse_weekday(day)?;
            (DayRef::Weekday { day, next: false }, rest)
        }
        [a, b, rest @ ..] if month_day(a, b).is_some() => {
            let (month, day) = month_day(a, b)?;
            match rest {
                [year, rest @ ..] if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => {
                    (DayRef::Date { month, day, year: Some(year.parse().ok()?) }, rest)
                }
                rest => (DayRef::Date { month, day, year: None }, rest),
            }
        }
        rest => (DayRef::Bare, rest),
    };
    let rest = match rest {
        ["at", time @ ..] if !time.is_empty() => time,
        rest => rest,
    };
    let time = match (day, rest) {
        (DayRef::Bare, []) => return None,
        (_, []) => nine(),
        (_, [part]) if part_of_day(part).is_some() => part_of_day(part)?,
        // With a day named, a bare hour is one: `tomorrow 9`, `fri at 17`.
        (day, [hour]) if day != DayRef::Bare && parse_digits(hour, 1, 2).is_some_and(|h| h < 24) => {
            NaiveTime::MIN + TimeDelta::hours(i64::from(parse_digits(hour, 1, 2)?))
        }
        (_, rest) => parse_time(&rest.join(" "))?,
    };
    Some(Phrase::Day(day, time))
}

/// `morning` (09:00), `afternoon` (14:00), `evening` (18:00), `night` (20:00), `eod` (17:00).
fn part_of_day(word: &str) -> Option<NaiveTime> {
    let hour = match word {
        "morning" => 9,
        "afternoon" => 14,
        "eod" => 17,
        "evening" => 18,
        "night" => 20,
        _ => return None,
    };
    Some(NaiveTime::MIN + TimeDelta::hours(hour))
}

/// `jan` … `dec`, `january` … `december`, `sept`: the month's number.
fn parse_month(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if word == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| word == *m || (word.len() == 3 && m.starts_with(word)))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// `dec 24` or `24 dec` (also `24th`, `december 24`): the month and the day.
fn month_day(a: &str, b: &str) -> Option<(u32, u32)> {
    let day = |w: &str| {
        let w = ["st", "nd", "rd", "th"].iter().find_map(|s| w.strip_suffix(s)).unwrap_or(w);
        parse_digits(w, 1, 2).filter(|d| (1..=31).contains(d))
    };
    match (parse_month(a), parse_month(b)) {
        (Some(m), None) => Some((m, day(b)?)),
        (None, Some(m)) => Some((m, day(a)?)),
        _ => None,
    }
}

/// Places phrases on the calendar of one zone, relative to one `now`.
struct Reader<'a> {
    input: &'a str,
    now: DateTime<Utc>,
    tz: Tz,
}

impl Reader<'_> {
    fn unreadable(&self) -> WhenError {
        WhenError::Unreadable(self.input.to_owned())
    }

    fn nonexistent(&self) -> WhenError {
        WhenError::Nonexistent { input: self.input.to_owned(), zone: self.tz.name().to_owned() }
    }

    fn resolve(&self, phrase: Phrase) -> Result<DateTime<Utc>, WhenError> {
        match phrase {
            Phrase::Instant(instant) => self.ahead(instant),
            Phrase::After(duration) => {
                let instant = TimeDelta::from_std(duration)
                    .ok()
                    .and_then(|delta| self.now.checked_add_signed(delta))
                    .ok_or_else(|| self.unreadable())?;
                self.ahead(instant)
            }
            Phrase::Local(local) => self.at_local(local),
            Phrase::Day(day, time) => {
                let today = self.wall_now().ok_or_else(|| self.unreadable())?.date();
                let in_days = |days: u64| today.checked_add_days(Days::new(days));
                match day {
                    DayRef::Today => self.at_local(today.and_time(time)),
                    DayRef::Tomorrow => {
                        let tomorrow = in_days(1).ok_or_else(|| self.unreadable())?;
                        self.at_local(tomorrow.and_time(time))
                    }
                    DayRef::Weekday { day, next } => {
                        let first = u64::from(next);
                        let dates = (first..=7).filter_map(in_days).filter(|date| date.weekday() == day);
                        self.first_ahead(dates, time)
                    }
                    DayRef::Bare => self.first_ahead((0..=1).filter_map(in_days), time),
                    DayRef::Date { month, day, year: Some(year) } => {
                        let date =
                            NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| self.unreadable())?;
                        self.at_local(date.and_time(time))
                    }
                    DayRef::Date { month, day, year: None } => {
                        // Up to 4 years on, so that `feb 29` finds the next leap year.
                        let dates =
                            (0..=4).filter_map(|y| NaiveDate::from_ymd_opt(today.year() + y, month, day));
                        let mut dates = dates.peekable();
                        if dates.peek().is_none() {
                            return Err(self.unreadable());
                        }
                        self.first_ahead(dates, time)
                    }
                }
            }
        }
    }

    /// Now on the wall clock of the zone (`None` only at the very ends of chrono's range, where
    /// `DateTime::naive_local` would panic).
    fn wall_now(&self) -> Option<NaiveDateTime> {
        clout_time::wall_time(self.tz, self.now.naive_utc())
    }

    /// `instant` if it is strictly after now, else `Past`.
    fn ahead(&self, instant: DateTime<Utc>) -> Result<DateTime<Utc>, WhenError> {
        if instant > self.now {
            Ok(instant)
        } else {
            Err(WhenError::Past { input: self.input.to_owned(), understood: instant, zone: self.tz })
        }
    }

    /// The instant of a local date and time in the zone: the earlier one when it occurs twice,
    /// `None` when it does not occur.
    fn instant(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        clout_time::resolve_once(self.tz, local)
    }

    /// A named local date and time, which must exist and be ahead.
    fn at_local(&self, local: NaiveDateTime) -> Result<DateTime<Utc>, WhenError> {
        let instant = self.instant(local).ok_or_else(|| self.nonexistent())?;
        self.ahead(instant)
    }

    /// `time` on the first of `dates` on which it is strictly after now. A time that does not
    /// exist on a date is skipped when it would have been in the past (the wall clock has gone
    /// beyond it), and is `Nonexistent` when it would have been ahead.
    fn first_ahead(
        &self,
        dates: impl Iterator<Item = NaiveDate>,
        time: NaiveTime,
    ) -> Result<DateTime<Utc>, WhenError> {
        let wall_now = self.wall_now().ok_or_else(|| self.unreadable())?;
        let mut understood = self.now;
        for date in dates {
            let local = date.and_time(time);
            match self.instant(local) {
                Some(instant) if instant > self.now => return Ok(instant),
                Some(instant) => understood = instant,
                None if local > wall_now => return Err(self.nonexistent()),
                None => {}
            }
        }
        Err(WhenError::Past { input: self.input.to_owned(), understood, zone: self.tz })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::UTC;

    /// Friday 2026-11-27 10:00 UTC: 11:00 in Berlin, 05:00 in New York, 15:30 in Kolkata.
    const NOW: &str = "2026-11-27T10:00:00Z";
    const ZONES: [Tz; 4] = [UTC, Berlin, New_York, Kolkata];

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("bad test instant {s}: {e}"))
            .with_timezone(&Utc)
    }

    /// Parses `input` at `now` in `tz`, expecting success.
    fn at(input: &str, now: &str, tz: Tz) -> DateTime<Utc> {
        match parse_when(input, utc(now), tz) {
            Ok(t) => t,
            Err(e) => panic!("`{input}` at {now} in {tz}: {e:?}"),
        }
    }

    /// Asserts that each `(input, expected)` parses at `now` in `tz` to `expected`.
    fn check(now: &str, tz: Tz, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            assert_eq!(at(input, now, tz), utc(expected), "`{input}` at {now} in {tz}");
        }
    }

    fn past(input: &str, now: &str, tz: Tz) -> DateTime<Utc> {
        match parse_when(input, utc(now), tz) {
            Err(WhenError::Past { input: i, understood, .. }) => {
                assert_eq!(i, input);
                understood
            }
            other => panic!("`{input}` at {now} in {tz}: expected Past, got {other:?}"),
        }
    }

    fn nonexistent(input: &str, now: &str, tz: Tz) {
        assert_eq!(
            parse_when(input, utc(now), tz),
            Err(WhenError::Nonexistent { input: input.to_owned(), zone: tz.name().to_owned() }),
            "`{input}` at {now} in {tz}"
        );
    }

    #[test]
    fn now_is_a_friday() {
        assert_eq!(utc(NOW).weekday(), Weekday::Fri);
    }

    #[test]
    fn rfc3339_instants_ignore_the_zone() {
        for tz in ZONES {
            check(
                NOW,
                tz,
                &[
                    ("2026-12-01T09:00:00Z", "2026-12-01T09:00:00Z"),
                    ("2026-12-01T09:00:00+01:00", "2026-12-01T08:00:00Z"),
                    ("2026-12-01T09:00:00-05:00", "2026-12-01T14:00:00Z"),
                    ("2026-12-01 09:00:00+01:00", "2026-12-01T08:00:00Z"),
                    ("2026-12-01 09:00:00 +01:00", "2026-12-01T08:00:00Z"),
                    ("2026-12-01t09:00:00z", "2026-12-01T09:00:00Z"),
                    ("2026-12-01T09:00:00.250Z", "2026-12-01T09:00:00.250Z"),
                    ("2026-12-01T09:00:00.123456789-05:00", "2026-12-01T14:00:00.123456789Z"),
                    ("2026-12-01T09:00:00.1234567891Z", "2026-12-01T09:00:00.123456789Z"),
                    ("2026-12-01T09:00Z", "2026-12-01T09:00:00Z"),
                    ("2026-12-01T09:00:00+0530", "2026-12-01T03:30:00Z"),
                    ("2026-12-01T09:00:00+05", "2026-12-01T04:00:00Z"),
                    ("2026-12-01T09:00:00-00:00", "2026-12-01T09:00:00Z"),
                    ("2026-12-01 09:00 UTC", "2026-12-01T09:00:00Z"),
                    ("2026-12-01 09:00 gmt", "2026-12-01T09:00:00Z"),
                    ("  2026-12-01T09:00:00Z\n", "2026-12-01T09:00:00Z"),
                    ("2026-11-27T10:00:00.000000001Z", "2026-11-27T10:00:00.000000001Z"),
                ],
            );
        }
    }

    #[test]
    fn rfc3339_instants_not_after_now_are_past() {
        for tz in ZONES {
            assert_eq!(past("2026-11-27T09:59:59Z", NOW, tz), utc("2026-11-27T09:59:59Z"));
            assert_eq!(past("2026-11-27T10:00:00Z", NOW, tz), utc(NOW));
            assert_eq!(past("2026-11-27T11:00:00+01:00", NOW, tz), utc(NOW), "equal to now with an offset");
            assert_eq!(past("2020-01-01T00:00:00Z", NOW, tz), utc("2020-01-01T00:00:00Z"));
        }
    }

    #[test]
    fn local_date_times() {
        // Input, then the UTC instants (year as in the input, seconds :00 unless given) when read
        // in UTC, Berlin, New York and Kolkata. In July Berlin is +02:00 and New York -04:00.
        let cases = [
            ("2026-12-01 09:00", "12-01T09:00 12-01T08:00 12-01T14:00 12-01T03:30"),
            ("2026-12-01 09:00:30", "12-01T09:00:30 12-01T08:00:30 12-01T14:00:30 12-01T03:30:30"),
            ("2026-12-01T09:00", "12-01T09:00 12-01T08:00 12-01T14:00 12-01T03:30"),
            ("2026-12-01t09:00:00", "12-01T09:00 12-01T08:00 12-01T14:00 12-01T03:30"),
            ("2026-12-01", "12-01T09:00 12-01T08:00 12-01T14:00 12-01T03:30"),
            ("2026-12-01 9am", "12-01T09:00 12-01T08:00 12-01T14:00 12-01T03:30"),
            ("2026-12-01 5:30pm", "12-01T17:30 12-01T16:30 12-01T22:30 12-01T12:00"),
            ("2026-12-01 5:30 PM", "12-01T17:30 12-01T16:30 12-01T22:30 12-01T12:00"),
            ("2026-12-01 12am", "12-01T00:00 11-30T23:00 12-01T05:00 11-30T18:30"),
            ("2026-12-01 12pm", "12-01T12:00 12-01T11:00 12-01T17:00 12-01T06:30"),
            ("2026-12-01 noon", "12-01T12:00 12-01T11:00 12-01T17:00 12-01T06:30"),
            ("2026-12-01 midnight", "12-01T00:00 11-30T23:00 12-01T05:00 11-30T18:30"),
            ("2027-07-01 at 09:00", "07-01T09:00 07-01T07:00 07-01T13:00 07-01T03:30"),
        ];
        for (input, expected) in cases {
            let year = &input[..4];
            for (tz, expected) in ZONES.into_iter().zip(expected.split(' ')) {
                let seconds = if expected.len() == 11 { ":00" } else { "" };
                check(NOW, tz, &[(input, &format!("{year}-{expected}{seconds}Z"))]);
            }
        }
        check(NOW, UTC, &[("2027-7-4 10:00", "2027-07-04T10:00:00Z")]);
    }

    #[test]
    fn local_date_times_not_after_now_are_past() {
        assert_eq!(past("2026-11-27 09:00", NOW, UTC), utc("2026-11-27T09:00:00Z"));
        assert_eq!(past("2026-11-27 11:00", NOW, Berlin), utc(NOW));
        // 09:00 in Kolkata is 03:30 UTC, before now.
        assert_eq!(past("2026-11-27", NOW, Kolkata), utc("2026-11-27T03:30:00Z"));
        // but 09:00 in New York is 14:00 UTC, still ahead.
        check(NOW, New_York, &[("2026-11-27", "2026-11-27T14:00:00Z")]);
    }

    #[test]
    fn durations() {
        for tz in ZONES {
            check(
                NOW,
                tz,
                &[
                    ("in 90s", "2026-11-27T10:01:30Z"),
                    ("in 2h", "2026-11-27T12:00:00Z"),
                    ("in 1h30m", "2026-11-27T11:30:00Z"),
                    ("in 1h 30m", "2026-11-27T11:30:00Z"),
                    ("in 2 hours", "2026-11-27T12:00:00Z"),
                    ("in 1 hour", "2026-11-27T11:00:00Z"),
                    ("in 10 minutes", "2026-11-27T10:10:00Z"),
                    ("in 10 min", "2026-11-27T10:10:00Z"),
                    ("in 3 days", "2026-11-30T10:00:00Z"),
                    ("in 1 week", "2026-12-04T10:00:00Z"),
                    ("in 2 weeks", "2026-12-11T10:00:00Z"),
                    ("in an hour", "2026-11-27T11:00:00Z"),
                    ("in a week", "2026-12-04T10:00:00Z"),
                    ("in 1 hour and 30 minutes", "2026-11-27T11:30:00Z"),
                    ("in 1.5h", "2026-11-27T11:30:00Z"),
                    ("in 500ms", "2026-11-27T10:00:00.5Z"),
                    ("IN   2H", "2026-11-27T12:00:00Z"),
                    ("+2h", "2026-11-27T12:00:00Z"),
                    ("+ 2h", "2026-11-27T12:00:00Z"),
                    ("+1d 2h", "2026-11-28T12:00:00Z"),
                ],
            );
        }
    }

    #[test]
    fn whitespace_runs_count_as_one_space() {
        let long_spaces = format!("tomorrow{}9am", " ".repeat(100_000));
        for input in [long_spaces.as_str(), "\ttomorrow \u{a0}\n 9\tam  "] {
            assert_eq!(at(input, NOW, UTC), utc("2026-11-28T09:00:00Z"));
        }
    }

    #[test]
    fn a_day_of_duration_is_24_hours_even_across_dst() {
        // Berlin leaves summer time on 2026-10-25: that local day has 25 hours.
        check("2026-10-24T12:00:00Z", Berlin, &[("in 1 day", "2026-10-25T12:00:00Z")]);
    }

    #[test]
    fn now_and_zero_durations_are_past() {
        for tz in ZONES {
            for input in ["now", "NOW", "in 0s", "+0m", "in 0 minutes"] {
                assert_eq!(past(input, NOW, tz), utc(NOW), "{input}");
            }
        }
    }

    #[test]
    fn today_tomorrow_tonight() {
        check(
            NOW,
            UTC,
            &[
                ("today 17:30", "2026-11-27T17:30:00Z"),
                ("today 5pm", "2026-11-27T17:00:00Z"),
                ("today at 5pm", "2026-11-27T17:00:00Z"),
                ("Today 10:00:01", "2026-11-27T10:00:01Z"),
                ("tomorrow 9am", "2026-11-28T09:00:00Z"),
                ("tomorrow 09:00", "2026-11-28T09:00:00Z"),
                ("tomorrow at 9:30", "2026-11-28T09:30:00Z"),
                ("tomorrow 9 am", "2026-11-28T09:00:00Z"),
                ("tomorrow", "2026-11-28T09:00:00Z"),
                ("TOMORROW", "2026-11-28T09:00:00Z"),
                ("tomorrow midnight", "2026-11-28T00:00:00Z"),
                ("tomorrow noon", "2026-11-28T12:00:00Z"),
                ("tonight", "2026-11-27T20:00:00Z"),
            ],
        );
        check(
            NOW,
            Berlin,
            &[
                ("today 5pm", "2026-11-27T16:00:00Z"),
                ("tomorrow 9am", "2026-11-28T08:00:00Z"),
                ("tomorrow", "2026-11-28T08:00:00Z"),
                ("tonight", "2026-11-27T19:00:00Z"),
            ],
        );
        // 05:00 in New York: 09:00 today is still ahead.
        check(
            NOW,
            New_York,
            &[
                ("today 9am", "2026-11-27T14:00:00Z"),
                ("today", "2026-11-27T14:00:00Z"),
                ("tomorrow", "2026-11-28T14:00:00Z"),
                ("tonight", "2026-11-28T01:00:00Z"),
            ],
        );
        // 15:30 in Kolkata.
        check(
            NOW,
            Kolkata,
            &[
                ("today 5pm", "2026-11-27T11:30:00Z"),
                ("tomorrow 9am", "2026-11-28T03:30:00Z"),
                ("tonight", "2026-11-27T14:30:00Z"),
            ],
        );
    }

    #[test]
    fn today_at_a_passed_time_is_past() {
        assert_eq!(past("today 9am", NOW, UTC), utc("2026-11-27T09:00:00Z"));
        assert_eq!(past("today", NOW, UTC), utc("2026-11-27T09:00:00Z"));
        assert_eq!(past("today 10:00", NOW, UTC), utc(NOW));
        assert_eq!(past("today 3pm", NOW, Kolkata), utc("2026-11-27T09:30:00Z"));
        assert_eq!(past("today 11:00", NOW, Berlin), utc(NOW));
        assert_eq!(past("tonight", "2026-11-27T21:00:00Z", UTC), utc("2026-11-27T20:00:00Z"));
    }

    #[test]
    fn tomorrow_counts_local_dates_not_24_hours() {
        // Berlin leaves summer time (+02:00) for +01:00 on Sunday 2026-10-25.
        let now = "2026-10-24T12:00:00Z";
        check(
            now,
            Berlin,
            &[
                ("tomorrow 9am", "2026-10-25T08:00:00Z"),
                ("tomorrow", "2026-10-25T08:00:00Z"),
                ("today 9pm", "2026-10-24T19:00:00Z"),
            ],
        );
        // and enters it on Sunday 2027-03-28.
        check("2027-03-27T12:00:00Z", Berlin, &[("tomorrow 9am", "2027-03-28T07:00:00Z")]);
        nonexistent("tomorrow 2:30", "2027-03-27T12:00:00Z", Berlin);
        // In Kolkata at 23:00 UTC it is already Saturday 04:30: tomorrow is Sunday.
        check("2026-11-27T23:00:00Z", Kolkata, &[("tomorrow 9am", "2026-11-29T03:30:00Z")]);
    }

    #[test]
    fn weekdays() {
        check(
            NOW,
            UTC,
            &[
                // Friday 10:00: later today is today, earlier today is next week.
                ("fri 17:30", "2026-11-27T17:30:00Z"),
                ("friday 5:30pm", "2026-11-27T17:30:00Z"),
                ("Fri 17:30", "2026-11-27T17:30:00Z"),
                ("fri at 5pm", "2026-11-27T17:00:00Z"),
                ("fri 10:00:01", "2026-11-27T10:00:01Z"),
                ("fri 10:00", "2026-12-04T10:00:00Z"),
                ("fri 9:59", "2026-12-04T09:59:00Z"),
                ("fri", "2026-12-04T09:00:00Z"),
                ("next fri 9am", "2026-12-04T09:00:00Z"),
                ("next fri 17:30", "2026-12-04T17:30:00Z"),
                ("next friday", "2026-12-04T09:00:00Z"),
                ("sat", "2026-11-28T09:00:00Z"),
                ("next sat", "2026-11-28T09:00:00Z"),
                ("sun 8pm", "2026-11-29T20:00:00Z"),
                ("mon", "2026-11-30T09:00:00Z"),
                ("monday 00:00", "2026-11-30T00:00:00Z"),
                ("next mon", "2026-11-30T09:00:00Z"),
                ("tue 1pm", "2026-12-01T13:00:00Z"),
                ("tues 1pm", "2026-12-01T13:00:00Z"),
                ("wednesday 9:15", "2026-12-02T09:15:00Z"),
                ("thu 12:00", "2026-12-03T12:00:00Z"),
                ("THURSDAY 8AM", "2026-12-03T08:00:00Z"),
                ("thurs noon", "2026-12-03T12:00:00Z"),
                ("next thu midnight", "2026-12-03T00:00:00Z"),
            ],
        );
        check(
            NOW,
            Berlin,
            &[
                ("mon 9am", "2026-11-30T08:00:00Z"),
                ("fri 11:30", "2026-11-27T10:30:00Z"),
                ("fri 10:30", "2026-12-04T09:30:00Z"),
            ],
        );
        // Friday 05:00 in New York: Friday 09:00 is still ahead.
        check(
            NOW,
            New_York,
            &[
                ("fri 9am", "2026-11-27T14:00:00Z"),
                ("fri", "2026-11-27T14:00:00Z"),
                ("next fri", "2026-12-04T14:00:00Z"),
                ("thu 23:00", "2026-12-04T04:00:00Z"),
            ],
        );
        // At 20:00 UTC it is already Saturday 01:30 in Kolkata.
        check(
            "2026-11-27T20:00:00Z",
            Kolkata,
            &[
                ("fri 17:30", "2026-12-04T12:00:00Z"),
                ("sat", "2026-11-28T03:30:00Z"),
                ("next sat", "2026-12-05T03:30:00Z"),
                ("sat 1am", "2026-12-04T19:30:00Z"),
                ("sat 2am", "2026-11-27T20:30:00Z"),
                ("sun", "2026-11-29T03:30:00Z"),
            ],
        );
    }

    #[test]
    fn weekday_boundary_on_the_day_itself() {
        // Friday 18:00: `fri 17:30` is next week's Friday, `fri 18:30` is today.
        let evening = "2026-11-27T18:00:00Z";
        check(
            evening,
            UTC,
            &[
                ("fri 17:30", "2026-12-04T17:30:00Z"),
                ("fri 18:00", "2026-12-04T18:00:00Z"),
                ("fri 18:30", "2026-11-27T18:30:00Z"),
                ("next fri 18:30", "2026-12-04T18:30:00Z"),
                ("sat 17:30", "2026-11-28T17:30:00Z"),
                ("thu 17:30", "2026-12-03T17:30:00Z"),
            ],
        );
    }

    #[test]
    fn bare_times() {
        check(
            NOW,
            UTC,
            &[
                ("17:30", "2026-11-27T17:30:00Z"),
                ("5pm", "2026-11-27T17:00:00Z"),
                ("5 PM", "2026-11-27T17:00:00Z"),
                ("5p.m.", "2026-11-27T17:00:00Z"),
                ("at 5pm", "2026-11-27T17:00:00Z"),
                ("9:15am", "2026-11-28T09:15:00Z"),
                ("9 am", "2026-11-28T09:00:00Z"),
                ("10:00", "2026-11-28T10:00:00Z"),
                ("10:00:01", "2026-11-27T10:00:01Z"),
                ("17:30:15", "2026-11-27T17:30:15Z"),
                ("7:05", "2026-11-28T07:05:00Z"),
                ("07:05", "2026-11-28T07:05:00Z"),
                ("noon", "2026-11-27T12:00:00Z"),
                ("12pm", "2026-11-27T12:00:00Z"),
                ("midnight", "2026-11-28T00:00:00Z"),
                ("12am", "2026-11-28T00:00:00Z"),
                ("12:30am", "2026-11-28T00:30:00Z"),
                ("00:00", "2026-11-28T00:00:00Z"),
                ("23:59:59", "2026-11-27T23:59:59Z"),
                ("11:59pm", "2026-11-27T23:59:00Z"),
                ("1pm", "2026-11-27T13:00:00Z"),
            ],
        );
        check(
            NOW,
            New_York,
            &[
                ("9am", "2026-11-27T14:00:00Z"),
                ("4am", "2026-11-28T09:00:00Z"),
                ("midnight", "2026-11-28T05:00:00Z"),
            ],
        );
        check(
            NOW,
            Kolkata,
            &[
                ("17:30", "2026-11-27T12:00:00Z"),
                ("15:00", "2026-11-28T09:30:00Z"),
                ("midnight", "2026-11-27T18:30:00Z"),
            ],
        );
        check(NOW, Berlin, &[("11:00", "2026-11-28T10:00:00Z"), ("11:01", "2026-11-27T10:01:00Z")]);
    }

    #[test]
    fn ambiguous_times_take_the_earlier_instant() {
        // New York leaves summer time on 2026-11-01: 01:30 happens at 05:30Z and at 06:30Z.
        let before = "2026-10-30T12:00:00Z";
        check(
            before,
            New_York,
            &[
                ("2026-11-01 01:30", "2026-11-01T05:30:00Z"),
                ("2026-11-01 1:30am", "2026-11-01T05:30:00Z"),
                ("2026-11-01T01:30:00", "2026-11-01T05:30:00Z"),
                ("sun 1:30", "2026-11-01T05:30:00Z"),
                // Just outside the overlap, both sides.
                ("2026-11-01 00:59", "2026-11-01T04:59:00Z"),
                ("2026-11-01 02:00", "2026-11-01T07:00:00Z"),
            ],
        );
        check("2026-11-01T05:00:00Z", New_York, &[("1:30", "2026-11-01T05:30:00Z")]);
        // Once the earlier 01:30 has passed, 01:30 today is the earlier instant and in the past,
        // so a bare time moves to tomorrow and an explicit one is Past.
        let between = "2026-11-01T05:45:00Z";
        check(between, New_York, &[("1:30", "2026-11-02T06:30:00Z")]);
        assert_eq!(past("2026-11-01 01:30", between, New_York), utc("2026-11-01T05:30:00Z"));
        // Berlin: 02:30 on 2026-10-25 is 00:30Z (CEST) and 01:30Z (CET).
        check("2026-10-24T12:00:00Z", Berlin, &[("tomorrow 2:30", "2026-10-25T00:30:00Z")]);
    }

    #[test]
    fn nonexistent_times() {
        // New York enters summer time on 2027-03-14: 02:00 to 03:00 is skipped.
        for input in ["2027-03-14 02:30", "2027-03-14T02:30", "2027-03-14 2:30am"] {
            nonexistent(input, NOW, New_York);
        }
        check(
            NOW,
            New_York,
            &[("2027-03-14 01:59", "2027-03-14T06:59:00Z"), ("2027-03-14 03:30", "2027-03-14T07:30:00Z")],
        );
        // The same wall time exists in other zones.
        check(NOW, UTC, &[("2027-03-14 02:30", "2027-03-14T02:30:00Z")]);
        // An offset makes it an exact instant, never nonexistent.
        check(NOW, New_York, &[("2027-03-14T02:30:00-05:00", "2027-03-14T07:30:00Z")]);
        // Friday before: Sunday 02:30 is ahead and does not exist.
        nonexistent("sun 2:30", "2027-03-12T15:00:00Z", New_York);
        nonexistent("tomorrow 2:30", "2027-03-13T15:00:00Z", New_York);
        // Sunday 00:00 EST: today's 02:30 is ahead and does not exist.
        nonexistent("2:30", "2027-03-14T05:00:00Z", New_York);
        // Sunday 08:00 EDT: the gap has passed, so the next 02:30 is used.
        check(
            "2027-03-14T12:00:00Z",
            New_York,
            &[("2:30", "2027-03-15T06:30:00Z"), ("sun 2:30", "2027-03-21T06:30:00Z")],
        );
        // `today` names the day, so its gap is reported even once passed.
        nonexistent("today 2:30", "2027-03-14T12:00:00Z", New_York);
    }

    #[test]
    fn nonexistent_display_names_the_zone_and_suggests_an_hour_later() {
        let e = parse_when("2027-03-14 02:30", utc(NOW), New_York)
            .expect_err("02:30 does not exist in New York that day");
        let text = e.to_string();
        assert!(text.contains("`2027-03-14 02:30`"), "{text}");
        assert!(text.contains("America/New_York"), "{text}");
        assert!(text.contains("an hour later"), "{text}");
    }

    #[test]
    fn nonsense_is_unreadable() {
        let long_letters = "a".repeat(100_000);
        let long_digits = "9".repeat(100_000);
        let long_duration = format!("in {}h", "9".repeat(100_000));
        let many_words = "fri ".repeat(25_000);
        let inputs = [
            "",
            "   ",
            "\n\t",
            "blah",
            "25:00",
            "24:00",
            "12:60",
            "12:5",
            "1:050",
            "12:00:60",
            "12:00:5",
            "12:00:00.",
            "12:00:00.x",
            "17",
            "9",
            "am",
            "pm",
            ":30",
            "13pm",
            "0am",
            "00am",
            "0:30am",
            "12:60pm",
            "9amm",
            "in banana",
            "in",
            "in 2",
            "in 2 3h",
            "in -2h",
            "in 2h banana",
            "in h",
            "in a",
            "in 1h 🙂",
            "in 2 bananas",
            "in 99999999999999999999999h",
            "in 300000 years",
            "+",
            "+2",
            "-2h",
            "2h",
            "2026-13-01 10:00",
            "2026-02-30",
            "2026-02-29 10:00",
            "2026-00-10",
            "2026-12-01 25:00",
            "2026-12-01 10",
            "2026-12-01T",
            "2026-12-01T09:00:00+25:00",
            "2026-12-01T09:00:00+01:60",
            "2026-12-01T09:00:00+1",
            "2026-12-01T09:00:00+",
            "2026-12-01T9",
            "2026-12-01 9am 10am",
            "2026-12-01 blah",
            "2026-12-01-05",
            "2026-1201",
            "26-12-01",
            "20261-12-01",
            "fri 25:00",
            "fri 13pm",
            "fri blah",
            "friday friday",
            "next",
            "next 9am",
            "next tomorrow",
            "next fri fri",
            "tomorrow at",
            "tomorrow blah",
            "tomorrow 24",
            "tomorrow 9 9",
            "dec 32",
            "dec dec",
            "feb 30",
            "this blah",
            "today tomorrow",
            "tonight 9pm",
            "at",
            "at at 5pm",
            "ｆｒｉ",
            "１７:３０",
            "fri 9am ｆ",
            "🙂",
            "\u{0}",
            "9am\u{0}",
            "day after tomorrow",
            &long_letters,
            &long_digits,
            &long_duration,
            &many_words,
        ];
        for tz in ZONES {
            for input in inputs {
                let result = parse_when(input, utc(NOW), tz);
                let short: String = input.chars().take(40).collect();
                assert!(
                    matches!(&result, Err(WhenError::Unreadable(i)) if i == input),
                    "`{short}` in {tz}: {:?}",
                    result.map_err(|e| e.to_string().chars().take(80).collect::<String>())
                );
            }
        }
    }

    #[test]
    fn unreadable_display_lists_the_accepted_forms() {
        let e = parse_when("blah", utc(NOW), UTC).expect_err("blah is unreadable");
        assert_eq!(e.to_string(), format!("cannot read the time `blah`\n{ACCEPTED_FORMS}"));
        let e = parse_when("ｆｒｉ", utc(NOW), UTC).expect_err("fullwidth is unreadable");
        assert_eq!(e.to_string(), format!("cannot read the time `ｆｒｉ`\n{ACCEPTED_FORMS}"));
    }

    #[test]
    fn unreadable_display_cuts_long_input_and_escapes_controls() {
        let long = "é".repeat(100_000);
        let e = parse_when(&long, utc(NOW), UTC).expect_err("long input is unreadable");
        let text = e.to_string();
        assert!(text.contains(ACCEPTED_FORMS));
        let shown = format!("`{}…`", "é".repeat(SHOWN_CHARS));
        assert!(text.starts_with(&format!("cannot read the time {shown}\n")), "{text}");
        assert!(text.len() < ACCEPTED_FORMS.len() + 300);

        let e = WhenError::Unreadable("a\u{1b}[2Jb".to_owned());
        assert!(e.to_string().starts_with("cannot read the time `a\\u{1b}[2Jb`\n"));
    }

    #[test]
    fn past_display_shows_the_time_understood() {
        let e = parse_when("today 9am", utc(NOW), UTC).expect_err("09:00 has passed");
        assert_eq!(
            e,
            WhenError::Past {
                input: "today 9am".to_owned(),
                understood: utc("2026-11-27T09:00:00Z"),
                zone: UTC
            }
        );
        let text = e.to_string();
        assert!(text.contains("`today 9am`"), "{text}");
        assert!(text.contains("in the past"), "{text}");
        assert!(text.contains("read as Fri 27 Nov ") && text.contains(" 09:00 UTC"), "{text}");
        assert!(text.ends_with(ACCEPTED_FORMS), "{text}");
    }

    #[test]
    fn errors_keep_the_input_as_given() {
        assert_eq!(parse_when("  Blah  ", utc(NOW), UTC), Err(WhenError::Unreadable("  Blah  ".to_owned())));
        assert_eq!(
            parse_when(" Today  9AM ", utc(NOW), UTC),
            Err(WhenError::Past {
                input: " Today  9AM ".to_owned(),
                understood: utc("2026-11-27T09:00:00Z"),
                zone: UTC
            })
        );
    }

    #[test]
    fn the_examples_in_accepted_forms_work() {
        let examples = [
            "2026-12-01T09:00:00Z",
            "2026-12-01 09:00",
            "2026-12-01 5:30pm",
            "2026-12-01",
            "in 1h30m",
            "in 90s",
            "in 2 hours",
            "in 3 days",
            "in 1 week",
            "+2h",
            "today 17:30",
            "today 5pm",
            "tomorrow 9am",
            "tomorrow 09:00",
            "tonight",
            "tomorrow at 9",
            "monday morning",
            "dec 24",
            "next week",
            "fri 17:30",
            "friday 5:30pm",
            "mon",
            "next fri 9am",
            "next mon",
            "17:30",
            "5pm",
            "9:15am",
            "noon",
        ];
        for example in examples {
            assert!(ACCEPTED_FORMS.contains(example), "{example} not listed");
            for tz in ZONES {
                at(example, NOW, tz);
            }
        }
        for line in ACCEPTED_FORMS.lines() {
            assert!(line.chars().count() <= 100, "line too long: {line}");
        }
    }

    #[test]
    fn combinations_never_panic_and_ok_is_always_ahead() {
        let listed = "in next fri tomorrow today tonight now 9 9am am 12pm 17:30 25:61 2026-12-01 \
                      2026-12-01t09:00 2027-03-14 02:30 + +01:00 -05 z 2h 2 h at noon midnight a \
                      and ｆ : - . 0.5 t";
        let words: Vec<&str> = std::iter::once("").chain(listed.split_whitespace()).collect();
        let nows = [NOW, "2026-11-01T05:45:00Z", "2027-03-14T05:00:00Z", "2026-12-31T23:59:59.999999999Z"];
        for now in nows {
            let now = utc(now);
            for &a in &words {
                for &b in &words {
                    for &c in &words {
                        for sep in [" ", ""] {
                            let input = [a, b, c].join(sep);
                            for tz in ZONES {
                                if let Ok(t) = parse_when(&input, now, tz) {
                                    assert!(t > now, "`{input}` in {tz} gave {t}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let far = utc("9999-12-31T12:00:00Z");
        for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            for tz in ZONES {
                for input in ["tomorrow", "today", "sun 23:59", "next mon", "midnight", "+1s"] {
                    let _ = parse_when(input, now, tz);
                }
            }
        }
        for tz in ZONES {
            for input in [
                "tomorrow",
                "fri",
                "next sun 23:59",
                "midnight",
                "in 1000 years",
                "9999-12-31 23:59:59",
                "9999-12-31T23:59:59-23:59",
            ] {
                let _ = parse_when(input, far, tz);
            }
            let _ = parse_when("0000-01-01T00:00:00+23:59", utc(NOW), tz);
        }
        assert!(matches!(parse_when("0000-01-01 00:00", utc(NOW), Kolkata), Err(WhenError::Past { .. })));
    }

    /// The grammar shared with `--every` schedules ([`clout_time`]): forms that only one side
    /// accepted before are read here too.
    #[test]
    fn shared_grammar_forms() {
        check(
            NOW,
            UTC,
            &[
                ("fri 9 a.m.", "2026-12-04T09:00:00Z"),
                ("fri 9:30:15 p.m.", "2026-11-27T21:30:15Z"),
                ("fridays 9am", "2026-12-04T09:00:00Z"),
                ("next mondays 9:30:15", "2026-11-30T09:30:15Z"),
                ("2026-12-01 9:30:15 a.m.", "2026-12-01T09:30:15Z"),
                ("tomorrow 9 A.M.", "2026-11-28T09:00:00Z"),
            ],
        );
    }

    #[test]
    fn everyday_phrases() {
        // NOW is Friday 2026-11-27 10:00 UTC.
        check(
            NOW,
            UTC,
            &[
                ("tomorrow at 9", "2026-11-28T09:00:00Z"),
                ("tomorrow 9", "2026-11-28T09:00:00Z"),
                ("tomorrow 21", "2026-11-28T21:00:00Z"),
                ("fri at 17", "2026-11-27T17:00:00Z"),
                ("monday morning", "2026-11-30T09:00:00Z"),
                ("tomorrow evening", "2026-11-28T18:00:00Z"),
                ("this afternoon", "2026-11-27T14:00:00Z"),
                ("Dec 24", "2026-12-24T09:00:00Z"),
                ("24 dec 18:00", "2026-12-24T18:00:00Z"),
                ("december 24th at 5pm", "2026-12-24T17:00:00Z"),
                ("nov 1", "2027-11-01T09:00:00Z"),
                ("nov 27 11:00", "2026-11-27T11:00:00Z"),
                ("jan 5 2028", "2028-01-05T09:00:00Z"),
                ("feb 29", "2028-02-29T09:00:00Z"),
                ("next week", "2026-11-30T09:00:00Z"),
                ("eod", "2026-11-27T17:00:00Z"),
                ("end of day", "2026-11-27T17:00:00Z"),
                ("fri eod", "2026-11-27T17:00:00Z"),
            ],
        );
        // Berlin is an hour ahead of UTC in winter.
        assert_eq!(at("monday morning", NOW, Berlin), utc("2026-11-30T08:00:00Z"));
        assert_eq!(past("eod", "2026-11-27T18:00:00Z", UTC), utc("2026-11-27T17:00:00Z"));
    }

    #[test]
    fn since_dates() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        let since = |s: &str| parse_since(s, utc(NOW), UTC);
        assert_eq!(since("2026-11-01"), Ok(d(2026, 11, 1)));
        assert_eq!(since("today"), Ok(d(2026, 11, 27)));
        assert_eq!(since("Yesterday"), Ok(d(2026, 11, 26)));
        assert_eq!(since("mon"), Ok(d(2026, 11, 23)));
        assert_eq!(since("fri"), Ok(d(2026, 11, 27)));
        assert_eq!(since("last fri"), Ok(d(2026, 11, 20)));
        assert_eq!(since("last week"), Ok(d(2026, 11, 16)));
        assert_eq!(since("3 days ago"), Ok(d(2026, 11, 24)));
        assert_eq!(since("2 weeks ago"), Ok(d(2026, 11, 13)));
        assert_eq!(since("nov 1"), Ok(d(2026, 11, 1)));
        assert_eq!(since("dec 24"), Ok(d(2025, 12, 24)));
        assert_eq!(since("1 nov 2025"), Ok(d(2025, 11, 1)));
        // At 02:00 UTC on Friday it is still Thursday in New York.
        assert_eq!(parse_since("yesterday", utc("2026-11-27T02:00:00Z"), New_York), Ok(d(2026, 11, 25)));
        for bad in ["", "blah", "tomorrow", "3 bananas ago", "last", "dec 32"] {
            assert_eq!(since(bad), Err(WhenError::UnreadableDate(bad.to_owned())), "{bad}");
        }
        assert!(since("blah").expect_err("bad").to_string().ends_with(SINCE_FORMS));
    }

    #[test]
    fn local_tz_gives_a_zone() {
        // Which zone depends on the machine; it must not panic and must be usable.
        let tz = local_tz();
        assert!(parse_when("tomorrow 9am", utc(NOW), tz).is_ok());
    }
}
