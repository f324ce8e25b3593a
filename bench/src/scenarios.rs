//! The scenarios. Each starts its own `cloutd` (or several) on a fresh
//! temporary socket and database and records its figures in the report.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::procs::{self, Bins, Daemon, Home, Watcher, clout_cmd, run_ok};
use crate::report::{Report, Stats, ms, ms_between};
use crate::rpc;

/// Longest wait for "cloutd ready" on an empty database.
pub(crate) const READY_LIMIT: Duration = Duration::from_secs(60);
/// Longest wait for "cloutd ready" on a database with a million items.
const READY_LIMIT_BIG: Duration = Duration::from_secs(300);
/// Longest wait for a daemon to stop after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// Longest run of one `clout` command.
const CLI_LIMIT: Duration = Duration::from_secs(30);

pub const ALL: [&str; 10] =
    ["single", "burst", "burst10k", "roundtrip", "enqueue", "idle", "rss", "publish", "results", "import64"];

pub struct Ctx {
    pub bins: Bins,
    pub rt: Runtime,
    pub quick: bool,
    pub ticks: f64,
}

impl Ctx {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

pub fn run(name: &str, ctx: &Ctx, rep: &mut Report) -> Result<()> {
    match name {
        "single" => single(ctx, rep),
        "burst" => burst(ctx, rep, "burst", if ctx.quick { 100 } else { 1_000 }),
        "burst10k" => burst(ctx, rep, "burst10k", if ctx.quick { 1_000 } else { 10_000 }),
        "roundtrip" => roundtrip(ctx, rep),
        "enqueue" => enqueue(ctx, rep),
        "idle" => idle(ctx, rep),
        "rss" => rss(ctx, rep),
        "publish" => publish(ctx, rep, if ctx.quick { 50 } else { 500 }),
        "results" => results(ctx, rep, if ctx.quick { 100 } else { 1_000 }),
        "import64" => crate::import::import64(ctx, rep),
        other => bail!("unknown scenario `{other}`; known: {}", ALL.join(", ")),
    }
}

/// `t` cut to whole milliseconds (the daemon stores milliseconds).
fn trunc_ms(t: DateTime<Utc>) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).ok_or_else(|| anyhow!("time out of range"))
}

fn parse_time(v: &Value, key: &str) -> Result<DateTime<Utc>> {
    let s = v.get(key).and_then(Value::as_str).ok_or_else(|| anyhow!("no `{key}` in {v}"))?;
    Ok(DateTime::parse_from_rfc3339(s).with_context(|| format!("bad `{key}` {s:?}"))?.with_timezone(&Utc))
}

/// A nudge line of `clout --json watch`, as far as the bench needs it.
pub(crate) struct Seen {
    pub(crate) arrived: DateTime<Utc>,
    draft_id: i64,
    due_at: DateTime<Utc>,
    fired_at: DateTime<Utc>,
    late: bool,
}

