//! Crash test: kill -9 at random moments during a burst of 5,000 due items,
//! restart, repeat; afterwards the nudge log names each item exactly once.
//!
//! CLOUT_CRASH_ROUNDS sets the number of kills (default 20; 5 when CI=true).

use std::time::{Duration, Instant};

use clout_e2e::Home;
use sqlx::{Connection, SqliteConnection};

const ITEMS: i64 = 5_000;

fn rounds() -> u32 {
    match std::env::var("CLOUT_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None if std::env::var("CI").as_deref() == Ok("true") => 5,
        None => 20,
    }
}

async fn count(conn: &mut SqliteConnection, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(conn).await.expect("count");
    n
}

#[test]
fn kill_9_during_a_burst_never_loses_or_repeats_a_nudge() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let home = Home::new();
    // Create and migrate the database, then stop the daemon cleanly.
    let d = home.start();
    assert!(d.stop(Duration::from_secs(10)).is_some_and(|s| s.success()));

    let path = home.db_url().trim_start_matches("sqlite://").to_string();
    let mut conn = rt.block_on(SqliteConnection::connect(&format!("sqlite://{path}"))).expect("open");
    // 5,000 drafts due over about 4 s, starting shortly after the daemon is back.
    let start = chrono::Utc::now().timestamp_millis() + 1_000;
    rt.block_on(async {
        sqlx::query(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $1) \
             INSERT INTO drafts (title, body, state, scheduled_at, created_at, updated_at) \
             SELECT '', 'burst ' || n, 'scheduled', $2 + n * 4000 / $1, $2, $2 FROM g",
        )
        .bind(ITEMS)
        .bind(start)
        .execute(&mut conn)
        .await
        .expect("drafts");
        sqlx::query(
            "INSERT INTO schedule (kind, ref_id, due_at) SELECT 'post', id, scheduled_at FROM drafts",
        )
        .execute(&mut conn)
        .await
        .expect("schedule");
    });

    let kills = rounds();
    let mut seed = start as u64;
    let mut mid_burst = 0;
    for round in 0..kills {
        let d = home.start();
        if round == 0 {
            // The first kill waits for the burst to begin, so the kills fall inside it.
            let deadline = Instant::now() + Duration::from_secs(30);
            while rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM nudges")) == 0 {
                assert!(Instant::now() < deadline, "the burst never began");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // A pseudo-random moment: 20 to 320 ms later.
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(20 + (seed >> 33) % 300));
        d.kill9();
        let fired = rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM nudges"));
        if fired > 0 && fired < ITEMS {
            mid_burst += 1;
        }
    }
    assert!(mid_burst >= kills.min(3), "only {mid_burst} of {kills} kills fell inside the burst");
    // The last start runs until everything has fired.
    let d = home.start();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM schedule WHERE kind = 'post'"));
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} items never fired");
        std::thread::sleep(Duration::from_millis(50));
    }
    let total = rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM nudges"));
    let distinct = rt.block_on(count(&mut conn, "SELECT COUNT(DISTINCT draft_id) FROM nudges"));
    let due = rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM drafts WHERE state = 'due'"));
    assert_eq!((total, distinct, due), (ITEMS, ITEMS, ITEMS), "after {kills} kills");
    // And the daemon that survived agrees.
    assert_eq!(home.json(&["status"])["nudges"], ITEMS);
    drop(d);
}
