//! Weekday names and sets of days, one grammar for `--at` phrases (`fri 17:30`) and
//! `--every` schedules (`mon-fri 9am`).
//!
//! * A **weekday name** ([`parse_weekday`]) is `mon`/`monday`, `tue`/`tues`/`tuesday`,
//!   `wed`/`weds`/`wednesday`, `thu`/`thur`/`thurs`/`thursday`, `fri`/`friday`,
//!   `sat`/`saturday`, `sun`/`sunday`, or a plural of a name longer than three letters
//!   (`mondays`, `fridays`, `tuesdays`), in any letter case.
//! * A **day set** ([`parse_days`]) is `daily` (also `day`, `days`, `everyday`), `weekdays`
//!   (`weekday`: Monday to Friday), `weekends` (`weekend`: Saturday and Sunday), or a
//!   comma list of names and ranges: `mon,thu`, `mon-fri`, `sat`. Ranges run Monday-first
//!   and may wrap past Sunday: `fri-mon` is Friday, Saturday, Sunday, Monday.

use chrono::Weekday;

use crate::zone::did_you_mean;

/// Day names; each maps to a weekday.
const NAMES: &[(&str, Weekday)] = &[
    ("mon", Weekday::Mon),
    ("monday", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("tues", Weekday::Tue),
    ("tuesday", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("weds", Weekday::Wed),
    ("wednesday", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("thur", Weekday::Thu),
    ("thurs", Weekday::Thu),
    ("thursday", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("friday", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("saturday", Weekday::Sat),
    ("sun", Weekday::Sun),
    ("sunday", Weekday::Sun),
];

/// The words a misspelt day is compared with for a suggestion.
pub const DAY_WORDS: &[&str] = &[
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

/// A set of weekdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DaySet(u8);

impl DaySet {
    /// Every day.
    pub const ALL: DaySet = DaySet(0b111_1111);
    /// Monday to Friday.
    pub const WEEKDAYS: DaySet = DaySet(0b011_1110);
    /// Saturday and Sunday.
    pub const WEEKENDS: DaySet = DaySet(0b100_0001);

    fn bit(day: Weekday) -> u8 {
        1 << day.num_days_from_sunday()
    }

    /// Adds a day.
    pub fn insert(&mut self, day: Weekday) {
        self.0 |= Self::bit(day);
    }

    /// Whether the set holds `day`.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    /// How many days the set holds.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Sunday first (crontab order: 0 = Sunday … 6 = Saturday).
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        let mut day = Weekday::Sun;
        (0..7).filter_map(move |_| {
            let this = day;
            day = day.succ();
            self.contains(this).then_some(this)
        })
    }
}

/// Why a day set was refused. The messages stand alone: "`blursday` is not a day; use …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaysError {
    /// A list with an empty entry (`mon,,thu`).
    #[error("`{text}` has an empty entry between commas")]
    EmptyEntry {
        /// The whole day text.
        text: String,
    },
    /// A range with a side missing (`mon-`).
    #[error("a day range is missing a day name, e.g. `mon-fri`")]
    MissingDay,
    /// A word that names no day.
    #[error(
        "`{word}` is not a day{}; use mon/monday .. sun/sunday, daily, every day, weekdays or weekends",
        did_you_mean(.word, DAY_WORDS)
    )]
    NotADay {
        /// The word as given.
        word: String,
    },
}

/// Reads one weekday name (see the [module documentation](self)), any letter case.
pub fn parse_weekday(word: &str) -> Option<Weekday> {
    let word = word.to_ascii_lowercase();
    let plural = word.strip_suffix('s').filter(|w| w.len() > 3);
    NAMES.iter().find(|(name, _)| *name == word || Some(*name) == plural).map(|&(_, day)| day)
}

/// Reads a day set (see the [module documentation](self)), any letter case, no spaces.
pub fn parse_days(text: &str) -> Result<DaySet, DaysError> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "daily" | "day" | "everyday" | "days" => return Ok(DaySet::ALL),
        "weekdays" | "weekday" => return Ok(DaySet::WEEKDAYS),
        "weekends" | "weekend" => return Ok(DaySet::WEEKENDS),
        _ => {}
    }
    let day = |word: &str| {
        if word.is_empty() {
            return Err(DaysError::MissingDay);
        }
        parse_weekday(word).ok_or_else(|| DaysError::NotADay { word: word.to_string() })
    };
    let mut days = DaySet::default();
    for item in lower.split(',') {
        if item.is_empty() {
            return Err(DaysError::EmptyEntry { text: text.to_string() });
        }
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => {
                let d = day(item)?;
                (d, d)
            }
        };
        let mut d = first;
        for _ in 0..7 {
            days.insert(d);
            if d == last {
                break;
            }
            d = d.succ();
        }
    }
    Ok(days)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use Weekday::*;

    fn days(text: &str) -> Vec<Weekday> {
        parse_days(text).unwrap().iter().collect()
    }

    #[test]
    fn weekday_names() {
        for (word, want) in [
            ("mon", Mon),
            ("Monday", Mon),
            ("tues", Tue),
            ("weds", Wed),
            ("thur", Thu),
            ("THURS", Thu),
            ("fri", Fri),
            ("sat", Sat),
            ("sunday", Sun),
            ("mondays", Mon),
            ("fridays", Fri),
            ("tuesdays", Tue),
        ] {
            assert_eq!(parse_weekday(word), Some(want), "{word}");
        }
        for word in ["", "m", "mons", "fris", "thus", "blursday", "ｆｒｉ", "friday friday"] {
            assert_eq!(parse_weekday(word), None, "{word}");
        }
    }

    #[test]
    fn day_sets() {
        assert_eq!(parse_days("daily"), Ok(DaySet::ALL));
        assert_eq!(parse_days("everyday"), Ok(DaySet::ALL));
        assert_eq!(days("weekdays"), [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(days("Weekend"), [Sun, Sat]);
        assert_eq!(days("mon-fri"), [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(days("mon,wed,fri"), [Mon, Wed, Fri]);
        assert_eq!(days("fri-mon"), [Sun, Mon, Fri, Sat]);
        assert_eq!(days("sun-sat"), [Sun, Mon, Tue, Wed, Thu, Fri, Sat]);
        assert_eq!(days("saturdays"), [Sat]);
        assert_eq!(parse_days("mon-sun").unwrap().len(), 7);
    }

    #[test]
    fn day_set_rejections() {
        assert_eq!(parse_days("mon,,thu"), Err(DaysError::EmptyEntry { text: "mon,,thu".into() }));
        assert_eq!(parse_days("mon-"), Err(DaysError::MissingDay));
        let e = parse_days("blursday").unwrap_err();
        assert_eq!(e, DaysError::NotADay { word: "blursday".into() });
        assert!(
            e.to_string().starts_with("`blursday` is not a day (did you mean `thursday`?); use mon/monday"),
            "{e}"
        );
        let e = parse_days("wensday").unwrap_err().to_string();
        assert!(e.contains("(did you mean `wednesday`?)"), "{e}");
    }
}
