//! Honest health: whether cloutd is firing, not merely whether it is up.
//!
//! The scheduler, the sink delivery and the publisher report their turns
//! here. cloutd is unhealthy when an item has been due for longer than the
//! threshold and has not fired (the scheduler's lag), or when a loop has
//! been busy on one turn for longer than the threshold. The gRPC health
//! service, the systemd watchdog and `clout status` all read this one
//! verdict; it returns to healthy by itself once firing catches up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::store::Store;

/// Default for how late an unfired item, or how long a loop's turn, may be.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(60);

/// One loop's progress: when its last turn began, and the work in flight.
pub struct Loop {
    pub name: &'static str,
    last_turn: Mutex<Option<DateTime<Utc>>>,
    busy: Mutex<HashMap<u64, Instant>>,
    next: AtomicU64,
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
    fn new(name: &'static str) -> Loop {
        Loop { name, last_turn: Mutex::new(None), busy: Mutex::new(HashMap::new()), next: AtomicU64::new(0) }
    }

    /// The loop begins a turn.
    pub fn turn(&self) {
        if let Ok(mut t) = self.last_turn.lock() {
            *t = Some(Utc::now());
        }
    }

    /// Marks work in flight until the guard drops.
    pub fn busy(&self) -> Busy<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut b) = self.busy.lock() {
            b.insert(id, Instant::now());
        }
        Busy { lp: self, id }
    }

    fn report(&self) -> LoopReport {
        let last_turn = self.last_turn.lock().ok().and_then(|t| *t);
        let busy_for = self.busy.lock().ok().and_then(|b| b.values().min().map(Instant::elapsed));
        LoopReport { name: self.name, last_turn, busy_for }
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
}

impl Default for Health {
    fn default() -> Self {
        Health {
            scheduler: Loop::new("scheduler"),
            sinks: Loop::new("sinks"),
            publisher: Loop::new("publisher"),
            threshold: Mutex::new(DEFAULT_THRESHOLD),
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

    /// Judges health now, reading the oldest due item from `store`.
    pub async fn check(&self, store: &Store) -> Report {
        let threshold = self.threshold();
        let now = Utc::now();
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
