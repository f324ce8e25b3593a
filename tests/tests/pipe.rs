//! A closed output pipe (`clout status | head -1`): every command ends quietly,
//! killed by SIGPIPE or exiting 0, like git, with no panic and no "Broken pipe"
//! on stderr. A connection that cloutd closes is still reported as an error.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use clout_e2e::{Home, bin, stderr};

/// Runs clout with stdout on a pipe whose reader is already closed: its first
/// write hits a broken pipe, whatever the timing.
fn with_closed_stdout(home: &Home, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(bin("clout"))
        .args(args)
        .env("CLOUT_SOCKET", home.socket())
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run clout")
}

/// Exit 0, or killed by SIGPIPE (141 in the shell), with nothing on stderr.
fn assert_quiet(args: &[&str], out: &Output) {
    let err = stderr(out);
    let quiet_end = out.status.success() || out.status.signal() == Some(libc::SIGPIPE);
    assert!(quiet_end, "clout {args:?} ended with {:?}; stderr:\n{err}", out.status);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "clout {args:?}:\n{err}");
    assert!(err.trim().is_empty(), "clout {args:?} wrote to stderr:\n{err}");
}

#[test]
fn commands_without_a_daemon_end_quietly_on_a_closed_pipe() {
    let home = Home::new();
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["man"],
        &["--help"],
        &["status", "--help"],
        &["draft", "list", "--help"],
        &["--version"],
    ] {
        assert_quiet(args, &with_closed_stdout(&home, args));
    }
}

#[test]
fn commands_talking_to_cloutd_end_quietly_on_a_closed_pipe() {
    let home = Home::new();
    let _d = home.start();
    for i in 0..30 {
        let out = home.clout(&["draft", "add", &format!("Draft number {i}"), "--at", "in 2h"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for args in [
        &["status"][..],
        &["--json", "status"],
        &["draft", "list"],
        &["--json", "draft", "list"],
        &["draft", "show", "1"],
        &["queue"],
        &["nudges", "--all"],
        &["sink", "list"],
        &["review"],
    ] {
        assert_quiet(args, &with_closed_stdout(&home, args));
    }
}

/// SIGPIPE from the gRPC socket is not the reader going away: clout says what
/// happened and fails, as before, instead of dying of the signal without a word.
/// The "daemon" here stops reading (a write to it raises SIGPIPE), then sends
/// an HTTP/2 SETTINGS frame, which clout must acknowledge: that write fails.
#[test]
fn a_connection_closed_by_the_daemon_is_still_an_error() {
    use std::io::Write;
    let home = Home::new();
    let socket = home.socket();
    std::fs::create_dir_all(socket.parent().expect("socket dir")).expect("mkdir");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let _ = conn.shutdown(std::net::Shutdown::Read);
                // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
                let _ = conn.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
                std::thread::sleep(Duration::from_secs(2));
            });
        }
    });
    // Whether clout's write comes before or after it reads the frame varies; ten tries.
    for _ in 0..10 {
        let (tx, rx) = std::sync::mpsc::channel();
        let s = socket.clone();
        std::thread::spawn(move || {
            let _ = tx.send(clout_e2e::clout(&s, &["status"], None));
        });
        let out = rx.recv_timeout(Duration::from_secs(30)).expect("clout status hung");
        assert_eq!(out.status.signal(), None, "clout died of a signal: {:?}", out.status);
        assert!(!out.status.success(), "clout status succeeded against a broken connection");
        assert!(!stderr(&out).trim().is_empty(), "clout failed without a word");
    }
}

/// `clout watch | head -1`: once the reader is gone, the watch ends by itself
/// even while no nudge comes to write.
#[test]
fn a_watch_ends_when_its_reader_goes_away() {
    let home = Home::new();
    let _d = home.start();
    for args in [&["watch"][..], &["--json", "watch"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        let mut child = Command::new(bin("clout"))
            .args(args)
            .env("CLOUT_SOCKET", home.socket())
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::null())
            .spawn()
            .expect("run clout watch");
        std::thread::sleep(Duration::from_millis(500));
        drop(reader);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("clout {args:?} kept running with nobody reading");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success() || status.signal() == Some(libc::SIGPIPE), "{args:?}: {status:?}");
    }
}
