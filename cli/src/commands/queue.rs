//! `clout queue`: the timeline of what is coming.

use anyhow::Result;
use clap::{Args, Subcommand};
use clout_proto::v1;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, CYAN, Table};

#[derive(Args, Debug)]
pub struct QueueArgs {
    #[command(subcommand)]
    cmd: Option<QueueCmd>,
    /// Only what is due within this many days
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: Option<u32>,
    /// At most this many items
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Reorder the drafts that sit in posting slots
    #[command(after_help = "Examples:\n  clout queue shuffle")]
    Shuffle,
    /// Stop firing: nothing comes due until `clout queue resume`
    #[command(
        after_help = "Examples:\n  clout queue pause\n  clout status        # says the queue is paused"
    )]
    Pause,
    /// Fire again; what came due during the pause fires at once, marked late
    #[command(after_help = "Examples:\n  clout queue resume")]
    Resume,
}

pub async fn run(ctx: &Ctx, a: QueueArgs) -> Result<()> {
    let cl = ctx.client().await?;
    match a.cmd {
        Some(QueueCmd::Shuffle) => {
            let r = call!(cl, queue, shuffle, v1::ShuffleRequest {})?;
            if ctx.json {
                let items: Vec<_> = r.items.iter().map(render::queue_item_json).collect();
                render::print_json(&serde_json::json!({ "items": items }));
            } else if r.items.is_empty() {
                println!("No drafts sit in posting slots. Queue one with: clout draft add \"…\" --queue");
            } else {
                println!("Shuffled {} draft(s) in slots:", r.items.len());
                print_items(ctx, &r.items);
            }
            return Ok(());
        }
        Some(QueueCmd::Pause) => {
            let r = call!(cl, queue, pause, v1::PauseRequest {})?;
            if ctx.json {
                render::print_json(
                    &serde_json::json!({ "paused": r.paused, "paused_at": render::rfc3339(&r.paused_at) }),
                );
            } else {
                println!("Paused: nothing fires until `clout queue resume`.");
            }
            return Ok(());
        }
        Some(QueueCmd::Resume) => {
            let r = call!(cl, queue, resume, v1::ResumeRequest {})?;
            if ctx.json {
                render::print_json(&serde_json::json!({ "paused": r.paused, "came_due": r.came_due }));
            } else if r.came_due > 0 {
                println!(
                    "Resumed. {} item(s) came due during the pause and fire now, marked late.",
                    r.came_due
                );
            } else {
                println!("Resumed.");
            }
            return Ok(());
        }
        None => {}
    }
    let horizon_seconds = a.days.map(|d| i64::from(d) * 86_400).unwrap_or(0);
    let r = call!(cl, queue, upcoming, v1::UpcomingRequest { horizon_seconds, limit: a.limit })?;
    if ctx.json {
        let items: Vec<_> = r.items.iter().map(render::queue_item_json).collect();
        render::print_json(&serde_json::json!({
            "items": items,
            "paused": r.paused,
            "paused_at": render::rfc3339(&r.paused_at),
        }));
        return Ok(());
    }
    if r.paused {
        let since = render::time(&r.paused_at).map(|t| format!(" since {}", render::local(t, ctx.tz)));
        anstream::println!(
            "{}Paused{}: nothing here fires until `clout queue resume`.{}",
            render::YELLOW,
            since.unwrap_or_default(),
            render::YELLOW.render_reset()
        );
    }
    if r.items.is_empty() {
        match a.days {
            Some(d) => println!("Nothing queued in the next {d} days."),
            None => {
                println!("Nothing queued. Schedule a draft with: clout draft add \"…\" --at \"tomorrow 9am\"")
            }
        }
        return Ok(());
    }
    print_items(ctx, &r.items);
    if r.items.len() as u32 >= a.limit {
        anstream::println!(
            "{}… showing the first {}; see more with --limit{}",
            render::DIM,
            a.limit,
            render::DIM.render_reset()
        );
    }
    Ok(())
}

fn print_items(ctx: &Ctx, items: &[v1::QueueItem]) {
    let mut t = Table::new(vec!["WHEN", "", "KIND", "ID", "WHAT"]);
    for q in items {
        let due = render::time(&q.due_at);
        let kind = if q.slotted { "post·slot".to_string() } else { q.kind.clone() };
        let mut what = render::label(&q.title, &q.text, 50);
        if !q.about.is_empty() {
            what.push_str(&format!(" ({})", q.about));
        }
        t.row(vec![
            (due.map(|d| render::local(d, ctx.tz)).unwrap_or_default(), BOLD),
            (due.map(render::relative).unwrap_or_default(), render::DIM),
            (kind, if q.kind == "task" { render::YELLOW } else { CYAN }),
            (q.id.to_string(), anstyle::Style::new()),
            (what, anstyle::Style::new()),
        ]);
    }
    t.print();
}
