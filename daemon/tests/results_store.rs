//! Results of your own posts in the store, on SQLite and, where reachable,
//! PostgreSQL: a confirmed publication (or a post recorded with its URL) is
//! followed; each snapshot time is a row of the due-index that only queues
//! the post; the fetcher's claims are leased; snapshots, failures with
//! backoff and deleted posts are recorded.

use chrono::Duration;
use clout_daemon::fire::fire_due_default;
use clout_daemon::model::results::{Counts, ResultState};
use clout_daemon::model::{DraftState, Network, NewAccount, NewDraft};
use clout_daemon::store::Store;
use clout_daemon::store::publish::Outcome;
use clout_daemon::store::results::{Fetched, retry_delay_ms};

mod common;

use common::t0;

const LEASE: Duration = Duration::seconds(60);

async fn masto(s: &Store) {
    let a = NewAccount {
        name: "masto".into(),
        network: Network::Mastodon,
        server: "https://example.social".into(),
        handle: "me".into(),
        secret_file: "/nonexistent/secret".into(),
        secret: None,
        from_config: false,
        appview: String::new(),
    };
    s.add_account(&a, t0()).await.expect("add account");
}

/// Publishes a draft to `masto` at t0 and answers its id.
async fn published(s: &Store, tags: &[&str], thread: bool) -> i64 {
    let d = NewDraft {
        text: "hello fediverse".into(),
        at: Some(t0()),
        accounts: vec!["masto".into()],
        tags: tags.iter().map(|t| t.to_string()).collect(),
        thread: if thread { vec!["and more".into()] } else { Vec::new() },
        ..Default::default()
    };
    let d = s.add_draft(&d, t0() - Duration::hours(1)).await.expect("add");
    fire_due_default(s, t0(), 10).await.expect("fire");
    let claims = s.claim_publications("a", t0(), Duration::seconds(30), 8).await.expect("claim");
    let out = Outcome::Published {
        url: format!("https://example.social/@me/{}", 100 + d.id),
        remote_id: format!("{}", 100 + d.id),
    };
    s.finish_publication(claims[0].publication.id, "a", &out, t0()).await.expect("finish");
    d.id
}

fn counts(likes: i64, reposts: i64, replies: i64) -> Fetched {
    Fetched::Counts(Counts { likes, reposts, replies, quotes: None })
}

on_every_backend!(a_published_post_gets_snapshots_on_the_schedule);
async fn a_published_post_gets_snapshots_on_the_schedule(s: &Store) {
    masto(s).await;
    let draft = published(s, &["rust"], true).await;
    let r = s.post_results(t0() - Duration::days(1)).await.expect("results");
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].draft_id, r[0].network, r[0].thread), (draft, Network::Mastodon, true));
    assert_eq!(r[0].tags, ["rust"]);
    assert_eq!(r[0].published_at, t0());
    assert_eq!(r[0].latest, None);
    assert_eq!(r[0].next_fetch_at, Some(t0() + Duration::hours(1)));

    // Not before its time, and firing it does no fetch: it only queues the post.
    assert!(s.claim_results("a", t0(), LEASE, 10).await.expect("claim").is_empty());
    let t1 = t0() + Duration::hours(1);
    assert!(fire_due_default(s, t1, 10).await.expect("fire").is_empty());
    let claims = s.claim_results("a", t1, LEASE, 10).await.expect("claim");
    assert_eq!(claims.len(), 1);
    assert_eq!((claims[0].server.as_str(), claims[0].remote_id.as_str()), ("https://example.social", "101"));
    // Held: nobody else gets it while the lease lasts.
    assert!(s.claim_results("b", t1, LEASE, 10).await.expect("claim").is_empty());
    assert!(!s.finish_result(claims[0].id, "b", &counts(9, 9, 9), t1).await.expect("fenced"));
    assert!(s.finish_result(claims[0].id, "a", &counts(3, 1, 0), t1).await.expect("finish"));

    let r = &s.post_results(t0()).await.expect("results")[0];
    assert_eq!(r.counts(), Counts { likes: 3, reposts: 1, replies: 0, quotes: None });
    assert_eq!(r.change(), None);
    assert_eq!(r.next_fetch_at, Some(t0() + Duration::hours(24)));

    let t24 = t0() + Duration::hours(24);
    fire_due_default(s, t24, 10).await.expect("fire");
    let claims = s.claim_results("a", t24, LEASE, 10).await.expect("claim");
    s.finish_result(claims[0].id, "a", &counts(10, 2, 4), t24).await.expect("finish");
    let r = &s.post_results(t0()).await.expect("results")[0];
    assert_eq!(r.change(), Some(12));
    assert_eq!(r.snapshots, 2);
    assert_eq!(r.next_fetch_at, Some(t0() + Duration::days(7)));

    // Down for a month: the passed snapshot times are not fetched one by one.
    let late = t0() + Duration::days(40);
    fire_due_default(s, late, 10).await.expect("fire");
    let claims = s.claim_results("a", late, LEASE, 10).await.expect("claim");
    s.finish_result(claims[0].id, "a", &counts(11, 2, 4), late).await.expect("finish");
    let r = &s.post_results(t0()).await.expect("results")[0];
    assert_eq!((r.state, r.next_fetch_at, r.snapshots), (ResultState::Done, None, 3));
    assert_eq!(s.result_snapshots(r.id).await.expect("snapshots").len(), 3);

    // A refresh fetches a finished post once more and leaves it finished.
    assert_eq!(s.refresh_results().await.expect("refresh"), 1);
    let claims = s.claim_results("a", late, LEASE, 10).await.expect("claim");
    s.finish_result(claims[0].id, "a", &counts(12, 2, 4), late + Duration::seconds(1)).await.expect("finish");
    let r = &s.post_results(t0()).await.expect("results")[0];
    assert_eq!((r.state, r.snapshots, r.change()), (ResultState::Done, 4, Some(1)));
}

