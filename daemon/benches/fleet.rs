//! Scale-out on PostgreSQL (`cargo bench -p clout-daemon --bench fleet`):
//! items fired per second and fire lateness with 1 and with 3 release
//! `cloutd` on one database, 20,000 items due at the same instant.
//!
//! PostgreSQL: CLOUT_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clout_proto::v1;
use sqlx::{Connection, PgConnection};

const ITEMS: i64 = 20_000;

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn run(admin: &str, daemons: usize, rows: &mut Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let target =
        exe.ancestors().find(|p| p.file_name().is_some_and(|n| n == "target")).ok_or("no target dir")?;
    let cloutd = target.join("release").join("cloutd");
    if !cloutd.exists() {
        return Err("build the release binaries first: cargo build --release --workspace".into());
    }
    let name = format!("clout_bench_fleet_{}_{daemons}", std::process::id());
    let mut adm = PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut adm).await?;
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => return Err("the URL must name a database".into()),
    };
    clout_daemon::store::Store::open(&url, None).await?.close().await;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("empty.toml");
    std::fs::write(&cfg, "")?;
    let mut children = Killed(Vec::new());
    for i in 0..daemons {
        let socket = dir.path().join(format!("d{i}.sock"));
        children.0.push(
            Command::new(&cloutd)
                .arg("--socket")
                .arg(&socket)
                .args(["--database-url", &url, "--config"])
                .arg(&cfg)
                .stderr(Stdio::null())
                .spawn()?,
        );
        loop {
            if let Ok(ch) = clout_proto::connect_unix(&socket, Duration::from_secs(1)).await {
                v1::daemon_service_client::DaemonServiceClient::new(ch).status(v1::StatusRequest {}).await?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let mut c = PgConnection::connect(&url).await?;
    let due = chrono::Utc::now().timestamp_millis() + 3_000;
    sqlx::query(
        "INSERT INTO drafts (title, body, state, scheduled_at, created_at, updated_at) \
         SELECT '', 'b' || g, 'scheduled', $1, $1, $1 FROM generate_series(1, $2) g",
    )
    .bind(due)
    .bind(ITEMS)
    .execute(&mut c)
    .await?;
    sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) SELECT 'post', id, scheduled_at FROM drafts")
        .execute(&mut c)
        .await?;
    sqlx::query("SELECT pg_notify('clout_wake', '')").execute(&mut c).await?;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM nudges WHERE kind = 'post_due'").fetch_one(&mut c).await?;
        if n >= ITEMS {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {n} of {ITEMS} fired in 180 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (distinct, last): (i64, i64) =
        sqlx::query_as("SELECT COUNT(DISTINCT draft_id), MAX(fired_at) FROM nudges WHERE kind = 'post_due'")
            .fetch_one(&mut c)
            .await?;
    assert_eq!(distinct, ITEMS, "an item fired twice or not at all");
    let late: Vec<(i64,)> = sqlx::query_as("SELECT fired_at - due_at FROM nudges WHERE kind = 'post_due'")
        .fetch_all(&mut c)
        .await?;
    let mut late: Vec<f64> = late.into_iter().map(|(l,)| l as f64).collect();
    let span = ((last - due).max(1)) as f64 / 1000.0;
    rows.push(format!(
        "| {daemons} daemon(s), {ITEMS} items due at once | {:.0} items/s | {:.0} / {:.0} / {:.0} ms |",
        ITEMS as f64 / span,
        percentile(&mut late, 0.5),
        percentile(&mut late, 0.99),
        percentile(&mut late, 1.0)
    ));
    c.close().await?;
    drop(children);
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut adm)
        .await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let admin = std::env::var("CLOUT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut rows = Vec::new();
    for n in [1, 3] {
        eprintln!("fleet: {n} daemon(s)…");
        rt.block_on(run(&admin, n, &mut rows))?;
    }
    println!(
        "| fleet on PostgreSQL | fired per second | fire lateness p50 / p99 / max |\n| --- | --- | --- |"
    );
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
