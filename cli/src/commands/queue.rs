//! `clout queue`: the timeline of what is coming.

use anyhow::Result;
use clap::Args;
use clout_proto::v1;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, CYAN, Table};

#[derive(Args, Debug)]
pub struct QueueArgs {
    /// Only what is due within this many days
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: Option<u32>,
    /// At most this many items
    #[arg(long, default_value_t = 1000)]
    limit: u32,
}

pub async fn run(ctx: &Ctx, a: QueueArgs) -> Result<()> {
    let cl = ctx.client().await?;
    let horizon_seconds = a.days.map(|d| i64::from(d) * 86_400).unwrap_or(0);
    let r = call!(cl, queue, upcoming, v1::UpcomingRequest { horizon_seconds, limit: a.limit })?;
    if ctx.json {
        let items: Vec<_> = r.items.iter().map(render::queue_item_json).collect();
        render::print_json(&serde_json::json!({ "items": items }));
        return Ok(());
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
    let mut t = Table::new(vec!["WHEN", "", "KIND", "ID", "WHAT"]);
    for q in &r.items {
        let due = render::time(&q.due_at);
        t.row(vec![
            (due.map(|d| render::local(d, ctx.tz)).unwrap_or_default(), BOLD),
            (due.map(render::relative).unwrap_or_default(), render::DIM),
            (q.kind.clone(), CYAN),
            (q.id.to_string(), anstyle::Style::new()),
            (render::label(&q.title, &q.text, 50), anstyle::Style::new()),
        ]);
    }
    t.print();
    Ok(())
}
