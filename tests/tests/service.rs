//! Running cloutd as a service: the systemd units, sd_notify and the watchdog,
//! socket activation, journal logs, who may connect (SO_PEERCRED and the
//! allowed group), TCP with TLS and a bearer token, request size limits,
//! SIGHUP and SIGTERM, completions and man pages.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clout_e2e::{Daemon, Home, bin, daemon_command, spawn_daemon, stderr, stdout};

const WAIT: Duration = Duration::from_secs(30);

/// Skips a test that cannot run here, with the reason, unless CI=true, where
/// every test must run.
fn skip(reason: &str) {
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "cannot run under CI=true: {reason}");
    eprintln!("SKIPPED: {reason}");
}

fn is_root() -> bool {
    clout_proto::current_uid() == 0
}

/// Writes a file that only its owner can read (mode 0600).
fn write_private(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("create private file");
    f.write_all(text.as_bytes()).expect("write private file");
}

/// A fresh random token (40 hex digits from /dev/urandom).
fn token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 20];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("/dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Runs `clout ARGS` with extra environment (and no CLOUT_SOCKET unless given).
fn clout_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(bin("clout"));
    cmd.args(args).env("NO_COLOR", "1").env("TZ", "UTC").env_remove("CLOUT_SOCKET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).output().expect("run clout")
}

// ---- systemd units ----------------------------------------------------------

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("dist").join("systemd")
}

fn unit(path: &str) -> String {
    std::fs::read_to_string(dist().join(path)).unwrap_or_else(|e| panic!("dist/systemd/{path}: {e}"))
}

/// `KEY=VALUE` lines of a unit, in order.
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect()
}

fn has(text: &str, key: &str, value: &str) -> bool {
    settings(text).iter().any(|(k, v)| k == key && v == value)
}

#[test]
fn the_units_are_notify_services_and_hardened() {
    for (path, system) in [("user/cloutd.service", false), ("system/cloutd.service", true)] {
        let text = unit(path);
        for (k, v) in [
            ("Type", "notify"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("PrivateTmp", "yes"),
            ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
            ("RuntimeDirectory", "clout"),
            ("StateDirectory", "clout"),
            ("ExecReload", "/bin/kill -HUP $MAINPID"),
            ("WatchdogSec", "30s"),
            ("RuntimeDirectoryPreserve", "yes"),
        ] {
            assert!(has(&text, k, v), "{path} lacks {k}={v}");
        }
        if system {
            for (k, v) in [
                ("User", "clout"),
                ("Group", "clout"),
                ("ProtectHome", "yes"),
                ("Environment", "CLOUT_SOCKET=/run/clout/cloutd.sock"),
                ("Environment", "CLOUT_ALLOWED_GROUP=clout"),
                ("RuntimeDirectoryMode", "0750"),
                ("CapabilityBoundingSet", ""),
            ] {
                assert!(has(&text, k, v), "{path} lacks {k}={v}");
            }
            // PrivateUsers would turn every peer into nobody and break the group check.
            assert!(!settings(&text).iter().any(|(k, _)| k == "PrivateUsers"), "{path}");
        }
    }
    let user_socket = unit("user/cloutd.socket");
    assert!(has(&user_socket, "ListenStream", "%t/clout/cloutd.sock"));
    assert!(has(&user_socket, "SocketMode", "0600"));
    let system_socket = unit("system/cloutd.socket");
    assert!(has(&system_socket, "ListenStream", "/run/clout/cloutd.sock"));
    assert!(has(&system_socket, "SocketGroup", "clout"));
    assert!(has(&system_socket, "SocketMode", "0660"));
    assert!(unit("system/clout.sysusers").lines().any(|l| l.starts_with("u clout ")));
}

/// Finds systemd-analyze, installing Debian's systemd package when running as root.
fn systemd_analyze() -> Option<PathBuf> {
    let find = || {
        ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].iter().map(PathBuf::from).find(|p| p.exists())
    };
    if let Some(p) = find() {
        return Some(p);
    }
    if !is_root() {
        skip("systemd-analyze is missing and installing it needs root (apt-get install systemd)");
        return None;
    }
    eprintln!("installing Debian's systemd package for systemd-analyze…");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !(apt(&["install", "-y", "-q", "--no-install-recommends", "systemd"])
        || (apt(&["update", "-q"]) && apt(&["install", "-y", "-q", "--no-install-recommends", "systemd"])))
    {
        skip("systemd-analyze is missing and apt-get install systemd failed");
        return None;
    }
    find()
}

