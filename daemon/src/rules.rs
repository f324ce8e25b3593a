//! Nudges that keep a person consistent: the rules, quiet hours, the daily
//! cap, jitter, and what happens to items that came due while nothing fired.
//!
//! Rules are rows of the one due-index (kind `check`), so they cost nothing
//! between their times: no polling loop evaluates them.

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::model::Invalid;
use crate::recurrence::Schedule;

/// The rule checks, by their `ref_id` in the schedule table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing queued in the next N days.
    QueueDry = 1,
    /// Behind the weekly posting goal at mid-week.
    BehindGoal = 2,
    /// The streak of weeks meeting the goal is at risk.
    StreakAtRisk = 3,
    /// Time for the weekly review.
    WeeklyReview = 4,
}

impl Check {
    pub const ALL: [Check; 4] =
        [Check::QueueDry, Check::BehindGoal, Check::StreakAtRisk, Check::WeeklyReview];

    pub fn from_id(id: i64) -> Option<Check> {
        Check::ALL.into_iter().find(|c| *c as i64 == id)
    }

    /// The nudge kind it writes.
    pub fn kind(self) -> &'static str {
        match self {
            Check::QueueDry => "queue_dry",
            Check::BehindGoal => "behind_goal",
            Check::StreakAtRisk => "streak_at_risk",
            Check::WeeklyReview => "weekly_review",
        }
    }
}

/// Nudge kinds that count against the daily cap (due posts and tasks never do).
pub const CAPPED_KINDS: [&str; 6] =
    ["queue_dry", "behind_goal", "streak_at_risk", "weekly_review", "task_missed", "lesson"];

/// Capped kinds that come first: each counts only these against the cap, so
/// missed tasks and lessons never crowd them out.
pub const PRECEDENCE_KINDS: [&str; 2] = ["streak_at_risk", "behind_goal"];

/// What to do with an item that came due while cloutd was down or the queue was paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissedPolicy {
    /// Fire it late, if it is at most `max_lateness_minutes` late; else skip it.
    CatchUp,
    /// Do not nudge: a post goes back to the drafts, a task occurrence is recorded as missed.
    Skip,
    /// Posts: move to the next free posting slot, without a nudge (tasks: as ask).
    NextSlot,
    /// Nudge once, marked late, and wait for the person (the default).
    Ask,
}

impl MissedPolicy {
    pub fn parse(s: &str) -> Option<MissedPolicy> {
        Some(match s {
            "catch-up" => MissedPolicy::CatchUp,
            "skip" => MissedPolicy::Skip,
            "next-slot" => MissedPolicy::NextSlot,
            "ask" => MissedPolicy::Ask,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MissedPolicy::CatchUp => "catch-up",
            MissedPolicy::Skip => "skip",
            MissedPolicy::NextSlot => "next-slot",
            MissedPolicy::Ask => "ask",
        }
    }
}

/// One rule: on or off, and when it is checked.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A schedule (read in the program's zone) for the check.
    pub at: String,
    /// For queue_dry: nudge when nothing is queued within this many days.
    #[serde(default)]
    pub days: Option<u32>,
}

fn yes() -> bool {
    true
}

fn rule(at: &str, days: Option<u32>) -> Rule {
    Rule { enabled: true, at: at.into(), days }
}

/// The rules that can be switched and tuned.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub queue_dry: Rule,
    pub behind_goal: Rule,
    pub streak_at_risk: Rule,
    pub weekly_review: Rule,
    /// Nudge when a task occurrence is recorded as missed.
    pub tasks_missed: bool,
    /// Let lessons resurface.
    pub lessons: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            queue_dry: rule("daily 09:00", Some(2)),
            behind_goal: rule("wed 12:00", None),
            streak_at_risk: rule("sat 10:00", None),
            weekly_review: rule("sun 18:00", None),
            tasks_missed: true,
            lessons: true,
        }
    }
}

/// The `[nudges]` table of the config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// `HH:MM-HH:MM` in the program's zone: consistency nudges wait until it ends.
    pub quiet_hours: Option<String>,
    /// Most consistency nudges a day (due posts and tasks are never capped); 0 = no cap.
    pub daily_cap: u32,
    /// Random delay up to this many minutes for rule checks.
    pub jitter_minutes: u32,
    /// The default for items that came due while nothing fired.
    pub missed: MissedPolicy,
    /// For catch-up: the most an item may be late and still fire.
    pub max_lateness_minutes: u32,
    pub rules: Rules,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            quiet_hours: None,
            daily_cap: 3,
            jitter_minutes: 0,
            missed: MissedPolicy::Ask,
            max_lateness_minutes: 12 * 60,
            rules: Rules::default(),
        }
    }
}

