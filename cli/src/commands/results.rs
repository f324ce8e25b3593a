//! `clout results`: how your posts did, and what worked.

use anyhow::Result;
use clap::{Args, Subcommand};
use clout_proto::v1;
use serde_json::{Value, json};

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, DIM, GREEN, RED, Table, YELLOW};

#[derive(Args, Debug)]
pub struct ResultsArgs {
    #[command(subcommand)]
    cmd: Option<ResultsCmd>,
    /// The posts of the last N days
    #[arg(long, short, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
    days: u32,
}

#[derive(Subcommand, Debug)]
pub enum ResultsCmd {
    /// Fetch every post's counts now, instead of at its next snapshot time
    #[command(after_help = "Examples:\n  clout results refresh\n  clout results")]
    Refresh,
}

pub fn counts_json(c: &Option<v1::ResultCounts>) -> Value {
    let c = c.unwrap_or_default();
    json!({
        "likes": c.likes,
        "reposts": c.reposts,
        "replies": c.replies,
        "quotes": c.quotes,
        "engagement": c.engagement,
    })
}

pub fn post_json(p: &v1::PostResult) -> Value {
    json!({
        "id": p.id,
        "draft_id": p.draft_id,
        "label": p.label,
        "network": p.network,
        "account": p.account,
        "url": p.url,
        "published_at": render::rfc3339(&p.published_at),
        "tags": p.tags,
        "thread": p.thread,
        "counts": counts_json(&p.counts),
        "change": p.change,
        "snapshots": p.snapshots,
        "fetched_at": render::rfc3339(&p.fetched_at),
        "state": p.state,
        "last_error": p.last_error,
        "last_error_at": render::rfc3339(&p.last_error_at),
        "next_fetch_at": render::rfc3339(&p.next_fetch_at),
    })
}

pub fn group_json(g: &v1::ResultGroup) -> Value {
    json!({ "key": g.key, "posts": g.posts, "engagement": g.engagement, "mean": g.mean })
}

fn results_json(r: &v1::ResultsResponse) -> Value {
    let groups = |gs: &[v1::ResultGroup]| gs.iter().map(group_json).collect::<Vec<_>>();
    json!({
        "since": render::rfc3339(&r.since),
        "tz": r.tz,
        "posts": r.posts.iter().map(post_json).collect::<Vec<_>>(),
        "best": r.best,
        "worst": r.worst,
        "totals": counts_json(&r.totals),
        "by_weekday": groups(&r.by_weekday),
        "by_hour": groups(&r.by_hour),
        "by_tag": groups(&r.by_tag),
        "by_shape": groups(&r.by_shape),
    })
}

