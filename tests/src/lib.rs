//! Harness for the end-to-end tests: starts the real `cloutd` on a temporary
//! socket and database, runs the real `clout`, and waits on events (a log
//! line, a line of output) with deadlines instead of sleeping.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod fake;
pub mod pds;
pub mod social;

/// Path of a binary built by this workspace (`cloutd` or `clout`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (cargo test --workspace builds them)",
        path.display()
    );
    if let Some(newer) = newer_source(&path) {
        panic!(
            "{} is older than {}: run `cargo build --workspace` (or `cargo test --workspace`, which builds it) \
             so the tests run the code as it is",
            path.display(),
            newer.display()
        );
    }
    path
}

/// A source file that `binary` is built from (its crate's `src/`,
/// `build.rs` and `Cargo.toml`, `proto/`, and for cloutd the migrations)
/// changed after it was built, if any.
fn newer_source(binary: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let own = if binary.file_name().is_some_and(|n| n == "cloutd") { "daemon" } else { "cli" };
    let mut paths = vec![
        root.join(own).join("src"),
        root.join(own).join("build.rs"),
        root.join(own).join("Cargo.toml"),
        root.join("proto"),
    ];
    if own == "daemon" {
        paths.push(root.join("migrations"));
    }
    while let Some(path) = paths.pop() {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).ok()?.flatten() {
                if entry.file_name() != "target" {
                    paths.push(entry.path());
                }
            }
        } else if meta.modified().is_ok_and(|m| m > built) {
            return Some(path);
        }
    }
    None
}

/// A running `cloutd` with its own socket and database in a temporary directory.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub db_url: String,
    pub log: Arc<Mutex<String>>,
}

/// A temporary home for one test: socket and database live here.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().expect("temporary directory") }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run").join("cloutd.sock")
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("data").join("clout.db").display())
    }

    /// Starts cloutd and waits until it reports ready.
    pub fn start(&self) -> Daemon {
        self.start_with(&[]).expect("cloutd did not start")
    }

    /// Starts cloutd with extra arguments; Err(log) when it exits instead of becoming ready.
    pub fn start_with(&self, extra: &[&str]) -> Result<Daemon, String> {
        start_daemon(&self.socket(), &self.db_url(), extra)
    }

    /// Runs `clout ARGS` against this home's socket.
    pub fn clout(&self, args: &[&str]) -> Output {
        clout(&self.socket(), args, None)
    }

    /// Runs `clout ARGS` with `stdin` as its input.
    pub fn clout_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        clout(&self.socket(), args, Some(stdin))
    }

    /// Runs `clout --json ARGS`, asserts success and parses the output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.clout(&all);
        assert!(out.status.success(), "clout {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("clout {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
        })
    }

    /// Runs `clout ARGS`, asserts it fails, and that its error contains `expect`.
    pub fn fails_with(&self, args: &[&str], expect: &str) {
        let out = self.clout(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err}");
    }

    /// Starts `clout --json watch ARGS` in the background.
    pub fn watch(&self, args: &[&str]) -> Lines {
        let mut cmd = Command::new(bin("clout"));
        cmd.arg("--json").arg("watch").args(args);
        Lines::spawn(base_env(&mut cmd, &self.socket()))
    }
}

fn base_env<'a>(cmd: &'a mut Command, socket: &Path) -> &'a mut Command {
    cmd.env("CLOUT_SOCKET", socket).env("NO_COLOR", "1").env("TZ", "UTC").env_remove("RUST_BACKTRACE")
}

pub fn clout(socket: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(bin("clout"));
    cmd.args(args);
    base_env(&mut cmd, socket);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn clout");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let data = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    child.wait_with_output().expect("wait for clout")
}

/// Skips a test that cannot run here, with the reason, unless CI=true, where
/// every test must run.
pub fn skip(reason: &str) {
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "cannot run under CI=true: {reason}");
    eprintln!("SKIPPED: {reason}");
}

pub fn is_root() -> bool {
    clout_proto::current_uid() == 0
}

/// Runs `clout ARGS` as another user (uid, gid, no supplementary groups)
/// through `setpriv`, with `stdin` on its standard input. `clout` must be a
/// copy that user can execute.
pub fn clout_as(clout: &Path, uid: u32, gid: u32, socket: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(clout)
        .args(args)
        .env("HOME", "/");
    base_env(&mut cmd, socket).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run setpriv (util-linux)");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let data = stdin.to_vec();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = pipe.write_all(&data);
    });
    child.wait_with_output().expect("wait for setpriv")
}

/// The config the tests run cloutd with unless they pass their own `--config`:
/// the time-of-day rule checks are off, so no test can meet a check by chance.
pub const QUIET_RULES: &str = "[nudges.rules.queue_dry]\nenabled = false\nat = \"daily 09:00\"\n\
[nudges.rules.behind_goal]\nenabled = false\nat = \"wed 12:00\"\n\
[nudges.rules.streak_at_risk]\nenabled = false\nat = \"sat 10:00\"\n\
[nudges.rules.weekly_review]\nenabled = false\nat = \"sun 18:00\"\n";

pub fn start_daemon(socket: &Path, db_url: &str, extra: &[&str]) -> Result<Daemon, String> {
    let mut cmd = daemon_command(socket, db_url);
    cmd.args(extra);
    spawn_daemon(cmd, socket, db_url)
}

/// `cloutd --socket SOCKET --database-url DB_URL` with the tests' environment
/// (RUST_LOG=info, no colour, no user config file); add to it, then [`spawn_daemon`].
pub fn daemon_command(socket: &Path, db_url: &str) -> Command {
    let mut cmd = Command::new(bin("cloutd"));
    cmd.arg("--socket")
        .arg(socket)
        .arg("--database-url")
        .arg(db_url)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("CLOUT_CONFIG")
        .env("TZ", "UTC")
        .env("XDG_CONFIG_HOME", quiet_config_home());
    cmd
}

