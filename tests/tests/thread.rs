//! Threads end to end: a draft of several parts is published as a reply
//! chain on the fake Mastodon (`in_reply_to_id`) and Bluesky (`reply` root
//! and parent strong refs); each part has its own key, a thread cut off by a
//! kill -9 or a 5xx resumes at its first unconfirmed part, limits are checked
//! per part, and manual mode, stdin, export and import carry every part.

use std::time::Duration;

use clout_e2e::fake::Fake;
use clout_e2e::social::{add_bluesky, add_draft, add_mastodon, outcomes, wait_state};
use clout_e2e::{Home, stderr, stdout};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const STATUSES: &str = "/api/v1/statuses";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";

/// Checks the fake Mastodon holds exactly `texts` as a chain of replies.
fn assert_mastodon_chain(fake: &Fake, texts: &[&str]) -> Vec<Value> {
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), texts.len(), "{statuses:#?}");
    for (i, s) in statuses.iter().enumerate() {
        assert!(s["content"].as_str().is_some_and(|c| c.contains(texts[i])), "part {}: {s}", i + 1);
        let parent = if i == 0 { Value::Null } else { statuses[i - 1]["id"].clone() };
        assert_eq!(s["in_reply_to_id"], parent, "part {} replies to the part before", i + 1);
    }
    statuses
}

/// Checks the fake Bluesky holds exactly `texts` as a reply chain under the first.
fn assert_bluesky_chain(fake: &Fake, texts: &[&str]) -> Vec<(String, Value)> {
    let records = fake.records();
    assert_eq!(records.len(), texts.len(), "{records:#?}");
    let uri = |rkey: &str| format!("at://{}/app.bsky.feed.post/{rkey}", Fake::BSKY_DID);
    for (i, (_, record)) in records.iter().enumerate() {
        assert_eq!(record["text"], texts[i]);
        if i == 0 {
            assert!(record.get("reply").is_none(), "the first part is no reply: {record}");
            continue;
        }
        let reply = &record["reply"];
        assert_eq!(reply["root"]["uri"], uri(&records[0].0), "part {}: {reply}", i + 1);
        assert_eq!(reply["parent"]["uri"], uri(&records[i - 1].0), "part {}: {reply}", i + 1);
        assert!(reply["root"]["cid"].as_str().is_some_and(|c| c.starts_with("bafyrei")), "{reply}");
        assert!(reply["parent"]["cid"].as_str().is_some_and(|c| c.starts_with("bafyrei")), "{reply}");
    }
    records
}

#[test]
fn a_three_part_thread_is_a_reply_chain_on_both_networks() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    let id = add_draft(
        &home,
        &[
            "first",
            "--thread",
            "second",
            "--thread",
            "third",
            "--at",
            "in 1s",
            "--account",
            "masto",
            "--account",
            "sky",
            "--visibility",
            "unlisted",
        ],
    );
    let d = wait_state(&home, id, "published", WAIT);
    assert_eq!(d["text"], "first");
    assert_eq!(d["thread"], json!(["second", "third"]));
    let statuses = assert_mastodon_chain(&fake, &["first", "second", "third"]);
    assert!(statuses.iter().all(|s| s["visibility"] == "unlisted"), "same visibility on every part");
    let keys: Vec<String> = fake
        .requests_to(STATUSES)
        .iter()
        .map(|r| r.header("idempotency-key").unwrap_or("").to_string())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[1] == format!("{}-2", keys[0]) && keys[2] == format!("{}-3", keys[0]), "{keys:?}");
    let records = assert_bluesky_chain(&fake, &["first", "second", "third"]);

    // The thread is known by its first part; every part's address is shown.
    assert_eq!(d["publications"][0]["url"], statuses[0]["url"]);
    assert_eq!(d["publications"][0]["parts"].as_array().map(Vec::len), Some(3));
    assert_eq!(d["publications"][0]["parts"][2]["url"], statuses[2]["url"]);
    assert_eq!(
        d["publications"][1]["parts"][1]["remote_id"],
        format!("at://{}/app.bsky.feed.post/{}", Fake::BSKY_DID, records[1].0)
    );
    let shown = stdout(&home.clout(&["draft", "show", &id.to_string()]));
    assert!(shown.contains("[1/3]\nfirst") && shown.contains("[3/3]\nthird"), "{shown}");
    assert!(shown.contains("part 3/3"), "{shown}");
}

