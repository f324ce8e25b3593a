//! Results of your own posts end to end: a real cloutd whose snapshot times
//! are seconds apart (`[results] after` in its config file) publishes to the
//! fake Mastodon and Bluesky, then fetches each post's counts on the
//! schedule; the fake's counts grow with every read. Covers counts over
//! time on both networks (Bluesky through the account's app view), a
//! deleted post, a refused token, a rate-limited app view, a post recorded by
//! its Bluesky address, `clout results` in text and JSON, export and import,
//! `clout results refresh`, the review's results section and a setback made
//! from a draft. One test keeps the default schedule (1 h, 24 h, 7 d, 30 d)
//! and moves the daemon's clock through it with `cloutd --clock-offset`,
//! restarting cloutd at each step as a machine that sleeps would.

use std::time::{Duration, Instant};

use clout_e2e::fake::Fake;
use clout_e2e::social::{add_bluesky_with, add_draft, add_mastodon, wait_state};
use clout_e2e::{Daemon, Home, stdout};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Starts cloutd with snapshots at 2 s, 4 s and 6 s after each post.
fn start(home: &Home) -> Daemon {
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, "[results]\nafter = [\"2s\", \"4s\", \"6s\"]\n").expect("write config");
    home.start_with(&["--config", config.to_str().expect("path")]).expect("cloutd did not start")
}

/// `clout --json results`, polled until `done` holds for it.
fn results_until(home: &Home, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    results_of(home, &["results"], what, done)
}

/// `clout --json ARGS`, polled until `done` holds for it.
fn results_of(home: &Home, args: &[&str], what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = home.json(args);
        if done(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "results never showed {what}: {r:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn post(r: &Value, draft: i64) -> &Value {
    r["posts"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["draft_id"] == draft))
        .unwrap_or_else(|| panic!("no results for draft {draft}: {r:#}"))
}

