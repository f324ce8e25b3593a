//! `clout watch` and `clout nudges`: the nudge log, live and past.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use clout_proto::v1;

use super::Ctx;
use crate::call;
use crate::client::Client;
use crate::render::{self, BOLD, DIM, YELLOW};

fn print_nudge(ctx: &Ctx, n: &v1::Nudge) {
    if ctx.json {
        render::print_json(&render::nudge_json(n));
        return;
    }
    let when = render::time(&n.fired_at).map(|t| render::local(t, ctx.tz)).unwrap_or_default();
    let about = next_step(n);
    let style = if n.late { YELLOW } else { BOLD };
    let mut out = anstream::stdout().lock();
    let _ = writeln!(out, "{DIM}{when}  #{}{DIM:#}  {style}{}{style:#}{DIM}{about}{DIM:#}", n.id, n.message);
    let _ = out.flush();
}

/// What to do about a nudge, shown after it: `(draft 3: clout posted 3 --url …)`.
fn next_step(n: &v1::Nudge) -> String {
    match (n.kind.as_str(), n.draft_id, n.task_id) {
        ("post_due", Some(d), _) => format!("  (draft {d}: clout posted {d} --url …)"),
        ("publish_failed", Some(d), _) => format!("  (draft {d}: clout draft show {d})"),
        (_, Some(d), _) => format!("  (draft {d})"),
        ("task_due", None, Some(t)) => format!("  (task {t}: clout task done {t})"),
        (_, None, Some(t)) => format!("  (task {t}: clout task list)"),
        _ => String::new(),
    }
}

/// Streams nudges as they fire. When cloutd goes away, reconnects and
/// resumes after the last nudge printed, so nothing is missed.
pub async fn watch(ctx: &Ctx, after: Option<i64>, count: Option<u64>) -> Result<()> {
    let mut cl = ctx.client().await?;
    let mut cursor = match after {
        Some(id) => id,
        // Start at the current end of the log; later reconnects resume from here.
        None => {
            call!(cl, nudges, list_nudges, v1::ListNudgesRequest { limit: 1, all: false, unread: false })?
                .nudges
                .last()
                .map(|n| n.id)
                .unwrap_or(0)
        }
    };
    let mut printed = 0u64;
    if count == Some(0) {
        return Ok(());
    }
    if !ctx.json {
        eprintln!("Watching nudges from cloutd at {} (Ctrl-C to stop)…", ctx.socket.display());
    }
    // `clout watch | head -1`: the reader is gone, so is the watch.
    let gone = render::stdout_gone();
    tokio::pin!(gone);
    loop {
        // No deadline: a watch lasts as long as the user wants it.
        let stream = cl.nudges().watch(v1::WatchRequest { after_id: Some(cursor) }).await;
        let mut failure = None;
        match stream {
            Ok(resp) => {
                let mut stream = resp.into_inner();
                loop {
                    let message = tokio::select! {
                        m = stream.message() => m,
                        () = &mut gone => return Ok(()),
                    };
                    match message {
                        Ok(Some(n)) => {
                            cursor = n.id;
                            print_nudge(ctx, &n);
                            printed += 1;
                            if count.is_some_and(|c| printed >= c) {
                                return Ok(());
                            }
                        }
                        Ok(None) => break,
                        Err(s) => {
                            failure = Some(s);
                            break;
                        }
                    }
                }
            }
            Err(s) => failure = Some(s),
        }
        // Reconnecting cannot mend a refusal: say why and stop.
        if let Some(s) = failure.filter(|s| {
            matches!(
                s.code(),
                tonic::Code::Unauthenticated
                    | tonic::Code::PermissionDenied
                    | tonic::Code::InvalidArgument
                    | tonic::Code::Unimplemented
            )
        }) {
            return Err(crate::client::status_error(&ctx.socket, s));
        }
        eprintln!("Lost cloutd at {}; reconnecting…", ctx.socket.display());
        cl = tokio::select! {
            cl = reconnect(ctx) => cl,
            () = &mut gone => return Ok(()),
        };
        eprintln!("Reconnected; resuming after nudge {cursor}.");
    }
}

