//! Honest health: cloutd says it is unhealthy when it stops firing on time
//! (a database held by another process, a loop stuck), through the standard
//! gRPC health service and `clout status`'s exit code, and recovers by
//! itself; an item whose firing keeps failing is set aside so that
//! everything else fires.

use std::time::{Duration, Instant};

use clout_e2e::{Home, stderr, stdout};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const WAIT: Duration = Duration::from_secs(60);

/// A daemon whose health threshold is `secs` seconds, with rule checks off.
fn start(home: &Home, secs: u64) -> clout_e2e::Daemon {
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, format!("{}\n[health]\nthreshold_seconds = {secs}\n", clout_e2e::QUIET_RULES))
        .expect("config");
    home.start_with(&["--config", config.to_str().expect("utf-8")]).expect("cloutd did not start")
}

/// Polls the gRPC health service until `service` reports `want`.
async fn wait_health(home: &Home, service: &str, want: ServingStatus) {
    let ch = clout_proto::connect_unix(&home.socket(), Duration::from_secs(5)).await.expect("connect");
    let mut health = HealthClient::new(ch);
    let start = Instant::now();
    loop {
        let got = health
            .check(HealthCheckRequest { service: service.into() })
            .await
            .expect("health check")
            .into_inner()
            .status;
        if got == want as i32 {
            return;
        }
        assert!(start.elapsed() < WAIT, "health of {service:?} never became {want:?} (is {got})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// While another process holds the SQLite database with BEGIN EXCLUSIVE past
/// the threshold, health goes NOT_SERVING (overall and per service) and
/// `clout status` exits non-zero saying why; after the release it returns to
/// SERVING by itself and the due item fires exactly once.
#[test]
fn health_follows_a_database_held_by_another_process() {
    let home = Home::new();
    let _d = start(&home, 2);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(wait_health(&home, "", ServingStatus::Serving));
    let out = home.clout(&["status"]);
    assert!(out.status.success(), "status failed while healthy: {}", stderr(&out));
    assert!(stdout(&out).contains("firing on time"), "{}", stdout(&out));

    let watch = home.watch(&[]);
    let draft = home.json(&["draft", "add", "held up", "--at", "in 1s"]);
    let url = home.db_url();
    let mut holder = rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.expect("open");
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut c).await.expect("begin exclusive");
        c
    });
    rt.block_on(wait_health(&home, "", ServingStatus::NotServing));
    rt.block_on(wait_health(&home, "clout.v1.DraftService", ServingStatus::NotServing));
    let out = home.clout(&["status"]);
    assert!(!out.status.success(), "status exited 0 while unhealthy: {}", stdout(&out));
    assert!(stdout(&out).contains("UNHEALTHY"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("not firing on time") && stderr(&out).contains("has not fired"),
        "{}",
        stderr(&out)
    );
    let json = home.clout(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("status json");
    assert_eq!(v["healthy"], false, "{v}");
    assert!(v["lag_ms"].as_u64().unwrap_or(0) >= 2000, "{v}");

    rt.block_on(async {
        sqlx::query("ROLLBACK").execute(&mut holder).await.expect("rollback");
    });
    drop(holder);
    let n = watch.next_of_kind("post_due", WAIT);
    assert_eq!(n["draft_id"], draft["id"]);
    rt.block_on(wait_health(&home, "", ServingStatus::Serving));
    rt.block_on(wait_health(&home, "clout.v1.DraftService", ServingStatus::Serving));
    let out = home.clout(&["status"]);
    assert!(out.status.success(), "status failed after recovery: {}", stderr(&out));
    let nudges = home.json(&["nudges", "--all"]);
    let fired = nudges
        .as_array()
        .expect("nudges")
        .iter()
        .filter(|n| n["kind"] == "post_due" && n["draft_id"] == draft["id"])
        .count();
    assert_eq!(fired, 1, "{nudges}");
}

/// One draft whose row cannot be read (its text is not UTF-8) fails to
/// fire; the others due with it fire, and after a few tries it is set aside
/// with a `fire_failed` nudge that `clout draft show` explains. Scheduling
/// it again after a fix fires it.
#[test]
fn a_row_that_cannot_fire_is_set_aside_and_the_rest_fire() {
    let home = Home::new();
    let _d = start(&home, 60);
    let watch = home.watch(&[]);
    let ids: Vec<i64> = (0..3)
        .map(|i| {
            home.json(&["draft", "add", &format!("draft {i}"), "--at", "in 3s"])["id"].as_i64().expect("id")
        })
        .collect();
    let poison = ids[1];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&home.db_url()).await.expect("open");
        sqlx::query("UPDATE drafts SET body = CAST(X'FF00FE' AS TEXT) WHERE id = $1")
            .bind(poison)
            .execute(&mut c)
            .await
            .expect("corrupt a row");
        c.close().await.expect("close");
    });
    let mut due = std::collections::BTreeSet::new();
    let mut failed = None;
    let start = Instant::now();
    while (due.len() < 2 || failed.is_none()) && start.elapsed() < WAIT {
        let n = watch.next_json(WAIT);
        match n["kind"].as_str() {
            Some("post_due") => {
                assert_ne!(n["draft_id"], poison, "the unreadable draft fired: {n}");
                due.insert(n["draft_id"].as_i64().expect("draft id"));
            }
            Some("fire_failed") => failed = Some(n),
            _ => {}
        }
    }
    assert_eq!(due, [ids[0], ids[2]].into_iter().collect(), "the other drafts did not fire");
    let failed = failed.expect("no fire_failed nudge");
    assert_eq!(failed["draft_id"], poison, "{failed}");
    assert!(failed["message"].as_str().unwrap_or("").contains("set aside"), "{failed}");

    let out = home.clout(&["status"]);
    assert!(out.status.success(), "a set-aside row keeps cloutd unhealthy: {}", stdout(&out));

    // Once the row is readable again, `draft show` says it was set aside and how to try again.
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&home.db_url()).await.expect("open");
        sqlx::query("UPDATE drafts SET body = 'fixed' WHERE id = $1")
            .bind(poison)
            .execute(&mut c)
            .await
            .expect("fix");
        c.close().await.expect("close");
    });
    let show = home.json(&["draft", "show", &poison.to_string()]);
    assert!(show["fire_error"].as_str().unwrap_or("").contains("utf-8"), "{show}");
    let text = stdout(&home.clout(&["draft", "show", &poison.to_string()]));
    assert!(text.contains("Set aside") && text.contains("draft schedule"), "{text}");
    home.json(&["draft", "schedule", &poison.to_string(), "--at", "in 1s"]);
    let n = watch.next_of_kind("post_due", WAIT);
    assert_eq!(n["draft_id"], poison, "{n}");
    let show = home.json(&["draft", "show", &poison.to_string()]);
    assert_eq!(show["fire_error"], "", "{show}");
}
