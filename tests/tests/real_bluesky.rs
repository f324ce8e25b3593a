//! Bluesky publishing against a real PDS (`@atproto/pds` from the npm
//! registry, installed by scripts/pds.sh, with a PLC directory of its own),
//! not the project's fake: an account with an app password, a three-part
//! thread with an image, a mention, a link and a tag, looked at in the PDS's
//! own repo (records, reply references, facets, the image's blob); what the PDS answers to a second record
//! with the same key, which cloutd relies on; and a kill -9 while the answer
//! to a part that the PDS made is on its way back.
//!
//! Without node or npm (or when the packages cannot be installed) these
//! tests say why and pass, except under CI=true, where they fail.

use std::time::{Duration, Instant};

use clout_e2e::pds::{Pds, PdsAccount, Proxy, rkey};
use clout_e2e::social::{add_draft, outcomes, wait_state};
use clout_e2e::{Home, write_secret};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const POST: &str = "app.bsky.feed.post";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";
const GET_RECORD: &str = "/xrpc/com.atproto.repo.getRecord";
/// Part 1 of the thread with the image: a mention, a link and a tag, after
/// a character of more than one byte.
const FIRST: &str = "part one \u{2014} by @alice.test, see https://example.com/a #clout";
/// A 60×40 RGB PNG of a colour gradient.
const IMAGE: &[u8] = include_bytes!("../fixtures/pds-60x40.png");

/// A PDS with alice.test on it, and an app password for her.
fn pds_with_alice() -> Option<(Pds, PdsAccount, String)> {
    let pds = Pds::start()?;
    let alice = pds.create_account("alice.test", "alice@example.com", "alice-main-password-1");
    assert!(alice.did.starts_with("did:plc:"), "{}", alice.did);
    assert_eq!(alice.handle, "alice.test");
    let app_password = pds.create_app_password(&alice, "clout");
    Some((pds, alice, app_password))
}

/// `clout account add bluesky` for alice on `server` (the PDS, or a proxy
/// in front of it), signing in with her app password; returns the account.
fn add_alice(home: &Home, server: &str, app_password: &str) -> Value {
    let pass = write_secret(home.dir.path(), "bluesky.pass", app_password).expect("write the app password");
    home.json(&[
        "account",
        "add",
        "bluesky",
        "--handle",
        "alice.test",
        "--app-password-file",
        pass.to_str().expect("UTF-8 path"),
        "--pds",
        server,
        "--name",
        "sky",
    ])
}

/// The strong reference (`{uri, cid}`) to a record as listRecords gives it.
fn strong_ref(r: &Value) -> Value {
    json!({ "uri": r["uri"], "cid": r["cid"] })
}

/// Asserts that the posts in alice's repo are `texts`, in the order of their
/// record keys, as one thread: each later part replies to the one before,
/// under the first. Returns the records.
fn assert_thread(pds: &Pds, did: &str, texts: &[&str]) -> Vec<Value> {
    let records = pds.records(did, POST);
    let got: Vec<&str> = records.iter().map(|r| r["value"]["text"].as_str().unwrap_or("")).collect();
    assert_eq!(got, texts, "the posts in the repo: {records:#?}");
    assert!(records[0]["value"].get("reply").is_none(), "part 1 replies to nothing: {:#}", records[0]);
    for i in 1..records.len() {
        let reply = &records[i]["value"]["reply"];
        assert_eq!(reply["root"], strong_ref(&records[0]), "part {}'s root: {reply:#}", i + 1);
        assert_eq!(reply["parent"], strong_ref(&records[i - 1]), "part {}'s parent: {reply:#}", i + 1);
    }
    for r in &records {
        assert_eq!(r["value"]["$type"], POST, "{r:#}");
        let uri = r["uri"].as_str().expect("uri");
        assert_eq!(uri, format!("at://{did}/{POST}/{}", rkey(uri)), "{r:#}");
    }
    records
}

/// Asserts that the draft's Bluesky publication names the records: each
/// part's remote id is its at:// URI, and its address has its record key.
fn assert_parts_are(d: &Value, records: &[Value]) {
    let parts = d["publications"][0]["parts"].as_array().unwrap_or_else(|| panic!("parts: {d:#}"));
    assert_eq!(parts.len(), records.len(), "{d:#}");
    for (i, (part, record)) in parts.iter().zip(records).enumerate() {
        let uri = record["uri"].as_str().expect("uri");
        assert_eq!(part["number"], i + 1, "{d:#}");
        assert_eq!(part["remote_id"], uri, "part {}: {d:#}", i + 1);
        assert_eq!(
            part["url"],
            format!("https://bsky.app/profile/alice.test/post/{}", rkey(uri)),
            "part {}: {d:#}",
            i + 1
        );
    }
    assert_eq!(d["publications"][0]["url"], parts[0]["url"], "{d:#}");
    assert_eq!(d["publications"][0]["remote_id"], parts[0]["remote_id"], "{d:#}");
}

