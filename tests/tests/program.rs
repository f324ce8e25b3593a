//! End to end: the program's schedule — slots, queueing, tasks, follows, pause.

use std::time::Duration;

use clout_e2e::Home;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn program_is_set_and_shown() {
    let home = Home::new();
    let _d = home.start();
    let p = home.json(&["program", "show"]);
    assert_eq!(p["purpose"], "learn");
    let p = home.json(&[
        "program",
        "set",
        "--purpose",
        "influence",
        "--posts-per-week",
        "3",
        "--engagements-per-day",
        "2",
        "--tz",
        "Europe/Berlin",
    ]);
    assert_eq!(p["purpose"], "influence");
    assert_eq!(p["posts_per_week"], 3);
    let p = home.json(&["program", "set", "--posts-per-week", "4"]);
    assert_eq!((p["tz"].as_str(), p["engagements_per_day"].as_i64()), (Some("Europe/Berlin"), Some(2)));
    home.fails_with(&["program", "set", "--tz", "Europe/Berln"], "did you mean Europe/Berlin");
    home.fails_with(&["program", "set", "--posts-per-week", "100000"], "at most");
    assert_eq!(home.json(&["program", "show"])["posts_per_week"], 4);
}

#[test]
fn queued_drafts_take_the_next_free_slots_and_shuffle() {
    let home = Home::new();
    let _d = home.start();
    home.json(&["program", "set", "--tz", "Asia/Kolkata"]);
    home.fails_with(&["draft", "add", "nowhere to go", "--queue"], "no posting slots");
    let slot = home.json(&["slots", "add", "daily 09:00"]);
    // 09:00 in Kolkata (+05:30) is 03:30 UTC.
    let first = slot["next"][0].as_str().expect("next").to_string();
    assert!(first.ends_with("T03:30:00.000Z"), "{slot}");
    let a = home.json(&["draft", "add", "one", "--queue"]);
    let b = home.json(&["draft", "add", "two", "--queue"]);
    let c = home.json(&["draft", "add", "three"]);
    let c = home.json(&["draft", "schedule", &c["id"].to_string(), "--queue"]);
    assert_eq!(a["scheduled_at"].as_str(), Some(first.as_str()));
    assert_ne!(a["scheduled_at"], b["scheduled_at"]);
    assert_ne!(b["scheduled_at"], c["scheduled_at"]);
    assert_eq!(c["slotted"], true);
    let before = home.json(&["queue"])["items"].clone();
    let shuffled = home.json(&["queue", "shuffle"])["items"].clone();
    let times = |v: &serde_json::Value| {
        v.as_array().expect("items").iter().map(|i| i["due_at"].clone()).collect::<Vec<_>>()
    };
    let ids = |v: &serde_json::Value| {
        v.as_array().expect("items").iter().map(|i| i["id"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(times(&before), times(&shuffled));
    assert_ne!(ids(&before), ids(&shuffled));
    assert_eq!(home.json(&["slots", "list"])["slots"].as_array().map(Vec::len), Some(1));
    home.json(&["slots", "rm", "1"]);
    home.fails_with(&["slots", "rm", "1"], "slot 1 does not exist");
}

#[test]
fn a_task_occurrence_nudges_and_can_be_done_once() {
    let home = Home::new();
    let _d = home.start();
    let watch = home.watch(&["--after", "0"]);
    // A closed local port as the server: the study read stays on this machine.
    home.json(&[
        "follow",
        "add",
        "@alice@mastodon.social",
        "--platform",
        "mastodon",
        "--topic",
        "rust",
        "--server",
        "http://127.0.0.1:9",
    ]);
    let t = home.json(&[
        "task",
        "add",
        "Study @alice's last 5 posts",
        "--once",
        "in 2s",
        "--about",
        "@alice@mastodon.social",
    ]);
    let id = t["id"].as_i64().expect("id");
    let n = watch.next_json(WAIT);
    assert_eq!(n["kind"], "task_due");
    assert_eq!(n["task_id"], id);
    assert!(n["message"].as_str().unwrap_or("").contains("@alice"), "{n}");
    let done = home.json(&["task", "done", &id.to_string()]);
    assert_eq!(done["done"], 1);
    home.fails_with(&["task", "done", &id.to_string()], "no occurrence waiting");
    home.fails_with(&["task", "skip", "999"], "task 999 does not exist");
}

#[test]
fn recurring_tasks_are_computed_in_their_zone_and_share_the_timeline() {
    let home = Home::new();
    let _d = home.start();
    let t = home.json(&["task", "add", "Reply to 3 posts", "--every", "daily 09:00", "--tz", "Asia/Kolkata"]);
    assert!(t["next_due_at"].as_str().unwrap_or("").ends_with("T03:30:00.000Z"), "{t}");
    let ny =
        home.json(&["task", "add", "Weekly thread", "--every", "0 9 * * 1-5", "--tz", "America/New_York"]);
    assert_eq!(ny["every"], "0 9 * * 1-5");
    let p = home.json(&["task", "preview", "weekdays 09:00", "--tz", "America/New_York", "-n", "10"]);
    for t in p["next"].as_array().expect("next") {
        let at = chrono::DateTime::parse_from_rfc3339(t.as_str().expect("time")).expect("rfc3339");
        let local = at.with_timezone(&chrono_tz::America::New_York);
        use chrono::{Datelike, Timelike};
        assert!(local.weekday().num_days_from_monday() < 5, "{local} is a weekend");
        assert_eq!((local.hour(), local.minute()), (9, 0));
    }
    home.json(&["draft", "add", "a post", "--at", "in 1h"]);
    let q = home.json(&["queue", "--days", "3"]);
    let items = q["items"].as_array().expect("items");
    assert!(items.iter().any(|i| i["kind"] == "post"));
    assert!(items.iter().filter(|i| i["kind"] == "task").count() >= 3, "{q}");
    let times: Vec<&str> = items.iter().filter_map(|i| i["due_at"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "the timeline is in time order");
    assert_eq!(home.json(&["task", "list"]).as_array().map(Vec::len), Some(2));
    home.json(&["task", "rm", &t["id"].to_string()]);
    assert_eq!(home.json(&["task", "list"]).as_array().map(Vec::len), Some(1));
}

#[test]
fn bad_schedules_and_zones_are_explained() {
    let home = Home::new();
    let _d = home.start();
    home.fails_with(&["task", "add", "x", "--every", "61 * * * *"], "field 1 (minute)");
    home.fails_with(&["task", "add", "x", "--every", "* * * * 8"], "day of week");
    home.fails_with(&["task", "add", "x", "--every", "blursday 10:00"], "weekdays 10:00");
    home.fails_with(&["task", "add", "x", "--every", "0 0 30 2 *"], "never fires");
    home.fails_with(&["task", "add", "x", "--every", "* * * * * *"], "more than once a minute");
    home.fails_with(
        &["task", "add", "x", "--every", "daily 9:00", "--tz", "Mars/Olympus"],
        "unknown time zone",
    );
    home.fails_with(
        &["task", "add", "x", "--every", "daily 9:00", "--tz", "america/new_yrok"],
        "America/New_York",
    );
    home.fails_with(&["slots", "add", "mon,wed 25:00"], "25");
    home.fails_with(&["follow", "add", "two words", "--platform", "mastodon"], "invalid handle");
    assert_eq!(home.json(&["task", "list"]).as_array().map(Vec::len), Some(0));
    assert_eq!(home.json(&["slots", "list"])["slots"].as_array().map(Vec::len), Some(0));
}

#[test]
fn pause_holds_items_and_resume_fires_them() {
    let home = Home::new();
    let _d = home.start();
    let paused = home.json(&["queue", "pause"]);
    assert_eq!(paused["paused"], true);
    home.fails_with(&["queue", "pause"], "already paused");
    let d = home.json(&["draft", "add", "held back", "--at", "in 1s"]);
    // The item is shown, held by the pause.
    let s = home.json(&["status"]);
    assert_eq!((s["paused"].as_bool(), s["next_due_id"].as_i64()), (Some(true), d["id"].as_i64()), "{s}");
    // Let the draft's time pass while paused (the point of this test).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(home.json(&["draft", "show", &d["id"].to_string()])["state"], "scheduled");
    let watch = home.watch(&["--after", "0"]);
    let resumed = home.json(&["queue", "resume"]);
    assert_eq!(resumed["came_due"], 1);
    let n = watch.next_json(WAIT);
    assert_eq!(n["draft_id"], d["id"]);
}
