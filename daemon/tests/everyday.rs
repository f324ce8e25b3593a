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

on_every_backend!(an_edited_task_moves_its_next_occurrence_and_keeps_its_history);
async fn an_edited_task_moves_its_next_occurrence_and_keeps_its_history(s: &Store) {
    use clout_daemon::model::{TaskPatch, TaskWhen};
    utc_program(s, 0).await;
    let t = s.add_task(&daily("daily 10:00"), t0()).await.expect("task");
    let first = t0() + Duration::hours(1);
    fire_due_default(s, first, 100).await.expect("fire");
    s.resolve_task(t.id, "done", first).await.expect("done");
    // The text alone: the schedule stays.
    let patch = TaskPatch { text: Some("Reply to 5 posts".into()), ..Default::default() };
    let edited = s.update_task(t.id, &patch, first).await.expect("edit");
    assert_eq!(
        (edited.text.as_str(), edited.next_due_at),
        ("Reply to 5 posts", t.next_due_at.map(|n| n + Duration::days(1)))
    );
    // A new schedule moves the next occurrence; the done one stays done.
    let every = clout_daemon::recurrence::Schedule::parse("daily 18:00").expect("schedule");
    let patch =
        TaskPatch { when: Some(TaskWhen::Every(every)), about: Some("@alice".into()), ..Default::default() };
    let edited = s.update_task(t.id, &patch, first).await.expect("edit");
    assert_eq!(edited.every, "daily 18:00");
    assert_eq!(edited.about, "@alice");
    assert_eq!(edited.next_due_at, Some(first + Duration::hours(8)));
    assert_eq!(edited.done, 1);
    // Once, at a time: it stops recurring.
    let at = first + Duration::days(2);
    let patch =
        TaskPatch { when: Some(TaskWhen::Once(at)), about: Some(String::new()), ..Default::default() };
    let edited = s.update_task(t.id, &patch, first).await.expect("edit");
    assert_eq!((edited.every.as_str(), edited.once_at, edited.next_due_at), ("", Some(at), Some(at)));
    assert_eq!(edited.about, "");
    let fired = fire_due_default(s, at, 100).await.expect("fire");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(s.task(t.id).await.expect("task").next_due_at, None, "nothing is left after a one-off");
    // A removed task cannot be edited.
    s.remove_task(t.id, at).await.expect("rm");
    let patch = TaskPatch { text: Some("x".into()), ..Default::default() };
    assert!(matches!(s.update_task(t.id, &patch, at).await, Err(Error::FailedPrecondition(_))));
    assert!(matches!(s.update_task(999, &patch, at).await, Err(Error::NotFound { .. })));
}

on_every_backend!(stage_changes_and_follows_show_in_the_review_of_their_period);
async fn stage_changes_and_follows_show_in_the_review_of_their_period(s: &Store) {
    use clout_daemon::model::{Follow, Purpose};
    utc_program(s, 3).await;
    let follow = |handle: &str| Follow {
        id: 0,
        handle: handle.into(),
        platform: "mastodon".into(),
        why: "clear threads".into(),
        topic: String::new(),
        server: String::new(),
        created_at: t0(),
    };
    s.add_follow(&follow("@alice@mastodon.social"), t0()).await.expect("follow");
    let to_influence = ProgramPatch { purpose: Some(Purpose::Influence), ..Default::default() };
    let changed = t0() + Duration::days(10);
    s.set_program(&to_influence, changed).await.expect("stage");
    // Setting the same purpose again is no change.
    s.set_program(&to_influence, changed + Duration::days(1)).await.expect("same stage");
    s.add_follow(&follow("@bob@mastodon.social"), changed + Duration::days(2)).await.expect("follow");

    let later = s.review(changed - Duration::days(1), changed + Duration::days(7), 7).await.expect("review");
    assert_eq!(later.stage_changes.len(), 1, "{:?}", later.stage_changes);
    let c = &later.stage_changes[0];
    assert_eq!((c.from, c.to, c.at), (Purpose::Learn, Purpose::Influence, changed));
    assert_eq!(later.stage_since, Some(changed));
    let handles: Vec<&str> = later.follows_added.iter().map(|f| f.handle.as_str()).collect();
    assert_eq!(handles, ["@bob@mastodon.social"]);

    let first = s.review(t0(), t0() + Duration::days(7), 7).await.expect("review");
    assert!(first.stage_changes.is_empty(), "{:?}", first.stage_changes);
    assert_eq!(first.stage_since, Some(changed), "the present stage's start, whatever the period");
    let handles: Vec<&str> = first.follows_added.iter().map(|f| f.handle.as_str()).collect();
    assert_eq!(handles, ["@alice@mastodon.social"]);

    // And back: each change is kept.
    let back = ProgramPatch { purpose: Some(Purpose::Learn), ..Default::default() };
    s.set_program(&back, changed + Duration::days(3)).await.expect("back");
    let all = s.stage_changes().await.expect("changes");
    assert_eq!(all.iter().map(|c| c.to).collect::<Vec<_>>(), [Purpose::Influence, Purpose::Learn]);
}
