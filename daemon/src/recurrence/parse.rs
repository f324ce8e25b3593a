//! Parsing schedule text into a [`Plan`]: `cron` crate expressions and the DST class.
//! The accepted forms are listed in the [parent module](super); time of day and day names
//! come from [`clout_time`], the grammar `clout --at` uses too.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{Timelike, Weekday};
use clout_time::{did_you_mean, printable};

use super::ScheduleError;

/// The result of translating an input: `cron` crate expressions and the DST class.
pub(super) struct Plan {
    pub(super) exprs: Vec<String>,
    pub(super) fixed_time: bool,
}
/// An [`ScheduleError::Invalid`]; control characters in `field` and `reason` (which quote
/// parts of the input) are escaped.
pub(super) fn invalid(spec: &str, field: impl Into<String>, reason: impl Into<String>) -> ScheduleError {
    ScheduleError::Invalid {
        spec: spec.to_string(),
        field: printable(&field.into()),
        reason: printable(&reason.into()),
    }
}

pub(super) fn translate(spec: &str) -> Result<Plan, ScheduleError> {
    let lower = spec.to_ascii_lowercase();
    let tokens: Vec<&str> = lower.split_whitespace().collect();
    let Some(first) = tokens.first() else {
        return Err(ScheduleError::Empty);
    };
    if first.starts_with('@') {
        return parse_macro(spec, &tokens);
    }
    if first.chars().next().is_some_and(char::is_alphabetic) {
        return parse_friendly(spec, &tokens);
    }
    match tokens.len() {
        5 => parse_crontab(spec, &tokens),
        6 | 7 => parse_passthrough(spec),
        n => Err(wrong_field_count(spec, &tokens, n)),
    }
}

fn wrong_field_count(spec: &str, tokens: &[&str], n: usize) -> ScheduleError {
    if n < 5 && tokens.iter().any(|t| looks_like_time(t)) {
        return invalid(
            spec,
            "day part",
            "is missing: put the days before the time, e.g. `daily 9am` or `weekdays 10:00`",
        );
    }
    if n < 5 {
        let label = CRONTAB_FIELDS.get(n).map_or("day of week", |d| d.label);
        invalid(
            spec,
            format!("field {} ({label})", n + 1),
            format!(
                "is missing: found {n} field{}, but a crontab schedule has 5 \
                 (`minute hour day-of-month month day-of-week`), or 6-7 with seconds first",
                if n == 1 { "" } else { "s" }
            ),
        )
    } else {
        invalid(
            spec,
            "field 8",
            format!(
                "is one too many: found {n} fields, but a schedule has 5 (crontab), \
                 6 (with seconds) or 7 (with seconds and year)"
            ),
        )
    }
}

fn looks_like_time(token: &str) -> bool {
    token.contains(':') || clout_time::has_meridiem(token)
}

// --- macros ----------------------------------------------------------------------------

fn parse_macro(spec: &str, tokens: &[&str]) -> Result<Plan, ScheduleError> {
    let name = tokens.first().copied().unwrap_or_default();
    if tokens.len() > 1 {
        return Err(invalid(spec, "macro", format!("`{name}` takes nothing after it")));
    }
    let (expr, fixed_time) = match name {
        "@hourly" => ("0 0 * * * *", false),
        "@daily" | "@midnight" => ("0 0 0 * * *", true),
        "@weekly" => ("0 0 0 * * SUN", true),
        "@monthly" => ("0 0 0 1 * *", true),
        "@yearly" | "@annually" => ("0 0 0 1 1 *", true),
        "@reboot" => {
            return Err(invalid(
                spec,
                "macro",
                "`@reboot` is not supported: schedules fire at times, not at daemon start",
            ));
        }
        other => {
            const MACROS: &[&str] =
                &["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"];
            return Err(invalid(
                spec,
                "macro",
                format!(
                    "`{other}` is not a known macro{}; use @hourly, @daily, @weekly, \
                     @monthly, @yearly or @annually",
                    did_you_mean(other, MACROS)
                ),
            ));
        }
    };
    Ok(Plan { exprs: vec![expr.to_string()], fixed_time })
}