fn next_nudge(w: &mut Watcher, deadline: Instant, what: &str) -> Result<Seen> {
    let (arrived, line) = w.next_line(deadline, what)?;
    let v: Value =
        serde_json::from_str(&line).with_context(|| format!("watch printed non-JSON: {line:?}"))?;
    Ok(Seen {
        arrived,
        draft_id: v
            .get("draft_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow!("nudge without draft_id: {line}"))?,
        due_at: parse_time(&v, "due_at")?,
        fired_at: parse_time(&v, "fired_at")?,
        late: v.get("late").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Waits for the nudge of draft `id`, skipping (and counting) others.
pub(crate) fn wait_for_draft(w: &mut Watcher, id: i64, deadline: Instant, stray: &mut u64) -> Result<Seen> {
    loop {
        let n = next_nudge(w, deadline, &format!("the nudge of draft {id}"))?;
        if n.draft_id == id {
            return Ok(n);
        }
        *stray += 1;
    }
}

/// Starts a watcher and proves it streams: a draft due in 300 ms must arrive.
pub(crate) fn watcher_warm_up(ctx: &Ctx, d: &Daemon, scenario: &str) -> Result<Watcher> {
    let mut w = Watcher::start(&ctx.bins, &d.socket, Some(0))?;
    let socket = d.socket.clone();
    let id = ctx.block_on(async {
        let ch = rpc::connect(&socket).await?;
        rpc::add_draft(&ch, "bench warm-up".into(), Some(Utc::now() + chrono::Duration::milliseconds(300)))
            .await
    })?;
    let mut stray = 0;
    wait_for_draft(&mut w, id, Instant::now() + Duration::from_secs(15), &mut stray)
        .context("the warm-up nudge did not reach `clout watch`")?;
    eprintln!("[{scenario}] watcher is streaming");
    Ok(w)
}

/// Notes any WARN/ERROR lines the daemon logged.
fn note_daemon_log(d: &Daemon, rep: &mut Report, scenario: &str) {
    let (_, problems, first) = d.log_summary();
    if problems > 0 {
        rep.note(
            scenario,
            format!(
                "cloutd logged {problems} WARN/ERROR line(s), first: {}",
                first.first().cloned().unwrap_or_default()
            ),
        );
    }
}

pub(crate) fn stop(d: Daemon, rep: &mut Report, scenario: &str) {
    note_daemon_log(&d, rep, scenario);
    if let Err(e) = d.stop(STOP_LIMIT) {
        rep.note(scenario, format!("stopping cloutd: {e:#}"));
    }
}

// ---- single -----------------------------------------------------------------

fn single(ctx: &Ctx, rep: &mut Report) -> Result<()> {
    const S: &str = "single";
    let reps = if ctx.quick { 5 } else { 20 };
    let home = Home::new()?;
    let mut d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
    let mut w = watcher_warm_up(ctx, &d, S)?;
    let (mut late, mut fire, mut deliver, mut add) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut stray = 0;
    let mut mismatched = Vec::new();
    for i in 0..reps {
        d.check_alive()?;
        let due = trunc_ms(Utc::now() + chrono::Duration::milliseconds(1200))?;
        let at = due.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut cmd = clout_cmd(&ctx.bins, &d.socket);
        cmd.args(["--json", "draft", "add", &format!("bench single {i}"), "--at", &at]);
        let (out, took) = run_ok(&mut cmd, "clout draft add --at", CLI_LIMIT)?;
        add.push(ms(took));
        let v: Value =
            serde_json::from_slice(&out.stdout).context("clout --json draft add printed no JSON")?;
        let id = v.get("id").and_then(Value::as_i64).ok_or_else(|| anyhow!("no id in {v}"))?;
        let scheduled = parse_time(&v, "scheduled_at")?;
        let n = wait_for_draft(&mut w, id, Instant::now() + Duration::from_secs(15), &mut stray)?;
        if scheduled != due || n.due_at != due {
            mismatched.push(format!("asked {at}, draft says {scheduled}, nudge says {}", n.due_at));
        }
        let l = ms_between(due, n.arrived);
        late.push(l);
        fire.push(ms_between(due, n.fired_at));
        deliver.push(ms_between(n.fired_at, n.arrived));
        eprintln!("[{S}]   {}/{reps}: draft {id} arrived {l:.2} ms after its due time", i + 1);
    }
    rep.add_ms_stats(S, "lateness (watch arrival - due)", &late, true);
    rep.add_ms_stats(S, "fire lateness (fired_at - due, ms-truncated)", &fire, true);
    rep.add_ms_stats(S, "delivery (watch arrival - fired_at)", &deliver, true);
    rep.add(S, "repetitions", reps as f64, "count");
    if stray > 0 {
        rep.note(S, format!("{stray} unexpected nudge(s) arrived at the watcher"));
    }
    if !mismatched.is_empty() {
        rep.note(S, format!("due time not kept to the millisecond: {}", mismatched.join("; ")));
    }
    drop(w);
    stop(d, rep, S);
    Ok(())
}

// ---- burst ------------------------------------------------------------------

fn burst(ctx: &Ctx, rep: &mut Report, s: &str, n: usize) -> Result<()> {
    const CLIENTS: usize = 8;
    let home = Home::new()?;
    let mut d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
    let mut w = watcher_warm_up(ctx, &d, s)?;
    let socket = d.socket.clone();

    // Calibrate the add rate, so the common due time lies ~3 s after the last add.
    let far = Utc::now() + chrono::Duration::days(365);
    let cal_n = 40;
    let cal = ctx.block_on(rpc::add_many(
        &socket,
        cal_n,
        CLIENTS,
        Arc::new(move |_| Some(far)),
        s,
        Duration::from_secs(60),
    ))?;
    let per_add = cal.elapsed.as_secs_f64() / cal_n as f64;
    let projected = Duration::from_secs_f64(per_add * n as f64 * 1.5);
    let due = trunc_ms(Utc::now() + chrono::Duration::from_std(projected)? + chrono::Duration::seconds(3))?;
    eprintln!(
        "[{s}] adding {n} drafts due at {} ({:.1} s from now; calibrated {:.2} ms/add over {CLIENTS} clients)",
        due.to_rfc3339_opts(SecondsFormat::Millis, true),
        ms_between(Utc::now(), due) / 1000.0,
        per_add * 1000.0
    );
    let added = ctx.block_on(rpc::add_many(
        &socket,
        n,
        CLIENTS,
        Arc::new(move |_| Some(due)),
        s,
        projected * 4 + Duration::from_secs(60),
    ))?;
    let lead = ms_between(added.finished_at, due);
    let cpu_before = procs::cpu_time(d.pid, ctx.ticks)?;
    eprintln!(
        "[{s}] all {n} added in {:.2} s; {:.0} ms before the due time",
        added.elapsed.as_secs_f64(),
        lead
    );
    if lead < 1000.0 {
        rep.note(
            s,
            format!(
                "adding finished only {lead:.0} ms before the due time; lateness may include add contention"
            ),
        );
    }

    let want: HashSet<i64> = added.ids.iter().copied().collect();
    let mut seen: HashMap<i64, Seen> = HashMap::with_capacity(n);
    let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    let deadline = Instant::now() + until_due + Duration::from_secs(60) + Duration::from_millis(5 * n as u64);
    let mut stray = 0u64;
    let mut duplicates = 0u64;
    let mut last_progress: Option<Instant> = None;
    while seen.len() < n {
        let what = format!("nudge {} of {n} (burst due {})", seen.len() + 1, due.to_rfc3339());
        let x = next_nudge(&mut w, deadline, &what)?;
        if !want.contains(&x.draft_id) {
            stray += 1;
        } else {
            match seen.entry(x.draft_id) {
                std::collections::hash_map::Entry::Occupied(_) => duplicates += 1,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(x);
                }
            }
        }
        match last_progress {
            None => last_progress = Some(Instant::now()),
            Some(t) if t.elapsed() > Duration::from_secs(1) => {
                eprintln!("[{s}]     received {}/{n} nudges", seen.len());
                last_progress = Some(Instant::now());
            }
            Some(_) => {}
        }
    }
    let cpu_after = procs::cpu_time(d.pid, ctx.ticks)?;
    d.check_alive()?;

    let late: Vec<f64> = seen.values().map(|x| ms_between(due, x.arrived)).collect();
    let fire: Vec<f64> = seen.values().map(|x| ms_between(due, x.fired_at)).collect();
    let st = Stats::of(&late);
    let fst = Stats::of(&fire);
    rep.add(s, "items", n as f64, "items");
    rep.add_ms_stats(s, "lateness (watch arrival - due)", &late, true);
    rep.add(s, "first nudge lateness", st.min, "ms");
    rep.add(s, "fire lateness (fired_at - due) first", fst.min, "ms");
    rep.add(s, "fire lateness (fired_at - due) last", fst.max, "ms");
    rep.add(s, "daemon CPU to fire and stream the burst", ms(cpu_after.saturating_sub(cpu_before)), "ms");
    rep.add(s, "setup: AddDraft rate (8 clients)", n as f64 / added.elapsed.as_secs_f64(), "calls/s");
    rep.add(s, "setup: last add finished before due", lead, "ms");
    let wrong_due = seen.values().filter(|x| x.due_at != due).count();
    let marked_late = seen.values().filter(|x| x.late).count();
    if wrong_due > 0 {
        rep.note(s, format!("{wrong_due} nudge(s) carry a due_at other than the one scheduled"));
    }
    if marked_late > 0 {
        rep.note(s, format!("{marked_late} nudge(s) were marked late"));
    }
    if stray + duplicates > 0 {
        rep.note(s, format!("{stray} unexpected and {duplicates} duplicate nudge(s) at the watcher"));
    }
    drop(w);
    stop(d, rep, s);
    Ok(())
}

// ---- roundtrip --------------------------------------------------------------

fn roundtrip(ctx: &Ctx, rep: &mut Report) -> Result<()> {
    const S: &str = "roundtrip";
    let runs = if ctx.quick { 10 } else { 50 };
    let home = Home::new()?;
    let d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
    // A queue with something in it: 20 posts scheduled a day or more ahead.
    let base = Utc::now() + chrono::Duration::days(1);
    ctx.block_on(rpc::add_many(
        &d.socket,
        20,
        1,
        Arc::new(move |i| Some(base + chrono::Duration::hours(i as i64))),
        S,
        Duration::from_secs(60),
    ))?;
    let cases: [(&str, Vec<&str>); 4] = [
        ("clout --version (no RPC, process baseline)", vec!["--version"]),
        ("clout draft add", vec!["draft", "add", "bench roundtrip text"]),
        ("clout queue", vec!["queue"]),
        ("clout status", vec!["status"]),
    ];
    for (name, args) in cases {
        let mut times = Vec::with_capacity(runs);
        // One untimed run first, so page-cache misses of the first exec do not count.
        for i in 0..=runs {
            let mut cmd = clout_cmd(&ctx.bins, &d.socket);
            cmd.args(&args);
            let (_, took) = run_ok(&mut cmd, name, CLI_LIMIT)?;
            if i > 0 {
                times.push(ms(took));
            }
        }
        eprintln!("[{S}]   {name}: {runs} runs done");
        rep.add_ms_stats(S, &format!("{name} wall"), &times, false);
    }
    stop(d, rep, S);
    Ok(())
}

// ---- enqueue ----------------------------------------------------------------

fn enqueue(ctx: &Ctx, rep: &mut Report) -> Result<()> {
    const S: &str = "enqueue";
    let total = if ctx.quick { 500 } else { 5_000 };
    for clients in [1usize, 8] {
        let home = Home::new()?;
        let mut d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
        let base = Utc::now() + chrono::Duration::days(30);
        eprintln!("[{S}] {total} AddDraft calls over {clients} client(s)");
        let added = ctx.block_on(rpc::add_many(
            &d.socket,
            total,
            clients,
            Arc::new(move |i| Some(base + chrono::Duration::seconds(i as i64))),
            S,
            Duration::from_secs(600),
        ))?;
        d.check_alive()?;
        let label =
            if clients == 1 { "1 client sequential".to_string() } else { format!("{clients} clients") };
        rep.add(S, format!("{label}: throughput"), total as f64 / added.elapsed.as_secs_f64(), "calls/s");
        rep.add_ms_stats(S, &format!("{label}: call latency"), &added.latencies_ms, false);
        let socket = d.socket.clone();
        let st = ctx.block_on(async { rpc::status(&rpc::connect(&socket).await?).await })?;
        if st.pending_items != total as u64 {
            rep.note(
                S,
                format!("{label}: Status reports {} pending items, expected {total}", st.pending_items),
            );
        }
        stop(d, rep, S);
    }
    Ok(())
}

// ---- idle -------------------------------------------------------------------

struct Window {
    wakeups_per_min: f64,
    threads: u64,
    rss_kib: u64,
}

/// Context switches of `pid` over `window`, scaled to a minute.
fn wake_window(pid: u32, window: Duration) -> Result<Window> {
    let (rss_kib, _) = procs::rss_kib(pid)?;
    let a = procs::context_switches(pid)?;
    let t0 = Instant::now();
    std::thread::sleep(window);
    let b = procs::context_switches(pid)?;
    let secs = t0.elapsed().as_secs_f64();
    let delta = b.total.saturating_sub(a.total) as f64;
    Ok(Window { wakeups_per_min: delta * 60.0 / secs, threads: b.threads, rss_kib })
}

fn idle(ctx: &Ctx, rep: &mut Report) -> Result<()> {
    const S: &str = "idle";
    let window = Duration::from_secs(if ctx.quick { 3 } else { 10 });
    let settle = Duration::from_secs(1);
    let home = Home::new()?;
    let mut d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
    let socket = d.socket.clone();
    // Does the daemon itself keep something on its timeline?
    let st = ctx.block_on(async { rpc::status(&rpc::connect(&socket).await?).await })?;
    if let Some(next) = st.next_due_at.as_ref().and_then(clout_proto::from_ts) {
        rep.note(
            S,
            format!(
                "with nothing scheduled by the user (pending_items = {}), the next due item is a rule check at {} \
                 (the scheduler sleeps until then on a wall-clock timer; the long windows below show its wake-ups)",
                st.pending_items,
                next.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        );
    }

    std::thread::sleep(settle);
    eprintln!("[{S}] nothing scheduled: sampling {window:?}");
    let w0 = wake_window(d.pid, window)?;
    rep.add(S, "nothing scheduled: RSS", w0.rss_kib as f64 / 1024.0, "MiB");
    rep.add(S, "nothing scheduled: wake-ups", w0.wakeups_per_min, "per min");
    rep.add(S, "nothing scheduled: threads", w0.threads as f64, "threads");
    let long = Duration::from_secs(65);
    if !ctx.quick {
        // Extra: a window longer than a minute, since a periodic wake-up (say every
        // 60 s) can hide between two 10 s windows.
        eprintln!("[{S}] nothing scheduled: sampling {long:?} (longer than a minute)");
        let wl = wake_window(d.pid, long)?;
        rep.add(S, "nothing scheduled, 65 s window: wake-ups", wl.wakeups_per_min, "per min");
    }

    ctx.block_on(async {
        let ch = rpc::connect(&socket).await?;
        rpc::add_draft(&ch, "bench idle".into(), Some(Utc::now() + chrono::Duration::hours(1))).await
        // The channel closes here: no client connection stays open during the window.
    })?;
    std::thread::sleep(settle);
    eprintln!("[{S}] one item 1 h ahead: sampling {window:?}");
    let w1 = wake_window(d.pid, window)?;
    rep.add(S, "one item 1 h ahead: RSS", w1.rss_kib as f64 / 1024.0, "MiB");
    rep.add(S, "one item 1 h ahead: wake-ups", w1.wakeups_per_min, "per min");
    if !ctx.quick {
        // Extra: a window longer than a minute, since a periodic wake-up (say every
        // 60 s) can hide between two 10 s windows.
        let long = Duration::from_secs(65);
        eprintln!("[{S}] one item 1 h ahead: sampling {long:?} (longer than a minute)");
        let wl = wake_window(d.pid, long)?;
        rep.add(S, "one item 1 h ahead, 65 s window: wake-ups", wl.wakeups_per_min, "per min");
    }

    // Extra: the usual desktop set-up, a `clout watch` left open.
    let watcher = Watcher::start(&ctx.bins, &d.socket, None)?;
    std::thread::sleep(settle);
    eprintln!("[{S}] one item + a connected `clout watch`: sampling {window:?}");
    let wpid = watcher.pid;
    let wa = procs::context_switches(wpid)?;
    let w2 = wake_window(d.pid, window)?;
    let wb = procs::context_switches(wpid)?;
    rep.add(S, "one item + clout watch open: daemon wake-ups", w2.wakeups_per_min, "per min");
    rep.add(
        S,
        "one item + clout watch open: clout watch wake-ups",
        wb.total.saturating_sub(wa.total) as f64 * 60.0 / (window.as_secs_f64() + 0.001),
        "per min",
    );
    drop(watcher);
    d.check_alive()?;
    stop(d, rep, S);
    Ok(())
}

// ---- rss --------------------------------------------------------------------

fn sqlite3_version() -> Option<String> {
    let out = Command::new("sqlite3").arg("-version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Writes `n` scheduled drafts (and their schedule rows) into a stopped daemon's database.
fn bulk_insert(home: &Home, n: u64) -> Result<Duration> {
    let now = Utc::now().timestamp_millis();
    // Due from 30 days ahead, one per second: far in the future, all distinct.
    let base = now + 30 * 86_400_000;
    let sql = format!(
        "PRAGMA synchronous = OFF;\n\
         BEGIN;\n\
         WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})\n\
         INSERT INTO drafts (id, title, body, platforms, tags, state, scheduled_at, created_at, updated_at)\n\
         SELECT i, '', 'bench draft ' || i, '[]', '[]', 'scheduled', {base} + i * 1000, {now}, {now} FROM seq;\n\
         INSERT INTO schedule (kind, ref_id, due_at)\n\
         SELECT 'post', id, scheduled_at FROM drafts WHERE state = 'scheduled' ORDER BY id;\n\
         COMMIT;\n\
         PRAGMA wal_checkpoint(TRUNCATE);\n"
    );
    let mut cmd = Command::new("sqlite3");
    cmd.arg("-bail").arg(home.db_path()).arg(&sql);
    let (_, took) =
        run_ok(&mut cmd, &format!("sqlite3 bulk insert of {n} items"), Duration::from_secs(1200))?;
    let mut cmd = Command::new("sqlite3");
    cmd.arg(home.db_path())
        .arg("SELECT COUNT(*) FROM schedule WHERE kind = 'post'; SELECT COUNT(*) FROM drafts;");
    let (out, _) = run_ok(&mut cmd, "sqlite3 count", Duration::from_secs(120))?;
    let counts: Vec<u64> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
    if counts != [n, n] {
        bail!(
            "after the bulk insert the database holds {counts:?} (post schedule, drafts) rows, expected {n} each"
        );
    }
    Ok(took)
}

fn rss(ctx: &Ctx, rep: &mut Report) -> Result<()> {
    const S: &str = "rss";
    let sizes: [u64; 2] = if ctx.quick { [10_000, 100_000] } else { [100_000, 1_000_000] };
    let sqlite = sqlite3_version();
    let mut todo = vec![0u64];
    match &sqlite {
        Some(v) => {
            eprintln!("[{S}] using sqlite3 {v}");
            todo.extend(sizes);
        }
        None => rep.note(
            S,
            "the sqlite3 command-line tool is missing (install it: apt-get install -y sqlite3); \
             measured 0 items only, skipped the bulk sizes",
        ),
    }
    for n in todo {
        let home = Home::new()?;
        let label = format!("{n} items");
        if n > 0 {
            // First start creates and migrates the database; then it is filled offline.
            let d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
            // Stop only once it answers: a SIGTERM right after "cloutd ready"
            // can arrive before cloutd installs its signal handler.
            ctx.block_on(rpc::first_status(d.socket.clone(), Duration::from_secs(60)))?;
            if let Err(e) = d.stop(STOP_LIMIT) {
                // The migrations committed before "ready"; the count check below verifies the file.
                rep.note(S, format!("stopping the daemon that created the {label} database: {e:#}"));
            }
            eprintln!("[{S}] inserting {n} items with sqlite3 (one transaction)…");
            let took = bulk_insert(&home, n)?;
            eprintln!("[{S}]   inserted in {:.1} s", took.as_secs_f64());
            let bytes: u64 = ["", "-wal"]
                .iter()
                .filter_map(|suffix| {
                    std::fs::metadata(format!("{}{suffix}", home.db_path().display())).ok().map(|m| m.len())
                })
                .sum();
            rep.add(S, format!("{label}: database file size"), bytes as f64 / (1024.0 * 1024.0), "MiB");
        }
        eprintln!("[{S}] starting cloutd on {label}");
        let mut d = Daemon::start(&ctx.bins, &home, READY_LIMIT_BIG)?;
        let socket = d.socket.clone();
        let (answered, st) = ctx.block_on(rpc::first_status(socket.clone(), Duration::from_secs(120)))?;
        let to_status = answered.duration_since(d.spawned_at);
        rep.add(S, format!("{label}: start-up, spawn to \"cloutd ready\""), ms(d.ready_after), "ms");
        rep.add(S, format!("{label}: start-up, spawn to first Status answer"), ms(to_status), "ms");
        if st.pending_items != n {
            rep.note(S, format!("{label}: Status reports {} pending items", st.pending_items));
        }
        std::thread::sleep(Duration::from_secs(1));
        d.check_alive()?;
        let (rss, hwm) = procs::rss_kib(d.pid)?;
        rep.add(S, format!("{label}: RSS idle"), rss as f64 / 1024.0, "MiB");
        rep.add(S, format!("{label}: peak RSS (VmHWM) so far"), hwm as f64 / 1024.0, "MiB");
        // Extra: what a client pays on a big queue.
        let (status_ms, upcoming_ms, items) = ctx.block_on(async {
            let ch = rpc::connect(&socket).await?;
            let (mut a, mut b, mut items) = (Vec::new(), Vec::new(), 0);
            for _ in 0..5 {
                let t = Instant::now();
                rpc::status(&ch).await?;
                a.push(ms(t.elapsed()));
                let t = Instant::now();
                items = rpc::upcoming(&ch).await?;
                b.push(ms(t.elapsed()));
            }
            Ok::<_, anyhow::Error>((a, b, items))
        })?;
        rep.add(S, format!("{label}: Status RPC p50 of 5"), Stats::of(&status_ms).p50, "ms");
        rep.add(
            S,
            format!("{label}: Upcoming RPC ({items} items) p50 of 5"),
            Stats::of(&upcoming_ms).p50,
            "ms",
        );
        let (rss_after, _) = procs::rss_kib(d.pid)?;
        rep.add(S, format!("{label}: RSS after those RPCs"), rss_after as f64 / 1024.0, "MiB");
        stop(d, rep, S);
    }
    Ok(())
}

// ---- publish ----------------------------------------------------------------

/// `n` drafts due at once, published to one Mastodon account on a local fake
/// server: how late each `published` nudge is after the due time, and the rate.
fn publish(ctx: &Ctx, rep: &mut Report, n: usize) -> Result<()> {
    use clout_e2e::fake::Fake;
    const S: &str = "publish";
    let fake = Fake::start();
    let home = Home::new()?;
    let d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
    let token = clout_e2e::write_secret(home.dir.path(), "mastodon.token", Fake::MASTODON_TOKEN)?;
    let url = fake.url();
    let mut cmd = clout_cmd(&ctx.bins, &d.socket);
    cmd.args([
        "account",
        "add",
        "mastodon",
        "--instance",
        &url,
        "--token-file",
        &token.display().to_string(),
    ]);
    run_ok(&mut cmd, "clout account add", CLI_LIMIT)?;

    let mut w = Watcher::start(&ctx.bins, &d.socket, Some(0))?;
    let due = trunc_ms(Utc::now() + chrono::Duration::milliseconds(3_000 + 10 * n as i64))?;
    let socket = d.socket.clone();
    ctx.block_on(async {
        let ch = rpc::connect(&socket).await?;
        for i in 0..n {
            rpc::add_draft_to(&ch, format!("bench publish {i}"), due, "mastodon").await?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    eprintln!("[{S}] {n} drafts due at {}", due.to_rfc3339_opts(SecondsFormat::Millis, true));

    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(20 * n as u64);
    let mut late = Vec::with_capacity(n);
    let mut drafts = HashSet::new();
    while drafts.len() < n {
        let (_, line) = w.next_line(deadline, &format!("published nudge {} of {n}", drafts.len() + 1))?;
        let v: Value =
            serde_json::from_str(&line).with_context(|| format!("watch printed non-JSON: {line:?}"))?;
        if v.get("kind").and_then(Value::as_str) != Some("published") {
            continue;
        }
        if let Some(id) = v.get("draft_id").and_then(Value::as_i64)
            && drafts.insert(id)
        {
            late.push(ms_between(due, parse_time(&v, "fired_at")?));
        }
    }
    let st = Stats::of(&late);
    rep.add(S, "drafts", n as f64, "items");
    rep.add_ms_stats(S, "published lateness (published nudge - due)", &late, true);
    rep.add(S, "publish rate", n as f64 / (st.max.max(1.0) / 1000.0), "posts/s");
    let statuses = fake.statuses().len();
    if statuses != n {
        rep.note(S, format!("the server holds {statuses} statuses for {n} drafts"));
    }
    drop(w);
    stop(d, rep, S);
    Ok(())
}

// ---- results ----------------------------------------------------------------

/// Single-fire lateness while `n` result fetches are pending against a server
/// that accepts connections and never answers: the fetcher works outside the
/// firing transaction, so a dead server must not make a due post late.
fn results(ctx: &Ctx, rep: &mut Report, n: usize) -> Result<()> {
    const S: &str = "results";
    let reps = if ctx.quick { 5 } else { 20 };
    // Accepts every connection and holds it open, reading nothing and answering nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").context("bind the silent server")?;
    let port = silent.local_addr()?.port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let home = Home::new()?;
    // The daemon reads $XDG_CONFIG_HOME/clout/cloutd.toml: snapshots 1 s after each post.
    let config = home.dir.path().join("no-config").join("clout");
    std::fs::create_dir_all(&config)?;
    std::fs::write(config.join("cloutd.toml"), "[results]\nafter = [\"1s\", \"30d\"]\n")?;
    let mut d = Daemon::start(&ctx.bins, &home, READY_LIMIT)?;
    let socket = d.socket.clone();
    let t0 = Instant::now();
    ctx.block_on(async {
        let ch = rpc::connect(&socket).await?;
        for i in 0..n {
            let id = rpc::add_draft(&ch, format!("bench result {i}"), None).await?;
            rpc::mark_published(&ch, id, format!("http://127.0.0.1:{port}/@me/{}", 1000 + i)).await?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    eprintln!(
        "[{S}] {n} posts recorded in {:.1} s; their fetches go to a server that never answers",
        t0.elapsed().as_secs_f64()
    );
    // Their first snapshot time passes: every fetch is queued or hanging.
    std::thread::sleep(Duration::from_millis(1500));
    let mut w = watcher_warm_up(ctx, &d, S)?;
    let mut late = Vec::new();
    let mut stray = 0;
    for i in 0..reps {
        d.check_alive()?;
        let due = trunc_ms(Utc::now() + chrono::Duration::milliseconds(1200))?;
        let id = ctx.block_on(async {
            let ch = rpc::connect(&socket).await?;
            rpc::add_draft(&ch, format!("bench due {i}"), Some(due)).await
        })?;
        let seen = wait_for_draft(&mut w, id, Instant::now() + Duration::from_secs(15), &mut stray)?;
        let l = ms_between(due, seen.arrived);
        late.push(l);
        eprintln!("[{S}]   {}/{reps}: draft {id} arrived {l:.2} ms after its due time", i + 1);
    }
    let mut cmd = clout_cmd(&ctx.bins, &d.socket);
    cmd.args(["--json", "results"]);
    let (out, _) = run_ok(&mut cmd, "clout results", CLI_LIMIT)?;
    let v: Value = serde_json::from_slice(&out.stdout).context("clout --json results printed no JSON")?;
    let posts = v.get("posts").and_then(Value::as_array).cloned().unwrap_or_default();
    let measured =
        posts.iter().filter(|p| p.get("snapshots").and_then(Value::as_u64).unwrap_or(0) > 0).count();
    rep.add(S, "result fetches pending against a silent server", n as f64, "items");
    rep.add(S, "of them answered during the run", measured as f64, "items");
    rep.add_ms_stats(S, "single-fire lateness (watch arrival - due)", &late, true);
    // The recorded posts' `published` nudges replay to the watcher first: not strays here.
    let _ = stray;
    drop(w);
    stop(d, rep, S);
    Ok(())
}