/// A config directory whose `clout/cloutd.toml` holds [`QUIET_RULES`]: a
/// daemon started without `--config` runs no time-of-day rule check, so no
/// test meets a 09:00 or Sunday 18:00 check by chance. One per test process,
/// outside every test's home (cloutd sets the mode of a socket directory it
/// creates itself).
fn quiet_config_home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir =
            tempfile::Builder::new().prefix("clout-e2e-config-").tempdir().expect("temporary directory");
        std::fs::create_dir_all(dir.path().join("clout")).expect("config directory");
        std::fs::write(dir.path().join("clout").join("cloutd.toml"), QUIET_RULES).expect("config file");
        dir
    })
    .path()
}

/// Starts a prepared cloutd command and waits until it reports ready;
/// Err(log) when it exits instead.
pub fn spawn_daemon(mut cmd: Command, socket: &Path, db_url: &str) -> Result<Daemon, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("spawn cloutd: {e}"))?;
    let stderr = child.stderr.take().expect("stderr pipe");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel::<()>();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let ready = line.contains("cloutd ready");
            if let Ok(mut l) = sink.lock() {
                l.push_str(&line);
                l.push('\n');
            }
            if ready && let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => Ok(Daemon { child, socket: socket.to_path_buf(), db_url: db_url.to_string(), log }),
        Err(_) => {
            // Exited (or hung): give the reader a moment to collect the last lines.
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
            let text = log.lock().map(|l| l.clone()).unwrap_or_default();
            Err(text)
        }
    }
}

impl Daemon {
    /// The address of the TCP listener (`--listen`), from the log line that
    /// announces it.
    pub fn tcp_addr(&self) -> String {
        assert!(self.wait_log("listening on TCP", Duration::from_secs(30)), "{}", self.log());
        let log = self.log();
        let line = log.lines().find(|l| l.contains("listening on TCP")).expect("line");
        line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).expect("addr=").to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the daemon with SIGKILL and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: i32) {
        #[allow(unsafe_code)]
        // SAFETY: kill(2) with a child's pid and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// SIGTERM, then wait for the exit (at most `limit`).
    pub fn stop(mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the log holds `needle`; false when it does not within `limit`.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The output lines of a background process, read as they come.
pub struct Lines {
    pub child: Child,
    rx: Receiver<String>,
}

impl Lines {
    pub fn spawn(cmd: &mut Command) -> Lines {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn");
        let stdout = child.stdout.take().expect("stdout pipe");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { child, rx }
    }

    /// The next line, or None when none comes within `limit` or the process ended.
    pub fn next(&self, limit: Duration) -> Option<String> {
        self.rx.recv_timeout(limit).ok()
    }

    /// The next JSON line of the given `kind`, skipping others; panics when none comes within `limit`.
    pub fn next_of_kind(&self, kind: &str, limit: Duration) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.next_json(left);
            if v["kind"] == kind {
                return v;
            }
        }
    }

    /// The next line parsed as JSON; panics when none comes within `limit`.
    pub fn next_json(&self, limit: Duration) -> serde_json::Value {
        let line = self.next(limit).expect("no line arrived in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a secret (a token, an app password) to `dir/name` with mode 0600,
/// as cloutd requires of secret files, and returns its path.
pub fn write_secret(dir: &Path, name: &str, value: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Throwaway PostgreSQL databases for tests.
///
/// The server is `CLOUT_TEST_PG_URL`, else the local one
/// (`postgres://postgres@127.0.0.1:5432/test`). Without a reachable server,
/// [`pg::TestDb::create`] prints why and returns `None` (the test skips),
/// unless `CI=true`: then it fails.
pub mod pg {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use sqlx::{Connection, PgConnection};

    pub fn admin_url() -> String {
        std::env::var("CLOUT_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// A fresh database, dropped by [`TestDb::drop_now`] (or, best effort, on drop).
    pub struct TestDb {
        pub url: String,
        admin: String,
        name: String,
        dropped: bool,
    }

    impl TestDb {
        /// Creates `clout_<prefix>_<pid>_<n>`.
        pub async fn create(prefix: &str) -> Option<TestDb> {
            static N: AtomicU32 = AtomicU32::new(0);
            let admin = admin_url();
            let mut conn = match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin))
                .await
            {
                Ok(Ok(c)) => c,
                other => {
                    let why = match other {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".into(),
                    };
                    if std::env::var("CI").as_deref() == Ok("true") {
                        panic!("PostgreSQL at {admin} is not reachable ({why}) and CI=true");
                    }
                    eprintln!(
                        "skipping PostgreSQL tests: {admin} is not reachable ({why}); set CLOUT_TEST_PG_URL"
                    );
                    return None;
                }
            };
            let name = format!("clout_{prefix}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let url = match admin.rsplit_once('/') {
                Some((base, _)) => format!("{base}/{name}"),
                None => panic!("CLOUT_TEST_PG_URL must name a database"),
            };
            Some(TestDb { url, admin, name, dropped: false })
        }

        pub async fn drop_now(mut self) {
            drop_database(&self.admin, &self.name).await;
            self.dropped = true;
        }
    }

    async fn drop_database(admin: &str, name: &str) {
        if let Ok(mut c) = PgConnection::connect(admin).await {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if self.dropped {
                return;
            }
            let (admin, name) = (self.admin.clone(), self.name.clone());
            // A runtime of its own on a thread of its own: drop may run inside another runtime.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(drop_database(&admin, &name));
                }
            })
            .join();
        }
    }
}
