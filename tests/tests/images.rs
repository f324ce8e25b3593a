//! Images end to end: `--image` and `--alt` on any part of a thread, kept by
//! cloutd when the draft is added (the original may go), checked against the
//! accounts' limits at add time, uploaded to the fake Mastodon (media v2,
//! processed asynchronously) and Bluesky (uploadBlob, embed.images), never
//! uploaded or posted twice across a kill -9, and carried by export/import.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clout_e2e::fake::Fake;
use clout_e2e::social::{add_bluesky, add_mastodon, wait_state};
use clout_e2e::{Home, stderr, stdout};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const STATUSES: &str = "/api/v1/statuses";
const MEDIA: &str = "/api/v2/media";
const UPLOAD_BLOB: &str = "/xrpc/com.atproto.repo.uploadBlob";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";
/// The id the fake Mastodon gives its first upload.
const FIRST_MEDIA: &str = "/api/v1/media/110000000000000001";

/// A PNG of `w`×`h` as far as cloutd and the fakes look (signature and
/// IHDR), `pad` bytes longer, with `seed` in it so each one differs.
fn png(w: u32, h: u32, pad: usize, seed: u8) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, seed]);
    b.resize(b.len() + pad, seed);
    b
}

fn write(home: &Home, name: &str, bytes: &[u8]) -> PathBuf {
    let path = home.dir.path().join(name);
    std::fs::write(&path, bytes).expect("write the image file");
    path
}

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// `clout --json draft add ARGS…`: the draft and what it said on stderr.
fn add(home: &Home, args: &[&str]) -> (Value, String) {
    let mut all = vec!["--json", "draft", "add"];
    all.extend_from_slice(args);
    let out = home.clout(&all);
    assert!(out.status.success(), "draft add failed: {}", stderr(&out));
    (serde_json::from_str(&stdout(&out)).expect("draft JSON"), stderr(&out))
}

#[test]
fn a_three_part_thread_with_images_on_both_networks() {
    let fake = Fake::start();
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    let a = write(&home, "a.png", &png(640, 480, 100, 1));
    let b = write(&home, "b.png", &png(300, 200, 100, 2));
    let c = write(&home, "c.png", &png(10, 20, 100, 3));
    let (d, warned) = add(
        &home,
        &[
            "first https://example.com/a",
            "--image",
            p(&a),
            "--alt",
            "A chart",
            "--thread",
            "second",
            "--thread",
            "third",
            "--image",
            p(&b),
            "--alt",
            "A photo",
            "--image",
            p(&c),
            "--at",
            "in 2s",
            "-a",
            "masto",
            "-a",
            "sky",
        ],
    );
    // Missing alt text is allowed, with a warning that names the file.
    assert!(
        warned.contains("warning") && warned.contains("c.png") && warned.contains("no alt text"),
        "{warned}"
    );
    assert!(!warned.contains("a.png"), "{warned}");
    let parts: Vec<u64> =
        d["images"].as_array().expect("images").iter().map(|i| i["part"].as_u64().unwrap_or(0)).collect();
    assert_eq!(parts, [1, 3, 3], "{d}");
    assert_eq!((d["images"][0]["width"].as_u64(), d["images"][0]["height"].as_u64()), (Some(640), Some(480)));
    assert_eq!(d["images"][0]["mime_type"], "image/png");
    // cloutd keeps its own copies: the originals may go.
    for f in [&a, &b, &c] {
        std::fs::remove_file(f).expect("remove the original");
    }
    let id = d["id"].as_i64().expect("id");
    let shown = stdout(&home.clout(&["draft", "show", &id.to_string()]));
    assert!(shown.contains("[image PNG 640×480") && shown.contains("alt: A chart"), "{shown}");
    assert!(shown.contains("no alt text"), "{shown}");

    let done = wait_state(&home, id, "published", WAIT);
    // Mastodon: three uploads with their descriptions, each waited for (206, then 200).
    let uploads = fake.requests_to(MEDIA);
    assert_eq!(uploads.len(), 3, "{uploads:#?}");
    assert!(
        uploads
            .iter()
            .all(|u| u.header("content-type").is_some_and(|c| c.starts_with("multipart/form-data")))
    );
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 3, "{statuses:#?}");
    let attached = |i: usize| statuses[i]["media_attachments"].as_array().map_or(0, Vec::len);
    assert_eq!((attached(0), attached(1), attached(2)), (1, 0, 2), "{statuses:#?}");
    assert_eq!(statuses[0]["media_attachments"][0]["description"], "A chart");
    assert_eq!(statuses[2]["media_attachments"][0]["description"], "A photo");
    assert!(
        statuses[2]["media_attachments"][1]["description"].is_null(),
        "no description was sent for c.png"
    );
    assert!(fake.requests().iter().filter(|r| r.path.starts_with("/api/v1/media/")).count() >= 6);
    // Bluesky: three blobs and embed.images with alt and aspectRatio; no link card.
    assert_eq!(fake.requests_to(UPLOAD_BLOB).len(), 3);
    let records = fake.records();
    assert_eq!(records.len(), 3);
    let embed = &records[0].1["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images", "a post with images gets no card: {embed}");
    assert_eq!(embed["images"][0]["alt"], "A chart");
    assert_eq!(embed["images"][0]["aspectRatio"]["width"], 640);
    assert_eq!(embed["images"][0]["aspectRatio"]["height"], 480);
    assert_eq!(embed["images"][0]["image"]["mimeType"], "image/png");
    assert!(records[1].1.get("embed").is_none(), "{:?}", records[1]);
    let third = records[2].1["embed"]["images"].as_array().expect("images on part 3");
    assert_eq!(third.len(), 2);
    assert_eq!(third[1]["alt"], "");
    assert_eq!(third[1]["aspectRatio"]["height"], 20);
    assert_eq!(done["publications"][1]["parts"].as_array().map(Vec::len), Some(3));
}