#[test]
fn a_thread_with_an_image_is_posted_to_a_real_pds() {
    let Some((pds, alice, app_password)) = pds_with_alice() else { return };
    // The PLC directory knows alice's DID, with the PDS as her service.
    let (status, doc) = pds.did_document(&alice.did);
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["alsoKnownAs"], json!(["at://alice.test"]), "{doc:#}");
    let port = pds.url.rsplit(':').next().expect("port");
    assert_eq!(doc["service"][0]["serviceEndpoint"], format!("http://localhost:{port}"), "{doc:#}");

    let home = Home::new();
    let daemon = home.start();
    let account = add_alice(&home, &pds.url, &app_password);
    assert_eq!(account["remote_id"], alice.did.as_str(), "{account}");
    assert_eq!(account["handle"], "alice.test", "{account}");

    let image = IMAGE;
    let path = home.dir.path().join("gradient.png");
    std::fs::write(&path, image).expect("write the image");
    let alt = "A gradient from green to red";
    let id = add_draft(
        &home,
        &[
            FIRST,
            "--image",
            path.to_str().expect("UTF-8 path"),
            "--alt",
            alt,
            "--thread",
            "part two",
            "--thread",
            "part three",
            "--at",
            "in 1s",
            "--account",
            "sky",
        ],
    );
    let d = wait_state(&home, id, "published", WAIT);
    assert_eq!(outcomes(&d, 0), ["published"], "{d:#}\n{}\n{}", daemon.log(), pds.log_tail());

    let records = assert_thread(&pds, &alice.did, &[FIRST, "part two", "part three"]);
    assert_parts_are(&d, &records);
    // The mention (resolved to alice's DID through the PDS), the link and the
    // tag of part 1 are facets over UTF-8 byte ranges, as the lexicon has them.
    let span = |s: &str| {
        let at = FIRST.find(s).expect("in the text");
        json!({ "byteStart": at, "byteEnd": at + s.len() })
    };
    let facet = |s: &str, feature: Value| json!({ "index": span(s), "features": [feature] });
    let facets = json!([
        facet("@alice.test", json!({ "$type": "app.bsky.richtext.facet#mention", "did": alice.did })),
        facet(
            "https://example.com/a",
            json!({ "$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a" })
        ),
        facet("#clout", json!({ "$type": "app.bsky.richtext.facet#tag", "tag": "clout" })),
    ]);
    assert_eq!(records[0]["value"]["facets"], facets, "{:#}", records[0]);
    // Each part is found by its record key, as cloutd looks it up before a retry.
    for r in &records {
        let uri = r["uri"].as_str().expect("uri");
        let (status, got) = pds.get(
            "com.atproto.repo.getRecord",
            &[("repo", &alice.did), ("collection", POST), ("rkey", rkey(uri))],
        );
        assert_eq!(status, 200, "{got}");
        assert_eq!((&got["uri"], &got["cid"]), (&r["uri"], &r["cid"]), "{got:#}");
    }

    // Part 1 carries the image: embed.images with the alt text, the aspect
    // ratio, and a blob that the PDS keeps, byte for byte.
    let embed = &records[0]["value"]["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images", "{embed:#}");
    let images = embed["images"].as_array().unwrap_or_else(|| panic!("images: {embed:#}"));
    assert_eq!(images.len(), 1, "{embed:#}");
    assert_eq!(images[0]["alt"], alt, "{embed:#}");
    assert_eq!(images[0]["aspectRatio"], json!({ "width": 60, "height": 40 }), "{embed:#}");
    let blob = &images[0]["image"];
    assert_eq!(blob["$type"], "blob", "{blob:#}");
    assert_eq!(blob["mimeType"], "image/png", "{blob:#}");
    assert_eq!(blob["size"], image.len(), "{blob:#}");
    let cid = blob["ref"]["$link"].as_str().unwrap_or_else(|| panic!("a blob ref: {blob:#}"));
    let (status, kind, bytes) = pds.blob(&alice.did, cid);
    assert_eq!(status, 200, "getBlob: {}", String::from_utf8_lossy(&bytes));
    assert_eq!(kind, "image/png");
    assert!(bytes == image, "the PDS gives back other bytes ({} of {})", bytes.len(), image.len());
    for r in &records[1..] {
        assert!(r["value"].get("embed").is_none(), "only part 1 has an image: {r:#}");
    }
}

