//! The store's behaviour, run against SQLite and, where reachable, PostgreSQL.
//!
//! PostgreSQL: CLOUT_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test.
//! Without a reachable server these tests print why and skip, unless CI=true.

use chrono::{DateTime, Duration, TimeZone, Utc};
use clout_daemon::Error;
use clout_daemon::model::{DraftPatch, DraftState, NewDraft};
use clout_daemon::store::Store;

mod common;

use common::t0;

fn new(text: &str, at: Option<DateTime<Utc>>) -> NewDraft {
    NewDraft { text: text.into(), at, tags: vec!["t".into()], ..Default::default() }
}

on_every_backend!(fires_at_its_time_exactly_once);
async fn fires_at_its_time_exactly_once(s: &Store) {
    let at = t0() + Duration::hours(1);
    let d = s.add_draft(&new("hello", Some(at)), t0()).await.expect("add");
    assert_eq!(d.state, DraftState::Scheduled);
    assert_eq!(s.next_due().await.expect("next"), Some(at));
    assert!(
        clout_daemon::fire::fire_due_default(s, at - Duration::milliseconds(1), 100)
            .await
            .expect("fire")
            .is_empty()
    );
    let fired = clout_daemon::fire::fire_due_default(s, at, 100).await.expect("fire");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].draft_id, Some(d.id));
    assert_eq!(fired[0].due_at, at);
    assert!(!fired[0].late);
    assert!(
        clout_daemon::fire::fire_due_default(s, at + Duration::hours(1), 100).await.expect("fire").is_empty()
    );
    assert_eq!(s.next_due().await.expect("next"), None);
    let d = s.get_draft(d.id).await.expect("get");
    assert_eq!(d.state, DraftState::Due);
    assert_eq!(d.fired_at, Some(at));
    assert_eq!(s.nudges_after(0, 10).await.expect("log").len(), 1);
}

on_every_backend!(items_due_while_down_fire_late);
async fn items_due_while_down_fire_late(s: &Store) {
    let at = t0();
    let d = s.add_draft(&new("while you were away", Some(at)), t0() - Duration::hours(1)).await.expect("add");
    let fired = clout_daemon::fire::fire_due_default(s, at + Duration::hours(3), 100).await.expect("fire");
    assert_eq!(fired.len(), 1);
    assert!(fired[0].late);
    assert!(fired[0].message.contains("late"), "{}", fired[0].message);
    assert!(s.get_draft(d.id).await.expect("get").late);
}

on_every_backend!(a_burst_fires_in_batches_in_order);
async fn a_burst_fires_in_batches_in_order(s: &Store) {
    let at = t0();
    for i in 0..1200 {
        s.add_draft(&new(&format!("post {i}"), Some(at)), at - Duration::hours(1)).await.expect("add");
    }
    let mut total = 0;
    loop {
        let fired = clout_daemon::fire::fire_due_default(s, at, 500).await.expect("fire");
        if fired.is_empty() {
            break;
        }
        total += fired.len();
    }
    assert_eq!(total, 1200);
    let log = s.nudges_after(0, 5000).await.expect("log");
    assert_eq!(log.len(), 1200);
    assert!(log.windows(2).all(|w| w[0].id < w[1].id));
    let mut drafts: Vec<i64> = log.iter().filter_map(|n| n.draft_id).collect();
    drafts.sort();
    drafts.dedup();
    assert_eq!(drafts.len(), 1200, "a draft fired twice");
    assert_eq!(s.recent_nudges(10).await.expect("recent").last().map(|n| n.id), log.last().map(|n| n.id));
}

