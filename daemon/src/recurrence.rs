//! Schedule expressions for the program's posting slots and recurring tasks, and the
//! instants at which they fire in an IANA time zone.
//!
//! # Accepted forms
//!
//! Input is trimmed and case-insensitive, at most 256 bytes. See [`ACCEPTED_SCHEDULES`].
//!
//! * **Friendly forms**: `daily 18:00`, `every day 9am`, `weekdays 10:00`, `weekends 11:30`,
//!   day lists and ranges such as `mon,thu 12:30`, `mon-fri 9am`, `sat 10:00`, and `hourly`
//!   (minute 0 of every hour). Several times may follow the days: `daily 09:00,17:30`.
//!   Times are `HH:MM`, `H:MM`, `9am`, `5:30pm`, `12pm` (noon), `12am` (midnight), `noon`
//!   and `midnight`. Day names are `mon`/`monday` … `sun`/`sunday`; a friendly day range
//!   may wrap (`fri-mon`).
//! * **Crontab** (5 fields, `min hour dom month dow`) with crontab semantics: day of week
//!   0-7 where 0 and 7 are Sunday and 1 is Monday; names `SUN`..`SAT` and `JAN`..`DEC`;
//!   lists, ranges and steps (`*/15`, `1-5`, `MON-FRI`, `1-10/2`, `5/15` = `5-59/15`).
//!   When both day of month and day of week are restricted, a day matches if *either*
//!   matches (the crontab OR rule). As in Vixie cron, a day field counts as unrestricted
//!   when it starts with `*` (so `*/2` is combined with the other day field by AND).
//!   Macros: `@hourly`, `@daily` (also `@midnight`), `@weekly` (Sunday 00:00), `@monthly`,
//!   `@yearly` / `@annually`.
//! * **The `cron` crate's own forms**, 6 fields `sec min hour dom month dow` or 7 with a
//!   trailing year, passed through unchanged. Their numeric weekdays are the cron crate's
//!   (Quartz): 1 = Sunday … 7 = Saturday, and day of month and day of week are ANDed.
//!
//! Crontab and friendly forms are translated to `cron` crate expressions (seconds `0`
//! prepended, day-of-week always emitted as names, never as crontab numbers); a schedule
//! may be the union of several such expressions (the OR rule, several times of day).
//! The `cron` crate only knows the years 1970-2100, so no occurrence lies outside them.
//!
//! # Fixed-time and interval schedules
//!
//! A schedule is **fixed-time** when its hour field names specific hours: the field
//! contains neither `*` nor a step `/` (`0 9 * * *`, `30 1,13 * * *`, `0 8-18 * * *`).
//! All friendly forms with times and the macros `@daily` … `@yearly` are fixed-time.
//! Everything else is an **interval** schedule: `hourly`, `@hourly`, `*/15 * * * *`,
//! `0 */2 * * *`, `0 8-18/2 * * *`.
//!
//! # Daylight saving time rule
//!
//! This is the rule of Vixie cron and the Open Cron Pattern Specification:
//!
//! 1. Occurrences are computed in wall-clock time: the `cron` schedule is evaluated in
//!    `Utc` with naive local times treated as if they were UTC, and each naive local
//!    time is then resolved into the zone.
//! 2. **Fixed-time** schedules: a wall time that occurs twice (fall-back overlap) fires
//!    once, at the earlier instant. A wall time that does not exist (spring-forward gap)
//!    fires once at the first instant after the gap, i.e. the transition instant: `02:30`
//!    on 2027-03-14 in America/New_York fires at 03:00 EDT (07:00Z).
//! 3. **Interval** schedules follow real elapsed time: both instants of an overlapping
//!    wall time fire (every 30 minutes fires at 01:00 EDT, 01:30 EDT, 01:00 EST, 01:30 EST)
//!    and wall times inside a gap are skipped.
//! 4. Occurrences are strictly increasing and never duplicated: when a gap time is moved to
//!    the transition instant and another occurrence falls on that same instant, it fires once.
//!
//! [`Schedule::next_after`] scans candidate wall times starting a little before the local
//! time of `after`: from the lowest wall time the zone shows at any instant from `after`
//! through the next 28 hours (which is lower than `after`'s own when a fall-back comes), and
//! returns the earliest resolved instant strictly after `after`. It keeps scanning until no
//! later wall time can resolve to an earlier instant (the highest wall time shown between
//! `after` and the best instant found), so it is correct when `after` lies inside an overlap
//! or next to a transition. Transitions are located by sampling the zone's offset every 15
//! minutes and bisecting to the second. Every scan is bounded: by the `cron` crate's last
//! year (2100) and by at most 500,000 candidate wall times per call.
//!
//! Zone names are parsed by [`parse_tz`], which also accepts any letter case and suggests
//! close matches for unknown names.

use std::collections::BTreeSet;
use std::fmt;
use std::iter::Peekable;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::{GapInfo, TZ_VARIANTS, Tz};

/// Every accepted schedule form, one per line, with an example. Appended to every
/// [`ScheduleError`] message.
pub const ACCEPTED_SCHEDULES: &str = "\
Accepted schedules (case-insensitive):
  daily 18:00          every day at a time: 18:00, 9:05, 9am, 5:30pm, 12pm (noon), 12am (midnight); several: `daily 09:00,17:30`, also `every day 9am`
  weekdays 10:00       Monday to Friday
  weekends 11:30       Saturday and Sunday
  mon,thu 12:30        chosen days, mon/monday .. sun/sunday, lists and ranges: `mon,wed,fri 09:00`, `mon-fri 9am`, `sat 10:00`
  hourly               minute 0 of every hour
  0 9 * * 1-5          crontab: minute hour day-of-month month day-of-week (0-7, 0 and 7 = Sunday, or SUN-SAT); `*/15 * * * *`
  @daily               crontab macros: @hourly, @daily, @weekly (Sunday 00:00), @monthly, @yearly, @annually
  0 0 9 * * MON-FRI    cron with seconds first (6 fields); numeric weekdays here are 1-7 with 1 = Sunday
  0 0 9 1 1 * 2027     cron with seconds and a trailing year (7 fields, years 1970-2100)";

/// Longest accepted schedule, in bytes (after trimming).
const MAX_SPEC_BYTES: usize = 256;
/// Most occurrences [`Schedule::upcoming`] returns, whatever `n` asks for.
const MAX_UPCOMING: usize = 10_000;
/// Most candidate wall times one [`Schedule::next_after`] call examines.
const MAX_CANDIDATES: usize = 500_000;
/// How far from an instant the zone's transitions are looked for. UTC offsets lie within
/// -12h..+14h, so an instant further away than 26 hours cannot share a wall time with it.
const TRANSITION_WINDOW_HOURS: i64 = 28;
/// Step at which the zone's offset is sampled to find its transitions.
const TRANSITION_STEP_MINUTES: i64 = 15;
/// The `cron` crate knows no year after this one.
const LAST_CRON_YEAR: i32 = 2100;

/// Why a schedule was rejected. Every message quotes the input (where there is one), names
/// the faulty part, and ends with a blank line followed by [`ACCEPTED_SCHEDULES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The input does not parse. `field` names the faulty part, e.g.
    /// `field 5 (day of week)`, `time` or `day part`.
    #[error(
        "invalid schedule `{}`: {field}: {reason}\n\n{accepted}",
        printable(.spec),
        accepted = ACCEPTED_SCHEDULES
    )]
    Invalid { spec: String, field: String, reason: String },
    /// The input parses but no calendar date satisfies it (e.g. `0 0 30 2 *`, February 30).
    #[error(
        "schedule `{}` never fires: no calendar date matches its day-of-month, month, \
         day-of-week (and year) fields together, e.g. day 30 of February\n\n{accepted}",
        printable(.spec),
        accepted = ACCEPTED_SCHEDULES
    )]
    NeverFires { spec: String },
    /// The input is empty or only whitespace.
    #[error("empty schedule: no fields were given\n\n{accepted}", accepted = ACCEPTED_SCHEDULES)]
    Empty,
    /// The trimmed input is longer than 256 bytes.
    #[error(
        "schedule is too long: the whole input is longer than 256 bytes\n\n{accepted}",
        accepted = ACCEPTED_SCHEDULES
    )]
    TooLong,
}

/// An unknown IANA time zone name, with up to 3 close matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", tz_error_message(.input, .suggestions))]
pub struct TzError {
    /// The name as given (trimmed; cut to 64 characters).
    pub input: String,
    /// Up to 3 known zone names close to `input`, best first.
    pub suggestions: Vec<String>,
}

/// A parsed schedule. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Schedule {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    spec: String,
    /// The schedule is the union of these (evaluated on naive local time).
    crons: Vec<cron::Schedule>,
    fixed_time: bool,
}

/// The result of translating an input: `cron` crate expressions and the DST class.
struct Plan {
    exprs: Vec<String>,
    fixed_time: bool,
}

