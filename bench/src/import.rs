//! `import64`: `clout import` of an export just under the 64 MiB limit, and
//! how late a draft fires that comes due while the import runs.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::procs::{Daemon, Home, clout_cmd, run_ok};
use crate::report::{Report, ms, ms_between};
use crate::scenarios::{Ctx, READY_LIMIT, stop, wait_for_draft, watcher_warm_up};

/// An export document of about `bytes`, made of drafts of 600 characters.
pub fn document(bytes: usize) -> String {
    let created = Utc::now() - chrono::Duration::days(30);
    let mut drafts = Vec::new();
    let mut size = 0;
    let filler = "the quick brown fox jumps over the lazy dog; ".repeat(14);
    let mut i: i64 = 0;
    while size < bytes {
        i += 1;
        let at = (created + chrono::Duration::milliseconds(i)).to_rfc3339_opts(SecondsFormat::Millis, true);
        let d = json!({
            "id": i, "title": format!("draft {i}"), "text": format!("{i}: {filler}"),
            "platforms": ["mastodon"], "tags": ["bench"], "state": "draft",
            "scheduled_at": null, "fired_at": null, "late": false, "published_at": null,
            "published_url": "", "slotted": false, "created_at": at, "updated_at": at,
        });
        size += d.to_string().len() + 1;
        drafts.push(d);
    }
    json!({
        "format": "clout-export", "version": 1,
        "program": { "purpose": "learn", "posts_per_week": 3, "engagements_per_day": 5, "tz": "UTC", "paused": false },
        "drafts": drafts,
    })
    .to_string()
}

/// Imports `file` with `clout import`; returns how long it took and the added count.
fn import(ctx: &Ctx, d: &Daemon, file: &std::path::Path) -> Result<(Duration, u64)> {
    let mut cmd = clout_cmd(&ctx.bins, &d.socket);
    cmd.arg("--json").arg("import").arg(file);
    let (out, took) = run_ok(&mut cmd, "clout import", Duration::from_secs(600))?;
    let v: Value = serde_json::from_slice(&out.stdout).context("clout --json import printed no JSON")?;
    Ok((took, v.get("added").and_then(Value::as_u64).unwrap_or(0)))
}

pub fn import64(ctx: &Ctx, rep: &mut Report) -> Result<()> {
    const S: &str = "import64";
    let mib = if ctx.quick { 8 } else { 63 };
    let home = Home::new()?;
    let file = home.dir.path().join("export.json");
    let doc = document(mib * 1024 * 1024);
    std::fs::write(&file, &doc).context("write the export")?;
    let size_mib = doc.len() as f64 / (1024.0 * 1024.0);
    drop(doc);
    eprintln!("[{S}] an export of {size_mib:.1} MiB");

    // Into an empty database, then the same file again (every draft skipped).
    let d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
    let (took, added) = import(ctx, &d, &file)?;
    rep.add(
        S,
        format!("import of {size_mib:.0} MiB ({added} drafts) into an empty database"),
        ms(took),
        "ms",
    );
    let (again, re_added) = import(ctx, &d, &file)?;
    rep.add(S, "the same file again (all skipped)", ms(again), "ms");
    if re_added != 0 {
        rep.note(S, format!("the second import added {re_added} drafts"));
    }
    stop(d, rep, S);

    // A fresh daemon: a draft comes due halfway through the import.
    let home2 = Home::new()?;
    let d = Daemon::start(&ctx.bins, &home2, READY_LIMIT)?;
    let mut w = watcher_warm_up(ctx, &d, S)?;
    let due = Utc::now() + chrono::Duration::from_std(took / 2 + Duration::from_millis(300))?;
    let due = chrono::DateTime::from_timestamp_millis(due.timestamp_millis()).context("time")?;
    let mut cmd = clout_cmd(&ctx.bins, &d.socket);
    let at = due.to_rfc3339_opts(SecondsFormat::Millis, true);
    cmd.args(["--json", "draft", "add", "due during the import", "--at", &at]);
    let (out, _) = run_ok(&mut cmd, "clout draft add", Duration::from_secs(30))?;
    let v: Value = serde_json::from_slice(&out.stdout).context("draft add printed no JSON")?;
    let Some(id) = v.get("id").and_then(Value::as_i64) else { bail!("no id in {v}") };
    let start = Instant::now();
    let (during, _) = import(ctx, &d, &file)?;
    let mut stray = 0;
    let n = wait_for_draft(&mut w, id, Instant::now() + Duration::from_secs(120), &mut stray)?;
    let lateness = ms_between(due, n.arrived);
    rep.add(S, "import with a draft due halfway through it", ms(during), "ms");
    rep.add(S, "lateness of that draft (watch arrival - due)", lateness, "ms");
    if start.elapsed() < took / 2 {
        rep.note(S, "the import ended before the draft came due");
    }
    drop(w);
    stop(d, rep, S);
    Ok(())
}
