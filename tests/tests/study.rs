//! Study end to end: a real cloutd reads the people you follow from the fake
//! Mastodon and Bluesky (`clout_e2e::fake`), driven by the real `clout`.
//! Covers lookup and paged statuses with the page cap, getAuthorFeed with its
//! cursor, a server that answers 401 until a token is sent, a spent rate
//! limit, the text and JSON of `clout study`, what changed since the last
//! look, the digest in a study task's nudge, the stage evidence and
//! `clout slots suggest`.

use std::time::{Duration, Instant};

use clout_e2e::fake::Fake;
use clout_e2e::social::add_mastodon;
use clout_e2e::{Home, stdout};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const LOOKUP: &str = "/api/v1/accounts/lookup";
const FEED: &str = "/xrpc/app.bsky.feed.getAuthorFeed";

fn statuses(id: &str) -> String {
    format!("/api/v1/accounts/{id}/statuses")
}

/// `clout --json study HANDLE --keep-mark`, polled until `done` holds for the person.
fn wait_person(home: &Home, handle: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = home.json(&["study", handle, "--keep-mark"]);
        let p = v["people"][0].clone();
        if done(&p) {
            return p;
        }
        assert!(Instant::now() < deadline, "{handle}: {what} did not happen within {WAIT:?}; last: {p:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn fetched(p: &Value) -> bool {
    !p["fetched_at"].is_null() && p["state"] == "idle"
}

fn follow(home: &Home, fake: &Fake, handle: &str, network: &str) {
    let url = fake.url();
    home.json(&["follow", "add", handle, "-p", network, "--server", &url, "--why", "clear threads"]);
}

#[test]
fn mastodon_people_are_looked_up_paged_and_shown_with_what_changed() {
    let fake = Fake::start();
    let id = fake.add_mastodon_author("bob@example.social", 1200, 45);
    let carol = fake.add_mastodon_author("carol@example.social", 50, 200);
    let home = Home::new();
    let _d = home.start();
    follow(&home, &fake, "@bob@example.social", "mastodon");
    follow(&home, &fake, "carol@example.social", "mastodon");

    let p = wait_person(&home, "@bob@example.social", "the first fetch", fetched);
    // Lookup by acct, then two pages: 40 and the 5 before the oldest of the first page.
    let lookups = fake.requests_to(LOOKUP);
    assert!(lookups.iter().any(|r| r.query == "acct=bob%40example.social"), "{lookups:?}");
    assert!(lookups[0].header("user-agent").is_some_and(|ua| ua.starts_with("cloutd/")), "{lookups:?}");
    assert!(lookups[0].header("authorization").is_none(), "a public lookup sent a token");
    let pages = fake.requests_to(&statuses(&id));
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[0].query.contains("limit=40") && !pages[0].query.contains("max_id"), "{}", pages[0].query);
    assert!(pages[1].query.contains("max_id="), "{}", pages[1].query);

    assert_eq!(p["followers"], 1200);
    assert_eq!(p["name"], "bob (fake)");
    assert_eq!(p["cadence"]["posts"], 45);
    // The newest is part of a thread with the one before; the third replies to someone else.
    assert_eq!(p["cadence"]["threads"], 0.04, "{p:#}");
    assert_eq!(p["cadence"]["replies"], 0.02);
    assert_eq!(p["cadence"]["images"], 0.02);
    assert_eq!(p["recent"].as_array().map(Vec::len), Some(5));
    assert_eq!(p["recent"][0]["thread"], true);
    assert_eq!(p["recent"][0]["excerpt"], "Post 0 by bob & friends");
    let best = p["best"].as_array().cloned().unwrap_or_default();
    assert_eq!(best.len(), 3);
    assert!(best[0]["engagement"].as_i64() >= best[1]["engagement"].as_i64(), "{best:?}");
    assert_eq!(p["changes"]["looked_before"], false);
    assert_eq!(p["changes"]["new_posts"], 45);

    // The page cap: 200 statuses, 3 pages of 40 read, never a fourth.
    wait_person(&home, "carol@example.social", "the first fetch", fetched);
    assert_eq!(fake.requests_to(&statuses(&carol)).len(), 3);
    let c = home.json(&["study", "@carol@example.social", "--keep-mark"]);
    assert_eq!(c["people"][0]["cadence"]["posts"], 120);

    // Text: everyone, and this look sets the mark.
    let out = home.clout(&["study"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for want in [
        "@bob@example.social (bob (fake)) · mastodon",
        "why: clear threads",
        "Cadence: ",
        "First look: every post is new.",
        "Best of the last 30 days",
        "Recent",
        "\u{201c}Post 0 by bob & friends\u{201d}",
        "[thread]",
        "@carol@example.social",
        "Hours and days are in UTC.",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // They gain 5 likes a post; a refresh reads them again.
    fake.add_likes("bob@example.social", 5);
    let before = p["fetched_at"].clone();
    let r = home.json(&["study", "refresh", "@bob@example.social"]);
    assert_eq!(r["asked"], 1);
    wait_person(&home, "@bob@example.social", "the refresh", |p| fetched(p) && p["fetched_at"] != before);
    let p = home.json(&["study", "@bob@example.social"])["people"][0].clone();
    assert_eq!(p["changes"]["looked_before"], true);
    assert_eq!(p["changes"]["new_posts"], 0);
    assert_eq!(p["changes"]["engagement_gained"], 45 * 5);
    assert_eq!(p["changes"]["followers_change"], 0);
    // Looked at again: nothing changed since.
    let text = stdout(&home.clout(&["study", "@bob@example.social"]));
    assert!(text.contains("Since you looked ("), "{text}");
    assert!(text.contains("0 new posts, +0 engagements, +0 followers"), "{text}");
}

#[test]
fn bluesky_feeds_are_read_by_cursor_without_reposts() {
    let fake = Fake::start();
    fake.add_bluesky_author("erin.test", 5000, 60);
    let home = Home::new();
    let _d = home.start();
    follow(&home, &fake, "@Erin.test", "bluesky");
    let p = wait_person(&home, "erin.test", "the first fetch", fetched);
    let pages = fake.requests_to(FEED);
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(
        pages[0].query.contains("actor=erin.test") && pages[0].query.contains("limit=50"),
        "{}",
        pages[0].query
    );
    assert!(!pages[0].query.contains("cursor="));
    assert!(pages[1].query.contains("cursor=page%3A50"), "{}", pages[1].query);
    assert_eq!(fake.requests_to("/xrpc/app.bsky.actor.getProfile").len(), 1);
    assert_eq!(p["handle"], "erin.test");
    assert_eq!(p["followers"], 5000);
    // 60 of theirs; the repost of someone else's post is left out.
    assert_eq!(p["cadence"]["posts"], 60);
    assert!(
        p["best"].as_array().is_some_and(|b| b.iter().all(|x| x["engagement"].as_i64() < Some(999))),
        "{p:#}"
    );
    assert_eq!(p["recent"][0]["thread"], true);
    assert!(
        p["recent"][0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://bsky.app/profile/erin.test/post/"))
    );
    let text = stdout(&home.clout(&["study", "erin.test"]));
    assert!(text.contains("erin.test (erin.test (fake)) · bluesky · 5000 followers"), "{text}");
    assert!(text.contains("\u{201c}Skeet 0 by erin.test\u{201d}"), "{text}");

    // Refused input says what to do.
    let out = home.clout(&["follow", "add", "@erin@bsky.social", "-p", "bluesky"]);
    assert!(!out.status.success());
    assert!(clout_e2e::stderr(&out).contains("not a Bluesky handle"), "{}", clout_e2e::stderr(&out));
    let out = home.clout(&["follow", "add", "@frank", "-p", "mastodon"]);
    assert!(
        clout_e2e::stderr(&out).contains("give a Mastodon handle as @user@server"),
        "{}",
        clout_e2e::stderr(&out)
    );
    let out = home.clout(&["study", "@nobody@example.social"]);
    assert!(clout_e2e::stderr(&out).contains("you do not follow @nobody@example.social"));
}

#[test]
fn a_server_that_wants_a_token_gets_the_accounts_and_says_so_without_one() {
    let fake = Fake::start();
    fake.require_sign_in();
    let id = fake.add_mastodon_author("dave@example.social", 10, 3);
    let home = Home::new();
    let _d = home.start();
    follow(&home, &fake, "@dave@example.social", "mastodon");
    let p = wait_person(&home, "@dave@example.social", "the failure", |p| {
        p["state"] == "idle" && p["last_error"] != ""
    });
    assert!(p["last_error"].as_str().is_some_and(|e| e.contains("answers only signed-in requests")), "{p:#}");
    let text = stdout(&home.clout(&["study", "@dave@example.social"]));
    assert!(text.contains("Last fetch failed:"), "{text}");

    // With the account on that server, the 401 is answered with its token.
    add_mastodon(&home, &fake);
    home.json(&["study", "refresh"]);
    let p = wait_person(&home, "@dave@example.social", "the fetch", |p| fetched(p) && p["last_error"] == "");
    assert_eq!(p["cadence"]["posts"], 3);
    let lookups = fake.requests_to(LOOKUP);
    let last = lookups.last().expect("a lookup");
    assert_eq!(last.header("authorization"), Some(format!("Bearer {}", Fake::MASTODON_TOKEN).as_str()));
    assert!(lookups.iter().any(|r| r.header("authorization").is_none()), "it never tried without the token");
    assert!(fake.requests_to(&statuses(&id)).iter().all(|r| r.header("authorization").is_some()));
}

#[test]
fn a_spent_rate_limit_stops_paging_and_holds_the_server_until_its_reset() {
    let fake = Fake::start();
    let id = fake.add_mastodon_author("gina@example.social", 10, 100);
    // Two requests left: the lookup and the first page.
    fake.limit_requests(2, Duration::from_secs(3600));
    let home = Home::new();
    let _d = home.start();
    follow(&home, &fake, "@gina@example.social", "mastodon");
    let p = wait_person(&home, "@gina@example.social", "the first fetch", fetched);
    assert_eq!(p["cadence"]["posts"], 40, "only the first page was read");
    assert_eq!(fake.requests_to(&statuses(&id)).len(), 1);

    // Asked again, cloutd waits for the reset the server named instead of asking.
    home.json(&["study", "refresh"]);
    let p = wait_person(&home, "@gina@example.social", "the hold", |p| {
        p["state"] == "pending"
            && p["last_error"].as_str().is_some_and(|e| e.contains("no more requests until"))
    });
    let next = p["next_fetch_at"].as_str().expect("next fetch");
    let next = chrono::DateTime::parse_from_rfc3339(next).expect("rfc3339").timestamp();
    assert_eq!(next as u64, fake.rate_reset_unix(), "{p:#}");
    assert_eq!(fake.requests_to(LOOKUP).len(), 1, "it asked the server again");
    assert_eq!(fake.requests_to(&statuses(&id)).len(), 1);
}

#[test]
fn study_tasks_carry_a_digest_and_slots_are_suggested_not_added() {
    let fake = Fake::start();
    fake.add_mastodon_author("bob@example.social", 1200, 45);
    let home = Home::new();
    let _d = home.start();
    follow(&home, &fake, "@bob@example.social", "mastodon");
    wait_person(&home, "@bob@example.social", "the first fetch", fetched);

    let watch = home.watch(&[]);
    home.json(&[
        "task",
        "add",
        "Study Bob's last posts",
        "--once",
        "in 1s",
        "--about",
        "@bob@example.social",
    ]);
    let n = watch.next_of_kind("task_due", WAIT);
    let m = n["message"].as_str().unwrap_or("");
    assert!(m.starts_with("Task: Study Bob's last posts (about @bob@example.social). New from @bob@example.social: 44 posts (best 3 shown): \u{201c}"), "{m}");
    assert!(m.contains(" engagements) http://127.0.0.1:"), "{m}");
    assert!(m.ends_with("More: clout study @bob@example.social"), "{m}");

    // Suggestions only: nothing is added without --add.
    let s = home.json(&["slots", "suggest"]);
    let list = s["suggestions"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 3, "{s:#}");
    assert_eq!(s["follows_posts"], 44);
    assert!(
        list.iter().all(|x| x["evidence"].as_str().is_some_and(|e| e.contains("people you follow post on "))),
        "{s:#}"
    );
    assert_eq!(home.json(&["slots"])["slots"], Value::Array(vec![]));
    let text = stdout(&home.clout(&["slots", "suggest"]));
    assert!(text.contains("Nothing was added. Add them with: clout slots suggest --add"), "{text}");
    let added = home.json(&["slots", "suggest", "--add", "-n", "2"]);
    assert_eq!(added["added"].as_array().map(Vec::len), Some(2), "{added:#}");
    let slots = home.json(&["slots"]);
    assert_eq!(slots["slots"].as_array().map(Vec::len), Some(2));
    assert_eq!(slots["slots"][0]["spec"], added["suggestions"][0]["spec"]);
    // Slots already held are not suggested again.
    let again = home.json(&["slots", "suggest"]);
    let taken: Vec<&Value> =
        added["suggestions"].as_array().map(|a| a.iter().map(|x| &x["spec"]).collect()).unwrap_or_default();
    assert!(
        again["suggestions"].as_array().is_some_and(|a| a.iter().all(|x| !taken.contains(&&x["spec"]))),
        "{again:#}"
    );

    // The program shows the stage evidence.
    let p = home.json(&["program"]);
    assert_eq!(p["stage"]["ready"], false);
    assert_eq!(p["stage"]["study_weeks"], 0);
    assert_eq!(p["stage"]["follows"]["posts"], 44);
    let text = stdout(&home.clout(&["program"]));
    assert!(text.contains("Stage evidence"), "{text}");
    assert!(text.contains("Study:       0 of 4 weeks with a study task done"), "{text}");
}

/// An RFC 3339 time `days` ago (or ahead, when negative), as exports write it.
fn days_ago(days: i64) -> (String, i64) {
    let t = chrono::Utc::now() - chrono::Duration::days(days);
    (t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), t.timestamp_millis())
}

#[test]
fn stage_ready_nudges_once_when_the_evidence_is_there() {
    let fake = Fake::start();
    fake.add_mastodon_author("bob@example.social", 1200, 45);
    let home = Home::new();
    let _d = home.start();
    // Your account: 200 followers (verify_credentials).
    add_mastodon(&home, &fake);

    // Four weeks of a weekly study task done, and six posts of yours with results,
    // brought in by an import (the clock is not the test's to move).
    let file = home.dir.path().join("export.json");
    let file = file.to_str().expect("path");
    assert!(home.clout(&["export", "--json", file]).status.success());
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("export")).expect("json");
    let (created, _) = days_ago(35);
    let (next, _) = days_ago(-1);
    doc["tasks"] = serde_json::json!([{
        "id": 1, "text": "Study Bob", "every": "mon 10:00", "tz": "UTC", "about": "@bob@example.social",
        "once_at": null, "next_due_at": next, "removed_at": null, "created_at": created,
    }]);
    doc["task_occurrences"] = Value::Array(
        (0..4)
            .map(|k| {
                let (due, _) = days_ago(7 * k + 6);
                let (done, _) = days_ago(7 * k + 5);
                serde_json::json!({ "task_id": 1, "due_at": due, "state": "done", "fired_at": due,
                                    "resolved_at": done, "late": false })
            })
            .collect(),
    );
    let mut drafts = Vec::new();
    let mut results = Vec::new();
    for i in 0..6i64 {
        let (at, ms) = days_ago(i + 1);
        drafts.push(serde_json::json!({
            "id": i + 1, "title": "", "text": format!("My post {i}"), "platforms": [], "tags": [],
            "state": "published", "scheduled_at": null, "fired_at": null, "late": false, "published_at": at,
            "published_url": format!("{}/@alice/{i}", fake.url()), "slotted": false, "created_at": created,
            "updated_at": at,
        }));
        results.push(serde_json::json!({
            "draft_id": i + 1, "account": "masto", "network": "mastodon", "server": fake.url(),
            "remote_id": format!("77{i}"), "url": format!("{}/@alice/{i}", fake.url()), "published_at": ms,
            "state": "done", "snapshots": [{ "at": ms + 3_600_000, "likes": 5, "reposts": 0, "replies": 0 }],
        }));
    }
    doc["drafts"] = Value::Array(drafts);
    doc["results"] = Value::Array(results);
    std::fs::write(file, doc.to_string()).expect("write");
    let out = home.clout(&["import", file]);
    assert!(out.status.success(), "{}", clout_e2e::stderr(&out));

    let watch = home.watch(&[]);
    follow(&home, &fake, "@bob@example.social", "mastodon");
    let p = wait_person(&home, "@bob@example.social", "the first fetch", fetched);
    let n = watch.next_of_kind("stage_ready", WAIT);
    let m = n["message"].as_str().unwrap_or("");
    assert!(m.starts_with("Ready to influence: 4 weeks of study"), "{m}");
    assert!(m.ends_with("Move on with: clout program set --purpose influence"), "{m}");
    let stage = home.json(&["program"])["stage"].clone();
    assert_eq!(stage["ready"], true, "{stage:#}");
    assert_eq!(stage["own"]["posts"], 6);
    assert_eq!(stage["own"]["per_thousand_followers"], 25.0);

    // Read again: the nudge is not repeated.
    let before = p["fetched_at"].clone();
    home.json(&["study", "refresh"]);
    wait_person(&home, "@bob@example.social", "the refresh", |p| fetched(p) && p["fetched_at"] != before);
    let all = home.json(&["nudges", "--all"]);
    let ready = all.as_array().map(|a| a.iter().filter(|n| n["kind"] == "stage_ready").count());
    assert_eq!(ready, Some(1), "{all:#}");
}

#[test]
fn people_are_read_again_a_day_later_on_the_daemons_clock() {
    let fake = Fake::start();
    let id = fake.add_mastodon_author("dana@example.social", 300, 10);
    let home = Home::new();
    let d = home.start();
    follow(&home, &fake, "@dana@example.social", "mastodon");
    let p = wait_person(&home, "@dana@example.social", "the first fetch", fetched);
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("not a time: {v}: {e}"))
    };
    // Daily by default: the next read is a day after this one.
    let day = at(&p["next_fetch_at"]) - at(&p["fetched_at"]);
    assert!((day - chrono::Duration::hours(24)).num_seconds().abs() < 2, "{p:#}");
    let pages = fake.requests_to(&statuses(&id)).len();
    // Looking sets the mark the next read is compared with.
    home.json(&["study", "@dana@example.social"]);
    d.stop(WAIT).expect("cloutd stopped");

    // Restarted a day and a minute later on its clock, cloutd reads dana again at once.
    fake.add_likes("dana@example.social", 2);
    let _d = home.start_with(&["--clock-offset", "1d1m"]).expect("cloutd did not start");
    let before = p["fetched_at"].clone();
    let q = wait_person(&home, "@dana@example.social", "the daily read", |q| {
        fetched(q) && q["fetched_at"] != before
    });
    assert!(at(&q["fetched_at"]) - at(&before) >= chrono::Duration::hours(24), "{q:#}");
    assert_eq!(fake.requests_to(&statuses(&id)).len(), pages + 1, "one page of 10 statuses");
    assert_eq!(q["changes"]["engagement_gained"], 10 * 2, "{q:#}");
}
