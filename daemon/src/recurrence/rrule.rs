//! A schedule as iCalendar recurrence rules (RFC 5545 §3.3.10), for calendar
//! apps that subscribe to cloutd's calendar.
//!
//! Each `cron` expression of the schedule becomes one rule with `FREQ=DAILY`
//! and explicit `BYHOUR`/`BYMINUTE`/`BYSECOND` lists (which expand a daily
//! rule), and `BYMONTH`, `BYMONTHDAY` and `BYDAY` where the expression
//! restricts them (which limit it). Like the `cron` crate, a daily rule ANDs
//! `BYMONTHDAY` and `BYDAY`; crontab's OR rule is already a union of
//! expressions, so it becomes several rules. An expression restricted to some
//! years has no such rule: [`Schedule::rrules`] answers `None` and the caller
//! lists occurrences instead.

use chrono::NaiveDateTime;
use cron::TimeUnitSpec;

use super::Schedule;

/// One recurrence rule and the wall time of its first occurrence after the
/// time asked for (the event's DTSTART, in the schedule's zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRule {
    pub rule: String,
    pub first: NaiveDateTime,
}

const DAYS: [&str; 7] = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];

fn list(spec: &impl TimeUnitSpec) -> String {
    spec.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
}

fn rule_of(c: &cron::Schedule) -> Option<String> {
    if !c.years().is_all() {
        return None;
    }
    let mut rule = format!(
        "FREQ=DAILY;BYHOUR={};BYMINUTE={};BYSECOND={}",
        list(c.hours()),
        list(c.minutes()),
        list(c.seconds())
    );
    if !c.months().is_all() {
        rule.push_str(&format!(";BYMONTH={}", list(c.months())));
    }
    if !c.days_of_month().is_all() {
        rule.push_str(&format!(";BYMONTHDAY={}", list(c.days_of_month())));
    }
    if !c.days_of_week().is_all() {
        // The cron crate numbers weekdays 1 = Sunday … 7 = Saturday.
        let days: Vec<&str> =
            c.days_of_week().iter().filter_map(|d| DAYS.get(d.checked_sub(1)? as usize).copied()).collect();
        rule.push_str(&format!(";BYDAY={}", days.join(",")));
    }
    Some(rule)
}

impl Schedule {
    /// The schedule as recurrence rules, each with its first wall time after
    /// `after` (a wall time in the schedule's zone). `None` when some part
    /// cannot be written as a rule (a year list); an expression with no
    /// occurrence left is left out.
    pub fn rrules(&self, after: NaiveDateTime) -> Option<Vec<RRule>> {
        let mut out = Vec::new();
        for c in &self.inner.crons {
            let rule = rule_of(c)?;
            // The cron crate evaluates naive local times as if they were UTC.
            if let Some(first) = c.after(&after.and_utc()).next() {
                out.push(RRule { rule, first: first.naive_utc() });
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    fn rules(spec: &str, after: &str) -> Option<Vec<(String, String)>> {
        Schedule::parse(spec)
            .expect("schedule")
            .rrules(at(after))
            .map(|v| v.into_iter().map(|r| (r.rule, r.first.format("%Y-%m-%d %H:%M").to_string())).collect())
    }

    #[test]
    fn friendly_forms_become_daily_rules() {
        // 2030-01-07 is a Monday.
        assert_eq!(
            rules("weekdays 10:00", "2030-01-05 12:00"),
            Some(vec![(
                "FREQ=DAILY;BYHOUR=10;BYMINUTE=0;BYSECOND=0;BYDAY=MO,TU,WE,TH,FR".into(),
                "2030-01-07 10:00".into()
            )])
        );
        assert_eq!(
            rules("daily 09:00,17:30", "2030-01-07 12:00")
                .map(|v| v.into_iter().map(|(r, f)| format!("{r} {f}")).collect::<Vec<_>>()),
            Some(vec![
                "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0 2030-01-08 09:00".to_string(),
                "FREQ=DAILY;BYHOUR=17;BYMINUTE=30;BYSECOND=0 2030-01-07 17:30".to_string(),
            ])
        );
    }

    #[test]
    fn crontab_fields_map_to_by_parts() {
        let r = rules("*/20 9-10 1,15 6 *", "2030-01-07 00:00").expect("rule");
        assert_eq!(
            r,
            vec![(
                "FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,20,40;BYSECOND=0;BYMONTH=6;BYMONTHDAY=1,15".into(),
                "2030-06-01 09:00".into()
            )]
        );
        // The OR rule: day of month or day of week, two rules.
        let r = rules("0 9 1 * mon", "2030-01-07 12:00").expect("rules");
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().any(|(rule, _)| rule.ends_with(";BYMONTHDAY=1")), "{r:?}");
        assert!(r.iter().any(|(rule, _)| rule.ends_with(";BYDAY=MO")), "{r:?}");
    }

    #[test]
    fn a_year_list_has_no_rule() {
        assert_eq!(rules("0 0 9 1 1 * 2031", "2030-01-07 00:00"), None);
    }
}
