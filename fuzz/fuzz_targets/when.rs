//! The CLI's time-phrase parser (`--at`, `--once`) on arbitrary text.
//!
//! `cli/src/when.rs` lives in the `clout` binary crate, so it is compiled in
//! here as a module. Every phrase is read at a few fixed instants (an ordinary
//! day and the days the clocks change in Europe and North America) in zones with
//! odd offsets and DST rules. A phrase may be refused, but an accepted one must
//! be strictly after "now", and no input may panic.

#![no_main]

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../cli/src/when.rs"]
mod when;

const NOWS: [&str; 4] = [
    "2026-11-28T13:07:42.5Z",
    // The night Europe goes back to winter time (01:00 UTC).
    "2026-10-25T00:30:00Z",
    // Just before New York springs forward (07:00 UTC).
    "2027-03-14T06:59:59Z",
    // Late on the last day of a year, near the end of a month.
    "2026-12-31T23:59:59.999999999Z",
];

const ZONES: [Tz; 6] = [
    Tz::UTC,
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::Asia__Kolkata,
    Tz::Australia__Lord_Howe,
    Tz::Pacific__Chatham,
];

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for now in NOWS {
        let now: DateTime<Utc> = match DateTime::parse_from_rfc3339(now) {
            Ok(t) => t.to_utc(),
            Err(e) => panic!("bad fixed instant {now}: {e}"),
        };
        for tz in ZONES {
            match when::parse_when(input, now, tz) {
                Ok(at) => assert!(at > now, "{input:?} in {tz} at {now} was read as {at}, not after now"),
                Err(e) => {
                    // The message is built for every refusal: it must not panic either.
                    let msg = e.to_string();
                    assert!(!msg.is_empty());
                }
            }
        }
    }
});