/// `systemd-analyze verify` on copies of the units whose ExecStart points at
/// the cloutd just built (verify refuses a command that does not exist). It
/// checks the unit syntax, every key and value, the specifiers, and that the
/// command is executable; it does not start anything. Any line it prints about
/// these units (e.g. "Unknown key") fails the test, not only its exit status.
#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let cloutd = bin("cloutd");
    for (kind, user) in [("user", true), ("system", false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["cloutd.service", "cloutd.socket"] {
            let text = unit(&format!("{kind}/{name}"))
                .replace("%h/.cargo/bin/cloutd", &cloutd.display().to_string())
                .replace("/usr/local/bin/cloutd", &cloutd.display().to_string());
            std::fs::write(dir.path().join(name), text).expect("write unit");
        }
        let runtime = tempfile::tempdir().expect("runtime dir");
        let mut cmd = Command::new(&analyze);
        if user {
            // A user manager needs a runtime directory to resolve %t.
            cmd.arg("--user").env("XDG_RUNTIME_DIR", runtime.path());
        }
        let out = cmd
            .arg("verify")
            .arg(dir.path().join("cloutd.service"))
            .arg(dir.path().join("cloutd.socket"))
            .stdin(Stdio::null())
            .output()
            .expect("run systemd-analyze");
        let text = format!("{}{}", stdout(&out), stderr(&out));
        let about_ours: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&dir.path().display().to_string()) || l.starts_with("cloutd."))
            .collect();
        assert!(out.status.success(), "systemd-analyze verify failed for the {kind} units:\n{text}");
        assert!(
            about_ours.is_empty(),
            "systemd-analyze complained about the {kind} units:\n{}",
            about_ours.join("\n")
        );
    }
}

// ---- sd_notify, watchdog, socket activation, journal --------------------------

/// cloutd started through `sh -c '<prefix> exec cloutd …'`, so that `$$` is cloutd's pid.
fn through_sh(prefix: &str, home: &Home, extra: &[&str]) -> Command {
    let base = daemon_command(&home.socket(), &home.db_url());
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{prefix} exec \"$0\" \"$@\""))
        .arg(base.get_program())
        .args(base.get_args())
        .args(extra);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

#[test]
fn sd_notify_sends_ready_watchdog_pings_and_stopping() {
    let home = Home::new();
    let notify_path = home.dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).expect("notify socket");
    notify.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut cmd = through_sh("WATCHDOG_PID=$$", &home, &[]);
    cmd.env("NOTIFY_SOCKET", &notify_path).env("WATCHDOG_USEC", "200000");
    let d = spawn_daemon(cmd, &home.socket(), &home.db_url()).expect("cloutd did not start");
    let mut buf = [0u8; 4096];
    let mut recv = || {
        let n = notify.recv(&mut buf).expect("no notification arrived");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = recv();
    assert!(first.lines().any(|l| l == "READY=1"), "first notification: {first:?}");
    // READY comes after the socket is bound: clout can connect right away.
    assert!(home.clout(&["status"]).status.success());
    // WATCHDOG_USEC=200 ms: pings every 100 ms.
    let pings = (0..3).map(|_| recv()).filter(|m| m.trim() == "WATCHDOG=1").count();
    assert_eq!(pings, 3);
    d.signal(libc::SIGTERM);
    let stopping = (0..20).map(|_| recv()).find(|m| m.lines().any(|l| l == "STOPPING=1"));
    assert!(stopping.is_some(), "no STOPPING=1 after SIGTERM");
}

#[test]
fn socket_activation_serves_the_inherited_socket_and_leaves_it_in_place() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let home = Home::new();
    let activated = home.dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&activated).expect("bind");
    let fd = listener.as_raw_fd();
    let mut cmd = through_sh("LISTEN_FDS=1 LISTEN_PID=$$", &home, &[]);
    #[allow(unsafe_code)]
    // SAFETY: between fork and exec only dup2 and fcntl run, both async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if fd != 3 && libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The passed socket must survive exec.
            if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let d = spawn_daemon(cmd, &activated, &home.db_url()).expect("cloutd did not start");
    assert!(d.log().contains("activated=true"), "{}", d.log());
    let out = clout_env(&["--json", "status"], &[("CLOUT_SOCKET", &activated)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["socket"], activated.display().to_string());
    // cloutd did not bind a socket of its own.
    assert!(!home.socket().exists());
    let code = d.stop(Duration::from_secs(10)).expect("cloutd did not stop");
    assert!(code.success());
    // The socket belongs to systemd: it stays for the next activation.
    assert!(activated.exists());
    drop(listener);
}

/// The log of a daemon after it stopped: SIGTERM, wait, then read what it wrote.
fn stop_and_log(d: Daemon) -> String {
    let log = d.log.clone();
    let status = d.stop(Duration::from_secs(10)).expect("cloutd did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");
    let start = Instant::now();
    loop {
        let text = log.lock().map(|l| l.clone()).unwrap_or_default();
        if text.contains("stopped") || start.elapsed() > WAIT {
            return text;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn under_the_journal_lines_carry_a_priority_and_no_timestamp() {
    let home = Home::new();
    let mut cmd = daemon_command(&home.socket(), &home.db_url());
    cmd.env("JOURNAL_STREAM", "8:12345");
    let text = stop_and_log(spawn_daemon(cmd, &home.socket(), &home.db_url()).expect("cloutd did not start"));
    assert!(text.lines().any(|l| l.starts_with("<6>") && l.contains("cloutd ready")), "{text}");
    for line in text.lines() {
        let rest = line
            .strip_prefix('<')
            .and_then(|r| r.split_once('>'))
            .filter(|(p, _)| p.len() == 1 && p.chars().all(|c| c.is_ascii_digit()))
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("no <N> priority prefix: {line:?}"));
        // The journal stamps lines itself: no timestamp of ours.
        assert!(!rest.trim_start().starts_with(|c: char| c.is_ascii_digit()), "timestamp in {line:?}");
    }
    // Outside the journal, lines start with a timestamp.
    let home = Home::new();
    let text = stop_and_log(home.start());
    assert!(text.lines().all(|l| l.starts_with("20")), "{text}");
}
