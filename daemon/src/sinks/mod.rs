//! Sinks: the nudge log delivered where a person will see it.
//!
//! A sink is a webhook, a command hook or desktop notifications. Each reads
//! the log with its own durable cursor, in pages, in order, and moves its
//! cursor on after each delivery, so delivery is at least once and survives
//! restarts. One supervisor task waits on the scheduler's nudge channel and on
//! sink changes (no polling); it runs at most one delivery task per sink, so a
//! slow sink does not hold up the others. A sink that fails is retried with
//! exponential backoff (100 ms doubling, capped at 30 s) until it succeeds.

mod command;
mod desktop;
pub(crate) mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::Core;
use crate::model::Nudge;

/// Nudges read from the log at a time, per sink.
pub const PAGE: u32 = 100;
/// The first retry delay; it doubles with every failure in a row.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

use crate::model::Invalid;
pub use crate::model::sink::{Format, NewSink, Sink, SinkKind, expand, matches};
pub use command::check_program;

/// A sink as `clout sink add` or the config file gives it, checked: its
/// fields ([`NewSink::check`]) and, for a command hook, that its program can run.
pub fn admit(
    kind: &str,
    target: &str,
    args: Vec<String>,
    format: &str,
    kinds: &[String],
) -> Result<NewSink, Invalid> {
    let sink = NewSink::check(kind, target, args, format, kinds)?;
    if sink.kind == SinkKind::Command {
        check_program(&sink.target)?;
    }
    Ok(sink)
}

/// How long to wait after `failures` failed attempts in a row.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A nudge as JSON, in the shape `clout --json watch` prints.
pub fn nudge_json(n: &Nudge) -> Value {
    json!({
        "id": n.id,
        "kind": n.kind,
        "message": n.message,
        "due_at": rfc3339(n.due_at),
        "fired_at": rfc3339(n.fired_at),
        "draft_id": n.draft_id,
        "task_id": n.task_id,
        "late": n.late,
    })
}

/// A short headline for a nudge kind (desktop summary, ntfy title).
pub fn headline(kind: &str) -> &'static str {
    match kind {
        "post_due" => "Time to post",
        "task_due" => "Time to engage",
        "lesson" => "A lesson comes back",
        "published" => "Published",
        "publish_failed" => "Publishing failed",
        "published_differently" => "Published, but not as asked",
        "test" => "Clout test",
        _ => "Clout",
    }
}

/// The synthetic nudge `clout sink test` sends. It is not in the log.
pub fn test_nudge(sink: i64) -> Nudge {
    let now = crate::clock::now();
    Nudge {
        id: 0,
        kind: "test".into(),
        message: format!("Test nudge from cloutd: sink {sink} works"),
        due_at: now,
        fired_at: now,
        draft_id: None,
        task_id: None,
        late: false,
    }
}

