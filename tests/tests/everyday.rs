//! End to end: what a person trips over in the first two weeks — a paused
//! queue they cannot see, rule checks passed off as work, nudges that pile
//! up, everyday time phrases, several ids at once.

use std::time::Duration;

use clout_e2e::{Home, stderr, stdout};

const WAIT: Duration = Duration::from_secs(30);

fn text(home: &Home, args: &[&str]) -> String {
    let out = home.clout(args);
    assert!(out.status.success(), "clout {args:?} failed: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_paused_queue_shows_in_status_and_queue() {
    let home = Home::new();
    let _d = home.start();
    home.json(&["draft", "add", "held back", "--at", "in 2h"]);
    assert_eq!(home.json(&["status"])["paused"], false);
    assert_eq!(home.json(&["queue"])["paused"], false);
    assert!(!text(&home, &["queue"]).contains("Paused"));
    home.json(&["queue", "pause"]);

    let s = home.json(&["status"]);
    assert_eq!(s["paused"], true, "{s}");
    assert!(s["paused_at"].is_string(), "{s}");
    assert_eq!((s["next_due_kind"].as_str(), s["next_due_id"].as_i64()), (Some("post"), Some(1)), "{s}");
    let status = text(&home, &["status"]);
    assert!(status.contains("Queue:     paused since "), "{status}");
    assert!(status.contains("nothing fires until `clout queue resume`"), "{status}");
    assert!(status.contains(": draft 1, held by the pause"), "{status}");
    assert!(status.contains("Pending:   1 item\n"), "{status}");

    let q = home.json(&["queue"]);
    assert_eq!(q["paused"], true, "{q}");
    let queue = text(&home, &["queue"]);
    assert!(queue.starts_with("Paused since "), "{queue}");
    assert!(queue.contains("held back"), "{queue}");
    home.json(&["queue", "resume"]);
    assert!(!text(&home, &["status"]).contains("paused"));
}

#[test]
fn rule_checks_are_not_passed_off_as_next_due() {
    let home = Home::new();
    let _d = home.start();
    // A fresh daemon has its rule checks on the schedule, and nothing to do.
    let s = home.json(&["status"]);
    assert!(s["next_due_at"].is_null(), "{s}");
    assert_eq!(s["pending_items"], 0);
    let status = text(&home, &["status"]);
    assert!(status.contains("Next due:  nothing scheduled"), "{status}");
    assert!(status.contains("Pending:   0 items"), "{status}");
    home.json(&["task", "add", "Reply to 3 posts", "--every", "daily 10:00"]);
    let status = text(&home, &["status"]);
    assert!(status.contains("): task 1"), "{status}");
}

#[test]
fn tasks_done_early_removed_and_several_at_once() {
    let home = Home::new();
    let _d = home.start();
    home.json(&["task", "add", "Reply to 3 posts", "--every", "daily 10:00"]);
    home.json(&["task", "add", "Thank repliers", "--every", "daily 18:00"]);
    home.fails_with(&["task", "done", "1"], "`clout task done 1 --next` marks that one done early");
    let next = home.json(&["task", "list"])[0]["next_due_at"].clone();
    let early = text(&home, &["task", "done", "1", "2", "--next"]);
    assert!(
        early.contains("Done early: task 1 \u{201c}Reply to 3 posts\u{201d}, the occurrence of "),
        "{early}"
    );
    assert!(early.contains("Done early: task 2"), "{early}");
    let t = home.json(&["task", "list"])[0].clone();
    assert_eq!(t["done"], 1, "{t}");
    assert_ne!(t["next_due_at"], next, "the schedule moved on past it");
    home.fails_with(&["task", "skip", "1", "999", "--next"], "1 of 2 failed: task 999 does not exist");
    home.json(&["task", "rm", "1"]);
    home.fails_with(&["task", "done", "1"], "task 1 was removed on");
}

#[test]
fn nudges_are_acknowledged_together_and_by_posting() {
    let home = Home::new();
    let _d = home.start();
    let watch = home.watch(&["--after", "0"]);
    for i in 1..=4 {
        home.json(&["draft", "add", &format!("post {i}"), "--at", "in 1s"]);
    }
    let ids: Vec<i64> =
        (0..4).map(|_| watch.next_of_kind("post_due", WAIT)["id"].as_i64().expect("id")).collect();
    let list = text(&home, &["nudges", "--unread"]);
    assert!(list.contains("(draft 1: clout posted 1 --url …)"), "{list}");

    // Recording a post acknowledges its due nudge, and the `published` nudge is not left unread.
    text(&home, &["posted", "1", "--url", "https://example.test/1"]);
    let unread = home.json(&["nudges", "--unread"]);
    assert_eq!(unread.as_array().map(Vec::len), Some(3), "{unread}");
    home.fails_with(&["posted", "2", "3", "--url", "https://x.test"], "give one draft id");

    let acked = text(&home, &["nudge", "ack", &ids[1].to_string(), &ids[2].to_string()]);
    assert_eq!(acked.trim(), format!("Acknowledged 2 nudges (#{}, #{})", ids[1], ids[2]));
    home.fails_with(&["nudge", "ack", "999", &ids[3].to_string()], "nudge 999 does not exist");
    assert_eq!(home.json(&["nudge", "ack", "--kind", "task_due"])["acked"], serde_json::json!([]));
    assert_eq!(home.json(&["nudge", "ack", "--all"])["acked"], serde_json::json!([ids[3]]));
    assert_eq!(text(&home, &["nudges", "--unread"]).trim(), "No unread nudges.");

    let skipped = text(&home, &["skip", "2", "3"]);
    assert_eq!(skipped.matches("Skipped").count(), 2, "{skipped}");
}

#[test]
fn snooze_until_a_time_and_review_since_a_phrase() {
    let home = Home::new();
    let _d = home.start();
    let watch = home.watch(&["--after", "0"]);
    home.json(&["draft", "add", "soon", "--at", "in 1s"]);
    let id = watch.next_of_kind("post_due", WAIT)["id"].as_i64().expect("id").to_string();
    let s = home.json(&["nudge", "snooze", &id, "--for", "tomorrow"]);
    assert!(s["snoozed_until"].as_str().is_some_and(|t| t.ends_with("T09:00:00.000Z")), "{s}");
    let out = text(&home, &["nudge", "snooze", &id, "--for", "tomorrow at 9"]);
    assert!(out.contains(" 09:00 UTC"), "{out}");
    home.fails_with(&["nudge", "snooze", &id, "--for", "blah"], "--for takes a duration");
    home.json(&["review", "--since", "yesterday"]);
    home.fails_with(&["review", "--since", "someday"], "Accepted SINCE forms");
    let d = home.json(&["draft", "add", "Christmas", "--at", "Dec 24"]);
    assert!(d["scheduled_at"].as_str().is_some_and(|t| t.contains("-12-24T09:00:00")), "{d}");
}

#[test]
fn bare_commands_list_and_drafts_filter_by_tag_and_words() {
    let home = Home::new();
    let _d = home.start();
    home.json(&["slots", "add", "mon,wed,fri 09:00"]);
    home.json(&["follow", "add", "@alice@mastodon.social", "-p", "mastodon"]);
    assert!(text(&home, &["slots"]).contains("mon,wed,fri 09:00"));
    assert!(text(&home, &["follow"]).contains("@alice@mastodon.social"));
    assert!(text(&home, &["program"]).contains("learn"));
    assert!(text(&home, &["task"]).contains("No tasks"));
    assert_eq!(home.json(&["slots"])["slots"].as_array().map(Vec::len), Some(1));

    home.json(&["draft", "add", "Shipping week: three things", "--tag", "build"]);
    home.json(&["draft", "add", "Why small teams ship faster", "--tag", "build", "--tag", "teams"]);
    home.json(&["draft", "add", "A quiet Sunday", "--tag", "life"]);
    let ids = |args: &[&str]| -> Vec<i64> {
        let mut all = vec!["draft", "list"];
        all.extend_from_slice(args);
        home.json(&all).as_array().expect("drafts").iter().filter_map(|d| d["id"].as_i64()).collect()
    };
    assert_eq!(ids(&["--tag", "build"]), vec![1, 2]);
    assert_eq!(ids(&["--tag", "build", "--tag", "teams"]), vec![2]);
    assert_eq!(ids(&["--search", "SHIP"]), vec![1, 2]);
    assert_eq!(ids(&["--search", "ship small"]), vec![2]);
    assert_eq!(ids(&["--tag", "life", "--search", "ship"]), Vec::<i64>::new());
    assert_eq!(text(&home, &["draft", "list", "--tag", "nothing"]).trim(), "No drafts match.");
}

#[test]
fn man_pages_exist_for_every_command_and_help_has_examples() {
    let home = Home::new();
    let help = text(&home, &["--help"]);
    assert!(help.contains("  man "), "{help}");
    assert!(help.contains("Global options:"), "{help}");
    let page = text(&home, &["man", "task", "done"]);
    assert!(page.contains(".TH clout-task-done"), "{page}");
    assert!(page.contains("\\-\\-next"), "{page}");
    home.fails_with(&["man", "task", "nope"], "`clout-task` has no command `nope`");
    for args in [
        &["posted", "--help"][..],
        &["task", "done", "--help"],
        &["task", "add", "--help"],
        &["slots", "add", "--help"],
        &["nudge", "ack", "--help"],
        &["review", "--help"],
        &["queue", "--help"],
    ] {
        let h = text(&home, args);
        assert!(h.contains("Examples:\n  clout "), "{args:?}: {h}");
    }
}

#[test]
fn the_review_names_the_waiting_draft_and_speaks_in_plurals() {
    let home = Home::new();
    let _d = home.start();
    home.json(&["program", "set", "--posts-per-week", "3"]);
    home.json(&["draft", "add", "Why small teams ship faster"]);
    let review = text(&home, &["review"]);
    assert!(
        review.contains("Queue        empty: draft 1 \u{201c}Why small teams ship faster\u{201d} waits"),
        "{review}"
    );
    assert!(review.contains("clout slots add"), "no slots yet: {review}");
    assert!(review.contains("Streak       0 weeks meeting the posting goal"), "{review}");
    assert!(review.contains("at risk: 0 of 3 posts this week"), "{review}");
    assert!(!review.contains("(s)"), "{review}");
    let r = home.json(&["review"]);
    assert_eq!((r["unscheduled_draft"]["id"].as_i64(), r["slots"].as_u64()), (Some(1), Some(0)), "{r}");
    // The program began just now: it is not scored against the week before.
    assert!(r["days"].as_f64().is_some_and(|d| d < 0.1), "{r}");
    home.json(&["slots", "add", "daily 09:00"]);
    assert!(text(&home, &["review"]).contains("waits: clout draft schedule 1 --queue"));
}
