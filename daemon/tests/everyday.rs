//! What a person trips over in the first weeks: removed tasks, early done,
//! piles of nudges, snoozes of things that are gone, the daily cap. Run
//! against SQLite and, where reachable, PostgreSQL.

use chrono::{Duration, Utc};
use clout_daemon::Error;
use clout_daemon::fire::{fire_due_default, fire_due_with_policy};
use clout_daemon::model::{DraftState, NewDraft, NewTask, ProgramPatch};
use clout_daemon::rules::Policy;
use clout_daemon::store::Store;

mod common;

use common::t0;

fn daily(spec: &str) -> NewTask {
    NewTask {
        text: "Reply to 3 posts".into(),
        every: Some(clout_daemon::recurrence::Schedule::parse(spec).expect("schedule")),
        once_at: None,
        tz: chrono_tz::UTC,
        about: String::new(),
        if_missed: None,
    }
}

fn post(text: &str, at: chrono::DateTime<Utc>) -> NewDraft {
    NewDraft { text: text.into(), at: Some(at), ..Default::default() }
}

async fn utc_program(s: &Store, posts_per_week: u32) {
    let patch =
        ProgramPatch { tz: Some(chrono_tz::UTC), posts_per_week: Some(posts_per_week), ..Default::default() };
    s.set_program(&patch, t0()).await.expect("program");
}

on_every_backend!(a_removed_task_leaves_the_overdue_list_and_says_so);
async fn a_removed_task_leaves_the_overdue_list_and_says_so(s: &Store) {
    utc_program(s, 0).await;
    let t = s.add_task(&daily("daily 10:00"), t0()).await.expect("task");
    let first = t0() + Duration::hours(1);
    fire_due_default(s, first, 100).await.expect("fire");
    let review = s.review(t0(), first + Duration::hours(1), 7).await.expect("review");
    assert_eq!(review.overdue.len(), 1, "the occurrence waits");
    s.remove_task(t.id, first + Duration::minutes(5)).await.expect("remove");
    let review = s.review(t0(), first + Duration::hours(1), 7).await.expect("review");
    assert!(review.overdue.is_empty(), "{:?}", review.overdue);
    match s.resolve_task(t.id, "done", first + Duration::minutes(6)).await {
        Err(Error::FailedPrecondition(m)) => assert!(m.contains("was removed on"), "{m}"),
        other => panic!("expected a precondition error, got {other:?}"),
    }
}

on_every_backend!(a_task_can_be_done_early_for_its_next_occurrence);
async fn a_task_can_be_done_early_for_its_next_occurrence(s: &Store) {
    utc_program(s, 0).await;
    let t = s.add_task(&daily("daily 10:00"), t0()).await.expect("task");
    let first = t0() + Duration::hours(1);
    match s.resolve_task(t.id, "done", t0()).await {
        Err(Error::FailedPrecondition(m)) => assert!(m.contains("--next"), "{m}"),
        other => panic!("expected a precondition error, got {other:?}"),
    }
    let (task, occurrence) = s.resolve_next(t.id, "done", t0()).await.expect("early");
    assert_eq!(occurrence, first);
    assert_eq!((task.done, task.next_due_at), (1, Some(first + Duration::days(1))));
    // The occurrence done early does not fire.
    assert!(fire_due_default(s, first + Duration::hours(1), 100).await.expect("fire").is_empty());
    // Once one waits, it is resolved first.
    fire_due_default(s, first + Duration::days(1), 100).await.expect("fire");
    assert!(matches!(s.resolve_next(t.id, "done", t0()).await, Err(Error::FailedPrecondition(_))));
}

on_every_backend!(next_due_leaves_rule_checks_out);
async fn next_due_leaves_rule_checks_out(s: &Store) {
    utc_program(s, 0).await;
    s.sync_checks(&Policy::default(), t0()).await.expect("checks");
    assert!(s.next_due().await.expect("next").is_some(), "the scheduler sees the checks");
    assert_eq!(s.next_pending().await.expect("pending"), None);
    let d = s.add_draft(&post("later", t0() + Duration::days(3)), t0()).await.expect("add");
    assert_eq!(
        s.next_pending().await.expect("pending"),
        Some((t0() + Duration::days(3), "post".into(), d.id))
    );
    s.set_paused(true, t0()).await.expect("pause");
    assert!(s.next_pending().await.expect("pending").is_some(), "shown while paused too");
}

