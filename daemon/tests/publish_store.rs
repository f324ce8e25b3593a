//! Publications in the store, on SQLite and, where reachable, PostgreSQL:
//! a draft with accounts fires into pending publications, claims are leased
//! and fenced, and the draft's state follows its publications' outcomes.

use chrono::Duration;
use clout_daemon::Error;
use clout_daemon::model::{DraftState, Network, NewAccount, NewDraft};
use clout_daemon::store::Store;
use clout_daemon::store::publish::Outcome;

mod common;

use common::t0;

async fn account(s: &Store, name: &str, network: Network) {
    let a = NewAccount {
        name: name.into(),
        network,
        server: "https://example.social".into(),
        handle: "me.example.social".into(),
        secret_file: "/nonexistent/secret".into(),
        secret: None,
        from_config: false,
        appview: String::new(),
    };
    s.add_account(&a, t0()).await.expect("add account");
}

fn to(accounts: &[&str]) -> NewDraft {
    NewDraft {
        text: "hello fediverse".into(),
        at: Some(t0()),
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

const LEASE: Duration = Duration::seconds(30);

on_every_backend!(a_draft_with_accounts_is_published_not_nudged);
async fn a_draft_with_accounts_is_published_not_nudged(s: &Store) {
    account(s, "masto", Network::Mastodon).await;
    let d = s.add_draft(&to(&["masto"]), t0() - Duration::hours(1)).await.expect("add");
    assert_eq!(d.publications.len(), 1);
    assert_eq!(d.publications[0].state, "waiting");
    let key = d.publications[0].idem_key.clone();
    assert!(key.starts_with(&format!("clout-{}-", d.id)), "{key}");

    // Firing writes no post_due nudge: the publisher takes over.
    assert!(clout_daemon::fire::fire_due_default(s, t0(), 10).await.expect("fire").is_empty());
    assert_eq!(s.get_draft(d.id).await.expect("get").state, DraftState::Publishing);

    let claims = s.claim_publications("a", t0(), LEASE, 8).await.expect("claim");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].tries, 1);
    assert!(!claims[0].interrupted);
    assert_eq!(claims[0].publication.idem_key, key);
    // Held: nobody else gets it.
    assert!(s.claim_publications("b", t0(), LEASE, 8).await.expect("claim").is_empty());

    // A temporary error: pending again, due at the retry time, same key.
    let retry_at = t0() + Duration::seconds(10);
    let out = Outcome::Retry { at: retry_at, http_status: 503, message: "HTTP 503".into() };
    assert!(
        s.finish_publication(claims[0].publication.id, "a", &out, t0()).await.expect("finish").is_empty()
    );
    assert_eq!(
        s.next_claim_at(clout_daemon::store::Leased::Publications).await.expect("next"),
        Some(retry_at)
    );
    assert!(
        s.claim_publications("a", t0() + Duration::seconds(9), LEASE, 8).await.expect("claim").is_empty()
    );
    let claims = s.claim_publications("b", retry_at, LEASE, 8).await.expect("claim");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].tries, 2);
    assert_eq!(claims[0].publication.idem_key, key);

    let out = Outcome::Published { url: "https://example.social/@me/1".into(), remote_id: "1".into() };
    let nudges = s.finish_publication(claims[0].publication.id, "b", &out, retry_at).await.expect("finish");
    assert_eq!(nudges.len(), 1);
    assert_eq!(nudges[0].kind, "published");
    assert!(nudges[0].message.contains("https://example.social/@me/1"), "{}", nudges[0].message);

    let d = s.get_draft(d.id).await.expect("get");
    assert_eq!(d.state, DraftState::Published);
    assert_eq!(d.published_url, "https://example.social/@me/1");
    let p = &d.publications[0];
    assert_eq!((p.state.as_str(), p.attempts), ("published", 2));
    let outcomes: Vec<&str> = p.history.iter().map(|h| h.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "published"]);
    assert_eq!(p.history[0].http_status, 503);
    assert_eq!(s.next_claim_at(clout_daemon::store::Leased::Publications).await.expect("next"), None);
}