#[test]
fn kill_9_mid_thread_resumes_at_the_first_unconfirmed_part() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    // Mastodon makes part 2 and its answer never comes; Bluesky, part 3.
    fake.hold_request(STATUSES, 2);
    fake.hold_request(CREATE_RECORD, 3);
    let id = add_draft(
        &home,
        &["one", "--thread", "two", "--thread", "three", "--at", "in 1s", "-a", "masto", "-a", "sky"],
    );
    fake.wait_for(STATUSES, 2, WAIT);
    fake.wait_for(CREATE_RECORD, 3, WAIT);
    d.kill9();

    let _d = home.start();
    let shown = wait_state(&home, id, "published", WAIT);
    assert_mastodon_chain(&fake, &["one", "two", "three"]);
    assert_bluesky_chain(&fake, &["one", "two", "three"]);
    let keys: Vec<String> = fake
        .requests_to(STATUSES)
        .iter()
        .map(|r| r.header("idempotency-key").unwrap_or("").to_string())
        .collect();
    // Part 1 was confirmed and never sent again; part 2 was found among the
    // account's statuses, replying to part 1, and part 3 went on from it.
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys[1] == format!("{}-2", keys[0]) && keys[2] == format!("{}-3", keys[0]), "{keys:?}");
    assert_eq!(fake.requests_to(CREATE_RECORD).len(), 3, "the cut-off record was found by its key");
    for i in 0..2 {
        assert_eq!(outcomes(&shown, i), ["interrupted", "published"], "{shown}");
    }
}

