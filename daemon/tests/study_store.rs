//! Study in the store, on SQLite and (where reachable) PostgreSQL: a `study`
//! row fires into the fetch queue without network work, a claim is leased
//! and finished, a study task's nudge carries the digest, and `stage_ready`
//! is written once when the evidence (given results of your own posts) is there.

mod common;

use chrono::{Duration, Utc};
use clout_daemon::model::study::{Fetched, FetchedPost, OwnResult};
use clout_daemon::model::{Follow, Network, NewAccount, NewTask, ProgramPatch};
use clout_daemon::store::Store;
use clout_daemon::store::study::FetchOutcome;
use clout_daemon::study::results::Given;
use clout_daemon::study::stage;
use common::t0;

fn post(i: i64, at: chrono::DateTime<Utc>, likes: i64) -> FetchedPost {
    FetchedPost {
        remote_id: format!("s{i}"),
        url: format!("https://example.social/@bob/{i}"),
        posted_at: at,
        excerpt: format!("Post {i}"),
        likes,
        ..FetchedPost::default()
    }
}

async fn follow_bob(s: &Store, at: chrono::DateTime<Utc>) -> i64 {
    let f = Follow {
        id: 0,
        handle: "@bob@example.social".into(),
        platform: "mastodon".into(),
        why: String::new(),
        topic: String::new(),
        server: String::new(),
        created_at: at,
    };
    let f = s.add_follow(&f, at).await.expect("follow");
    assert_eq!(s.enroll_study(at).await.expect("enroll"), 1);
    assert_eq!(s.enroll_study(at).await.expect("enroll again"), 0, "enrolled twice");
    f.id
}

/// Fires the study row and fetches bob with `posts`, as the study task does.
async fn fetch(s: &Store, id: i64, now: chrono::DateTime<Utc>, posts: Vec<FetchedPost>) {
    clout_daemon::fire::fire_due_default(s, now, 100).await.expect("fire");
    let claims = s.claim_study("me", now, Duration::seconds(120), 4).await.expect("claim");
    assert_eq!(claims.iter().map(|c| c.follow_id).collect::<Vec<_>>(), vec![id]);
    assert!(
        s.claim_study("other", now, Duration::seconds(120), 4).await.expect("claim").is_empty(),
        "claimed twice"
    );
    let f = Fetched { remote_id: "7".into(), display_name: "Bob".into(), followers: Some(1000), posts };
    assert!(!s.finish_study(id, "other", &FetchOutcome::Fetched(f.clone()), now).await.expect("fence"));
    assert!(s.finish_study(id, "me", &FetchOutcome::Fetched(f), now).await.expect("finish"));
}

on_every_backend!(a_study_row_queues_a_fetch_and_tasks_get_the_digest);
async fn a_study_row_queues_a_fetch_and_tasks_get_the_digest(s: &Store) {
    let id = follow_bob(s, t0()).await;
    let now = t0();
    fetch(s, id, now, vec![post(1, now - Duration::hours(3), 4), post(2, now - Duration::hours(1), 40)])
        .await;
    let people = s.studied_people(None).await.expect("people");
    assert_eq!(people[0].followers, Some(1000));
    assert_eq!(people[0].state, "idle");
    // The row moved on a day.
    assert_eq!(s.next_fetch_of(id).await.expect("next"), Some(now + Duration::days(1)));
    assert_eq!(s.study_posts(id, now - Duration::days(1)).await.expect("posts").len(), 2);

    let task = NewTask {
        text: "Study Bob".into(),
        every: None,
        once_at: Some(now + Duration::minutes(1)),
        tz: chrono_tz::UTC,
        about: "@bob@example.social".into(),
        if_missed: None,
    };
    s.add_task(&task, now).await.expect("task");
    let fired = clout_daemon::fire::fire_due_default(s, now + Duration::minutes(1), 100).await.expect("fire");
    let m = &fired.iter().find(|n| n.kind == "task_due").expect("task nudge").message;
    assert!(
        m.contains("New from @bob@example.social: 2 posts: \u{201c}Post 2\u{201d} (40 engagements) https://example.social/@bob/2; \u{201c}Post 1\u{201d}"),
        "{m}"
    );

    // Looked at: the next changes start from here.
    s.mark_looked(id, now).await.expect("look");
    let posts = s.study_posts(id, now - Duration::days(1)).await.expect("posts");
    assert!(posts.iter().all(|p| p.looked_total == Some(p.engagement())));

    // A failure is kept and retried at its time; removing the follow removes its row.
    s.refresh_study(Some(id), now).await.expect("refresh");
    let claims = s.claim_study("me", now, Duration::seconds(120), 4).await.expect("claim");
    assert_eq!(claims.len(), 1);
    let retry = FetchOutcome::Retry { at: now + Duration::minutes(5), message: "HTTP 503".into() };
    s.finish_study(id, "me", &retry, now).await.expect("finish");
    assert_eq!(s.next_fetch_of(id).await.expect("next"), Some(now + Duration::minutes(5)));
    assert_eq!(s.studied_people(Some(id)).await.expect("person")[0].last_error, "HTTP 503");
    s.remove_follow(id).await.expect("rm");
    assert!(s.studied_people(None).await.expect("people").is_empty());
    assert_eq!(s.next_fetch_of(id).await.expect("next"), None);
}

