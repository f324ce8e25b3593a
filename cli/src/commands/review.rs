//! `clout review`, `clout setback`, `clout lesson` and `clout lessons`.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use clap::{Args, Subcommand, ValueEnum};
use clout_proto::v1;
use serde_json::{Value, json};

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, DIM, GREEN, YELLOW};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A layout for the terminal
    Text,
    /// Markdown, for sharing
    Markdown,
}

#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// The last 7 days (the default)
    #[arg(long, conflicts_with_all = ["month", "since"])]
    week: bool,
    /// The last 30 days
    #[arg(long, conflicts_with = "since")]
    month: bool,
    /// From this local date until now: 2026-11-01, yesterday, mon, last week, 3 days ago, nov 1
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Output format (`--json` gives JSON)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Weeks of activity in the heatmap
    #[arg(long, default_value_t = 26, value_parser = clap::value_parser!(u32).range(1..=260))]
    weeks: u32,
}

#[derive(Args, Debug)]
pub struct SetbackArgs {
    /// What went wrong (with --from-draft: the draft and its results say it when left out)
    #[arg(required_unless_present = "from_draft")]
    text: Option<String>,
    /// Learn from a published draft that did badly: its text, results and tags make the setback
    #[arg(long, value_name = "ID", conflicts_with_all = ["draft", "task"])]
    from_draft: Option<i64>,
    /// What you take from it (or later: clout lesson add SETBACK_ID TEXT)
    #[arg(long)]
    lesson: Option<String>,
    /// A tag (repeatable); drafts with the same tag show the lesson ("Last time: …")
    #[arg(long, short)]
    tag: Vec<String>,
    /// The draft it is about
    #[arg(long, conflicts_with = "task")]
    draft: Option<i64>,
    /// The task it is about
    #[arg(long)]
    task: Option<i64>,
}

#[derive(Subcommand, Debug)]
pub enum LessonCmd {
    /// Add the lesson of a setback
    #[command(
        after_help = "Examples:\n  clout lesson add 4 \"Post threads in the morning\"\n  clout review      # lists setbacks with their ids"
    )]
    Add {
        /// The setback id (`clout setback` prints it; `clout review` lists them)
        #[arg(value_name = "SETBACK_ID")]
        setback_id: i64,
        /// What you take from it
        text: String,
    },
}

#[derive(Args, Debug)]
pub struct LessonsArgs {
    /// Only lessons of setbacks with this tag
    #[arg(long, short)]
    tag: Option<String>,
    /// Only lessons containing all these words
    #[arg(long, short)]
    search: Option<String>,
}

fn lesson_json(l: &v1::Lesson) -> Value {
    json!({ "id": l.id, "setback_id": l.setback_id, "text": l.text, "tags": l.tags, "setback": l.setback,
            "created_at": render::rfc3339(&l.created_at), "next_at": render::rfc3339(&l.next_at) })
}

fn setback_json(s: &v1::Setback) -> Value {
    json!({ "id": s.id, "text": s.text, "tags": s.tags, "draft_id": s.draft_id, "task_id": s.task_id,
            "created_at": render::rfc3339(&s.created_at),
            "lessons": s.lessons.iter().map(lesson_json).collect::<Vec<_>>() })
}

pub async fn setback(ctx: &Ctx, a: SetbackArgs) -> Result<()> {
    let cl = ctx.client().await?;
    let s = call!(
        cl,
        review,
        add_setback,
        v1::AddSetbackRequest {
            text: a.text.unwrap_or_default(),
            lesson: a.lesson.unwrap_or_default(),
            tags: a.tag,
            draft_id: a.draft,
            task_id: a.task,
            from_draft: a.from_draft,
        }
    )?;
    if ctx.json {
        render::print_json(&setback_json(&s));
        return Ok(());
    }
    anstream::println!("Recorded setback {BOLD}{}{BOLD:#}.", s.id);
    match s.lessons.first() {
        Some(l) => {
            let next = render::time(&l.next_at).map(|t| render::local(t, ctx.tz)).unwrap_or_default();
            println!(
                "Lesson {} kept; it comes back {next}, then after a week, a month, and now and then.",
                l.id
            );
        }
        None => println!("Add its lesson when you see it: clout lesson add {} \"…\"", s.id),
    }
    Ok(())
}

