//! The daylight saving time rule: how a wall-clock time in a zone becomes an instant.
//!
//! A wall time (a date and a time of day with no offset) falls into one of three cases,
//! found by [`locate`]:
//!
//! * it occurs once ([`WallTime::Single`]);
//! * it occurs twice, in the **fold** after the clocks go back ([`WallTime::Fold`]):
//!   `01:30` on 2026-11-01 in America/New_York is 05:30Z (EDT) and 06:30Z (EST);
//! * it does not occur, in the **gap** when the clocks go forward ([`WallTime::Gap`]):
//!   `02:30` on 2027-03-14 in America/New_York; the gap ends at 03:00 EDT (07:00Z).
//!
//! Three readings use these cases, one per kind of time Clout is given:
//!
//! | reading | fold | gap |
//! | --- | --- | --- |
//! | [`resolve_once`]: a one-off time (`clout … --at`) | the earlier instant | none (refused) |
//! | [`resolve_fixed`]: a fixed-hour schedule (`daily 02:30`, `30 2 * * *`) | the earlier instant | the end of the gap |
//! | [`resolve_interval`]: an interval schedule (`*/15 * * * *`, `hourly`) | both instants | none (skipped) |
//!
//! The gap and fold are whatever the zone's rules say, of any length (the 30-minute shift of
//! Australia/Lord_Howe, the 2-hour one of Antarctica/Troll, or a zone changing its standard
//! offset); no clock-jump limit applies.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

/// Where a wall-clock time falls in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WallTime {
    /// The wall time occurs once, at this instant.
    Single(DateTime<Utc>),
    /// The wall time occurs twice (the clocks went back).
    Fold {
        /// Its first occurrence.
        earlier: DateTime<Utc>,
        /// Its second occurrence.
        later: DateTime<Utc>,
    },
    /// The wall time does not occur (the clocks went forward).
    Gap {
        /// The first instant after the gap (the transition instant); `None` only at the
        /// very ends of chrono's range.
        end: Option<DateTime<Utc>>,
    },
}

/// Where `wall` falls in `tz`.
pub fn locate(tz: Tz, wall: NaiveDateTime) -> WallTime {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => WallTime::Single(t.to_utc()),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.to_utc(), b.to_utc());
            WallTime::Fold { earlier: a.min(b), later: a.max(b) }
        }
        LocalResult::None => {
            WallTime::Gap { end: GapInfo::new(&wall, &tz).and_then(|gap| gap.end).map(|t| t.to_utc()) }
        }
    }
}

/// A one-off time: the earlier instant in a fold, `None` in a gap (the caller refuses it).
pub fn resolve_once(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match locate(tz, wall) {
        WallTime::Single(t) | WallTime::Fold { earlier: t, .. } => Some(t),
        WallTime::Gap { .. } => None,
    }
}

/// A fixed-hour schedule's time: the earlier instant in a fold (it fires once), the end of
/// the gap in a gap (it fires once, at the transition instant).
pub fn resolve_fixed(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match locate(tz, wall) {
        WallTime::Single(t) | WallTime::Fold { earlier: t, .. } => Some(t),
        WallTime::Gap { end } => end,
    }
}

/// An interval schedule's time: both instants in a fold (it fires twice, following real
/// time), none in a gap (it is skipped).
pub fn resolve_interval(tz: Tz, wall: NaiveDateTime) -> [Option<DateTime<Utc>>; 2] {
    match locate(tz, wall) {
        WallTime::Single(t) => [Some(t), None],
        WallTime::Fold { earlier, later } => [Some(earlier), Some(later)],
        WallTime::Gap { .. } => [None, None],
    }
}

/// The UTC offset of `tz` at the UTC instant `utc`, in seconds.
pub fn utc_offset_seconds(tz: Tz, utc: NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

/// The wall-clock time `tz` shows at the UTC instant `utc`; `None` only at the very ends of
/// chrono's range.
pub fn wall_time(tz: Tz, utc: NaiveDateTime) -> Option<NaiveDateTime> {
    utc.checked_add_signed(TimeDelta::seconds(i64::from(utc_offset_seconds(tz, utc))))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Antarctica::Troll;
    use chrono_tz::Australia::Lord_Howe;
    use chrono_tz::Europe::Berlin;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn single_fold_and_gap() {
        assert_eq!(locate(New_York, wall("2026-11-02 01:30")), WallTime::Single(utc("2026-11-02T06:30:00Z")));
        assert_eq!(
            locate(New_York, wall("2026-11-01 01:30")),
            WallTime::Fold { earlier: utc("2026-11-01T05:30:00Z"), later: utc("2026-11-01T06:30:00Z") }
        );
        assert_eq!(
            locate(New_York, wall("2027-03-14 02:30")),
            WallTime::Gap { end: Some(utc("2027-03-14T07:00:00Z")) }
        );
        assert_eq!(
            locate(Berlin, wall("2027-03-28 02:00")),
            WallTime::Gap { end: Some(utc("2027-03-28T01:00:00Z")) }
        );
    }

    #[test]
    fn the_three_readings() {
        let (fold, gap) = (wall("2026-11-01 01:30"), wall("2027-03-14 02:30"));
        assert_eq!(resolve_once(New_York, fold), Some(utc("2026-11-01T05:30:00Z")));
        assert_eq!(resolve_once(New_York, gap), None);
        assert_eq!(resolve_fixed(New_York, fold), Some(utc("2026-11-01T05:30:00Z")));
        assert_eq!(resolve_fixed(New_York, gap), Some(utc("2027-03-14T07:00:00Z")));
        assert_eq!(
            resolve_interval(New_York, fold),
            [Some(utc("2026-11-01T05:30:00Z")), Some(utc("2026-11-01T06:30:00Z"))]
        );
        assert_eq!(resolve_interval(New_York, gap), [None, None]);
        let plain = wall("2026-06-01 09:00");
        let at = Some(utc("2026-06-01T13:00:00Z"));
        assert_eq!((resolve_once(New_York, plain), resolve_fixed(New_York, plain)), (at, at));
        assert_eq!(resolve_interval(New_York, plain), [at, None]);
    }

    #[test]
    fn gaps_of_any_length() {
        // Lord Howe moves its clocks by 30 minutes: 02:00 -> 02:30 (+10:30 -> +11).
        assert_eq!(resolve_fixed(Lord_Howe, wall("2026-10-04 02:15")), Some(utc("2026-10-03T15:30:00Z")));
        assert_eq!(resolve_once(Lord_Howe, wall("2026-10-04 02:15")), None);
        // Troll moves by 2 hours: 01:00 UTC -> 03:00 (+02).
        assert_eq!(resolve_fixed(Troll, wall("2026-03-29 02:30")), Some(utc("2026-03-29T01:00:00Z")));
    }

    #[test]
    fn wall_times() {
        let at = utc("2026-11-01T06:30:00Z").naive_utc();
        assert_eq!(wall_time(New_York, at), Some(wall("2026-11-01 01:30")));
        assert_eq!(utc_offset_seconds(New_York, at), -5 * 3600);
        assert_eq!(wall_time(New_York, NaiveDateTime::MIN), None);
    }
}
