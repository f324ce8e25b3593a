//! cloutd under connection floods: thousands of idle connections on the Unix
//! socket, on TCP, and more than it has file descriptors for. The owner's
//! requests keep working, cloutd does not spin, and the idle connections are
//! closed.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clout_e2e::{Daemon, Home, daemon_command, is_root, skip, spawn_daemon, stderr};

const WAIT: Duration = Duration::from_secs(30);

/// One flood at a time: run side by side in one test process, one test's
/// thousands of connections and forked clients change what the others measure.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets RLIMIT_NOFILE (soft and hard) of the calling process.
fn set_nofile(n: u64) -> std::io::Result<()> {
    let lim = libc::rlimit { rlim_cur: n as libc::rlim_t, rlim_max: n as libc::rlim_t };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// cloutd with at most `nofile` open files (soft and hard, so it cannot
/// raise them), an optional config, and extra arguments.
fn start_limited(home: &Home, nofile: u64, config: Option<&str>, extra: &[&str]) -> Daemon {
    let mut cmd = daemon_command(&home.socket(), &home.db_url());
    if let Some(text) = config {
        let path = home.dir.path().join("cloutd.toml");
        std::fs::write(&path, format!("{text}\n{}", clout_e2e::QUIET_RULES)).expect("config");
        cmd.arg("--config").arg(path);
    }
    cmd.args(extra);
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || set_nofile(nofile));
    }
    spawn_daemon(cmd, &home.socket(), &home.db_url()).expect("cloutd did not start")
}

/// CPU time (user + system) a process has used.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th of all.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// How many files a process has open.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// CPU time the daemon uses over `window` (while a flood holds on).
fn cpu_over(d: &Daemon, window: Duration) -> Duration {
    let before = cpu_time(d.pid());
    std::thread::sleep(window);
    cpu_time(d.pid()).saturating_sub(before)
}

/// Waits until `cond` holds, up to `limit`.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    cond()
}

/// A child process that opened `n` connections to a Unix socket, as another
/// user when `as_user` is given, and holds them until it is dropped.
struct UnixFlood {
    pid: libc::pid_t,
    connected: u32,
}

impl UnixFlood {
    fn start(socket: &Path, n: u32, as_user: Option<(u32, u32)>) -> UnixFlood {
        use std::os::unix::ffi::OsStrExt;
        // Everything the child needs is prepared before fork: after it, only
        // async-signal-safe calls.
        // SAFETY: sockaddr_un is plain data; zero is a valid value.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let path = socket.as_os_str().as_bytes();
        assert!(path.len() < addr.sun_path.len(), "socket path too long");
        for (d, s) in addr.sun_path.iter_mut().zip(path) {
            *d = *s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let mut pipe = [0; 2];
        // SAFETY: pipe writes two descriptors into the array.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0, "pipe");
        let lim = libc::rlimit { rlim_cur: (n + 64) as libc::rlim_t, rlim_max: (n + 64) as libc::rlim_t };
        // SAFETY: the child makes only async-signal-safe calls and never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // SAFETY: raw system calls on values prepared above.
            unsafe {
                libc::close(pipe[0]);
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                if let Some((uid, gid)) = as_user
                    && (libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0)
                {
                    libc::_exit(3);
                }
                let mut connected: u32 = 0;
                for _ in 0..n {
                    let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
                    if fd < 0 {
                        break;
                    }
                    if libc::connect(fd, (&raw const addr).cast(), len) == 0 {
                        connected += 1;
                    } else {
                        libc::close(fd);
                    }
                }
                libc::write(pipe[1], (&raw const connected).cast(), 4);
                loop {
                    libc::pause();
                }
            }
        }
        // SAFETY: closing our copy of the write end.
        unsafe { libc::close(pipe[1]) };
        // SAFETY: the read end is ours; File takes it over.
        let mut reader: std::fs::File = unsafe { std::os::fd::FromRawFd::from_raw_fd(pipe[0]) };
        let mut buf = [0u8; 4];
        reader.read_exact(&mut buf).expect("the flooding child reports how many it opened");
        UnixFlood { pid, connected: u32::from_ne_bytes(buf) }
    }
}