on_every_backend!(failures_back_off_and_a_deleted_post_is_no_longer_fetched);
async fn failures_back_off_and_a_deleted_post_is_no_longer_fetched(s: &Store) {
    masto(s).await;
    published(s, &[], false).await;
    let t1 = t0() + Duration::hours(1);
    fire_due_default(s, t1, 10).await.expect("fire");
    let claims = s.claim_results("a", t1, LEASE, 10).await.expect("claim");
    let failed = Fetched::Failed { message: "cannot reach https://example.social".into(), retry_at: None };
    s.finish_result(claims[0].id, "a", &failed, t1).await.expect("finish");
    let r = &s.post_results(t0()).await.expect("results")[0];
    assert!(r.last_error.contains("cannot reach"), "{}", r.last_error);
    assert_eq!(r.next_fetch_at, Some(t1 + Duration::milliseconds(retry_delay_ms(1))));
    assert_eq!(r.state, ResultState::Tracking);

    // The server's own hint wins over the backoff.
    let t2 = t1 + Duration::milliseconds(retry_delay_ms(1));
    fire_due_default(s, t2, 10).await.expect("fire");
    let claims = s.claim_results("a", t2, LEASE, 10).await.expect("claim");
    let hinted = t2 + Duration::minutes(15);
    let limited = Fetched::Failed { message: "HTTP 429".into(), retry_at: Some(hinted) };
    s.finish_result(claims[0].id, "a", &limited, t2).await.expect("finish");
    assert_eq!(s.post_results(t0()).await.expect("results")[0].next_fetch_at, Some(hinted));

    fire_due_default(s, hinted, 10).await.expect("fire");
    let claims = s.claim_results("a", hinted, LEASE, 10).await.expect("claim");
    s.finish_result(claims[0].id, "a", &Fetched::Deleted, hinted).await.expect("finish");
    let r = &s.post_results(t0()).await.expect("results")[0];
    assert_eq!((r.state, r.next_fetch_at), (ResultState::Deleted, None));
    assert!(r.last_error.contains("deleted"), "{}", r.last_error);
    assert_eq!(s.refresh_results().await.expect("refresh"), 0, "a deleted post is not fetched again");
}

on_every_backend!(a_post_recorded_with_its_address_is_followed);
async fn a_post_recorded_with_its_address_is_followed(s: &Store) {
    masto(s).await;
    let add = |text: &str| NewDraft { text: text.into(), ..Default::default() };
    let a = s.add_draft(&add("on mastodon"), t0()).await.expect("add");
    let b = s.add_draft(&add("on bluesky"), t0()).await.expect("add");
    let c = s.add_draft(&add("on a blog"), t0()).await.expect("add");
    s.finish_draft(a.id, DraftState::Published, "https://example.social/@me/777", t0()).await.expect("a");
    s.finish_draft(b.id, DraftState::Published, "https://bsky.app/profile/me.bsky.social/post/3kxyz", t0())
        .await
        .expect("b");
    s.finish_draft(c.id, DraftState::Published, "https://blog.example/post", t0()).await.expect("c");
    let r = s.post_results(t0()).await.expect("results");
    let got: Vec<(i64, Network, &str)> =
        r.iter().map(|p| (p.draft_id, p.network, p.account.as_str())).collect();
    assert_eq!(got, [(a.id, Network::Mastodon, "masto"), (b.id, Network::Bluesky, "")]);
    let claims = s.claim_results("a", t0() + Duration::hours(1), LEASE, 10).await.expect("claim");
    assert!(claims.is_empty(), "nothing before its first snapshot time");
    fire_due_default(s, t0() + Duration::hours(1), 10).await.expect("fire");
    let claims = s.claim_results("a", t0() + Duration::hours(1), LEASE, 10).await.expect("claim");
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[1].remote_id, "at://me.bsky.social/app.bsky.feed.post/3kxyz");
    // Removing the draft removes its results and their schedule rows.
    s.delete_draft(a.id).await.expect("rm");
    assert_eq!(s.post_results(t0()).await.expect("results").len(), 1);
}