pub async fn run(ctx: &Ctx, a: ResultsArgs) -> Result<()> {
    let cl = ctx.client().await?;
    if let Some(ResultsCmd::Refresh) = a.cmd {
        let r = call!(cl, review, refresh_results, v1::RefreshResultsRequest {})?;
        if ctx.json {
            render::print_json(&json!({ "queued": r.queued }));
        } else if r.queued == 0 {
            println!(
                "No posts to fetch: results are fetched for posts cloutd published or you recorded with a Mastodon or Bluesky URL."
            );
        } else {
            println!(
                "Fetching the counts of {} now; see them with `clout results`.",
                render::plural(r.queued, "post", "posts")
            );
        }
        return Ok(());
    }
    let r = call!(cl, review, results, v1::ResultsRequest { days: a.days })?;
    if ctx.json {
        render::print_json(&results_json(&r));
        return Ok(());
    }
    if r.posts.is_empty() {
        println!(
            "No results in the last {} days. Results are fetched 1 h, 24 h, 7 d and 30 d after a post that cloutd \
             published, or that you recorded with `clout posted ID --url https://…` on Mastodon or Bluesky.",
            a.days
        );
        return Ok(());
    }
    print_posts(ctx, &r.posts);
    let find = |id: Option<i64>| id.and_then(|id| r.posts.iter().find(|p| p.id == id));
    let engagement = |p: &v1::PostResult| p.counts.as_ref().map_or(0, |c| c.engagement);
    println!();
    if let Some(best) = find(r.best) {
        anstream::println!(
            "{GREEN}Best{GREEN:#}:  \u{201c}{}\u{201d} (draft {}), {}",
            render::cut(&best.label, 50),
            best.draft_id,
            render::plural(engagement(best) as u64, "interaction", "interactions")
        );
    }
    if let Some(worst) = find(r.worst) {
        anstream::println!(
            "{RED}Worst{RED:#}: \u{201c}{}\u{201d} (draft {}), {}: `clout setback --from-draft {}` to learn from it",
            render::cut(&worst.label, 50),
            worst.draft_id,
            render::plural(engagement(worst) as u64, "interaction", "interactions"),
            worst.draft_id
        );
    }
    print_groups("By weekday", &r.by_weekday, &r.tz);
    print_groups("By hour", &r.by_hour, &r.tz);
    print_groups("By tag", &r.by_tag, "");
    print_groups("Thread or single", &r.by_shape, "");
    let failing: Vec<&v1::PostResult> = r.posts.iter().filter(|p| !p.last_error.is_empty()).collect();
    if !failing.is_empty() {
        println!();
        for p in failing {
            let style = if p.state == "deleted" { DIM } else { YELLOW };
            let when = render::time(&p.last_error_at).map(|t| render::local(t, ctx.tz)).unwrap_or_default();
            anstream::println!("{style}draft {} ({when}): {}{style:#}", p.draft_id, p.last_error);
        }
    }
    Ok(())
}

fn print_posts(ctx: &Ctx, posts: &[v1::PostResult]) {
    let mut t = Table::new(vec![
        "PUBLISHED",
        "DRAFT",
        "ON",
        "LIKES",
        "REPOSTS",
        "REPLIES",
        "QUOTES",
        "CHANGE",
        "POST",
    ]);
    for p in posts {
        let c = p.counts.unwrap_or_default();
        let measured = p.snapshots > 0;
        let n = |v: i64| if measured { v.to_string() } else { "-".into() };
        let change = match p.change {
            Some(d) if d > 0 => (format!("+{d}"), GREEN),
            Some(d) => (d.to_string(), DIM),
            None => (String::new(), DIM),
        };
        let mut what = render::cut(&p.label, 40);
        match p.state.as_str() {
            "deleted" => what.push_str(" (deleted)"),
            _ if !p.last_error.is_empty() => what.push_str(" (fetch failing)"),
            _ => {}
        }
        let on = if p.account.is_empty() { p.network.clone() } else { p.account.clone() };
        t.row(vec![
            (render::time(&p.published_at).map(|d| render::local(d, ctx.tz)).unwrap_or_default(), BOLD),
            (p.draft_id.to_string(), anstyle::Style::new()),
            (on, render::CYAN),
            (n(c.likes), anstyle::Style::new()),
            (n(c.reposts), anstyle::Style::new()),
            (n(c.replies), anstyle::Style::new()),
            (c.quotes.map(|q| q.to_string()).unwrap_or_else(|| "-".into()), anstyle::Style::new()),
            change,
            (what, anstyle::Style::new()),
        ]);
    }
    t.print();
}

fn print_groups(title: &str, groups: &[v1::ResultGroup], tz: &str) {
    if groups.is_empty() {
        return;
    }
    let zone = if tz.is_empty() { String::new() } else { format!(" ({tz})") };
    let cells: Vec<String> = groups
        .iter()
        .map(|g| format!("{} {:.1} ({})", g.key, g.mean, render::plural(g.posts, "post", "posts")))
        .collect();
    anstream::println!("{BOLD}{title}{zone}{BOLD:#}: {}", cells.join(" · "));
}