#[test]
fn a_second_record_with_the_same_key_is_refused_and_the_first_is_found_by_its_key() {
    // cloutd gives each part a fixed record key and, when createRecord fails,
    // looks that key up with getRecord: this is what the PDS answers there.
    let Some((pds, alice, app_password)) = pds_with_alice() else { return };
    let (status, session) = pds.post(
        "com.atproto.server.createSession",
        None,
        &json!({ "identifier": "alice.test", "password": app_password }),
    );
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["did"], alice.did.as_str());
    let token = session["accessJwt"].as_str().expect("accessJwt");
    let key = "3lzyxwvutsr22";
    let post = |text: &str| {
        let record = json!({ "$type": POST, "text": text, "createdAt": "2026-01-02T03:04:05.678Z" });
        let body = json!({ "repo": alice.did, "collection": POST, "rkey": key, "record": record });
        pds.post("com.atproto.repo.createRecord", Some(token), &body)
    };
    let (status, first) = post("first");
    assert_eq!(status, 200, "{first}\n{}", pds.log_tail());
    assert_eq!(first["uri"], format!("at://{}/{POST}/{key}", alice.did));
    assert_eq!(first["validationStatus"], "valid", "{first}");

    // The same record again, and another one under the same key: both are
    // refused with a 500 InternalServerError (no error name of their own),
    // and the first record stays as it was.
    for text in ["first", "second"] {
        let (status, again) = post(text);
        assert_eq!(
            (status, again["error"].as_str()),
            (500, Some("InternalServerError")),
            "a second createRecord with key {key} ({text:?}): {again}\n{}",
            pds.log_tail()
        );
    }
    let log =
        std::fs::read_to_string(pds.ready["log"].as_str().expect("log path")).expect("read the PDS log");
    assert!(
        log.contains(&format!("There is already a value at key: {POST}/{key}")),
        "the PDS logs why: {}",
        pds.log_tail()
    );
    let (status, found) =
        pds.get("com.atproto.repo.getRecord", &[("repo", &alice.did), ("collection", POST), ("rkey", key)]);
    assert_eq!(status, 200, "{found}");
    assert_eq!((&found["uri"], &found["cid"]), (&first["uri"], &first["cid"]), "{found:#}");
    assert_eq!(found["value"]["text"], "first");
    assert_eq!(pds.records(&alice.did, POST).len(), 1);

    // A key with no record: 400 RecordNotFound, which cloutd takes for "not made".
    let (status, missing) = pds.get(
        "com.atproto.repo.getRecord",
        &[("repo", &alice.did), ("collection", POST), ("rkey", "3lzyxwvutsr23")],
    );
    assert_eq!((status, missing["error"].as_str()), (400, Some("RecordNotFound")), "{missing}");
}

#[test]
fn kill_9_while_a_made_part_is_unanswered_posts_each_part_once() {
    let Some((pds, alice, app_password)) = pds_with_alice() else { return };
    // cloutd reaches the PDS through a proxy that loses the answer to the
    // second createRecord: the PDS makes part 2, cloutd never hears so.
    let proxy = Proxy::start(&pds.url);
    let home = Home::new();
    let daemon = home.start();
    let account = add_alice(&home, &proxy.url, &app_password);
    assert_eq!(account["remote_id"], alice.did.as_str(), "{account}");
    proxy.lose_answer(CREATE_RECORD, 2);
    let id = add_draft(
        &home,
        &["one", "--thread", "two", "--thread", "three", "--at", "in 1s", "--account", "sky"],
    );
    let start = Instant::now();
    while pds.records(&alice.did, POST).len() < 2 {
        assert!(
            start.elapsed() < WAIT,
            "part 2 did not reach the PDS:\n{}\n{}",
            daemon.log(),
            pds.log_tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(proxy.count(CREATE_RECORD), 2);
    daemon.kill9();
    assert_thread(&pds, &alice.did, &["one", "two"]);

    let _daemon = home.start();
    let d = wait_state(&home, id, "published", WAIT);
    // Part 2 was found by its record key and not made again; part 3 went on from it.
    let records = assert_thread(&pds, &alice.did, &["one", "two", "three"]);
    assert_parts_are(&d, &records);
    assert_eq!(proxy.count(CREATE_RECORD), 3, "part 1 and 2 were not sent again");
    assert!(proxy.count(GET_RECORD) >= 1, "part 2 was looked up by its key");
    assert_eq!(outcomes(&d, 0), ["interrupted", "published"], "{d:#}");
}