impl Policy {
    /// Checks what serde cannot: the schedules and quiet hours parse.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(q) = &self.quiet_hours {
            parse_quiet_hours(q)?;
        }
        for (name, r) in self.rule_list() {
            Schedule::parse(&r.at).map_err(|e| {
                Invalid::new(
                    "nudges.rules",
                    format!("nudges.rules.{name}.at: {}", e.to_string().lines().next().unwrap_or_default()),
                )
            })?;
        }
        Ok(())
    }

    pub fn rule_list(&self) -> [(&'static str, &Rule); 4] {
        [
            ("queue_dry", &self.rules.queue_dry),
            ("behind_goal", &self.rules.behind_goal),
            ("streak_at_risk", &self.rules.streak_at_risk),
            ("weekly_review", &self.rules.weekly_review),
        ]
    }

    pub fn rule(&self, c: Check) -> &Rule {
        match c {
            Check::QueueDry => &self.rules.queue_dry,
            Check::BehindGoal => &self.rules.behind_goal,
            Check::StreakAtRisk => &self.rules.streak_at_risk,
            Check::WeeklyReview => &self.rules.weekly_review,
        }
    }

    /// The next time of a check after `now`, with jitter.
    pub fn next_check(&self, c: Check, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let r = self.rule(c);
        if !r.enabled {
            return None;
        }
        let t = Schedule::parse(&r.at).ok()?.next_after(now, tz)?;
        let jitter =
            if self.jitter_minutes == 0 { 0 } else { fastrand::i64(0..i64::from(self.jitter_minutes) * 60) };
        Some(t + chrono::Duration::seconds(jitter))
    }

    /// When quiet hours hold a nudge at `now`: the instant they end.
    pub fn quiet_until(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let (start, end) = parse_quiet_hours(self.quiet_hours.as_deref()?).ok()?;
        quiet_until(start, end, now, tz)
    }
}

/// Parses `22:00-07:30`.
pub fn parse_quiet_hours(s: &str) -> Result<(NaiveTime, NaiveTime), Invalid> {
    let err = || {
        Invalid::new(
            "nudges.quiet_hours",
            format!("nudges.quiet_hours: `{s}` is not HH:MM-HH:MM, e.g. 22:00-07:30"),
        )
    };
    let (a, b) = s.split_once('-').ok_or_else(err)?;
    let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| err())?;
    let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| err())?;
    if a == b {
        return Err(Invalid::new(
            "nudges.quiet_hours",
            format!("nudges.quiet_hours: `{s}` starts and ends at the same time"),
        ));
    }
    Ok((a, b))
}

/// The end of the quiet period containing `now`, if `now` is inside one.
pub fn quiet_until(start: NaiveTime, end: NaiveTime, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&tz);
    let t = local.time().with_nanosecond(0)?;
    let inside = if start < end { t >= start && t < end } else { t >= start || t < end };
    if !inside {
        return None;
    }
    let mut day = local.date_naive();
    if start > end && t >= start {
        day = day.succ_opt()?;
    }
    let end_local = day.and_time(end);
    // The earliest instant at or after the wall time (a gap moves it later).
    (0..4).find_map(|h| tz.earliest_instant(end_local + chrono::Duration::hours(h)))
}

trait Lenient {
    fn earliest_instant(&self, t: chrono::NaiveDateTime) -> Option<DateTime<Utc>>;
}

impl Lenient for Tz {
    fn earliest_instant(&self, t: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
        use chrono::TimeZone;
        self.from_local_datetime(&t).earliest().map(|d| d.to_utc())
    }
}

/// Local midnight that starts the day of `now`.
pub fn day_start(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let d = now.with_timezone(&tz).date_naive();
    (0..4)
        .find_map(|h| tz.earliest_instant(d.and_hms_opt(h, 0, 0)?))
        .unwrap_or(now - chrono::Duration::hours(24))
}

/// Local Monday 00:00 that starts the week of `now`.
pub fn week_start(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    use chrono::Datelike;
    let local = now.with_timezone(&tz).date_naive();
    let monday = local - chrono::Duration::days(i64::from(local.weekday().num_days_from_monday()));
    (0..4)
        .find_map(|h| tz.earliest_instant(monday.and_hms_opt(h, 0, 0)?))
        .unwrap_or(now - chrono::Duration::days(7))
}