// --- friendly forms --------------------------------------------------------------------

fn parse_friendly(spec: &str, tokens: &[&str]) -> Result<Plan, ScheduleError> {
    if matches!(tokens, ["hourly"] | ["every", "hour"]) {
        return Ok(Plan { exprs: vec!["0 0 * * * *".to_string()], fixed_time: false });
    }
    // A leading "every" is filler: `every day`, `every weekday`, `every mon,thu`.
    let tokens = match tokens {
        ["every", rest @ ..] if !rest.is_empty() => rest,
        _ => tokens,
    };
    // The day part is the first token, joined with following ones across `,` and `-`
    // (`mon, thu`, `mon - fri`); everything after it is the time part.
    let mut day_part = String::new();
    let mut rest = tokens;
    while let [token, tail @ ..] = rest {
        let joins = day_part.is_empty() || day_part.ends_with([',', '-']) || token.starts_with([',', '-']);
        if !joins {
            break;
        }
        day_part.push_str(token);
        rest = tail;
    }
    if matches!(day_part.as_str(), "hourly" | "hour") {
        return Err(invalid(
            spec,
            "time",
            "`hourly` takes no time: it fires at minute 0 of every hour; \
             for a daily time write e.g. `daily 10:00`",
        ));
    }
    let days = clout_time::parse_days(&day_part).map_err(|e| invalid(spec, "day part", e.to_string()))?;

    let time_tokens = match rest {
        ["at", tail @ ..] => tail,
        _ => rest,
    };
    // Times are separated by commas or spaces; `am`/`pm`/`a.m.`/`p.m.` may stand apart
    // (`5:30 pm`, `9 a.m.,5 p.m.`).
    let mut time_part = String::new();
    for token in time_tokens {
        let attaches = time_part.is_empty()
            || time_part.ends_with(',')
            || token.starts_with(',')
            || token.split(',').next().is_some_and(clout_time::is_meridiem);
        if !attaches {
            time_part.push(',');
        }
        time_part.push_str(token);
    }
    if time_part.is_empty() {
        return Err(invalid(
            spec,
            "time",
            format!("is missing after `{day_part}`: add one such as `{day_part} 09:00` or `{day_part} 9am`"),
        ));
    }
    let mut times = BTreeSet::new();
    for item in time_part.split(',') {
        if item.is_empty() {
            return Err(invalid(spec, "time", format!("`{time_part}` has an empty entry between commas")));
        }
        times.insert(parse_time(spec, item)?);
    }

    // One cron expression per distinct second and minute, with all its hours.
    let dow = dow_names(&days.iter().map(crontab_day).collect());
    let mut exprs = Vec::new();
    let second_minutes: BTreeSet<(u32, u32)> = times.iter().map(|&(_, m, s)| (s, m)).collect();
    for (second, minute) in second_minutes {
        let hours: BTreeSet<u32> =
            times.iter().filter(|&&(_, m, s)| (s, m) == (second, minute)).map(|&(h, _, _)| h).collect();
        exprs.push(format!("{second} {minute} {} * * {dow}", join_numbers(&hours)));
    }
    Ok(Plan { exprs, fixed_time: true })
}

/// Crontab's number for a weekday: 0 = Sunday … 6 = Saturday.
fn crontab_day(day: Weekday) -> u8 {
    u8::try_from(day.num_days_from_sunday()).unwrap_or(0)
}

/// A time of day in the shared grammar ([`clout_time::clock`]) as (hour, minute, second).
fn parse_time(spec: &str, item: &str) -> Result<(u32, u32, u32), ScheduleError> {
    let bad = |why: String| invalid(spec, "time", format!("`{item}` {why}"));
    let time = clout_time::parse_time_of_day(item).map_err(|e| bad(e.to_string()))?;
    if time.nanosecond() != 0 {
        return Err(bad("has a fraction of a second; schedules fire on whole seconds".to_string()));
    }
    Ok((time.hour(), time.minute(), time.second()))
}

