//! Desktop sinks: freedesktop notifications, sent over the D-Bus session bus
//! by `notify-send` (libnotify). Without a session bus or `notify-send` the
//! attempt fails with an error that says so; the sink is then unhealthy and
//! retried with backoff, and cloutd carries on.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use super::command::{find_on_path, run};
use super::{Failure, headline};
use crate::model::Nudge;

/// How long `notify-send` may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The session bus address: `DBUS_SESSION_BUS_ADDRESS`, else the standard
/// socket `$XDG_RUNTIME_DIR/bus` when it exists.
fn session_bus() -> Option<OsString> {
    if let Some(addr) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").filter(|a| !a.is_empty()) {
        return Some(addr);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")?;
    let bus = Path::new(&dir).join("bus");
    bus.exists().then(|| OsString::from(format!("unix:path={}", bus.display())))
}

pub async fn notify(n: &Nudge) -> Result<(), Failure> {
    let bus = session_bus().ok_or(Failure::NoDesktop(
        "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist. \
         Run cloutd inside your desktop session (e.g. `systemctl --user start cloutd`)",
    ))?;
    let program = find_on_path("notify-send").ok_or(Failure::NoDesktop(
        "notify-send is not installed: install libnotify-bin (Debian, Ubuntu) or libnotify (Fedora, Arch)",
    ))?;
    let mut cmd = Command::new(program);
    cmd.arg("--app-name=Clout")
        .arg("--")
        .arg(headline(&n.kind))
        .arg(&n.message)
        .env("DBUS_SESSION_BUS_ADDRESS", bus);
    run(cmd, "notify-send", None, TIMEOUT).await
}
