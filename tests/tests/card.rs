//! Link cards on Bluesky end to end: a post with a link gets an
//! `app.bsky.embed.external` card from the page's Open Graph tags, its image
//! uploaded with `uploadBlob` as the thumbnail; a page that fails or hangs
//! never holds the post up, and `--no-card` leaves the card out.

use std::time::{Duration, Instant};

use clout_e2e::Home;
use clout_e2e::fake::Fake;
use clout_e2e::social::{add_bluesky, add_draft, wait_state};

const WAIT: Duration = Duration::from_secs(30);

const PAGE: &str = r#"<!doctype html><html><head><title>Not this one</title>
<meta property="og:title" content="Shipping week &amp; more">
<meta property="og:description" content="What I learned, day by day.">
<meta property="og:image" content="/cover.png">
</head><body>Hello</body></html>"#;

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&[0u8; 64]);
    b
}

#[test]
fn a_link_gets_a_card_with_its_thumbnail_and_failures_never_block_the_post() {
    let fake = Fake::start();
    fake.serve("/article", "text/html; charset=utf-8", PAGE.as_bytes());
    fake.serve("/cover.png", "image/png", &png());
    fake.serve("/bare", "text/html", b"<html><body>no head at all</body></html>");
    let home = Home::new();
    let _d = home.start();
    add_bluesky(&home, &fake);
    let link = format!("{}/article", fake.url());

    let id = add_draft(&home, &[&format!("Read this: {link}"), "--at", "in 1s", "--account", "sky"]);
    wait_state(&home, id, "published", WAIT);
    let records = fake.records();
    let external = &records[0].1["embed"]["external"];
    assert_eq!(records[0].1["embed"]["$type"], "app.bsky.embed.external");
    assert_eq!(external["uri"], link.as_str());
    assert_eq!(external["title"], "Shipping week & more");
    assert_eq!(external["description"], "What I learned, day by day.");
    let blobs = fake.blobs();
    assert_eq!(blobs.len(), 1);
    assert_eq!((blobs[0].1.as_str(), blobs[0].2), ("image/png", png().len()));
    assert_eq!(external["thumb"]["ref"]["$link"], blobs[0].0.as_str());
    assert_eq!(external["thumb"]["mimeType"], "image/png");

    // --no-card: no card, and the page is not even read.
    let pages = fake.requests_to("/article").len();
    let id = add_draft(&home, &[&format!("Again: {link}"), "--at", "in 1s", "-a", "sky", "--no-card"]);
    assert_eq!(home.json(&["draft", "show", &id.to_string()])["no_card"], true);
    wait_state(&home, id, "published", WAIT);
    assert!(fake.records()[1].1.get("embed").is_none(), "{:?}", fake.records()[1]);
    assert_eq!(fake.requests_to("/article").len(), pages);

    // A missing page, a page without tags, and a page that never answers:
    // the post goes out without a card each time.
    let missing = format!("{}/gone", fake.url());
    let bare = format!("{}/bare", fake.url());
    fake.hold_next("/slow");
    let slow = format!("{}/slow", fake.url());
    for (n, url) in [missing, bare, slow].iter().enumerate() {
        let started = Instant::now();
        let id = add_draft(&home, &[&format!("Link {n}: {url}"), "--at", "in 1s", "-a", "sky"]);
        wait_state(&home, id, "published", WAIT);
        let record = &fake.records()[2 + n].1;
        assert!(record.get("embed").is_none(), "{record}");
        assert!(started.elapsed() < Duration::from_secs(20), "the card held the post up");
    }
    assert_eq!(fake.requests_to("/slow").len(), 1, "the page that hangs was asked once");
}