// --- crontab (5 fields) ----------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Number,
    Month,
    /// Crontab day of week: 0-7, 0 and 7 = Sunday.
    CrontabWeekday,
    /// The `cron` crate's day of week: 1-7, 1 = Sunday.
    CronWeekday,
}

#[derive(Clone, Copy)]
struct FieldDef {
    position: usize,
    label: &'static str,
    min: u32,
    max: u32,
    kind: FieldKind,
    names: &'static [(&'static str, u32)],
    /// `?` accepted as `*` (day of month and day of week only).
    allow_any: bool,
}

impl FieldDef {
    fn title(&self) -> String {
        format!("field {} ({})", self.position, self.label)
    }
}

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("january", 1),
    ("feb", 2),
    ("february", 2),
    ("mar", 3),
    ("march", 3),
    ("apr", 4),
    ("april", 4),
    ("may", 5),
    ("jun", 6),
    ("june", 6),
    ("jul", 7),
    ("july", 7),
    ("aug", 8),
    ("august", 8),
    ("sep", 9),
    ("september", 9),
    ("oct", 10),
    ("october", 10),
    ("nov", 11),
    ("november", 11),
    ("dec", 12),
    ("december", 12),
];

/// Crontab day-of-week names: 0 = Sunday.
const DOW_NAMES: &[(&str, u32)] = &[
    ("sun", 0),
    ("sunday", 0),
    ("mon", 1),
    ("monday", 1),
    ("tue", 2),
    ("tuesday", 2),
    ("wed", 3),
    ("wednesday", 3),
    ("thu", 4),
    ("thursday", 4),
    ("fri", 5),
    ("friday", 5),
    ("sat", 6),
    ("saturday", 6),
];

/// Day names the `cron` crate understands, indexed 0 = Sunday.
const CRON_DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The `cron` crate's day-of-week names: 1 = Sunday.
const CRON_DOW_NAMES: &[(&str, u32)] = &[
    ("sun", 1),
    ("sunday", 1),
    ("mon", 2),
    ("monday", 2),
    ("tue", 3),
    ("tues", 3),
    ("tuesday", 3),
    ("wed", 4),
    ("wednesday", 4),
    ("thu", 5),
    ("thurs", 5),
    ("thursday", 5),
    ("fri", 6),
    ("friday", 6),
    ("sat", 7),
    ("saturday", 7),
];

const fn field(
    position: usize,
    label: &'static str,
    (min, max): (u32, u32),
    kind: FieldKind,
    names: &'static [(&'static str, u32)],
    allow_any: bool,
) -> FieldDef {
    FieldDef { position, label, min, max, kind, names, allow_any }
}

const CRONTAB_FIELDS: [FieldDef; 5] = [
    field(1, "minute", (0, 59), FieldKind::Number, &[], false),
    field(2, "hour", (0, 23), FieldKind::Number, &[], false),
    field(3, "day of month", (1, 31), FieldKind::Number, &[], true),
    field(4, "month", (1, 12), FieldKind::Month, MONTH_NAMES, false),
    field(5, "day of week", (0, 7), FieldKind::CrontabWeekday, DOW_NAMES, true),
];

/// The `cron` crate's own fields, used to explain why it rejected a 6/7-field schedule.
const CRON_FIELDS: [FieldDef; 7] = [
    field(1, "second", (0, 59), FieldKind::Number, &[], false),
    field(2, "minute", (0, 59), FieldKind::Number, &[], false),
    field(3, "hour", (0, 23), FieldKind::Number, &[], false),
    field(4, "day of month", (1, 31), FieldKind::Number, &[], true),
    field(5, "month", (1, 12), FieldKind::Month, MONTH_NAMES, false),
    field(6, "day of week", (1, 7), FieldKind::CronWeekday, CRON_DOW_NAMES, true),
    field(7, "year", (1970, 2100), FieldKind::Number, &[], false),
];

