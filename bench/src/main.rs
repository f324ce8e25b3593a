//! clout-bench: measures the release `cloutd` and `clout` from the outside.
//!
//! Each scenario starts its own daemon on a temporary socket and SQLite
//! database, drives it the way a user or a script would (the real `clout`
//! binary, or gRPC over the Unix socket), and reads the daemon's memory and
//! context switches from /proc. See bench/README.md for the method.

#![deny(unsafe_code)]
#![warn(clippy::unwrap_used, clippy::dbg_macro)]

mod import;
mod procs;
mod report;
mod rpc;
mod scenarios;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::json;

use report::Report;
use scenarios::{ALL, Ctx};

/// Benchmarks for cloutd and clout: fire lateness, bursts, CLI round trips,
/// enqueue throughput, idle wake-ups and memory.
///
/// Needs the release binaries: run `cargo build --release --workspace` first.
#[derive(Parser, Debug)]
#[command(name = "clout-bench", version, about, long_about)]
struct Args {
    /// Scenarios to run, in the order given [default: all]:
    /// single, burst, burst10k, roundtrip, enqueue, idle, rss, publish, import64
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,
    /// Smaller counts and shorter windows, for a smoke run
    #[arg(long)]
    quick: bool,
    /// Also write the figures as JSON to this file
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("clout-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Ok(false) when some scenario failed (the others still ran and are reported).
fn run(args: Args) -> Result<bool> {
    let names: Vec<String> = if args.scenarios.is_empty() {
        ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args.scenarios.clone()
    };
    for n in &names {
        if !ALL.contains(&n.as_str()) {
            bail!("unknown scenario `{n}`; choose from: {}", ALL.join(", "));
        }
    }
    let bins = procs::Bins::locate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let ctx = Ctx { bins, rt, quick: args.quick, ticks: procs::clock_ticks() };

    let mut rep = Report::default();
    rep.meta("started_at", json!(chrono::Utc::now().to_rfc3339()));
    rep.meta("quick", json!(args.quick));
    rep.meta("scenarios", json!(names));
    rep.meta("cpus", json!(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)));
    rep.meta(
        "kernel",
        json!(std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string()),
    );
    rep.meta("cloutd", json!(ctx.bins.cloutd.display().to_string()));
    rep.meta("clout", json!(ctx.bins.clout.display().to_string()));
    if let Ok(out) = Command::new(&ctx.bins.cloutd).arg("--version").output() {
        rep.meta("cloutd_version", json!(String::from_utf8_lossy(&out.stdout).trim().to_string()));
    }
    eprintln!(
        "clout-bench: {} scenario(s){}: {}",
        names.len(),
        if args.quick { " (quick)" } else { "" },
        names.join(", ")
    );
    eprintln!("  cloutd: {}\n  clout:  {}", ctx.bins.cloutd.display(), ctx.bins.clout.display());

    let load = loadavg();
    rep.meta("loadavg_1min_at_start", json!(load));
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    if load > 0.5 * cpus {
        rep.note(
            "all",
            format!("the machine was busy at the start (1-minute load average {load:.2} on {cpus} CPUs); figures will be noisy"),
        );
    }
    let all_start = Instant::now();
    for name in &names {
        let start = Instant::now();
        eprintln!("\n[{name}] starting");
        match scenarios::run(name, &ctx, &mut rep) {
            Ok(()) => eprintln!("[{name}] done in {:.1} s", start.elapsed().as_secs_f64()),
            Err(e) => {
                eprintln!("[{name}] FAILED after {:.1} s: {e:#}", start.elapsed().as_secs_f64());
                rep.failures.push(format!("{name}: {e:#}"));
            }
        }
    }
    rep.meta("total_seconds", json!(all_start.elapsed().as_secs_f64()));
    rep.meta("loadavg_1min_at_end", json!(loadavg()));

    println!("\n{}", rep.markdown());
    if !rep.notes.is_empty() {
        println!("Notes:");
        for n in &rep.notes {
            println!("- {n}");
        }
        println!();
    }
    if !rep.failures.is_empty() {
        println!("Failed scenarios:");
        for f in &rep.failures {
            println!("- {f}");
        }
        println!();
    }
    if let Some(path) = &args.out {
        rep.write_json(path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(rep.failures.is_empty())
}

/// The 1-minute load average, from /proc/loadavg (NaN when unreadable).
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}
