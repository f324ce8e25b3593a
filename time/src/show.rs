//! The one way Clout shows an instant to a person: in a zone, to the minute,
//! with the weekday, and the year only when it is not the current one.
//! `clout`'s screens and `cloutd`'s error messages both use it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// `Sat 29 Nov 09:00 CET`, or `Sat 29 Nov 2025 09:00 CET` when the year is not
/// the year of `now` in `tz`.
pub fn show_time(t: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> String {
    let lt = t.with_timezone(&tz);
    let this_year = now.with_timezone(&tz).format("%Y").to_string();
    if lt.format("%Y").to_string() == this_year {
        lt.format("%a %d %b %H:%M %Z").to_string()
    } else {
        lt.format("%a %d %b %Y %H:%M %Z").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn shows_the_local_minute_and_the_year_only_when_it_differs() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 6, 52, 48).single().expect("time");
        let t = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).single().expect("time");
        assert_eq!(show_time(t, chrono_tz::Europe::Berlin, now), "Wed 02 Dec 10:00 CET");
        let t = Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).single().expect("time");
        assert_eq!(show_time(t, chrono_tz::Europe::Berlin, now), "Mon 04 Jan 2027 09:00 CET");
    }
}