fn parse_crontab(spec: &str, tokens: &[&str]) -> Result<Plan, ScheduleError> {
    let [minute, hour, dom, month, dow] = tokens else {
        return Err(wrong_field_count(spec, tokens, tokens.len()));
    };
    let [f_min, f_hour, f_dom, f_month, f_dow] = CRONTAB_FIELDS;
    let minutes = parse_field(spec, minute, f_min)?;
    let hours = parse_field(spec, hour, f_hour)?;
    let doms = parse_field(spec, dom, f_dom)?;
    let months = parse_field(spec, month, f_month)?;
    let dows: BTreeSet<u8> =
        parse_field(spec, dow, f_dow)?.into_iter().map(|d| u8::try_from(d % 7).unwrap_or(0)).collect();

    let (min_s, hour_s, month_s) = (join_numbers(&minutes), join_numbers(&hours), join_numbers(&months));
    let dom_s = if doms.len() == 31 { "*".to_string() } else { join_numbers(&doms) };
    let dow_s = dow_names(&dows);
    let dom_restricted = !is_star_field(dom);
    let dow_restricted = !is_star_field(dow);
    let exprs = if dom_restricted && dow_restricted {
        // Crontab OR rule: the union of "these days of the month" and "these weekdays".
        vec![
            format!("0 {min_s} {hour_s} {dom_s} {month_s} *"),
            format!("0 {min_s} {hour_s} * {month_s} {dow_s}"),
        ]
    } else {
        vec![format!("0 {min_s} {hour_s} {dom_s} {month_s} {dow_s}")]
    };
    Ok(Plan { exprs, fixed_time: hour_names_specific_hours(hour) })
}

/// Vixie cron treats a day field as unrestricted when it starts with `*` (`*`, `*/2`).
fn is_star_field(token: &str) -> bool {
    token.starts_with('*') || token == "?"
}

/// Fixed-time when the hour field is neither `*` nor a step.
fn hour_names_specific_hours(token: &str) -> bool {
    !token.contains(['*', '/'])
}

fn parse_field(spec: &str, token: &str, def: FieldDef) -> Result<BTreeSet<u32>, ScheduleError> {
    let err = |reason: String| invalid(spec, def.title(), reason);
    let mut set = BTreeSet::new();
    for item in token.split(',') {
        if item.is_empty() {
            return Err(err(format!("`{token}` has an empty list entry")));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let (lo, hi) = if base == "*" || (def.allow_any && base == "?") {
            (def.min, def.max)
        } else if let Some((a, b)) = base.split_once('-') {
            let lo = parse_atom(spec, a, item, def)?;
            let mut hi = parse_atom(spec, b, item, def)?;
            // `MON-SUN`: Sunday as the end of a named range is day 7.
            if def.kind == FieldKind::CrontabWeekday
                && hi == 0
                && lo > 0
                && b.starts_with(char::is_alphabetic)
            {
                hi = 7;
            }
            if lo > hi {
                return Err(err(format!("range `{base}` runs backwards; write the lower value first")));
            }
            (lo, hi)
        } else {
            let v = parse_atom(spec, base, item, def)?;
            (v, if step.is_some() { def.max } else { v })
        };
        let step = match step {
            None => 1,
            Some(text) => parse_step(text, def).map_err(|why| err(format!("`{item}`: {why}")))?,
        };
        let step = usize::try_from(step).unwrap_or(1).max(1);
        set.extend((lo..=hi).step_by(step));
    }
    Ok(set)
}

fn parse_atom(spec: &str, text: &str, item: &str, def: FieldDef) -> Result<u32, ScheduleError> {
    let err = |reason: String| invalid(spec, def.title(), reason);
    if text.is_empty() {
        return Err(err(format!("`{item}` is missing a value")));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let value: u32 =
            text.parse().map_err(|_| err(format!("`{text}` is out of range {}-{}", def.min, def.max)))?;
        if value < def.min || value > def.max {
            let note = if def.kind == FieldKind::CronWeekday {
                " (in 6- and 7-field schedules 1 = Sunday .. 7 = Saturday)"
            } else {
                ""
            };
            return Err(err(format!("`{text}` is out of range {}-{}{note}", def.min, def.max)));
        }
        return Ok(value);
    }
    if text.chars().all(|c| c.is_ascii_alphabetic()) {
        if def.names.is_empty() {
            return Err(err(format!(
                "`{text}` is not a number (names are only allowed in the month and day-of-week fields)"
            )));
        }
        if let Some(&(_, v)) = def.names.iter().find(|(name, _)| *name == text) {
            return Ok(v);
        }
        let (kind, list) = match def.kind {
            FieldKind::Month => ("month", "JAN..DEC or 1-12"),
            FieldKind::CronWeekday => ("day of the week", "SUN..SAT or 1-7 (1 = Sunday)"),
            _ => ("day of the week", "SUN..SAT or 0-7 (0 and 7 = Sunday)"),
        };
        let words: Vec<&str> = def.names.iter().map(|(n, _)| *n).collect();
        return Err(err(format!("`{text}` is not a {kind}{}; use {list}", did_you_mean(text, &words))));
    }
    Err(err(format!("`{text}` is not a number{}", if def.names.is_empty() { "" } else { " or name" })))
}

/// Why the step of a `*/N` or `A-B/N` item is refused.
#[derive(Debug, thiserror::Error)]
enum BadStep {
    #[error("step `{0}` is not a number")]
    NotANumber(String),
    #[error("a step must be at least 1")]
    Zero,
    #[error("step `{text}` is larger than the field's range {min}-{max}")]
    TooLarge { text: String, min: u32, max: u32 },
}

fn parse_step(text: &str, def: FieldDef) -> Result<u32, BadStep> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadStep::NotANumber(text.to_string()));
    }
    match text.parse::<u32>() {
        Ok(0) => Err(BadStep::Zero),
        Ok(step) if step <= def.max => Ok(step),
        _ => Err(BadStep::TooLarge { text: text.to_string(), min: def.min, max: def.max }),
    }
}

