//! systemd integration: readiness and stop notifications (`Type=notify`),
//! watchdog pings, and a listening socket passed by socket activation. Each is
//! a no-op when cloutd does not run under systemd.

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
