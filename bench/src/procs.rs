//! Child processes: the binaries under test, a `cloutd` per scenario, a
//! `clout --json watch` reader, one-shot commands with deadlines, and
//! samples of a process's memory and context switches from /proc.
//!
//! Every long-lived child sits in a guard whose `Drop` kills and reaps it,
//! so no exit path (error, panic unwinding) leaves a process behind; they
//! also get `PR_SET_PDEATHSIG`, so even a SIGKILLed bench takes them along.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};

/// The release binaries under test, found next to this executable.
#[derive(Debug, Clone)]
pub struct Bins {
    pub cloutd: PathBuf,
    pub clout: PathBuf,
}

impl Bins {
    pub fn locate() -> Result<Bins> {
        let exe = std::env::current_exe().context("cannot find the path of clout-bench itself")?;
        let dir = exe.parent().ok_or_else(|| anyhow!("{} has no parent directory", exe.display()))?;
        let bins = Bins { cloutd: dir.join("cloutd"), clout: dir.join("clout") };
        let missing: Vec<String> = [&bins.cloutd, &bins.clout]
            .iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            bail!(
                "missing binaries: {}.\nclout-bench measures the release builds of cloutd and clout that sit next to it \
                 ({}). Build them first:\n\n    cargo build --release --workspace\n\nthen run:\n\n    \
                 cargo run --release -p clout-bench -- [SCENARIOS] [--quick]",
                missing.join(", "),
                dir.display()
            );
        }
        Ok(bins)
    }
}

/// Asks the kernel to SIGKILL the child when the thread that spawned it dies.
/// All long-lived children are spawned from the main thread, which lives as
/// long as the bench does.
fn die_with_parent(cmd: &mut Command) {
    #[allow(unsafe_code)]
    // SAFETY: prctl(2) is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) -> Result<()> {
    let pid = i32::try_from(pid).context("pid out of range")?;
    #[allow(unsafe_code)]
    // SAFETY: kill(2) with a pid of our own unreaped child and a valid signal.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        bail!("kill({pid}, {sig}) failed: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// A temporary home for one daemon: socket under run/, database under data/.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Result<Home> {
        Ok(Home { dir: tempfile::Builder::new().prefix("clout-bench-").tempdir()? })
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run").join("cloutd.sock")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data").join("clout.db")
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.db_path().display())
    }
}

#[derive(Default)]
struct DaemonLog {
    lines: u64,
    tail: VecDeque<String>,
    /// WARN and ERROR lines (the first few).
    problems: Vec<String>,
    problem_count: u64,
}

/// A running `cloutd`; killed and reaped on drop.
pub struct Daemon {
    child: Child,
    pub pid: u32,
    pub socket: PathBuf,
    /// Spawn to the "cloutd ready" line.
    pub ready_after: Duration,
    pub spawned_at: Instant,
    log: Arc<Mutex<DaemonLog>>,
    reaped: bool,
}