fn join_numbers(set: &BTreeSet<u32>) -> String {
    set.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The `cron` crate's day-of-week field for a set of days (0 = Sunday): `*` or names.
fn dow_names(days: &BTreeSet<u8>) -> String {
    if days.len() >= 7 {
        return "*".to_string();
    }
    days.iter().filter_map(|&d| CRON_DAY_NAMES.get(usize::from(d)).copied()).collect::<Vec<_>>().join(",")
}

// --- cron crate forms (6 or 7 fields) --------------------------------------------------

fn parse_passthrough(spec: &str) -> Result<Plan, ScheduleError> {
    let tokens: Vec<&str> = spec.split_whitespace().collect();
    let expr = tokens.join(" ");
    if let Err(whole) = cron::Schedule::from_str(&expr) {
        // Find the faulty field by checking each one alone against a neutral template.
        for (i, token) in tokens.iter().enumerate() {
            let mut probe: Vec<&str> =
                ["0", "0", "0", "*", "*", "*", "*"].into_iter().take(tokens.len()).collect();
            if let Some(slot) = probe.get_mut(i) {
                *slot = token;
            }
            let Err(e) = cron::Schedule::from_str(&probe.join(" ")) else {
                continue;
            };
            let Some(def) = CRON_FIELDS.get(i).copied() else {
                break;
            };
            // Our own parser explains most problems more precisely than the cron crate.
            parse_field(spec, &token.to_ascii_lowercase(), def)?;
            return Err(invalid(
                spec,
                def.title(),
                format!("`{token}` is not valid here: {}", cron_reason(&e)),
            ));
        }
        return Err(invalid(spec, "schedule", cron_reason(&whole)));
    }
    let hour = tokens.get(2).copied().unwrap_or("*");
    Ok(Plan { exprs: vec![expr], fixed_time: hour_names_specific_hours(hour) })
}

/// The `cron` crate's error text on one line, without its echo of the expression.
fn cron_reason(e: &cron::error::Error) -> String {
    let text = e.to_string();
    let text = text.rsplit('^').next().unwrap_or_default();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() { "the cron engine rejected it".to_string() } else { text }
}
