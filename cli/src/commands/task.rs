//! `clout task …`: engagement tasks on a rhythm.

use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;
use clout_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, DIM, GREEN, Table, YELLOW};
use crate::when;

const SCHEDULE_HELP: &str = "A schedule: `weekdays 10:00`, `daily 18:00`, `mon,thu 12:30`, crontab `30 9 * * 1-5`, \
or the cron crate's 6/7 fields";

#[derive(Subcommand, Debug)]
pub enum TaskCmd {
    /// Add an engagement task, e.g. "Reply to 3 posts from people I follow"
    #[command(
        after_help = "Examples:\n  clout task add \"Reply to 3 posts from people I follow\" --every \"weekdays 10:00\"\n  clout task add \"Study @alice's last 5 posts\" --every \"fri 16:00\" --about @alice@mastodon.social\n  clout task add \"Thank everyone who replied\" --once \"tomorrow at 9\""
    )]
    Add {
        /// What to do, e.g. "Reply to 3 posts from people I follow"
        text: String,
        #[arg(long, value_name = "SCHEDULE", help = SCHEDULE_HELP, required_unless_present = "once")]
        every: Option<String>,
        /// Happen once, at WHEN (`tomorrow 9am`, `fri 17:30`, …)
        #[arg(long, value_name = "WHEN", conflicts_with = "every")]
        once: Option<String>,
        /// IANA time zone of the schedule [default: the program's zone]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// The person this task is about, e.g. @alice
        #[arg(long, value_name = "HANDLE")]
        about: Option<String>,
        /// If it comes due while cloutd is down or paused [default: the config's, ask]
        #[arg(long, value_name = "POLICY", value_parser = ["catch-up", "skip", "ask"])]
        if_missed: Option<String>,
    },
    /// Change a task: its text, schedule, time, zone, person or missed policy
    #[command(
        after_help = "Examples:\n  clout task edit 1 --text \"Reply to 5 posts\"\n  clout task edit 1 --every \"mon,thu 12:30\"\n  clout task edit 2 --once \"fri 16:00\" --about @alice@mastodon.social\n  clout task edit 2 --no-about\n\nA new --every, --once or --tz moves the next occurrence; done, skipped and missed ones stay\nin the history."
    )]
    Edit {
        /// The task id (`clout task list` shows it)
        #[arg(add = crate::complete::task_ids())]
        id: i64,
        /// The new text
        #[arg(long)]
        text: Option<String>,
        /// A new schedule: `weekdays 10:00`, `daily 18:00`, `mon,thu 12:30`, crontab `30 9 * * 1-5`
        #[arg(long, value_name = "SCHEDULE")]
        every: Option<String>,
        /// Happen once instead, at WHEN (`tomorrow 9am`, `fri 17:30`, …)
        #[arg(long, value_name = "WHEN", conflicts_with = "every")]
        once: Option<String>,
        /// IANA time zone of the schedule
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// The person this task is about, e.g. @alice
        #[arg(long, value_name = "HANDLE")]
        about: Option<String>,
        /// It is about nobody in particular any more
        #[arg(long, conflicts_with = "about")]
        no_about: bool,
        /// If it comes due while cloutd is down or paused
        #[arg(long, value_name = "POLICY", value_parser = ["catch-up", "skip", "ask"])]
        if_missed: Option<String>,
    },
    /// List tasks with their next time and record
    #[command(after_help = "Examples:\n  clout task list\n  clout --json task list")]
    #[command(visible_alias = "ls")]
    List,
    /// Mark the tasks' current occurrences done (`--next`: the coming one, early)
    #[command(
        after_help = "Examples:\n  clout task done 1\n  clout task done 1 2 3\n  clout task done 1 --next"
    )]
    Done {
        /// The task ids (`clout task list` shows them)
        #[arg(value_name = "ID", required = true, add = crate::complete::task_ids())]
        ids: Vec<i64>,
        /// Mark the next occurrence done before it comes due; the task moves on past it
        #[arg(long)]
        next: bool,
    },
    /// Skip the tasks' current occurrences (`--next`: the coming one)
    #[command(after_help = "Examples:\n  clout task skip 1\n  clout task skip 1 --next")]
    Skip {
        /// The task ids (`clout task list` shows them)
        #[arg(value_name = "ID", required = true, add = crate::complete::task_ids())]
        ids: Vec<i64>,
        /// Skip the next occurrence before it comes due
        #[arg(long)]
        next: bool,
    },
    /// Remove a task (its history stays for reviews)
    #[command(after_help = "Examples:\n  clout task rm 7")]
    Rm {
        /// The task id (`clout task list` shows it)
        #[arg(add = crate::complete::task_ids())]
        id: i64,
    },
    /// Check a schedule and show its next times, without adding anything
    #[command(
        after_help = "Examples:\n  clout task preview \"weekdays 10:00\"\n  clout task preview \"0 9 * * 1-5\" --tz America/New_York -n 10"
    )]
    Preview {
        /// The schedule to check, as --every takes it
        schedule: String,
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// How many times to show
        #[arg(long, short = 'n', default_value_t = 5)]
        count: u32,
    },
}

