//! `clout program`, `clout slots` and `clout follow`: the shape of the program.

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use clout_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, DIM, Table};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PurposeArg {
    /// Learning: following, reading and replying to people with influence
    Learn,
    /// Influencing: creating and leading conversations
    Influence,
}

#[derive(Subcommand, Debug)]
pub enum ProgramCmd {
    /// Set the purpose, goals and time zone (unset options keep their value)
    #[command(
        after_help = "Examples:\n  clout program set --purpose influence\n  clout program set --posts-per-week 3 --engagements-per-day 2 --tz Europe/Berlin"
    )]
    Set {
        /// The stage you are in
        #[arg(long, value_enum)]
        purpose: Option<PurposeArg>,
        /// Goal: posts published per week
        #[arg(long, value_name = "N")]
        posts_per_week: Option<u32>,
        /// Goal: engagement tasks done per day
        #[arg(long, value_name = "N")]
        engagements_per_day: Option<u32>,
        /// IANA time zone for slots and tasks, e.g. Europe/Berlin [default: cloutd's local zone]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
    },
    /// Show the program
    #[command(after_help = "Examples:\n  clout program show\n  clout --json program")]
    Show,
}

#[derive(Subcommand, Debug)]
pub enum SlotsCmd {
    /// Add a posting slot: "mon,wed,fri 09:00", "weekdays 12:30", or a cron expression
    #[command(
        after_help = "Examples:\n  clout slots add \"mon,wed,fri 09:00\"\n  clout slots add \"weekdays 12:30\"\n  clout slots add \"30 9 * * 1-5\""
    )]
    Add {
        /// When: days and a time ("mon,wed,fri 09:00"), or a crontab line
        spec: String,
    },
    /// List the posting slots with their next times
    #[command(visible_alias = "ls", after_help = "Examples:\n  clout slots list\n  clout --json slots")]
    List,
    /// Propose slots from your posts' results and when the people you follow post; adds nothing unless --add
    #[command(
        after_help = "Examples:\n  clout slots suggest\n  clout slots suggest -n 5\n  clout slots suggest --add"
    )]
    Suggest {
        /// How many slots (at most one a day)
        #[arg(long, short = 'n', default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=7))]
        count: u32,
        /// Add the suggested slots
        #[arg(long)]
        add: bool,
    },
    /// Remove a posting slot
    #[command(after_help = "Examples:\n  clout slots rm 2")]
    Rm {
        /// The slot id (`clout slots` shows it)
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum FollowCmd {
    /// Add someone to learn from
    #[command(
        after_help = "Examples:\n  clout follow add @alice@mastodon.social -p mastodon --why \"clear threads\" --topic rust\n  clout follow add bob.bsky.social -p bluesky"
    )]
    Add {
        /// Their handle, e.g. @alice@mastodon.social or alice.bsky.social
        handle: String,
        /// Where they post, e.g. mastodon, bluesky, linkedin
        #[arg(long, short)]
        platform: String,
        /// Why you follow them
        #[arg(long)]
        why: Option<String>,
        /// What you learn from them
        #[arg(long)]
        topic: Option<String>,
        /// Mastodon or Bluesky: the server to read their posts from, when not https://THEIR-DOMAIN
        /// (Mastodon) or https://public.api.bsky.app (Bluesky)
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// List the people you learn from
    #[command(visible_alias = "ls", after_help = "Examples:\n  clout follow list\n  clout --json follow")]
    List,
    /// Stop tracking someone
    #[command(after_help = "Examples:\n  clout follow rm 1")]
    Rm {
        /// The follow id (`clout follow` shows it)
        id: i64,
    },
}

fn purpose_name(p: i32) -> &'static str {
    match v1::Purpose::try_from(p) {
        Ok(v1::Purpose::Influence) => "influence",
        _ => "learn",
    }
}

fn program_json(p: &v1::Program) -> serde_json::Value {
    json!({
        "purpose": purpose_name(p.purpose),
        "posts_per_week": p.posts_per_week,
        "engagements_per_day": p.engagements_per_day,
        "tz": p.tz,
        "paused": p.paused,
    })
}

fn print_program(ctx: &Ctx, p: &v1::Program) {
    if ctx.json {
        render::print_json(&program_json(p));
        return;
    }
    let stage = match v1::Purpose::try_from(p.purpose) {
        Ok(v1::Purpose::Influence) => "influence: creating and leading conversations",
        _ => "learn: following, reading and replying to people with influence",
    };
    anstream::println!("{BOLD}Purpose:{BOLD:#}  {stage}");
    let goal = |n: u32, what: &str| if n == 0 { "no goal set".to_string() } else { format!("{n} {what}") };
    println!("Posts:    {}", goal(p.posts_per_week, "a week"));
    println!("Engage:   {}", goal(p.engagements_per_day, "tasks a day"));
    println!("Zone:     {}", p.tz);
    if p.paused {
        println!("Queue:    paused (resume with: clout queue resume)");
    }
}

