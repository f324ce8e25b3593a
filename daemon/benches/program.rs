//! Benchmarks of the program at scale (run with `cargo bench -p clout-daemon --bench program`):
//!
//! - `review`: the review RPC over two years of history (10,000 published posts
//!   and 50,000 task occurrences), through gRPC on a Unix socket, and the whole
//!   `clout review` command when a release `clout` binary is built;
//! - `tasks`: start-up time and RSS of a release `cloutd` with 100,000 active
//!   recurring tasks, and fire precision of items due meanwhile.
//!
//! Figures are printed as a Markdown table. Pass a scenario name to run one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clout_daemon::config::{Config, FileConfig, Overrides};
use clout_proto::v1;
use sqlx::{Connection, SqliteConnection};

const DAY: i64 = 86_400_000;

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn release_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.ancestors().find(|p| p.file_name().is_some_and(|n| n == "target"))?;
    let p = target.join("release").join(name);
    p.exists().then_some(p)
}

async fn seed_history(db: &Path, now: i64) -> Result<(), sqlx::Error> {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", db.display())).await?;
    sqlx::query(
        "UPDATE program SET posts_per_week = 14, engagements_per_day = 3, tz = 'Europe/Berlin' WHERE id = 1",
    )
    .execute(&mut c)
    .await?;
    // 10,000 posts published over two years.
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000) \
         INSERT INTO drafts (title, body, state, scheduled_at, fired_at, published_at, created_at, updated_at) \
         SELECT '', 'post ' || n, 'published', $1 - n * 6307200, $1 - n * 6307200, $1 - n * 6307200 + 600000, \
         $1 - n * 6307200 - 86400000, $1 FROM g",
    )
    .bind(now)
    .execute(&mut c)
    .await?;
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 30) \
         INSERT INTO tasks (body, spec, tz, about, created_at) SELECT 'task ' || n, 'daily 10:00', 'Europe/Berlin', '', $1 FROM g",
    )
    .bind(now - 800 * DAY)
    .execute(&mut c)
    .await?;
    // 50,000 occurrences over two years: most done, some missed or skipped.
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50000) \
         INSERT INTO task_occurrences (task_id, due_at, state, fired_at, resolved_at, late) \
         SELECT 1 + n % 30, $1 - n * 1261440, CASE WHEN n % 7 = 0 THEN 'missed' WHEN n % 11 = 0 THEN 'skipped' ELSE 'done' END, \
         $1 - n * 1261440, $1 - n * 1261440 + 3600000, 0 FROM g",
    )
    .bind(now)
    .execute(&mut c)
    .await?;
    c.close().await
}

