//! Schedules (`--every`, posting slots) and zone names on arbitrary text.
//!
//! The first 9 bytes pick the instant to count from (byte 0: the mode, bytes
//! 1..9: seconds); the rest is the schedule and, separately, a zone name. An
//! accepted schedule's next occurrences, in several zones, must be strictly
//! increasing and after the instant, and `next_after` must agree with the first
//! of `upcoming`.

#![no_main]

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clout_daemon::recurrence::{Schedule, parse_tz};
use libfuzzer_sys::fuzz_target;

const ZONES: [Tz; 5] =
    [Tz::UTC, Tz::Europe__Berlin, Tz::America__New_York, Tz::Australia__Adelaide, Tz::Australia__Lord_Howe];

/// Seconds up to early 2112: past the last year the cron engine knows (2100).
const SPAN_SECS: u64 = 4_480_000_000;

fn instant(head: &[u8; 9]) -> DateTime<Utc> {
    let mut secs = [0u8; 8];
    secs.copy_from_slice(&head[1..]);
    let secs = u64::from_le_bytes(secs);
    match head[0] {
        0 => DateTime::<Utc>::MIN_UTC,
        1 => DateTime::<Utc>::MAX_UTC,
        m => {
            let s = (secs % SPAN_SECS) as i64;
            let nanos = if m % 2 == 0 { 0 } else { (secs >> 33) as u32 % 1_000_000_000 };
            DateTime::from_timestamp(s, nanos).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<9>() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let after = instant(head);

    // The zone name: the last line (a schedule is one line). An unknown name's
    // suggestions are costly to compute, so only some inputs try one.
    let mut zones = ZONES.to_vec();
    if head[0] % 4 == 3 || text.contains('\n') {
        match parse_tz(text.lines().last().unwrap_or(text)) {
            Ok(tz) => zones.push(tz),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    let spec = text.lines().next().unwrap_or("");
    let schedule = match Schedule::parse(spec) {
        Ok(s) => s,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert_eq!(schedule.spec(), spec.trim());
    for tz in zones {
        let next = schedule.upcoming(after, tz, 6);
        assert_eq!(next.first().copied(), schedule.next_after(after, tz), "{spec:?} in {tz} after {after}");
        let mut prev = after;
        for t in &next {
            assert!(*t > prev, "{spec:?} in {tz} after {after}: {next:?} is not strictly increasing");
            prev = *t;
        }
    }
});