#[test]
fn counts_are_fetched_on_the_schedule_from_mastodon_and_bluesky() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = start(&home);
    add_mastodon(&home, &fake);
    let url = fake.url();
    let sky = add_bluesky_with(&home, &fake, &["--appview", &url]);
    assert_eq!(sky["appview"], url.as_str());

    let m =
        add_draft(&home, &["Three things I learned", "--at", "in 1s", "--account", "masto", "-t", "rust"]);
    let b = add_draft(
        &home,
        &["A thread on shipping", "--thread", "part two", "--at", "in 1s", "--account", "sky", "-t", "build"],
    );
    wait_state(&home, m, "published", WAIT);
    wait_state(&home, b, "published", WAIT);
    let first = results_until(&home, "both posts", |r| r["posts"].as_array().is_some_and(|p| p.len() == 2));
    assert_eq!(post(&first, m)["network"], "mastodon");
    assert_eq!(post(&first, b)["thread"], true);

    // Three snapshots each, the counts growing between them.
    let r = results_until(&home, "three snapshots of each post", |r| {
        r["posts"].as_array().is_some_and(|ps| ps.len() == 2 && ps.iter().all(|p| p["snapshots"] == 3))
    });
    let pm = post(&r, m);
    assert_eq!(pm["state"], "done", "{pm:#}");
    assert_eq!(pm["account"], "masto");
    // Read 3: 9 favourites, 3 boosts, 2 replies, 1 quote; read 2 had 6 + 2 + 1 + 1.
    assert_eq!(pm["counts"]["likes"], 9, "{pm:#}");
    assert_eq!(pm["counts"]["reposts"], 3);
    assert_eq!(pm["counts"]["replies"], 2);
    assert_eq!(pm["counts"]["quotes"], 1);
    assert_eq!(pm["change"], 15 - 10);
    let pb = post(&r, b);
    // Read 3 on Bluesky: 6 likes, 3 reposts, 3 replies, 2 quotes; read 2: 4 + 2 + 2 + 1.
    assert_eq!(pb["counts"]["likes"], 6, "{pb:#}");
    assert_eq!(pb["counts"]["quotes"], 2);
    assert_eq!(pb["change"], 14 - 9);
    assert_eq!(pb["next_fetch_at"], Value::Null);
    // Bluesky was asked through the account's app view, by the post's at:// URI.
    let asked = fake.requests_to("/xrpc/app.bsky.feed.getPosts");
    assert_eq!(asked.len(), 3, "one call per snapshot");
    assert!(asked[0].query.starts_with("uris=at%3A%2F%2Fdid%3Aplc%3Aalice"), "{}", asked[0].query);
    let reads = fake.requests().iter().filter(|q| q.path.starts_with("/api/v1/statuses/")).count();
    assert_eq!(reads, 3);
    assert!(fake.requests().iter().all(|q| q.header("user-agent").is_some_and(|u| u.starts_with("cloutd/"))));

    // The figures: best and worst, by weekday, hour, tag and shape, each with its number of posts.
    assert_eq!(r["best"], pm["id"]);
    assert_eq!(r["worst"], pb["id"]);
    assert_eq!(r["totals"]["engagement"], 15 + 14);
    let tags: Vec<(String, u64)> = r["by_tag"]
        .as_array()
        .expect("by_tag")
        .iter()
        .map(|g| (g["key"].as_str().unwrap_or("").to_string(), g["posts"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(tags, [("rust".to_string(), 1), ("build".to_string(), 1)]);
    let shapes: Vec<&str> =
        r["by_shape"].as_array().expect("shape").iter().filter_map(|g| g["key"].as_str()).collect();
    assert_eq!(shapes, ["single", "thread"]);
    assert_eq!(r["by_weekday"].as_array().expect("weekday")[0]["posts"], 2);

    // The text screen.
    let text = stdout(&home.clout(&["results"]));
    for needle in [
        "PUBLISHED",
        "LIKES",
        "CHANGE",
        "masto",
        "sky",
        "Best",
        "Worst",
        "By tag",
        "rust 15.0 (1 post)",
        "thread 14.0 (1 post)",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(text.contains(&format!("clout setback --from-draft {b}")), "{text}");

    // A refresh fetches both once more, although their schedule is done.
    let q = home.json(&["results", "refresh"]);
    assert_eq!(q["queued"], 2);
    let r = results_until(&home, "a fourth snapshot", |r| {
        r["posts"].as_array().is_some_and(|ps| ps.iter().all(|p| p["snapshots"] == 4))
    });
    assert_eq!(post(&r, m)["counts"]["likes"], 12);
    assert_eq!(post(&r, m)["state"], "done");

    // The review shows the period's results.
    let review = home.json(&["review"]);
    assert_eq!(review["results"]["posts"], 2, "{:#}", review["results"]);
    assert_eq!(review["results"]["best"]["draft_id"], m);
    let text = stdout(&home.clout(&["review"]));
    assert!(text.contains("Results"), "{text}");
    let md = stdout(&home.clout(&["review", "--format", "markdown"]));
    assert!(md.contains("## Results"), "{md}");

    // The worst post becomes a setback in one step, with its tags and its evidence.
    let s = home.json(&["setback", "--from-draft", &b.to_string(), "--lesson", "Lead with the result"]);
    assert_eq!(s["draft_id"], b);
    assert_eq!(s["tags"], serde_json::json!(["build"]));
    let said = s["text"].as_str().unwrap_or("");
    assert!(said.contains("A thread on shipping") && said.contains("8 likes"), "{said}");
}

/// The instant an RFC 3339 field holds.
fn instant(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("not a time: {v}: {e}"))
}

#[test]
fn the_default_schedule_runs_on_the_daemons_clock_an_hour_a_day_a_week_and_a_month_after() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    add_mastodon(&home, &fake);
    let m = add_draft(&home, &["Lessons from a month of posting", "--at", "in 1s", "--account", "masto"]);
    wait_state(&home, m, "published", WAIT);
    let r = results_until(&home, "the post", |r| r["posts"].as_array().is_some_and(|p| p.len() == 1));
    let p = post(&r, m);
    let published = instant(&p["published_at"]);
    assert_eq!(p["snapshots"], 0, "nothing is fetched before the first hour: {p:#}");
    assert_eq!(instant(&p["next_fetch_at"]) - published, chrono::Duration::hours(1), "{p:#}");
    let id = fake.statuses().last().and_then(|s| s["id"].as_str().map(str::to_string)).expect("the status");
    assert_eq!(fake.reads_of(&id), 0);
    d.stop(WAIT).expect("cloutd stopped");

    // Each step: cloutd starts that much later on its clock, takes exactly the
    // snapshot due by then, and waits for the next one.
    let steps: [(&str, u64, Option<chrono::Duration>); 4] = [
        ("61m", 1, Some(chrono::Duration::hours(24))),
        ("1d1m", 2, Some(chrono::Duration::days(7))),
        ("7d1m", 3, Some(chrono::Duration::days(30))),
        ("30d1m", 4, None),
    ];
    for (offset, snapshots, next) in steps {
        let d = home.start_with(&["--clock-offset", offset]).expect("cloutd did not start");
        if offset == "61m" {
            // The status says the clock is shifted, in JSON and in words.
            assert_eq!(home.json(&["status"])["clock_offset_ms"], 61 * 60_000);
            let text = stdout(&home.clout(&["status"]));
            assert!(text.contains("Clock:     1h 1m ahead of the wall clock"), "{text}");
            // Its times are seen from its own clock: it started seconds ago, not in an hour.
            assert!(text.lines().any(|l| l.starts_with("Up since:") && l.ends_with("s)")), "{text}");
        }
        // The month's posts and the one before: the post is 30 days old at the last step.
        let r = results_of(
            &home,
            &["results", "--days", "60"],
            &format!("snapshot {snapshots} at +{offset}"),
            |r| r["posts"][0]["snapshots"].as_u64().is_some_and(|n| n >= snapshots),
        );
        let p = post(&r, m);
        assert_eq!(p["snapshots"], snapshots, "one snapshot per step at +{offset}: {p:#}");
        assert_eq!(fake.reads_of(&id), snapshots as i64, "one read per snapshot at +{offset}");
        // The fake counts 3 favourites more on every read.
        assert_eq!(p["counts"]["likes"], 3 * snapshots, "{p:#}");
        match next {
            Some(after) => {
                assert_eq!(p["state"], "tracking", "{p:#}");
                assert_eq!(instant(&p["next_fetch_at"]) - published, after, "at +{offset}: {p:#}");
            }
            None => {
                assert_eq!(p["state"], "done", "{p:#}");
                assert_eq!(p["next_fetch_at"], Value::Null);
            }
        }
        d.stop(WAIT).expect("cloutd stopped");
    }
}

#[test]
fn a_deleted_post_stops_and_a_refused_token_is_shown_and_retried_later() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = start(&home);
    add_mastodon(&home, &fake);
    let gone = add_draft(&home, &["This one gets deleted", "--at", "in 1s", "--account", "masto"]);
    let kept = add_draft(&home, &["This one stays", "--at", "in 1s", "--account", "masto"]);
    let gone_id = wait_state(&home, gone, "published", WAIT)["publications"][0]["remote_id"]
        .as_str()
        .expect("status id")
        .to_string();
    wait_state(&home, kept, "published", WAIT);
    fake.delete_post(&gone_id);

    let r = results_until(&home, "the deleted post", |r| {
        r["posts"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["draft_id"] == gone && p["state"] == "deleted"))
    });
    let p = post(&r, gone);
    assert!(p["last_error"].as_str().unwrap_or("").contains("deleted"), "{p:#}");
    assert_eq!(p["next_fetch_at"], Value::Null);
    let r = results_until(&home, "a snapshot of the kept post", |r| {
        post(r, kept)["snapshots"].as_u64() >= Some(1)
    });
    let taken = post(&r, kept)["snapshots"].as_i64().expect("snapshots");
    assert_eq!(post(&r, kept)["counts"]["likes"], 3 * taken, "each read adds 3 favourites");

    // The token expires: the next fetch (asked for now, whatever the schedule) is refused and recorded.
    fake.revoke_mastodon_token();
    assert_eq!(home.json(&["results", "refresh"])["queued"], 1, "the deleted post is not fetched again");
    let r = results_until(&home, "the refused token", |r| {
        post(r, kept)["last_error"].as_str().is_some_and(|e| e.contains("refused"))
    });
    let p = post(&r, kept);
    let e = p["last_error"].as_str().unwrap_or("");
    assert!(e.contains("HTTP 401") && e.contains("clout account check masto"), "{e}");
    assert_ne!(p["state"], "deleted");
    assert!(p["last_error_at"].is_string(), "{p:#}");
    let reads = fake.reads_of(&gone_id);
    assert_eq!(reads, 0, "a deleted post is never read again");

    let text = stdout(&home.clout(&["results"]));
    assert!(text.contains("(deleted)") && text.contains("(fetch failing)"), "{text}");
    assert!(text.contains("clout account check masto"), "{text}");

    // An export carries the snapshots; an import elsewhere shows the same results, once.
    let before = home.json(&["results"]);
    let before = post(&before, kept);
    let file = home.dir.path().join("export.json");
    let out = home.clout(&["export", "--json", file.to_str().expect("path")]);
    assert!(out.status.success(), "{}", clout_e2e::stderr(&out));
    let other = Home::new();
    let _o = start(&other);
    for _ in 0..2 {
        let out = other.clout(&["import", file.to_str().expect("path")]);
        assert!(out.status.success(), "{}", clout_e2e::stderr(&out));
    }
    let r = other.json(&["results"]);
    assert_eq!(r["posts"].as_array().map(Vec::len), Some(2), "{r:#}");
    let imported = r["posts"].as_array().expect("posts");
    let kept_again = imported.iter().find(|p| p["label"] == "This one stays").expect("kept");
    assert_eq!(
        (&kept_again["snapshots"], &kept_again["counts"], &kept_again["published_at"]),
        (&before["snapshots"], &before["counts"], &before["published_at"])
    );
    assert!(
        imported.iter().any(|p| p["label"] == "This one gets deleted" && p["state"] == "deleted"),
        "{r:#}"
    );
}