impl Daemon {
    /// Starts cloutd on `home` and waits (at most `limit`) for "cloutd ready" on its stderr.
    pub fn start(bins: &Bins, home: &Home, limit: Duration) -> Result<Daemon> {
        let mut cmd = Command::new(&bins.cloutd);
        cmd.arg("--socket")
            .arg(home.socket())
            .arg("--database-url")
            .arg(home.db_url())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .env_remove("CLOUT_CONFIG")
            .env_remove("CLOUT_SOCKET")
            .env_remove("CLOUT_DATABASE_URL")
            .env_remove("JOURNAL_STREAM")
            .env("XDG_CONFIG_HOME", home.dir.path().join("no-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let spawned_at = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("cannot start {}", bins.cloutd.display()))?;
        let pid = child.id();
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("cloutd's stderr was not piped"))?;
        let log = Arc::new(Mutex::new(DaemonLog::default()));
        let (tx, rx) = mpsc::channel::<Instant>();
        let sink = log.clone();
        // Drains stderr for the daemon's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("cloutd ready")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(Instant::now());
                }
                if let Ok(mut l) = sink.lock() {
                    l.lines += 1;
                    if line.contains(" WARN ") || line.contains(" ERROR ") {
                        l.problem_count += 1;
                        if l.problems.len() < 20 {
                            l.problems.push(line.clone());
                        }
                    }
                    if l.tail.len() >= 40 {
                        l.tail.pop_front();
                    }
                    l.tail.push_back(line);
                }
            }
        });
        let mut daemon = Daemon {
            child,
            pid,
            socket: home.socket(),
            ready_after: Duration::ZERO,
            spawned_at,
            log,
            reaped: false,
        };
        match rx.recv_timeout(limit) {
            Ok(at) => {
                daemon.ready_after = at.duration_since(spawned_at);
                Ok(daemon)
            }
            Err(RecvTimeoutError::Timeout) => {
                let tail = daemon.log_tail(20);
                bail!(
                    "deadline expired: cloutd (pid {pid}) printed no \"cloutd ready\" within {limit:?}; its log ends:\n{tail}"
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                // stderr closed: the daemon exited. Give the reader a moment to store the last lines.
                let status = daemon.wait_exit(Duration::from_secs(5));
                std::thread::sleep(Duration::from_millis(50));
                let tail = daemon.log_tail(20);
                bail!("cloutd exited before it was ready ({status:?}); its log ends:\n{tail}")
            }
        }
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.reaped = true;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// SIGTERM and wait for a clean exit (at most `limit`, then SIGKILL and an error).
    pub fn stop(mut self, limit: Duration) -> Result<ExitStatus> {
        signal(self.pid, libc::SIGTERM)?;
        match self.wait_exit(limit) {
            Some(status) if status.success() => Ok(status),
            Some(status) => bail!("cloutd exited with {status} after SIGTERM; log:\n{}", self.log_tail(20)),
            None => bail!(
                "deadline expired: cloutd (pid {}) did not exit within {limit:?} of SIGTERM (killed it); log:\n{}",
                self.pid,
                self.log_tail(20)
            ),
        }
    }

    /// Fails when the daemon has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.reaped = true;
            bail!("cloutd (pid {}) exited unexpectedly ({status}); log:\n{}", self.pid, self.log_tail(20));
        }
        Ok(())
    }

    pub fn log_tail(&self, n: usize) -> String {
        match self.log.lock() {
            Ok(l) => {
                let skip = l.tail.len().saturating_sub(n);
                l.tail.iter().skip(skip).map(|s| format!("    {s}\n")).collect()
            }
            Err(_) => String::new(),
        }
    }

    /// (lines logged, WARN/ERROR lines logged, the first few of them).
    pub fn log_summary(&self) -> (u64, u64, Vec<String>) {
        match self.log.lock() {
            Ok(l) => (l.lines, l.problem_count, l.problems.clone()),
            Err(_) => (0, 0, Vec::new()),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `clout --json watch` process whose stdout lines are stamped with the
/// wall clock the moment they are read; killed and reaped on drop.
pub struct Watcher {
    child: Child,
    pub pid: u32,
    rx: Receiver<(DateTime<Utc>, String)>,
    err: Arc<Mutex<String>>,
}

impl Watcher {
    pub fn start(bins: &Bins, socket: &Path, after: Option<i64>) -> Result<Watcher> {
        let mut cmd = clout_cmd(bins, socket);
        cmd.arg("--json").arg("watch");
        if let Some(a) = after {
            cmd.arg("--after").arg(a.to_string());
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child =
            cmd.spawn().with_context(|| format!("cannot start {} watch", bins.clout.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("clout watch's stdout was not piped"))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("clout watch's stderr was not piped"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::with_capacity(1 << 16, stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        // Stamp first, then hand over.
                        let at = Utc::now();
                        if tx.send((at, line.trim_end().to_string())).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let err = Arc::new(Mutex::new(String::new()));
        let sink = err.clone();
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut e) = sink.lock()
                    && e.len() < 16 * 1024
                {
                    e.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Ok(Watcher { child, pid, rx, err })
    }

    /// The next line and its arrival time, or an error naming `what` when
    /// none arrives before `deadline` or the watcher has exited.
    pub fn next_line(&mut self, deadline: Instant, what: &str) -> Result<(DateTime<Utc>, String)> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(x) => Ok(x),
            Err(RecvTimeoutError::Timeout) => bail!(
                "deadline expired: no line from `clout --json watch` while waiting for {what}; its stderr: {:?}",
                self.stderr_text()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.try_wait().ok().flatten();
                bail!(
                    "`clout --json watch` ended ({status:?}) while waiting for {what}; its stderr: {:?}",
                    self.stderr_text()
                )
            }
        }
    }

    pub fn stderr_text(&self) -> String {
        self.err.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `clout` with the environment the e2e tests use, pointed at `socket`.
pub fn clout_cmd(bins: &Bins, socket: &Path) -> Command {
    let mut cmd = Command::new(&bins.clout);
    cmd.env("CLOUT_SOCKET", socket).env("NO_COLOR", "1").env("TZ", "UTC").env_remove("RUST_BACKTRACE");
    cmd
}

/// Runs a command to completion with a deadline. Returns its output and the
/// wall time from just before spawn to the moment `waitpid` returned.
/// Prints a progress line every `progress_every` while it runs, if given.
pub fn run_timed(
    cmd: &mut Command,
    what: &str,
    limit: Duration,
    progress_every: Option<Duration>,
) -> Result<(Output, Duration)> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("cannot start {what}"))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send((out, Instant::now()));
    });
    let deadline = start + limit;
    let mut next_progress = progress_every.map(|p| start + p);
    loop {
        let now = Instant::now();
        let wake = match next_progress {
            Some(p) => p.min(deadline),
            None => deadline,
        };
        match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok((out, done)) => {
                let out = out.with_context(|| format!("waiting for {what}"))?;
                return Ok((out, done.duration_since(start)));
            }
            Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                // The waiting thread still holds the unreaped child, so the pid is ours.
                let _ = signal(pid, libc::SIGKILL);
                let _ = rx.recv_timeout(Duration::from_secs(5));
                bail!("deadline expired: {what} did not finish within {limit:?} (killed it)");
            }
            Err(RecvTimeoutError::Timeout) => {
                eprintln!("    … {what} still running ({:.0} s)", start.elapsed().as_secs_f64());
                next_progress = next_progress.zip(progress_every).map(|(p, e)| p + e);
            }
            Err(RecvTimeoutError::Disconnected) => bail!("lost the waiter thread of {what}"),
        }
    }
}

