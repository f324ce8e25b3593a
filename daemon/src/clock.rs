//! Sleeping until a wall-clock instant, with no periodic wake-ups.
//!
//! Tokio's timers follow the monotonic clock, which stops during suspend and
//! ignores changes of the wall clock. A Linux timerfd on `CLOCK_REALTIME`
//! with an absolute expiry fires at the wall-clock instant even after a
//! suspend, and with `TFD_TIMER_CANCEL_ON_SET` it also returns when the wall
//! clock is set, so the scheduler can re-read the clock and recompute. Idle
//! means no work at all: not even a wake-up a minute.

use std::io;

use chrono::{DateTime, Utc};
use rustix::fd::OwnedFd;
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create, timerfd_settime,
};
use tokio::io::unix::AsyncFd;

pub struct WallTimer {
    fd: AsyncFd<OwnedFd>,
}

impl WallTimer {
    pub fn new() -> io::Result<WallTimer> {
        let fd = timerfd_create(TimerfdClockId::Realtime, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)?;
        // The fd is an OwnedFd created here and owned by the AsyncFd alone, so
        // nothing can close it behind the reactor's back (the concern behind
        // the deprecation, which asks for the unsafe `register`).
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(WallTimer { fd })
    }

    /// Returns at the wall-clock instant `at`, or earlier when the wall clock is set.
    pub async fn sleep_until(&self, at: DateTime<Utc>) -> io::Result<()> {
        // An expiry of zero would disarm the timer: the past is "now".
        let secs = at.timestamp().max(1);
        let spec = Itimerspec {
            it_interval: Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: Timespec { tv_sec: secs, tv_nsec: at.timestamp_subsec_nanos().min(999_999_999).into() },
        };
        timerfd_settime(
            self.fd.get_ref(),
            TimerfdTimerFlags::ABSTIME | TimerfdTimerFlags::CANCEL_ON_SET,
            &spec,
        )?;
        loop {
            let mut ready = self.fd.readable().await?;
            let mut buf = [0u8; 8];
            match rustix::io::read(ready.get_inner(), &mut buf) {
                Ok(_) => return Ok(()),
                // The wall clock was set: the caller recomputes from the new time.
                Err(rustix::io::Errno::CANCELED) => return Ok(()),
                Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Longest monotonic sleep where no wall-clock timer can be had: a suspend
/// makes a wait at most this late.
const MAX_MONOTONIC_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// A wall-clock timer, or `None` (with a warning naming `who`) where the
/// kernel offers none.
pub fn wall_timer(who: &str) -> Option<WallTimer> {
    match WallTimer::new() {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %e, "{who}: no wall-clock timer; waking at least every minute instead");
            None
        }
    }
}

/// Sleeps until the wall-clock instant `at`: on the timer when there is one
/// (exact through suspend and clock changes), else on tokio's monotonic
/// clock for at most a minute at a time. May return early; callers re-read
/// the clock.
pub async fn sleep_until_wall(timer: Option<&WallTimer>, at: DateTime<Utc>) {
    match timer {
        Some(t) => {
            if let Err(e) = t.sleep_until(at).await {
                tracing::warn!(error = %e, "the wall-clock timer failed");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
        None => {
            let left = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(left.min(MAX_MONOTONIC_SLEEP)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_wakes_at_the_wall_clock_instant() {
        let timer = WallTimer::new().expect("timerfd");
        let at = Utc::now() + chrono::Duration::milliseconds(50);
        timer.sleep_until(at).await.expect("sleep");
        assert!(Utc::now() >= at);
        // The past returns at once.
        let t = std::time::Instant::now();
        timer.sleep_until(Utc::now() - chrono::Duration::seconds(5)).await.expect("sleep");
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