pub async fn lesson(ctx: &Ctx, cmd: LessonCmd) -> Result<()> {
    let LessonCmd::Add { setback_id, text } = cmd;
    let cl = ctx.client().await?;
    let l = call!(cl, review, add_lesson, v1::AddLessonRequest { setback_id, text })?;
    if ctx.json {
        render::print_json(&lesson_json(&l));
    } else {
        let next = render::time(&l.next_at).map(|t| render::local(t, ctx.tz)).unwrap_or_default();
        anstream::println!("Lesson {BOLD}{}{BOLD:#} kept; it comes back {next}.", l.id);
    }
    Ok(())
}

pub async fn lessons(ctx: &Ctx, a: LessonsArgs) -> Result<()> {
    let cl = ctx.client().await?;
    let r = call!(
        cl,
        review,
        list_lessons,
        v1::ListLessonsRequest { tag: a.tag.unwrap_or_default(), search: a.search.unwrap_or_default() }
    )?;
    if ctx.json {
        render::print_json(&Value::Array(r.lessons.iter().map(lesson_json).collect()));
        return Ok(());
    }
    if r.lessons.is_empty() {
        println!("No lessons found. Record a setback: clout setback \"…\" --lesson \"…\"");
        return Ok(());
    }
    for l in &r.lessons {
        let tags = l.tags.iter().map(|t| format!("#{t}")).collect::<Vec<_>>().join(" ");
        anstream::println!("{BOLD}{}{BOLD:#}  {}  {DIM}{tags}{DIM:#}", l.id, l.text);
        anstream::println!("   {DIM}from: {}{DIM:#}", render::cut(&l.setback, 70));
    }
    Ok(())
}

fn period(ctx: &Ctx, a: &ReviewArgs) -> Result<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)> {
    let until = Utc::now();
    let since = match &a.since {
        Some(d) => {
            let date = crate::when::parse_since(d, until, ctx.tz)?;
            let start = date.and_hms_opt(0, 0, 0).context("invalid date")?;
            let since = ctx
                .tz
                .from_local_datetime(&start)
                .earliest()
                .context("that date does not exist here")?
                .to_utc();
            if since >= until {
                bail!("the date {d} is not in the past");
            }
            since
        }
        None if a.month => until - Duration::days(30),
        None => until - Duration::days(7),
    };
    Ok((since, until))
}

pub async fn review(ctx: &Ctx, a: ReviewArgs) -> Result<()> {
    let (since, until) = period(ctx, &a)?;
    let _ = a.week;
    let cl = ctx.client().await?;
    let r = call!(
        cl,
        review,
        review,
        v1::ReviewRequest {
            since: Some(clout_proto::ts(since)),
            until: Some(clout_proto::ts(until)),
            heatmap_days: a.weeks * 7,
        }
    )?;
    if ctx.json {
        render::print_json(&review_json(&r));
    } else if a.format == Format::Markdown {
        print!("{}", markdown(ctx, &r));
    } else {
        text(ctx, &r);
    }
    Ok(())
}

fn review_json(r: &v1::ReviewResponse) -> Value {
    json!({
        "purpose": r.purpose,
        "tz": r.tz,
        "since": render::rfc3339(&r.since),
        "until": render::rfc3339(&r.until),
        "days": r.days,
        "goals": { "posts_per_week": r.posts_per_week_goal, "engagements_per_day": r.engagements_per_day_goal },
        "posts": { "published": r.posts_published, "per_week": r.posts_per_week },
        "tasks": { "done": r.tasks_done, "skipped": r.tasks_skipped, "missed": r.tasks_missed, "per_day": r.tasks_per_day },
        "streak": { "current_weeks": r.current_streak_weeks, "best_weeks": r.best_streak_weeks },
        "consistency": r.consistency,
        "queue": { "posts": r.queued_posts, "days_ahead": r.queue_days_ahead, "covered_until": render::rfc3339(&r.queue_covered_until) },
        "overdue": r.overdue.iter().map(|o| json!({ "kind": o.kind, "id": o.id, "text": o.text, "due_at": render::rfc3339(&o.due_at) })).collect::<Vec<_>>(),
        "setbacks": r.setbacks.iter().map(setback_json).collect::<Vec<_>>(),
        "lessons": r.lessons.iter().map(lesson_json).collect::<Vec<_>>(),
        "activity": r.activity.iter().map(|d| json!({ "date": d.date, "posts": d.posts, "tasks": d.tasks })).collect::<Vec<_>>(),
        "unscheduled_draft": (r.unscheduled_draft_id != 0).then(|| json!({ "id": r.unscheduled_draft_id, "label": r.unscheduled_draft })),
        "slots": r.slots,
        "stage_since": render::rfc3339(&r.stage_since),
        "stage_changes": r.stage_changes.iter().map(|c| json!({ "from": c.from, "to": c.to, "changed_at": render::rfc3339(&c.changed_at) })).collect::<Vec<_>>(),
        "follows_added": r.follows_added.iter().map(|f| json!({ "id": f.id, "handle": f.handle, "platform": f.platform, "why": f.why, "topic": f.topic, "created_at": render::rfc3339(&f.created_at) })).collect::<Vec<_>>(),
        "streak_at_risk": streak_risk(r),
        "results": r.results.as_ref().map(|x| json!({
            "posts": x.posts,
            "engagement": x.engagement,
            "previous_posts": x.previous_posts,
            "previous_engagement": x.previous_engagement,
            "best": x.best.as_ref().map(super::results::post_json),
            "slots": x.slots.iter().map(super::results::group_json).collect::<Vec<_>>(),
        })),
    })
}