impl Schedule {
    /// Parses one of the accepted forms (see [`ACCEPTED_SCHEDULES`]). Rejects schedules
    /// that can never fire (e.g. `0 0 30 2 *`, February 30) with
    /// [`ScheduleError::NeverFires`].
    pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if spec.len() > MAX_SPEC_BYTES {
            return Err(ScheduleError::TooLong);
        }
        let plan = translate(spec)?;
        let mut crons = Vec::with_capacity(plan.exprs.len());
        for expr in &plan.exprs {
            let parsed = cron::Schedule::from_str(expr).map_err(|e| {
                invalid(
                    spec,
                    "schedule",
                    format!("its translation `{expr}` was rejected by the cron engine: {e}"),
                )
            })?;
            crons.push(parsed);
        }
        if !crons.iter().any(fires_ever) {
            return Err(ScheduleError::NeverFires { spec: spec.to_string() });
        }
        Ok(Schedule { inner: Arc::new(Inner { spec: spec.to_string(), crons, fixed_time: plan.fixed_time }) })
    }

    /// The input as given (trimmed).
    pub fn spec(&self) -> &str {
        &self.inner.spec
    }

    /// Whether the schedule is fixed-time (its hour field names specific hours) rather than
    /// an interval schedule; this decides its daylight saving time behaviour.
    pub fn is_fixed_time(&self) -> bool {
        self.inner.fixed_time
    }

    /// The first occurrence strictly after `after`, computed in `tz` under the DST rule in
    /// the module documentation. `None` only when the schedule has no more occurrences
    /// (e.g. a 7-field year list in the past, or anything after 2100).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let after_naive = after.naive_utc();
        if after_naive.year() > LAST_CRON_YEAR + 1 {
            return None;
        }
        // Occurrences are whole seconds: the earliest instant that can qualify.
        let first = after_naive.with_nanosecond(0)?.checked_add_signed(TimeDelta::seconds(1))?;
        let window = TimeDelta::hours(TRANSITION_WINDOW_HOURS);
        let earliest = earliest_candidate_start();
        // A wall time resolves to an instant at or after `first` only if it is at least the
        // lowest wall time shown from `first - 1s` on (a gap time resolves to the transition
        // instant T and is at least the wall time shown just before T).
        let start = first
            .checked_add_signed(window)
            .and_then(|end| wall_extremes(tz, after_naive.with_nanosecond(0)?, end))
            .and_then(|(lowest, _)| lowest.checked_sub_signed(TimeDelta::seconds(1)))
            .map_or(earliest, |t| t.max(earliest));
        // Once a best instant is known, only wall times up to the highest one shown by an
        // instant in [first, best) can still resolve to something earlier.
        let stop_after = |best: DateTime<Utc>| {
            let best = best.naive_utc();
            let from = best.checked_sub_signed(window).map_or(first, |t| t.max(first));
            best.checked_sub_signed(TimeDelta::seconds(1))
                .and_then(|to| wall_extremes(tz, from, to))
                .map_or(NaiveDateTime::MIN, |(_, highest)| highest)
        };

        let mut candidates = Candidates::new(&self.inner.crons, start);
        let mut best: Option<(DateTime<Utc>, NaiveDateTime)> = None;
        for _ in 0..MAX_CANDIDATES {
            let Some(wall) = candidates.next() else {
                break;
            };
            if let Some((_, stop)) = best
                && wall > stop
            {
                break;
            }
            for instant in self.resolve(tz, wall).into_iter().flatten() {
                if instant > after && best.is_none_or(|(b, _)| instant < b) {
                    best = Some((instant, stop_after(instant)));
                }
            }
        }
        best.map(|(instant, _)| instant)
    }

    /// Up to `n` next occurrences after `after` (for previews), strictly increasing.
    /// At most 10,000 are returned whatever `n` is.
    pub fn upcoming(&self, after: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let n = n.min(MAX_UPCOMING);
        let mut out = Vec::with_capacity(n.min(64));
        let mut cursor = after;
        while out.len() < n {
            let Some(next) = self.next_after(cursor, tz) else {
                break;
            };
            out.push(next);
            cursor = next;
        }
        out
    }

    /// Resolves one naive wall time into 0, 1 or 2 instants under the DST rule.
    fn resolve(&self, tz: Tz, wall: NaiveDateTime) -> [Option<DateTime<Utc>>; 2] {
        match tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => [Some(t.to_utc()), None],
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.to_utc(), b.to_utc());
                let (earlier, later) = if a <= b { (a, b) } else { (b, a) };
                if self.inner.fixed_time { [Some(earlier), None] } else { [Some(earlier), Some(later)] }
            }
            LocalResult::None => {
                if self.inner.fixed_time {
                    let end = GapInfo::new(&wall, &tz).and_then(|gap| gap.end);
                    [end.map(|t| t.to_utc()), None]
                } else {
                    [None, None]
                }
            }
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec())
    }
}

/// Parses an IANA zone name, also case-insensitively (`europe/berlin`). On failure the
/// error lists up to 3 close matches from [`chrono_tz::TZ_VARIANTS`].
pub fn parse_tz(name: &str) -> Result<Tz, TzError> {
    let name = name.trim();
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    let short = name.chars().count() <= 64;
    if short && let Some(tz) = TZ_VARIANTS.iter().find(|tz| tz.name().eq_ignore_ascii_case(name)) {
        return Ok(*tz);
    }
    Err(TzError {
        input: name.chars().take(64).collect(),
        suggestions: if short && !name.is_empty() { tz_suggestions(name) } else { Vec::new() },
    })
}

// ---------------------------------------------------------------------------------------
// Occurrence computation helpers
// ---------------------------------------------------------------------------------------

/// The union of several cron schedules evaluated on naive local time (as if UTC), yielding
/// distinct wall times in increasing order.
struct Candidates<'a> {
    heads: Vec<Peekable<cron::ScheduleIterator<'a, Utc>>>,
}

impl<'a> Candidates<'a> {
    fn new(crons: &'a [cron::Schedule], after: NaiveDateTime) -> Self {
        let after = after.and_utc();
        Candidates { heads: crons.iter().map(|c| c.after(&after).peekable()).collect() }
    }
}

impl Iterator for Candidates<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let min = self.heads.iter_mut().filter_map(|head| head.peek().copied()).min()?;
        for head in &mut self.heads {
            if head.peek() == Some(&min) {
                head.next();
            }
        }
        Some(min.naive_utc())
    }
}

/// Whether a cron schedule fires at all in the years it knows (1970-2100).
fn fires_ever(schedule: &cron::Schedule) -> bool {
    let start = earliest_candidate_start().and_utc();
    schedule.after(&start).next().is_some()
}

/// A wall time before every wall time the `cron` crate can produce.
fn earliest_candidate_start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1969, 12, 30).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or(NaiveDateTime::MIN)
}

