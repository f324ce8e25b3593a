//! Command hooks: the program runs once per nudge with the nudge as JSON on
//! stdin and `CLOUT_NUDGE_ID`, `CLOUT_NUDGE_KIND` and `CLOUT_SINK_ID` in its
//! environment. Exit status 0 is a delivery; anything else, or not finishing
//! within 30 s, is a failure that is retried.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::{Failure, Sink, excerpt, nudge_json};
use crate::model::{Invalid, Nudge};

/// How long a hook may run.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a process's error output is kept for the sink's last error.
const STDERR_BYTES: usize = 4096;
/// cloutd's own systemd variables, which no program it runs may inherit: a
/// hook that sent to NOTIFY_SOCKET would speak for cloutd.
const SYSTEMD_VARS: [&str; 7] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "MAINPID",
];

/// Kills a process group with SIGKILL when dropped, unless disarmed: a hook
/// that times out, or that cloutd abandons as it stops, leaves nothing
/// behind, not even what it started in the background.
struct GroupGuard(Option<rustix::process::Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

pub async fn run_hook(sink: &Sink, n: &Nudge) -> Result<(), Failure> {
    let mut input = nudge_json(n).to_string();
    input.push('\n');
    let mut cmd = Command::new(&sink.target);
    cmd.args(&sink.args)
        .env("CLOUT_NUDGE_ID", n.id.to_string())
        .env("CLOUT_NUDGE_KIND", &n.kind)
        .env("CLOUT_SINK_ID", sink.id.to_string());
    run(cmd, &sink.target, Some(input.into_bytes()), TIMEOUT).await
}

/// Runs a prepared command to completion within `limit`, feeding it `input`.
/// The error carries the tail of what the process wrote to stderr.
pub(super) async fn run(
    mut cmd: Command,
    name: &str,
    input: Option<Vec<u8>>,
    limit: Duration,
) -> Result<(), Failure> {
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout stops everything it started.
        .process_group(0);
    for var in SYSTEMD_VARS {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().map_err(|e| Failure::Unstarted {
        action: "run",
        name: name.to_string(),
        detail: e.to_string(),
    })?;
    let mut group = GroupGuard(child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)));
    // A program that does not read its input is fine: the write just ends.
    let writer = child.stdin.take().zip(input).map(|(mut pipe, data)| {
        tokio::spawn(async move {
            let _ = pipe.write_all(&data).await;
        })
    });
    let mut reader = child.stderr.take().map(|pipe| tokio::spawn(read_tail(pipe)));
    let waited = tokio::time::timeout(limit, child.wait()).await;
    if let Some(w) = writer {
        w.abort();
    }
    // A background process the program left behind may hold stderr open.
    let mut said = Vec::new();
    if let Some(r) = reader.as_mut() {
        let grace = if matches!(waited, Ok(Ok(_))) { Duration::from_millis(500) } else { Duration::ZERO };
        if let Ok(Ok(bytes)) = tokio::time::timeout(grace, &mut *r).await {
            said = bytes;
        }
        r.abort();
    }
    let said = tail_excerpt(&said, 300);
    let status = match waited {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            return Err(Failure::Unstarted {
                action: "wait for",
                name: name.to_string(),
                detail: e.to_string(),
            });
        }
        Err(_) => {
            drop(group);
            let _ = child.kill().await;
            return Err(Failure::TimedOut { name: name.to_string(), secs: limit.as_secs() });
        }
    };
    // It finished: what it left running on purpose is its own business.
    group.0 = None;
    if status.success() {
        return Ok(());
    }
    Err(Failure::Exited { name: name.to_string(), how: describe(status), said })
}

/// The end of what a process wrote, as one short line: the last words of an
/// error are the ones that say what went wrong.
fn tail_excerpt(bytes: &[u8], limit: usize) -> String {
    let text = excerpt(bytes, usize::MAX);
    let n = text.chars().count();
    if n <= limit {
        text
    } else {
        let tail: String = text.chars().skip(n - limit).collect();
        format!("…{tail}")
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "failed".into(),
    }
}

/// The last bytes a process wrote, up to [`STDERR_BYTES`].
async fn read_tail(mut pipe: tokio::process::ChildStderr) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > 2 * STDERR_BYTES {
                    out.drain(..out.len() - STDERR_BYTES);
                }
            }
        }
    }
    if out.len() > STDERR_BYTES {
        out.drain(..out.len() - STDERR_BYTES);
    }
    out
}

fn executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable file called `name` on cloutd's `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| executable(p))
}

/// Whether a command hook's program can be found: an absolute path to an
/// executable file, or a name on cloutd's `PATH`. The error says what to do.
pub fn check_program(program: &str) -> Result<(), Invalid> {
    let refuse = |reason: String| Err(Invalid::new("target", reason));
    if program.contains('/') {
        let path = Path::new(program);
        if !path.is_absolute() {
            return refuse(format!(
                "the program `{program}` is a relative path; give an absolute path (cloutd runs hooks from its own directory)"
            ));
        }
        if !path.exists() {
            return refuse(format!("the program {program} does not exist"));
        }
        if !executable(path) {
            return refuse(format!(
                "{program} is not an executable file; make it one with `chmod +x {program}`"
            ));
        }
        return Ok(());
    }
    if find_on_path(program).is_some() {
        return Ok(());
    }
    refuse(format!(
        "`{program}` is not on cloutd's PATH; give its full path (cloutd may run with a shorter PATH than your shell)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_program_reports_its_status_and_error_output() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("cat >/dev/null; echo 'no route to the moon' >&2; exit 3");
        let err = run(cmd, "sh", Some(b"{}".to_vec()), TIMEOUT).await.expect_err("must fail");
        assert!(
            matches!(&err, Failure::Exited { said, .. } if said.contains("no route to the moon")),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("status 3") && text.contains("no route to the moon"), "{text}");
    }

    #[tokio::test]
    async fn a_hook_that_hangs_is_stopped() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("exec sleep 30");
        let err = run(cmd, "sh", None, Duration::from_millis(200)).await.expect_err("must time out");
        assert_eq!(err, Failure::TimedOut { name: "sh".into(), secs: 0 });
        assert!(err.to_string().contains("did not finish"), "{err}");
    }

    #[test]
    fn programs_are_checked() {
        assert!(check_program("sh").is_ok());
        assert!(check_program("/bin/sh").is_ok());
        assert!(check_program("./hook.sh").expect_err("relative").reason.contains("absolute"));
        assert!(check_program("surely-no-such-program-here").expect_err("missing").reason.contains("PATH"));
        assert!(check_program("/nonexistent/hook").expect_err("missing").reason.contains("does not exist"));
    }
}