/// The review's results lines: the period against the one before, the best
/// post, and the slots that worked. Empty when no post has results yet.
fn results_lines(r: &v1::ReviewResponse) -> Vec<String> {
    let Some(x) = r.results.as_ref().filter(|x| x.posts > 0 || x.previous_posts > 0) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let change = if x.previous_posts == 0 {
        "no results from the period before".to_string()
    } else {
        let d = x.engagement - x.previous_engagement;
        format!(
            "{}{d} against {} from {} the period before",
            if d > 0 { "+" } else { "" },
            x.previous_engagement,
            render::plural(x.previous_posts, "post", "posts")
        )
    };
    out.push(format!(
        "{} from {} ({change})",
        render::plural(x.engagement.max(0) as u64, "interaction", "interactions"),
        render::plural(x.posts, "post", "posts")
    ));
    if let Some(b) = &x.best {
        let e = b.counts.as_ref().map_or(0, |c| c.engagement);
        out.push(format!("best: \u{201c}{}\u{201d} (draft {}), {e}", render::cut(&b.label, 50), b.draft_id));
    }
    if !x.slots.is_empty() {
        let cells: Vec<String> = x
            .slots
            .iter()
            .map(|g| format!("{} {:.1} ({})", g.key, g.mean, render::plural(g.posts, "post", "posts")))
            .collect();
        out.push(format!("slots that worked: {}", cells.join(" · ")));
    }
    out
}

fn stage(purpose: &str) -> &'static str {
    if purpose == "influence" {
        "influence: creating and leading conversations"
    } else {
        "learn: following, reading and replying to people with influence"
    }
}

fn bar(fraction: f64) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * 10.0).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(10 - filled))
}

fn goal_line(done: u32, rate: f64, goal: u32, unit: &str) -> String {
    if goal == 0 {
        format!("{done} ({rate:.1}/{unit}), no goal set")
    } else {
        let f = rate / f64::from(goal);
        format!("{done} ({rate:.1}/{unit} of {goal}/{unit})  {} {:>3.0}%", bar(f), (f * 100.0).min(999.0))
    }
}

/// The activity calendar: one column a week, one row a weekday (Mon–Sun).
pub fn heatmap(activity: &[v1::DayActivity]) -> Vec<String> {
    let days: Vec<(NaiveDate, u32)> = activity
        .iter()
        .filter_map(|d| {
            NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").ok().map(|date| (date, d.posts + d.tasks))
        })
        .collect();
    // Whole weeks only: a first week cut short would leave a ragged left edge.
    let days: Vec<(NaiveDate, u32)> = match days.iter().position(|(d, _)| d.weekday() == chrono::Weekday::Mon)
    {
        Some(i) if days.len() - i >= 7 => days[i..].to_vec(),
        _ => days,
    };
    let Some(&(first, _)) = days.first() else { return Vec::new() };
    let start = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
    let weeks = days.last().map(|(d, _)| ((*d - start).num_days() / 7 + 1) as usize).unwrap_or(1);
    let mut grid = vec![vec![' '; weeks]; 7];
    for (date, n) in &days {
        let w = ((*date - start).num_days() / 7) as usize;
        let row = date.weekday().num_days_from_monday() as usize;
        grid[row][w] = match n {
            0 => '·',
            1 => '░',
            2 => '▒',
            3 | 4 => '▓',
            _ => '█',
        };
    }
    // Month names over the week in which each month starts, where they fit.
    let mut months = vec![' '; weeks + 8];
    let mut next_free = 0;
    let mut last_month = 0;
    for col in 0..weeks {
        let d = start + Duration::days(col as i64 * 7 + 6);
        if d.month() != last_month {
            last_month = d.month();
            // A month that starts too close to the last label moves right, rather than going unnamed.
            let at = col.max(next_free);
            if at < weeks {
                for (i, ch) in d.format("%b").to_string().chars().enumerate() {
                    if let Some(cell) = months.get_mut(4 + at + i) {
                        *cell = ch;
                    }
                }
                next_free = at + 4;
            }
        }
    }
    let months: String = months.into_iter().collect();
    let mut out = vec![months.trim_end().to_string()];
    for (i, name) in ["Mon", "", "Wed", "", "Fri", "", "Sun"].iter().enumerate() {
        out.push(format!("{name:<4}{}", grid[i].iter().collect::<String>()).trim_end().to_string());
    }
    out.push("    · none  ░ 1  ▒ 2  ▓ 3-4  █ 5+ (posts published and tasks done)".into());
    out
}