#[test]
fn a_5xx_on_part_2_retries_part_2_and_never_part_1() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    fake.fail_request(STATUSES, 2, 503, r#"{"error":"Service Unavailable"}"#);
    fake.fail_request(CREATE_RECORD, 2, 502, r#"{"error":"UpstreamFailure","message":"down"}"#);
    let id = add_draft(
        &home,
        &["uno", "--thread", "dos", "--thread", "tres", "--at", "in 1s", "-a", "masto", "-a", "sky"],
    );
    let d = wait_state(&home, id, "published", Duration::from_secs(60));
    assert_mastodon_chain(&fake, &["uno", "dos", "tres"]);
    assert_bluesky_chain(&fake, &["uno", "dos", "tres"]);
    let sent = fake.requests_to(STATUSES);
    assert_eq!(sent.len(), 4, "uno, dos (503), dos, tres");
    let texts: Vec<String> =
        sent.iter().map(|r| r.json()["status"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(texts, ["uno", "dos", "dos", "tres"]);
    assert_eq!(fake.requests_to(CREATE_RECORD).len(), 4);
    for i in 0..2 {
        assert_eq!(outcomes(&d, i), ["retry", "published"], "{d}");
    }
}

#[test]
fn limits_are_checked_per_part_and_split_cuts_at_sentences() {
    let fake = Fake::start();
    fake.set_max_characters(100);
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    let long = "é".repeat(301);
    home.fails_with(
        &["draft", "add", "fine", "--thread", &long, "--account", "sky"],
        "part 2 of 2: the draft is 301 characters for Bluesky account `sky`; the limit is 300: cut 1",
    );
    home.fails_with(
        &["draft", "add", "fine", "--thread", " ", "--account", "sky"],
        "part 2 of 2: the text is empty",
    );
    let id = add_draft(&home, &["fine", "--thread", "also fine", "--account", "masto"]).to_string();
    home.fails_with(
        &["draft", "edit", &id, "--thread", "ok", "--thread", &"x".repeat(101)],
        "part 3 of 3: the draft is 101 characters for Mastodon account `masto` (links count as 23, the content warning counts too); the limit is 100: cut 1",
    );
    let e = home.json(&["draft", "edit", &id, "--thread", "replaced"]);
    assert_eq!(e["thread"], json!(["replaced"]));
    let e = home.json(&["draft", "edit", &id, "--no-thread"]);
    assert_eq!(e["thread"], json!([]));

    // --split cuts at sentence boundaries to fit every account; --number counts the parts.
    let sentence = "This sentence is exactly long enough to matter here.";
    let text = [sentence; 4].join(" ");
    let d =
        home.json(&["draft", "add", &text, "--split", "--number", "--account", "masto", "--account", "sky"]);
    let parts: Vec<String> = std::iter::once(&d["text"])
        .chain(d["thread"].as_array().expect("thread"))
        .map(|p| p.as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(parts.len(), 4, "{parts:?}");
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(*p, format!("{sentence} {}/4", i + 1));
    }
    // Without --number, no numbers; without accounts, Bluesky's 300 is the measure.
    let text = ["Short one.".to_string(), "y".repeat(295) + "."].join(" ");
    let d = home.json(&["draft", "add", &text, "--split"]);
    assert_eq!(d["text"], "Short one.");
    assert_eq!(d["thread"], json!(["y".repeat(295) + "."]));
}

#[test]
fn a_manual_thread_nudge_gives_every_part_and_stdin_splits_at_dashes() {
    let home = Home::new();
    let _d = home.start();
    let watch = home.watch(&[]);
    let out = home.clout_stdin(
        &["--json", "draft", "add", "-", "--at", "in 1s"],
        b"Part one\nstill one\n---\nPart two\n---\nPart three\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let d: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(d["text"], "Part one\nstill one");
    assert_eq!(d["thread"], json!(["Part two", "Part three"]));
    let n = watch.next_of_kind("post_due", WAIT);
    let message = n["message"].as_str().expect("message");
    assert!(message.starts_with("Time to post: \u{201c}Part one\u{201d}. A thread of 3 parts"), "{message}");
    assert!(
        message.ends_with("[1/3]\nPart one\nstill one\n\n[2/3]\nPart two\n\n[3/3]\nPart three"),
        "{message}"
    );

    // Editing from stdin replaces the whole thread.
    let id = d["id"].as_i64().expect("id").to_string();
    let out = home.clout_stdin(&["--json", "draft", "edit", &id, "--text", "-"], b"New one\n---\nNew two\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let e: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!((e["text"].as_str(), e["thread"].clone()), (Some("New one"), json!(["New two"])));
}

#[test]
fn export_and_import_carry_the_thread() {
    let a = Home::new();
    let _da = a.start();
    let id = add_draft(&a, &["head", "--thread", "middle", "--thread", "tail", "--at", "in 2h"]);
    let first = stdout(&a.clout(&["export", "--json", "-"]));
    let doc: Value = serde_json::from_str(&first).expect("export JSON");
    assert_eq!(doc["drafts"][0]["thread"], json!(["middle", "tail"]));
    let cal = stdout(&a.clout(&["export", "--ical", "-"]));
    assert!(cal.contains("head") && cal.contains("middle") && cal.contains("tail"), "{cal}");

    let b = Home::new();
    let _db = b.start();
    let out = b.clout_stdin(&["import", "-"], first.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let d = b.json(&["draft", "show", &id.to_string()]);
    assert_eq!(d["thread"], json!(["middle", "tail"]));
    assert_eq!(stdout(&b.clout(&["export", "--json", "-"])), first, "the round trip changed the export");

    // An empty part in a file is refused with its place.
    let mut bad = doc.clone();
    bad["drafts"][0]["thread"] = json!(["ok", ""]);
    bad["drafts"][0]["created_at"] = json!("2030-01-01T00:00:00.000Z");
    let out = b.clout_stdin(&["import", "-"], bad.to_string().as_bytes());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("drafts[0].thread[1]"), "{}", stderr(&out));
}

#[test]
fn an_account_with_parts_out_stays_on_the_draft_so_part_1_is_never_posted_again() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    // Part 2 is refused for good: the thread stops with part 1 out.
    fake.fail_request(STATUSES, 2, 422, r#"{"error":"Validation failed: nope"}"#);
    let id = add_draft(&home, &["eins", "--thread", "zwei", "--at", "in 1s", "-a", "masto"]);
    wait_state(&home, id, "failed", WAIT);
    let id_s = id.to_string();
    // Taking the account off (to add it back later) would forget part 1 and post it again.
    home.fails_with(
        &["draft", "edit", &id_s, "--no-account"],
        "1 part of this thread is already out on `masto`",
    );
    let d = home.json(&["draft", "show", &id_s]);
    assert_eq!(d["publications"][0]["parts"].as_array().map(Vec::len), Some(1), "{d}");
    // Editing the accounts otherwise keeps it, and a retry finishes the thread from part 2.
    home.json(&["draft", "edit", &id_s, "--account", "masto"]);
    home.json(&["draft", "retry", &id_s]);
    wait_state(&home, id, "published", WAIT);
    assert_mastodon_chain(&fake, &["eins", "zwei"]);
    let texts: Vec<String> = fake
        .requests_to(STATUSES)
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts, ["eins", "zwei", "zwei"], "part 1 was sent once");
}
