//! systemd integration: readiness, reload and stop notifications
//! (`Type=notify`, `Type=notify-reload`), watchdog pings, and a listening
//! socket passed by socket activation. Each is a no-op when cloutd does not run
//! under systemd.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sd_notify::NotifyState;

use crate::error::{Error, Result};

/// Tells systemd that the daemon serves (READY=1).
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd that the daemon is stopping (STOPPING=1).
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn notify(states: &[NotifyState]) {
    // Never unset the environment: that races with other threads.
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// The watchdog interval systemd asked for (`WatchdogSec=`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    (sd_notify::watchdog_enabled(false, &mut usec) && usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings the watchdog (WATCHDOG=1). cloutd pings only while its health
/// check passes, so a daemon that stopped firing is restarted by systemd.
pub fn watchdog_ping() {
    notify(&[NotifyState::Watchdog]);
}

/// Takes a listening Unix socket passed by systemd (`LISTEN_FDS`, from a
/// `.socket` unit). Call before any other thread starts: it clears the
/// `LISTEN_*` variables so that nothing inherits them.
pub fn take_inherited_listener() -> Result<Option<std::os::unix::net::UnixListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    if fds.len() > 1 {
        tracing::warn!(count = fds.len(), "systemd passed several sockets; cloutd uses the first");
    }
    match fds.take_unix_listener(0) {
        Ok(Some(l)) => Ok(Some(l)),
        Ok(None) => Ok(None),
        Err(e) => Err(Error::Startup(format!(
            "the socket passed by systemd is not a listening Unix stream socket ({e}); \
             cloutd.socket needs ListenStream=/path/to/cloutd.sock"
        ))),
    }
}

// ---- reload: RELOADING=1 … READY=1, and the handshake file for ExecReload= ----

static RELOADS_REQUESTED: AtomicU64 = AtomicU64::new(0);
static RELOADS_DONE: AtomicU64 = AtomicU64::new(0);
static RELOAD_FILE_LOCK: Mutex<()> = Mutex::new(());

/// The file, in the service's `RuntimeDirectory=`, through which `cloutd
/// --reload PID` learns that the reload it asked for is applied.
const RELOAD_FILE: &str = "cloutd.reload";

fn reload_file() -> Option<PathBuf> {
    // systemd sets RUNTIME_DIRECTORY (colon-separated) with RuntimeDirectory=.
    let dirs = std::env::var_os("RUNTIME_DIRECTORY")?;
    let first = std::env::split_paths(&dirs).next()?;
    first.is_absolute().then(|| first.join(RELOAD_FILE))
}

/// Writes `PID REQUESTED DONE` to the reload file (when there is one), atomically.
fn write_reload_state() {
    let Some(path) = reload_file() else {
        return;
    };
    let _guard = RELOAD_FILE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let text = format!(
        "{} {} {}\n",
        std::process::id(),
        RELOADS_REQUESTED.load(Ordering::SeqCst),
        RELOADS_DONE.load(Ordering::SeqCst)
    );
    let tmp = path.with_extension("reload.tmp");
    if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path)) {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the reload state file");
    }
}

/// Counts a reload request (SIGHUP). Call from the signal handler, before the
/// reload is queued.
pub fn reload_requested() {
    RELOADS_REQUESTED.fetch_add(1, Ordering::SeqCst);
    write_reload_state();
}

/// A reload starts: RELOADING=1 with MONOTONIC_USEC= (sd_notify(3): required
/// for `Type=notify-reload`, so systemd can tell this reload from an earlier
/// one). Returns the reload's generation, for [`reloaded`].
pub fn reloading() -> u64 {
    let generation = RELOADS_REQUESTED.load(Ordering::SeqCst);
    let mut states = vec![NotifyState::Reloading, NotifyState::Status("reloading the configuration")];
    match NotifyState::monotonic_usec_now() {
        Ok(now) => states.push(now),
        Err(e) => tracing::warn!(error = %e, "cannot read CLOCK_MONOTONIC for MONOTONIC_USEC="),
    }
    notify(&states);
    generation
}

/// The reload that [`reloading`] started is applied (or was refused and the
/// running configuration kept): READY=1, and the handshake file says so.
pub fn reloaded(generation: u64) {
    notify(&[NotifyState::Ready, NotifyState::Status("serving")]);
    RELOADS_DONE.fetch_max(generation, Ordering::SeqCst);
    write_reload_state();
}

/// Why `cloutd --reload PID` did not see the reload done.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(
        "--reload waits on $RUNTIME_DIRECTORY/cloutd.reload, and RUNTIME_DIRECTORY is not set \
         (it is under systemd with RuntimeDirectory=); send SIGHUP instead"
    )]
    NoRuntimeDirectory,
    #[error("bad pid {0}")]
    BadPid(u32),
    #[error("cannot send SIGHUP to {pid}: {source}")]
    Signal { pid: u32, source: std::io::Error },
    #[error("cloutd (pid {pid}) exited during the reload", pid = .0)]
    Exited(u32),
    #[error("cloutd (pid {pid}) did not finish the reload within {secs}s")]
    TimedOut { pid: u32, secs: u64 },
}

/// `cloutd --reload PID`, for `ExecReload=` where systemd lacks
/// `Type=notify-reload` (≤ 252): sends SIGHUP to `pid` and returns once a
/// reload that started after it is done, so `systemctl reload` returns after
/// the new configuration is applied (`kill -HUP` returns before).
pub fn reload_and_wait(pid: u32, limit: Duration) -> std::result::Result<(), ReloadError> {
    let path = reload_file().ok_or(ReloadError::NoRuntimeDirectory)?;
    let read = || -> Option<(u32, u64, u64)> {
        let text = std::fs::read_to_string(&path).ok()?;
        let mut it = text.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(p)), Some(Ok(r)), Some(Ok(d))) = (it.next(), it.next(), it.next()) else {
            return None;
        };
        Some((u32::try_from(p).ok()?, r, d))
    };
    // Requests counted before ours; a file of another (earlier) process counts none.
    let before = read().filter(|(p, _, _)| *p == pid).map(|(_, r, _)| r).unwrap_or(0);
    let target =
        i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).ok_or(ReloadError::BadPid(pid))?;
    rustix::process::kill_process(target, rustix::process::Signal::HUP)
        .map_err(|source| ReloadError::Signal { pid, source: source.into() })?;
    let start = std::time::Instant::now();
    loop {
        if let Some((p, _, done)) = read()
            && p == pid
            && done > before
        {
            return Ok(());
        }
        if rustix::process::test_kill_process(target).is_err() {
            return Err(ReloadError::Exited(pid));
        }
        if start.elapsed() > limit {
            return Err(ReloadError::TimedOut { pid, secs: limit.as_secs() });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
