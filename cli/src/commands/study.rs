//! `clout study`: what the people you follow post, how often and when, what
//! did best, and what changed since you last looked. Also the stage
//! evidence (`clout program`) and `clout slots suggest`.

use anyhow::Result;
use clap::{Args, Subcommand};
use clout_proto::v1;
use serde_json::{Value, json};

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, DIM, GREEN, YELLOW};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StudyArgs {
    /// One person, by the handle you follow them under (default: everyone)
    #[arg(value_name = "HANDLE")]
    handle: Option<String>,
    /// Leave the "last looked" mark where it is, so the changes show again next time
    #[arg(long)]
    keep_mark: bool,
    #[command(subcommand)]
    cmd: Option<StudyCmd>,
}

#[derive(Subcommand, Debug)]
pub enum StudyCmd {
    /// Read their recent posts now, instead of at the daily time
    #[command(after_help = "Examples:\n  clout study refresh\n  clout study refresh @alice@mastodon.social")]
    Refresh {
        /// One person (default: everyone)
        #[arg(value_name = "HANDLE")]
        handle: Option<String>,
    },
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn when(ctx: &Ctx, t: &Option<prost_types::Timestamp>) -> String {
    render::time(t).map(|t| render::local(t, ctx.tz)).unwrap_or_default()
}

fn post_json(p: &v1::StudiedPost) -> Value {
    json!({
        "id": p.remote_id, "url": p.url, "posted_at": render::rfc3339(&p.posted_at), "excerpt": p.excerpt,
        "likes": p.likes, "reposts": p.reposts, "replies": p.replies, "quotes": p.quotes,
        "engagement": engagement(p), "thread": p.is_thread, "reply": p.is_reply, "images": p.has_images,
        "new": p.is_new,
    })
}

fn engagement(p: &v1::StudiedPost) -> i64 {
    p.likes + p.reposts + p.replies + p.quotes
}

fn person_json(p: &v1::StudiedPerson) -> Value {
    let c = p.cadence.clone().unwrap_or_default();
    let ch = p.changes.unwrap_or_default();
    json!({
        "follow_id": p.follow_id, "handle": p.handle, "network": p.network, "name": p.display_name,
        "why": p.why, "topic": p.topic,
        "followers": p.followers, "fetched_at": render::rfc3339(&p.fetched_at), "state": p.state,
        "next_fetch_at": render::rfc3339(&p.next_fetch_at), "last_error": p.last_error,
        "cadence": {
            "posts": c.posts, "posts_per_week": round(c.posts_per_week), "hours": c.hours, "weekdays": c.weekdays,
            "threads": round(c.threads), "images": round(c.images), "replies": round(c.replies),
        },
        "best": p.best.iter().map(post_json).collect::<Vec<_>>(),
        "recent": p.recent.iter().map(post_json).collect::<Vec<_>>(),
        "changes": {
            "looked_before": ch.looked_before, "looked_at": render::rfc3339(&ch.looked_at),
            "new_posts": ch.new_posts, "engagement_gained": ch.engagement_gained,
            "followers_change": ch.followers_change,
        },
    })
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// The `n` largest buckets, largest first, ties in order; empty ones left out.
fn top(counts: &[u32], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
    idx.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    idx.truncate(n);
    idx
}

fn counts_line(p: &v1::StudiedPost) -> String {
    let n = |v: i64| v.max(0) as u64;
    let mut parts = vec![
        render::plural(n(p.likes), "like", "likes"),
        render::plural(n(p.reposts), "repost", "reposts"),
        render::plural(n(p.replies), "reply", "replies"),
    ];
    if p.quotes > 0 {
        parts.push(render::plural(n(p.quotes), "quote", "quotes"));
    }
    parts.join(", ")
}

fn print_post(ctx: &Ctx, p: &v1::StudiedPost) {
    let mut marks = Vec::new();
    if p.is_thread {
        marks.push("thread");
    }
    if p.has_images {
        marks.push("images");
    }
    if p.is_reply {
        marks.push("reply");
    }
    let marks = if marks.is_empty() { String::new() } else { format!(" [{}]", marks.join(", ")) };
    let new = if p.is_new { "new " } else { "" };
    anstream::println!("    {GREEN}{new}{GREEN:#}{}  {}{marks}", when(ctx, &p.posted_at), counts_line(p));
    anstream::println!("      \u{201c}{}\u{201d}", render::cut(&p.excerpt, 100));
    if !p.url.is_empty() {
        anstream::println!("      {DIM}{}{DIM:#}", p.url);
    }
}

fn print_person(ctx: &Ctx, p: &v1::StudiedPerson) {
    let name = if p.display_name.is_empty() { String::new() } else { format!(" ({})", p.display_name) };
    let followers = match p.followers {
        Some(n) => format!(" · {}", render::plural(n.max(0) as u64, "follower", "followers")),
        None => String::new(),
    };
    anstream::println!("{BOLD}{}{BOLD:#}{name} · {}{followers}", p.handle, p.network);
    if !p.why.is_empty() || !p.topic.is_empty() {
        let parts: Vec<String> = [("why", &p.why), ("topic", &p.topic)]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        anstream::println!("  {DIM}{}{DIM:#}", parts.join(" · "));
    }
    let next = when(ctx, &p.next_fetch_at);
    match render::time(&p.fetched_at) {
        None if p.last_error.is_empty() => {
            println!(
                "  Not read yet{}.",
                if next.is_empty() { String::new() } else { format!("; reading {next}") }
            );
            return;
        }
        None => {}
        Some(t) => anstream::println!("  {DIM}Read {}; next {next}{DIM:#}", render::local(t, ctx.tz)),
    }
    if !p.last_error.is_empty() {
        anstream::println!("  {YELLOW}Last fetch failed:{YELLOW:#} {} (next try {next})", p.last_error);
    }
    if p.fetched_at.is_none() {
        return;
    }
    let c = p.cadence.clone().unwrap_or_default();
    if c.posts == 0 {
        println!("  No posts in the last 60 days.");
        return;
    }
    let days: Vec<&str> = top(&c.weekdays, 3).into_iter().map(|d| DAYS[d]).collect();
    let hours: Vec<String> = top(&c.hours, 3).into_iter().map(|h| format!("{h:02}:00")).collect();
    println!(
        "  Cadence: {:.1} posts a week ({} read) · mostly {} · around {} · threads {} · images {} · replies {}",
        c.posts_per_week,
        c.posts,
        days.join(", "),
        hours.join(", "),
        pct(c.threads),
        pct(c.images),
        pct(c.replies)
    );
    let ch = p.changes.unwrap_or_default();
    if ch.looked_before {
        let mut parts = vec![
            render::plural(u64::from(ch.new_posts), "new post", "new posts"),
            format!("+{} engagements", ch.engagement_gained),
        ];
        if let Some(f) = ch.followers_change {
            parts.push(format!("{f:+} followers"));
        }
        println!("  Since you looked ({}): {}", when(ctx, &ch.looked_at), parts.join(", "));
    } else {
        println!("  First look: every post is new.");
    }
    if !p.best.is_empty() {
        anstream::println!("  {BOLD}Best of the last 30 days{BOLD:#}");
        for b in &p.best {
            print_post(ctx, b);
        }
    }
    if !p.recent.is_empty() {
        anstream::println!("  {BOLD}Recent{BOLD:#}");
        for r in &p.recent {
            print_post(ctx, r);
        }
    }
}

pub async fn study(ctx: &Ctx, a: StudyArgs) -> Result<()> {
    let cl = ctx.client().await?;
    if let Some(StudyCmd::Refresh { handle }) = a.cmd {
        let r =
            call!(cl, study, refresh_study, v1::RefreshStudyRequest { handle: handle.unwrap_or_default() })?;
        if ctx.json {
            render::print_json(&json!({ "asked": r.asked }));
        } else if r.asked == 0 {
            println!("Already being read; `clout study` shows what arrives.");
        } else {
            println!(
                "Reading {} now; `clout study` shows what arrives.",
                render::plural(u64::from(r.asked), "person", "people")
            );
        }
        return Ok(());
    }
    let r = call!(
        cl,
        study,
        study,
        v1::StudyRequest { handle: a.handle.unwrap_or_default(), keep_mark: a.keep_mark }
    )?;
    if ctx.json {
        render::print_json(
            &json!({ "tz": r.tz, "people": r.people.iter().map(person_json).collect::<Vec<_>>() }),
        );
        return Ok(());
    }
    if r.people.is_empty() {
        println!(
            "Nobody to study yet. Follow someone on Mastodon or Bluesky:\n  clout follow add @alice@mastodon.social -p mastodon\n  clout follow add alice.bsky.social -p bluesky"
        );
        return Ok(());
    }
    for (i, p) in r.people.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_person(ctx, p);
    }
    anstream::println!("\n{DIM}Hours and days are in {}.{DIM:#}", r.tz);
    Ok(())
}

fn rate_json(r: &Option<v1::Rate>) -> Value {
    let r = (*r).unwrap_or_default();
    json!({ "posts": r.posts, "per_post": round(r.per_post), "per_thousand_followers": r.per_thousand.map(round) })
}

pub fn stage_json(s: &v1::Stage) -> Value {
    json!({
        "study_weeks": s.study_weeks, "study_weeks_needed": s.study_weeks_needed,
        "consistency": s.consistency, "consistency_needed": s.consistency_needed,
        "own": rate_json(&s.own), "follows": rate_json(&s.follows),
        "ratio": s.ratio.map(round), "ratio_needed": s.ratio_needed,
        "ready": s.ready, "missing": s.missing,
    })
}

fn rate_text(r: &Option<v1::Rate>) -> String {
    let r = (*r).unwrap_or_default();
    let per_k =
        r.per_thousand.map_or("size not known".to_string(), |k| format!("{k:.1} per 1,000 followers"));
    format!(
        "{:.1} engagements a post over {} ({per_k})",
        r.per_post,
        render::plural(u64::from(r.posts), "post", "posts")
    )
}

pub fn print_stage(s: &v1::Stage) {
    anstream::println!("{BOLD}Stage evidence{BOLD:#} (moving from learning to influencing)");
    let ok = |met: bool| if met { "✓" } else { "·" };
    println!(
        "  {} Study:       {} of {} weeks with a study task done",
        ok(s.study_weeks >= s.study_weeks_needed),
        s.study_weeks,
        s.study_weeks_needed
    );
    println!(
        "  {} Consistency: {} (last 28 days; {} needed)",
        ok(s.consistency >= s.consistency_needed),
        s.consistency,
        s.consistency_needed
    );
    println!("  {} Your posts:  {}", ok(s.ratio.is_some_and(|r| r >= s.ratio_needed)), rate_text(&s.own));
    println!("    They post:  {}", rate_text(&s.follows));
    if let Some(r) = s.ratio {
        println!(
            "    Per 1,000 followers you reach {:.0} % of them; {:.0} % is enough",
            r * 100.0,
            s.ratio_needed * 100.0
        );
    }
    if s.ready {
        anstream::println!("  {GREEN}Ready:{GREEN:#} clout program set --purpose influence");
    } else if v1::Purpose::try_from(s.purpose) == Ok(v1::Purpose::Learn) {
        for m in &s.missing {
            anstream::println!("  {DIM}Still to come: {m}{DIM:#}");
        }
    }
}

fn suggestion_json(s: &v1::SlotSuggestion) -> Value {
    json!({
        "spec": s.spec, "score": round(s.score), "own_posts": s.own_posts, "own_per_post": round(s.own_per_post),
        "follows_posts": s.follows_posts, "follows_per_post": round(s.follows_per_post), "evidence": s.evidence,
    })
}

pub async fn suggest_slots(ctx: &Ctx, count: u32, add: bool) -> Result<()> {
    let cl = ctx.client().await?;
    let r = call!(cl, study, suggest_slots, v1::SuggestSlotsRequest { count, add })?;
    if ctx.json {
        let added: Vec<Value> = r.added.iter().map(|s| json!({ "id": s.id, "spec": s.spec })).collect();
        render::print_json(&json!({
            "tz": r.tz, "own_posts": r.own_posts, "follows_posts": r.follows_posts,
            "suggestions": r.suggestions.iter().map(suggestion_json).collect::<Vec<_>>(), "added": added,
        }));
        return Ok(());
    }
    if r.suggestions.is_empty() {
        println!(
            "Nothing to go on yet: no results of your posts and no posts read from the people you follow.\n\
             Follow someone (clout follow add @alice@mastodon.social -p mastodon), then clout study refresh."
        );
        return Ok(());
    }
    println!(
        "From {} of yours and {} by people you follow (in {}):",
        render::plural(u64::from(r.own_posts), "post", "posts"),
        render::plural(u64::from(r.follows_posts), "post", "posts"),
        r.tz
    );
    for s in &r.suggestions {
        anstream::println!("  {BOLD}{:<10}{BOLD:#} {}", s.spec, s.evidence);
    }
    if r.added.is_empty() {
        anstream::println!(
            "{DIM}Nothing was added. Add them with: clout slots suggest --add (or clout slots add \"{}\"){DIM:#}",
            r.suggestions[0].spec
        );
    } else {
        let ids: Vec<String> = r.added.iter().map(|s| s.id.to_string()).collect();
        println!("Added as slots {}.", ids.join(", "));
    }
    Ok(())
}