on_every_backend!(state_changes_follow_the_rules);
async fn state_changes_follow_the_rules(s: &Store) {
    let now = t0();
    let d = s.add_draft(&new("a", None), now).await.expect("add");
    assert!(matches!(s.unschedule_draft(d.id, now).await, Err(Error::FailedPrecondition(_))));
    let d = s.schedule_draft(d.id, Some(now + Duration::days(1)), now).await.expect("schedule");
    assert_eq!(d.state, DraftState::Scheduled);
    // Rescheduling moves the one pending row.
    s.schedule_draft(d.id, Some(now + Duration::days(2)), now).await.expect("reschedule");
    assert_eq!(s.pending_count().await.expect("count"), 1);
    assert_eq!(s.upcoming(None, 10).await.expect("upcoming")[0].due_at, now + Duration::days(2));
    assert!(s.upcoming(Some(now + Duration::days(1)), 10).await.expect("upcoming").is_empty());
    let d = s.unschedule_draft(d.id, now).await.expect("unschedule");
    assert_eq!((d.state, d.scheduled_at), (DraftState::Draft, None));
    assert_eq!(s.pending_count().await.expect("count"), 0);

    let patch = DraftPatch { text: Some("b".into()), tags: Some(vec![]), ..Default::default() };
    let d = s.update_draft(d.id, &patch, now).await.expect("update");
    assert_eq!((d.text.as_str(), d.tags.len()), ("b", 0));

    s.schedule_draft(d.id, Some(now + Duration::days(1)), now).await.expect("schedule");
    let d = s.finish_draft(d.id, DraftState::Published, "https://x.test/1", now).await.expect("publish");
    assert_eq!(d.state, DraftState::Published);
    assert_eq!(s.pending_count().await.expect("count"), 0, "publishing must drop the schedule row");
    assert!(matches!(
        s.finish_draft(d.id, DraftState::Skipped, "", now).await,
        Err(Error::FailedPrecondition(_))
    ));
    assert!(matches!(s.schedule_draft(d.id, Some(now), now).await, Err(Error::FailedPrecondition(_))));
    assert!(matches!(
        s.update_draft(d.id, &DraftPatch::default(), now).await,
        Err(Error::FailedPrecondition(_))
    ));

    assert!(matches!(s.get_draft(999).await, Err(Error::NotFound { .. })));
    assert!(matches!(s.delete_draft(999).await, Err(Error::NotFound { .. })));
    let e = s.add_draft(&new("e", Some(now + Duration::days(1))), now).await.expect("add");
    s.delete_draft(e.id).await.expect("delete");
    assert_eq!(s.pending_count().await.expect("count"), 0, "deleting must drop the schedule row");

    let listed = s.list_drafts(&[DraftState::Published]).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(s.list_drafts(&[]).await.expect("list").len(), 1);
    assert!(s.list_drafts(&[DraftState::Draft, DraftState::Scheduled]).await.expect("list").is_empty());
}

#[tokio::test]
async fn a_damaged_sqlite_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.db");
    std::fs::write(&path, vec![0x42u8; 8192]).expect("write");
    let err = Store::open(&format!("sqlite://{}", path.display()), None).await.err().expect("opened garbage");
    let msg = err.to_string();
    assert!(msg.contains("move it aside") || msg.contains("damaged"), "{msg}");
    assert_eq!(std::fs::read(&path).expect("read"), vec![0x42u8; 8192], "the damaged file was changed");
}

fn daily(spec: &str, tz: chrono_tz::Tz) -> clout_daemon::model::NewTask {
    clout_daemon::model::NewTask {
        text: "Reply to 3 posts".into(),
        every: Some(clout_daemon::recurrence::Schedule::parse(spec).expect("schedule")),
        once_at: None,
        tz,
        about: "@alice".into(),
        if_missed: None,
    }
}

on_every_backend!(a_recurring_task_fires_each_occurrence_and_records_misses);
async fn a_recurring_task_fires_each_occurrence_and_records_misses(s: &Store) {
    let now = t0(); // Monday 09:00 UTC
    let t = s.add_task(&daily("daily 10:00", chrono_tz::Europe::Berlin), now).await.expect("add");
    let first = Utc.with_ymd_and_hms(2030, 1, 8, 9, 0, 0).single().expect("time"); // 10:00 CET
    assert_eq!(t.next_due_at, Some(first));
    assert_eq!(s.next_due().await.expect("next"), Some(first));

    let fired = clout_daemon::fire::fire_due_default(s, first, 100).await.expect("fire");
    assert_eq!(fired.len(), 1);
    assert_eq!((fired[0].kind.as_str(), fired[0].task_id), ("task_due", Some(t.id)));
    assert!(fired[0].message.contains("about @alice"), "{}", fired[0].message);
    let t1 = s.task(t.id).await.expect("task");
    assert_eq!(t1.current_due_at, Some(first));
    assert_eq!(t1.next_due_at, Some(first + Duration::days(1)));

    let (done, _) = s.resolve_task(t.id, "done", first + Duration::minutes(5)).await.expect("done");
    assert_eq!((done.done, done.current_due_at), (1, None));
    assert!(matches!(s.resolve_task(t.id, "done", first).await, Err(Error::FailedPrecondition(_))));

    // Not done by the next occurrence: recorded as missed when the next one fires.
    clout_daemon::fire::fire_due_default(s, first + Duration::days(1), 100).await.expect("fire");
    clout_daemon::fire::fire_due_default(s, first + Duration::days(2), 100).await.expect("fire");
    let t3 = s.task(t.id).await.expect("task");
    assert_eq!((t3.done, t3.missed), (1, 1));
    assert_eq!(t3.current_due_at, Some(first + Duration::days(2)));
}