#[test]
fn a_rate_limited_fetch_waits_for_the_reset_the_server_names() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = start(&home);
    let url = fake.url();
    add_bluesky_with(&home, &fake, &["--appview", &url]);
    // The app view's first answer: 429 with Bluesky's rate-limit headers (reset in Unix seconds).
    let reset = chrono::Utc::now().timestamp() + 120;
    fake.fail_next(
        "/xrpc/app.bsky.feed.getPosts",
        429,
        &[("ratelimit-limit", "3000"), ("ratelimit-remaining", "0"), ("ratelimit-reset", &reset.to_string())],
        r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
    );
    let id = add_draft(&home, &["Rate limited", "--at", "in 1s", "--account", "sky"]);
    wait_state(&home, id, "published", WAIT);
    let r = results_until(&home, "the rate-limited fetch", |r| {
        r["posts"].as_array().is_some_and(|ps| ps.iter().any(|p| p["last_error"] != ""))
    });
    let p = post(&r, id);
    assert!(p["last_error"].as_str().unwrap_or("").contains("HTTP 429"), "{p:#}");
    let next =
        chrono::DateTime::parse_from_rfc3339(p["next_fetch_at"].as_str().expect("retry")).expect("time");
    let off = next.timestamp() - reset;
    assert!((-2..=1).contains(&off), "retried at the reset: {next} vs {reset}");
    assert_eq!(fake.requests_to("/xrpc/app.bsky.feed.getPosts").len(), 1, "nothing asked before the reset");
}

