//! Sinks end to end: a real cloutd delivers nudges to a webhook server that
//! the test runs, and to command hooks; deliveries survive outages and restarts.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clout_e2e::{Home, stderr};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
/// A sink that was down is retried with a backoff of up to 30 s.
const RETRY_WAIT: Duration = Duration::from_secs(60);

/// One request the hook server received.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// A tiny HTTP server on 127.0.0.1 that answers every request with 200 and
/// reports it. Dropping it closes the port: connections are then refused.
struct HookServer {
    port: u16,
    rx: Receiver<Received>,
    thread: Option<JoinHandle<()>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HookServer {
    fn start() -> HookServer {
        Self::serve(TcpListener::bind("127.0.0.1:0").expect("bind a local port"))
    }

    /// Listens on `port` again (after an earlier server there stopped).
    fn start_on(port: u16) -> HookServer {
        let deadline = Instant::now() + WAIT;
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => return Self::serve(l),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("port {port} not free yet ({e}); trying again");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("cannot listen on port {port} again: {e}"),
            }
        }
    }

    fn serve(listener: TcpListener) -> HookServer {
        let port = listener.local_addr().expect("local address").port();
        let (tx, rx) = mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = conn else { continue };
                if let Some(req) = handle(stream)
                    && tx.send(req).is_err()
                {
                    break;
                }
            }
        });
        HookServer { port, rx, thread: Some(thread), stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn next(&self, limit: Duration) -> Received {
        self.rx.recv_timeout(limit).expect("no request reached the hook server in time")
    }

    /// Whether a request arrives within `limit`.
    fn quiet_for(&self, limit: Duration) -> Option<Received> {
        self.rx.recv_timeout(limit).ok()
    }
}

impl Drop for HookServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag and drops the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request and answers 200.
fn handle(stream: TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = stream.flush();
    Some(Received { path, headers, body })
}

fn add_draft(home: &Home, text: &str, at: &str) -> i64 {
    let d = home.json(&["draft", "add", text, "--at", at]);
    d["id"].as_i64().expect("draft id")
}

fn sink(home: &Home, id: i64) -> Value {
    let list = home.json(&["sink", "list"]);
    list.as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("sink {id} is not listed: {list}"))
}

/// Polls `clout sink list` until `ok` holds for the sink (a state check, with a deadline).
fn wait_for_sink(home: &Home, id: i64, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = sink(home, id);
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "sink {id} never became {what}: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for a file that a hook writes (atomically, by rename).
fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(path).expect("read the hook's output")
}

#[test]
fn a_webhook_gets_each_nudge_and_catches_up_after_an_outage() {
    let home = Home::new();
    let _d = home.start();
    let server = HookServer::start();
    let port = server.port;
    let s = home.json(&["sink", "add", "webhook", &server.url()]);
    let sink_id = s["id"].as_i64().expect("sink id");
    assert_eq!(s["kind"], "webhook");
    assert_eq!(s["healthy"], true);

    // A test nudge goes out at once and is not in the log.
    let t = home.json(&["sink", "test", &sink_id.to_string()]);
    assert_eq!(t["ok"], true, "{t}");
    let got = server.next(WAIT);
    assert_eq!(got.json()["kind"], "test");
    assert_eq!(home.json(&["nudges", "--all"]).as_array().map(Vec::len), Some(0));

    let first = add_draft(&home, "Webhook me", "in 1s");
    let got = server.next(WAIT);
    assert_eq!(got.path, "/hook");
    let body = got.json();
    assert_eq!(body["draft_id"], first, "{body}");
    assert_eq!(body["kind"], "post_due");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("Webhook me")), "{body}");
    for key in ["id", "kind", "message", "due_at", "fired_at", "draft_id", "task_id", "late"] {
        assert!(body.get(key).is_some(), "the nudge lacks {key}: {body}");
    }
    let nudge_id = body["id"].as_i64().expect("nudge id");
    assert_eq!(got.header("idempotency-key"), format!("clout-nudge-{nudge_id}"));
    assert!(got.header("content-type").starts_with("application/json"), "{got:?}");
    let s = wait_for_sink(&home, sink_id, "caught up", |s| s["cursor"] == nudge_id);
    assert_eq!(s["backlog"], 0, "{s}");

    // The server goes away; the next nudge waits for it.
    drop(server);
    let second = add_draft(&home, "Wait for the server", "in 1s");
    let s = wait_for_sink(&home, sink_id, "unhealthy with a backlog", |s| {
        s["healthy"] == false && s["backlog"].as_u64().unwrap_or(0) >= 1
    });
    let err = s["last_error"].as_str().unwrap_or("");
    assert!(err.contains("127.0.0.1"), "{s}");
    assert!(!err.contains("/hook"), "the error shows the URL's path: {s}");
    let out = home.clout(&["sink", "test", &sink_id.to_string()]);
    assert!(!out.status.success(), "a test against a dead server passed");
    assert!(stderr(&out).contains("did not take the test nudge"), "{}", stderr(&out));

    // Back up: the waiting nudge is delivered, and only it.
    let server = HookServer::start_on(port);
    let got = server.next(RETRY_WAIT);
    let body = got.json();
    assert_eq!(body["draft_id"], second, "{body}");
    let nudge_id = body["id"].as_i64().expect("nudge id");
    assert_eq!(got.header("idempotency-key"), format!("clout-nudge-{nudge_id}"));
    let s = wait_for_sink(&home, sink_id, "healthy", |s| s["healthy"] == true && s["backlog"] == 0);
    assert_eq!(s["last_error"], "");
    assert!(server.quiet_for(Duration::from_millis(500)).is_none(), "a nudge was delivered twice");
}