on_every_backend!(an_expired_claim_is_taken_over_and_the_old_owner_is_fenced);
async fn an_expired_claim_is_taken_over_and_the_old_owner_is_fenced(s: &Store) {
    account(s, "sky", Network::Bluesky).await;
    let d = s.add_draft(&to(&["sky"]), t0() - Duration::hours(1)).await.expect("add");
    let rkey = d.publications[0].idem_key.clone();
    assert!(clout_daemon::publish::text::is_tid(&rkey), "{rkey}");
    clout_daemon::fire::fire_due_default(s, t0(), 10).await.expect("fire");
    let first = s.claim_publications("dead", t0(), LEASE, 8).await.expect("claim");
    assert_eq!(first.len(), 1);

    let later = t0() + LEASE + Duration::seconds(1);
    let again = s.claim_publications("alive", later, LEASE, 8).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert!(again[0].interrupted);
    assert_eq!(again[0].interrupted_at, Some(t0()));
    assert_eq!(again[0].publication.idem_key, rkey, "a takeover keeps the key");

    // The dead owner's late answer changes nothing.
    let out = Outcome::Failed { http_status: 401, message: "nope".into() };
    assert!(
        s.finish_publication(first[0].publication.id, "dead", &out, later).await.expect("finish").is_empty()
    );
    assert_eq!(s.get_draft(d.id).await.expect("get").publications[0].state, "publishing");
    let out = Outcome::Published { url: "https://bsky.app/x".into(), remote_id: "at://x".into() };
    assert_eq!(
        s.finish_publication(again[0].publication.id, "alive", &out, later).await.expect("finish").len(),
        1
    );
    let d = s.get_draft(d.id).await.expect("get");
    assert_eq!(d.state, DraftState::Published);
    let outcomes: Vec<&str> = d.publications[0].history.iter().map(|h| h.outcome.as_str()).collect();
    assert_eq!(outcomes, ["interrupted", "published"]);
}

on_every_backend!(some_accounts_failing_leaves_a_partial_draft_that_can_be_retried);
async fn some_accounts_failing_leaves_a_partial_draft_that_can_be_retried(s: &Store) {
    account(s, "masto", Network::Mastodon).await;
    account(s, "sky", Network::Bluesky).await;
    let d = s.add_draft(&to(&["masto", "sky"]), t0() - Duration::hours(1)).await.expect("add");
    clout_daemon::fire::fire_due_default(s, t0(), 10).await.expect("fire");
    let claims = s.claim_publications("a", t0(), LEASE, 8).await.expect("claim");
    assert_eq!(claims.len(), 2);
    let ok = Outcome::Published { url: "https://example.social/@me/1".into(), remote_id: "1".into() };
    let bad = Outcome::Failed { http_status: 401, message: "token expired".into() };
    s.finish_publication(claims[0].publication.id, "a", &ok, t0()).await.expect("finish");
    assert_eq!(s.get_draft(d.id).await.expect("get").state, DraftState::Publishing);
    let nudges = s.finish_publication(claims[1].publication.id, "a", &bad, t0()).await.expect("finish");
    assert_eq!(nudges[0].kind, "publish_failed");
    assert!(nudges[0].message.contains("token expired"), "{}", nudges[0].message);
    let d2 = s.get_draft(d.id).await.expect("get");
    assert_eq!(d2.state, DraftState::Partial);
    assert!(d2.published_at.is_some(), "a partial draft counts as published in reviews");

    let d3 = s.retry_draft(d.id, t0()).await.expect("retry");
    assert_eq!(d3.state, DraftState::Publishing);
    let claims = s.claim_publications("a", t0(), LEASE, 8).await.expect("claim");
    assert_eq!(claims.len(), 1, "only the failed account is tried again");
    assert_eq!(claims[0].publication.account, "sky");
    assert_eq!(claims[0].tries, 1);
    assert!(matches!(s.retry_draft(d.id, t0()).await, Err(Error::FailedPrecondition(_))));
}

