//! Publishing end to end: a real cloutd publishes drafts to a local fake
//! Mastodon and Bluesky (`clout_e2e::fake`), driven by the real `clout`.
//! Covers success, retries with the same key after a 5xx and a 429, a
//! refused token, facets at byte offsets, session refresh, a kill -9
//! mid-publish, length limits, secrets, and manual mode staying the default.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use clout_e2e::fake::Fake;
use clout_e2e::social::{add_bluesky, add_draft, add_mastodon, outcomes, secret, wait_state};
use clout_e2e::{Home, stderr, stdout};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const STATUSES: &str = "/api/v1/statuses";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";

#[test]
fn mastodon_publishes_once_with_its_options_and_manual_mode_stays_the_default() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    let watch = home.watch(&[]);

    // A draft without an account: the person is nudged, nothing is sent.
    let manual = add_draft(&home, &["Post this one yourself", "--at", "in 1s"]);
    let n = watch.next_of_kind("post_due", WAIT);
    assert_eq!(n["draft_id"], manual);
    assert!(fake.requests_to(STATUSES).is_empty(), "manual mode sent a request");
    assert_eq!(home.json(&["draft", "show", &manual.to_string()])["state"], "due");

    let id = add_draft(
        &home,
        &[
            "Shipping week: what I learned",
            "--at",
            "in 1s",
            "--account",
            "masto",
            "--visibility",
            "unlisted",
            "--cw",
            "long read",
            "--lang",
            "en",
        ],
    );
    let n = watch.next_of_kind("published", WAIT);
    assert_eq!(n["draft_id"], id);
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let s = &statuses[0];
    assert_eq!(s["visibility"], "unlisted");
    assert_eq!(s["spoiler_text"], "long read");
    assert_eq!(s["language"], "en");
    let sent = fake.requests_to(STATUSES);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].header("idempotency-key").is_some_and(|k| k.starts_with(&format!("clout-{id}-"))));
    assert_eq!(sent[0].header("authorization"), Some("Bearer mastodon-token-ok"));

    let d = wait_state(&home, id, "published", WAIT);
    let url = s["url"].as_str().expect("status url");
    assert!(n["message"].as_str().is_some_and(|m| m.contains(url)), "{n}");
    assert_eq!(d["published_url"], url);
    assert_eq!(d["publications"][0]["url"], url);
    assert_eq!(d["publications"][0]["remote_id"], s["id"]);
    assert_eq!(outcomes(&d, 0), ["published"]);

    // The text view shows the account and its attempt history.
    let shown = stdout(&home.clout(&["draft", "show", &id.to_string()]));
    assert!(shown.contains("masto (mastodon)") && shown.contains("published"), "{shown}");
}