#[test]
fn kill_9_after_the_upload_before_the_post_posts_once_with_the_image() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    fake.add_handle("bob.test", "did:plc:bob00000000000000000000");
    // Mastodon: the upload is answered, then the look at its processing hangs.
    fake.hold_request(FIRST_MEDIA, 1);
    // Bluesky: the blob is uploaded, then resolving the mention (before the post) hangs.
    fake.hold_request("/xrpc/com.atproto.identity.resolveHandle", 1);
    let img = write(&home, "a.png", &png(64, 32, 50, 7));
    let (draft, _) = add(
        &home,
        &[
            "hello @bob.test",
            "--image",
            p(&img),
            "--alt",
            "A cat",
            "--at",
            "in 1s",
            "-a",
            "masto",
            "-a",
            "sky",
        ],
    );
    let id = draft["id"].as_i64().expect("id");
    fake.wait_for(FIRST_MEDIA, 1, WAIT);
    fake.wait_for("/xrpc/com.atproto.identity.resolveHandle", 1, WAIT);
    assert!(fake.requests_to(STATUSES).is_empty() && fake.requests_to(CREATE_RECORD).is_empty());
    d.kill9();

    let _d = home.start();
    wait_state(&home, id, "published", WAIT);
    // The uploads made before the kill were reused; each post was made once, with its image.
    assert_eq!(fake.requests_to(MEDIA).len(), 1, "the Mastodon upload was reused");
    assert_eq!(fake.requests_to(UPLOAD_BLOB).len(), 1, "the Bluesky blob was reused");
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    assert_eq!(statuses[0]["media_attachments"][0]["description"], "A cat");
    let records = fake.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1["embed"]["images"][0]["alt"], "A cat");
    assert_eq!(records[0].1["embed"]["images"][0]["image"]["ref"]["$link"], fake.blobs()[0].0);
}

