//! End to end: a real cloutd on a temporary socket and database, the real clout.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use clout_e2e::{Home, stderr, stdout};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn add(home: &Home, text: &str, at: &str) -> i64 {
    let d = home.json(&["draft", "add", text, "--at", at]);
    assert_eq!(d["state"], "scheduled", "{d}");
    d["id"].as_i64().expect("id")
}

fn nudge_count(home: &Home) -> usize {
    home.json(&["nudges", "--all"]).as_array().expect("array").len()
}

#[test]
fn a_scheduled_draft_comes_due_and_its_nudge_arrives_on_watch() {
    let home = Home::new();
    let _d = home.start();
    let watch = home.watch(&["--after", "0"]);
    let d = home.json(&["draft", "add", "Shipping week: what I learned", "--tag", "build", "--at", "in 2s"]);
    let id = d["id"].as_i64().expect("id");
    assert_eq!(d["tags"], serde_json::json!(["build"]));

    let n = watch.next_json(WAIT);
    assert_eq!(n["kind"], "post_due");
    assert_eq!(n["draft_id"], id);
    assert_eq!(n["due_at"], d["scheduled_at"]);
    assert!(n["message"].as_str().unwrap_or("").contains("Shipping week"), "{n}");
    for key in ["id", "kind", "message", "due_at", "fired_at", "draft_id"] {
        assert!(n.get(key).is_some(), "nudge lacks {key}: {n}");
    }
    let due = chrono::DateTime::parse_from_rfc3339(n["due_at"].as_str().expect("due_at")).expect("rfc3339");
    let fired =
        chrono::DateTime::parse_from_rfc3339(n["fired_at"].as_str().expect("fired_at")).expect("rfc3339");
    assert!(fired >= due, "fired before due: {n}");
    assert_eq!(n["late"], false);

    let shown = home.json(&["draft", "show", &id.to_string()]);
    assert_eq!(shown["state"], "due");
    let q = home.json(&["queue"]);
    assert_eq!(q["items"].as_array().map(Vec::len), Some(0), "fired item left in queue: {q}");

    let p = home.json(&["posted", &id.to_string(), "--url", "https://example.social/@me/1"]);
    assert_eq!(p["state"], "published");
    assert_eq!(p["published_url"], "https://example.social/@me/1");
}

#[test]
fn kill_9_before_due_then_restart_fires_exactly_once() {
    let home = Home::new();
    let d = home.start();
    let id = add(&home, "Survives a crash", "in 3s");
    d.kill9();
    // The dead daemon's socket file is still there; the new one replaces it.
    assert!(home.socket().exists());
    let d = home.start();
    let watch = home.watch(&["--after", "0", "-n", "1"]);
    let n = watch.next_json(WAIT);
    assert_eq!(n["draft_id"], id);
    let status = home.json(&["status"]);
    assert_eq!(status["pending_items"], 0, "{status}");
    assert_eq!(nudge_count(&home), 1);
    // A further crash and restart does not fire it again.
    d.kill9();
    let _d = home.start();
    assert_eq!(nudge_count(&home), 1);
    assert_eq!(home.json(&["draft", "show", &id.to_string()])["state"], "due");
}

#[test]
fn a_watcher_resumes_from_its_cursor_and_across_a_daemon_restart() {
    let home = Home::new();
    let d = home.start();
    let watch = home.watch(&["--after", "0"]);
    let a = add(&home, "first", "in 1s");
    let first = watch.next_json(WAIT);
    assert_eq!(first["draft_id"], a);
    let cursor = first["id"].as_i64().expect("id");

    // The watcher keeps running while the daemon dies and comes back.
    d.kill9();
    let _d = home.start();
    let b = add(&home, "second", "in 1s");
    let c = add(&home, "third", "in 1s");
    let mut got = vec![watch.next_json(WAIT)["draft_id"].clone(), watch.next_json(WAIT)["draft_id"].clone()];
    got.sort_by_key(|v| v.as_i64());
    assert_eq!(got, vec![Value::from(b), Value::from(c)]);

    // A new watcher with the first cursor gets exactly what came after it.
    let again = home.watch(&["--after", &cursor.to_string(), "-n", "2"]);
    let ids: Vec<i64> = (0..2).map(|_| again.next_json(WAIT)["id"].as_i64().expect("id")).collect();
    assert!(ids.iter().all(|&i| i > cursor), "{ids:?} after {cursor}");
    assert!(ids[0] < ids[1]);
}