#[test]
fn a_5xx_then_a_429_are_retried_with_the_same_key_and_retry_after_is_obeyed() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    fake.fail_next(STATUSES, 503, &[], r#"{"error":"Service Unavailable"}"#);
    fake.fail_next(STATUSES, 429, &[("Retry-After", "2")], r#"{"error":"Too many requests"}"#);
    let id = add_draft(&home, &["Retry me", "--at", "in 1s", "--account", "masto"]);
    let d = wait_state(&home, id, "published", Duration::from_secs(60));

    let sent = fake.requests_to(STATUSES);
    assert_eq!(sent.len(), 3, "503, 429, then success");
    let keys: Vec<_> = sent.iter().map(|r| r.header("idempotency-key").unwrap_or("").to_string()).collect();
    assert!(!keys[0].is_empty() && keys.iter().all(|k| *k == keys[0]), "one key for every try: {keys:?}");
    assert_eq!(fake.statuses().len(), 1);
    // The 503 waits out the first backoff (5 s); the 429 waits what Retry-After says.
    assert!(sent[1].at - sent[0].at >= Duration::from_millis(4900), "{:?}", sent[1].at - sent[0].at);
    assert!(sent[2].at - sent[1].at >= Duration::from_millis(1900), "{:?}", sent[2].at - sent[1].at);
    assert!(sent[2].at - sent[1].at < Duration::from_secs(5), "Retry-After: 2 beats the 10 s backoff");
    assert_eq!(outcomes(&d, 0), ["retry", "retry", "published"]);
    let history = d["publications"][0]["history"].as_array().expect("history");
    assert_eq!(history[0]["http_status"], 503);
    assert_eq!(history[1]["http_status"], 429);
}

#[test]
fn a_refused_token_fails_at_once_and_says_what_to_do() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    add_mastodon(&home, &fake);
    fake.revoke_mastodon_token();
    let watch = home.watch(&[]);
    let id = add_draft(&home, &["Nobody will see this", "--at", "in 1s", "--account", "masto"]);
    let n = watch.next_of_kind("publish_failed", WAIT);
    assert_eq!(n["draft_id"], id);
    let message = n["message"].as_str().expect("message");
    assert!(message.contains("The access token is invalid"), "the server's words: {message}");
    assert!(message.contains("clout account check masto"), "what to do: {message}");
    let shown = wait_state(&home, id, "failed", WAIT);
    assert_eq!(outcomes(&shown, 0), ["failed"]);
    assert_eq!(shown["publications"][0]["history"][0]["http_status"], 401);
    assert_eq!(fake.requests_to(STATUSES).len(), 1, "a 401 is not retried");
    assert!(fake.statuses().is_empty());

    // The check says so too, and exits non-zero.
    let out = home.clout(&["account", "check", "masto"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("token was refused"), "{}", stdout(&out));
    assert!(!d.log().contains(Fake::MASTODON_TOKEN), "the token reached the log");
}

#[test]
fn bluesky_posts_carry_facets_at_byte_offsets_and_sessions_are_refreshed() {
    let fake = Fake::start();
    fake.add_handle("bob.test", "did:plc:bob");
    let home = Home::new();
    let _d = home.start();
    add_bluesky(&home, &fake);
    let text = "Grüße 👋🏽 from 日本 @bob.test — read https://example.com/ä?x=1. #rust @nobody.test";
    let id = add_draft(&home, &[text, "--at", "in 1s", "--account", "sky", "--lang", "de"]);
    let d = wait_state(&home, id, "published", WAIT);
    let records = fake.records();
    assert_eq!(records.len(), 1);
    let (rkey, record) = &records[0];
    assert_eq!(record["text"], text);
    assert_eq!(record["langs"], serde_json::json!(["de"]));
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for f in record["facets"].as_array().expect("facets") {
        let start = f["index"]["byteStart"].as_u64().expect("start") as usize;
        let end = f["index"]["byteEnd"].as_u64().expect("end") as usize;
        let covered = std::str::from_utf8(&bytes[start..end]).expect("offsets on char boundaries");
        let feature = &f["features"][0];
        found.push((covered.to_string(), feature["$type"].as_str().unwrap_or("").to_string()));
        if covered == "@bob.test" {
            assert_eq!(feature["did"], "did:plc:bob");
        }
        if covered.starts_with("https://") {
            assert_eq!(feature["uri"], "https://example.com/ä?x=1");
        }
    }
    let expect = [
        ("@bob.test", "app.bsky.richtext.facet#mention"),
        ("https://example.com/ä?x=1", "app.bsky.richtext.facet#link"),
        ("#rust", "app.bsky.richtext.facet#tag"),
    ];
    let expect: Vec<(String, String)> = expect.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(found, expect, "an unresolvable mention gets no facet");
    assert_eq!(d["publications"][0]["url"], format!("https://bsky.app/profile/alice.test/post/{rkey}"));
    assert_eq!(
        d["publications"][0]["remote_id"],
        format!("at://{}/app.bsky.feed.post/{rkey}", Fake::BSKY_DID)
    );

    // The access token expires: the session is refreshed, not signed in again.
    fake.expire_access_tokens();
    let second = add_draft(&home, &["Second post", "--at", "in 1s", "--account", "sky"]);
    wait_state(&home, second, "published", WAIT);
    assert_eq!(fake.records().len(), 2);
    assert_eq!(fake.requests_to("/xrpc/com.atproto.server.refreshSession").len(), 1);
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        fake.requests_to("/xrpc/com.atproto.server.createSession").len(),
        1,
        "only at account add: {paths:?}"
    );
}

#[test]
fn kill_9_mid_publish_and_restart_never_posts_twice() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    // Both servers take the post, and their answers never come.
    fake.hold_next(STATUSES);
    fake.hold_next(CREATE_RECORD);
    let id = add_draft(
        &home,
        &["Exactly once, please", "--at", "in 1s", "--account", "masto", "--account", "sky"],
    );
    fake.wait_for(STATUSES, 1, WAIT);
    fake.wait_for(CREATE_RECORD, 1, WAIT);
    assert_eq!((fake.statuses().len(), fake.records().len()), (1, 1));
    d.kill9();

    let _d = home.start();
    let shown = wait_state(&home, id, "published", WAIT);
    assert_eq!(fake.statuses().len(), 1, "Mastodon's status was found among the account's");
    assert_eq!(fake.records().len(), 1, "Bluesky's record was found by its key");
    assert_eq!(fake.requests_to(STATUSES).len(), 1, "the retry looked the status up instead");
    assert!(!fake.requests_to("/api/v1/accounts/1/statuses").is_empty());
    assert_eq!(fake.requests_to(CREATE_RECORD).len(), 1, "the retry looked the record up instead");
    assert!(!fake.requests_to("/xrpc/com.atproto.repo.getRecord").is_empty());
    for i in 0..2 {
        assert_eq!(outcomes(&shown, i), ["interrupted", "published"], "{shown}");
    }
    assert_eq!(shown["publications"][0]["url"], fake.statuses()[0]["url"]);
}