/// UTC offset of `tz` at the UTC instant `utc`, in seconds.
fn offset_seconds(tz: Tz, utc: NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

/// The wall-clock time in `tz` at the UTC instant `utc`.
fn wall_time(tz: Tz, utc: NaiveDateTime) -> Option<NaiveDateTime> {
    utc.checked_add_signed(TimeDelta::seconds(i64::from(offset_seconds(tz, utc))))
}

/// The exact lowest and highest wall-clock time that `tz` shows at the whole-second UTC
/// instants `from..=to`. Wall time rises with real time except at transitions, so the
/// extremes lie at the ends and on either side of each transition; transitions are found
/// by sampling the offset every 15 minutes and bisecting to the second where it changes.
fn wall_extremes(tz: Tz, from: NaiveDateTime, to: NaiveDateTime) -> Option<(NaiveDateTime, NaiveDateTime)> {
    if to < from {
        return None;
    }
    let first = wall_time(tz, from)?;
    let (mut lowest, mut highest) = (first, first);
    let mut note = |utc: NaiveDateTime| {
        if let Some(wall) = wall_time(tz, utc) {
            lowest = lowest.min(wall);
            highest = highest.max(wall);
        }
    };
    note(to);
    let step = TimeDelta::minutes(TRANSITION_STEP_MINUTES);
    let (mut prev, mut prev_offset) = (from, offset_seconds(tz, from));
    while prev < to {
        let next = prev.checked_add_signed(step).map_or(to, |t| t.min(to));
        let offset = offset_seconds(tz, next);
        if offset != prev_offset {
            // The offset is `prev_offset` at `lo` and different at `hi`.
            let (mut lo, mut hi) = (prev, next);
            loop {
                let half = (hi - lo).num_seconds() / 2;
                if half < 1 {
                    break;
                }
                let Some(mid) = lo.checked_add_signed(TimeDelta::seconds(half)) else {
                    break;
                };
                if offset_seconds(tz, mid) == prev_offset {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            note(lo);
            note(hi);
        }
        prev = next;
        prev_offset = offset;
    }
    Some((lowest, highest))
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// An [`ScheduleError::Invalid`]; control characters in `field` and `reason` (which quote
/// parts of the input) are escaped.
fn invalid(spec: &str, field: impl Into<String>, reason: impl Into<String>) -> ScheduleError {
    ScheduleError::Invalid {
        spec: spec.to_string(),
        field: printable(&field.into()),
        reason: printable(&reason.into()),
    }
}

/// Control characters escaped, everything else as given.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn translate(spec: &str) -> Result<Plan, ScheduleError> {
    let lower = spec.to_ascii_lowercase();
    let tokens: Vec<&str> = lower.split_whitespace().collect();
    let Some(first) = tokens.first() else {
        return Err(ScheduleError::Empty);
    };
    if first.starts_with('@') {
        return parse_macro(spec, &tokens);
    }
    if first.chars().next().is_some_and(char::is_alphabetic) {
        return parse_friendly(spec, &tokens);
    }
    match tokens.len() {
        5 => parse_crontab(spec, &tokens),
        6 | 7 => parse_passthrough(spec),
        n => Err(wrong_field_count(spec, &tokens, n)),
    }
}

fn wrong_field_count(spec: &str, tokens: &[&str], n: usize) -> ScheduleError {
    if n < 5 && tokens.iter().any(|t| looks_like_time(t)) {
        return invalid(
            spec,
            "day part",
            "is missing: put the days before the time, e.g. `daily 9am` or `weekdays 10:00`",
        );
    }
    if n < 5 {
        let label = CRONTAB_FIELDS.get(n).map_or("day of week", |d| d.label);
        invalid(
            spec,
            format!("field {} ({label})", n + 1),
            format!(
                "is missing: found {n} field{}, but a crontab schedule has 5 \
                 (`minute hour day-of-month month day-of-week`), or 6-7 with seconds first",
                if n == 1 { "" } else { "s" }
            ),
        )
    } else {
        invalid(
            spec,
            "field 8",
            format!(
                "is one too many: found {n} fields, but a schedule has 5 (crontab), \
                 6 (with seconds) or 7 (with seconds and year)"
            ),
        )
    }
}

fn looks_like_time(token: &str) -> bool {
    token.contains(':') || token.ends_with("am") || token.ends_with("pm")
}

// --- macros ----------------------------------------------------------------------------

fn parse_macro(spec: &str, tokens: &[&str]) -> Result<Plan, ScheduleError> {
    let name = tokens.first().copied().unwrap_or_default();
    if tokens.len() > 1 {
        return Err(invalid(spec, "macro", format!("`{name}` takes nothing after it")));
    }
    let (expr, fixed_time) = match name {
        "@hourly" => ("0 0 * * * *", false),
        "@daily" | "@midnight" => ("0 0 0 * * *", true),
        "@weekly" => ("0 0 0 * * SUN", true),
        "@monthly" => ("0 0 0 1 * *", true),
        "@yearly" | "@annually" => ("0 0 0 1 1 *", true),
        "@reboot" => {
            return Err(invalid(
                spec,
                "macro",
                "`@reboot` is not supported: schedules fire at times, not at daemon start",
            ));
        }
        other => {
            const MACROS: &[&str] =
                &["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"];
            return Err(invalid(
                spec,
                "macro",
                format!(
                    "`{other}` is not a known macro{}; use @hourly, @daily, @weekly, \
                     @monthly, @yearly or @annually",
                    did_you_mean(other, MACROS)
                ),
            ));
        }
    };
    Ok(Plan { exprs: vec![expr.to_string()], fixed_time })
}

// --- friendly forms --------------------------------------------------------------------

/// Day words for friendly forms; Monday = 1 … Sunday = 7 (friendly ranges run Monday-first).
const FRIENDLY_DAYS: &[(&str, u8)] = &[
    ("mon", 1),
    ("monday", 1),
    ("tue", 2),
    ("tues", 2),
    ("tuesday", 2),
    ("wed", 3),
    ("weds", 3),
    ("wednesday", 3),
    ("thu", 4),
    ("thur", 4),
    ("thurs", 4),
    ("thursday", 4),
    ("fri", 5),
    ("friday", 5),
    ("sat", 6),
    ("saturday", 6),
    ("sun", 7),
    ("sunday", 7),
];

const FRIENDLY_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "daily",
    "weekdays",
    "weekends",
    "hourly",
];

fn parse_friendly(spec: &str, tokens: &[&str]) -> Result<Plan, ScheduleError> {
    if matches!(tokens, ["hourly"] | ["every", "hour"]) {
        return Ok(Plan { exprs: vec!["0 0 * * * *".to_string()], fixed_time: false });
    }
    // A leading "every" is filler: `every day`, `every weekday`, `every mon,thu`.
    let tokens = match tokens {
        ["every", rest @ ..] if !rest.is_empty() => rest,
        _ => tokens,
    };
    // The day part is the first token, joined with following ones across `,` and `-`
    // (`mon, thu`, `mon - fri`); everything after it is the time part.
    let mut day_part = String::new();
    let mut rest = tokens;
    while let [token, tail @ ..] = rest {
        let joins = day_part.is_empty() || day_part.ends_with([',', '-']) || token.starts_with([',', '-']);
        if !joins {
            break;
        }
        day_part.push_str(token);
        rest = tail;
    }
    if matches!(day_part.as_str(), "hourly" | "hour") {
        return Err(invalid(
            spec,
            "time",
            "`hourly` takes no time: it fires at minute 0 of every hour; \
             for a daily time write e.g. `daily 10:00`",
        ));
    }
    let days = parse_day_part(spec, &day_part)?;

    let time_tokens = match rest {
        ["at", tail @ ..] => tail,
        _ => rest,
    };
    // Times are separated by commas or spaces; `am`/`pm` may stand apart (`5:30 pm`).
    let mut time_part = String::new();
    for token in time_tokens {
        let attaches = time_part.is_empty()
            || time_part.ends_with(',')
            || token.starts_with(',')
            || matches!(*token, "am" | "pm");
        if !attaches {
            time_part.push(',');
        }
        time_part.push_str(token);
    }
    if time_part.is_empty() {
        return Err(invalid(
            spec,
            "time",
            format!("is missing after `{day_part}`: add one such as `{day_part} 09:00` or `{day_part} 9am`"),
        ));
    }
    let mut times = BTreeSet::new();
    for item in time_part.split(',') {
        if item.is_empty() {
            return Err(invalid(spec, "time", format!("`{time_part}` has an empty entry between commas")));
        }
        times.insert(parse_time(spec, item)?);
    }

    // One cron expression per distinct minute, with all its hours.
    let dow = dow_names(&days);
    let mut exprs = Vec::new();
    let minutes: BTreeSet<u32> = times.iter().map(|&(_, m)| m).collect();
    for minute in minutes {
        let hours: BTreeSet<u32> = times.iter().filter(|&&(_, m)| m == minute).map(|&(h, _)| h).collect();
        exprs.push(format!("0 {minute} {} * * {dow}", join_numbers(&hours)));
    }
    Ok(Plan { exprs, fixed_time: true })
}

/// Returns the days (0 = Sunday … 6 = Saturday) named by a friendly day part.
fn parse_day_part(spec: &str, day_part: &str) -> Result<BTreeSet<u8>, ScheduleError> {
    match day_part {
        "daily" | "day" | "everyday" | "days" => return Ok((0..7).collect()),
        "weekdays" | "weekday" => return Ok((1..=5).collect()),
        "weekends" | "weekend" => return Ok([0, 6].into_iter().collect()),
        _ => {}
    }
    let mut days = BTreeSet::new();
    for item in day_part.split(',') {
        if item.is_empty() {
            return Err(invalid(spec, "day part", format!("`{day_part}` has an empty entry between commas")));
        }
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (friendly_day(spec, a)?, friendly_day(spec, b)?),
            None => {
                let d = friendly_day(spec, item)?;
                (d, d)
            }
        };
        // Monday-first order; a range may wrap past Sunday (`fri-mon`).
        let mut d = a;
        for _ in 0..7 {
            days.insert(d % 7);
            if d == b {
                break;
            }
            d = d % 7 + 1;
        }
    }
    Ok(days)
}

fn friendly_day(spec: &str, word: &str) -> Result<u8, ScheduleError> {
    let plural = word.strip_suffix('s').filter(|w| w.len() > 3);
    let found = FRIENDLY_DAYS.iter().find(|(name, _)| *name == word || Some(*name) == plural);
    match found {
        Some(&(_, d)) => Ok(d),
        None if word.is_empty() => {
            Err(invalid(spec, "day part", "a day range is missing a day name, e.g. `mon-fri`"))
        }
        None => Err(invalid(
            spec,
            "day part",
            format!(
                "`{word}` is not a day{}; use mon/monday .. sun/sunday, daily, every day, \
                 weekdays or weekends",
                did_you_mean(word, FRIENDLY_WORDS)
            ),
        )),
    }
}

/// Parses `HH:MM`, `H:MM`, `9am`, `5:30pm`, `12pm`, `12am`, `noon`, `midnight`.
fn parse_time(spec: &str, item: &str) -> Result<(u32, u32), ScheduleError> {
    match item {
        "noon" => return Ok((12, 0)),
        "midnight" => return Ok((0, 0)),
        _ => {}
    }
    let bad = |why: String| invalid(spec, "time", format!("`{item}` {why}"));
    let (core, meridiem) = if let Some(c) = item.strip_suffix("am") {
        (c, Some(false))
    } else if let Some(c) = item.strip_suffix("pm") {
        (c, Some(true))
    } else {
        (item, None)
    };
    let (hour_text, minute_text) = match core.split_once(':') {
        Some((h, m)) => (h, Some(m)),
        None => (core, None),
    };
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !is_digits(hour_text) || hour_text.len() > 2 {
        return Err(bad(
            "is not a time; write `HH:MM` (18:00, 9:05), `9am`, `5:30pm`, `12pm` or `12am`".to_string()
        ));
    }
    let hour: u32 = hour_text.parse().map_err(|_| bad("has an unreadable hour".to_string()))?;
    let minute: u32 = match minute_text {
        Some(m) if m.len() == 2 && is_digits(m) => {
            m.parse().map_err(|_| bad("has unreadable minutes".to_string()))?
        }
        Some(_) => {
            return Err(bad("needs two-digit minutes after the colon, e.g. `9:05`".to_string()));
        }
        None if meridiem.is_some() => 0,
        None => {
            return Err(bad(format!("needs minutes or am/pm: write `{hour}:00` or `{hour}am`")));
        }
    };
    if minute > 59 {
        return Err(bad(format!("has minute {minute}, out of range 00-59")));
    }
    let hour = match meridiem {
        None if hour > 23 => {
            return Err(bad(format!("has hour {hour}, out of range 0-23")));
        }
        None => hour,
        Some(_) if !(1..=12).contains(&hour) => {
            return Err(bad(format!("has hour {hour}: with am/pm the hour must be 1-12")));
        }
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    Ok((hour, minute))
}

// --- crontab (5 fields) ----------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Number,
    Month,
    /// Crontab day of week: 0-7, 0 and 7 = Sunday.
    CrontabWeekday,
    /// The `cron` crate's day of week: 1-7, 1 = Sunday.
    CronWeekday,
}

#[derive(Clone, Copy)]
struct FieldDef {
    position: usize,
    label: &'static str,
    min: u32,
    max: u32,
    kind: FieldKind,
    names: &'static [(&'static str, u32)],
    /// `?` accepted as `*` (day of month and day of week only).
    allow_any: bool,
}

impl FieldDef {
    fn title(&self) -> String {
        format!("field {} ({})", self.position, self.label)
    }
}

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("january", 1),
    ("feb", 2),
    ("february", 2),
    ("mar", 3),
    ("march", 3),
    ("apr", 4),
    ("april", 4),
    ("may", 5),
    ("jun", 6),
    ("june", 6),
    ("jul", 7),
    ("july", 7),
    ("aug", 8),
    ("august", 8),
    ("sep", 9),
    ("september", 9),
    ("oct", 10),
    ("october", 10),
    ("nov", 11),
    ("november", 11),
    ("dec", 12),
    ("december", 12),
];

/// Crontab day-of-week names: 0 = Sunday.
const DOW_NAMES: &[(&str, u32)] = &[
    ("sun", 0),
    ("sunday", 0),
    ("mon", 1),
    ("monday", 1),
    ("tue", 2),
    ("tuesday", 2),
    ("wed", 3),
    ("wednesday", 3),
    ("thu", 4),
    ("thursday", 4),
    ("fri", 5),
    ("friday", 5),
    ("sat", 6),
    ("saturday", 6),
];

/// Day names the `cron` crate understands, indexed 0 = Sunday.
const CRON_DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The `cron` crate's day-of-week names: 1 = Sunday.
const CRON_DOW_NAMES: &[(&str, u32)] = &[
    ("sun", 1),
    ("sunday", 1),
    ("mon", 2),
    ("monday", 2),
    ("tue", 3),
    ("tues", 3),
    ("tuesday", 3),
    ("wed", 4),
    ("wednesday", 4),
    ("thu", 5),
    ("thurs", 5),
    ("thursday", 5),
    ("fri", 6),
    ("friday", 6),
    ("sat", 7),
    ("saturday", 7),
];

const fn field(
    position: usize,
    label: &'static str,
    (min, max): (u32, u32),
    kind: FieldKind,
    names: &'static [(&'static str, u32)],
    allow_any: bool,
) -> FieldDef {
    FieldDef { position, label, min, max, kind, names, allow_any }
}

const CRONTAB_FIELDS: [FieldDef; 5] = [
    field(1, "minute", (0, 59), FieldKind::Number, &[], false),
    field(2, "hour", (0, 23), FieldKind::Number, &[], false),
    field(3, "day of month", (1, 31), FieldKind::Number, &[], true),
    field(4, "month", (1, 12), FieldKind::Month, MONTH_NAMES, false),
    field(5, "day of week", (0, 7), FieldKind::CrontabWeekday, DOW_NAMES, true),
];

/// The `cron` crate's own fields, used to explain why it rejected a 6/7-field schedule.
const CRON_FIELDS: [FieldDef; 7] = [
    field(1, "second", (0, 59), FieldKind::Number, &[], false),
    field(2, "minute", (0, 59), FieldKind::Number, &[], false),
    field(3, "hour", (0, 23), FieldKind::Number, &[], false),
    field(4, "day of month", (1, 31), FieldKind::Number, &[], true),
    field(5, "month", (1, 12), FieldKind::Month, MONTH_NAMES, false),
    field(6, "day of week", (1, 7), FieldKind::CronWeekday, CRON_DOW_NAMES, true),
    field(7, "year", (1970, 2100), FieldKind::Number, &[], false),
];

