//! Sink storage, run against SQLite and, where reachable, PostgreSQL.
//!
//! PostgreSQL: CLOUT_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test.
//! Without a reachable server these tests print why and skip, unless CI=true.

use chrono::{Duration, Utc};
use clout_daemon::Error;
use clout_daemon::model::NewDraft;
use clout_daemon::sinks::{Format, NewSink, SinkKind};
use clout_daemon::store::Store;

mod common;

use common::t0;

fn webhook(url: &str, kinds: &[&str]) -> NewSink {
    NewSink {
        kind: SinkKind::Webhook,
        target: url.into(),
        args: vec![],
        format: Format::Json,
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
    }
}

/// Fires `n` drafts; returns the nudge ids.
async fn fire(s: &Store, n: usize) -> Vec<i64> {
    let at = t0() + Duration::hours(1);
    for i in 0..n {
        let d = NewDraft { text: format!("post {i}"), at: Some(at), ..Default::default() };
        s.add_draft(&d, t0()).await.expect("add draft");
    }
    clout_daemon::fire::fire_due_default(s, at, 1000).await.expect("fire").into_iter().map(|n| n.id).collect()
}

on_every_backend!(a_new_sink_starts_at_the_end_of_the_log_and_its_cursor_moves_on);
async fn a_new_sink_starts_at_the_end_of_the_log_and_its_cursor_moves_on(s: &Store) {
    let old = fire(s, 2).await;
    let sink = s.add_sink(&webhook("http://127.0.0.1:9/a", &[]), t0()).await.expect("add");
    assert_eq!(sink.cursor, old[1]);
    assert_eq!(sink.failures, 0);
    assert_eq!(s.sink_backlog(sink.cursor, &sink.kinds).await.expect("backlog"), 0);

    let new = fire(s, 3).await;
    assert_eq!(s.sink_backlog(sink.cursor, &sink.kinds).await.expect("backlog"), 3);

    let later = t0() + Duration::minutes(5);
    assert!(s.sink_failed(sink.id, "refused", 1, t0(), later).await.expect("fail"));
    let got = s.get_sink(sink.id).await.expect("get");
    assert_eq!((got.failures, got.last_error.as_str()), (1, "refused"));
    assert_eq!(got.next_attempt_at, Some(later));
    assert_eq!(got.cursor, old[1]);

    assert!(s.sink_delivered(sink.id, new[0], t0()).await.expect("delivered"));
    let got = s.get_sink(sink.id).await.expect("get");
    assert_eq!((got.cursor, got.failures, got.last_error.as_str()), (new[0], 0, ""));
    assert_eq!(got.next_attempt_at, None);
    assert_eq!(s.sink_backlog(got.cursor, &got.kinds).await.expect("backlog"), 2);
    // A cursor never moves back.
    assert!(s.sink_skipped(sink.id, old[0]).await.expect("skip"));
    assert_eq!(s.get_sink(sink.id).await.expect("get").cursor, new[0]);
    assert!(s.sink_skipped(sink.id, new[2]).await.expect("skip"));
    assert_eq!(s.get_sink(sink.id).await.expect("get").cursor, new[2]);
}

on_every_backend!(the_backlog_counts_only_what_the_filter_lets_through);
async fn the_backlog_counts_only_what_the_filter_lets_through(s: &Store) {
    let due = s.add_sink(&webhook("http://127.0.0.1:9/due", &["due"]), t0()).await.expect("add");
    let lessons = s.add_sink(&webhook("http://127.0.0.1:9/l", &["lesson"]), t0()).await.expect("add");
    fire(s, 2).await;
    assert_eq!(s.sink_backlog(due.cursor, &due.kinds).await.expect("backlog"), 2);
    assert_eq!(s.sink_backlog(lessons.cursor, &lessons.kinds).await.expect("backlog"), 0);
    let all = s.sinks().await.expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].kinds, ["due"]);
}

on_every_backend!(sinks_are_unique_and_removable);
async fn sinks_are_unique_and_removable(s: &Store) {
    let cmd = NewSink {
        kind: SinkKind::Command,
        target: "sh".into(),
        args: vec!["-c".into(), "cat > /dev/null".into()],
        format: Format::Json,
        kinds: vec![],
    };
    let a = s.add_sink(&cmd, t0()).await.expect("add");
    assert_eq!(a.args, cmd.args);
    assert!(
        matches!(s.add_sink(&cmd, t0()).await, Err(Error::Conflict { existing, .. }) if existing == a.id)
    );
    let other = NewSink { args: vec!["-c".into(), "true".into()], ..cmd.clone() };
    let b = s.add_sink(&other, t0()).await.expect("other args are another sink");
    s.remove_sink(a.id).await.expect("rm");
    assert!(matches!(s.remove_sink(a.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(s.get_sink(a.id).await, Err(Error::NotFound { .. })));
    assert!(!s.sink_delivered(a.id, 10, t0()).await.expect("gone"));
    assert_eq!(s.sinks().await.expect("list").iter().map(|x| x.id).collect::<Vec<_>>(), [b.id]);
}

on_every_backend!(one_daemon_at_a_time_holds_a_sink_and_a_dead_ones_lease_runs_out);
async fn one_daemon_at_a_time_holds_a_sink_and_a_dead_ones_lease_runs_out(s: &Store) {
    let now = Utc::now();
    let sink = s.add_sink(&webhook("http://127.0.0.1:9/hook", &[]), now).await.expect("add");
    let lease = chrono::Duration::seconds(60);
    assert!(s.claim_sink(sink.id, "host-a:/run/a.sock", now, now + lease).await.expect("claim").is_some());
    // While A's lease runs, B cannot deliver this sink.
    assert_eq!(s.claim_sink(sink.id, "host-b:/run/b.sock", now, now + lease).await.expect("claim"), None);
    // A renews its own lease.
    assert!(s.claim_sink(sink.id, "host-a:/run/a.sock", now, now + lease).await.expect("renew").is_some());
    // A dies: once the lease has run out, B takes the sink over, from the stored cursor.
    s.sink_delivered(sink.id, sink.cursor + 5, now).await.expect("cursor");
    let later = now + lease + chrono::Duration::seconds(1);
    assert_eq!(
        s.claim_sink(sink.id, "host-b:/run/b.sock", later, later + lease).await.expect("claim"),
        Some(sink.cursor + 5)
    );
    assert_eq!(s.claim_sink(sink.id, "host-a:/run/a.sock", later, later + lease).await.expect("claim"), None);
}
