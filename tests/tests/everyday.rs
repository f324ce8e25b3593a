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
    home.json(&[
        "follow",
        "add",
        "@alice@mastodon.social",
        "-p",
        "mastodon",
        "--server",
        "http://127.0.0.1:9",
    ]);
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

#[test]
fn a_task_is_edited_in_place() {
    let home = Home::new();
    let _d = home.start();
    home.json(&["task", "add", "Reply to 3 posts", "--every", "daily 10:00"]);
    home.fails_with(&["task", "edit", "1"], "nothing to change");
    let out = text(&home, &["task", "edit", "1", "--text", "Reply to 5 posts", "--every", "mon,thu 12:30"]);
    assert!(out.contains("Changed task 1 \u{201c}Reply to 5 posts\u{201d}, mon,thu 12:30"), "{out}");
    assert!(out.contains("Next: "), "{out}");
    let t = home.json(&["task", "edit", "1", "--about", "@alice@mastodon.social"]);
    assert_eq!(
        (t["text"].as_str(), t["every"].as_str()),
        (Some("Reply to 5 posts"), Some("mon,thu 12:30")),
        "{t}"
    );
    assert_eq!(t["about"], "@alice@mastodon.social");
    let t = home.json(&["task", "edit", "1", "--once", "tomorrow at 9", "--no-about"]);
    assert_eq!((t["every"].as_str(), t["about"].as_str()), (Some(""), Some("")), "{t}");
    assert_eq!(t["once_at"], t["next_due_at"], "{t}");
    home.fails_with(&["task", "edit", "1", "--every", "someday"], "someday");
    home.fails_with(&["task", "edit", "7", "--text", "x"], "task 7 does not exist");
}

#[test]
fn the_review_shows_stage_changes_and_new_follows() {
    let home = Home::new();
    let _d = home.start();
    // A closed local port: the study fetch it starts reaches no real server.
    home.json(&[
        "follow",
        "add",
        "@alice@mastodon.social",
        "-p",
        "mastodon",
        "--server",
        "http://127.0.0.1:9",
        "--why",
        "clear threads",
    ]);
    let review = text(&home, &["review"]);
    assert!(!review.contains("\u{2192}"), "no stage change yet: {review}");
    assert!(review.contains("Follows      1 person added in the period"), "{review}");
    assert!(review.contains("  @alice@mastodon.social  mastodon  clear threads"), "{review}");
    home.json(&["program", "set", "--purpose", "influence"]);
    let review = text(&home, &["review"]);
    assert!(
        review.contains("Stage        influence: creating and leading conversations, since "),
        "{review}"
    );
    assert!(review.contains("  learn \u{2192} influence"), "{review}");
    let j = home.json(&["review"]);
    assert_eq!(j["stage_changes"][0]["from"], "learn", "{j}");
    assert_eq!(j["stage_changes"][0]["to"], "influence", "{j}");
    assert_eq!(j["stage_changes"][0]["changed_at"], j["stage_since"], "{j}");
    assert_eq!(j["follows_added"][0]["handle"], "@alice@mastodon.social", "{j}");
    let md = text(&home, &["review", "--format", "markdown"]);
    assert!(md.contains(": learn \u{2192} influence"), "{md}");
    assert!(md.contains("- @alice@mastodon.social (mastodon): clear threads"), "{md}");

    // Exports carry the stage changes; importing twice adds them once.
    let doc = text(&home, &["export", "--json", "-"]);
    let other = Home::new();
    let _o = other.start();
    for _ in 0..2 {
        let out = other.clout_stdin(&["import", "-"], doc.as_bytes());
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let moved = other.json(&["review"]);
    assert_eq!(moved["stage_changes"], j["stage_changes"], "{moved}");
    assert_eq!(text(&other, &["export", "--json", "-"]), doc, "the round trip changed the export");
}

/// GET `path` from `addr` (HTTP/1.1, one request), returning the status line and body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the calendar");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test\r\n\r\n").expect("send");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read the reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

fn without_stamps(ics: &str) -> String {
    ics.lines().filter(|l| !l.starts_with("DTSTAMP")).collect::<Vec<_>>().join("\n")
}

#[test]
fn cloutd_serves_the_calendar_on_a_secret_loopback_url() {
    let home = Home::new();
    let token = "calendar-secret-0123456789abcdef0123456789";
    let token_file = clout_e2e::write_secret(home.dir.path(), "calendar.token", token).expect("token");
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(
        &config,
        format!("[calendar]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{}\"\n", token_file.display()),
    )
    .expect("config");
    let _d = home.start_with(&["--config", config.to_str().expect("path")]).expect("cloutd starts");
    home.json(&["draft", "add", "Calendar post", "--at", "in 2 days"]);
    home.json(&["task", "add", "Reply to people", "--every", "weekdays 10:00"]);
    home.json(&["task", "add", "Thank repliers", "--once", "tomorrow 9am"]);

    let url = home.json(&["status"])["calendar_url"].as_str().expect("a calendar URL").to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with(&format!("/{token}/clout.ics")), "{url}");
    assert!(text(&home, &["status"]).contains(&format!("Calendar:  {url}")));
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_at(rest.find('/').expect("a path"));
    let (status, served) = http_get(addr, path);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        served.contains("RRULE:FREQ=DAILY;BYHOUR=10;BYMINUTE=0;BYSECOND=0;BYDAY=MO,TU,WE,TH,FR"),
        "{served}"
    );
    assert!(served.contains("SUMMARY:Task: Thank repliers"), "{served}");
    assert!(served.contains("BEGIN:VALARM"), "{served}");
    // The same calendar as the export.
    let exported = text(&home, &["export", "--ical", "-"]);
    assert_eq!(without_stamps(&served), without_stamps(&exported));
    // Without the secret, nothing.
    let (status, body) = http_get(addr, "/clout.ics");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(!body.contains("VCALENDAR"));
    let (status, _) = http_get(addr, &format!("/{}x/clout.ics", token));
    assert_eq!(status, "HTTP/1.1 404 Not Found");
}