#[test]
fn webhook_formats_for_ntfy_and_slack() {
    let home = Home::new();
    let _d = home.start();
    let ntfy = HookServer::start();
    let slack = HookServer::start();
    home.json(&["sink", "add", "webhook", &ntfy.url(), "--format", "ntfy"]);
    home.json(&["sink", "add", "webhook", &slack.url(), "--format", "slack", "--on", "due"]);
    add_draft(&home, "Formats please", "in 1s");

    let got = ntfy.next(WAIT);
    let text = String::from_utf8_lossy(&got.body).into_owned();
    assert!(text.contains("Formats please"), "{text}");
    assert!(got.header("content-type").starts_with("text/plain"), "{got:?}");
    assert_eq!(got.header("title"), "Time to post");
    assert!(got.header("idempotency-key").starts_with("clout-nudge-"), "{got:?}");

    let body = slack.next(WAIT).json();
    assert!(body["text"].as_str().is_some_and(|t| t.contains("Formats please")), "{body}");
    assert_eq!(body["text"], body["content"]);
}

#[test]
fn a_command_hook_gets_the_nudge_on_stdin_and_filters_apply() {
    let home = Home::new();
    let _d = home.start();
    let out = home.dir.path().join("hook.json");
    let out_s = out.display().to_string();
    let script =
        r#"cat > "$1.part" && echo "$CLOUT_NUDGE_KIND $CLOUT_NUDGE_ID" > "$1.env" && mv "$1.part" "$1""#;
    let hook =
        home.json(&["sink", "add", "command", "--on", "due", "--", "sh", "-c", script, "hook", &out_s]);
    assert_eq!(hook["target"], "sh");
    assert_eq!(hook["kinds"], serde_json::json!(["due"]));
    let hook_id = hook["id"].as_i64().expect("id");
    // A hook for other events skips this nudge but still moves its cursor on.
    let other_out = home.dir.path().join("other.json");
    let other = home.json(&[
        "sink",
        "add",
        "command",
        "--on",
        "lesson,setback",
        "--",
        "sh",
        "-c",
        r#"cat > "$1""#,
        "other",
        &other_out.display().to_string(),
    ]);
    let other_id = other["id"].as_i64().expect("id");
    // And a broken hook is reported, with what it said.
    let broken =
        home.json(&["sink", "add", "command", "--", "sh", "-c", "echo 'the moon is down' >&2; exit 3"]);
    let broken_id = broken["id"].as_i64().expect("id");

    let draft = add_draft(&home, "Hook me", "in 1s");
    let text = wait_for_file(&out);
    let n: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(n["draft_id"], draft, "{n}");
    assert_eq!(n["kind"], "post_due");
    let nudge_id = n["id"].as_i64().expect("nudge id");
    let env = std::fs::read_to_string(home.dir.path().join("hook.json.env")).expect("env file");
    assert_eq!(env.trim(), format!("post_due {nudge_id}"));

    wait_for_sink(&home, hook_id, "caught up", |s| s["cursor"] == nudge_id && s["healthy"] == true);
    let s = wait_for_sink(&home, other_id, "past the filtered nudge", |s| s["cursor"] == nudge_id);
    assert_eq!(s["backlog"], 0, "{s}");
    assert!(!other_out.exists(), "the filtered hook ran");
    let s = wait_for_sink(&home, broken_id, "unhealthy", |s| s["healthy"] == false);
    let err = s["last_error"].as_str().unwrap_or("");
    assert!(err.contains("status 3") && err.contains("the moon is down"), "{s}");
    assert_eq!(s["backlog"], 1, "{s}");

    let listed = home.clout(&["sink", "list"]);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table.contains("BACKLOG") && table.contains("failing") && table.contains("lesson,setback"),
        "{table}"
    );

    home.json(&["sink", "rm", &broken_id.to_string()]);
    assert_eq!(home.json(&["sink", "list"]).as_array().map(Vec::len), Some(2));
}

