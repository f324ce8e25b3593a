//! `clout export` and `clout import`: backups, moves, and the program in a calendar.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use clout_proto::v1;

use super::Ctx;
use crate::call;
use crate::render;

/// `clout export --json FILE` (the global --json picks the format) or `clout export --ical FILE`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write iCalendar: scheduled posts with reminders, and tasks (recurring ones as RRULEs); also
    /// chosen by a .ics FILE
    #[arg(long)]
    ical: bool,
    /// Where to write (`-` for stdout). Without --ical: everything as JSON, for backups and moves
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn write_out(path: &Path, data: &str) -> Result<()> {
    if path.as_os_str() == "-" {
        std::io::stdout().write_all(data.as_bytes())?;
        return Ok(());
    }
    // Write beside the target, then rename: a crash never leaves half a file.
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(data.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub async fn export(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    let cl = ctx.client().await?;
    let path = a.file;
    let as_ical = a.ical || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ics"));
    let (text, what) = if as_ical {
        (ical(&cl).await?, "the calendar")
    } else {
        let r = cl
            .backup()
            .max_decoding_message_size(usize::MAX)
            .export(crate::client::request(v1::ExportRequest {}))
            .await
            .map_err(|s| crate::client::status_error(&cl.socket, s))?
            .into_inner();
        (r.json, "the program as JSON")
    };
    write_out(&path, &text)?;
    if path.as_os_str() != "-" {
        eprintln!("Wrote {what} to {} ({} bytes)", path.display(), text.len());
    }
    Ok(())
}

async fn ical(cl: &crate::client::Client) -> Result<String> {
    Ok(call!(cl, backup, calendar, v1::CalendarRequest {})?.ics)
}

pub async fn import(ctx: &Ctx, file: PathBuf) -> Result<()> {
    let mut bytes = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).context("cannot read stdin")?;
    } else {
        bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    }
    let json =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
    // Name the line and column of a syntax error before sending anything.
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
        bail!("{} is not valid JSON: {e}", file.display());
    }
    let cl = ctx.client().await?;
    let mut req = crate::client::request(v1::ImportRequest { json });
    req.set_timeout(crate::client::import_deadline(req.get_ref().json.len()));
    let r = cl
        .backup()
        .max_encoding_message_size(usize::MAX)
        .import(req)
        .await
        .map_err(|s| crate::client::status_error(&cl.socket, s))?
        .into_inner();
    if ctx.json {
        render::print_json(&serde_json::json!({ "added": r.added, "skipped": r.skipped }));
    } else {
        println!("Imported {}: {} record(s) added, {} already present.", file.display(), r.added, r.skipped);
    }
    Ok(())
}