#[test]
fn the_calendar_listener_is_loopback_only() {
    let home = Home::new();
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, "[calendar]\nlisten = \"0.0.0.0:7479\"\ntoken_file = \"/nonexistent\"\n")
        .expect("config");
    let e = home.start_with(&["--config", config.to_str().expect("path")]).err().expect("refused");
    assert!(e.contains("served on a loopback address only"), "{e}");
    // The secret goes in the URL's path: a `/` or `?` in it is refused, with what to do.
    let token =
        clout_e2e::write_secret(home.dir.path(), "calendar.token", "0123456789abcdef/0123456789abcdef?x")
            .expect("token");
    std::fs::write(
        &config,
        format!("[calendar]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{}\"\n", token.display()),
    )
    .expect("config");
    let e = home.start_with(&["--config", config.to_str().expect("path")]).err().expect("refused");
    assert!(e.contains("the token goes in a URL") && e.contains("openssl rand -hex 32"), "{e}");
}

/// What `clout` offers fish for the words given (the last is the one being typed).
fn completions(home: &Home, words: &[&str]) -> (std::process::Output, Vec<String>) {
    let mut cmd = std::process::Command::new(clout_e2e::bin("clout"));
    cmd.env("COMPLETE", "fish").env("CLOUT_SOCKET", home.socket()).env("NO_COLOR", "1").arg("--").args(words);
    let out = cmd.output().expect("run clout");
    let lines = stdout(&out).lines().map(str::to_string).collect();
    (out, lines)
}

#[test]
fn shell_completion_offers_ids_from_cloutd() {
    let home = Home::new();
    // The scripts call back into clout.
    for shell in ["bash", "zsh", "fish"] {
        let script = text(&home, &["completions", shell]);
        assert!(script.contains("COMPLETE") && script.contains("clout"), "{shell}: {script}");
    }
    // No daemon: ids complete to nothing, quietly; subcommands still complete.
    let (out, lines) = completions(&home, &["clout", "draft", "show", ""]);
    assert!(out.status.success() && stderr(&out).is_empty(), "{}", stderr(&out));
    assert!(lines.iter().all(|l| !l.starts_with(|c: char| c.is_ascii_digit())), "{lines:?}");
    let (_, lines) = completions(&home, &["clout", "dra"]);
    assert!(lines.iter().any(|l| l.starts_with("draft")), "{lines:?}");

    let _d = home.start();
    home.json(&["draft", "add", "Shipping week"]);
    home.json(&["draft", "add", "Notes on async"]);
    home.json(&["task", "add", "Reply to 3 posts", "--every", "daily 10:00"]);
    let (_, lines) = completions(&home, &["clout", "draft", "show", ""]);
    assert!(lines.contains(&"1\tShipping week".to_string()), "{lines:?}");
    assert!(lines.contains(&"2\tNotes on async".to_string()), "{lines:?}");
    let (_, lines) = completions(&home, &["clout", "posted", "1", ""]);
    assert!(lines.contains(&"2\tNotes on async".to_string()), "{lines:?}");
    let (_, lines) = completions(&home, &["clout", "task", "done", ""]);
    let ids: Vec<&String> = lines.iter().filter(|l| !l.starts_with('-')).collect();
    assert_eq!(ids, ["1\tReply to 3 posts"], "{lines:?}");

    // A --socket typed on the line is the daemon asked, over the environment's.
    let other = Home::new();
    let (_, lines) = completions(&other, &["clout", "draft", "show", ""]);
    assert!(!lines.iter().any(|l| l.starts_with('1')), "{lines:?}");
    let sock = home.socket();
    let sock = sock.to_str().expect("socket path");
    let (_, lines) = completions(&other, &["clout", "--socket", sock, "draft", "show", ""]);
    assert!(lines.contains(&"1\tShipping week".to_string()), "{lines:?}");
    let (_, lines) = completions(&other, &["clout", "draft", &format!("--socket={sock}"), "show", ""]);
    assert!(lines.contains(&"2\tNotes on async".to_string()), "{lines:?}");
}