on_every_backend!(accounts_are_checked_by_name);
async fn accounts_are_checked_by_name(s: &Store) {
    let e = s.add_draft(&to(&["nobody"]), t0()).await.expect_err("unknown account");
    assert!(e.to_string().contains("clout account list"), "{e}");
    assert!(s.list_drafts(&[]).await.expect("list").is_empty(), "nothing half-added");

    account(s, "masto", Network::Mastodon).await;
    let e = s
        .add_account(
            &NewAccount {
                name: "masto".into(),
                network: Network::Mastodon,
                server: "https://x.y".into(),
                handle: String::new(),
                secret_file: "/x".into(),
                secret: None,
                from_config: false,
                appview: String::new(),
            },
            t0(),
        )
        .await
        .expect_err("duplicate");
    assert!(e.to_string().contains("already an account"), "{e}");

    let d = s.add_draft(&to(&["masto"]), t0() - Duration::hours(1)).await.expect("add");
    let e = s.remove_account("masto", false).await.expect_err("in use");
    assert!(e.to_string().contains(&format!("draft(s) {}", d.id)), "{e}");
    s.remove_account("masto", true).await.expect("force");
    let d = s.get_draft(d.id).await.expect("get");
    assert_eq!(d.publications[0].state, "failed");
    assert_eq!(d.publications[0].account_id, None);
    assert!(s.accounts().await.expect("list").is_empty());
}

on_every_backend!(images_and_their_uploads_are_kept_with_the_claim);
async fn images_and_their_uploads_are_kept_with_the_claim(s: &Store) {
    use clout_daemon::media::Image;
    use clout_daemon::model::publication::Upload;
    account(s, "sky", Network::Bluesky).await;
    let image = Image {
        part: 0,
        sha256: "ab".repeat(32),
        mime: "image/png".into(),
        bytes: 1234,
        width: 640,
        height: 480,
        alt: "A chart".into(),
    };
    let new = NewDraft { images: vec![image.clone()], ..to(&["sky"]) };
    let d = s.add_draft(&new, t0() - Duration::hours(1)).await.expect("add");
    assert_eq!(s.get_draft(d.id).await.expect("get").images, vec![image.clone()]);
    clout_daemon::fire::fire_due_default(s, t0(), 10).await.expect("fire");
    let claims = s.claim_publications("a", t0(), LEASE, 8).await.expect("claim");
    assert_eq!(claims[0].images, vec![image.clone()]);
    assert!(claims[0].uploads.is_empty());
    let p = claims[0].publication.id;

    // An upload is kept at once; a second one at the same place replaces it.
    let u =
        Upload { position: 0, idx: 0, sha256: image.sha256.clone(), remote: r#"{"$type":"blob"}"#.into() };
    s.record_upload(p, &u, t0()).await.expect("record");
    let again = Upload { remote: r#"{"$type":"blob","size":1}"#.into(), ..u.clone() };
    s.record_upload(p, &again, t0()).await.expect("record again");
    assert_eq!(s.uploads(p).await.expect("uploads"), vec![again.clone()]);

    // The next claim (after the lease ran out) carries it, for this image only.
    let later = t0() + LEASE + Duration::seconds(1);
    let claims = s.claim_publications("b", later, LEASE, 8).await.expect("claim again");
    assert_eq!(claims[0].uploads, vec![again.clone()]);
    assert_eq!(claims[0].upload(0, 0, &image.sha256), Some(again.remote.as_str()));
    assert_eq!(claims[0].upload(0, 0, &"cd".repeat(32)), None, "another image is uploaded anew");
    s.forget_upload(p, 0, 0).await.expect("forget");
    assert!(s.uploads(p).await.expect("uploads").is_empty());
}

on_every_backend!(a_fleet_shares_image_bytes_through_postgres_only);
async fn a_fleet_shares_image_bytes_through_postgres_only(s: &Store) {
    let sha = "ef".repeat(32);
    s.share_media(&sha, "image/png", b"\x89PNG bytes", t0()).await.expect("share");
    s.share_media(&sha, "image/png", b"\x89PNG bytes", t0()).await.expect("share twice");
    let got = s.shared_media(&sha).await.expect("read");
    if s.is_postgres() {
        assert_eq!(got, Some(("image/png".to_string(), b"\x89PNG bytes".to_vec())));
    } else {
        assert_eq!(got, None, "one daemon on SQLite keeps images in its media directory only");
    }
    assert_eq!(s.shared_media(&"00".repeat(32)).await.expect("read"), None);
}