on_every_backend!(several_nudges_are_acknowledged_at_once);
async fn several_nudges_are_acknowledged_at_once(s: &Store) {
    utc_program(s, 0).await;
    let now = t0();
    for i in 0..4 {
        s.add_draft(&post(&format!("p{i}"), now), now).await.expect("add");
    }
    s.add_task(
        &NewTask { once_at: Some(now), every: None, ..daily("daily 10:00") },
        now - Duration::hours(1),
    )
    .await
    .expect("task");
    let fired = fire_due_default(s, now, 100).await.expect("fire");
    assert_eq!(fired.len(), 5);
    let ids: Vec<i64> = fired.iter().map(|n| n.id).collect();
    assert!(matches!(s.ack_many(&[ids[0], 999], &[], now).await, Err(Error::NotFound { .. })));
    assert_eq!(s.unread_nudges(10).await.expect("unread").len(), 5, "an unknown id changes nothing");
    assert_eq!(s.ack_many(&ids[..2], &[], now).await.expect("ack"), ids[..2].to_vec());
    assert_eq!(s.ack_many(&[], &["task_due".into()], now).await.expect("ack").len(), 1);
    assert_eq!(s.ack_many(&[], &[], now).await.expect("ack").len(), 2, "the rest");
    assert!(s.unread_nudges(10).await.expect("unread").is_empty());
}

on_every_backend!(recording_a_post_acknowledges_its_nudges);
async fn recording_a_post_acknowledges_its_nudges(s: &Store) {
    let now = t0();
    let d = s.add_draft(&post("done by hand", now), now).await.expect("add");
    fire_due_default(s, now, 100).await.expect("fire");
    assert_eq!(s.unread_nudges(10).await.expect("unread").len(), 1);
    s.finish_draft(d.id, DraftState::Published, "https://x.test/1", now).await.expect("posted");
    assert!(s.unread_nudges(10).await.expect("unread").is_empty(), "post_due and published are seen");
    assert_eq!(s.recent_nudges(10).await.expect("log").len(), 2);
}

on_every_backend!(snoozes_of_deleted_things_do_not_come_back);
async fn snoozes_of_deleted_things_do_not_come_back(s: &Store) {
    utc_program(s, 0).await;
    let now = t0();
    let d = s.add_draft(&post("gone", now), now).await.expect("add");
    let t = s.add_task(&daily("daily 09:00"), now - Duration::hours(1)).await.expect("task");
    let fired = fire_due_default(s, now, 100).await.expect("fire");
    assert_eq!(fired.len(), 2);
    let until = now + Duration::hours(1);
    for n in &fired {
        s.snooze_nudge(n.id, until, now).await.expect("snooze");
    }
    s.delete_draft(d.id).await.expect("delete");
    s.remove_task(t.id, now).await.expect("remove");
    assert!(fire_due_default(s, until, 100).await.expect("fire").is_empty());
}

on_every_backend!(the_daily_cap_lets_goal_nudges_through_first);
async fn the_daily_cap_lets_goal_nudges_through_first(s: &Store) {
    utc_program(s, 2).await;
    // Last week met the goal, so Saturday's streak check has something to say.
    for i in 0..2 {
        let d =
            s.add_draft(&NewDraft { text: format!("w{i}"), ..Default::default() }, t0()).await.expect("add");
        s.finish_draft(d.id, DraftState::Published, "", t0() - Duration::days(6)).await.expect("publish");
    }
    s.add_draft(&post("keeps the queue wet", t0() + Duration::days(30)), t0()).await.expect("add");
    let sat = t0() + Duration::days(5) + Duration::hours(1); // Saturday 10:00
    // A lesson resurfaces on Saturday morning and takes the day's one capped nudge.
    s.add_setback("x", &[], None, None, Some("a lesson"), sat - Duration::days(1) - Duration::hours(1))
        .await
        .expect("setback");
    let mut p = Policy { daily_cap: 1, ..Policy::default() };
    p.rules.queue_dry.enabled = false;
    s.sync_checks(&p, sat - Duration::hours(2)).await.expect("checks");
    let fired = fire_due_with_policy(s, sat, 100, &p).await.expect("fire");
    let kinds: Vec<&str> = fired.iter().map(|n| n.kind.as_str()).collect();
    assert!(kinds.contains(&"lesson") && kinds.contains(&"streak_at_risk"), "{kinds:?}");
}

on_every_backend!(a_new_program_is_reviewed_from_its_start);
async fn a_new_program_is_reviewed_from_its_start(s: &Store) {
    utc_program(s, 3).await;
    let until = t0() + Duration::days(2);
    // Empty: the window is the one asked for.
    assert_eq!(
        s.review(until - Duration::days(7), until, 7).await.expect("review").since,
        until - Duration::days(7)
    );
    s.add_draft(&NewDraft { text: "first".into(), ..Default::default() }, t0()).await.expect("add");
    let r = s.review(until - Duration::days(7), until, 7).await.expect("review");
    assert_eq!(r.since, t0(), "not scored against days before the program existed");
    assert_eq!(
        s.review(t0() + Duration::days(1), until, 7).await.expect("review").since,
        t0() + Duration::days(1)
    );
}
