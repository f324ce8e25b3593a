//! Sleeping until a wall-clock instant, with no periodic wake-ups.
//!
//! Tokio's timers follow the monotonic clock, which stops during suspend and
//! ignores changes of the wall clock. A Linux timerfd on `CLOCK_REALTIME`
//! with an absolute expiry fires at the wall-clock instant even after a
//! suspend, and with `TFD_TIMER_CANCEL_ON_SET` it also returns when the wall
//! clock is set, so the scheduler can re-read the clock and recompute. Idle
//! means no work at all: not even a wake-up a minute.
//!
//! Every part of the daemon reads the time through [`now`]: the wall clock,
//! shifted by `cloutd --clock-offset` (zero unless asked). A daemon started
//! with `--clock-offset 25h` behaves as if it were 25 hours later, so results
//! due a day after a post, daily study refreshes or missed tasks can be seen
//! without waiting a day; the end-to-end tests step through them this way.

use std::io;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use rustix::fd::OwnedFd;
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create, timerfd_settime,
};
use tokio::io::unix::AsyncFd;

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// The daemon's present: the wall clock plus the offset [`set_offset`] gave.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    match OFFSET_MS.load(Ordering::Relaxed) {
        0 => t,
        ms => t + chrono::Duration::milliseconds(ms),
    }
}

/// Shifts [`now`] by `ms` milliseconds from here on (`--clock-offset`).
pub fn set_offset(ms: i64) {
    OFFSET_MS.store(ms, Ordering::Relaxed);
}

/// The shift [`set_offset`] gave, zero by default.
pub fn offset() -> chrono::Duration {
    chrono::Duration::milliseconds(OFFSET_MS.load(Ordering::Relaxed))
}

/// A duration as humantime reads it (`90s`, `25h`, `7d`, `30d 1h`, `1h30m`),
/// in whole milliseconds; `None` when it is not one.
pub fn duration_ms(s: &str) -> Option<i64> {
    let d = humantime::parse_duration(s.trim()).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Reads a `--clock-offset` value: a duration (`25h`, `7d`, `30d1h`) of at
/// most ten years.
pub fn parse_offset(s: &str) -> Result<i64, String> {
    let ms =
        duration_ms(s).ok_or_else(|| format!("`{s}` is not a duration: give one like 25h, 7d or 30d1h"))?;
    if ms > 3_660 * 86_400_000 {
        return Err(format!("`{s}` is more than ten years"));
    }
    Ok(ms)
}

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

    /// Returns at the instant `at` of [`now`], or earlier when the wall clock is set.
    pub async fn sleep_until(&self, at: DateTime<Utc>) -> io::Result<()> {
        let at = at - offset();
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
            let left = (at - now()).to_std().unwrap_or_default();
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

    #[test]
    fn offsets_are_durations_of_at_most_ten_years() {
        assert_eq!(parse_offset("90s"), Ok(90_000));
        assert_eq!(parse_offset("25h"), Ok(90_000_000));
        assert_eq!(parse_offset("30d1h"), Ok(30 * 86_400_000 + 3_600_000));
        assert_eq!(parse_offset(" 0s "), Ok(0));
        assert_eq!(parse_offset("1h30m"), Ok(5_400_000));
        assert_eq!(parse_offset("1.5h"), Ok(5_400_000));
        for bad in ["", "h", "25", "25x", "-1h", "1h-", "99999999999999999d", "4000d"] {
            assert!(parse_offset(bad).is_err(), "{bad:?} was taken");
        }
    }
}