/// The message of a check, or `None` when all is well.
pub fn check_message(c: Check, facts: &Facts) -> Option<String> {
    match c {
        Check::QueueDry => (facts.queued_soon == 0).then(|| {
            format!(
                "Your queue is running dry: nothing is scheduled in the next {} day(s). Queue a draft: clout draft add \"…\" --queue",
                facts.dry_days
            )
        }),
        Check::BehindGoal => (facts.goal > 0 && facts.this_week < facts.goal.div_ceil(2)).then(|| {
            format!(
                "Mid-week check: {} of {} posts published this week. One today keeps you on track.",
                facts.this_week, facts.goal
            )
        }),
        Check::StreakAtRisk => (facts.goal > 0 && facts.this_week < facts.goal && facts.last_week >= facts.goal)
            .then(|| {
                format!(
                    "Your streak is at risk: {} of {} posts this week, and the week ends Sunday.",
                    facts.this_week, facts.goal
                )
            }),
        Check::WeeklyReview => {
            Some("Time for your weekly review: clout review (and note any setback: clout setback \"…\")".into())
        }
    }
}

/// What a check looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub goal: u32,
    pub this_week: u32,
    pub last_week: u32,
    pub queued_soon: u32,
    pub dry_days: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("time")
    }

    #[test]
    fn quiet_hours_across_midnight_end_in_the_morning() {
        let (a, b) = parse_quiet_hours("22:00-07:30").expect("parse");
        let tz = chrono_tz::Europe::Berlin; // UTC+1 in January
        assert_eq!(quiet_until(a, b, utc(2030, 1, 7, 22, 0), tz), Some(utc(2030, 1, 8, 6, 30)));
        assert_eq!(quiet_until(a, b, utc(2030, 1, 8, 5, 0), tz), Some(utc(2030, 1, 8, 6, 30)));
        assert_eq!(quiet_until(a, b, utc(2030, 1, 8, 12, 0), tz), None);
        let (a, b) = parse_quiet_hours("12:00-13:00").expect("parse");
        assert_eq!(quiet_until(a, b, utc(2030, 1, 8, 11, 30), tz), Some(utc(2030, 1, 8, 12, 0)));
        assert!(parse_quiet_hours("22-07").is_err());
        assert!(parse_quiet_hours("09:00-09:00").is_err());
    }

    #[test]
    fn checks_speak_only_when_something_is_wrong() {
        let ok = Facts { goal: 4, this_week: 2, last_week: 4, queued_soon: 3, dry_days: 2 };
        assert_eq!(check_message(Check::QueueDry, &ok), None);
        assert_eq!(check_message(Check::BehindGoal, &ok), None);
        assert!(check_message(Check::StreakAtRisk, &ok).is_some_and(|m| m.contains("2 of 4")));
        let dry = Facts { queued_soon: 0, ..ok.clone() };
        assert!(check_message(Check::QueueDry, &dry).is_some_and(|m| m.contains("2 day")));
        let behind = Facts { this_week: 1, ..ok.clone() };
        assert!(check_message(Check::BehindGoal, &behind).is_some());
        let no_goal = Facts { goal: 0, this_week: 0, ..ok.clone() };
        assert_eq!(check_message(Check::BehindGoal, &no_goal), None);
        assert_eq!(check_message(Check::StreakAtRisk, &no_goal), None);
        let broken_before = Facts { last_week: 1, ..ok };
        assert_eq!(check_message(Check::StreakAtRisk, &broken_before), None);
    }

    #[test]
    fn the_config_has_documented_defaults_and_is_checked() {
        let p: Policy = toml::from_str("").expect("empty");
        assert_eq!(p, Policy::default());
        assert_eq!(p.missed, MissedPolicy::Ask);
        let p: Policy = toml::from_str(
            "quiet_hours = \"22:00-07:00\"\ndaily_cap = 1\nmissed = \"catch-up\"\n[rules.queue_dry]\nenabled = false\nat = \"daily 08:00\"\n",
        )
        .expect("parse");
        assert!(!p.rules.queue_dry.enabled);
        assert_eq!(p.missed, MissedPolicy::CatchUp);
        assert!(p.validate().is_ok());
        let bad: Policy = toml::from_str("[rules.weekly_review]\nat = \"blursday 10:00\"\n").expect("parse");
        assert!(bad.validate().is_err_and(|e| e.reason.contains("weekly_review")));
        assert!(toml::from_str::<Policy>("missed = \"later\"").is_err());
        assert!(toml::from_str::<Policy>("surprise = 1").is_err());
    }

    #[test]
    fn checks_follow_their_schedule_and_switch_off() {
        let mut p = Policy::default();
        let now = utc(2030, 1, 7, 9, 30); // Monday
        assert_eq!(p.next_check(Check::WeeklyReview, now, chrono_tz::UTC), Some(utc(2030, 1, 13, 18, 0)));
        p.rules.weekly_review.enabled = false;
        assert_eq!(p.next_check(Check::WeeklyReview, now, chrono_tz::UTC), None);
        assert_eq!(week_start(now, chrono_tz::UTC), utc(2030, 1, 7, 0, 0));
        assert_eq!(day_start(now, chrono_tz::UTC), utc(2030, 1, 7, 0, 0));
    }
}