async fn review(rows: &mut Vec<(String, String, String)>) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("clout.db");
    let socket = dir.path().join("run").join("cloutd.sock");
    let url = format!("sqlite://{}", db.display());
    // Create the schema, then write two years of history into it.
    clout_daemon::store::Store::open(&url, None).await?.close().await;
    let now = chrono::Utc::now().timestamp_millis();
    seed_history(&db, now).await?;

    let config = Config::resolve(
        Overrides { socket: Some(socket.clone()), database_url: Some(url), ..Default::default() },
        FileConfig::default(),
        None,
    )?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(clout_daemon::run(config, async {
        let _ = stop_rx.await;
    }));
    let channel = loop {
        if let Ok(c) = clout_proto::connect_unix(&socket, Duration::from_secs(1)).await {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut client = v1::review_service_client::ReviewServiceClient::new(channel);
    let req = || v1::ReviewRequest {
        since: Some(clout_proto::ts(chrono::Utc::now() - chrono::Duration::days(30))),
        until: None,
        heatmap_days: 182,
    };
    let first = client.review(req()).await?.into_inner();
    assert!(first.tasks_done + first.tasks_missed + first.tasks_skipped > 0);
    let mut ms = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let r = client.review(req()).await?.into_inner();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(r.best_streak_weeks > 0);
    }
    rows.push((
        "review RPC, 10k posts + 50k occurrences".into(),
        "p50 / max".into(),
        format!("{:.1} / {:.1} ms", percentile(&mut ms, 0.5), percentile(&mut ms, 1.0)),
    ));
    if let Some(clout) = release_bin("clout") {
        let mut cli = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            let out = Command::new(&clout)
                .args(["--socket"])
                .arg(&socket)
                .args(["review", "--month"])
                .env("NO_COLOR", "1")
                .output()?;
            cli.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        rows.push((
            "`clout review --month` (whole command)".into(),
            "p50 / max".into(),
            format!("{:.1} / {:.1} ms", percentile(&mut cli, 0.5), percentile(&mut cli, 1.0)),
        ));
    } else {
        eprintln!("no release clout: build it (cargo build --release) to time the whole command");
    }
    let _ = stop_tx.send(());
    daemon.await??;
    Ok(())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn tasks(rows: &mut Vec<(String, String, String)>) -> Result<(), Box<dyn std::error::Error>> {
    let Some(cloutd) = release_bin("cloutd") else {
        eprintln!("skipping `tasks`: build the release binaries first (cargo build --release)");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("clout.db");
    let url = format!("sqlite://{}", db.display());
    clout_daemon::store::Store::open(&url, None).await?.close().await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut c = SqliteConnection::connect(&url).await?;
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000) \
         INSERT INTO tasks (body, spec, tz, about, created_at) \
         SELECT 'task ' || n, CASE n % 3 WHEN 0 THEN 'daily 09:00' WHEN 1 THEN 'weekdays 10:00' ELSE '30 12 * * 1,4' END, \
         CASE n % 2 WHEN 0 THEN 'Europe/Berlin' ELSE 'America/New_York' END, '', $1 FROM g",
    )
    .bind(now)
    .execute(&mut c)
    .await?;
    sqlx::query(
        "INSERT INTO schedule (kind, ref_id, due_at) SELECT 'task', id, $1 + 86400000 + id * 60 FROM tasks",
    )
    .bind(now)
    .execute(&mut c)
    .await?;
    // 200 tasks due 5 s after start-up, to see that precision holds.
    let due = now + 8_000;
    sqlx::query("UPDATE schedule SET due_at = $1 WHERE ref_id <= 200").bind(due).execute(&mut c).await?;
    c.close().await?;

    let socket = dir.path().join("cloutd.sock");
    let cfg = dir.path().join("quiet.toml");
    std::fs::write(&cfg, "")?;
    let t = Instant::now();
    let mut child = Command::new(&cloutd)
        .arg("--socket")
        .arg(&socket)
        .arg("--database-url")
        .arg(&url)
        .arg("--config")
        .arg(&cfg)
        .stderr(Stdio::null())
        .spawn()?;
    let channel = loop {
        if let Ok(c) = clout_proto::connect_unix(&socket, Duration::from_secs(1)).await {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut status = v1::daemon_service_client::DaemonServiceClient::new(channel.clone());
    status.status(v1::StatusRequest {}).await?;
    let startup = t.elapsed();
    rows.push((
        "start-up with 100,000 recurring tasks".into(),
        "spawn → first Status".into(),
        format!("{:.0} ms", startup.as_secs_f64() * 1000.0),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    rows.push((
        "RSS idle, 100,000 recurring tasks".into(),
        "VmRSS".into(),
        format!("{:.1} MiB", rss_kib(child.id()) as f64 / 1024.0),
    ));

    let mut nudges = v1::nudge_service_client::NudgeServiceClient::new(channel);
    let mut stream = nudges.watch(v1::WatchRequest { after_id: Some(0) }).await?.into_inner();
    let mut late = Vec::new();
    while late.len() < 200 {
        let n =
            tokio::time::timeout(Duration::from_secs(30), stream.message()).await??.ok_or("stream ended")?;
        late.push((chrono::Utc::now().timestamp_millis() - due) as f64);
        let _ = n;
    }
    rows.push((
        "200 task occurrences due together among 100k".into(),
        "arrival at watch p50 / p99 / max".into(),
        format!(
            "{:.0} / {:.0} / {:.0} ms",
            percentile(&mut late, 0.5),
            percentile(&mut late, 0.99),
            percentile(&mut late, 1.0)
        ),
    ));
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |s: &str| only.is_empty() || only.iter().any(|o| o == s);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut rows = Vec::new();
    if want("review") {
        eprintln!("review: seeding two years of history…");
        rt.block_on(review(&mut rows))?;
    }
    if want("tasks") {
        eprintln!("tasks: seeding 100,000 recurring tasks…");
        rt.block_on(tasks(&mut rows))?;
    }
    println!("| benchmark | measure | value |\n| --- | --- | --- |");
    for (a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
    Ok(())
}