on_every_backend!(stage_ready_is_written_once_when_the_evidence_is_there);
async fn stage_ready_is_written_once_when_the_evidence_is_there(s: &Store) {
    s.set_program(
        &ProgramPatch { tz: Some(chrono_tz::UTC), ..Default::default() },
        t0() - Duration::days(40),
    )
    .await
    .expect("program");
    let now = t0();
    let id = follow_bob(s, now - Duration::days(40)).await;
    // Bob: 30 engagements a post on 1000 followers = 30 per 1,000.
    fetch(
        s,
        id,
        now - Duration::days(40),
        (0..6).map(|i| post(i, now - Duration::days(i + 2), 30)).collect(),
    )
    .await;
    // Your results: 6 posts, 5 engagements each, on 200 followers = 25 per 1,000.
    let mine: Vec<OwnResult> = (0..6)
        .map(|i| OwnResult {
            published_at: now - Duration::days(i + 1),
            network: "mastodon".into(),
            likes: 5,
            reposts: 0,
            replies: 0,
            quotes: 0,
            is_thread: false,
        })
        .collect();
    let given = Given(mine);
    let account = NewAccount {
        name: "masto".into(),
        network: Network::Mastodon,
        server: "https://example.social".into(),
        handle: "me@example.social".into(),
        secret_file: "/nonexistent/secret".into(),
        secret: None,
        from_config: false,
        appview: String::new(),
    };
    let a = s.add_account(&account, now).await.expect("account");
    s.set_own_followers(a.id, 200, now).await.expect("followers");

    // Not yet: no study tasks done.
    let e = stage::evidence(s, &given, now).await.expect("evidence");
    assert!(!e.ready);
    assert_eq!(e.ratio.map(|r| (r * 100.0).round()), Some(83.0));
    assert!(e.missing[0].contains("0 of 4 weeks"), "{:?}", e.missing);
    assert!(stage::check(s, &given, now).await.expect("check").is_none());

    // A weekly study task done four weeks running.
    let weekly = NewTask {
        text: "Study Bob".into(),
        every: Some(clout_daemon::recurrence::Schedule::parse("mon 10:00").expect("schedule")),
        once_at: None,
        tz: chrono_tz::UTC,
        about: "@bob@example.social".into(),
        if_missed: None,
    };
    // t0 is a Monday 09:00: the occurrences are the Mondays 10:00 of the last four weeks.
    let start = now - Duration::days(28);
    let t = s.add_task(&weekly, start).await.expect("task");
    for w in 0..4 {
        let at = start + Duration::days(7 * w) + Duration::hours(1);
        clout_daemon::fire::fire_due_default(s, at, 100).await.expect("fire");
        s.resolve_task(t.id, "done", at + Duration::minutes(5)).await.expect("done");
    }
    let e = stage::evidence(s, &given, now).await.expect("evidence");
    assert_eq!(e.study_weeks, 4);
    assert!(e.consistency >= 60, "{e:?}");
    assert!(e.ready, "{:?}", e.missing);
    let n = stage::check(s, &given, now).await.expect("check").expect("the nudge");
    assert_eq!(n.kind, "stage_ready");
    assert!(n.message.contains("clout program set --purpose influence"), "{}", n.message);
    assert!(stage::check(s, &given, now + Duration::days(1)).await.expect("check").is_none(), "nudged twice");

    // Influencing already: no longer a learner, nothing to suggest.
    s.set_program(
        &ProgramPatch { purpose: Some(clout_daemon::model::Purpose::Influence), ..Default::default() },
        now,
    )
    .await
    .expect("program");
    assert!(!stage::evidence(s, &given, now).await.expect("evidence").ready);
}
