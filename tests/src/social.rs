//! Helpers for the publishing tests: accounts on the fake servers, drafts,
//! and waiting for a draft's state.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake::Fake;
use crate::{Home, write_secret};

/// Writes a secret file with mode 0600 and returns its path.
pub fn secret(home: &Home, name: &str, value: &str) -> String {
    write_secret(home.dir.path(), name, value).expect("write secret").display().to_string()
}

/// Adds the fake's Mastodon account as `masto`.
pub fn add_mastodon(home: &Home, fake: &Fake) {
    let token = secret(home, "mastodon.token", Fake::MASTODON_TOKEN);
    let url = fake.url();
    let a = home.json(&[
        "account",
        "add",
        "mastodon",
        "--instance",
        &url,
        "--token-file",
        &token,
        "--name",
        "masto",
    ]);
    assert_eq!(a["handle"], "alice@127.0.0.1", "{a}");
    assert_eq!(a["remote_id"], "1");
}

/// Adds the fake's Bluesky account as `sky`.
pub fn add_bluesky(home: &Home, fake: &Fake) -> Value {
    add_bluesky_with(home, fake, &[])
}

/// Adds the fake's Bluesky account as `sky`, with `extra` flags of
/// `clout account add bluesky` (such as `--appview URL`); returns the account.
pub fn add_bluesky_with(home: &Home, fake: &Fake, extra: &[&str]) -> Value {
    let pass = secret(home, "bluesky.pass", Fake::BSKY_PASSWORD);
    let url = fake.url();
    let mut args = vec![
        "account",
        "add",
        "bluesky",
        "--handle",
        Fake::BSKY_HANDLE,
        "--app-password-file",
        &pass,
        "--pds",
        &url,
        "--name",
        "sky",
    ];
    args.extend_from_slice(extra);
    let a = home.json(&args);
    assert_eq!(a["remote_id"], Fake::BSKY_DID, "{a}");
    assert_eq!(a["max_length"], 300);
    a
}

/// Waits until the draft reaches `state`: it looks again at every nudge the
/// daemon writes (the publisher writes one with each outcome), and at least
/// every 2 s.
pub fn wait_state(home: &Home, id: i64, state: &str, limit: Duration) -> Value {
    let watch = home.watch(&[]);
    let start = Instant::now();
    loop {
        let d = home.json(&["draft", "show", &id.to_string()]);
        if d["state"] == state {
            return d;
        }
        assert!(start.elapsed() < limit, "draft {id} did not become {state} within {limit:?}: {d}");
        let _ = watch.next(Duration::from_secs(2));
    }
}

/// `clout draft add ARGS…`, answering the new draft's id.
pub fn add_draft(home: &Home, args: &[&str]) -> i64 {
    let mut all = vec!["draft", "add"];
    all.extend_from_slice(args);
    home.json(&all)["id"].as_i64().expect("draft id")
}

/// The outcomes of the attempts on the draft's `account`th publication.
pub fn outcomes(d: &Value, account: usize) -> Vec<String> {
    d["publications"][account]["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["outcome"].as_str().unwrap_or("").to_string())
        .collect()
}