#[test]
fn an_undelivered_nudge_survives_a_daemon_crash() {
    let home = Home::new();
    let d = home.start();
    // A port with nothing listening: bind one, then let it go.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let sink_id = home.json(&["sink", "add", "webhook", &url])["id"].as_i64().expect("id");
    let draft = add_draft(&home, "Deliver me after the crash", "in 1s");
    wait_for_sink(&home, sink_id, "unhealthy", |s| s["healthy"] == false && s["backlog"] == 1);

    d.kill9();
    let _d = home.start();
    let s = sink(&home, sink_id);
    assert_eq!(s["backlog"], 1, "the undelivered nudge was lost: {s}");

    let server = HookServer::start_on(port);
    let got = server.next(RETRY_WAIT);
    assert_eq!(got.json()["draft_id"], draft);
    wait_for_sink(&home, sink_id, "healthy", |s| s["healthy"] == true && s["backlog"] == 0);
}

#[test]
fn bad_sinks_get_clear_errors_and_change_nothing() {
    let home = Home::new();
    let _d = home.start();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["sink", "add", "webhook", "ftp://example.com/x"], "http://"),
        (vec!["sink", "add", "webhook", "example.com/hook"], "http://"),
        (vec!["sink", "add", "command", "--", "/nonexistent/hook"], "does not exist"),
        (vec!["sink", "add", "command", "--", "no-such-program-anywhere"], "PATH"),
        (vec!["sink", "add", "command", "--", ""], "program"),
        (vec!["sink", "add", "desktop", "--on", "two words"], "invalid event kind"),
        (vec!["sink", "rm", "999"], "sink 999 does not exist"),
        (vec!["sink", "test", "999"], "sink 999 does not exist"),
    ];
    for (args, expect) in cases {
        let out = home.clout(&args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(home.json(&["sink", "list"]).as_array().map(Vec::len), Some(0));

    // The same target twice is refused.
    home.json(&["sink", "add", "webhook", "http://127.0.0.1:9/x"]);
    let out = home.clout(&["sink", "add", "webhook", "http://127.0.0.1:9/x"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already delivers there"), "{}", stderr(&out));
}

#[test]
fn a_desktop_sink_without_a_bus_is_an_error_not_a_crash() {
    let home = Home::new();
    let _d = home.start();
    let id = home.json(&["sink", "add", "desktop", "--on", "due"])["id"].as_i64().expect("id");
    let out = home.clout(&["sink", "test", &id.to_string()]);
    // With a session bus and notify-send (a desktop), the test notification shows.
    if !out.status.success() {
        let err = stderr(&out);
        assert!(err.contains("D-Bus") || err.contains("notify-send"), "{err}");
        // `sink list` shows it failing, with the test's error.
        let sink = home.json(&["sink", "list"])[0].clone();
        assert_eq!(sink["healthy"], false, "{sink}");
        assert!(sink["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{sink}");
        let list = clout_e2e::stdout(&home.clout(&["sink", "list"]));
        assert!(list.contains("failing"), "{list}");
    }
    // The daemon is still there.
    assert_eq!(home.json(&["sink", "list"]).as_array().map(Vec::len), Some(1));
}
