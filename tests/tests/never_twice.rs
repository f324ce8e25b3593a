//! Never twice, on every server: a Mastodon-API server that forgets its
//! Idempotency-Keys when it restarts gets the post looked up among the
//! account's statuses instead of made again, and a server that drops the
//! content warning or changes the visibility is reported, not recorded as a
//! plain success.

use std::time::Duration;

use clout_e2e::fake::Fake;
use clout_e2e::social::{add_draft, add_mastodon, outcomes, wait_state};
use clout_e2e::{Home, stdout};

const WAIT: Duration = Duration::from_secs(30);
const STATUSES: &str = "/api/v1/statuses";
const ACCOUNT_STATUSES: &str = "/api/v1/accounts/1/statuses";

#[test]
fn a_server_that_forgets_its_keys_gets_the_post_looked_up_not_made_again() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    add_mastodon(&home, &fake);
    // The status is made and its answer lost; cloutd dies; the server restarts
    // and forgets the key, so the retry's key alone would make a second status.
    fake.hold_next(STATUSES);
    let id = add_draft(&home, &["Only once, even here", "--at", "in 1s", "--account", "masto"]);
    fake.wait_for(STATUSES, 1, WAIT);
    d.kill9();
    fake.forget_idempotency_keys();
    assert!(fake.requests_to(ACCOUNT_STATUSES).is_empty(), "no look-up before an unknown outcome");

    let d = home.start();
    let shown = wait_state(&home, id, "published", WAIT);
    assert_eq!(fake.statuses().len(), 1, "the status was adopted, not made again");
    assert_eq!(fake.requests_to(STATUSES).len(), 1, "nothing was posted again");
    assert!(!fake.requests_to(ACCOUNT_STATUSES).is_empty(), "the account's statuses were searched");
    assert_eq!(shown["publications"][0]["url"], fake.statuses()[0]["url"]);
    assert_eq!(outcomes(&shown, 0), ["interrupted", "published"]);

    // The same for part 2 of a thread: found as the reply to part 1, and
    // part 3 goes on replying to it.
    fake.hold_request(STATUSES, 3);
    let thread =
        add_draft(&home, &["t1", "--thread", "t2", "--thread", "t3", "--at", "in 1s", "-a", "masto"]);
    fake.wait_for(STATUSES, 3, WAIT);
    d.kill9();
    fake.forget_idempotency_keys();
    let _d = home.start();
    wait_state(&home, thread, "published", WAIT);
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 4, "one single post and a thread of 3: {statuses:#?}");
    assert_eq!(statuses[2]["in_reply_to_id"], statuses[1]["id"]);
    assert_eq!(statuses[3]["in_reply_to_id"], statuses[2]["id"], "part 3 replies to the adopted part 2");
    assert_eq!(fake.requests_to(STATUSES).len(), 4, "t1, t2 (cut off), t3: no part went twice");
}

#[test]
fn a_dropped_content_warning_or_visibility_is_recorded_and_nudged() {
    let fake = Fake::start();
    fake.ignore_spoiler_text();
    fake.without_unlisted();
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    let watch = home.watch(&[]);
    let id = add_draft(
        &home,
        &["Film talk", "--at", "in 1s", "-a", "masto", "--cw", "spoilers", "--visibility", "unlisted"],
    );
    let n = watch.next_of_kind("published_differently", WAIT);
    assert_eq!(n["draft_id"], id);
    let message = n["message"].as_str().expect("message");
    assert!(message.contains("the server made it public, not unlisted"), "{message}");
    assert!(message.contains("the server dropped the content warning \u{201c}spoilers\u{201d}"), "{message}");
    let d = wait_state(&home, id, "published", WAIT);
    let differences = d["publications"][0]["differences"].as_str().expect("differences");
    assert!(differences.contains("not unlisted") && differences.contains("spoilers"), "{d}");
    let shown = stdout(&home.clout(&["draft", "show", &id.to_string()]));
    assert!(shown.contains("not as asked: the server made it public"), "{shown}");

    // A server that makes what was asked leaves no difference and no such nudge.
    let plain = add_draft(&home, &["Plain", "--at", "in 1s", "-a", "masto", "--visibility", "public"]);
    let d = wait_state(&home, plain, "published", WAIT);
    assert_eq!(d["publications"][0]["differences"], "");
    let nudges = home.json(&["nudges", "--all"]);
    let kinds: Vec<&str> =
        nudges.as_array().expect("nudges").iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "published_differently").count(), 1, "{kinds:?}");
}