pub async fn program(ctx: &Ctx, cmd: ProgramCmd) -> Result<()> {
    let cl = ctx.client().await?;
    let show = matches!(cmd, ProgramCmd::Show);
    let p = match cmd {
        ProgramCmd::Show => call!(cl, program, get_program, v1::GetProgramRequest {})?,
        ProgramCmd::Set { purpose, posts_per_week, engagements_per_day, tz } => {
            let purpose = purpose.map(|p| match p {
                PurposeArg::Learn => v1::Purpose::Learn as i32,
                PurposeArg::Influence => v1::Purpose::Influence as i32,
            });
            call!(
                cl,
                program,
                set_program,
                v1::SetProgramRequest { purpose, posts_per_week, engagements_per_day, tz }
            )?
        }
    };
    if show {
        let stage = call!(cl, study, get_stage, v1::GetStageRequest {})?;
        if ctx.json {
            let mut v = program_json(&p);
            v["stage"] = super::study::stage_json(&stage);
            render::print_json(&v);
        } else {
            print_program(ctx, &p);
            println!();
            super::study::print_stage(&stage);
        }
        return Ok(());
    }
    print_program(ctx, &p);
    Ok(())
}

fn times(ctx: &Ctx, ts: &[prost_types::Timestamp]) -> String {
    ts.iter()
        .filter_map(clout_proto::from_ts)
        .map(|t| render::local(t, ctx.tz))
        .collect::<Vec<_>>()
        .join(", ")
}

fn slot_json(s: &v1::Slot) -> serde_json::Value {
    let next: Vec<_> = s.next.iter().map(|t| render::rfc3339(&Some(*t))).collect();
    json!({ "id": s.id, "spec": s.spec, "next": next })
}

pub async fn slots(ctx: &Ctx, cmd: SlotsCmd) -> Result<()> {
    let cl = ctx.client().await?;
    match cmd {
        SlotsCmd::Add { spec } => {
            let s = call!(cl, program, add_slot, v1::AddSlotRequest { spec })?;
            if ctx.json {
                render::print_json(&slot_json(&s));
            } else {
                anstream::println!(
                    "Added slot {BOLD}{}{BOLD:#} \u{201c}{}\u{201d}; next: {}",
                    s.id,
                    s.spec,
                    times(ctx, &s.next)
                );
            }
        }
        SlotsCmd::List => {
            let r = call!(cl, program, list_slots, v1::ListSlotsRequest {})?;
            if ctx.json {
                let slots: Vec<_> = r.slots.iter().map(slot_json).collect();
                render::print_json(&json!({ "tz": r.tz, "slots": slots }));
            } else if r.slots.is_empty() {
                println!("No posting slots. Add one with: clout slots add \"mon,wed,fri 09:00\"");
            } else {
                let mut t = Table::new(vec!["ID", "SLOT", "NEXT"]);
                for s in &r.slots {
                    t.row(vec![
                        (s.id.to_string(), BOLD),
                        (s.spec.clone(), anstyle::Style::new()),
                        (times(ctx, &s.next), DIM),
                    ]);
                }
                t.print();
                anstream::println!("{DIM}Slots are read in {}.{DIM:#}", r.tz);
            }
        }
        SlotsCmd::Suggest { count, add } => return super::study::suggest_slots(ctx, count, add).await,
        SlotsCmd::Rm { id } => {
            call!(cl, program, remove_slot, v1::RemoveSlotRequest { id })?;
            if ctx.json {
                render::print_json(&json!({ "id": id, "deleted": true }));
            } else {
                println!("Removed slot {id}");
            }
        }
    }
    Ok(())
}

fn follow_json(f: &v1::Follow) -> serde_json::Value {
    json!({ "id": f.id, "handle": f.handle, "platform": f.platform, "why": f.why, "topic": f.topic,
            "server": f.server, "created_at": render::rfc3339(&f.created_at) })
}

pub async fn follow(ctx: &Ctx, cmd: FollowCmd) -> Result<()> {
    let cl = ctx.client().await?;
    match cmd {
        FollowCmd::Add { handle, platform, why, topic, server } => {
            let f = call!(
                cl,
                program,
                add_follow,
                v1::AddFollowRequest {
                    handle,
                    platform,
                    why: why.unwrap_or_default(),
                    topic: topic.unwrap_or_default(),
                    server: server.unwrap_or_default(),
                }
            )?;
            if ctx.json {
                render::print_json(&follow_json(&f));
            } else {
                anstream::println!(
                    "Following {BOLD}{}{BOLD:#} on {} (follow {})",
                    f.handle,
                    f.platform,
                    f.id
                );
            }
        }
        FollowCmd::List => {
            let r = call!(cl, program, list_follows, v1::ListFollowsRequest {})?;
            if ctx.json {
                render::print_json(&serde_json::Value::Array(r.follows.iter().map(follow_json).collect()));
            } else if r.follows.is_empty() {
                println!(
                    "Nobody yet. Add someone to learn from: clout follow add @alice@mastodon.social -p mastodon"
                );
            } else {
                let mut t = Table::new(vec!["ID", "HANDLE", "PLATFORM", "TOPIC", "WHY"]);
                for f in &r.follows {
                    t.row(vec![
                        (f.id.to_string(), BOLD),
                        (f.handle.clone(), anstyle::Style::new()),
                        (f.platform.clone(), DIM),
                        (f.topic.clone(), anstyle::Style::new()),
                        (render::cut(&f.why, 50), DIM),
                    ]);
                }
                t.print();
            }
        }
        FollowCmd::Rm { id } => {
            call!(cl, program, remove_follow, v1::RemoveFollowRequest { id })?;
            if ctx.json {
                render::print_json(&json!({ "id": id, "deleted": true }));
            } else {
                println!("Removed follow {id}");
            }
        }
    }
    Ok(())
}