fn parse_crontab(spec: &str, tokens: &[&str]) -> Result<Plan, ScheduleError> {
    let [minute, hour, dom, month, dow] = tokens else {
        return Err(wrong_field_count(spec, tokens, tokens.len()));
    };
    let [f_min, f_hour, f_dom, f_month, f_dow] = CRONTAB_FIELDS;
    let minutes = parse_field(spec, minute, f_min)?;
    let hours = parse_field(spec, hour, f_hour)?;
    let doms = parse_field(spec, dom, f_dom)?;
    let months = parse_field(spec, month, f_month)?;
    let dows: BTreeSet<u8> =
        parse_field(spec, dow, f_dow)?.into_iter().map(|d| u8::try_from(d % 7).unwrap_or(0)).collect();

    let (min_s, hour_s, month_s) = (join_numbers(&minutes), join_numbers(&hours), join_numbers(&months));
    let dom_s = if doms.len() == 31 { "*".to_string() } else { join_numbers(&doms) };
    let dow_s = dow_names(&dows);
    let dom_restricted = !is_star_field(dom);
    let dow_restricted = !is_star_field(dow);
    let exprs = if dom_restricted && dow_restricted {
        // Crontab OR rule: the union of "these days of the month" and "these weekdays".
        vec![
            format!("0 {min_s} {hour_s} {dom_s} {month_s} *"),
            format!("0 {min_s} {hour_s} * {month_s} {dow_s}"),
        ]
    } else {
        vec![format!("0 {min_s} {hour_s} {dom_s} {month_s} {dow_s}")]
    };
    Ok(Plan { exprs, fixed_time: hour_names_specific_hours(hour) })
}

/// Vixie cron treats a day field as unrestricted when it starts with `*` (`*`, `*/2`).
fn is_star_field(token: &str) -> bool {
    token.starts_with('*') || token == "?"
}

/// Fixed-time when the hour field is neither `*` nor a step.
fn hour_names_specific_hours(token: &str) -> bool {
    !token.contains(['*', '/'])
}

fn parse_field(spec: &str, token: &str, def: FieldDef) -> Result<BTreeSet<u32>, ScheduleError> {
    let err = |reason: String| invalid(spec, def.title(), reason);
    let mut set = BTreeSet::new();
    for item in token.split(',') {
        if item.is_empty() {
            return Err(err(format!("`{token}` has an empty list entry")));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let (lo, hi) = if base == "*" || (def.allow_any && base == "?") {
            (def.min, def.max)
        } else if let Some((a, b)) = base.split_once('-') {
            let lo = parse_atom(spec, a, item, def)?;
            let mut hi = parse_atom(spec, b, item, def)?;
            // `MON-SUN`: Sunday as the end of a named range is day 7.
            if def.kind == FieldKind::CrontabWeekday
                && hi == 0
                && lo > 0
                && b.starts_with(char::is_alphabetic)
            {
                hi = 7;
            }
            if lo > hi {
                return Err(err(format!("range `{base}` runs backwards; write the lower value first")));
            }
            (lo, hi)
        } else {
            let v = parse_atom(spec, base, item, def)?;
            (v, if step.is_some() { def.max } else { v })
        };
        let step = match step {
            None => 1,
            Some(text) => parse_step(text, def).map_err(|why| err(format!("`{item}`: {why}")))?,
        };
        let step = usize::try_from(step).unwrap_or(1).max(1);
        set.extend((lo..=hi).step_by(step));
    }
    Ok(set)
}

fn parse_atom(spec: &str, text: &str, item: &str, def: FieldDef) -> Result<u32, ScheduleError> {
    let err = |reason: String| invalid(spec, def.title(), reason);
    if text.is_empty() {
        return Err(err(format!("`{item}` is missing a value")));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let value: u32 =
            text.parse().map_err(|_| err(format!("`{text}` is out of range {}-{}", def.min, def.max)))?;
        if value < def.min || value > def.max {
            let note = if def.kind == FieldKind::CronWeekday {
                " (in 6- and 7-field schedules 1 = Sunday .. 7 = Saturday)"
            } else {
                ""
            };
            return Err(err(format!("`{text}` is out of range {}-{}{note}", def.min, def.max)));
        }
        return Ok(value);
    }
    if text.chars().all(|c| c.is_ascii_alphabetic()) {
        if def.names.is_empty() {
            return Err(err(format!(
                "`{text}` is not a number (names are only allowed in the month and day-of-week fields)"
            )));
        }
        if let Some(&(_, v)) = def.names.iter().find(|(name, _)| *name == text) {
            return Ok(v);
        }
        let (kind, list) = match def.kind {
            FieldKind::Month => ("month", "JAN..DEC or 1-12"),
            FieldKind::CronWeekday => ("day of the week", "SUN..SAT or 1-7 (1 = Sunday)"),
            _ => ("day of the week", "SUN..SAT or 0-7 (0 and 7 = Sunday)"),
        };
        let words: Vec<&str> = def.names.iter().map(|(n, _)| *n).collect();
        return Err(err(format!("`{text}` is not a {kind}{}; use {list}", did_you_mean(text, &words))));
    }
    Err(err(format!("`{text}` is not a number{}", if def.names.is_empty() { "" } else { " or name" })))
}

fn parse_step(text: &str, def: FieldDef) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("step `{text}` is not a number"));
    }
    match text.parse::<u32>() {
        Ok(0) => Err("a step must be at least 1".to_string()),
        Ok(step) if step <= def.max => Ok(step),
        _ => Err(format!("step `{text}` is larger than the field's range {}-{}", def.min, def.max)),
    }
}

