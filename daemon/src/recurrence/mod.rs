//! Schedule expressions for the program's posting slots and recurring tasks, and the
//! instants at which they fire in an IANA time zone. Parsing lives in [`parse`]; this
//! module holds [`Schedule`] and the occurrence search.
//!
//! # Accepted forms
//!
//! Input is trimmed and case-insensitive, at most 256 bytes. See [`ACCEPTED_SCHEDULES`].
//!
//! * **Friendly forms**: `daily 18:00`, `every day 9am`, `weekdays 10:00`, `weekends 11:30`,
//!   day lists and ranges such as `mon,thu 12:30`, `mon-fri 9am`, `sat 10:00`, and `hourly`
//!   (minute 0 of every hour). Several times may follow the days: `daily 09:00,17:30`.
//!   Times and day names are the shared grammar of [`clout_time`], the same as
//!   `clout --at`: `HH:MM`, `H:MM`, `HH:MM:SS`, `9am`, `9 am`, `9 a.m.`, `5:30pm`,
//!   `5:30 p.m.`, `12pm` (noon), `12am` (midnight), `noon` and `midnight` (a fraction of a
//!   second is refused: schedules fire on whole seconds). Day names are `mon`/`monday` …
//!   `sun`/`sunday` (also `tues`, `thurs`, plurals such as `fridays`); a day range may
//!   wrap (`fri-mon`).
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
//! Crontab and friendly forms are translated to `cron` crate expressions (the seconds
//! prepended, day-of-week always emitted as names, never as crontab numbers); a schedule
//! may be the union of several such expressions (the OR rule, several times of day).
//! The `cron` crate only knows the years 1970-2100, so no occurrence lies outside them.
//!
//! # Fixed-time and interval schedules
//!
//! A schedule is **fixed-time** when its hour field names specific hours: the field
//! contains neither `*` nor a step `/` (`0 9 * * *`, `30 1,13 * * *`, `0 8-18 * * *`,
//! `*/15 9 * * *`). Only the hour field counts. All friendly forms with times and the
//! macros `@daily` … `@yearly` are fixed-time. Everything else is an **interval**
//! schedule: `hourly`, `@hourly`, `*/15 * * * *`, `0 */2 * * *`, `0 8-18/2 * * *`.
//!
//! # Daylight saving time rule
//!
//! 1. Occurrences are computed in wall-clock time: the `cron` schedule is evaluated in
//!    `Utc` with naive local times treated as if they were UTC, and each matching naive
//!    local time is then resolved into the zone by [`clout_time::dst`].
//! 2. **Fixed-time** schedules ([`clout_time::resolve_fixed`]): a wall time that occurs
//!    twice (fall-back fold) fires once, at the earlier instant. A wall time that does not
//!    exist (spring-forward gap) fires once at the first instant after the gap, i.e. the
//!    transition instant: `02:30` on 2027-03-14 in America/New_York fires at 03:00 EDT
//!    (07:00Z).
//! 3. **Interval** schedules ([`clout_time::resolve_interval`]): every instant whose wall
//!    time matches fires, so both instants of a repeated wall time fire (every 30 minutes
//!    fires at 01:00 EDT, 01:30 EDT, 01:00 EST, 01:30 EST) and wall times inside a gap are
//!    skipped (`*/30` fires at 01:30 EST then 03:00 EDT).
//! 4. Occurrences are strictly increasing and never duplicated: when a gap time is moved to
//!    the transition instant and another occurrence falls on that same instant, it fires once.
//! 5. Gaps and folds are the zone's, of any length (30 minutes on Lord Howe, 2 hours on
//!    Troll): unlike cronie, there is no 3-hour limit on what counts as a DST change, and
//!    unlike cronie a `*` in the minute field alone does not make a schedule an interval one.
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
//! Zone names are parsed by [`parse_tz`] (from [`clout_time`]), which also accepts any
//! letter case and suggests close matches for unknown names.

mod parse;
mod rrule;
#[cfg(test)]
mod tests;

use std::fmt;
use std::iter::Peekable;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use clout_time::{printable, utc_offset_seconds, wall_time};

pub use clout_time::{TzError, parse_tz};

use parse::{invalid, translate};
pub use rrule::RRule;

/// Every accepted schedule form, one per line, with an example. Appended to every
/// [`ScheduleError`] message.
pub const ACCEPTED_SCHEDULES: &str = "\
Accepted schedules (case-insensitive):
  daily 18:00          every day at a time: 18:00, 9:05, 9:30:15, 9am, 9 a.m., 5:30pm, 12pm (noon), 12am (midnight); several: `daily 09:00,17:30`, also `every day 9am`
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
        if self.inner.fixed_time {
            [clout_time::resolve_fixed(tz, wall), None]
        } else {
            clout_time::resolve_interval(tz, wall)
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec())
    }
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
    let (mut prev, mut prev_offset) = (from, utc_offset_seconds(tz, from));
    while prev < to {
        let next = prev.checked_add_signed(step).map_or(to, |t| t.min(to));
        let offset = utc_offset_seconds(tz, next);
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
                if utc_offset_seconds(tz, mid) == prev_offset {
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
