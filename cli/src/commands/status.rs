//! `clout status`: is the daemon there, and what is it doing.

use anyhow::Result;
use clout_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, GREEN, RED, YELLOW};

pub async fn run(ctx: &Ctx) -> Result<()> {
    let cl = ctx.client().await?;
    let s = call!(cl, daemon, status, v1::StatusRequest {})?;
    let cli_version = env!("CARGO_PKG_VERSION");
    let mismatch = s.protocol != clout_proto::PROTOCOL;
    let started = render::time(&s.started_at);
    // Times are cloutd's, so they are seen from its clock (shifted by --clock-offset, if at all).
    let daemon_now = chrono::Utc::now() + chrono::Duration::milliseconds(s.clock_offset_ms);
    let next = render::time(&s.next_due_at);
    // An older daemon may not know sinks; the status still shows the rest.
    let sinks = call!(cl, sinks, list_sinks, v1::ListSinksRequest {}).map(|r| r.sinks).unwrap_or_default();
    let sink_json: Vec<_> = sinks
        .iter()
        .map(|k| json!({ "id": k.id, "kind": k.kind, "healthy": k.healthy, "backlog": k.backlog, "last_error": k.last_error }))
        .collect();
    if ctx.json {
        render::print_json(&json!({
            "version": s.version,
            "protocol": s.protocol,
            "cli_version": cli_version,
            "cli_protocol": clout_proto::PROTOCOL,
            "compatible": !mismatch,
            "pid": s.pid,
            "started_at": started.map(|t| t.to_rfc3339()),
            "uptime_seconds": started.map(|t| (daemon_now - t).num_seconds()),
            "database": s.database,
            "socket": s.socket,
            "next_due_at": next.map(|t| t.to_rfc3339()),
            "next_due_kind": s.next_due_kind,
            "next_due_id": (s.next_due_id != 0).then_some(s.next_due_id),
            "paused": s.paused,
            "paused_at": render::rfc3339(&s.paused_at),
            "pending_items": s.pending_items,
            "nudges": s.nudges,
            "calendar_url": (!s.calendar_url.is_empty()).then_some(&s.calendar_url),
            "clock_offset_ms": s.clock_offset_ms,
            "sinks": sink_json,
            "healthy": s.healthy,
            "problems": s.problems,
            "lag_ms": s.lag_ms,
            "health_threshold_ms": s.health_threshold_ms,
            "loops": s.loops.iter().map(|l| json!({
                "name": l.name,
                "last_turn": render::time(&l.last_turn).map(|t| t.to_rfc3339()),
                "busy_ms": l.busy_ms,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let relative = |t| render::relative_to(t, daemon_now);
        anstream::println!("{BOLD}cloutd {}{BOLD:#} (protocol {}), pid {}", s.version, s.protocol, s.pid);
        if let Some(t) = started {
            println!("Up since:  {} ({})", render::local(t, ctx.tz), relative(t).replace(" ago", ""));
        }
        if s.clock_offset_ms != 0 {
            anstream::println!(
                "Clock:     {YELLOW}{} ahead of the wall clock{YELLOW:#} (cloutd --clock-offset); times given to clout are read on the wall clock",
                render::span(s.clock_offset_ms.unsigned_abs() / 1000)
            );
        }
        if s.healthy {
            anstream::println!("Health:    {GREEN}firing on time{GREEN:#} (lag {})", lag(s.lag_ms));
        } else {
            anstream::println!("Health:    {RED}UNHEALTHY{RED:#} (lag {})", lag(s.lag_ms));
            for p in &s.problems {
                anstream::println!("           {RED}{p}{RED:#}");
            }
        }
        let loops: Vec<String> = s
            .loops
            .iter()
            .map(|l| {
                let last = render::time(&l.last_turn).map_or_else(|| "never".to_string(), relative);
                if l.busy_ms > 0 {
                    format!("{} {last}, busy {}", l.name, lag(l.busy_ms))
                } else {
                    format!("{} {last}", l.name)
                }
            })
            .collect();
        println!("Loops:     {}", loops.join("; "));
        println!("Socket:    {}", s.socket);
        println!("Database:  {}", s.database);
        if s.paused {
            let since = render::time(&s.paused_at).map(|t| format!(" since {}", render::local(t, ctx.tz)));
            anstream::println!(
                "Queue:     {YELLOW}paused{}{YELLOW:#}: nothing fires until `clout queue resume`",
                since.unwrap_or_default()
            );
        }
        match next {
            Some(t) => {
                let what = match s.next_due_kind.as_str() {
                    "post" => format!(": draft {}", s.next_due_id),
                    "task" => format!(": task {}", s.next_due_id),
                    _ => String::new(),
                };
                let held = if s.paused { ", held by the pause" } else { "" };
                println!("Next due:  {} ({}){what}{held}", render::local(t, ctx.tz), relative(t));
            }
            None => println!("Next due:  nothing scheduled"),
        }
        println!("Pending:   {}", render::plural(s.pending_items, "item", "items"));
        println!("Nudges:    {} in the log", s.nudges);
        if !s.calendar_url.is_empty() {
            println!("Calendar:  {} (subscribe to it in a calendar app)", s.calendar_url);
        }
        if sinks.is_empty() {
            println!(
                "Sinks:     none (clout sink add … delivers nudges to a webhook, a program or the desktop)"
            );
        }
        for k in &sinks {
            let health = if k.healthy { "ok".to_string() } else { format!("failing: {}", k.last_error) };
            println!("Sink {}:    {} {}, backlog {}", k.id, k.kind, health, k.backlog);
        }
        if s.version != cli_version && !mismatch {
            anstream::println!("{YELLOW}Note: clout is {cli_version}, cloutd is {}{YELLOW:#}", s.version);
        }
    }
    if !s.healthy {
        anyhow::bail!("cloutd is not firing on time: {}", s.problems.join("; "));
    }
    if mismatch {
        anyhow::bail!(
            "clout {cli_version} speaks protocol {}, but cloutd {} speaks protocol {}: install matching versions and restart cloutd",
            clout_proto::PROTOCOL,
            s.version,
            s.protocol
        );
    }
    Ok(())
}

/// `0.2s`, `75s`, `4m 10s`.
fn lag(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        if s < 120 { format!("{s}s") } else { format!("{}m {}s", s / 60, s % 60) }
    }
}