#[test]
fn a_post_recorded_by_its_bluesky_address_is_followed_through_its_handle() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = start(&home);
    let url = fake.url();
    add_bluesky_with(&home, &fake, &["--appview", &url]);
    // A post made elsewhere (here: by cloutd for another draft), recorded by hand with its web
    // address; the Bluesky account lends its app view.
    let made = add_draft(&home, &["Made by cloutd", "--at", "in 1s", "--account", "sky"]);
    wait_state(&home, made, "published", WAIT);
    let (rkey, _) = fake.records().into_iter().next().expect("a record");
    let manual = add_draft(&home, &["Posted by hand"]);
    let web = format!("https://bsky.app/profile/{}/post/{rkey}", Fake::BSKY_HANDLE);
    home.json(&["posted", &manual.to_string(), "--url", &web]);
    let r = results_until(&home, "the recorded post's first snapshot", |r| {
        r["posts"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["draft_id"] == manual && p["snapshots"] == 1))
    });
    let p = post(&r, manual);
    assert_eq!(
        (p["network"].as_str(), p["account"].as_str(), p["url"].as_str()),
        (Some("bluesky"), Some("sky"), Some(web.as_str()))
    );
    assert!(p["counts"]["likes"].as_i64().is_some_and(|n| n > 0), "{p:#}");
    let resolved = fake.requests_to("/xrpc/com.atproto.identity.resolveHandle");
    assert!(resolved.iter().any(|q| q.query == format!("handle={}", Fake::BSKY_HANDLE)), "{resolved:?}");
}