/// Like [`run_timed`], failing unless the command exits successfully.
pub fn run_ok(cmd: &mut Command, what: &str, limit: Duration) -> Result<(Output, Duration)> {
    let (out, took) = run_timed(cmd, what, limit, Some(Duration::from_secs(10)))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok((out, took))
}

// ---- /proc ------------------------------------------------------------------

fn status_field_kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// (VmRSS, VmHWM) of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let rss = status_field_kb(&text, "VmRSS:").ok_or_else(|| anyhow!("no VmRSS in {path}"))?;
    let hwm = status_field_kb(&text, "VmHWM:").unwrap_or(rss);
    Ok((rss, hwm))
}

/// Context switches summed over every thread of a process, and the thread count.
#[derive(Debug, Clone, Copy)]
pub struct Switches {
    pub total: u64,
    pub threads: u64,
}

pub fn context_switches(pid: u32) -> Result<Switches> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0;
    let mut threads = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {dir}"))? {
        let path = entry?.path().join("status");
        // A thread may end between the listing and the read.
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        threads += 1;
        for key in ["voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"] {
            total += status_field_kb(&text, key).unwrap_or(0);
        }
    }
    Ok(Switches { total, threads })
}

/// CPU time (user + system) of a process so far, from /proc/PID/stat.
pub fn cpu_time(pid: u32, ticks_per_sec: f64) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = text.rsplit_once(')').map(|x| x.1).ok_or_else(|| anyhow!("odd {path}"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    let utime: f64 = f.get(11).and_then(|s| s.parse().ok()).ok_or_else(|| anyhow!("no utime in {path}"))?;
    let stime: f64 = f.get(12).and_then(|s| s.parse().ok()).ok_or_else(|| anyhow!("no stime in {path}"))?;
    Ok(Duration::from_secs_f64((utime + stime) / ticks_per_sec))
}

/// The kernel's clock ticks per second (for /proc/PID/stat), from `getconf`.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
