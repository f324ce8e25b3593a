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

use clout_e2e::{Daemon, Home, bin, daemon_command, is_root, skip, spawn_daemon, stderr, stdout};

const WAIT: Duration = Duration::from_secs(30);

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
            ("WatchdogSec", "30s"),
            ("RuntimeDirectoryPreserve", "yes"),
            ("LimitNOFILE", "65536"),
        ] {
            assert!(has(&text, k, v), "{path} lacks {k}={v}");
        }
        // `kill -HUP` returns before the reload is applied; `cloutd --reload` waits for it.
        let exec_reload = settings(&text).into_iter().find(|(k, _)| k == "ExecReload").map(|(_, v)| v);
        assert!(exec_reload.as_deref().is_some_and(|v| v.ends_with("cloutd --reload $MAINPID")), "{path}");
        if !system {
            // systemd ≤ 252 needs it for the sandboxing in a user manager (else 218/CAPABILITIES).
            assert!(has(&text, "PrivateUsers", "yes"), "{path}");
            // A user unit's StateDirectory= is ~/.config on systemd ≤ 253: the unit names the directory.
            assert!(!settings(&text).iter().any(|(k, _)| k == "StateDirectory"), "{path}");
            assert!(has(&text, "Environment", "STATE_DIRECTORY=%h/.local/state/clout"), "{path}");
            assert!(has(&text, "ReadWritePaths", "%h/.local/state/clout"), "{path}");
        }
        if system {
            assert!(has(&text, "StateDirectory", "clout"), "{path}");
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
    // /run/clout open to the group from boot on, before cloutd.socket binds in it.
    assert!(unit("system/clout.tmpfiles").lines().any(|l| l.trim() == "d /run/clout 0750 clout clout -"));
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
/// command is executable; it does not start anything, and it does not check
/// that the man page named by Documentation= is installed (--man=no). Any line it prints about
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
            // Documentation=man:cloutd(1) names a page installed by hand (cloutd --man).
            .arg("--man=no")
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

/// `cloutd --reload PID` (the units' ExecReload=) returns only after the reload:
/// by then cloutd has said RELOADING=1 with MONOTONIC_USEC= and READY=1 again.
#[test]
fn reload_says_reloading_then_ready_and_cloutd_reload_waits_for_it() {
    let home = Home::new();
    let notify_path = home.dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).expect("notify socket");
    notify.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let runtime = home.dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let mut cmd = daemon_command(&home.socket(), &home.db_url());
    cmd.env("NOTIFY_SOCKET", &notify_path).env("RUNTIME_DIRECTORY", &runtime);
    let d = spawn_daemon(cmd, &home.socket(), &home.db_url()).expect("cloutd did not start");
    let mut buf = [0u8; 4096];
    let n = notify.recv(&mut buf).expect("no notification arrived");
    assert!(String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "READY=1"));
    for _ in 0..2 {
        let out = Command::new(bin("cloutd"))
            .arg("--reload")
            .arg(d.pid().to_string())
            .env("RUNTIME_DIRECTORY", &runtime)
            .stdin(Stdio::null())
            .output()
            .expect("run cloutd --reload");
        assert!(out.status.success(), "cloutd --reload failed: {}", stderr(&out));
        // Both were sent before --reload returned.
        notify.set_nonblocking(true).expect("nonblocking");
        let mut sent = Vec::new();
        while let Ok(n) = notify.recv(&mut buf) {
            sent.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        notify.set_nonblocking(false).expect("blocking");
        let reloading = sent.iter().position(|m| m.lines().any(|l| l == "RELOADING=1"));
        let ready = sent.iter().rposition(|m| m.lines().any(|l| l == "READY=1"));
        assert!(matches!((reloading, ready), (Some(a), Some(b)) if a < b), "notifications: {sent:?}");
        let usec = sent[reloading.unwrap_or_default()]
            .lines()
            .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
            .and_then(|v| v.parse::<u64>().ok());
        assert!(usec.is_some_and(|u| u > 0), "no MONOTONIC_USEC= with RELOADING=1: {sent:?}");
        assert!(d.wait_log("configuration reloaded", WAIT), "{}", d.log());
    }
    // Without RUNTIME_DIRECTORY there is nothing to wait on: a clear refusal.
    let out = Command::new(bin("cloutd"))
        .arg("--reload")
        .arg(d.pid().to_string())
        .env_remove("RUNTIME_DIRECTORY")
        .output()
        .expect("run cloutd --reload");
    assert!(!out.status.success() && stderr(&out).contains("RUNTIME_DIRECTORY"), "{}", stderr(&out));
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

// ---- who may connect: SO_PEERCRED and the allowed group ---------------------

/// Runs `clout ARGS` as another user (uid, gid, no supplementary groups).
fn clout_as(clout: &Path, uid: u32, gid: u32, socket: &Path, args: &[&str]) -> Output {
    clout_e2e::clout_as(clout, uid, gid, socket, args, b"")
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// As root: a peer of another uid is rejected and logged; after SIGHUP with
/// `allowed_group` set to its gid it is accepted, and a peer outside the group
/// still is not. The socket and its directory are opened up in the test so that
/// the connection reaches the SO_PEERCRED check at all.
#[test]
fn peers_of_another_uid_are_rejected_unless_in_the_allowed_group() {
    if !is_root() {
        return skip("needs root, to run clout as another user (setpriv)");
    }
    let home = Home::new();
    chmod(home.dir.path(), 0o755);
    // A copy of clout that nobody can execute, wherever the build directory is.
    let clout = home.dir.path().join("clout");
    std::fs::copy(bin("clout"), &clout).expect("copy clout");
    chmod(&clout, 0o755);
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, "").expect("config");
    let d = home.start_with(&["--config", config.to_str().expect("utf-8")]).expect("cloutd did not start");
    let sock = home.socket();
    chmod(sock.parent().expect("dir"), 0o777);
    chmod(&sock, 0o666);

    let out = clout_as(&clout, 65534, 65534, &sock, &["status"]);
    assert!(!out.status.success(), "another uid was let in: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("closed the connection") && err.contains("uid 65534"), "{err}");
    assert!(d.wait_log("peer_uid=65534", WAIT), "no rejection in the log:\n{}", d.log());
    assert!(d.log().contains("rejected a connection from another user"), "{}", d.log());

    // Let gid 65534 in, live.
    std::fs::write(&config, "allowed_group = \"65534\"\n").expect("config");
    d.signal(libc::SIGHUP);
    assert!(d.wait_log("configuration reloaded", WAIT), "{}", d.log());
    let meta = std::fs::metadata(&sock).expect("socket");
    assert_eq!((meta.mode() & 0o777, meta.gid()), (0o660, 65534), "socket not opened to the group");
    let dir = std::fs::metadata(sock.parent().expect("dir")).expect("dir");
    assert_eq!((dir.mode() & 0o777, dir.gid()), (0o750, 65534), "directory not opened to the group");
    let out = clout_as(&clout, 65534, 65534, &sock, &["--json", "status"]);
    assert!(out.status.success(), "a member of the allowed group was refused: {}", stderr(&out));
    // A member may add sinks, but not a command hook, which would run as cloutd's user.
    let out = clout_as(&clout, 65534, 65534, &sock, &["sink", "add", "command", "--", "/bin/true"]);
    assert!(!out.status.success(), "a group member added a command hook");
    let err = stderr(&out);
    assert!(err.contains("only that user may add them") && err.contains("you are uid 65534"), "{err}");
    assert!(d.wait_log("refused a command hook", WAIT), "{}", d.log());
    let out = clout_as(&clout, 65534, 65534, &sock, &["sink", "add", "desktop"]);
    assert!(out.status.success(), "a group member could not add a desktop sink: {}", stderr(&out));
    let sinks = home.json(&["sink", "list"]);
    assert_eq!(sinks.as_array().map(Vec::len), Some(1), "{sinks}");
    assert_eq!(sinks[0]["kind"], "desktop");

    // Someone outside the group still is not: uid 4242 with gid 4242 has no user
    // entry, so the group database gives it no groups either. (nobody with another
    // gid would pass: its passwd entry's primary group is 65534.)
    chmod(sock.parent().expect("dir"), 0o777);
    chmod(&sock, 0o666);
    let out = clout_as(&clout, 4242, 4242, &sock, &["status"]);
    assert!(!out.status.success(), "an outsider was let in: {}", stdout(&out));
    assert!(d.wait_log("not in the allowed group", WAIT), "{}", d.log());
    assert!(d.log().contains("peer_uid=4242"), "{}", d.log());
}

#[test]
fn an_unknown_allowed_group_stops_the_start_with_a_clear_message() {
    let home = Home::new();
    let err = home.start_with(&["--allowed-group", "no-such-group-for-clout"]).err().expect("started");
    assert!(err.contains("does not exist") && err.contains("groupadd"), "{err}");
}

// ---- SIGHUP -----------------------------------------------------------------

#[test]
fn sighup_reloads_the_config_and_keeps_the_running_one_when_it_is_broken() {
    let home = Home::new();
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, "log = \"info\"\n").expect("config");
    let mut cmd = daemon_command(&home.socket(), &home.db_url());
    cmd.arg("--config").arg(&config).env_remove("RUST_LOG");
    let d = spawn_daemon(cmd, &home.socket(), &home.db_url()).expect("cloutd did not start");

    std::fs::write(&config, "log = \"info\"\nnot toml at all\n").expect("config");
    d.signal(libc::SIGHUP);
    assert!(d.wait_log("keeping the current one", WAIT), "{}", d.log());
    assert!(home.clout(&["status"]).status.success(), "cloutd stopped serving after a broken reload");

    std::fs::write(&config, "log = \"info\"\nallowed_group = \"no-such-group-for-clout\"\n").expect("config");
    d.signal(libc::SIGHUP);
    assert!(d.wait_log("does not exist", WAIT), "{}", d.log());
    assert!(!d.log().contains("configuration reloaded"));

    // A good one applies: the log filter changes live.
    std::fs::write(&config, "log = \"clout_daemon=debug,info\"\n").expect("config");
    d.signal(libc::SIGHUP);
    assert!(d.wait_log("configuration reloaded", WAIT), "{}", d.log());
    assert!(d.log().contains("log filter changed"), "{}", d.log());
    // A listener it cannot open live is named, with what to do.
    std::fs::write(
        &config,
        "log = \"clout_daemon=debug,info\"\n[calendar]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"/nonexistent\"\n",
    )
    .expect("config");
    d.signal(libc::SIGHUP);
    assert!(
        d.wait_log("[calendar] changed in the configuration; restart cloutd to apply it", WAIT),
        "{}",
        d.log()
    );
    let text = stop_and_log(d);
    // A debug line that only the new filter lets through.
    assert!(text.contains("scheduler stopped"), "{text}");
}

// ---- TCP --------------------------------------------------------------------

fn start_err(home: &Home, extra: &[&str]) -> String {
    match home.start_with(extra) {
        Ok(_) => panic!("cloutd started with {extra:?}"),
        Err(log) => log,
    }
}

#[test]
fn tcp_without_tls_is_refused_except_an_explicitly_insecure_loopback() {
    let home = Home::new();
    let tok = home.dir.path().join("token");
    let secret = token();
    write_private(&tok, &secret);
    let tok_s = tok.to_str().expect("utf-8");

    for (args, expect) in [
        (
            vec!["--listen", "127.0.0.1:0", "--token-file", tok_s],
            "refusing to listen on 127.0.0.1:0 without TLS",
        ),
        (vec!["--listen", "0.0.0.0:0", "--token-file", tok_s], "without TLS"),
        (vec!["--listen", "0.0.0.0:0", "--token-file", tok_s, "--insecure-loopback"], "only loopback"),
        (vec!["--listen", "127.0.0.1:0", "--insecure-loopback"], "--token-file"),
        (vec!["--insecure-loopback"], "--listen"),
    ] {
        let start = Instant::now();
        let mut cmd = daemon_command(&home.socket(), &home.db_url());
        let out = cmd.args(&args).stdin(Stdio::null()).output().expect("run cloutd");
        assert!(!out.status.success(), "{args:?} started");
        let err = stderr(&out);
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(20));
        assert!(!home.socket().exists(), "{args:?} left a socket behind");
    }

    // Loopback with --insecure-loopback: plaintext, but the token is still required.
    let d = home
        .start_with(&["--listen", "127.0.0.1:0", "--insecure-loopback", "--token-file", tok_s])
        .expect("start");
    let addr = d.tcp_addr();
    assert!(d.log().contains("plaintext"), "{}", d.log());
    let endpoint = format!("http://{addr}");
    let out = clout_env(&["--endpoint", &endpoint, "--token-file", tok_s, "--json", "status"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = home.dir.path().join("bad-token");
    write_private(&bad, &token());
    let out =
        clout_env(&["--endpoint", &endpoint, "--token-file", bad.to_str().expect("utf-8"), "status"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("refused this client"), "{}", stderr(&out));
    // The client will not send a token in the clear to another host.
    let out = clout_env(&["--endpoint", "http://192.0.2.1:7478", "--token-file", tok_s, "status"], &[]);
    assert!(stderr(&out).contains("refusing to send the token"), "{}", stderr(&out));
}

#[test]
fn the_token_file_must_be_private() {
    let home = Home::new();
    let tok = home.dir.path().join("token");
    write_private(&tok, &token());
    chmod(&tok, 0o644);
    let tok_s = tok.to_str().expect("utf-8");
    let err = start_err(&home, &["--listen", "127.0.0.1:0", "--insecure-loopback", "--token-file", tok_s]);
    assert!(err.contains("mode 0644") && err.contains("chmod 600"), "{err}");
    // The client checks its copy the same way.
    let out = clout_env(&["--endpoint", "https://127.0.0.1:1", "--token-file", tok_s, "status"], &[]);
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    // And a short token is refused.
    write_private(&tok, "short");
    chmod(&tok, 0o600);
    let err = start_err(&home, &["--listen", "127.0.0.1:0", "--insecure-loopback", "--token-file", tok_s]);
    assert!(err.contains("at least 16"), "{err}");
}

struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it.
fn make_tls(dir: &Path) -> TlsFiles {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "clout test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA");
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "cloutd");
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca).expect("sign");
    let files = TlsFiles { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    std::fs::write(&files.ca, ca.pem()).expect("write CA");
    std::fs::write(&files.cert, cert.pem()).expect("write cert");
    write_private(&files.key, &key.serialize_pem());
    files
}

#[test]
fn tls_with_the_right_token_is_accepted_and_a_wrong_token_is_rejected() {
    let home = Home::new();
    let tls = make_tls(home.dir.path());
    let tok = home.dir.path().join("token");
    let secret = token();
    write_private(&tok, &secret);
    let s = |p: &Path| p.to_str().expect("utf-8").to_string();
    let d = home
        .start_with(&[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &s(&tls.cert),
            "--tls-key",
            &s(&tls.key),
            "--token-file",
            &s(&tok),
        ])
        .expect("cloutd did not start with TLS");
    let addr = d.tcp_addr();
    assert!(d.log().contains("tls=true"), "{}", d.log());
    let endpoint = format!("https://{addr}");
    let remote = |token_file: &Path, args: &[&str]| {
        let mut all = vec!["--endpoint", &endpoint, "--token-file", token_file.to_str().expect("utf-8")];
        all.extend_from_slice(&["--ca", tls.ca.to_str().expect("utf-8")]);
        all.extend_from_slice(args);
        clout_env(&all, &[])
    };

    // The right token: everything works, streaming included.
    let out = remote(&tok, &["--json", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    let out = remote(&tok, &["--json", "draft", "add", "over TLS", "--at", "in 1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = remote(&tok, &["--json", "watch", "--after", "0", "-n", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("over TLS"), "{}", stdout(&out));
    // A command hook would run as cloutd's user: not from a remote client, token or not.
    let out = remote(&tok, &["sink", "add", "command", "--", "/bin/true"]);
    assert!(!out.status.success(), "a remote client added a command hook");
    assert!(stderr(&out).contains("only that user may add them"), "{}", stderr(&out));
    assert!(remote(&tok, &["sink", "add", "desktop"]).status.success());
    let sinks = home.json(&["sink", "list"]);
    assert_eq!(sinks.as_array().map(Vec::len), Some(1), "{sinks}");
    assert_eq!(sinks[0]["kind"], "desktop");
    assert!(home.clout(&["sink", "add", "command", "--", "/bin/true"]).status.success());

    // A wrong token: refused, and logged with the peer's address.
    let bad = home.dir.path().join("bad-token");
    write_private(&bad, &token());
    let out = remote(&bad, &["status"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("refused this client") && err.contains("bearer token"), "{err}");
    assert!(d.wait_log("rejected a TCP request with a wrong bearer token", WAIT), "{}", d.log());

    // Without the CA, the self-signed chain is not trusted.
    let out = clout_env(&["--endpoint", &endpoint, "--token-file", &s(&tok), "status"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot reach cloutd"), "{}", stderr(&out));

    // Straight through gRPC: no token at all is Unauthenticated, on every service.
    rt().block_on(async {
        let ch = clout_proto::connect_tcp(&endpoint, Some(&tls.ca), Duration::from_secs(5))
            .await
            .expect("connect");
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let e = health
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .expect_err("health without a token");
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        // A stream with a wrong token is refused too.
        let wrong = clout_proto::BearerAuth::new(&token()).expect("token");
        let mut nudges =
            clout_proto::v1::nudge_service_client::NudgeServiceClient::with_interceptor(ch.clone(), wrong);
        let e = nudges
            .watch(clout_proto::v1::WatchRequest { after_id: Some(0) })
            .await
            .expect_err("watch with a wrong token");
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        // And the right one gets the stream.
        let right = clout_proto::BearerAuth::new(&secret).expect("token");
        let mut nudges =
            clout_proto::v1::nudge_service_client::NudgeServiceClient::with_interceptor(ch, right);
        let mut stream = nudges
            .watch(clout_proto::v1::WatchRequest { after_id: Some(0) })
            .await
            .expect("watch with the token")
            .into_inner();
        let first = stream.message().await.expect("stream").expect("a nudge");
        assert!(first.message.contains("over TLS"), "{first:?}");
    });
    // A plaintext client on the TLS port gets nowhere.
    let out = clout_env(&["--endpoint", &format!("http://{addr}"), "--token-file", &s(&tok), "status"], &[]);
    assert!(!out.status.success());
}

// ---- request size -------------------------------------------------------------

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS value")
}

/// tonic reads the 5-byte gRPC length prefix and refuses a message over the
/// limit before reading its body; the daemon's memory shows it did not buffer it.
#[test]
fn oversized_requests_are_rejected_without_being_buffered() {
    let home = Home::new();
    let d = home.start();
    let pid = d.child.id();
    rt().block_on(async {
        let ch = clout_proto::connect_unix(&home.socket(), Duration::from_secs(5)).await.expect("connect");
        let mut drafts = clout_proto::v1::draft_service_client::DraftServiceClient::new(ch);
        // Just over the 256 KiB limit.
        let req = clout_proto::v1::AddDraftRequest { text: "a".repeat(256 * 1024 + 1), ..Default::default() };
        let e = drafts.add_draft(req).await.expect_err("accepted 256 KiB + 1");
        assert_eq!(e.code(), tonic::Code::OutOfRange, "{e:?}");
        let before = rss_kib(pid);
        let req =
            clout_proto::v1::AddDraftRequest { text: "b".repeat(64 * 1024 * 1024), ..Default::default() };
        let e = drafts.add_draft(req).await.expect_err("accepted 64 MiB");
        assert!(
            matches!(e.code(), tonic::Code::OutOfRange | tonic::Code::Cancelled | tonic::Code::Unknown),
            "{e:?}"
        );
        let after = rss_kib(pid);
        assert!(
            after < before + 16 * 1024,
            "cloutd grew from {before} KiB to {after} KiB on a refused 64 MiB request"
        );
    });
    assert!(home.clout(&["status"]).status.success());
    assert_eq!(home.json(&["draft", "list"]).as_array().map(Vec::len), Some(0));
}

// ---- SIGTERM during a burst ---------------------------------------------------

/// 2,000 drafts come due at one instant; SIGTERM arrives at that instant, as
/// the scheduler starts firing them (in batches of 500). cloutd exits 0 within
/// 5 s, and after a restart (which fires whatever was left) the nudge log holds
/// every draft exactly once.
#[test]
fn sigterm_during_a_burst_of_due_items_loses_nothing() {
    const N: usize = 2000;
    let home = Home::new();
    let d = home.start();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("rt");
    // Due far enough ahead for the adds to finish (they are checked to have).
    let due = chrono::Utc::now() + chrono::Duration::seconds(25);
    let started = Instant::now();
    let ids: BTreeSet<i64> = runtime.block_on(async {
        let ch = clout_proto::connect_unix(&home.socket(), Duration::from_secs(5)).await.expect("connect");
        let mut tasks = Vec::new();
        for t in 0..8 {
            let ch = ch.clone();
            tasks.push(tokio::spawn(async move {
                let mut drafts = clout_proto::v1::draft_service_client::DraftServiceClient::new(ch);
                let mut ids = Vec::new();
                for i in (t..N).step_by(8) {
                    let req = clout_proto::v1::AddDraftRequest {
                        text: format!("burst draft {i}"),
                        at: Some(clout_proto::ts(due)),
                        ..Default::default()
                    };
                    ids.push(drafts.add_draft(req).await.expect("add draft").into_inner().id);
                }
                ids
            }));
        }
        let mut all = BTreeSet::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        all
    });
    assert_eq!(ids.len(), N);
    assert!(chrono::Utc::now() < due, "adding {N} drafts took {:?}, past their due time", started.elapsed());
    let status = home.json(&["status"]);
    assert_eq!(status["pending_items"], N as u64, "{status}");

    // SIGTERM at the due instant, as the scheduler wakes up to fire the burst.
    if let Ok(wait) = (due - chrono::Utc::now()).to_std() {
        std::thread::sleep(wait);
    }
    let log = d.log.clone();
    let signalled = Instant::now();
    let exit = d.stop(Duration::from_secs(5));
    let took = signalled.elapsed();
    let exit = exit.unwrap_or_else(|| panic!("cloutd did not exit within 5 s of SIGTERM"));
    assert!(exit.success(), "cloutd exited with {exit:?}");
    let fired_before = log.lock().map(|l| l.matches(" nudge=").count()).unwrap_or(0);
    eprintln!("stopped in {took:?}; {fired_before} of {N} fired before the stop");

    let _d = home.start();
    let start = Instant::now();
    let nudges = loop {
        let all = home.json(&["nudges", "--all"]);
        let all = all.as_array().cloned().expect("array");
        if all.len() >= N || start.elapsed() > WAIT {
            break all;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let drafts: Vec<i64> = nudges.iter().filter_map(|n| n["draft_id"].as_i64()).collect();
    let unique: BTreeSet<i64> = drafts.iter().copied().collect();
    assert_eq!(drafts.len(), N, "the log holds {} nudges for {N} drafts", drafts.len());
    assert_eq!(unique, ids, "some drafts fired twice or never");
    assert_eq!(home.json(&["status"])["pending_items"], 0);
}

// ---- completions, man pages, versions -------------------------------------------

#[test]
fn completions_man_pages_and_versions() {
    let run = |name: &str, args: &[&str]| {
        let out = Command::new(bin(name)).args(args).env("NO_COLOR", "1").output().expect("run");
        assert!(out.status.success(), "{name} {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    // The scripts call back into clout, which completes from its command tree.
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let text = run("clout", &["completions", shell]);
        assert!(text.contains("COMPLETE"), "{shell}: {text}");
    }
    let complete = |words: &[&str]| {
        let out =
            Command::new(bin("clout")).arg("--").args(words).env("COMPLETE", "fish").output().expect("run");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let flags = complete(&["clout", "status", "--"]);
    for word in ["--endpoint", "--token-file"] {
        assert!(flags.contains(word), "completions lack {word}: {flags}");
    }
    let commands = complete(&["clout", ""]);
    for word in ["status", "completions"] {
        assert!(commands.lines().any(|l| l.starts_with(word)), "completions lack {word}: {commands}");
    }
    let man = run("clout", &["man"]);
    assert!(man.contains(".TH clout") && man.contains("endpoint"), "{man}");
    let man = run("cloutd", &["--man"]);
    assert!(man.contains(".TH cloutd"), "{man}");
    for flag in ["listen", "tls\\-cert", "token\\-file", "insecure\\-loopback", "allowed\\-group"] {
        assert!(man.contains(flag), "cloutd's man page lacks {flag}");
    }
    let version = format!("{}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(run("cloutd", &["--version"]), format!("cloutd {version}"));
    assert_eq!(run("clout", &["--version"]), format!("clout {version}"));
}
