//! End to end: setbacks and lessons, the review, export and import.

use std::time::Duration;

use clout_e2e::{Home, stderr, stdout};

#[test]
fn setbacks_keep_lessons_that_come_back_when_writing() {
    let home = Home::new();
    let _d = home.start();
    let s = home.json(&[
        "setback",
        "My launch thread got no replies: posted at 23:00",
        "--lesson",
        "Post threads in the morning",
        "--tag",
        "threads",
    ]);
    assert_eq!(s["lessons"][0]["text"], "Post threads in the morning");
    assert!(s["lessons"][0]["next_at"].is_string(), "the lesson is scheduled to resurface: {s}");
    let d = home.json(&["draft", "add", "A thread on testing", "--tag", "threads"]);
    assert_eq!(d["last_time"], serde_json::json!(["Last time: Post threads in the morning"]));
    let plain = home.json(&["draft", "add", "Unrelated", "--tag", "photos"]);
    assert_eq!(plain["last_time"], serde_json::json!([]));

    let s2 = home.json(&["setback", "Argued in replies"]);
    let l = home.json(&["lesson", "add", &s2["id"].to_string(), "Step away before replying"]);
    assert_eq!(l["setback_id"], s2["id"]);
    assert_eq!(home.json(&["lessons"]).as_array().map(Vec::len), Some(2));
    assert_eq!(home.json(&["lessons", "--tag", "threads"]).as_array().map(Vec::len), Some(1));
    let found = home.json(&["lessons", "--search", "step replying"]);
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    assert_eq!(found[0]["text"], "Step away before replying");

    home.fails_with(&["setback", "x", "--draft", "999"], "draft 999 does not exist");
    home.fails_with(&["setback", "x", "--task", "999"], "task 999 does not exist");
    home.fails_with(&["lesson", "add", "999", "y"], "setback 999 does not exist");
    home.fails_with(&["setback", "  "], "empty");
    assert_eq!(home.json(&["lessons"]).as_array().map(Vec::len), Some(2), "failed calls added nothing");
}

#[test]
fn the_review_compares_goals_with_what_happened() {
    let home = Home::new();
    let _d = home.start();
    home.json(&["program", "set", "--posts-per-week", "2", "--engagements-per-day", "1", "--tz", "UTC"]);
    for text in ["one", "two"] {
        let d = home.json(&["draft", "add", text]);
        home.json(&["posted", &d["id"].to_string()]);
    }
    let q = home.json(&["draft", "add", "queued", "--at", "in 3 days"]);
    let watch = home.watch(&["--after", "0"]);
    let due = home.json(&["draft", "add", "overdue one", "--at", "in 1s"]);
    watch.next_of_kind("post_due", Duration::from_secs(30));
    home.json(&["setback", "Skipped a week", "--lesson", "Batch-write on Sundays"]);

    let r = home.json(&["review", "--week"]);
    assert_eq!(r["posts"]["published"], 2);
    assert_eq!(r["goals"]["posts_per_week"], 2);
    // Posting goal met (2 of 2 in 7 days), engagement goal 0 of 7: (100 + 0) / 2.
    assert_eq!(r["consistency"], 50);
    assert_eq!(r["streak"]["current_weeks"], 1);
    assert_eq!(r["queue"]["posts"], 1);
    assert!(r["queue"]["days_ahead"].as_u64().is_some_and(|d| (2..=3).contains(&d)), "{r}");
    assert_eq!(r["overdue"][0]["id"], due["id"]);
    assert_eq!(r["setbacks"][0]["lessons"][0]["text"], "Batch-write on Sundays");
    let activity = r["activity"].as_array().expect("activity");
    assert_eq!(activity.len(), 182);
    assert_eq!(activity.last().map(|d| d["posts"].clone()), Some(serde_json::json!(2)));
    let _ = q;

    let text = stdout(&home.clout(&["review"]));
    assert!(text.contains("Consistency") && text.contains("50/100") && text.contains("Mon"), "{text}");
    let md = stdout(&home.clout(&["review", "--month", "--format", "markdown"]));
    assert!(
        md.starts_with("# Review") && md.contains("**Consistency:**") && md.contains("Batch-write"),
        "{md}"
    );
    home.fails_with(&["review", "--since", "someday"], "2026-11-01");
    home.json(&["review", "--since", "yesterday"]);
    home.fails_with(&["review", "--since", "2999-01-01"], "not in the past");
}

fn populate(home: &Home) {
    home.json(&[
        "program",
        "set",
        "--purpose",
        "influence",
        "--posts-per-week",
        "3",
        "--tz",
        "Europe/Berlin",
    ]);
    home.json(&["slots", "add", "mon,wed,fri 09:00"]);
    home.json(&[
        "follow",
        "add",
        "@alice@mastodon.social",
        "--platform",
        "mastodon",
        "--why",
        "great threads",
    ]);
    home.json(&["draft", "add", "queued", "--queue", "--tag", "threads"]);
    home.json(&["draft", "add", "scheduled", "--at", "in 2 days", "-p", "bluesky"]);
    let p = home.json(&["draft", "add", "published"]);
    home.json(&["posted", &p["id"].to_string(), "--url", "https://example.social/1"]);
    home.json(&["draft", "add", "just a draft\nwith two lines"]);
    let t = home.json(&["task", "add", "Reply to 3 posts", "--every", "weekdays 10:00", "--about", "@alice"]);
    home.json(&["task", "add", "Thank people", "--once", "in 1s"]);
    let watch = home.watch(&["--after", "0"]);
    watch.next_of_kind("task_due", Duration::from_secs(30));
    let s = home.json(&[
        "setback",
        "A flop",
        "--task",
        &t["id"].to_string(),
        "--tag",
        "threads",
        "--lesson",
        "Mornings",
    ]);
    assert_eq!(s["lessons"].as_array().map(Vec::len), Some(1));
}