impl Drop for UnixFlood {
    fn drop(&mut self) {
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// 2,000 idle connections from a member of the allowed group, against a
/// cloutd limited to 1,024 open files: cloutd takes what its cap allows,
/// refuses the rest at once, does not spin, keeps serving its own user, and
/// closes the idle connections after the first-request deadline.
#[test]
fn a_flood_of_idle_unix_connections_leaves_the_owner_served() {
    let _one = one_at_a_time();
    if !is_root() {
        return skip("needs root, to flood as another user");
    }
    let home = Home::new();
    let d = start_limited(&home, 1024, Some("allowed_group = \"65534\""), &[]);
    let quiet = open_files(d.pid());
    let flood = UnixFlood::start(&home.socket(), 2000, Some((65534, 65534)));
    assert!(flood.connected >= 1000, "the flood opened only {} connections", flood.connected);
    assert!(d.wait_log("refused a connection", WAIT), "{}", d.log());
    let used = cpu_over(&d, Duration::from_secs(3));
    assert!(used < Duration::from_millis(1500), "cloutd used {used:?} of CPU in 3 s under an idle flood");
    // The owner is served while the flood holds its connections.
    let out = home.clout(&["--json", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = home.clout(&["draft", "add", "written during a flood"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The idle connections are closed after the first-request deadline (10 s).
    assert!(
        eventually(Duration::from_secs(40), || open_files(d.pid()) < quiet + 16),
        "cloutd still holds {} files (quiet: {quiet})",
        open_files(d.pid())
    );
    drop(flood);
    assert!(home.clout(&["status"]).status.success());
    assert!(!d.log().contains("panicked"), "{}", d.log());
}

/// More connections than cloutd has file descriptors for (a limit of 40,
/// which it cannot raise): accept fails with EMFILE, and cloutd backs off
/// with one log line instead of retrying at once; the connections that send
/// nothing are closed, and once the flood lets go cloutd serves again.
#[test]
fn out_of_file_descriptors_backs_off_and_recovers() {
    let _one = one_at_a_time();
    let home = Home::new();
    let d = start_limited(&home, 40, None, &[]);
    let flood = UnixFlood::start(&home.socket(), 300, None);
    assert!(flood.connected > 0);
    assert!(d.wait_log("out of file descriptors", WAIT), "{}", d.log());
    let used = cpu_over(&d, Duration::from_secs(3));
    assert!(
        used < Duration::from_millis(1500),
        "cloutd used {used:?} of CPU in 3 s while out of descriptors"
    );
    assert_eq!(d.log().matches("out of file descriptors").count(), 1, "one line per episode: {}", d.log());
    // Once the flood lets go, cloutd drains its backlog and serves again.
    drop(flood);
    assert!(eventually(Duration::from_secs(60), || home.clout(&["status"]).status.success()), "{}", d.log());
    let out = home.clout(&["draft", "add", "after the flood"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!d.log().contains("panicked"), "{}", d.log());
}

/// 1,000 TCP connections that never send a request (nor a token): the owner's
/// requests on the Unix socket keep working, TCP takes no more than its cap,
/// and the connections are closed within seconds; a client with the token is
/// served afterwards.
#[test]
fn a_tcp_flood_leaves_the_unix_socket_served() {
    let _one = one_at_a_time();
    // The test process holds the flood's connections itself.
    let _ = set_nofile(4096);
    let home = Home::new();
    let token = home.dir.path().join("token");
    clout_e2e::write_secret(home.dir.path(), "token", "0123456789abcdef0123456789abcdef").expect("token");
    let tok = token.to_str().expect("utf-8");
    let d = start_limited(
        &home,
        1024,
        None,
        &["--listen", "127.0.0.1:0", "--insecure-loopback", "--token-file", tok],
    );
    let addr = d.tcp_addr();
    let mut flood = Vec::new();
    for _ in 0..1000 {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => flood.push(s),
            Err(e) => panic!("connect {addr}: {e} after {} connections", flood.len()),
        }
    }
    assert!(d.wait_log("refused a connection", WAIT), "{}", d.log());
    let used = cpu_over(&d, Duration::from_secs(3));
    assert!(used < Duration::from_millis(1500), "cloutd used {used:?} of CPU in 3 s under a TCP flood");
    let out = home.clout(&["--json", "status"]);
    assert!(out.status.success(), "the owner was not served during a TCP flood: {}", stderr(&out));
    // Every flood connection is closed by cloutd: at once over the cap, after 5 s without a request.
    for s in &flood {
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    }
    let closed = flood
        .iter()
        .filter(|s| {
            let mut s: &std::net::TcpStream = s;
            let mut buf = [0u8; 64];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => continue,
                    Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock,
                }
            }
        })
        .count();
    assert_eq!(closed, flood.len(), "cloutd left idle TCP connections open");
    drop(flood);
    let out = Command::new(clout_e2e::bin("clout"))
        .args(["--endpoint", &format!("http://{addr}"), "--token-file", tok, "status"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run clout");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!d.log().contains("panicked"), "{}", d.log());
}
