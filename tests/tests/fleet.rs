//! Several cloutd on one PostgreSQL database: every item fires exactly once.
//!
//! PostgreSQL: CLOUT_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test.
//! Without a reachable server these tests print why and skip, unless CI=true.

use std::time::{Duration, Instant};

use clout_e2e::pg::TestDb;
use clout_e2e::{Home, start_daemon};
use sqlx::{Connection, PgConnection};

/// A fresh database for one test, dropped at the end (or a skip, see `clout_e2e::pg`).
fn test_db(rt: &tokio::runtime::Runtime) -> Option<TestDb> {
    rt.block_on(TestDb::create("fleet"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

async fn count(conn: &mut PgConnection, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(conn).await.expect("count");
    n
}

#[test]
fn three_daemons_fire_20000_items_exactly_once_even_when_one_is_killed() {
    let rt = runtime();
    let Some(db) = test_db(&rt) else { return };
    let homes: Vec<Home> = (0..3).map(|_| Home::new()).collect();
    let mut daemons: Vec<_> = homes
        .iter()
        .map(|h| start_daemon(&h.socket(), &db.url, &[]).expect("cloutd on PostgreSQL"))
        .collect();
    let mut conn = rt.block_on(PgConnection::connect(&db.url)).expect("connect");

    // 20,000 drafts due within 10 s, written straight into the shared database.
    let start = chrono::Utc::now().timestamp_millis() + 3_000;
    rt.block_on(async {
        sqlx::query(
            "INSERT INTO drafts (title, body, state, scheduled_at, created_at, updated_at) \
             SELECT '', 'fleet ' || g, 'scheduled', $1 + (g * 10000 / 20000), $1, $1 FROM generate_series(1, 20000) g",
        )
        .bind(start)
        .execute(&mut conn)
        .await
        .expect("drafts");
        sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) SELECT 'post', id, scheduled_at FROM drafts")
            .execute(&mut conn)
            .await
            .expect("schedule");
        sqlx::query("SELECT pg_notify('clout_wake', '')").execute(&mut conn).await.expect("notify");
    });

    // Kill one daemon with SIGKILL once the burst is well under way.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let fired = rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM nudges"));
        if fired >= 5_000 {
            break;
        }
        assert!(Instant::now() < deadline, "only {fired} nudges after 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemons.remove(0).kill9();

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
    let kinds: Vec<(String, i64)> = rt
        .block_on(sqlx::query_as("SELECT kind, COUNT(*) FROM nudges GROUP BY kind").fetch_all(&mut conn))
        .expect("kinds");
    assert_eq!(
        (total, distinct, due),
        (20_000, 20_000, 20_000),
        "every item exactly once; nudges by kind: {kinds:?}"
    );
    // Both survivors see the whole shared log.
    for h in &homes[1..] {
        assert_eq!(h.json(&["status"])["nudges"], 20_000);
    }
}

#[test]
fn an_item_added_through_one_daemon_reaches_a_watcher_on_another() {
    let rt = runtime();
    let Some(db) = test_db(&rt) else { return };
    let (a, b) = (Home::new(), Home::new());
    let _da = start_daemon(&a.socket(), &db.url, &[]).expect("a");
    let _db = start_daemon(&b.socket(), &db.url, &[]).expect("b");
    let watch = b.watch(&["--after", "0"]);
    let d = a.json(&["draft", "add", "from daemon a", "--at", "in 2s"]);
    let n = watch.next_json(Duration::from_secs(30));
    assert_eq!(n["draft_id"], d["id"]);
    assert_eq!(b.json(&["nudges", "--all"]).as_array().map(Vec::len), Some(1));
}

#[test]
fn a_claim_held_by_a_dead_daemon_is_taken_over() {
    let rt = runtime();
    let Some(db) = test_db(&rt) else { return };
    let home = Home::new();
    let _d = start_daemon(&home.socket(), &db.url, &[]).expect("cloutd");
    let d = home.json(&["draft", "add", "claimed elsewhere", "--at", "in 2s"]);
    // Another daemon's fire in progress: it holds the row lock of the claim.
    let mut other = rt.block_on(PgConnection::connect(&db.url)).expect("connect");
    rt.block_on(async {
        sqlx::query("BEGIN").execute(&mut other).await.expect("begin");
        sqlx::query("SELECT id FROM schedule WHERE kind = 'post' FOR UPDATE")
            .execute(&mut other)
            .await
            .expect("lock");
    });
    let watch = home.watch(&["--after", "0"]);
    // While the claim is held, the item is skipped (SKIP LOCKED), never fired twice.
    assert!(watch.next(Duration::from_secs(4)).is_none(), "fired while another daemon held the claim");
    // That daemon dies: its session ends, and the claim passes to this one.
    drop(other);
    let n = watch.next_json(Duration::from_secs(30));
    assert_eq!(n["draft_id"], d["id"]);
    assert_eq!(home.json(&["nudges", "--all"]).as_array().map(Vec::len), Some(1));
}

/// Three daemons publish 100 drafts to one Mastodon account; the daemon whose
/// request hangs is killed with SIGKILL. Another takes its claim over when the
/// lease runs out and sends the same Idempotency-Key: every draft is
/// published, and the server holds exactly one status per draft.
#[test]
fn a_fleet_publishes_each_draft_once_even_when_the_publishing_daemon_is_killed() {
    use clout_e2e::fake::Fake;

    const DRAFTS: i64 = 100;
    let rt = runtime();
    let Some(db) = test_db(&rt) else { return };
    let fake = Fake::start();
    let homes: Vec<Home> = (0..3).map(|_| Home::new()).collect();
    let mut daemons: Vec<Option<_>> = homes
        .iter()
        .map(|h| Some(start_daemon(&h.socket(), &db.url, &[]).expect("cloutd on PostgreSQL")))
        .collect();
    clout_e2e::social::add_mastodon(&homes[0], &fake);

    // The first status request is taken and never answered: its daemon hangs mid-publish.
    fake.hold_next("/api/v1/statuses");
    // All due at one instant, added in one import: adding them one by one on a
    // loaded machine could take longer than the margin.
    let mut doc = homes[0].json(&["export", "-"]);
    let at = (chrono::Utc::now() + chrono::Duration::seconds(8)).to_rfc3339();
    let now = chrono::Utc::now().to_rfc3339();
    doc["drafts"] = (0..DRAFTS)
        .map(|i| {
            serde_json::json!({
                "id": i + 1, "title": "", "text": format!("fleet post {i}"), "platforms": [], "tags": [],
                "state": "scheduled", "scheduled_at": at, "fired_at": null, "late": false,
                "published_at": null, "published_url": "", "slotted": false,
                "created_at": now, "updated_at": now, "accounts": ["masto"],
            })
        })
        .collect();
    let file = homes[0].dir.path().join("fleet.json");
    std::fs::write(&file, doc.to_string()).expect("write the drafts");
    let added = homes[0].json(&["import", file.to_str().expect("utf-8")]);
    assert_eq!(added["added"].as_i64(), Some(DRAFTS), "{added}");
    let held = fake.wait_for("/api/v1/statuses", 1, Duration::from_secs(60));
    let key = held[0].header("idempotency-key").expect("idempotency key").to_string();
    let mut conn = rt.block_on(PgConnection::connect(&db.url)).expect("connect");
    let (owner,): (String,) = rt
        .block_on(
            sqlx::query_as("SELECT lease_owner FROM publications WHERE idem_key = $1")
                .bind(&key)
                .fetch_one(&mut conn),
        )
        .expect("the held publication's owner");
    let holder = homes
        .iter()
        .position(|h| owner.ends_with(&h.socket().display().to_string()))
        .expect("the owner is one of the daemons");
    daemons[holder].take().expect("running").kill9();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM drafts WHERE state = 'published'"));
        if done == DRAFTS {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {DRAFTS} drafts were published");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(fake.statuses().len(), DRAFTS as usize, "one status per draft");
    let sent = fake.requests_to("/api/v1/statuses");
    let with_key: Vec<_> =
        sent.iter().filter(|r| r.header("idempotency-key") == Some(key.as_str())).collect();
    assert_eq!(with_key.len(), 2, "the held request was sent again with its key, once");
    let (history,): (String,) = rt
        .block_on(
            sqlx::query_as(
                "SELECT string_agg(a.outcome, ',' ORDER BY a.id) FROM publish_attempts a \
                 JOIN publications p ON p.id = a.publication_id WHERE p.idem_key = $1",
            )
            .bind(&key)
            .fetch_one(&mut conn),
        )
        .expect("history");
    assert_eq!(history, "interrupted,published");
    let published = rt.block_on(count(&mut conn, "SELECT COUNT(*) FROM nudges WHERE kind = 'published'"));
    assert_eq!(published, DRAFTS, "one published nudge per draft");
    drop(daemons);
}