#[test]
fn export_import_round_trip_loses_nothing_and_twice_adds_nothing() {
    let a = Home::new();
    let _da = a.start();
    populate(&a);
    let file = a.dir.path().join("backup.json");
    let out = a.clout(&["export", "--json", file.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    assert_eq!(first["drafts"].as_array().map(Vec::len), Some(4));
    assert_eq!(first["task_occurrences"].as_array().map(Vec::len), Some(1));

    let b = Home::new();
    let _db = b.start();
    let r = b.json(&["import", file.to_str().expect("path")]);
    assert!(r["added"].as_u64().unwrap_or(0) >= 12, "{r}");
    assert_eq!(r["skipped"], 0);
    let again = b.json(&["import", file.to_str().expect("path")]);
    assert_eq!(again["added"], 0, "a second import added records: {again}");
    let second_file = b.dir.path().join("again.json");
    assert!(b.clout(&["export", "--json", second_file.to_str().expect("path")]).status.success());
    let second: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&second_file).expect("read")).expect("json");
    assert_eq!(first, second, "the round trip changed the program");
    // The imported program runs: its queue and tasks are scheduled again.
    let q = b.json(&["queue", "--days", "7"]);
    assert!(q["items"].as_array().is_some_and(|i| i.iter().any(|x| x["kind"] == "task")), "{q}");
    assert_eq!(b.json(&["lessons"])[0]["text"], "Mornings");
}

#[test]
fn a_malformed_import_names_the_problem_and_changes_nothing() {
    let home = Home::new();
    let _d = home.start();
    populate(&home);
    let before = stdout(&home.clout(&["export", "--json", "-"]));
    let dir = home.dir.path();

    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\n  \"format\": \"clout-export\",\n  \"version\": 1,\n  oops\n}")
        .expect("write");
    home.fails_with(&["import", broken.to_str().expect("path")], "line 4");

    let mut doc: serde_json::Value = serde_json::from_str(&before).expect("json");
    doc["drafts"][1]["state"] = serde_json::json!("launched");
    doc["drafts"][0]["text"] = serde_json::json!("a new draft that must not land");
    let bad_state = dir.join("bad_state.json");
    std::fs::write(&bad_state, doc.to_string()).expect("write");
    home.fails_with(&["import", bad_state.to_str().expect("path")], "drafts[1].state");

    let mut doc: serde_json::Value = serde_json::from_str(&before).expect("json");
    doc["tasks"][0]["every"] = serde_json::json!("blursday 10:00");
    let bad_every = dir.join("bad_every.json");
    std::fs::write(&bad_every, doc.to_string()).expect("write");
    home.fails_with(&["import", bad_every.to_str().expect("path")], "tasks[0].every");

    let mut doc: serde_json::Value = serde_json::from_str(&before).expect("json");
    doc["surprise"] = serde_json::json!(1);
    let unknown = dir.join("unknown.json");
    std::fs::write(&unknown, doc.to_string()).expect("write");
    home.fails_with(&["import", unknown.to_str().expect("path")], "surprise");

    let after = stdout(&home.clout(&["export", "--json", "-"]));
    assert_eq!(before, after, "a failed import changed the database");
}

#[test]
fn the_program_exports_as_a_calendar() {
    let home = Home::new();
    let _d = home.start();
    let d = home.json(&["draft", "add", "Calendar post", "--at", "in 2 days"]);
    let t = home.json(&["task", "add", "Reply to people", "--every", "daily 10:00"]);
    let out = home.clout(&["export", "--ical", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ics = stdout(&out);
    assert!(ics.starts_with("BEGIN:VCALENDAR"), "{ics}");
    assert!(ics.contains(&format!("UID:clout-draft-{}@clout", d["id"])), "{ics}");
    assert!(ics.contains("SUMMARY:Post: Calendar post"));
    // One event for the recurring task, with its rule, not one per occurrence.
    let tasks = ics.matches(&format!("UID:clout-task-{}-", t["id"])).count();
    assert_eq!(tasks, 1, "{ics}");
    assert!(ics.contains("RRULE:FREQ=DAILY;BYHOUR=10;BYMINUTE=0;BYSECOND=0\r\n"), "{ics}");
    // The post has a reminder.
    let alarm = ics.split("BEGIN:VALARM").nth(1).and_then(|a| a.split("END:VALARM").next()).unwrap_or("");
    assert!(alarm.contains("ACTION:DISPLAY") && alarm.contains("TRIGGER:-PT600S"), "{ics}");
    assert!(ics.trim_end().ends_with("END:VCALENDAR"));
    // Every TZID an event names has its VTIMEZONE (RFC 5545, 3.6.5).
    home.json(&["task", "add", "Read the feed", "--every", "mon 09:00", "--tz", "Europe/Berlin"]);
    let ics = stdout(&home.clout(&["export", "--ical", "-"]));
    assert!(ics.contains("DTSTART;TZID=Europe/Berlin:"), "{ics}");
    let zone = ics.split("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n").nth(1).expect("Berlin's VTIMEZONE");
    let zone = zone.split("END:VTIMEZONE").next().unwrap_or("");
    assert!(zone.contains("TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST"), "{zone}");
    assert!(zone.contains("TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET"), "{zone}");
    for tzid in ics.split("TZID=").skip(1).filter_map(|r| r.split(':').next()) {
        assert!(
            ics.contains(&format!("BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n")),
            "no VTIMEZONE for {tzid}: {ics}"
        );
    }
}