#[test]
fn no_daemon_is_a_clear_error_not_a_hang() {
    let home = Home::new();
    let start = Instant::now();
    let out = home.clout(&["queue"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&home.socket().display().to_string()), "{err}");
    assert!(err.contains("cloutd"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A hang guard, not a speed target: the connect timeout is 3 s.
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn nonsense_and_past_times_are_refused_and_change_nothing() {
    let home = Home::new();
    let _d = home.start();
    for phrase in ["blursday", "25:00", "in banana", "2026-13-01 10:00", "", "2020-01-01 10:00"] {
        let out = home.clout(&["draft", "add", "hello", "--at", phrase]);
        assert!(!out.status.success(), "accepted {phrase:?}");
        let err = stderr(&out);
        assert!(err.contains("tomorrow 9am"), "no list of accepted forms for {phrase:?}: {err}");
    }
    let id = home.json(&["draft", "add", "keep me"])["id"].as_i64().expect("id");
    let out = home.clout(&["draft", "schedule", &id.to_string(), "--at", "last tuesday"]);
    assert!(!out.status.success());
    let drafts = home.json(&["draft", "list"]);
    assert_eq!(drafts.as_array().map(Vec::len), Some(1), "{drafts}");
    assert_eq!(drafts[0]["state"], "draft");
}

#[test]
fn the_socket_is_private() {
    let home = Home::new();
    let _d = home.start();
    let sock = std::fs::metadata(home.socket()).expect("socket");
    assert_eq!(sock.permissions().mode() & 0o777, 0o600);
    let dir = std::fs::metadata(home.socket().parent().expect("dir")).expect("dir");
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
}

#[test]
fn a_second_daemon_on_the_same_socket_or_database_refuses_to_start() {
    let home = Home::new();
    let d = home.start();
    let pid = d.child.id().to_string();
    let err = home.start_with(&[]).err().expect("second daemon started");
    assert!(err.contains("already serves the socket") && err.contains(&pid), "{err}");

    let other = Home::new();
    let err = clout_e2e::start_daemon(&other.socket(), &home.db_url(), &[])
        .err()
        .expect("started on a held database");
    assert!(err.contains("in use by another cloutd") && err.contains(&pid), "{err}");
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let home = Home::new();
    let _d = home.start();
    let keep = home.json(&["draft", "add", "the one good draft"])["id"].as_i64().expect("id").to_string();

    let cases: Vec<(Vec<&str>, Vec<u8>, &str)> = vec![
        (vec!["draft", "add", "-"], b"   \n".to_vec(), "empty"),
        (vec!["draft", "add", "-"], vec![b'a'; 64 * 1024 + 1], "64 KiB"),
        (vec!["draft", "add", "-"], vec![0xff, 0xfe, b'a'], "UTF-8"),
        (vec!["draft", "show", "999"], vec![], "draft 999 does not exist"),
        (vec!["draft", "rm", "999"], vec![], "draft 999 does not exist"),
        (vec!["draft", "schedule", "999", "--at", "in 1h"], vec![], "draft 999 does not exist"),
        (vec!["draft", "unschedule", &keep], vec![], "not scheduled"),
        (vec!["posted", "999"], vec![], "draft 999 does not exist"),
        (vec!["skip", "999"], vec![], "draft 999 does not exist"),
        (vec!["draft", "edit", &keep, "--text", " "], vec![], "empty"),
        (vec!["posted", &keep, "--url", "not a url"], vec![], "URL"),
        (vec!["draft", "add", "x", "--tag", "two words"], vec![], "invalid tag"),
    ];
    for (args, input, expect) in cases {
        let out = home.clout_stdin(&args, &input);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Exactly 64 KiB is fine.
    let ok = home.clout_stdin(&["--json", "draft", "add", "-"], &vec![b'a'; 64 * 1024]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let drafts = home.json(&["draft", "list"]);
    assert_eq!(drafts.as_array().map(Vec::len), Some(2), "{drafts}");
    assert_eq!(drafts[0]["text"], "the one good draft");
    assert_eq!(drafts[0]["state"], "draft");
}

#[test]
fn drafts_can_be_listed_edited_unscheduled_skipped_and_removed() {
    let home = Home::new();
    let _d = home.start();
    let a = add(&home, "alpha", "in 5h");
    let b = home.json(&["draft", "add", "beta", "--title", "Beta post", "-p", "mastodon"])["id"]
        .as_i64()
        .expect("id");
    let scheduled = home.json(&["draft", "list", "--state", "scheduled"]);
    assert_eq!(scheduled.as_array().map(Vec::len), Some(1));
    assert_eq!(scheduled[0]["id"], a);

    let e = home.json(&["draft", "edit", &b.to_string(), "--text", "beta, better", "--tag", "Idea"]);
    assert_eq!(e["text"], "beta, better");
    assert_eq!(e["tags"], serde_json::json!(["idea"]));
    assert_eq!(e["title"], "Beta post");
    assert_eq!(e["platforms"], serde_json::json!(["mastodon"]));

    let q = home.json(&["queue"]);
    assert_eq!(q["items"][0]["kind"], "post");
    assert_eq!(q["items"][0]["id"], a);
    assert_eq!(home.json(&["queue", "--days", "1"])["items"].as_array().map(Vec::len), Some(1));

    assert_eq!(home.json(&["draft", "unschedule", &a.to_string()])["state"], "draft");
    assert_eq!(home.json(&["queue"])["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(home.json(&["skip", &b.to_string()])["state"], "skipped");
    let out = home.clout(&["draft", "schedule", &b.to_string(), "--at", "in 1h"]);
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
    assert_eq!(home.json(&["draft", "rm", &a.to_string()])["deleted"], true);
    let all = home.json(&["draft", "list"]);
    assert_eq!(all.as_array().map(Vec::len), Some(1));

    let text = stdout(&home.clout(&["draft", "list"]));
    assert!(text.contains("skipped") && text.contains("Beta post"), "{text}");
}

#[test]
fn sigterm_stops_cleanly_and_removes_the_socket() {
    let home = Home::new();
    let d = home.start();
    let status = d.stop(Duration::from_secs(10)).expect("cloutd did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(!home.socket().exists());
}

#[test]
fn health_and_reflection_answer_on_the_socket() {
    let home = Home::new();
    let _d = home.start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let ch = clout_proto::connect_unix(&home.socket(), Duration::from_secs(5)).await.expect("connect");
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let r = health
            .check(tonic_health::pb::HealthCheckRequest { service: "clout.v1.DraftService".into() })
            .await
            .expect("health check");
        assert_eq!(
            r.into_inner().status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
        let r = health
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .expect("overall health");
        assert_eq!(
            r.into_inner().status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    });
}