on_every_backend!(after_downtime_a_task_fires_once_not_a_storm);
async fn after_downtime_a_task_fires_once_not_a_storm(s: &Store) {
    let now = t0();
    let t = s.add_task(&daily("daily 10:00", chrono_tz::UTC), now).await.expect("add");
    let first = now + Duration::hours(1);
    let later = first + Duration::days(3) + Duration::hours(2);
    let fired = clout_daemon::fire::fire_due_default(s, later, 100).await.expect("fire");
    assert_eq!(fired.len(), 1, "one nudge after a 3-day outage");
    assert!(fired[0].late);
    assert_eq!(fired[0].due_at, first + Duration::days(3));
    assert!(fired[0].message.contains("3 earlier occurrence"), "{}", fired[0].message);
    let t = s.task(t.id).await.expect("task");
    assert_eq!(t.missed, 3);
    assert_eq!(t.next_due_at, Some(first + Duration::days(4)));
    assert!(clout_daemon::fire::fire_due_default(s, later, 100).await.expect("fire").is_empty());
}

on_every_backend!(a_one_off_task_fires_once_and_removed_tasks_never_fire);
async fn a_one_off_task_fires_once_and_removed_tasks_never_fire(s: &Store) {
    let now = t0();
    let once = clout_daemon::model::NewTask {
        text: "Thank the people who replied".into(),
        every: None,
        once_at: Some(now + Duration::hours(2)),
        tz: chrono_tz::UTC,
        about: String::new(),
        if_missed: None,
    };
    let t = s.add_task(&once, now).await.expect("add");
    let gone = s.add_task(&daily("daily 10:00", chrono_tz::UTC), now).await.expect("add");
    s.remove_task(gone.id, now).await.expect("remove");
    assert!(matches!(s.remove_task(gone.id, now).await, Err(Error::NotFound { .. })));
    let fired = clout_daemon::fire::fire_due_default(s, now + Duration::days(2), 100).await.expect("fire");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].task_id, Some(t.id));
    assert_eq!(s.pending_count().await.expect("count"), 0);
    assert_eq!(s.tasks().await.expect("tasks").len(), 1);
}

on_every_backend!(pause_holds_everything_and_resume_releases_it);
async fn pause_holds_everything_and_resume_releases_it(s: &Store) {
    let now = t0();
    s.add_draft(&new("held", Some(now + Duration::minutes(1))), now).await.expect("add");
    assert_eq!(s.set_paused(true, now).await.expect("pause"), 0);
    assert!(matches!(s.set_paused(true, now).await, Err(Error::FailedPrecondition(_))));
    assert!(s.program().await.expect("program").paused);
    assert_eq!(s.next_due().await.expect("next"), None, "nothing is due while paused");
    assert!(
        clout_daemon::fire::fire_due_default(s, now + Duration::hours(1), 100)
            .await
            .expect("fire")
            .is_empty()
    );
    assert_eq!(s.set_paused(false, now + Duration::hours(1)).await.expect("resume"), 1);
    let fired = clout_daemon::fire::fire_due_default(s, now + Duration::hours(1), 100).await.expect("fire");
    assert_eq!(fired.len(), 1);
    assert!(fired[0].late);
}

