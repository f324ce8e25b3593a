//! Honest health: whether cloutd is firing, not merely whether it is up.
//!
//! The scheduler, the sink delivery and the publisher report their turns
//! here. cloutd is unhealthy when an item has been due for longer than the
//! threshold and has not fired (the scheduler's lag), or when a loop has
//! been busy on one turn for longer than the threshold. The gRPC health
//! service, the systemd watchdog and `clout status` all read this one
//! verdict; it returns to healthy by itself once firing catches up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::store::Store;

/// Default for how late an unfired item, or how long a loop's turn, may be.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(60);

/// One loop's progress: when its last turn began, and the work in flight.
pub struct Loop {
    pub name: &'static str,
    last_turn: Mutex<Option<DateTime<Utc>>>,
    busy: Mutex<HashMap<u64, Instant>>,
    next: AtomicU64,
    /// Tells the health check that work began, so it can look again when
    /// that work would have run too long.
    wake: Arc<Notify>,
}

/// Work in flight on a loop; done when dropped.
pub struct Busy<'a> {
    lp: &'a Loop,
    id: u64,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.lp.busy.lock() {
            b.remove(&self.id);
        }
    }
}

impl Loop {
    fn new(name: &'static str, wake: Arc<Notify>) -> Loop {
        Loop {
            name,
            last_turn: Mutex::new(None),
            busy: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            wake,
        }
    }

    /// The loop begins a turn.
    pub fn turn(&self) {
        if let Ok(mut t) = self.last_turn.lock() {
            *t = Some(crate::clock::now());
        }
    }

    /// Marks work in flight until the guard drops.
    pub fn busy(&self) -> Busy<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut b) = self.busy.lock() {
            b.insert(id, Instant::now());
        }
        self.wake.notify_one();
        Busy { lp: self, id }
    }

    fn report(&self) -> LoopReport {
        let last_turn = self.last_turn.lock().ok().and_then(|t| *t);
        let busy_for = self.oldest_busy();
        LoopReport { name: self.name, last_turn, busy_for }
    }

    /// How long its oldest work in flight has run.
    fn oldest_busy(&self) -> Option<Duration> {
        self.busy.lock().ok().and_then(|b| b.values().min().map(Instant::elapsed))
    }
}

#[derive(Debug, Clone)]
pub struct LoopReport {
    pub name: &'static str,
    pub last_turn: Option<DateTime<Utc>>,
    /// How long its oldest work in flight has run.
    pub busy_for: Option<Duration>,
}

/// The verdict, and what it rests on.
#[derive(Debug, Clone)]
pub struct Report {
    pub healthy: bool,
    /// Why it is not, one sentence each.
    pub problems: Vec<String>,
    /// How long the oldest due, unfired item has waited (zero when none).
    pub lag: Duration,
    pub loops: Vec<LoopReport>,
}

pub struct Health {
    pub scheduler: Loop,
    pub sinks: Loop,
    pub publisher: Loop,
    threshold: Mutex<Duration>,
    /// The earliest due time the scheduler last saw.
    seen_due: Mutex<Option<DateTime<Utc>>>,
    wake: Arc<Notify>,
}

impl Default for Health {
    fn default() -> Self {
        let wake = Arc::new(Notify::new());
        Health {
            scheduler: Loop::new("scheduler", wake.clone()),
            sinks: Loop::new("sinks", wake.clone()),
            publisher: Loop::new("publisher", wake.clone()),
            threshold: Mutex::new(DEFAULT_THRESHOLD),
            seen_due: Mutex::new(None),
            wake,
        }
    }
}

impl Health {
    pub fn set_threshold(&self, t: Duration) {
        if let Ok(mut cur) = self.threshold.lock() {
            *cur = t;
        }
    }

    pub fn threshold(&self) -> Duration {
        self.threshold.lock().map(|t| *t).unwrap_or(DEFAULT_THRESHOLD)
    }

