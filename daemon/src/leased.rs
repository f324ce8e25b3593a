//! The loop of a leased queue (publications, the people to study): claim
//! what is due under a lease, work on each claim in a task of its own, and
//! sleep until the next claim could be due, a write wakes it, or a claim
//! finishes and makes room. A slow server holds up only its own claims.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::Core;
use crate::error::Result;

/// A queue whose rows a daemon claims under a lease and works on outside
/// any transaction.
pub trait Queue: 'static {
    type Claim: Send + 'static;
    /// For log lines: what cannot be read when claiming fails.
    const WHAT: &'static str;
    /// Claims in flight at most.
    const BATCH: u32;
    /// How long a claim holds before another daemon may take it.
    const LEASE: Duration;
    /// Notified by writes that may have made a claim due.
    fn wake(core: &Core) -> &Notify;
    /// Each turn of the loop begins here (health bookkeeping).
    fn turn(_core: &Core) {}
    fn claim(
        core: &Core,
        me: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        room: u32,
    ) -> impl Future<Output = Result<Vec<Self::Claim>>> + Send;
    /// When the next claim is due (or a claim runs out).
    fn next_at(core: &Core) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send;
    fn work(core: Arc<Core>, me: String, claim: Self::Claim) -> impl Future<Output = ()> + Send + 'static;
}

/// This daemon as a claim owner: its host and socket (and the queue's
/// `suffix`), so a daemon restarted on the same socket takes its own claims
/// back at once.
pub fn owner(core: &Core, suffix: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}{suffix}", host.trim(), core.socket.display())
}

/// Runs queue `Q` for claim owner `me` until `shutdown` flips. Claims in
/// flight then are abandoned: their leases run out, or this daemon takes
/// them back when it starts again.
pub async fn run<Q: Queue>(
    core: Arc<Core>,
    me: String,
    mut shutdown: watch::Receiver<bool>,
    timer_name: &str,
) {
    let lease = chrono::Duration::from_std(Q::LEASE).unwrap_or_else(|_| chrono::Duration::seconds(30));
    let mut inflight: JoinSet<()> = JoinSet::new();
    let timer = crate::clock::wall_timer(timer_name);
    let batch = Q::BATCH as usize;
    loop {
        if *shutdown.borrow() {
            break;
        }
        Q::turn(&core);
        let woken = Q::wake(&core).notified();
        let room = batch.saturating_sub(inflight.len());
        if room > 0 {
            match Q::claim(&core, &me, crate::clock::now(), lease, room as u32).await {
                Ok(claims) => {
                    for c in claims {
                        inflight.spawn(Q::work(core.clone(), me.clone(), c));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read {}; retrying in 1 s", Q::WHAT);
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            }
        }
        // At capacity, only a finished claim makes room; else sleep until the next is due.
        let wait = if inflight.len() >= batch {
            None
        } else {
            let next = Q::next_at(&core).await.ok().flatten();
            let wait = next.map(|t| {
                (t - crate::clock::now()).to_std().unwrap_or(Duration::ZERO).max(Duration::from_millis(50))
            });
            if core.store.is_postgres() {
                // A fleet's other daemons may add work this one hears of late.
                Some(wait.map_or(crate::fleet::FALLBACK_WAKE, |w| w.min(crate::fleet::FALLBACK_WAKE)))
            } else {
                wait
            }
        };
        tokio::select! {
            _ = shutdown.changed() => break,
            () = woken => {}
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            () = async {
                match wait {
                    // On the wall clock, so a suspend does not make the next claim late.
                    Some(w) => {
                        let at = crate::clock::now() + chrono::Duration::from_std(w).unwrap_or(chrono::Duration::MAX);
                        crate::clock::sleep_until_wall(timer.as_ref(), at).await
                    }
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
    inflight.abort_all();
}
