//! Tests of schedule parsing and occurrences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;

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
const BERLIN_GAP_0230: &[&str] = &["2027-03-27T01:30:00Z", "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"];
const NY_OVERLAP_0130: &[&str] = &["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"];
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
const KOLKATA_DAILY_0900: &[&str] = &["2026-06-01T03:30:00Z", "2026-06-02T03:30:00Z", "2026-06-03T03:30:00Z"];
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
const ADELAIDE_GAP_0230: &[&str] = &["2026-10-02T17:00:00Z", "2026-10-03T16:30:00Z", "2026-10-04T16:00:00Z"];
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
    assert_eq!(occurrences("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00:00Z", 3), BERLIN_OVERLAP_0230);
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
    assert_eq!(occurrences("30 2 * * *", "Australia/Adelaide", "2026-10-02T12:00:00Z", 3), ADELAIDE_GAP_0230);
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
        sched("0 9 13 * *").upcoming(at("2026-10-01T00:00:00Z"), Tz::UTC, 5).iter().all(|t| t.day() == 13)
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
        assert!(msg.ends_with(&format!("\n\n{ACCEPTED_SCHEDULES}")), "ends with the accepted forms: {msg}");
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
                let matches = |w: NaiveDateTime| schedule.inner.crons.iter().any(|c| c.includes(w.and_utc()));
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
                            let end =
                                minutes.windows(2).find(|p| wall(&p[0]) < w && wall(&p[1]) > w).map(|p| p[1]);
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
                let near: Vec<_> =
                    expected.range(from + TimeDelta::hours(36)..to - TimeDelta::hours(36)).copied().collect();
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

// --- the time-of-day grammar shared with `clout --at` ---------------------------------

#[test]
fn times_of_day_in_the_shared_grammar() {
    let after = at("2026-06-01T00:00:00Z");
    let same = |a: &str, b: &str| {
        assert_eq!(
            sched(a).upcoming(after, Tz::UTC, 10),
            sched(b).upcoming(after, Tz::UTC, 10),
            "{a} vs {b}"
        );
    };
    // `a.m.`/`p.m.`, attached or apart, in any case; these used to be refused here.
    same("daily 9 a.m.", "0 9 * * *");
    same("daily 9a.m.", "0 9 * * *");
    same("daily 9 A.M.", "0 9 * * *");
    same("daily 5:30 p.m.", "30 17 * * *");
    same("weekdays 9 a.m.,5 p.m.", "0 9,17 * * 1-5");
    same("daily 9 am,5 pm", "0 9,17 * * *");
    same("fridays 9 a.m.", "0 9 * * 5");
    // Seconds: 6-field cron with the second first.
    same("daily 9:30:15", "15 30 9 * * *");
    same("daily 9:30:15 p.m.", "15 30 21 * * *");
    assert_eq!(
        rfc(&sched("daily 21:05:30, 9:30:15").upcoming(after, Tz::UTC, 2)),
        ["2026-06-01T09:30:15Z", "2026-06-01T21:05:30Z"]
    );
    same("daily 9:30:00", "30 9 * * *");
    assert_eq!(rfc(&sched("daily 9:30:15").upcoming(after, Tz::UTC, 1)), ["2026-06-01T09:30:15Z"]);
    // Distinct seconds of one minute stay distinct.
    assert_eq!(
        rfc(&sched("daily 9:30:15,9:30:45").upcoming(after, Tz::UTC, 2)),
        ["2026-06-01T09:30:15Z", "2026-06-01T09:30:45Z"]
    );
    assert!(sched("daily 9:30:15").is_fixed_time());
    for (spec, reason) in [
        ("daily 9:30:15.5", "whole seconds"),
        ("daily 9:30:5", "two-digit seconds"),
        ("daily 9:30:60", "second 60"),
        ("daily 13 p.m.", "1-12"),
        ("9 a.m.", "is missing"),
    ] {
        let ScheduleError::Invalid { reason: got, .. } = error(spec) else {
            panic!("{spec}: expected Invalid");
        };
        assert!(got.contains(reason), "{spec}: {got}");
    }
}

/// The rule the README states, checked on the cases it names: a fixed-hour schedule fires
/// once at the end of a gap and once at the first instant of a fold; an interval schedule
/// skips the gap and fires at both instants of the fold; only the hour field decides.
#[test]
fn dst_rule_as_documented() {
    let ny = zone("America/New_York");
    // Fixed hour in the gap (02:30 on 2027-03-14 does not exist): 03:00 EDT.
    assert_eq!(
        occurrences("daily 2:30", "America/New_York", "2027-03-13T12:00:00Z", 1),
        ["2027-03-14T07:00:00Z"]
    );
    // Fixed hour in the fold (01:30 on 2026-11-01 happens twice): once, 01:30 EDT.
    assert_eq!(
        occurrences("daily 1:30", "America/New_York", "2026-10-31T12:00:00Z", 2),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    );
    // A `*` in the minute field with a fixed hour is still fixed-time (cronie would call it
    // a wildcard job): every 15 minutes of 01:xx fires once, in the first 01:xx hour.
    let s = sched("*/15 1 * * *");
    assert!(s.is_fixed_time());
    assert_eq!(
        rfc(&s.upcoming(at("2026-11-01T04:00:00Z"), ny, 5)),
        [
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:15:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T05:45:00Z",
            "2026-11-02T06:00:00Z"
        ]
    );
    // An hour step is an interval schedule: wall times are matched at every instant, so
    // `0 */2` fires at 00:00 EDT and 02:00 EST in the fold day (3 real hours apart) ...
    assert_eq!(
        rfc(&sched("0 */2 * * *").upcoming(at("2026-11-01T03:00:00Z"), ny, 2)),
        ["2026-11-01T04:00:00Z", "2026-11-01T07:00:00Z"]
    );
    // ... and `hourly` fires at 01:00 EDT and 01:00 EST, then skips the 02:00 that does not
    // exist in spring.
    assert_eq!(
        rfc(&sched("hourly").upcoming(at("2026-11-01T04:30:00Z"), ny, 2)),
        ["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"]
    );
    assert_eq!(
        rfc(&sched("hourly").upcoming(at("2027-03-14T05:30:00Z"), ny, 2)),
        ["2027-03-14T06:00:00Z", "2027-03-14T07:00:00Z"]
    );
    assert_eq!(
        local(&rfc(&sched("hourly").upcoming(at("2027-03-14T05:30:00Z"), ny, 2)), "America/New_York"),
        ["Sun 2027-03-14 01:00", "Sun 2027-03-14 03:00"]
    );
    // A 2-hour gap (Antarctica/Troll, 01:00 UTC on 2026-03-29): 02:30 fires at its end.
    assert_eq!(
        occurrences("daily 2:30", "Antarctica/Troll", "2026-03-28T12:00:00Z", 1),
        ["2026-03-29T01:00:00Z"]
    );
}