async fn reconnect(ctx: &Ctx) -> Client {
    let mut delay = Duration::from_millis(100);
    loop {
        if let Ok(cl) = Client::connect(&ctx.socket).await {
            return cl;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum NudgeCmd {
    /// Mark nudges as seen: the ids given, `--all` unread ones, or those of a `--kind`
    #[command(
        after_help = "Examples:\n  clout nudge ack 12\n  clout nudge ack 12 13 14\n  clout nudge ack --all\n  clout nudge ack --kind task_missed --kind lesson"
    )]
    Ack {
        /// The nudge ids (`clout nudges --unread` shows them)
        #[arg(
            value_name = "ID",
            required_unless_present_any = ["all", "kind"],
            conflicts_with = "all",
            add = crate::complete::nudge_ids()
        )]
        ids: Vec<i64>,
        /// Every unread nudge
        #[arg(long)]
        all: bool,
        /// Only unread nudges of this kind (post_due, task_due, task_missed, lesson, …); repeatable
        #[arg(long, value_name = "KIND")]
        kind: Vec<String>,
    },
    /// Mark a nudge as seen and get it again later
    #[command(
        after_help = "Examples:\n  clout nudge snooze 12 --for 1h\n  clout nudge snooze 12 --for tomorrow\n  clout nudge snooze 12 --for \"mon 9am\""
    )]
    Snooze {
        /// The nudge id (`clout nudges --unread` shows it)
        #[arg(add = crate::complete::nudge_ids())]
        id: i64,
        /// How long (10m, 1h, 2h30m, 1d) or until when (tomorrow, mon 9am: see README "Time phrases")
        #[arg(long = "for", value_name = "DURATION|WHEN")]
        duration: String,
    },
}

/// Until when to snooze: a duration from now (`1h`) or a WHEN phrase (`tomorrow`).
fn snooze_until(ctx: &Ctx, phrase: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    let now = chrono::Utc::now();
    if let Ok(d) = humantime::parse_duration(phrase.trim()) {
        let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        return Ok(now.checked_add_signed(d).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC));
    }
    match crate::when::parse_when(phrase, now, ctx.tz) {
        Ok(at) => Ok(at),
        Err(e) => anyhow::bail!("--for takes a duration (10m, 1h, 1d) or a time: {e}"),
    }
}

pub async fn nudge(ctx: &Ctx, cmd: NudgeCmd) -> Result<()> {
    let cl = ctx.client().await?;
    match cmd {
        NudgeCmd::Ack { ids, all, kind } if ids.len() == 1 && !all && kind.is_empty() => {
            let n = call!(cl, nudges, ack, v1::AckRequest { id: ids[0] })?;
            if ctx.json {
                render::print_json(&render::nudge_json(&n));
            } else {
                println!("Acknowledged nudge {}", n.id);
            }
        }
        NudgeCmd::Ack { ids, all, kind } => {
            let r = call!(cl, nudges, ack_many, v1::AckManyRequest { ids, all, kinds: kind })?;
            if ctx.json {
                render::print_json(&serde_json::json!({ "acked": r.acked }));
            } else if r.acked.is_empty() {
                println!("Nothing to acknowledge: those nudges were already seen.");
            } else {
                let ids: Vec<String> = r.acked.iter().map(|id| format!("#{id}")).collect();
                println!(
                    "Acknowledged {} ({})",
                    render::plural(r.acked.len() as u64, "nudge", "nudges"),
                    ids.join(", ")
                );
            }
        }
        NudgeCmd::Snooze { id, duration } => {
            let until = snooze_until(ctx, &duration)?;
            let r = call!(
                cl,
                nudges,
                snooze,
                v1::SnoozeRequest { id, seconds: 0, until: Some(clout_proto::ts(until)) }
            )?;
            if ctx.json {
                let mut v = r.nudge.as_ref().map(render::nudge_json).unwrap_or_default();
                v["snoozed_until"] = render::rfc3339(&r.until);
                render::print_json(&v);
            } else {
                let until = render::time(&r.until).map(|t| render::local(t, ctx.tz)).unwrap_or_default();
                println!("Snoozed nudge {id} until {until}");
            }
        }
    }
    Ok(())
}

pub async fn list(ctx: &Ctx, all: bool, unread: bool, limit: u32) -> Result<()> {
    let cl = ctx.client().await?;
    let r = call!(cl, nudges, list_nudges, v1::ListNudgesRequest { limit, all, unread })?;
    if ctx.json {
        render::print_json(&serde_json::Value::Array(r.nudges.iter().map(render::nudge_json).collect()));
        return Ok(());
    }
    if r.nudges.is_empty() {
        if unread {
            println!("No unread nudges.");
            return Ok(());
        }
        println!("No nudges yet. They appear here when a scheduled item comes due.");
        return Ok(());
    }
    for n in &r.nudges {
        print_nudge(ctx, n);
    }
    Ok(())
}