fn task_json(t: &v1::Task) -> serde_json::Value {
    json!({
        "id": t.id,
        "text": t.text,
        "every": t.every,
        "tz": t.tz,
        "about": t.about,
        "once_at": render::rfc3339(&t.once_at),
        "next_due_at": render::rfc3339(&t.next_due_at),
        "current_due_at": render::rfc3339(&t.current_due_at),
        "done": t.done,
        "skipped": t.skipped,
        "missed": t.missed,
        "created_at": render::rfc3339(&t.created_at),
    })
}

async fn resolve(ctx: &Ctx, ids: &[i64], next: bool, done: bool) -> Result<()> {
    let cl = ctx.client().await?;
    let mut each = super::Each::new(ids);
    for &id in ids {
        let req = v1::ResolveTaskRequest { id, next };
        let r = if done { call!(cl, tasks, done_task, req) } else { call!(cl, tasks, skip_task, req) };
        each.record(r.map(|t| print_resolved(ctx, &t, done, next)));
    }
    each.finish()
}

/// "Done: task 3 “…”, the occurrence of Wed 02 Dec 10:00 CET", then its next time.
fn print_resolved(ctx: &Ctx, t: &v1::Task, done: bool, next: bool) {
    if ctx.json {
        let mut v = task_json(t);
        v["resolved_due_at"] = render::rfc3339(&t.resolved_due_at);
        render::print_json(&v);
        return;
    }
    let verb = match (done, next) {
        (true, false) => "Done",
        (true, true) => "Done early",
        (false, false) => "Skipped",
        (false, true) => "Skipped early",
    };
    let which = render::time(&t.resolved_due_at)
        .map(|at| format!(", the occurrence of {}", render::local(at, ctx.tz)))
        .unwrap_or_default();
    anstream::println!(
        "{verb}: task {BOLD}{}{BOLD:#} \u{201c}{}\u{201d}{which}",
        t.id,
        render::cut(&t.text, 50)
    );
    if let Some(next) = render::time(&t.next_due_at) {
        println!("Next: {} ({})", render::local(next, ctx.tz), render::relative(next));
    }
}

fn when_label(ctx: &Ctx, t: &Option<prost_types::Timestamp>) -> String {
    render::time(t)
        .map(|t| format!("{} ({})", render::local(t, ctx.tz), render::relative(t)))
        .unwrap_or_default()
}