#[test]
fn an_image_still_processing_after_the_wait_is_looked_at_again_not_uploaded_again() {
    let fake = Fake::start();
    // 12 looks answer 206: more than one attempt's ten.
    fake.set_media_processing(12);
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    let img = write(&home, "slow.png", &png(800, 600, 50, 3));
    let (draft, _) =
        add(&home, &["A slow one", "--image", p(&img), "--alt", "Slow", "--at", "in 1s", "-a", "masto"]);
    let id = draft["id"].as_i64().expect("id");

    // The first attempt gives up waiting and says the next looks again.
    let slow = Duration::from_secs(60);
    fake.wait_for(FIRST_MEDIA, 10, slow);
    let deadline = std::time::Instant::now() + slow;
    let first = loop {
        let d = home.json(&["draft", "show", &id.to_string()]);
        let err = d["publications"][0]["last_error"].as_str().unwrap_or("").to_string();
        if !err.is_empty() {
            break err;
        }
        assert!(std::time::Instant::now() < deadline, "the first attempt never ended: {d:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(first.contains("still processing image 1 of part 1"), "{first}");
    assert!(fake.requests_to(STATUSES).is_empty(), "posted before the image was processed");

    // The retry looks at the same upload until it is done, then posts it once.
    wait_state(&home, id, "published", slow);
    assert_eq!(fake.requests_to(MEDIA).len(), 1, "the image was uploaded again");
    assert_eq!(fake.requests_to(FIRST_MEDIA).len(), 13, "10 looks, then 3 on the retry");
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    assert_eq!(statuses[0]["media_attachments"][0]["description"], "Slow");
}

#[test]
fn a_blob_the_pds_collected_before_the_retry_is_uploaded_again() {
    let fake = Fake::start();
    let home = Home::new();
    let d = home.start();
    add_bluesky(&home, &fake);
    fake.add_handle("bob.test", "did:plc:bob00000000000000000000");
    // The blob is uploaded, then resolving the mention (before the post) hangs: kill -9 there.
    fake.hold_request("/xrpc/com.atproto.identity.resolveHandle", 1);
    let img = write(&home, "late.png", &png(64, 64, 50, 4));
    let (draft, _) =
        add(&home, &["late, @bob.test", "--image", p(&img), "--alt", "Late", "--at", "in 1s", "-a", "sky"]);
    let id = draft["id"].as_i64().expect("id");
    fake.wait_for("/xrpc/com.atproto.identity.resolveHandle", 1, WAIT);
    assert_eq!(fake.requests_to(UPLOAD_BLOB).len(), 1);
    d.kill9();
    // While cloutd is down, the PDS drops the blob nothing references.
    fake.collect_unused_blobs();
    assert!(fake.blobs().is_empty());

    // The retry reuses the kept blob reference, is told the blob is gone,
    // forgets it, uploads the image again and posts once.
    let _d = home.start();
    wait_state(&home, id, "published", Duration::from_secs(60));
    assert_eq!(fake.requests_to(UPLOAD_BLOB).len(), 2, "the image was not uploaded again");
    let tries = fake.requests_to(CREATE_RECORD);
    assert_eq!(tries.len(), 2, "one refused for the blob, one posted");
    let records = fake.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].1["embed"]["images"][0]["alt"], "Late");
    assert_eq!(records[0].1["embed"]["images"][0]["image"]["ref"]["$link"], fake.blobs()[0].0);
    let shown = home.json(&["draft", "show", &id.to_string()]);
    let history = shown["publications"][0]["history"].to_string();
    assert!(history.contains("Could not find blob"), "{shown:#}");
}