/// What to do about an empty queue: the draft waiting for a time, and how to
/// give it one (a slot first, when there is none).
fn queue_hint(r: &v1::ReviewResponse) -> String {
    let id = r.unscheduled_draft_id;
    match (id, r.slots) {
        (0, 0) => {
            "add posting slots with clout slots add \"mon,wed,fri 09:00\", then clout draft add \"…\" --queue"
                .into()
        }
        (0, _) => "queue a draft with clout draft add \"…\" --queue".into(),
        (_, 0) => format!(
            "draft {id} \u{201c}{}\u{201d} waits: clout draft schedule {id} --at \"tomorrow 9am\", or add slots with clout slots add \"mon,wed,fri 09:00\" and then clout draft schedule {id} --queue",
            render::cut(&r.unscheduled_draft, 40)
        ),
        (_, _) => format!(
            "draft {id} \u{201c}{}\u{201d} waits: clout draft schedule {id} --queue",
            render::cut(&r.unscheduled_draft, 40)
        ),
    }
}

/// "at risk: 0 of 3 posts this week, 1 day left" while the running week
/// (Monday to Sunday, in the program's zone: the last days of `activity`)
/// has not met the posting goal.
fn streak_risk(r: &v1::ReviewResponse) -> Option<String> {
    let goal = r.posts_per_week_goal;
    let today = NaiveDate::parse_from_str(&r.activity.last()?.date, "%Y-%m-%d").ok()?;
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let posts: u32 = r
        .activity
        .iter()
        .filter(|d| NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").is_ok_and(|d| d >= monday))
        .map(|d| d.posts)
        .sum();
    if goal == 0 || posts >= goal {
        return None;
    }
    let left = 7 - today.weekday().num_days_from_monday();
    let left = if left == 1 { "today is the last day".to_string() } else { format!("{left} days left") };
    Some(format!("at risk: {posts} of {goal} posts this week, {left}"))
}

fn when(ctx: &Ctx, t: &Option<prost_types::Timestamp>) -> String {
    render::time(t).map(|t| render::local(t, ctx.tz)).unwrap_or_default()
}

fn text(ctx: &Ctx, r: &v1::ReviewResponse) {
    use std::io::Write;
    let mut o = anstream::stdout().lock();
    let _ = writeln!(
        o,
        "{BOLD}Review{BOLD:#}  {} – {} ({:.0} days, {})",
        when(ctx, &r.since),
        when(ctx, &r.until),
        r.days,
        r.tz
    );
    let since = render::time(&r.stage_since).map(|_| format!(", since {}", when(ctx, &r.stage_since)));
    let _ = writeln!(o, "Stage        {}{}", stage(&r.purpose), since.unwrap_or_default());
    for c in &r.stage_changes {
        let _ = writeln!(o, "  {DIM}{}{DIM:#}  {} \u{2192} {}", when(ctx, &c.changed_at), c.from, c.to);
    }
    let _ = writeln!(
        o,
        "Posts        {}",
        goal_line(r.posts_published, r.posts_per_week, r.posts_per_week_goal, "week")
    );
    let _ = writeln!(
        o,
        "Engagement   {}   {DIM}{} skipped, {} missed{DIM:#}",
        goal_line(r.tasks_done, r.tasks_per_day, r.engagements_per_day_goal, "day"),
        r.tasks_skipped,
        r.tasks_missed
    );
    if r.posts_per_week_goal > 0 {
        let _ = writeln!(
            o,
            "Streak       {} meeting the posting goal (best {}){}",
            render::plural(r.current_streak_weeks, "week", "weeks"),
            r.best_streak_weeks,
            streak_risk(r).map(|risk| format!("  {YELLOW}{risk}{YELLOW:#}")).unwrap_or_default()
        );
    }
    let style = if r.consistency >= 70 { GREEN } else { YELLOW };
    let _ = writeln!(o, "Consistency  {style}{}/100{style:#}", r.consistency);
    if r.queued_posts == 0 {
        let _ = writeln!(o, "Queue        {YELLOW}empty{YELLOW:#}: {}", queue_hint(r));
    } else {
        let _ = writeln!(
            o,
            "Queue        {}, filled {} ahead (until {})",
            render::plural(r.queued_posts, "post", "posts"),
            render::plural(r.queue_days_ahead, "day", "days"),
            when(ctx, &r.queue_covered_until)
        );
    }
    if !r.overdue.is_empty() {
        let _ = writeln!(o, "{YELLOW}Overdue{YELLOW:#}");
        for i in &r.overdue {
            let _ = writeln!(
                o,
                "  {} {}  \u{201c}{}\u{201d}  due {}",
                i.kind,
                i.id,
                render::cut(&i.text, 50),
                when(ctx, &i.due_at)
            );
        }
    }
    for (i, line) in results_lines(r).iter().enumerate() {
        let head = if i == 0 { "Results" } else { "" };
        let _ = writeln!(o, "{head:<13}{line}");
    }
    if !r.setbacks.is_empty() {
        let _ = writeln!(o, "Setbacks");
        for s in &r.setbacks {
            let _ = writeln!(o, "  {}  {}", s.id, render::cut(&s.text, 70));
            for l in &s.lessons {
                let _ = writeln!(o, "     {GREEN}lesson:{GREEN:#} {}", render::cut(&l.text, 66));
            }
        }
    }
    if !r.follows_added.is_empty() {
        let _ = writeln!(
            o,
            "Follows      {} added in the period",
            render::plural(r.follows_added.len() as u32, "person", "people")
        );
        for f in &r.follows_added {
            let why = if f.why.is_empty() {
                String::new()
            } else {
                format!("  {DIM}{}{DIM:#}", render::cut(&f.why, 40))
            };
            let _ = writeln!(o, "  {}  {}{why}", f.handle, f.platform);
        }
    }
    let _ = writeln!(o);
    for line in heatmap(&r.activity) {
        let _ = writeln!(o, "{line}");
    }
}

fn markdown(ctx: &Ctx, r: &v1::ReviewResponse) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Review: {} – {}\n", when(ctx, &r.since), when(ctx, &r.until));
    let since = render::time(&r.stage_since).map(|_| format!(", since {}", when(ctx, &r.stage_since)));
    let _ = writeln!(m, "- **Stage:** {}{}", stage(&r.purpose), since.unwrap_or_default());
    for c in &r.stage_changes {
        let _ = writeln!(m, "  - {}: {} \u{2192} {}", when(ctx, &c.changed_at), c.from, c.to);
    }
    let _ = writeln!(
        m,
        "- **Posts:** {}",
        goal_line(r.posts_published, r.posts_per_week, r.posts_per_week_goal, "week")
    );
    let _ = writeln!(
        m,
        "- **Engagement:** {} ({} skipped, {} missed)",
        goal_line(r.tasks_done, r.tasks_per_day, r.engagements_per_day_goal, "day"),
        r.tasks_skipped,
        r.tasks_missed
    );
    let risk = streak_risk(r).map(|risk| format!(" ({risk})")).unwrap_or_default();
    let weeks = render::plural(r.current_streak_weeks, "week", "weeks");
    let _ = writeln!(m, "- **Streak:** {weeks}, best {}{risk}", r.best_streak_weeks);
    let _ = writeln!(m, "- **Consistency:** {}/100", r.consistency);
    let _ = writeln!(
        m,
        "- **Queue:** {}, {} ahead",
        render::plural(r.queued_posts, "post", "posts"),
        render::plural(r.queue_days_ahead, "day", "days")
    );
    if !r.overdue.is_empty() {
        let _ = writeln!(m, "\n## Overdue\n");
        for i in &r.overdue {
            let _ = writeln!(m, "- {} {}: {} (due {})", i.kind, i.id, i.text, when(ctx, &i.due_at));
        }
    }
    let results = results_lines(r);
    if !results.is_empty() {
        let _ = writeln!(m, "\n## Results\n");
        for line in results {
            let _ = writeln!(m, "- {line}");
        }
    }
    if !r.setbacks.is_empty() {
        let _ = writeln!(m, "\n## Setbacks and lessons\n");
        for s in &r.setbacks {
            let _ = writeln!(m, "- {}", s.text);
            for l in &s.lessons {
                let _ = writeln!(m, "  - *Lesson:* {}", l.text);
            }
        }
    }
    if !r.follows_added.is_empty() {
        let _ = writeln!(m, "\n## People added to follow\n");
        for f in &r.follows_added {
            let why = if f.why.is_empty() { String::new() } else { format!(": {}", f.why) };
            let _ = writeln!(m, "- {} ({}){why}", f.handle, f.platform);
        }
    }
    let _ = writeln!(m, "\n## Activity\n\n```");
    for line in heatmap(&r.activity) {
        let _ = writeln!(m, "{line}");
    }
    let _ = writeln!(m, "```");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heatmap_puts_each_day_in_its_weekday_row() {
        // 2030-01-07 is a Monday.
        let activity: Vec<v1::DayActivity> = (0..14)
            .map(|i| v1::DayActivity {
                date: (NaiveDate::from_ymd_opt(2030, 1, 7).expect("date") + Duration::days(i))
                    .format("%Y-%m-%d")
                    .to_string(),
                posts: if i == 2 { 1 } else { 0 },
                tasks: if i == 13 { 6 } else { 0 },
            })
            .collect();
        let h = heatmap(&activity);
        assert_eq!(h.len(), 9);
        assert!(h[0].contains("Jan"));
        assert_eq!(h[1], "Mon ··");
        assert_eq!(h[3], "Wed ░·"); // Wednesday of week 1 has one post
        assert_eq!(h[7], "Sun ·█"); // Sunday of week 2 has six tasks
    }

    fn days_from(y: i32, m: u32, d: u32, n: i64) -> Vec<v1::DayActivity> {
        (0..n)
            .map(|i| v1::DayActivity {
                date: (NaiveDate::from_ymd_opt(y, m, d).expect("date") + Duration::days(i))
                    .format("%Y-%m-%d")
                    .to_string(),
                posts: 0,
                tasks: 0,
            })
            .collect()
    }

    #[test]
    fn the_heatmap_starts_on_a_monday_and_labels_months() {
        // 2030-01-09 is a Wednesday: the first, partial week is left out.
        let h = heatmap(&days_from(2030, 1, 9, 40));
        assert_eq!(h[1], "Mon ·····");
        assert_eq!(h[7], "Sun ·····", "every row is as long: no ragged edge");
        assert!(h[0].contains("Jan") && h[0].contains("Feb"), "{}", h[0]);
    }

    #[test]
    fn a_sunday_short_of_the_goal_puts_the_streak_at_risk() {
        // 2030-01-13 is a Sunday; the week's posts are 0 of 3.
        let r = v1::ReviewResponse {
            posts_per_week_goal: 3,
            current_streak_weeks: 1,
            activity: days_from(2030, 1, 7, 7),
            ..Default::default()
        };
        assert_eq!(
            streak_risk(&r).as_deref(),
            Some("at risk: 0 of 3 posts this week, today is the last day")
        );
        let mut met = r.clone();
        for d in met.activity.iter_mut().take(3) {
            d.posts = 1;
        }
        assert_eq!(streak_risk(&met), None);
        let wed = v1::ReviewResponse { activity: days_from(2030, 1, 7, 3), ..r };
        assert_eq!(streak_risk(&wed).as_deref(), Some("at risk: 0 of 3 posts this week, 5 days left"));
    }

    #[test]
    fn an_empty_queue_names_the_waiting_draft_and_the_way_to_slots() {
        let mut r = v1::ReviewResponse::default();
        assert!(queue_hint(&r).starts_with("add posting slots with clout slots add"));
        r.unscheduled_draft_id = 4;
        r.unscheduled_draft = "Why small teams ship faster".into();
        let h = queue_hint(&r);
        assert!(h.starts_with("draft 4 \u{201c}Why small teams ship faster\u{201d} waits"), "{h}");
        assert!(h.contains("clout slots add"), "no slots: {h}");
        r.slots = 2;
        assert_eq!(
            queue_hint(&r),
            "draft 4 \u{201c}Why small teams ship faster\u{201d} waits: clout draft schedule 4 --queue"
        );
    }
}