    /// The scheduler read `next` as the earliest due time: the health check
    /// looks again once that item would be late.
    pub fn scheduler_saw(&self, next: Option<DateTime<Utc>>) {
        let changed = self.seen_due.lock().map(|mut seen| std::mem::replace(&mut *seen, next) != next);
        if changed.unwrap_or(true) {
            self.wake.notify_one();
        }
    }

    /// When the verdict could next turn unhealthy, as far as this daemon
    /// knows: the earliest due item passing the threshold unfired, or the
    /// oldest work in flight running past it. None: nothing can, until
    /// something changes ([`Health::changed`]).
    pub fn next_look(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let threshold = self.threshold();
        let late = chrono::Duration::from_std(threshold).unwrap_or(chrono::Duration::MAX);
        let due = self.seen_due.lock().ok().and_then(|s| *s).and_then(|d| d.checked_add_signed(late));
        let busy = [&self.scheduler, &self.sinks, &self.publisher]
            .into_iter()
            .filter_map(|l| l.oldest_busy())
            .map(|ran| now + chrono::Duration::from_std(threshold.saturating_sub(ran)).unwrap_or_default())
            .min();
        due.into_iter().chain(busy).min()
    }

    /// Completes when something the verdict rests on may have changed.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    /// Judges health now, reading the oldest due item from `store`.
    pub async fn check(&self, store: &Store) -> Report {
        let threshold = self.threshold();
        let now = crate::clock::now();
        let mut problems = Vec::new();
        let lag = match store.next_due().await {
            Ok(Some(due)) => (now - due).to_std().unwrap_or_default(),
            Ok(None) => Duration::ZERO,
            Err(e) => {
                problems.push(format!("cannot read the schedule: {}", crate::error::tidy(&e.to_string())));
                Duration::ZERO
            }
        };
        if lag > threshold {
            problems.push(format!(
                "an item has been due for {} and has not fired (threshold {}s); cloutd's log says why",
                crate::error::human_duration(lag),
                threshold.as_secs()
            ));
        }
        let loops = vec![self.scheduler.report(), self.sinks.report(), self.publisher.report()];
        for l in &loops {
            if let Some(b) = l.busy_for.filter(|b| *b > threshold) {
                problems.push(format!(
                    "the {} has been busy on one turn for {}",
                    l.name,
                    crate::error::human_duration(b)
                ));
            }
        }
        Report { healthy: problems.is_empty(), problems, lag, loops }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_look_follows_the_due_item_and_work_in_flight() {
        let h = Health::default();
        let now = crate::clock::now();
        assert_eq!(h.next_look(now), None, "nothing due, nothing running: nothing to look at");
        let due = now + chrono::Duration::seconds(10);
        h.scheduler_saw(Some(due));
        assert_eq!(h.next_look(now), Some(due + chrono::Duration::seconds(60)));
        let busy = h.sinks.busy();
        let look = h.next_look(now).expect("work in flight");
        assert!(look <= now + chrono::Duration::seconds(60), "{look} vs {now}");
        assert!(look > now + chrono::Duration::seconds(59), "{look} vs {now}");
        drop(busy);
        h.scheduler_saw(None);
        assert_eq!(h.next_look(now), None);
    }

    #[tokio::test]
    async fn only_a_change_wakes_the_health_check() {
        let h = Health::default();
        let due = crate::clock::now() + chrono::Duration::seconds(10);
        h.scheduler_saw(Some(due));
        tokio::time::timeout(Duration::from_secs(5), h.changed()).await.expect("a new due time wakes it");
        h.scheduler_saw(Some(due));
        let woke = tokio::time::timeout(Duration::from_millis(100), h.changed()).await;
        assert!(woke.is_err(), "the same due time again is no change");
        let _busy = h.publisher.busy();
        tokio::time::timeout(Duration::from_secs(5), h.changed()).await.expect("work beginning wakes it");
    }
}