pub async fn run(ctx: &Ctx, cmd: TaskCmd) -> Result<()> {
    match cmd {
        TaskCmd::Add { text, every, once, tz, about, if_missed } => {
            let once_at = once.as_deref().map(|w| when::parse_when(w, Utc::now(), ctx.tz)).transpose()?;
            let cl = ctx.client().await?;
            let t = call!(
                cl,
                tasks,
                add_task,
                v1::AddTaskRequest {
                    text,
                    every: every.unwrap_or_default(),
                    once_at: once_at.map(clout_proto::ts),
                    tz: tz.unwrap_or_default(),
                    about: about.unwrap_or_default(),
                    if_missed: if_missed.unwrap_or_default(),
                }
            )?;
            if ctx.json {
                render::print_json(&task_json(&t));
                return Ok(());
            }
            let rhythm =
                if t.every.is_empty() { "once".to_string() } else { format!("{} ({})", t.every, t.tz) };
            anstream::println!(
                "Added task {BOLD}{}{BOLD:#} \u{201c}{}\u{201d}, {rhythm}",
                t.id,
                render::cut(&t.text, 50)
            );
            if !t.every.is_empty() {
                let p = call!(
                    cl,
                    tasks,
                    preview_schedule,
                    v1::PreviewScheduleRequest { every: t.every.clone(), tz: t.tz.clone(), count: 3 }
                )?;
                let next: Vec<String> = p
                    .next
                    .iter()
                    .filter_map(clout_proto::from_ts)
                    .map(|x| render::local(x, ctx.tz))
                    .collect();
                println!("Next: {}", next.join(", "));
            } else {
                println!("Due: {}", when_label(ctx, &t.next_due_at));
            }
        }
        TaskCmd::List => {
            let cl = ctx.client().await?;
            let r = call!(cl, tasks, list_tasks, v1::ListTasksRequest {})?;
            if ctx.json {
                render::print_json(&serde_json::Value::Array(r.tasks.iter().map(task_json).collect()));
                return Ok(());
            }
            if r.tasks.is_empty() {
                println!(
                    "No tasks. Add one: clout task add \"Reply to 3 posts from people I follow\" --every \"weekdays 10:00\""
                );
                return Ok(());
            }
            let mut table = Table::new(vec!["ID", "EVERY", "NEXT", "NOW", "DONE", "MISSED", "TASK"]);
            for t in &r.tasks {
                let every = if t.every.is_empty() { "once".into() } else { t.every.clone() };
                let next = render::time(&t.next_due_at)
                    .map(|x| render::local(x, ctx.tz))
                    .unwrap_or_else(|| "—".into());
                let now = if t.current_due_at.is_some() {
                    ("due".to_string(), YELLOW)
                } else {
                    (String::new(), DIM)
                };
                let what =
                    if t.about.is_empty() { t.text.clone() } else { format!("{} ({})", t.text, t.about) };
                table.row(vec![
                    (t.id.to_string(), BOLD),
                    (every, anstyle::Style::new()),
                    (next, anstyle::Style::new()),
                    now,
                    (t.done.to_string(), GREEN),
                    (t.missed.to_string(), if t.missed > 0 { YELLOW } else { DIM }),
                    (render::cut(&what, 50), anstyle::Style::new()),
                ]);
            }
            table.print();
        }
        TaskCmd::Edit { id, text, every, once, tz, about, no_about, if_missed } => {
            let once_at = once.as_deref().map(|w| when::parse_when(w, Utc::now(), ctx.tz)).transpose()?;
            if text.is_none()
                && every.is_none()
                && once_at.is_none()
                && tz.is_none()
                && about.is_none()
                && !no_about
                && if_missed.is_none()
            {
                anyhow::bail!(
                    "nothing to change: give --text, --every, --once, --tz, --about, --no-about or --if-missed \
                     (`clout task edit --help` shows examples)"
                );
            }
            let cl = ctx.client().await?;
            let t = call!(
                cl,
                tasks,
                update_task,
                v1::UpdateTaskRequest {
                    id,
                    text,
                    every,
                    once_at: once_at.map(clout_proto::ts),
                    tz,
                    about: if no_about { Some(String::new()) } else { about },
                    if_missed,
                }
            )?;
            if ctx.json {
                render::print_json(&task_json(&t));
                return Ok(());
            }
            let rhythm =
                if t.every.is_empty() { "once".to_string() } else { format!("{} ({})", t.every, t.tz) };
            let about = if t.about.is_empty() { String::new() } else { format!(", about {}", t.about) };
            anstream::println!(
                "Changed task {BOLD}{}{BOLD:#} \u{201c}{}\u{201d}, {rhythm}{about}",
                t.id,
                render::cut(&t.text, 50)
            );
            match render::time(&t.next_due_at) {
                Some(_) => println!("Next: {}", when_label(ctx, &t.next_due_at)),
                None => println!("Next: nothing left to fire"),
            }
        }
        TaskCmd::Done { ids, next } => resolve(ctx, &ids, next, true).await?,
        TaskCmd::Skip { ids, next } => resolve(ctx, &ids, next, false).await?,
        TaskCmd::Rm { id } => {
            let cl = ctx.client().await?;
            call!(cl, tasks, remove_task, v1::RemoveTaskRequest { id })?;
            if ctx.json {
                render::print_json(&json!({ "id": id, "deleted": true }));
            } else {
                println!("Removed task {id}");
            }
        }
        TaskCmd::Preview { schedule, tz, count } => {
            let cl = ctx.client().await?;
            let p = call!(
                cl,
                tasks,
                preview_schedule,
                v1::PreviewScheduleRequest { every: schedule, tz: tz.unwrap_or_default(), count }
            )?;
            if ctx.json {
                let next: Vec<_> = p.next.iter().map(|t| render::rfc3339(&Some(*t))).collect();
                render::print_json(&json!({ "tz": p.tz, "next": next }));
            } else {
                anstream::println!("{DIM}In {}:{DIM:#}", p.tz);
                let zone: chrono_tz::Tz = p.tz.parse().unwrap_or(ctx.tz);
                for t in p.next.iter().filter_map(clout_proto::from_ts) {
                    println!("  {}  ({})", render::local(t, zone), render::relative(t));
                }
            }
        }
    }
    Ok(())
}
