//! `VTIMEZONE` components for the calendar feed. RFC 5545 (3.6.5) asks for
//! one for every `TZID` an event names, so a calendar app that does not know
//! IANA zone names by heart still places a recurring task at the right local
//! time. Each zone is written as its offsets over a span of years, read from
//! the zone database: one observance (`STANDARD` or `DAYLIGHT`) per change
//! of offset, each with its onset in the local time before the change, the
//! offsets from and to, and the zone's abbreviation. Past the span, an app
//! keeps the last offset, as the RFC says of an observance without a rule.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// One change of a zone's offset: at `at` (UTC) from `from` to `to` seconds east of UTC.
#[derive(Debug, Clone, PartialEq)]
struct Change {
    at: DateTime<Utc>,
    from: i32,
    to: i32,
    daylight: bool,
    name: Option<String>,
}

fn offset_at(tz: Tz, at: DateTime<Utc>) -> (i32, bool, Option<String>) {
    let o = tz.offset_from_utc_datetime(&at.naive_utc());
    (o.fix().local_minus_utc(), !o.dst_offset().is_zero(), o.abbreviation().map(str::to_string))
}

/// The offset in effect at `from`, then every change up to `until`.
fn changes(tz: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> (Change, Vec<Change>) {
    let (offset, daylight, name) = offset_at(tz, from);
    let first = Change { at: from, from: offset, to: offset, daylight, name };
    let mut found = Vec::new();
    let mut before = (offset, daylight);
    let mut day = from;
    while day < until {
        let next = day + Duration::days(1);
        let (o, d, _) = offset_at(tz, next);
        if (o, d) != before {
            // Within the day: halve until the second of the change.
            let (mut lo, mut hi) = (day.timestamp(), next.timestamp());
            let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or(day);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let (o, d, _) = offset_at(tz, at(mid));
                if (o, d) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = at(hi);
            let (to, daylight, name) = offset_at(tz, hi);
            found.push(Change { at: hi, from: before.0, to, daylight, name });
            before = (to, daylight);
        }
        day = next;
    }
    (first, found)
}

/// `+HHMM`, or `+HHMMSS` when the offset has seconds.
fn utc_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let s = secs.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 { format!("{sign}{h:02}{m:02}") } else { format!("{sign}{h:02}{m:02}{sec:02}") }
}

fn local(at: DateTime<Utc>, offset: i32) -> NaiveDateTime {
    at.naive_utc() + Duration::seconds(i64::from(offset))
}

fn observance(out: &mut String, c: &Change) {
    let kind = if c.daylight { "DAYLIGHT" } else { "STANDARD" };
    out.push_str(&format!("BEGIN:{kind}\r\n"));
    out.push_str(&format!("DTSTART:{}\r\n", local(c.at, c.from).format("%Y%m%dT%H%M%S")));
    out.push_str(&format!("TZOFFSETFROM:{}\r\n", utc_offset(c.from)));
    out.push_str(&format!("TZOFFSETTO:{}\r\n", utc_offset(c.to)));
    if let Some(name) =
        c.name.as_deref().filter(|n| n.chars().all(|ch| ch.is_ascii_alphanumeric() || "+-".contains(ch)))
    {
        out.push_str(&format!("TZNAME:{name}\r\n"));
    }
    out.push_str(&format!("END:{kind}\r\n"));
}

/// The `VTIMEZONE` of `tz` from `from` to `until`, lines ending in CRLF.
pub fn component(tz: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let (first, rest) = changes(tz, from, until);
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", tz.name());
    observance(&mut out, &first);
    for c in &rest {
        observance(&mut out, c);
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

/// Puts the components before the calendar's `END:VCALENDAR`.
pub fn insert(calendar: String, components: &[String]) -> String {
    if components.is_empty() {
        return calendar;
    }
    match calendar.rfind("END:VCALENDAR") {
        Some(at) => {
            let mut out =
                String::with_capacity(calendar.len() + components.iter().map(String::len).sum::<usize>());
            out.push_str(&calendar[..at]);
            components.iter().for_each(|c| out.push_str(c));
            out.push_str(&calendar[at..]);
            out
        }
        None => calendar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn berlin_changes_at_its_daylight_saving_switches() {
        let tz: Tz = "Europe/Berlin".parse().expect("zone");
        let (first, rest) = changes(tz, utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
        assert_eq!((first.to, first.daylight, first.name.as_deref()), (3600, false, Some("CET")));
        assert_eq!(rest.len(), 2, "{rest:?}");
        // 29 March 2026, 01:00 UTC (02:00 CET) and 25 October 2026, 01:00 UTC (03:00 CEST).
        assert_eq!(
            rest[0],
            Change {
                at: utc("2026-03-29T01:00:00Z"),
                from: 3600,
                to: 7200,
                daylight: true,
                name: Some("CEST".into())
            }
        );
        assert_eq!(
            (rest[1].at, rest[1].from, rest[1].to, rest[1].daylight),
            (utc("2026-10-25T01:00:00Z"), 7200, 3600, false)
        );
        let text = component(tz, utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
        assert!(text.starts_with("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n"), "{text}");
        assert!(
            text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n"),
            "{text}"
        );
        assert!(
            text.contains("DTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"),
            "{text}"
        );
        assert!(text.ends_with("END:VTIMEZONE\r\n"));
    }

    #[test]
    fn zones_without_changes_and_odd_offsets() {
        let span = (utc("2026-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z"));
        let kolkata: Tz = "Asia/Kolkata".parse().expect("zone");
        let (first, rest) = changes(kolkata, span.0, span.1);
        assert!(rest.is_empty());
        assert_eq!(utc_offset(first.to), "+0530");
        assert_eq!(utc_offset(-9000), "-0230");
        assert_eq!(utc_offset(-(3600 + 61)), "-010101");
        // The southern hemisphere: daylight time in January.
        let sydney: Tz = "Australia/Sydney".parse().expect("zone");
        let (first, rest) = changes(sydney, span.0, span.1);
        assert!(first.daylight);
        assert_eq!(rest.len(), 4);
        assert!(!rest[0].daylight && rest[1].daylight);
        let utc_tz = chrono_tz::UTC;
        let text = component(utc_tz, span.0, span.1);
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1, "{text}");
        assert!(text.contains("TZOFFSETTO:+0000"));
    }

    #[test]
    fn components_go_before_the_end_of_the_calendar() {
        let cal =
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_string();
        let out = insert(cal.clone(), &["BEGIN:VTIMEZONE\r\nEND:VTIMEZONE\r\n".into()]);
        assert!(
            out.ends_with("END:VEVENT\r\nBEGIN:VTIMEZONE\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"),
            "{out}"
        );
        assert_eq!(insert(cal.clone(), &[]), cal);
    }
}
