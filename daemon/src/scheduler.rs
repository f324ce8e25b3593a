//! The scheduler: one loop over the one due-index.
//!
//! It asks the store for the earliest due time, sleeps until then or until a
//! write wakes it, and re-reads the wall clock on every wake-up. With nothing
//! pending it sleeps until woken: idle means no work at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::Core;
use crate::error::Error;
use crate::store::fault::Fault;

/// Items fired per transaction.
pub const BATCH: u32 = 500;
/// Longest single sleep while something is pending, where no wall-clock timer
/// (timerfd) can be had. Tokio's timers follow the monotonic clock, which stops
/// during suspend and ignores wall-clock changes; waking at least this often
/// bounds how late a suspend can make an item.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Failed tries after which an item whose firing fails on its own is set
/// aside (a poison row), so that everything else keeps firing.
pub const MAX_FIRE_FAILURES: u32 = 3;

pub async fn run(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    // Failed tries per schedule row, of rows whose firing failed on its own.
    let mut failures: HashMap<i64, u32> = HashMap::new();
    let timer = match crate::clock::WallTimer::new() {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %e, "no wall-clock timer; waking at least every {MAX_SLEEP:?} instead");
            None
        }
    };
    loop {
        if *shutdown.borrow() {
            break;
        }
        core.health.scheduler.turn();
        // A write that lands while we look stores a permit here, so it is never missed.
        let woken = core.wake.notified();
        let next = match core.store.next_due().await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "reading the next due time failed");
                Some(crate::clock::now() + chrono::Duration::seconds(1))
            }
        };
        core.health.scheduler_saw(next);
        // Only take the write lock when something is due.
        if next.is_some_and(|t| t <= crate::clock::now()) {
            let fired = {
                let _busy = core.health.scheduler.busy();
                match fire_all_due(&core).await {
                    Err(e) if !transient(&e) => isolate(&core, &mut failures).await,
                    other => other,
                }
            };
            match fired {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "firing due items failed; retrying in {backoff:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        // With the wall-clock timer, sleep exactly until the next due time;
        // without it, cap the monotonic sleep so a suspend cannot make us late.
        let (wall, mut wait) = match (&timer, next) {
            (Some(t), Some(at)) => (Some((t, at)), None),
            (_, next) => (
                None,
                next.map(|t| (t - crate::clock::now()).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP)),
            ),
        };
        if core.store.is_postgres() {
            // Another daemon's write may have been announced while we were not listening.
            wait = Some(wait.unwrap_or(crate::fleet::FALLBACK_WAKE).min(crate::fleet::FALLBACK_WAKE));
        }
        let wall_sleep = async {
            match wall {
                Some((t, at)) => {
                    if let Err(e) = t.sleep_until(at).await {
                        tracing::warn!(error = %e, "the wall-clock timer failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = woken => {}
            _ = wall_sleep => {}
            _ = sleep_opt(wait) => {}
            _ = shutdown.changed() => break,
        }
    }
    tracing::debug!("scheduler stopped");
}

async fn sleep_opt(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Whether a failure is the database's, not one row's: a busy or full
/// database, one that cannot be written, an I/O error. Those are waited out
/// and never set a row aside.
fn transient(e: &Error) -> bool {
    matches!(e.fault(), Some(Fault::Busy | Fault::Full | Fault::ReadOnly | Fault::Io))
        || matches!(e, Error::Io { .. })
}

/// A batch failed: fires its rows one by one, so that only the row that
/// fails by itself stays behind. A row that has failed [`MAX_FIRE_FAILURES`]
/// times is set aside with a `fire_failed` nudge. A transient failure ends
/// the pass with that error, to be waited out.
async fn isolate(core: &Core, failures: &mut HashMap<i64, u32>) -> crate::error::Result<()> {
    let ids = core.store.due_ids(crate::clock::now(), BATCH).await?;
    let mut last = None;
    for id in ids {
        match crate::fire::fire_due(&core.store, crate::clock::now(), 1, &core.policy(), Some(id)).await {
            Ok(fired) => {
                failures.remove(&id);
                if let Some(n) = fired.last() {
                    core.nudges.send_replace(n.id);
                }
            }
            Err(e) if transient(&e) => return Err(e),
            Err(e) => {
                let n = failures.entry(id).or_insert(0);
                *n += 1;
                tracing::error!(row = id, tries = *n, error = %e, "firing one item failed");
                if *n >= MAX_FIRE_FAILURES {
                    let tries = *n;
                    failures.remove(&id);
                    if let Some(nudge) =
                        core.store.set_aside(id, &e.to_string(), tries, crate::clock::now()).await?
                    {
                        tracing::warn!(nudge = nudge.id, row = id, "{}", nudge.message);
                        core.nudges.send_replace(nudge.id);
                    }
                } else {
                    last = Some(e);
                }
            }
        }
    }
    core.publish.wake();
    core.study.wake();
    core.results.wake();
    // A row still failing is retried after the backoff.
    last.map_or(Ok(()), Err)
}

/// Fires every item that is due now, batch after batch. The first batch is
/// small, so the first nudges of a burst commit (and reach watchers) at once;
/// later batches grow to [`BATCH`] for throughput.
async fn fire_all_due(core: &Core) -> crate::error::Result<()> {
    let mut size = 32;
    let (mut posts, mut study, mut results) = (false, false, false);
    loop {
        let batch =
            crate::fire::fire_batch(&core.store, crate::clock::now(), size, &core.policy(), None).await?;
        posts |= batch.posts;
        study |= batch.study;
        results |= batch.results;
        let fired = batch.nudges;
        if let Some(last) = fired.last() {
            for n in &fired {
                tracing::debug!(nudge = n.id, kind = %n.kind, late = n.late, "{}", n.message);
            }
            match fired.as_slice() {
                [one] => tracing::info!(nudge = one.id, kind = %one.kind, late = one.late, "{}", one.message),
                many => tracing::info!(first = many[0].id, last = last.id, "fired {} nudges", many.len()),
            }
            core.nudges.send_replace(last.id);
        }
        if fired.len() < size as usize {
            // Drafts that publish themselves write no nudge when they fire;
            // each worker is woken only when a row of its kind fired.
            if posts {
                core.publish.wake();
            }
            if study {
                core.study.wake();
            }
            if results {
                core.results.wake();
            }
            return Ok(());
        }
        size = (size * 4).min(BATCH);
    }
}
