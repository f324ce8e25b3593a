//! `clout status`: is the daemon there, and what is it doing.

use anyhow::Result;
use clout_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, YELLOW};

pub async fn run(ctx: &Ctx) -> Result<()> {
    let cl = ctx.client().await?;
    let s = call!(cl, daemon, status, v1::StatusRequest {})?;
    let cli_version = env!("CARGO_PKG_VERSION");
    let mismatch = s.protocol != clout_proto::PROTOCOL;
    let started = render::time(&s.started_at);
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
            "uptime_seconds": started.map(|t| (chrono::Utc::now() - t).num_seconds()),
            "database": s.database,
            "socket": s.socket,
            "next_due_at": next.map(|t| t.to_rfc3339()),
            "pending_items": s.pending_items,
            "nudges": s.nudges,
            "sinks": sink_json,
        }));
    } else {
        anstream::println!("{BOLD}cloutd {}{BOLD:#} (protocol {}), pid {}", s.version, s.protocol, s.pid);
        if let Some(t) = started {
            println!("Up since:  {} ({})", render::local(t, ctx.tz), render::relative(t).replace(" ago", ""));
        }
        println!("Socket:    {}", s.socket);
        println!("Database:  {}", s.database);
        match next {
            Some(t) => println!("Next due:  {} ({})", render::local(t, ctx.tz), render::relative(t)),
            None => println!("Next due:  nothing scheduled"),
        }
        println!("Pending:   {} item(s)", s.pending_items);
        println!("Nudges:    {} in the log", s.nudges);
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