on_every_backend!(queued_drafts_fill_free_slots_and_shuffle_keeps_the_times);
async fn queued_drafts_fill_free_slots_and_shuffle_keeps_the_times(s: &Store) {
    let now = t0(); // Monday 09:00 UTC
    s.set_program(&clout_daemon::model::ProgramPatch { tz: Some(chrono_tz::UTC), ..Default::default() }, now)
        .await
        .expect("program");
    let queued = |text: &str| NewDraft { text: text.into(), queue: true, ..Default::default() };
    assert!(matches!(s.add_draft(&queued("no slots yet"), now).await, Err(Error::FailedPrecondition(_))));
    s.add_slot(&clout_daemon::recurrence::Schedule::parse("mon,wed,fri 12:00").expect("slot"), now)
        .await
        .expect("slot");
    let mut times = Vec::new();
    for i in 0..4 {
        let d = s.add_draft(&queued(&format!("post {i}")), now).await.expect("queue");
        assert!(d.slotted);
        times.push(d.scheduled_at.expect("time"));
    }
    let mon = now + Duration::hours(3);
    assert_eq!(times, vec![mon, mon + Duration::days(2), mon + Duration::days(4), mon + Duration::days(7)]);
    // A draft scheduled by hand on a slot's time takes that slot.
    let manual = s.add_draft(&new("manual", Some(mon + Duration::days(9))), now).await.expect("add");
    let next = s.add_draft(&queued("after manual"), now).await.expect("queue");
    assert_eq!(next.scheduled_at, Some(mon + Duration::days(11)));
    assert!(!s.get_draft(manual.id).await.expect("get").slotted);

    let before: Vec<(i64, DateTime<Utc>)> = s
        .upcoming(None, 100)
        .await
        .expect("up")
        .iter()
        .filter(|q| q.slotted)
        .map(|q| (q.id, q.due_at))
        .collect();
    let after = s.shuffle_slots(now).await.expect("shuffle");
    let mut t_before: Vec<_> = before.iter().map(|x| x.1).collect();
    let mut t_after: Vec<_> = after.iter().map(|q| q.due_at).collect();
    t_before.sort();
    t_after.sort();
    assert_eq!(t_before, t_after, "shuffle must keep the slot times");
    let order_after: Vec<i64> = after.iter().map(|q| q.id).collect();
    let order_before: Vec<i64> = before.iter().map(|x| x.0).collect();
    assert_ne!(order_before, order_after, "shuffle must change the order");
    let mut ids_a = order_after.clone();
    let mut ids_b = order_before.clone();
    ids_a.sort();
    ids_b.sort();
    assert_eq!(ids_a, ids_b);
    assert_eq!(s.pending_count().await.expect("count"), 6);
}

on_every_backend!(follows_are_unique_per_platform);
async fn follows_are_unique_per_platform(s: &Store) {
    let now = t0();
    let f = clout_daemon::model::Follow {
        id: 0,
        handle: "@alice".into(),
        platform: "mastodon".into(),
        why: "clear threads".into(),
        topic: "rust".into(),
        server: String::new(),
        created_at: now,
    };
    let a = s.add_follow(&f, now).await.expect("follow");
    assert!(matches!(s.add_follow(&f, now).await, Err(Error::FailedPrecondition(_))));
    let b = s
        .add_follow(&clout_daemon::model::Follow { platform: "bluesky".into(), ..f.clone() }, now)
        .await
        .expect("follow");
    assert_eq!(s.follows().await.expect("list").len(), 2);
    s.remove_follow(a.id).await.expect("rm");
    assert!(matches!(s.remove_follow(a.id).await, Err(Error::NotFound { .. })));
    assert_eq!(s.follows().await.expect("list")[0].id, b.id);
}