#[test]
fn length_limits_are_checked_when_the_draft_is_added() {
    let fake = Fake::start();
    fake.set_max_characters(100);
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    assert_eq!(home.json(&["account", "list"])[0]["max_length"], 100, "the instance's own limit");

    let long = "x".repeat(101);
    home.fails_with(&["draft", "add", &long, "--account", "masto"], "the limit is 100: cut 1");
    // A link counts as 23 characters, whatever its length.
    let link = format!("{} https://example.com/{}", "y".repeat(76), "z".repeat(200));
    add_draft(&home, &[&link, "--account", "masto"]);

    let accented = "é".repeat(300);
    add_draft(&home, &[&accented, "--account", "sky"]);
    let over = "é".repeat(301);
    home.fails_with(&["draft", "add", &over, "--account", "sky"], "the limit is 300: cut 1");
    let families = "👨‍👩‍👧‍👦".repeat(10);
    add_draft(&home, &[&families, "--account", "sky"]);
    // Editing checks again, against the accounts the draft names.
    let id = add_draft(&home, &["short", "--account", "masto"]);
    home.fails_with(&["draft", "edit", &id.to_string(), "--text", &long], "the limit is 100");
    home.fails_with(&["draft", "add", "hi", "--account", "nobody"], "no account named `nobody`");
    home.fails_with(&["draft", "add", "hi", "--account", "masto", "--lang", "english!"], "invalid language");
    // Bluesky has no content warning: refused rather than posted without it.
    let cw = ["draft", "add", "spoilers", "--cw", "film ending", "--account", "masto", "--account", "sky"];
    home.fails_with(&cw, "Bluesky has no content warnings");
    let id = add_draft(&home, &["spoilers", "--cw", "film ending", "--account", "masto"]).to_string();
    home.fails_with(&["draft", "edit", &id, "--account", "sky"], "cannot carry --cw");
    let e = home.json(&["draft", "edit", &id, "--account", "sky", "--cw", ""]);
    assert_eq!(e["content_warning"], "", "{e}");

    // The instance lowers its limit after the draft was added: at its time the
    // draft fails with the reason instead of going out.
    let watch = home.watch(&[]);
    let fits_now = "w".repeat(90);
    let id = add_draft(&home, &[&fits_now, "--at", "in 2s", "--account", "masto"]);
    fake.set_max_characters(50);
    assert_eq!(home.json(&["account", "check", "masto"])[0]["max_length"], 50);
    let n = watch.next_of_kind("publish_failed", WAIT);
    assert_eq!(n["draft_id"], id);
    let message = n["message"].as_str().expect("message");
    assert!(message.contains("the limit is 50: cut 40"), "{message}");
    assert!(message.contains(&format!("clout draft retry {id}")), "{message}");
    assert!(fake.requests_to(STATUSES).is_empty(), "the unfit draft was sent");
}

#[test]
fn secrets_stay_in_private_files_and_out_of_output() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    let path = secret(&home, "open.token", Fake::MASTODON_TOKEN);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let url = fake.url();
    home.fails_with(&["account", "add", "mastodon", "--instance", &url, "--token-file", &path], "chmod 600");
    home.fails_with(
        &["account", "add", "mastodon", "--instance", "http://mastodon.example", "--token-file", &path],
        "unencrypted",
    );
    let wrong = secret(&home, "wrong.token", "not-the-token");
    home.fails_with(
        &["account", "add", "mastodon", "--instance", &url, "--token-file", &wrong],
        "Nothing was added",
    );
    assert_eq!(home.json(&["account", "list"]), serde_json::json!([]));

    add_mastodon(&home, &fake);
    let list = home.json(&["account", "list"]);
    let text = list.to_string();
    assert!(!text.contains(Fake::MASTODON_TOKEN), "{text}");
    assert!(list[0]["secret_source"].as_str().is_some_and(|s| s.ends_with("mastodon.token")), "{list}");
    let human = home.clout(&["account", "list"]);
    assert!(!stdout(&human).contains(Fake::MASTODON_TOKEN));

    // Drafts waiting for an account keep it unless --force.
    let id = add_draft(&home, &["later", "--at", "in 1h", "--account", "masto"]);
    home.fails_with(&["account", "rm", "masto"], &format!("draft(s) {id}"));
    let out = home.clout(&["account", "rm", "masto", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!d.log().contains(Fake::MASTODON_TOKEN), "the token reached the log");
}