fn join_numbers(set: &BTreeSet<u32>) -> String {
    set.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The `cron` crate's day-of-week field for a set of days (0 = Sunday): `*` or names.
fn dow_names(days: &BTreeSet<u8>) -> String {
    if days.len() >= 7 {
        return "*".to_string();
    }
    days.iter().filter_map(|&d| CRON_DAY_NAMES.get(usize::from(d)).copied()).collect::<Vec<_>>().join(",")
}

// --- cron crate forms (6 or 7 fields) --------------------------------------------------

fn parse_passthrough(spec: &str) -> Result<Plan, ScheduleError> {
    let tokens: Vec<&str> = spec.split_whitespace().collect();
    let expr = tokens.join(" ");
    if let Err(whole) = cron::Schedule::from_str(&expr) {
        // Find the faulty field by checking each one alone against a neutral template.
        for (i, token) in tokens.iter().enumerate() {
            let mut probe: Vec<&str> =
                ["0", "0", "0", "*", "*", "*", "*"].into_iter().take(tokens.len()).collect();
            if let Some(slot) = probe.get_mut(i) {
                *slot = token;
            }
            let Err(e) = cron::Schedule::from_str(&probe.join(" ")) else {
                continue;
            };
            let Some(def) = CRON_FIELDS.get(i).copied() else {
                break;
            };
            // Our own parser explains most problems more precisely than the cron crate.
            parse_field(spec, &token.to_ascii_lowercase(), def)?;
            return Err(invalid(
                spec,
                def.title(),
                format!("`{token}` is not valid here: {}", cron_reason(&e)),
            ));
        }
        return Err(invalid(spec, "schedule", cron_reason(&whole)));
    }
    let hour = tokens.get(2).copied().unwrap_or("*");
    Ok(Plan { exprs: vec![expr], fixed_time: hour_names_specific_hours(hour) })
}

/// The `cron` crate's error text on one line, without its echo of the expression.
fn cron_reason(e: &cron::error::Error) -> String {
    let text = e.to_string();
    let text = text.rsplit('^').next().unwrap_or_default();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() { "the cron engine rejected it".to_string() } else { text }
}

// --- suggestions -----------------------------------------------------------------------

/// ` (did you mean `x`?)` for the closest word, or nothing.
fn did_you_mean(input: &str, words: &[&str]) -> String {
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
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, Weekday};

    // Expected instants below come from Python's zoneinfo (tzdata 2025b, the same release
    // chrono-tz 0.10.4 embeds), an oracle independent of this module. To re-run it, save
    // the script below as oracle.py and run `python3 oracle.py`; it prints the constants.
    //
    // # Independent oracle for recurrence.rs tests (Python zoneinfo, tzdata 2025b).
    // # Run: python3 oracle.py   -- prints Rust `const` arrays to paste into the tests.
    // from datetime import datetime, date, timedelta, timezone
    // from zoneinfo import ZoneInfo
    //
    // UTC = timezone.utc
    //
    // def z(s):
    //     return s.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    //
    // def exists(tz, naive):
    //     aware = naive.replace(tzinfo=tz, fold=0)
    //     return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive
    //
    // def fixed(tz, naive):
    //     """Fixed-time rule: earliest instant; in a gap, the first instant after it."""
    //     if exists(tz, naive):
    //         a = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    //         b = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    //         return min(a, b)
    //     probe = naive
    //     while not exists(tz, probe):  # walk forward to the end of the gap
    //         probe += timedelta(minutes=1)
    //     return probe.replace(tzinfo=tz, fold=0).astimezone(UTC)
    //
    // def fixed_days(zone, first, days, times, day_ok=lambda d: True):
    //     tz = ZoneInfo(zone)
    //     out = []
    //     for i in range(days):
    //         d = first + timedelta(days=i)
    //         if not day_ok(d):
    //             continue
    //         for (h, m) in times:
    //             out.append(fixed(tz, datetime(d.year, d.month, d.day, h, m)))
    //     return sorted(set(out))
    //
    // def interval(zone, start_utc, end_utc, minutes):
    //     """Interval rule: every real instant whose local wall time matches."""
    //     tz = ZoneInfo(zone)
    //     out, t = [], start_utc
    //     while t <= end_utc:
    //         loc = t.astimezone(tz)
    //         if loc.minute in minutes and loc.second == 0:
    //             out.append(t)
    //         t += timedelta(minutes=1)
    //     return out
    //
    // def emit(name, xs):
    //     print(f"const {name}: &[&str] = &[")
    //     for x in xs:
    //         print(f'    "{z(x)}",')
    //     print("];")
    //
    // U = lambda *a: datetime(*a, tzinfo=UTC)
    // emit("BERLIN_DAILY_0900_SPRING", fixed_days("Europe/Berlin", date(2027, 3, 26), 5, [(9, 0)]))
    // emit("BERLIN_DAILY_0900_AUTUMN", fixed_days("Europe/Berlin", date(2026, 10, 23), 5, [(9, 0)]))
    // emit("NY_DAILY_0900_SPRING", fixed_days("America/New_York", date(2027, 3, 12), 5, [(9, 0)]))
    // emit("NY_DAILY_0900_AUTUMN", fixed_days("America/New_York", date(2026, 10, 30), 5, [(9, 0)]))
    // emit("NY_GAP_0230", fixed_days("America/New_York", date(2027, 3, 13), 3, [(2, 30)]))
    // emit("BERLIN_GAP_0230", fixed_days("Europe/Berlin", date(2027, 3, 27), 3, [(2, 30)]))
    // emit("NY_OVERLAP_0130", fixed_days("America/New_York", date(2026, 10, 31), 3, [(1, 30)]))
    // emit("BERLIN_OVERLAP_0230", fixed_days("Europe/Berlin", date(2026, 10, 24), 3, [(2, 30)]))
    // emit("NY_GAP_COLLISION", fixed_days("America/New_York", date(2027, 3, 14), 1, [(2, 0), (2, 30), (3, 0), (3, 30)]))
    // emit("NY_EVERY30_FALL", interval("America/New_York", U(2026, 11, 1, 4, 0), U(2026, 11, 1, 8, 0), {0, 30}))
    // emit("NY_EVERY30_SPRING", interval("America/New_York", U(2027, 3, 14, 5, 0), U(2027, 3, 14, 8, 0), {0, 30}))
    // emit("KOLKATA_DAILY_0900", fixed_days("Asia/Kolkata", date(2026, 6, 1), 3, [(9, 0)]))
    // emit("ADELAIDE_DAILY_0900_APRIL", fixed_days("Australia/Adelaide", date(2027, 4, 2), 5, [(9, 0)]))
    // emit("ADELAIDE_DAILY_0900_OCTOBER", fixed_days("Australia/Adelaide", date(2026, 10, 2), 5, [(9, 0)]))
    // emit("ADELAIDE_GAP_0230", fixed_days("Australia/Adelaide", date(2026, 10, 3), 3, [(2, 30)]))
    // emit("NY_DOM13_OR_FRIDAY", fixed_days("America/New_York", date(2026, 10, 1), 45, [(9, 0)],
    //                                       lambda d: d.day == 13 or d.weekday() == 4))
    // emit("BERLIN_DAILY_0900_1730", fixed_days("Europe/Berlin", date(2027, 3, 27), 3, [(9, 0), (17, 30)]))
    // emit("ADELAIDE_OVERLAP_0230", fixed_days("Australia/Adelaide", date(2027, 4, 3), 3, [(2, 30)]))
    // emit("NY_HOURLY_FALL", interval("America/New_York", U(2026, 11, 1, 3, 0), U(2026, 11, 1, 8, 0), {0}))

    const BERLIN_DAILY_0900_SPRING: &[&str] = &[
        "2027-03-26T08:00:00Z",
        "2027-03-27T08:00:00Z",
        "2027-03-28T07:00:00Z",
        "2027-03-29T07:00:00Z",
        "2027-03-30T07:00:00Z",
    ];
    const BERLIN_DAILY_0900_AUTUMN: &[&str] = &[
        "2026-10-23T07:00:00Z",
        "2026-10-24T07:00:00Z",
        "2026-10-25T08:00:00Z",
        "2026-10-26T08:00:00Z",
        "2026-10-27T08:00:00Z",
    ];
    const NY_DAILY_0900_SPRING: &[&str] = &[
        "2027-03-12T14:00:00Z",
        "2027-03-13T14:00:00Z",
        "2027-03-14T13:00:00Z",
        "2027-03-15T13:00:00Z",
        "2027-03-16T13:00:00Z",
    ];
    const NY_DAILY_0900_AUTUMN: &[&str] = &[
        "2026-10-30T13:00:00Z",
        "2026-10-31T13:00:00Z",
        "2026-11-01T14:00:00Z",
        "2026-11-02T14:00:00Z",
        "2026-11-03T14:00:00Z",
    ];
    const NY_GAP_0230: &[&str] = &["2027-03-13T07:30:00Z", "2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"];
    const BERLIN_GAP_0230: &[&str] =
        &["2027-03-27T01:30:00Z", "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"];
    const NY_OVERLAP_0130: &[&str] =
        &["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"];
    const BERLIN_OVERLAP_0230: &[&str] =
        &["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"];
    const NY_GAP_COLLISION: &[&str] = &["2027-03-14T07:00:00Z", "2027-03-14T07:30:00Z"];
    const NY_EVERY30_FALL: &[&str] = &[
        "2026-11-01T04:00:00Z",
        "2026-11-01T04:30:00Z",
        "2026-11-01T05:00:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:30:00Z",
        "2026-11-01T07:00:00Z",
        "2026-11-01T07:30:00Z",
        "2026-11-01T08:00:00Z",
    ];
    const NY_EVERY30_SPRING: &[&str] = &[
        "2027-03-14T05:00:00Z",
        "2027-03-14T05:30:00Z",
        "2027-03-14T06:00:00Z",
        "2027-03-14T06:30:00Z",
        "2027-03-14T07:00:00Z",
        "2027-03-14T07:30:00Z",
        "2027-03-14T08:00:00Z",
    ];
    const KOLKATA_DAILY_0900: &[&str] =
        &["2026-06-01T03:30:00Z", "2026-06-02T03:30:00Z", "2026-06-03T03:30:00Z"];
    const ADELAIDE_DAILY_0900_APRIL: &[&str] = &[
        "2027-04-01T22:30:00Z",
        "2027-04-02T22:30:00Z",
        "2027-04-03T23:30:00Z",
        "2027-04-04T23:30:00Z",
        "2027-04-05T23:30:00Z",
    ];
    const ADELAIDE_DAILY_0900_OCTOBER: &[&str] = &[
        "2026-10-01T23:30:00Z",
        "2026-10-02T23:30:00Z",
        "2026-10-03T22:30:00Z",
        "2026-10-04T22:30:00Z",
        "2026-10-05T22:30:00Z",
    ];
    const ADELAIDE_GAP_0230: &[&str] =
        &["2026-10-02T17:00:00Z", "2026-10-03T16:30:00Z", "2026-10-04T16:00:00Z"];
    const NY_DOM13_OR_FRIDAY: &[&str] = &[
        "2026-10-02T13:00:00Z",
        "2026-10-09T13:00:00Z",
        "2026-10-13T13:00:00Z",
        "2026-10-16T13:00:00Z",
        "2026-10-23T13:00:00Z",
        "2026-10-30T13:00:00Z",
        "2026-11-06T14:00:00Z",
        "2026-11-13T14:00:00Z",
    ];
    const BERLIN_DAILY_0900_1730: &[&str] = &[
        "2027-03-27T08:00:00Z",
        "2027-03-27T16:30:00Z",
        "2027-03-28T07:00:00Z",
        "2027-03-28T15:30:00Z",
        "2027-03-29T07:00:00Z",
        "2027-03-29T15:30:00Z",
    ];
    const ADELAIDE_OVERLAP_0230: &[&str] =
        &["2027-04-02T16:00:00Z", "2027-04-03T16:00:00Z", "2027-04-04T17:00:00Z"];
    const NY_HOURLY_FALL: &[&str] = &[
        "2026-11-01T03:00:00Z",
        "2026-11-01T04:00:00Z",
        "2026-11-01T05:00:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T07:00:00Z",
        "2026-11-01T08:00:00Z",
    ];

    fn zone(name: &str) -> Tz {
        parse_tz(name).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn rfc(instants: &[DateTime<Utc>]) -> Vec<String> {
        instants.iter().map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)).collect()
    }

    fn sched(spec: &str) -> Schedule {
        Schedule::parse(spec).unwrap_or_else(|e| panic!("{spec:?} should parse: {e}"))
    }

    /// `n` occurrences by iterating `next_after`; checks that `upcoming` agrees and that
    /// the sequence is strictly increasing.
    fn occurrences(spec: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
        let schedule = sched(spec);
        let tz = zone(tz);
        let mut out = Vec::new();
        let mut cursor = at(after);
        for _ in 0..n {
            let Some(next) = schedule.next_after(cursor, tz) else {
                break;
            };
            assert!(next > cursor, "{spec}: {next} is not after {cursor}");
            out.push(next);
            cursor = next;
        }
        assert_eq!(schedule.upcoming(at(after), tz, n), out, "{spec}: upcoming");
        rfc(&out)
    }

    fn local(instants: &[String], tz: &str) -> Vec<String> {
        let tz = zone(tz);
        instants.iter().map(|s| at(s).with_timezone(&tz).format("%a %Y-%m-%d %H:%M").to_string()).collect()
    }

    fn error(spec: &str) -> ScheduleError {
        match Schedule::parse(spec) {
            Ok(s) => panic!("{spec:?} should be rejected, parsed as {s:?}"),
            Err(e) => e,
        }
    }

    // --- daily 09:00 across DST changes --------------------------------------------------

    #[test]
    fn daily_0900_across_dst_changes() {
        let cases = [
            ("Europe/Berlin", "2027-03-26T00:00:00Z", BERLIN_DAILY_0900_SPRING),
            ("Europe/Berlin", "2026-10-23T00:00:00Z", BERLIN_DAILY_0900_AUTUMN),
            ("America/New_York", "2027-03-12T00:00:00Z", NY_DAILY_0900_SPRING),
            ("America/New_York", "2026-10-30T00:00:00Z", NY_DAILY_0900_AUTUMN),
        ];
        for (tz, after, expected) in cases {
            for spec in ["daily 09:00", "0 9 * * *", "every day 9am", "0 0 9 * * *"] {
                let got = occurrences(spec, tz, after, 5);
                assert_eq!(got, expected, "{spec} in {tz}");
                let locals = local(&got, tz);
                let mut days = BTreeSet::new();
                for l in &locals {
                    assert!(l.ends_with(" 09:00"), "{spec} in {tz}: {l}");
                    days.insert(l.clone());
                }
                assert_eq!(days.len(), 5, "one fire per day: {locals:?}");
            }
        }
    }

    // --- fixed times in the gap and the overlap -----------------------------------------

    #[test]
    fn fixed_time_in_gap_fires_once_at_transition() {
        assert_eq!(occurrences("30 2 * * *", "America/New_York", "2027-03-13T00:00:00Z", 3), NY_GAP_0230);
        assert_eq!(occurrences("30 2 * * *", "Europe/Berlin", "2027-03-27T00:00:00Z", 3), BERLIN_GAP_0230);
        // The brief's example: 02:30 on 2027-03-14 in New York fires at 03:00 EDT.
        let ny = zone("America/New_York");
        let s = sched("daily 2:30");
        assert_eq!(s.next_after(at("2027-03-14T06:00:00Z"), ny), Some(at("2027-03-14T07:00:00Z")));
        // Asked from just before / at / after the transition instant.
        assert_eq!(s.next_after(at("2027-03-14T06:59:59Z"), ny), Some(at("2027-03-14T07:00:00Z")));
        assert_eq!(s.next_after(at("2027-03-14T07:00:00Z"), ny), Some(at("2027-03-15T06:30:00Z")));
    }

    #[test]
    fn fixed_time_in_gap_colliding_with_transition_fires_once() {
        assert_eq!(
            occurrences("0,30 2-3 * * *", "America/New_York", "2027-03-14T05:00:00Z", 2),
            NY_GAP_COLLISION
        );
        assert_eq!(
            occurrences("daily 02:00,02:30,03:00,03:30", "America/New_York", "2027-03-14T05:00:00Z", 2),
            NY_GAP_COLLISION
        );
    }

    #[test]
    fn fixed_time_in_overlap_fires_once_at_earlier_instant() {
        assert_eq!(occurrences("30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", 3), NY_OVERLAP_0130);
        assert_eq!(
            occurrences("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00:00Z", 3),
            BERLIN_OVERLAP_0230
        );
        let ny = zone("America/New_York");
        let s = sched("30 1 * * *");
        // Asked from inside the overlap, after the first 01:30: no second fire at 01:30 EST.
        for after in
            ["2026-11-01T05:30:00Z", "2026-11-01T05:45:00Z", "2026-11-01T06:15:00Z", "2026-11-01T06:30:00Z"]
        {
            assert_eq!(s.next_after(at(after), ny), Some(at("2026-11-02T06:30:00Z")), "after {after}");
        }
        assert_eq!(s.next_after(at("2026-11-01T05:29:59Z"), ny), Some(at("2026-11-01T05:30:00Z")));
    }

    // --- interval schedules ---------------------------------------------------------------

    #[test]
    fn interval_fires_in_both_halves_of_overlap() {
        let got = occurrences("*/30 * * * *", "America/New_York", "2026-11-01T03:59:59Z", 9);
        assert_eq!(got, NY_EVERY30_FALL);
        assert_eq!(
            local(&got[2..6], "America/New_York"),
            ["Sun 2026-11-01 01:00", "Sun 2026-11-01 01:30", "Sun 2026-11-01 01:00", "Sun 2026-11-01 01:30"]
        );
        for spec in ["hourly", "@hourly", "0 * * * *", "every hour"] {
            assert_eq!(
                occurrences(spec, "America/New_York", "2026-11-01T02:59:59Z", 6),
                NY_HOURLY_FALL,
                "{spec}"
            );
        }
        // Asked from inside the overlap.
        let ny = zone("America/New_York");
        let s = sched("*/30 * * * *");
        assert_eq!(s.next_after(at("2026-11-01T05:45:00Z"), ny), Some(at("2026-11-01T06:00:00Z")));
        assert_eq!(s.next_after(at("2026-11-01T06:00:00Z"), ny), Some(at("2026-11-01T06:30:00Z")));
        // The scan must not stop before the last wall time of the first 01:xx hour:
        // 01:10:59 EST (06:10:59Z) is found first, but 01:59:59 EDT (05:59:59Z) is earlier.
        let s = sched("59 10,59 1-13/12 * * *");
        assert!(!s.is_fixed_time());
        assert_eq!(s.next_after(at("2026-11-01T05:30:00Z"), ny), Some(at("2026-11-01T05:59:59Z")));
    }

    #[test]
    fn interval_skips_the_gap() {
        let got = occurrences("*/30 * * * *", "America/New_York", "2027-03-14T04:59:59Z", 7);
        assert_eq!(got, NY_EVERY30_SPRING);
        let locals = local(&got, "America/New_York");
        assert!(locals.iter().all(|l| !l.contains(" 02:")), "{locals:?}");
    }

    #[test]
    fn interval_follows_real_time_across_transitions() {
        // In whole-hour zones, */15 is every 15 real minutes straight through both changes.
        for (tz, after) in [
            ("America/New_York", "2026-10-31T20:00:00Z"),
            ("America/New_York", "2027-03-13T20:00:00Z"),
            ("Europe/Berlin", "2026-10-24T20:00:00Z"),
            ("Europe/Berlin", "2027-03-27T20:00:00Z"),
        ] {
            let got = sched("*/15 * * * *").upcoming(at(after), zone(tz), 4 * 24);
            assert_eq!(got.len(), 96);
            for pair in got.windows(2) {
                assert_eq!(pair[1] - pair[0], TimeDelta::minutes(15), "{tz}: {pair:?}");
            }
        }
    }

    // --- zones with 30-minute offsets -----------------------------------------------------

    #[test]
    fn half_hour_offset_zones() {
        assert_eq!(occurrences("daily 09:00", "Asia/Kolkata", "2026-06-01T00:00:00Z", 3), KOLKATA_DAILY_0900);
        assert_eq!(
            occurrences("0 9 * * *", "Australia/Adelaide", "2027-04-01T12:00:00Z", 5),
            ADELAIDE_DAILY_0900_APRIL
        );
        assert_eq!(
            occurrences("0 9 * * *", "Australia/Adelaide", "2026-10-01T12:00:00Z", 5),
            ADELAIDE_DAILY_0900_OCTOBER
        );
        assert_eq!(
            occurrences("30 2 * * *", "Australia/Adelaide", "2026-10-02T12:00:00Z", 3),
            ADELAIDE_GAP_0230
        );
        assert_eq!(
            occurrences("30 2 * * *", "Australia/Adelaide", "2027-04-02T12:00:00Z", 3),
            ADELAIDE_OVERLAP_0230
        );
    }

    // --- weekday translation and the crontab OR rule --------------------------------------

    fn weekdays_of(spec: &str, after: &str, n: usize) -> Vec<Weekday> {
        sched(spec).upcoming(at(after), Tz::UTC, n).iter().map(|t| t.weekday()).collect()
    }

    #[test]
    fn crontab_weekdays_are_monday_to_friday() {
        // 2026-06-01 is a Monday; 7 days from then.
        let got = sched("0 9 * * 1-5").upcoming(at("2026-06-01T00:00:00Z"), Tz::UTC, 10);
        let in_week: Vec<Weekday> =
            got.iter().filter(|t| **t < at("2026-06-08T00:00:00Z")).map(|t| t.weekday()).collect();
        use Weekday::*;
        assert_eq!(in_week, [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(rfc(&got[..1]), ["2026-06-01T09:00:00Z"]);
        for spec in ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun", "0 9 * * SUNDAY"] {
            assert_eq!(weekdays_of(spec, "2026-06-01T00:00:00Z", 3), [Sun, Sun, Sun], "{spec}");
            assert_eq!(
                rfc(&sched(spec).upcoming(at("2026-06-01T00:00:00Z"), Tz::UTC, 1)),
                ["2026-06-07T09:00:00Z"]
            );
        }
        assert_eq!(weekdays_of("0 9 * * 6", "2026-06-01T00:00:00Z", 1), [Sat]);
        assert_eq!(weekdays_of("0 9 * * 1", "2026-06-02T00:00:00Z", 1), [Mon]);
        assert_eq!(weekdays_of("0 9 * * 5-7", "2026-06-01T00:00:00Z", 3), [Fri, Sat, Sun]);
        assert_eq!(weekdays_of("0 9 * * */2", "2026-06-01T00:00:00Z", 4), [Tue, Thu, Sat, Sun]);
        assert_eq!(
            weekdays_of("0 9 * * mon-sun", "2026-06-01T00:00:00Z", 7),
            [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        );
    }

    #[test]
    fn friendly_forms_match_their_crontab_equivalents() {
        let after = at("2026-06-01T00:00:00Z");
        let ny = zone("America/New_York");
        let same = |a: &str, b: &str| {
            assert_eq!(sched(a).upcoming(after, ny, 30), sched(b).upcoming(after, ny, 30), "{a} vs {b}");
        };
        same("weekdays 10:00", "0 10 * * 1-5");
        same("weekdays 10:00", "0 10 * * MON-FRI");
        same("weekdays 10:00", "0 0 10 * * MON-FRI");
        same("Weekdays 10AM", "0 10 * * 1-5");
        same("weekends 11:30", "30 11 * * 0,6");
        same("mon,thu 12:30", "30 12 * * 1,4");
        same("mon, thu 12:30", "30 12 * * 1,4");
        same("Monday,Thursday 12:30", "30 12 * * 1,4");
        same("mon,wed,fri 09:00", "0 9 * * 1,3,5");
        same("mon-fri 9am", "0 9 * * 1-5");
        same("every weekday at 9am", "0 9 * * 1-5");
        same("sat 10:00", "0 10 * * 6");
        same("saturdays 10:00", "0 10 * * 6");
        same("fri-mon 08:00", "0 8 * * 5-7,1");
        same("every day 9am", "0 9 * * *");
        same("daily 5:30pm", "30 17 * * *");
        same("daily 5:30 pm", "30 17 * * *");
        same("daily 9:00 17:30", "daily 09:00,17:30");
        same("daily 12pm", "0 12 * * *");
        same("daily noon", "0 12 * * *");
        same("daily 12am", "0 0 * * *");
        same("daily midnight", "0 0 * * *");
        same("daily 12:15am", "15 0 * * *");
        same("daily 9:05", "5 9 * * *");
        same("hourly", "0 * * * *");
        same("@daily", "0 0 * * *");
        same("@midnight", "0 0 * * *");
        same("@weekly", "0 0 * * 0");
        same("@monthly", "0 0 1 * *");
        same("@yearly", "0 0 1 1 *");
        same("@annually", "0 0 1 jan *");
        same("0 0 1 JAN *", "0 0 1 1 *");
        same("0 9 * jun-aug *", "0 9 * 6-8 *");
        same("5/15 * * * *", "5-59/15 * * * *");
        same("*/15 * * * *", "0,15,30,45 * * * *");
        same("0 9 1-10/2 * *", "0 9 1,3,5,7,9 * *");
        same("0 9 ? * 1", "0 9 * * 1");
        assert_eq!(
            occurrences("daily 09:00,17:30", "Europe/Berlin", "2027-03-27T00:00:00Z", 6),
            BERLIN_DAILY_0900_1730
        );
        assert_eq!(
            occurrences("daily 17:30, 9am", "Europe/Berlin", "2027-03-27T00:00:00Z", 6),
            BERLIN_DAILY_0900_1730
        );
        // @weekly is Sunday at 00:00.
        assert_eq!(
            rfc(&sched("@weekly").upcoming(at("2026-06-01T00:00:00Z"), Tz::UTC, 1)),
            ["2026-06-07T00:00:00Z"]
        );
    }

    #[test]
    fn dom_and_dow_both_restricted_use_the_or_rule() {
        let got = occurrences("0 9 13 * 5", "America/New_York", "2026-10-01T00:00:00Z", 8);
        assert_eq!(got, NY_DOM13_OR_FRIDAY);
        // Either field alone restricts normally.
        assert!(
            sched("0 9 13 * *")
                .upcoming(at("2026-10-01T00:00:00Z"), Tz::UTC, 5)
                .iter()
                .all(|t| t.day() == 13)
        );
        // February 30 never exists, but "Feb 30 or any Monday in February" does.
        assert!(Schedule::parse("0 9 30 2 mon").is_ok());
        // Vixie cron: a day field starting with `*` counts as unrestricted, so AND applies.
        for t in sched("0 9 */2 * 5").upcoming(at("2026-10-01T00:00:00Z"), Tz::UTC, 6) {
            assert_eq!(t.weekday(), Weekday::Fri, "{t}");
            assert_eq!(t.day() % 2, 1, "{t}");
        }
    }

    // --- cron crate passthrough -----------------------------------------------------------

    #[test]
    fn six_and_seven_field_forms_pass_through() {
        let after = at("2026-06-01T00:00:00Z");
        let berlin = zone("Europe/Berlin");
        assert_eq!(
            sched("0 0 9 * * MON-FRI").upcoming(after, berlin, 20),
            sched("0 9 * * 1-5").upcoming(after, berlin, 20)
        );
        // The cron crate's numeric weekdays: 1 = Sunday, 2 = Monday.
        assert_eq!(weekdays_of("0 0 9 * * 2", "2026-06-02T00:00:00Z", 1), [Weekday::Mon]);
        assert_eq!(weekdays_of("0 0 9 * * 1", "2026-06-01T00:00:00Z", 1), [Weekday::Sun]);
        // Seconds are honoured.
        assert_eq!(rfc(&sched("30 15 10 * * *").upcoming(after, Tz::UTC, 1)), ["2026-06-01T10:15:30Z"]);
        // 7 fields with a year.
        let y = sched("0 0 9 1 1 * 2027");
        assert_eq!(rfc(&y.upcoming(after, berlin, 5)), ["2027-01-01T08:00:00Z"], "exactly one occurrence");
        assert_eq!(y.next_after(at("2027-01-01T08:00:00Z"), berlin), None);
        // A year list in the past parses but has no more occurrences.
        let past = sched("0 0 9 1 1 * 2020,2021");
        assert_eq!(past.next_after(after, berlin), None);
        assert!(past.upcoming(after, berlin, 3).is_empty());
        assert_eq!(past.spec(), "0 0 9 1 1 * 2020,2021");
    }

    #[test]
    fn fixed_time_and_interval_classification() {
        for spec in [
            "0 9 * * *",
            "30 1,13 * * *",
            "0 8-18 * * *",
            "*/15 9 * * *",
            "daily 18:00",
            "mon,thu 12:30",
            "@daily",
            "@weekly",
            "@monthly",
            "@yearly",
            "0 0 9 * * MON-FRI",
        ] {
            assert!(sched(spec).is_fixed_time(), "{spec} should be fixed-time");
        }
        for spec in [
            "hourly",
            "@hourly",
            "*/15 * * * *",
            "0 */2 * * *",
            "0 8-18/2 * * *",
            "* * * * *",
            "0 0 * * * *",
            "0 0 */3 * * *",
        ] {
            assert!(!sched(spec).is_fixed_time(), "{spec} should be interval");
        }
    }

    #[test]
    fn spec_is_trimmed_input() {
        let s = sched("  Weekdays 10:00 \n");
        assert_eq!(s.spec(), "Weekdays 10:00");
        assert_eq!(s.to_string(), "Weekdays 10:00");
        let clone = s.clone();
        assert_eq!(clone.spec(), s.spec());
    }

    // --- rejections -----------------------------------------------------------------------

    #[test]
    fn rejections_name_the_faulty_field() {
        let cases = [
            ("61 * * * *", "field 1 (minute)", "`61` is out of range 0-59"),
            ("* 24 * * *", "field 2 (hour)", "`24` is out of range 0-23"),
            ("* * * * 8", "field 5 (day of week)", "`8` is out of range 0-7"),
            ("0 9 32 * *", "field 3 (day of month)", "`32` is out of range 1-31"),
            ("0 9 * 13 *", "field 4 (month)", "`13` is out of range 1-12"),
            ("0 9 * * 1-", "field 5 (day of week)", "missing a value"),
            ("0 9 * * fry", "field 5 (day of week)", "did you mean `fri`?"),
            ("0 9 * * 5-1", "field 5 (day of week)", "runs backwards"),
            ("*/0 * * * *", "field 1 (minute)", "at least 1"),
            ("*/90 * * * *", "field 1 (minute)", "larger than"),
            ("0 9,,10 * * *", "field 2 (hour)", "empty list entry"),
            ("0 mon * * *", "field 2 (hour)", "not a number"),
            ("0 9 * * ü", "field 5 (day of week)", "`ü` is not a number"),
            ("0 9 * *", "field 5 (day of week)", "is missing"),
            ("0 9", "field 3 (day of month)", "is missing"),
            ("0 0 9 * * * 2027 1", "field 8", "one too many"),
            ("0 0 9 * * 0", "field 6 (day of week)", "1 = Sunday"),
            ("0 0 25 * * *", "field 3 (hour)", "`25` is out of range 0-23"),
            ("0 0 9 * * * 1969", "field 7 (year)", "1970-2100"),
            ("daily 25:00", "time", "hour 25"),
            ("daily 9:60", "time", "minute 60"),
            ("daily 13pm", "time", "1-12"),
            ("daily 9", "time", "needs minutes or am/pm"),
            ("daily", "time", "is missing"),
            ("daily 9:00,", "time", "empty entry"),
            ("daily 9：00", "time", "is not a time"),
            ("blursday 10:00", "day part", "`blursday` is not a day"),
            ("mon,,thu 10:00", "day part", "empty entry"),
            ("9am", "day part", "is missing"),
            ("hourly 10:00", "time", "takes no time"),
            ("@weekdays", "macro", "did you mean `@weekly`?"),
            ("@reboot", "macro", "not supported"),
            ("@daily 10:00", "macro", "nothing after it"),
            ("日本語 テスト", "day part", "`日本語` is not a day"),
        ];
        for (spec, field, reason_part) in cases {
            let e = error(spec);
            let ScheduleError::Invalid { spec: got_spec, field: got_field, reason } = &e else {
                panic!("{spec:?}: expected Invalid, got {e:?}");
            };
            assert_eq!(got_spec, spec.trim());
            assert_eq!(got_field, field, "{spec:?}: {e}");
            assert!(reason.contains(reason_part), "{spec:?}: {reason}");
            let msg = e.to_string();
            assert!(msg.contains(&format!("`{spec}`")), "quotes the input: {msg}");
            assert!(msg.contains(field), "{msg}");
            assert!(
                msg.ends_with(&format!("\n\n{ACCEPTED_SCHEDULES}")),
                "ends with the accepted forms: {msg}"
            );
        }
        // Control characters from the input are escaped in the message.
        let msg = error("0 9 * * \u{1b}[2J").to_string();
        assert!(!msg.contains('\u{1b}') && msg.contains("\\u{1b}"), "{msg}");
        assert_eq!(
            error("* * * * 8").to_string().lines().next(),
            Some("invalid schedule `* * * * 8`: field 5 (day of week): `8` is out of range 0-7")
        );
    }

    #[test]
    fn rejects_schedules_that_never_fire() {
        for spec in [
            "0 0 30 2 *",
            "0 9 31 4 *",
            "0 9 31 apr,jun,sep,nov *",
            "0 0 0 30 2 *",
            "0 0 0 29 2 * 2027",
            "0 0 0 31 2-4 MON 2027",
        ] {
            let e = error(spec);
            assert_eq!(e, ScheduleError::NeverFires { spec: spec.to_string() }, "{spec}");
            let msg = e.to_string();
            assert!(msg.contains(&format!("`{spec}`")) && msg.contains("day-of-month"));
            assert!(msg.ends_with(&format!("\n\n{ACCEPTED_SCHEDULES}")));
        }
        // Feb 29 does fire (in leap years).
        assert_eq!(
            rfc(&sched("0 0 29 2 *").upcoming(at("2026-01-01T00:00:00Z"), Tz::UTC, 1)),
            ["2028-02-29T00:00:00Z"]
        );
    }

    #[test]
    fn rejects_empty_and_too_long() {
        assert_eq!(error(""), ScheduleError::Empty);
        assert_eq!(error(" \t\n "), ScheduleError::Empty);
        assert_eq!(error(&"0 ".repeat(150)), ScheduleError::TooLong);
        assert_eq!(error(&"x".repeat(300)), ScheduleError::TooLong);
        assert_eq!(error(&"é".repeat(150)), ScheduleError::TooLong);
        for e in [ScheduleError::Empty, ScheduleError::TooLong] {
            assert!(e.to_string().ends_with(&format!("\n\n{ACCEPTED_SCHEDULES}")));
        }
        // 256 bytes is still allowed through to parsing.
        let padded = format!("0 9 * *  {}", "1,".repeat(123) + "1");
        assert_eq!(padded.len(), 256);
        assert!(Schedule::parse(&padded).is_ok());
    }

    #[test]
    fn accepted_schedules_lists_every_form() {
        for needle in [
            "daily 18:00",
            "weekdays 10:00",
            "weekends 11:30",
            "mon,thu 12:30",
            "hourly",
            "0 9 * * 1-5",
            "@daily",
            "@annually",
            "0 0 9 * * MON-FRI",
            "1 = Sunday",
            "0 and 7 = Sunday",
            "12pm (noon)",
        ] {
            assert!(ACCEPTED_SCHEDULES.contains(needle), "{needle}");
        }
        // Every example in the list parses.
        for line in ACCEPTED_SCHEDULES.lines().skip(1) {
            let example = line.trim_start().split("  ").next().unwrap();
            assert!(Schedule::parse(example).is_ok(), "{example}");
        }
    }

    // --- robustness -----------------------------------------------------------------------

    /// A small deterministic generator (no external crates).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[(self.next() as usize) % items.len()]
        }
    }

    #[test]
    fn fuzz_like_inputs_never_panic() {
        const PIECES: &[&str] = &[
            "*",
            "?",
            "/",
            "-",
            ",",
            " ",
            "0",
            "1",
            "2",
            "5",
            "7",
            "9",
            "12",
            "23",
            "24",
            "30",
            "59",
            "60",
            "99",
            "4294967296",
            "*/15",
            "1-5",
            "mon",
            "fri",
            "sun",
            "jan",
            "dec",
            "daily",
            "weekdays",
            "weekends",
            "every",
            "day",
            "at",
            "hourly",
            "am",
            "pm",
            ":",
            "9am",
            "12:30",
            "@",
            "@daily",
            "@hourly",
            "é",
            "日",
            "😀",
            "\u{0}",
            "\t",
            "L",
            "#",
            "W",
            "2027",
            "1969",
            "2101",
        ];
        const SEEDS: &[&str] = &[
            "0 9 * * 1-5",
            "*/30 * * * *",
            "daily 09:00,17:30",
            "mon-fri 9am",
            "0 0 9 * * MON-FRI",
            "0 0 9 1 1 * 2027",
            "0 9 13 * 5",
            "@weekly",
            "weekends 11:30",
            "30 2 * * *",
        ];
        let zones = [
            Tz::UTC,
            zone("America/New_York"),
            zone("Australia/Lord_Howe"),
            zone("Pacific/Apia"),
            zone("Asia/Kathmandu"),
        ];
        let afters = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            at("1969-12-31T23:59:59Z"),
            at("2026-11-01T05:45:00Z"),
            at("2027-03-14T06:59:59Z"),
            at("2100-12-31T23:00:00Z"),
        ];
        let mut rng = Lcg(0x5eed);
        let mut inputs: Vec<String> = Vec::new();
        for _ in 0..300 {
            let n = 1 + (rng.next() % 12) as usize;
            let s: String = (0..n)
                .map(|_| *rng.pick(PIECES))
                .collect::<Vec<_>>()
                .join(if rng.next().is_multiple_of(3) { "" } else { " " });
            inputs.push(s);
        }
        for _ in 0..300 {
            // Mangle a valid schedule: delete, duplicate or replace characters.
            let mut chars: Vec<char> = rng.pick(SEEDS).chars().collect();
            for _ in 0..1 + rng.next() % 3 {
                let i = (rng.next() as usize) % chars.len().max(1);
                match rng.next() % 3 {
                    0 if !chars.is_empty() => {
                        chars.remove(i.min(chars.len() - 1));
                    }
                    1 => chars.insert(i.min(chars.len()), *rng.pick(&['9', '*', ',', 'é', ' ', '/', '-'])),
                    _ if !chars.is_empty() => {
                        let j = i.min(chars.len() - 1);
                        chars[j] = *rng.pick(&['0', '7', 'x', '日', ':', '@', '?']);
                    }
                    _ => {}
                }
            }
            inputs.push(chars.into_iter().collect());
        }
        inputs.extend(SEEDS.iter().map(|s| s.to_string()));
        inputs.push("\u{feff}0 9 * * *".to_string());
        inputs.push("\u{0}".repeat(256));
        inputs.push("😀".repeat(64));
        inputs.push("*".repeat(1000));
        let mut parsed = 0;
        for input in &inputs {
            match Schedule::parse(input) {
                Ok(s) => {
                    parsed += 1;
                    for (i, after) in afters.iter().enumerate() {
                        let tz = zones[i % zones.len()];
                        if let Some(next) = s.next_after(*after, tz) {
                            assert!(next > *after, "{input:?}");
                        }
                        let up = s.upcoming(*after, tz, 3);
                        assert!(up.windows(2).all(|w| w[0] < w[1]), "{input:?}: {up:?}");
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.ends_with(ACCEPTED_SCHEDULES), "{input:?}: {msg}");
                }
            }
        }
        assert!(parsed > SEEDS.len(), "the generator should produce some valid schedules");
    }

    #[test]
    fn extreme_instants_and_counts() {
        let s = sched("* * * * * *");
        let ny = zone("America/New_York");
        assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC, ny), None);
        assert_eq!(s.next_after(DateTime::<Utc>::MIN_UTC, Tz::UTC), Some(at("1970-01-01T00:00:00Z")));
        assert!(s.upcoming(at("2026-01-01T00:00:00Z"), ny, 0).is_empty());
        // A huge `n` neither allocates it nor runs forever.
        let few = sched("0 0 9 1 1 * 2098-2100");
        assert_eq!(few.upcoming(at("2026-01-01T00:00:00Z"), ny, usize::MAX).len(), 3);
        // The last representable year still resolves.
        assert_eq!(rfc(&sched("@yearly").upcoming(at("2100-06-01T00:00:00Z"), ny, 2)), Vec::<String>::new());
        // A seconds schedule straight through the fall-back overlap: every 20 real seconds
        // from 01:00 EDT to 02:00 EST (two wall-clock hours of 01:xx), none doubled or lost.
        let start = at("2026-11-01T05:00:00Z");
        let got = sched("*/20 * * * * *").upcoming(start - TimeDelta::seconds(1), ny, 361);
        assert_eq!(got.first(), Some(&start));
        assert_eq!(got.last(), Some(&at("2026-11-01T07:00:00Z")));
        assert!(got.windows(2).all(|w| w[1] - w[0] == TimeDelta::seconds(20)));
        // Every second, asked from the middle of the first 01:xx hour.
        assert_eq!(s.next_after(at("2026-11-01T05:59:59Z"), ny), Some(at("2026-11-01T06:00:00Z")));
    }

    /// Cross-checks `next_after` against a brute-force reading of the DST rule: every UTC
    /// minute around a transition is turned into its wall time, with no use of chrono's
    /// local-time resolution or chrono-tz's gap information.
    #[test]
    fn brute_force_agrees_around_transitions() {
        let transitions = [
            ("America/New_York", "2026-11-01", "2027-03-14"),
            ("Europe/Berlin", "2026-10-25", "2027-03-28"),
            ("Australia/Adelaide", "2026-10-04", "2027-04-04"),
            // 30-minute DST shift.
            ("Australia/Lord_Howe", "2026-10-04", "2027-04-04"),
            // +12:45 / +13:45.
            ("Pacific/Chatham", "2026-09-27", "2027-04-04"),
            // Transitions at midnight.
            ("America/Havana", "2026-03-08", "2026-11-01"),
            // A 2-hour shift (+00 / +02).
            ("Antarctica/Troll", "2026-03-29", "2026-10-25"),
        ];
        let specs = [
            "30 2 * * *",
            "0,30 1-3 * * *",
            "0 0 * * *",
            "45 1 * * *",
            "*/20 1-3 * * *",
            "*/15 * * * *",
            "0 */2 * * *",
            "10 * * * *",
        ];
        let mut rng = Lcg(42);
        for (name, a, b) in transitions {
            let tz = zone(name);
            for day in [a, b] {
                let centre = at(&format!("{day}T00:00:00Z"));
                let (from, to) = (centre - TimeDelta::days(2), centre + TimeDelta::days(2));
                let minutes: Vec<DateTime<Utc>> =
                    (0..).map(|i| from + TimeDelta::minutes(i)).take_while(|t| *t <= to).collect();
                let wall = |t: &DateTime<Utc>| t.with_timezone(&tz).naive_local();
                for spec in specs {
                    let schedule = sched(spec);
                    let matches =
                        |w: NaiveDateTime| schedule.inner.crons.iter().any(|c| c.includes(w.and_utc()));
                    let mut expected: BTreeSet<DateTime<Utc>> = BTreeSet::new();
                    if schedule.is_fixed_time() {
                        // Earliest instant showing each matching wall time.
                        let mut shown: BTreeSet<NaiveDateTime> = BTreeSet::new();
                        for t in &minutes {
                            let w = wall(t);
                            if shown.insert(w) && matches(w) {
                                expected.insert(*t);
                            }
                        }
                        // Matching wall times no instant shows fire at the end of the gap.
                        let (lo, hi) = (wall(&minutes[0]), wall(&minutes[minutes.len() - 1]));
                        let mut w = lo;
                        while w <= hi {
                            if matches(w) && !shown.contains(&w) {
                                let end = minutes
                                    .windows(2)
                                    .find(|p| wall(&p[0]) < w && wall(&p[1]) > w)
                                    .map(|p| p[1]);
                                expected.insert(end.unwrap());
                            }
                            w += TimeDelta::minutes(1);
                        }
                    } else {
                        expected.extend(minutes.iter().filter(|t| matches(wall(t))));
                    }
                    for _ in 0..25 {
                        let offset = 36 * 3600 + (rng.next() % (24 * 3600)) as i64;
                        let after = from + TimeDelta::seconds(offset);
                        let want = expected.range(after + TimeDelta::seconds(1)..).next();
                        assert_eq!(
                            schedule.next_after(after, tz).as_ref(),
                            want,
                            "{spec} in {name} after {after}"
                        );
                    }
                    // And from exactly each expected instant and one second before it.
                    let near: Vec<_> = expected
                        .range(from + TimeDelta::hours(36)..to - TimeDelta::hours(36))
                        .copied()
                        .collect();
                    for t in near {
                        let want = expected.range(t + TimeDelta::seconds(1)..).next();
                        assert_eq!(schedule.next_after(t, tz).as_ref(), want, "{spec} {name} {t}");
                        let before = t - TimeDelta::seconds(1);
                        assert_eq!(schedule.next_after(before, tz), Some(t), "{spec} {name} {t}");
                    }
                }
            }
        }
    }

    // --- time zones -----------------------------------------------------------------------

    #[test]
    fn parse_tz_accepts_iana_names_case_insensitively() {
        assert_eq!(parse_tz("Europe/Berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(parse_tz("europe/berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(parse_tz(" AMERICA/NEW_YORK "), Ok(Tz::America__New_York));
        assert_eq!(parse_tz("UTC"), Ok(Tz::UTC));
    }

    #[test]
    fn parse_tz_suggests_close_matches() {
        let e = parse_tz("Europe/Berln").unwrap_err();
        assert_eq!(e.input, "Europe/Berln");
        assert!(e.suggestions.contains(&"Europe/Berlin".to_string()), "{e:?}");
        assert!(e.suggestions.len() <= 3);
        assert_eq!(e.suggestions.first().map(String::as_str), Some("Europe/Berlin"));
        let msg = e.to_string();
        assert!(msg.starts_with("unknown time zone `Europe/Berln`; did you mean Europe/Berlin"), "{msg}");
        assert!(msg.ends_with("? Use an IANA name such as Europe/Berlin or America/New_York."));
        let e = parse_tz("Mars/Olympus").unwrap_err();
        assert_eq!(e.input, "Mars/Olympus");
        assert!(e.to_string().contains("unknown time zone `Mars/Olympus`"));
        assert!(parse_tz("berlin").unwrap_err().suggestions.contains(&"Europe/Berlin".to_string()));
        for junk in ["", "日本", &"x".repeat(10_000), "Europe/", "/"] {
            assert!(parse_tz(junk).is_err(), "{junk:?}");
        }
    }
}