fn init(home: &Home, answers: &str) -> std::process::Output {
    home.clout_stdin(&["init", "--stdin"], answers.as_bytes())
}

#[test]
fn init_writes_what_the_commands_would_and_skips_empty_answers() {
    let home = Home::new();
    let _d = home.start();
    let fake = clout_e2e::fake::Fake::start();
    let token = clout_e2e::social::secret(&home, "mastodon.token", clout_e2e::fake::Fake::MASTODON_TOKEN);
    let answers = format!(
        "influence\n3\n\nEurope/Berlin\nmon,wed,fri 09:00\nHello, first post\nmastodon\n{}\n{token}\nhttp://127.0.0.1:9/hook\n",
        fake.url()
    );
    let out = init(&home, &answers);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("Purpose: influence"), "{said}");
    assert!(said.contains("Goal: 3 posts a week"), "{said}");
    assert!(!said.contains("a day"), "the empty answer skipped the tasks goal: {said}");
    assert!(said.contains("Slot 1: mon,wed,fri 09:00, next "), "{said}");
    assert!(said.contains("Draft 1: \u{201c}Hello, first post\u{201d}, queued for "), "{said}");
    assert!(
        said.contains("Account mastodon: drafts with --account mastodon are published by cloutd"),
        "{said}"
    );
    assert!(said.contains("Sink 1: webhook http://127.0.0.1:9/hook"), "{said}");

    // The same state as `clout program set`, `slots add`, `draft add --queue`, `account add`, `sink add`.
    let p = home.json(&["program"]);
    assert_eq!((p["purpose"].as_str(), p["posts_per_week"].as_u64()), (Some("influence"), Some(3)), "{p}");
    assert_eq!(
        (p["engagements_per_day"].as_u64(), p["tz"].as_str()),
        (Some(0), Some("Europe/Berlin")),
        "{p}"
    );
    assert_eq!(home.json(&["slots"])["slots"][0]["spec"], "mon,wed,fri 09:00");
    let d = home.json(&["draft", "show", "1"]);
    assert_eq!((d["state"].as_str(), d["slotted"].as_bool()), (Some("scheduled"), Some(true)), "{d}");
    assert_eq!(home.json(&["account", "list"])[0]["name"], "mastodon");
    assert_eq!(home.json(&["sink", "list"])[0]["target"], "http://127.0.0.1:9/hook");
}

#[test]
fn init_can_be_skipped_and_refuses_a_pipe_without_stdin() {
    let home = Home::new();
    let _d = home.start();
    let before = home.json(&["program"]);
    // Every answer empty, or no input at all: nothing changes.
    for answers in ["\n\n\n\n\n\n\n\n", ""] {
        let out = init(&home, answers);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("Done. Next:"), "{}", stdout(&out));
    }
    assert_eq!(home.json(&["program"]), before);
    assert_eq!(home.json(&["slots"])["slots"], serde_json::json!([]));
    assert_eq!(home.json(&["draft", "list"]), serde_json::json!([]));
    // Not a terminal and no --stdin: a polite refusal that says what to do.
    let out = home.clout(&["init"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("pass --stdin to read the answers from standard input"),
        "{}",
        stderr(&out)
    );
    // A wrong answer from stdin stops with the question it answered.
    let out = init(&home, "sideways\n");
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("the purpose is learn or influence, not \"sideways\"") && e.contains("Purpose:"),
        "{e}"
    );
    // JSON: what was set.
    let j: serde_json::Value =
        serde_json::from_str(&stdout(&home.clout_stdin(&["--json", "init", "--stdin"], b"learn\n\n2\n")))
            .expect("JSON");
    assert_eq!(j, serde_json::json!({ "purpose": "learn", "engagements_per_day": 2 }));
}