on_every_backend!(a_lesson_resurfaces_after_a_day_a_week_and_a_month);
async fn a_lesson_resurfaces_after_a_day_a_week_and_a_month(s: &Store) {
    let now = t0();
    let sb = s
        .add_setback("Thread flopped", &["threads".into()], None, None, Some("Post in the morning"), now)
        .await
        .expect("setback");
    let lesson = &sb.lessons[0];
    assert_eq!(lesson.next_at, Some(now + Duration::days(1)));
    let mut due = now + Duration::days(1);
    for gap in [7, 30, 180, 180] {
        let fired = clout_daemon::fire::fire_due_default(s, due, 100).await.expect("fire");
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].kind, "lesson");
        assert!(fired[0].message.contains("Post in the morning"), "{}", fired[0].message);
        due += Duration::days(gap);
        assert_eq!(s.next_due().await.expect("next"), Some(due));
    }
    // A tagged draft coming due carries the lesson.
    let d = s.add_draft(&new("Another thread", Some(due - Duration::hours(1))), now).await.expect("draft");
    s.update_draft(d.id, &DraftPatch { tags: Some(vec!["threads".into()]), ..Default::default() }, now)
        .await
        .expect("tag");
    let fired = clout_daemon::fire::fire_due_default(s, due - Duration::hours(1), 100).await.expect("fire");
    assert!(fired[0].message.contains("Last time: Post in the morning"), "{}", fired[0].message);
}

// ---- nudge rules, with the clock under the test's control -------------------

use clout_daemon::rules::{MissedPolicy, Policy};

async fn utc_program(s: &Store, posts_per_week: u32) {
    s.set_program(
        &clout_daemon::model::ProgramPatch {
            tz: Some(chrono_tz::UTC),
            posts_per_week: Some(posts_per_week),
            ..Default::default()
        },
        t0(),
    )
    .await
    .expect("program");
}

fn kinds(n: &[clout_daemon::model::Nudge]) -> Vec<&str> {
    n.iter().map(|n| n.kind.as_str()).collect()
}

on_every_backend!(the_queue_running_dry_is_noticed_daily);
async fn the_queue_running_dry_is_noticed_daily(s: &Store) {
    utc_program(s, 0).await;
    let p = Policy::default();
    s.sync_checks(&p, t0()).await.expect("sync"); // t0 is Monday 09:00
    let tue = t0() + Duration::days(1);
    assert_eq!(
        kinds(&clout_daemon::fire::fire_due_with_policy(s, tue, 100, &p).await.expect("fire")),
        vec!["queue_dry"]
    );
    s.add_draft(&new("soon", Some(tue + Duration::days(1))), tue).await.expect("add");
    assert!(
        clout_daemon::fire::fire_due_with_policy(s, tue + Duration::days(1) - Duration::minutes(1), 100, &p)
            .await
            .expect("fire")
            .is_empty()
    );
    // Switched off: its check leaves the schedule.
    let mut off = p.clone();
    off.rules.queue_dry.enabled = false;
    s.sync_checks(&off, tue).await.expect("sync");
    let fired =
        clout_daemon::fire::fire_due_with_policy(s, tue + Duration::days(3), 100, &off).await.expect("fire");
    assert!(!kinds(&fired).contains(&"queue_dry"), "{fired:?}");
}

on_every_backend!(goal_checks_speak_when_behind_or_at_risk);
async fn goal_checks_speak_when_behind_or_at_risk(s: &Store) {
    utc_program(s, 2).await;
    let p = Policy { daily_cap: 0, ..Policy::default() };
    // Last week (starting Monday 2029-12-31) met the goal of 2.
    for i in 0..2 {
        let d =
            s.add_draft(&new(&format!("last week {i}"), None), t0() - Duration::days(6)).await.expect("add");
        s.finish_draft(d.id, DraftState::Published, "", t0() - Duration::days(6)).await.expect("publish");
    }
    s.add_draft(&new("keeps the queue from running dry", Some(t0() + Duration::days(30))), t0())
        .await
        .expect("add");
    s.sync_checks(&p, t0()).await.expect("sync");
    let wed = t0() + Duration::days(2) + Duration::hours(3); // Wednesday 12:00
    let fired = clout_daemon::fire::fire_due_with_policy(s, wed, 100, &p).await.expect("fire");
    assert!(kinds(&fired).contains(&"behind_goal"), "{fired:?}");
    let sat = t0() + Duration::days(5) + Duration::hours(1); // Saturday 10:00
    let fired = clout_daemon::fire::fire_due_with_policy(s, sat, 100, &p).await.expect("fire");
    assert!(kinds(&fired).contains(&"streak_at_risk"), "{fired:?}");
    assert!(fired.iter().any(|n| n.message.contains("0 of 2")), "{fired:?}");
    let sun = t0() + Duration::days(6) + Duration::hours(9); // Sunday 18:00
    let fired = clout_daemon::fire::fire_due_with_policy(s, sun, 100, &p).await.expect("fire");
    assert!(kinds(&fired).contains(&"weekly_review"), "{fired:?}");
}