/// Why one delivery failed. Its text is the sink's `last_error`, which
/// `clout sink list` shows; it names a webhook by its host only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The webhook could not be reached, or its answer could not be read.
    #[error(transparent)]
    Http(#[from] crate::http::Error),
    /// The webhook answered with an error status.
    #[error("{place} answered HTTP {status}{}", with_excerpt(said))]
    Refused { place: String, status: u16, said: String },
    /// The hook's program could not be started or waited for.
    #[error("cannot {action} {name}: {detail}")]
    Unstarted { action: &'static str, name: String, detail: String },
    /// The hook ran past its time limit and was stopped.
    #[error("{name} did not finish within {secs} s and was stopped")]
    TimedOut { name: String, secs: u64 },
    /// The hook ended unsuccessfully.
    #[error("{name} {how}{}", with_excerpt(said))]
    Exited { name: String, how: String, said: String },
    /// The desktop cannot show notifications.
    #[error("{0}")]
    NoDesktop(&'static str),
}

/// `: WHAT IT SAID`, or nothing when it said nothing.
fn with_excerpt(said: &str) -> String {
    if said.is_empty() { String::new() } else { format!(": {said}") }
}

/// State shared by the delivery task and the gRPC service.
pub struct Hub {
    /// Wakes the delivery task after sinks change; failing sinks are retried at once.
    wake: Notify,
    http: webhook::Http,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        Hub { wake: Notify::new(), http: webhook::Http::new() }
    }

    /// Tells the delivery task that sinks were added, removed or tested.
    pub fn changed(&self) {
        self.wake.notify_one();
    }

    /// Delivers one nudge to one sink; the error says what went wrong.
    pub async fn deliver(&self, sink: &Sink, n: &Nudge) -> Result<(), Failure> {
        match sink.kind {
            SinkKind::Webhook => self.http.post(sink, n).await,
            SinkKind::Command => command::run_hook(sink, n).await,
            SinkKind::Desktop => desktop::notify(n).await,
        }
    }
}

/// How one delivery task ended.
enum Outcome {
    /// Everything in the log up to now is delivered.
    CaughtUp,
    /// An attempt failed; try again after this long.
    Failed(Duration),
    /// The sink was removed.
    Gone,
}

#[derive(Default)]
struct State {
    running: bool,
    /// A nudge or a change arrived while running: look again when done.
    rerun: bool,
    retry_at: Option<DateTime<Utc>>,
}

/// Delivers the nudge log to every sink until `shutdown` flips. In-flight
/// deliveries are abandoned on shutdown; their nudges go out again after a
/// restart (at least once).
pub async fn run(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut nudges = core.nudges.subscribe();
    let mut states: HashMap<i64, State> = HashMap::new();
    let mut tasks: JoinSet<(i64, Outcome)> = JoinSet::new();
    let mut task_sink: HashMap<tokio::task::Id, i64> = HashMap::new();
    // What the next pass over the sinks does: start every idle sink (`force`
    // also starts those waiting out a backoff), and mark running ones to look again.
    let mut pass = Some((true, true));
    let mut pass_retry: Option<DateTime<Utc>> = None;
    let timer = crate::clock::wall_timer("sink delivery");
    loop {
        if *shutdown.borrow() {
            break;
        }
        core.health.sinks.turn();
        let woken = core.sinks.wake.notified();
        if let Some((force, rerun)) = pass.take() {
            nudges.borrow_and_update();
            match core.store.sinks().await {
                Ok(list) => {
                    pass_retry = None;
                    states.retain(|id, _| list.iter().any(|s| s.id == *id));
                    let now = crate::clock::now();
                    for sink in list {
                        let st = states.entry(sink.id).or_default();
                        if st.running {
                            st.rerun |= rerun;
                        } else if force || st.retry_at.is_none_or(|t| t <= now) {
                            st.running = true;
                            st.retry_at = None;
                            let id = sink.id;
                            let handle = tasks.spawn(drain(core.clone(), sink));
                            task_sink.insert(handle.id(), id);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the sinks; retrying in 1s");
                    pass_retry = Some(crate::clock::now() + chrono::Duration::seconds(1));
                }
            }
        }
        let next_retry =
            states.values().filter(|s| !s.running).filter_map(|s| s.retry_at).chain(pass_retry).min();
        tokio::select! {
            _ = shutdown.changed() => break,
            changed = nudges.changed() => {
                if changed.is_err() {
                    break;
                }
                pass = Some((false, true));
            }
            _ = woken => pass = Some((true, true)),
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (task, outcome) = match joined {
                    Ok((task, (_, outcome))) => (task, outcome),
                    Err(e) => {
                        tracing::error!(error = %e, "a sink delivery task failed; retrying");
                        (e.id(), Outcome::Failed(Duration::from_secs(1)))
                    }
                };
                let Some(id) = task_sink.remove(&task) else { continue };
                match outcome {
                    Outcome::Gone => {
                        states.remove(&id);
                    }
                    Outcome::CaughtUp => {
                        if let Some(st) = states.get_mut(&id) {
                            st.running = false;
                            if std::mem::take(&mut st.rerun) {
                                pass = Some((false, false));
                            }
                        }
                    }
                    Outcome::Failed(wait) => {
                        if let Some(st) = states.get_mut(&id) {
                            st.running = false;
                            st.rerun = false;
                            st.retry_at = Some(crate::clock::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX));
                        }
                    }
                }
            }
            _ = sleep_until(timer.as_ref(), next_retry) => pass = Some((false, false)),
        }
    }
    // Abandon deliveries in flight (command hooks are killed); the cursor was
    // not moved for them, so they are delivered again after a restart.
    tasks.shutdown().await;
    tracing::debug!("sink delivery stopped");
}

/// Waits for the wall-clock instant `at`, so a suspend does not make a
/// retry late.
async fn sleep_until(timer: Option<&crate::clock::WallTimer>, at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => crate::clock::sleep_until_wall(timer, at).await,
        None => std::future::pending().await,
    }
}

/// Delivers every nudge after the sink's cursor, page by page, moving the
/// cursor on after each one. Stops at the first failure.
async fn drain(core: Arc<Core>, sink: Sink) -> (i64, Outcome) {
    let id = sink.id;
    (id, drain_inner(&core, sink).await)
}

/// How long a daemon's claim on a sink lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(60);

/// This daemon, as a lease owner: its host and socket. No two running
/// daemons share both (the socket is locked), and a daemon restarted on the
/// same socket takes its own lease back at once.
fn lease_owner(core: &Core) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), core.socket.display())
}

async fn claim(core: &Core, id: i64) -> Result<Option<i64>, crate::Error> {
    let now = crate::clock::now();
    let until = now + chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(60));
    core.store.claim_sink(id, &lease_owner(core), now, until).await
}