#[test]
fn images_that_cannot_be_posted_are_refused_at_add_time() {
    let fake = Fake::start();
    fake.set_image_size_limit(2_000_000);
    let home = Home::new();
    let _d = home.start();
    add_mastodon(&home, &fake);
    add_bluesky(&home, &fake);
    let big = write(&home, "big.png", &png(4000, 3000, 1_200_000, 1));
    let huge = write(&home, "huge.png", &png(4000, 3000, 2_500_000, 2));
    let text = write(&home, "notes.png", b"just some text, named like an image");
    let small = write(&home, "small.png", &png(8, 8, 10, 3));

    let out = home.clout(&["draft", "add", "hi", "--image", p(&big), "--alt", "x", "-a", "sky"]);
    let e = stderr(&out);
    assert!(!out.status.success(), "{e}");
    assert!(
        e.contains("Bluesky account `sky`") && e.contains("1,000,000 bytes") && e.contains("make it smaller"),
        "{e}"
    );
    // Mastodon's limit is the instance's image_size_limit.
    home.clout(&["draft", "add", "hi", "--image", p(&big), "--alt", "x", "-a", "masto"]);
    let out = home.clout(&["draft", "add", "hi", "--image", p(&huge), "--alt", "x", "-a", "masto"]);
    let e = stderr(&out);
    assert!(
        !out.status.success() && e.contains("Mastodon account `masto`") && e.contains("2,000,000 bytes"),
        "{e}"
    );
    // The type is read from the bytes, not the name.
    let out = home.clout(&["draft", "add", "hi", "--image", p(&text)]);
    let e = stderr(&out);
    assert!(!out.status.success() && e.contains("not a PNG, JPEG, WebP or GIF"), "{e}");
    // At most four on one post, and an --alt needs an --image before it.
    let five: Vec<&str> = std::iter::repeat_n(["--image", p(&small)], 5).flatten().collect();
    let mut args = vec!["draft", "add", "hi"];
    args.extend(&five);
    let e = stderr(&home.clout(&args));
    assert!(e.contains("more than 4 images"), "{e}");
    let e = stderr(&home.clout(&["draft", "add", "hi", "--alt", "lonely", "--image", p(&small)]));
    assert!(e.contains("put it after an --image"), "{e}");
    let e = stderr(&home.clout(&["draft", "add", "hi", "--image", p(&small), "--part", "2"]));
    assert!(e.contains("part 2") && e.contains("1 part"), "{e}");
    // Only the one that fits was added.
    let list = home.json(&["draft", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

#[test]
fn edit_replaces_and_removes_images() {
    let home = Home::new();
    let _d = home.start();
    let a = write(&home, "a.png", &png(10, 10, 10, 1));
    let b = write(&home, "b.png", &png(20, 10, 10, 2));
    let (d, _) = add(&home, &["one", "--thread", "two", "--image", p(&a), "--alt", "first"]);
    let id = d["id"].as_i64().expect("id").to_string();
    assert_eq!(d["images"][0]["part"], 2);
    let e = home.json(&["draft", "edit", &id, "--image", p(&b), "--alt", "second", "--part", "1"]);
    assert_eq!(e["images"].as_array().map(Vec::len), Some(1), "{e}");
    assert_eq!((e["images"][0]["part"].as_u64(), e["images"][0]["alt"].as_str()), (Some(1), Some("second")));
    assert_eq!(e["images"][0]["width"], 20);
    // A shorter thread would lose an image: refused until the images are given again.
    let e2 = home.json(&["draft", "edit", &id, "--image", p(&a), "--part", "2"]);
    assert_eq!(e2["images"][0]["part"], 2);
    let out = home.clout(&["draft", "edit", &id, "--no-thread"]);
    assert!(!out.status.success() && stderr(&out).contains("--no-image"), "{}", stderr(&out));
    let e3 = home.json(&["draft", "edit", &id, "--no-image"]);
    assert_eq!(e3["images"].as_array().map(Vec::len), Some(0), "{e3}");

    // --split keeps each image on the first of the parts its part is cut into.
    let long = ["A sentence that takes up a fair share of the room in a post."; 7].join(" ");
    let (s, _) = add(&home, &[&long, "--image", p(&a), "--thread", "last", "--image", p(&b), "--split"]);
    let n = 1 + s["thread"].as_array().map_or(0, Vec::len) as u64;
    assert!(n >= 3, "{s}");
    let parts: Vec<u64> =
        s["images"].as_array().expect("images").iter().map(|i| i["part"].as_u64().unwrap_or(0)).collect();
    assert_eq!(parts, [1, n], "{s}");
}

#[test]
fn export_and_import_carry_the_images() {
    let a = Home::new();
    let _da = a.start();
    let img = write(&a, "a.png", &png(33, 44, 500, 9));
    add(&a, &["with a picture", "--image", p(&img), "--alt", "A dog"]);
    let first = stdout(&a.clout(&["export", "--json", "-"]));
    let doc: Value = serde_json::from_str(&first).expect("export JSON");
    let x = &doc["drafts"][0]["images"][0];
    assert_eq!((x["part"].as_u64(), x["alt"].as_str()), (Some(1), Some("A dog")), "{x}");
    assert!(x["data"].as_str().is_some_and(|d| d.starts_with("iVBORw0KGgo")), "PNG bytes in base64: {x}");
    std::fs::remove_file(&img).expect("remove the original");

    let b = Home::new();
    let _db = b.start();
    let out = b.clout_stdin(&["import", "-"], first.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let d = b.json(&["draft", "show", "1"]);
    assert_eq!(d["images"][0]["alt"], "A dog");
    assert_eq!((d["images"][0]["width"].as_u64(), d["images"][0]["height"].as_u64()), (Some(33), Some(44)));
    let kept =
        b.dir.path().join("data").join("media").join(format!("{}.png", x["sha256"].as_str().unwrap_or("")));
    assert!(kept.exists(), "{kept:?}");
    assert_eq!(stdout(&b.clout(&["export", "--json", "-"])), first, "the round trip changed the export");

    // Bytes that are not an image are refused with the field, and nothing is imported.
    let mut bad = doc.clone();
    bad["drafts"][0]["images"][0]["data"] = Value::String("aGVsbG8=".into());
    let c = Home::new();
    let _dc = c.start();
    let out = c.clout_stdin(&["import", "-"], bad.to_string().as_bytes());
    let e = stderr(&out);
    assert!(
        !out.status.success() && e.contains("drafts[0].images[0].data") && e.contains("not a PNG"),
        "{e}"
    );
    assert_eq!(c.json(&["draft", "list"]).as_array().map(Vec::len), Some(0));
}

#[test]
fn in_manual_mode_the_nudge_names_the_images_to_attach() {
    let home = Home::new();
    let _d = home.start();
    let watch = home.watch(&[]);
    let img = write(&home, "a.png", &png(5, 5, 5, 4));
    let (d, _) = add(&home, &["post this by hand", "--image", p(&img), "--alt", "A tree", "--at", "in 1s"]);
    let sha = d["images"][0]["sha256"].as_str().expect("sha256").to_string();
    let n = watch.next_of_kind("post_due", WAIT);
    let m = n["message"].as_str().unwrap_or("");
    assert!(m.contains("With 1 image") && m.contains(&format!("{sha}.png (alt: A tree)")), "{m}");
}

#[test]
fn in_a_postgres_fleet_another_daemon_posts_the_image() {
    use clout_e2e::{daemon_command, spawn_daemon};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let Some(db) = rt.block_on(clout_e2e::pg::TestDb::create("images")) else { return };
    let fake = Fake::start();
    // Two daemons on one database, each with a media directory of its own.
    let start = |home: &Home| {
        let mut cmd = daemon_command(&home.socket(), &db.url);
        cmd.env("XDG_DATA_HOME", home.dir.path().join("xdg"));
        spawn_daemon(cmd, &home.socket(), &db.url).expect("cloutd on PostgreSQL")
    };
    let (a, b) = (Home::new(), Home::new());
    let da = start(&a);
    add_mastodon(&a, &fake);
    let img = write(&a, "a.png", &png(12, 34, 100, 5));
    let (d, _) =
        add(&a, &["from the fleet", "--image", p(&img), "--alt", "A boat", "--at", "in 2s", "-a", "masto"]);
    let id = d["id"].as_i64().expect("id");
    // The daemon that took the image stops; the other one publishes it.
    da.stop(Duration::from_secs(10)).expect("cloutd stopped");
    let _db = start(&b);
    wait_state(&b, id, "published", WAIT);
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    assert_eq!(statuses[0]["media_attachments"][0]["description"], "A boat");
    let sha = d["images"][0]["sha256"].as_str().expect("sha256");
    let copied = b.dir.path().join("xdg").join("clout").join("media").join(format!("{sha}.png"));
    assert!(copied.exists(), "{copied:?}");
}

/// The names of the copies in cloutd's media directory.
fn kept(home: &Home) -> Vec<String> {
    let dir = home.dir.path().join("data").join("media");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn copies_no_draft_names_are_removed_once_an_hour_old() {
    let home = Home::new();
    let d = home.start();
    let a = write(&home, "a.png", &png(10, 10, 10, 7));
    let b = write(&home, "b.png", &png(20, 20, 10, 8));
    let c = write(&home, "c.png", &png(30, 30, 10, 9));
    let (gone, _) = add(&home, &["Going", "--image", p(&a), "--alt", "a"]);
    let (stays, _) = add(&home, &["Staying", "--image", p(&b), "--alt", "b"]);
    let (edited, _) = add(&home, &["Edited", "--image", p(&c), "--alt", "c"]);
    let sha = |d: &Value| d["images"][0]["sha256"].as_str().map(str::to_string).expect("sha256");
    let (sa, sb, sc) = (sha(&gone), sha(&stays), sha(&edited));
    assert_eq!(kept(&home).len(), 3, "{:?}", kept(&home));
    home.json(&["draft", "rm", &gone["id"].to_string()]);
    home.json(&["draft", "edit", &edited["id"].to_string(), "--no-image"]);
    // Within the hour they stay: an image is kept before the draft that names it.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(kept(&home).len(), 3, "{:?}", kept(&home));
    d.stop(WAIT).expect("cloutd stopped");

    // Two hours later on cloutd's clock, its start sweeps them; the used one stays.
    let _d = home.start_with(&["--clock-offset", "2h"]).expect("cloutd did not start");
    let deadline = std::time::Instant::now() + WAIT;
    while kept(&home).len() > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let names = kept(&home);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with(&sb), "{names:?} lost {sb}");
    assert!(!names.iter().any(|n| n.starts_with(&sa) || n.starts_with(&sc)));
    let shown = home.json(&["draft", "show", &stays["id"].to_string()]);
    assert_eq!(shown["images"][0]["sha256"], sb.as_str());
}