#[test]
fn accounts_in_the_config_file_keep_their_secret_there() {
    let fake = Fake::start();
    let home = Home::new();
    let config = home.dir.path().join("cloutd.toml");
    let text = format!(
        "{}\n[[accounts]]\nname = \"cfg\"\nnetwork = \"mastodon\"\ninstance = \"{}\"\ntoken = \"{}\"\n",
        clout_e2e::QUIET_RULES,
        fake.url(),
        Fake::MASTODON_TOKEN
    );
    std::fs::write(&config, text).expect("write config");
    let config = config.display().to_string();

    let checked = std::process::Command::new(clout_e2e::bin("cloutd"))
        .args(["--config", &config, "--check-config"])
        .env("CLOUT_SOCKET", home.socket())
        .output()
        .expect("run cloutd --check-config");
    let shown = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    assert!(shown.contains("name = \"cfg\"") && shown.contains("inline, not shown"), "{shown}");
    assert!(!shown.contains(Fake::MASTODON_TOKEN), "--check-config printed the token");

    let d = home.start_with(&["--config", &config]).expect("cloutd did not start");
    let list = home.json(&["account", "list"]);
    assert_eq!(list[0]["name"], "cfg");
    assert_eq!(list[0]["from_config"], true);
    assert_eq!(list[0]["secret_source"], "config file");
    let out = home.clout(&["account", "check", "cfg"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("signed in as alice@127.0.0.1"), "{}", stdout(&out));

    let id = add_draft(&home, &["From the config", "--at", "in 1s", "--account", "cfg"]);
    wait_state(&home, id, "published", WAIT);
    assert_eq!(fake.statuses().len(), 1);
    assert!(!d.log().contains(Fake::MASTODON_TOKEN), "the token reached the log");

    // A config account with no secret at all is a start-up error that names it.
    let bad = home.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[accounts]]\nname = \"x\"\nnetwork = \"mastodon\"\ninstance = \"https://m.example\"\n",
    )
    .expect("write config");
    let out = std::process::Command::new(clout_e2e::bin("cloutd"))
        .args(["--config", &bad.display().to_string(), "--check-config"])
        .output()
        .expect("run cloutd --check-config");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[[accounts]] #1") && err.contains("token"), "{err}");
}

#[test]
fn an_export_carries_the_accounts_drafts_publish_to_but_no_secret() {
    let fake = Fake::start();
    let a = Home::new();
    let _da = a.start();
    add_mastodon(&a, &fake);
    let id = add_draft(
        &a,
        &["Next week", "--at", "in 2h", "--account", "masto", "--visibility", "private", "--lang", "en"],
    );
    let first = stdout(&a.clout(&["export", "--json", "-"]));
    assert!(!first.contains(Fake::MASTODON_TOKEN), "the export holds the token");
    let doc: Value = serde_json::from_str(&first).expect("export JSON");
    assert_eq!(doc["accounts"][0]["name"], "masto");
    assert_eq!(doc["drafts"][0]["accounts"], serde_json::json!(["masto"]));
    assert_eq!(doc["drafts"][0]["visibility"], "private");

    let b = Home::new();
    let _db = b.start();
    let out = b.clout_stdin(&["import", "-"], first.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let d = b.json(&["draft", "show", &id.to_string()]);
    assert_eq!(d["publications"][0]["account"], "masto");
    assert_eq!(d["publications"][0]["state"], "waiting");
    assert_eq!(d["language"], "en");
    assert_eq!(stdout(&b.clout(&["export", "--json", "-"])), first, "the round trip changed the export");

    // A draft naming an account that neither the file nor the database has is refused.
    let mut orphan = doc.clone();
    orphan["accounts"] = serde_json::json!([]);
    orphan["drafts"][0]["created_at"] = serde_json::json!("2030-01-01T00:00:00.000Z");
    let c = Home::new();
    let _dc = c.start();
    let out = c.clout_stdin(&["import", "-"], orphan.to_string().as_bytes());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("drafts[0].accounts"), "{}", stderr(&out));
    assert_eq!(c.json(&["draft", "list"]), serde_json::json!([]), "a refused import changes nothing");
}