async fn drain_inner(core: &Core, sink: Sink) -> Outcome {
    // One daemon of a fleet delivers a sink at a time; start from the stored
    // cursor, which another daemon may have moved on.
    let mut cursor = match claim(core, sink.id).await {
        Ok(Some(cursor)) => cursor,
        Ok(None) => return Outcome::Failed(LEASE),
        Err(e) => {
            tracing::error!(sink = sink.id, error = %e, "cannot claim a sink; retrying in 1s");
            return Outcome::Failed(Duration::from_secs(1));
        }
    };
    // The cursor moved past filtered nudges without being stored yet.
    let mut skipped = false;
    let mut failing = sink.failures > 0;
    loop {
        let page = match core.store.nudges_after(cursor, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(sink = sink.id, error = %e, "cannot read the nudge log for a sink; retrying in 1s");
                return Outcome::Failed(Duration::from_secs(1));
            }
        };
        let full = page.len() == PAGE as usize;
        for n in page {
            if !matches(&sink.kinds, &n.kind) {
                cursor = n.id;
                skipped = true;
                continue;
            }
            let delivered = {
                let _busy = core.health.sinks.busy();
                core.sinks.deliver(&sink, &n).await
            };
            match delivered {
                Ok(()) => match core.store.sink_delivered(sink.id, n.id, crate::clock::now()).await {
                    Ok(true) if !matches!(claim(core, sink.id).await, Ok(Some(_))) => {
                        // The lease ran out while delivering and another daemon took the sink.
                        return Outcome::Failed(LEASE);
                    }
                    Ok(true) => {
                        if std::mem::take(&mut failing) {
                            tracing::info!(sink = sink.id, nudge = n.id, "sink {} works again", sink.id);
                        }
                        tracing::debug!(sink = sink.id, nudge = n.id, "delivered");
                        cursor = n.id;
                        skipped = false;
                    }
                    Ok(false) => return Outcome::Gone,
                    Err(e) => {
                        tracing::error!(sink = sink.id, error = %e, "cannot store a sink's cursor; retrying in 1s");
                        return Outcome::Failed(Duration::from_secs(1));
                    }
                },
                Err(error) => {
                    if skipped {
                        let _ = core.store.sink_skipped(sink.id, cursor).await;
                    }
                    return failed(core, &sink, n.id, &error.to_string()).await;
                }
            }
        }
        if !full {
            break;
        }
    }
    if skipped {
        match core.store.sink_skipped(sink.id, cursor).await {
            Ok(true) => {}
            Ok(false) => return Outcome::Gone,
            Err(e) => tracing::warn!(sink = sink.id, error = %e, "cannot store a sink's cursor"),
        }
    }
    Outcome::CaughtUp
}

/// Records a failed attempt and says when to try again. The first failure
/// in a row is a warning in the log; the rest are debug lines.
async fn failed(core: &Core, sink: &Sink, nudge: i64, error: &str) -> Outcome {
    let failures = sink.failures.saturating_add(1);
    let wait = backoff(failures);
    if failures == 1 {
        tracing::warn!(
            sink = sink.id,
            kind = sink.kind.as_str(),
            nudge,
            "sink {} failed: {error}; retrying with backoff until it works",
            sink.id
        );
    } else {
        tracing::debug!(sink = sink.id, nudge, failures, "sink {} failed again: {error}", sink.id);
    }
    let now = crate::clock::now();
    let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(30));
    match core.store.sink_failed(sink.id, error, failures, now, next).await {
        Ok(true) => Outcome::Failed(wait),
        Ok(false) => Outcome::Gone,
        Err(e) => {
            tracing::error!(sink = sink.id, error = %e, "cannot record a sink's failure");
            Outcome::Failed(wait)
        }
    }
}

/// The last `limit` bytes of a process's error output or a response body, as one line.
pub(crate) fn excerpt(bytes: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= limit {
        text
    } else {
        let cut: String = text.chars().take(limit).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_100ms_and_stops_at_30s() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(9), Duration::from_millis(25_600));
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn filters_match_hook_names_and_nudge_kinds() {
        let f = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert!(matches(&[], "anything"));
        assert!(matches(&f(&["due"]), "post_due"));
        assert!(matches(&f(&["due"]), "task_due"));
        assert!(!matches(&f(&["due"]), "lesson"));
        assert!(matches(&f(&["lesson", "post"]), "lesson"));
        assert!(matches(&f(&["post"]), "post_due"));
        assert!(!matches(&f(&["post"]), "task_due"));
        assert!(matches(&f(&["task_due"]), "task_due"));
        assert!(matches(&f(&["publish"]), "published"));
        assert!(matches(&f(&["setback"]), "setback"));
    }

    #[test]
    fn the_json_has_the_watch_shape() {
        let n = test_nudge(3);
        let v = nudge_json(&n);
        for key in ["id", "kind", "message", "due_at", "fired_at", "draft_id", "task_id", "late"] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["kind"], "test");
        assert!(v["due_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt(b"  a\n b  ", 10), "a b");
        assert_eq!(excerpt(b"abcdef", 3), "abc…");
    }
}