on_every_backend!(quiet_hours_hold_and_the_daily_cap_limits_consistency_nudges);
async fn quiet_hours_hold_and_the_daily_cap_limits_consistency_nudges(s: &Store) {
    utc_program(s, 0).await;
    let quiet = Policy { quiet_hours: Some("08:00-10:00".into()), ..Policy::default() };
    s.sync_checks(&quiet, t0() - Duration::hours(2)).await.expect("sync"); // 07:00 → check at 09:00
    assert!(
        clout_daemon::fire::fire_due_with_policy(s, t0(), 100, &quiet).await.expect("fire").is_empty(),
        "held in quiet hours"
    );
    assert_eq!(s.next_due().await.expect("next"), Some(t0() + Duration::hours(1)));
    let fired = clout_daemon::fire::fire_due_with_policy(s, t0() + Duration::hours(1), 100, &quiet)
        .await
        .expect("fire");
    assert_eq!(kinds(&fired), vec!["queue_dry"]);

    // A cap of one: the second consistency nudge of the day is dropped, due posts are not.
    let capped = Policy { daily_cap: 1, ..Policy::default() };
    let noon = t0() + Duration::hours(3);
    let sb = s.add_setback("x", &[], None, None, Some("y"), noon - Duration::days(1)).await.expect("setback");
    assert_eq!(sb.lessons.len(), 1);
    s.add_draft(&new("post", Some(noon)), t0()).await.expect("add");
    let fired = clout_daemon::fire::fire_due_with_policy(s, noon, 100, &capped).await.expect("fire");
    assert_eq!(kinds(&fired), vec!["post_due"], "the lesson was over the cap: {fired:?}");
}

on_every_backend!(missed_run_policies_decide_what_a_late_item_does);
async fn missed_run_policies_decide_what_a_late_item_does(s: &Store) {
    utc_program(s, 0).await;
    let now = t0();
    let at = now + Duration::hours(1);
    let late = at + Duration::hours(30);
    let mk = |text: &str, p: MissedPolicy| NewDraft {
        text: text.into(),
        at: Some(at),
        if_missed: Some(p),
        ..Default::default()
    };
    let ask = s.add_draft(&mk("ask", MissedPolicy::Ask), now).await.expect("add");
    let skip = s.add_draft(&mk("skip", MissedPolicy::Skip), now).await.expect("add");
    let catch = s.add_draft(&mk("catch", MissedPolicy::CatchUp), now).await.expect("add");
    s.add_slot(&clout_daemon::recurrence::Schedule::parse("daily 12:00").expect("slot"), now)
        .await
        .expect("slot");
    let slot = s.add_draft(&mk("slot", MissedPolicy::NextSlot), now).await.expect("add");
    let p = Policy { max_lateness_minutes: 60, ..Policy::default() };
    let fired = clout_daemon::fire::fire_due_with_policy(s, late, 100, &p).await.expect("fire");
    let posts: Vec<Option<i64>> = fired.iter().filter(|n| n.kind == "post_due").map(|n| n.draft_id).collect();
    assert_eq!(posts, vec![Some(ask.id)], "only `ask` nudges: {fired:?}");
    assert!(fired[0].late);
    assert_eq!(s.get_draft(skip.id).await.expect("get").state, DraftState::Draft);
    assert_eq!(
        s.get_draft(catch.id).await.expect("get").state,
        DraftState::Draft,
        "beyond max lateness: skipped"
    );
    let moved = s.get_draft(slot.id).await.expect("get");
    assert_eq!(moved.state, DraftState::Scheduled);
    // Found late at 2030-01-08 16:00: the next free slot is the next day at noon.
    assert_eq!(moved.scheduled_at, Some(Utc.with_ymd_and_hms(2030, 1, 9, 12, 0, 0).single().expect("time")));
    // Within the maximum lateness, catch-up fires.
    let c2 = s.add_draft(&mk("catch soon", MissedPolicy::CatchUp), now).await.expect("add");
    let fired =
        clout_daemon::fire::fire_due_with_policy(s, at + Duration::minutes(30), 100, &p).await.expect("fire");
    assert_eq!(fired.iter().filter_map(|n| n.draft_id).collect::<Vec<_>>(), vec![c2.id]);
}

on_every_backend!(a_missed_task_occurrence_nudges_once);
async fn a_missed_task_occurrence_nudges_once(s: &Store) {
    utc_program(s, 0).await;
    let t = s.add_task(&daily("daily 10:00", chrono_tz::UTC), t0()).await.expect("task");
    let first = t0() + Duration::hours(1);
    clout_daemon::fire::fire_due_with_policy(s, first, 100, &Policy::default()).await.expect("fire");
    let fired =
        clout_daemon::fire::fire_due_with_policy(s, first + Duration::days(1), 100, &Policy::default())
            .await
            .expect("fire");
    assert_eq!(kinds(&fired), vec!["task_due"], "one nudge, not two in the same second");
    assert_eq!(fired[0].task_id, Some(t.id));
    assert!(fired[0].message.contains("recorded as missed"), "{}", fired[0].message);
}

on_every_backend!(nudges_can_be_acknowledged_and_snoozed);
async fn nudges_can_be_acknowledged_and_snoozed(s: &Store) {
    let now = t0();
    s.add_draft(&new("a", Some(now)), now).await.expect("add");
    s.add_draft(&new("b", Some(now)), now).await.expect("add");
    let fired = clout_daemon::fire::fire_due_default(s, now, 100).await.expect("fire");
    assert_eq!(s.unread_nudges(10).await.expect("unread").len(), 2);
    s.ack_nudge(fired[0].id, now).await.expect("ack");
    assert!(matches!(s.ack_nudge(999, now).await, Err(Error::NotFound { .. })));
    let until = now + Duration::hours(1);
    s.snooze_nudge(fired[1].id, until, now).await.expect("snooze");
    assert!(s.unread_nudges(10).await.expect("unread").is_empty());
    assert_eq!(s.acked_ids(0, 100).await.expect("acked").len(), 2);
    let again = clout_daemon::fire::fire_due_default(s, until, 100).await.expect("fire");
    assert_eq!(again.len(), 1);
    assert!(again[0].message.starts_with("Snoozed: "), "{}", again[0].message);
    assert_eq!(again[0].draft_id, fired[1].draft_id);
    assert_eq!(s.unread_nudges(10).await.expect("unread").len(), 1);
}

on_every_backend!(a_batch_says_which_workers_have_work);
async fn a_batch_says_which_workers_have_work(s: &Store) {
    let policy = clout_daemon::rules::Policy::default();
    let t = s.add_task(&daily("daily 10:00", chrono_tz::UTC), t0()).await.expect("task");
    let due = t.next_due_at.expect("the task's next occurrence");
    let b = clout_daemon::fire::fire_batch(s, due, 100, &policy, None).await.expect("fire");
    assert!(b.nudges.iter().any(|n| n.kind == "task_due"), "{b:?}");
    assert!(!b.posts && !b.study && !b.results, "a task woke a worker: {b:?}");
    let at = due + Duration::minutes(30);
    s.add_draft(&new("hello", Some(at)), t0()).await.expect("add");
    let b = clout_daemon::fire::fire_batch(s, at, 100, &policy, None).await.expect("fire");
    assert!(b.posts && !b.study && !b.results, "{b:?}");
}

on_every_backend!(an_export_holds_writes_off_until_it_is_read);
async fn an_export_holds_writes_off_until_it_is_read(s: &Store) {
    s.add_draft(&new("before", None), t0()).await.expect("add");
    let hold = s.hold_writes().await.expect("hold");
    // A write waits while the hold lasts, however long it lasts: here, 300 ms.
    let during = new("during", None);
    let write = s.add_draft(&during, t0());
    tokio::pin!(write);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), &mut write).await.is_err(),
        "a write went through the hold"
    );
    // Reads go on meanwhile, and see the state the hold began with.
    assert_eq!(s.list_drafts(&[]).await.expect("read during the hold").len(), 1);
    hold.commit().await.expect("release");
    write.await.expect("the write after the hold");
    let doc = s.export().await.expect("export");
    assert_eq!(doc.drafts.len(), 2);
}
