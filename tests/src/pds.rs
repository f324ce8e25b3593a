//! A real Bluesky PDS for the end-to-end tests: `scripts/pds.sh` installs
//! `@atproto/pds` (and the PLC directory it registers accounts with) into a
//! cache, `start.mjs` runs it on 127.0.0.1 with its data in a temporary
//! directory, and the tests talk XRPC to it with the small HTTP/1.1 client
//! here. [`Proxy`] stands between cloutd and the PDS when a test needs an
//! answer that the PDS gave to be lost on its way back.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::{Value, json};

/// How long one HTTP exchange with the PDS may take.
const IO_LIMIT: Duration = Duration::from_secs(30);

/// A running PDS; stopped (and its data removed) on drop.
pub struct Pds {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The PLC directory the PDS registers its accounts' DIDs with.
    pub plc: String,
    /// What start.mjs printed when it was ready (versions, log path…).
    pub ready: Value,
    child: Child,
    /// Kept open: start.mjs exits when its standard input closes.
    _stdin: ChildStdin,
    stderr: Arc<Mutex<String>>,
    _data: tempfile::TempDir,
}

/// An account made on the PDS with `com.atproto.server.createAccount`.
pub struct PdsAccount {
    pub did: String,
    pub handle: String,
    pub access: String,
}

impl Pds {
    /// Installs (if needed) and starts the PDS. None when it cannot be
    /// installed here (no node or npm, the registry out of reach…): the
    /// reason is printed and the test should return, unless CI=true, where
    /// this fails. A PDS that installed but does not start fails the test.
    pub fn start() -> Option<Pds> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
        let out = match Command::new("bash").arg(root.join("scripts").join("pds.sh")).output() {
            Ok(out) => out,
            Err(e) => {
                crate::skip(&format!("the real PDS cannot be installed: cannot run bash: {e}"));
                return None;
            }
        };
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let why = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no reason given");
            crate::skip(&format!("the real PDS cannot be installed (scripts/pds.sh): {why}"));
            return None;
        }
        let said = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| {
            said.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|l| l.strip_prefix('=')))
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("scripts/pds.sh printed no {name}=: {said}"))
        };
        let (node, script) = (field("node"), field("start"));
        let data = tempfile::Builder::new().prefix("clout-pds-").tempdir().expect("temporary directory");
        let mut child = Command::new(&node)
            .arg(&script)
            .arg(data.path())
            .env_remove("NODE_OPTIONS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", node.display(), script.display()));
        let stdin = child.stdin.take().expect("stdin pipe");
        let stdout = child.stdout.take().expect("stdout pipe");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err_pipe = child.stderr.take().expect("stderr pipe");
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok));
            // Whatever else it prints is read and dropped, so it never blocks.
            for _ in lines.map_while(Result::ok) {}
        });
        let line = rx.recv_timeout(Duration::from_secs(90)).ok().flatten().unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!("the PDS did not start: {}", stderr.lock().map(|s| s.clone()).unwrap_or_default())
        });
        let ready: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("start.mjs printed no JSON ({e}): {line}"));
        let url = ready["url"].as_str().expect("url").to_string();
        let plc = ready["plc"].as_str().expect("plc").to_string();
        Some(Pds { url, plc, ready, child, _stdin: stdin, stderr, _data: data })
    }

    fn addr(&self) -> &str {
        self.url.strip_prefix("http://").expect("an http:// URL")
    }

    /// GET `/xrpc/NSID?QUERY`: the status and the JSON answer (Null when
    /// the body is not JSON).
    pub fn get(&self, nsid: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let a = request(self.addr(), "GET", &xrpc_target(nsid, query), &[], &[]).expect("GET from the PDS");
        (a.status, a.json())
    }

    /// POST `/xrpc/NSID` with a JSON body, with `token` as the bearer.
    pub fn post(&self, nsid: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let target = xrpc_target(nsid, &[]);
        let a = request(self.addr(), "POST", &target, &headers, body.to_string().as_bytes())
            .expect("POST to the PDS");
        (a.status, a.json())
    }

    /// `com.atproto.sync.getBlob`: the status, the content type and the bytes.
    pub fn blob(&self, did: &str, cid: &str) -> (u16, String, Vec<u8>) {
        let target = xrpc_target("com.atproto.sync.getBlob", &[("did", did), ("cid", cid)]);
        let a = request(self.addr(), "GET", &target, &[], &[]).expect("getBlob");
        let kind = a.header("content-type").unwrap_or("").to_string();
        (a.status, kind, a.body)
    }

    /// `com.atproto.server.createAccount` (no invite code needed).
    pub fn create_account(&self, handle: &str, email: &str, password: &str) -> PdsAccount {
        let body = json!({ "handle": handle, "email": email, "password": password });
        let (status, a) = self.post("com.atproto.server.createAccount", None, &body);
        assert_eq!(status, 200, "createAccount: {a}\n{}", self.log_tail());
        PdsAccount {
            did: a["did"].as_str().expect("did").to_string(),
            handle: a["handle"].as_str().expect("handle").to_string(),
            access: a["accessJwt"].as_str().expect("accessJwt").to_string(),
        }
    }

    /// `com.atproto.server.createAppPassword`: the app password.
    pub fn create_app_password(&self, account: &PdsAccount, name: &str) -> String {
        let body = json!({ "name": name });
        let (status, a) = self.post("com.atproto.server.createAppPassword", Some(&account.access), &body);
        assert_eq!(status, 200, "createAppPassword: {a}\n{}", self.log_tail());
        a["password"].as_str().expect("password").to_string()
    }

    /// The records of `collection` in the repo of `did`
    /// (`com.atproto.repo.listRecords`), in the order of their record keys.
    pub fn records(&self, did: &str, collection: &str) -> Vec<Value> {
        let (status, a) = self.get(
            "com.atproto.repo.listRecords",
            &[("repo", did), ("collection", collection), ("limit", "100")],
        );
        assert_eq!(status, 200, "listRecords: {a}");
        let mut records = a["records"].as_array().expect("records").clone();
        records.sort_by_key(|r| rkey(r["uri"].as_str().unwrap_or("")).to_string());
        records
    }

    /// The end of the PDS's log and of what start.mjs wrote to stderr, to
    /// show with a failure.
    pub fn log_tail(&self) -> String {
        let log =
            self.ready["log"].as_str().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        let err = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        format!("--- PDS log (last lines) ---\n{tail}\n--- start.mjs stderr ---\n{err}")
    }
}

impl Drop for Pds {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The record key of an at:// URI (its last segment).
pub fn rkey(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or("")
}

fn xrpc_target(nsid: &str, query: &[(&str, &str)]) -> String {
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    if q.is_empty() { format!("/xrpc/{nsid}") } else { format!("/xrpc/{nsid}?{}", q.join("&")) }
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An HTTP answer (or a request, read by [`Proxy`]).
pub struct Message {
    /// The first line: `HTTP/1.1 200 OK`, or `POST /xrpc/… HTTP/1.1`.
    pub start: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 exchange with `addr` (`host:port`) on a connection of its own.
pub fn request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Message> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(IO_LIMIT))?;
    s.set_write_timeout(Some(IO_LIMIT))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut reader = BufReader::new(s);
    read_message(&mut reader, true)?.ok_or_else(|| io::Error::other("the server closed without answering"))
}

/// Reads one HTTP message: its head, then its body (by Content-Length,
/// chunked, or for an answer without either, up to the end of the
/// connection). None at the end of the connection before a message starts.
pub fn read_message(r: &mut impl BufRead, answer: bool) -> io::Result<Option<Message>> {
    let mut start = String::new();
    if r.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let start = start.trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::other("the connection closed inside a message's head"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let status =
        if answer { start.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0) } else { 0 };
    let mut m = Message { start, status, headers, body: Vec::new() };
    if m.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::other("a bad chunk size"))?;
            if size == 0 {
                // Trailers, if any, up to the empty line.
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let at = m.body.len();
            m.body.resize(at + size, 0);
            r.read_exact(&mut m.body[at..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    } else if let Some(len) = m.header("content-length") {
        let len: usize = len.parse().map_err(|_| io::Error::other("a bad Content-Length"))?;
        m.body.resize(len, 0);
        r.read_exact(&mut m.body)?;
    } else if answer && !(m.status == 204 || m.status == 304 || (100..200).contains(&m.status)) {
        r.read_to_end(&mut m.body)?;
    }
    Ok(Some(m))
}

/// An HTTP proxy in front of the PDS, for cloutd: each request is passed on
/// and its answer passed back, except one chosen by [`Proxy::lose_answer`],
/// which reaches the PDS (and is carried out there) but whose answer never
/// comes back: its connection is kept open and silent.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to give cloutd as the PDS.
    pub url: String,
    shared: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    /// Requests seen, by path (without the query).
    seen: Mutex<HashMap<String, usize>>,
    /// (path, n): lose the answer to the nth request to path.
    lose: Mutex<Option<(String, usize)>>,
    /// The connections whose answers were lost, kept open.
    held: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        let upstream = upstream.strip_prefix("http://").expect("an http:// URL").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(ProxyState::default());
        let state = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (state, upstream) = (state.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = relay(&state, &upstream, conn);
                });
            }
        });
        Proxy { url, shared }
    }

    /// The answer to the `nth` request (from 1) to `path` is lost.
    pub fn lose_answer(&self, path: &str, nth: usize) {
        *self.shared.lose.lock().expect("proxy state") = Some((path.to_string(), nth));
    }

    /// How many requests to `path` came through.
    pub fn count(&self, path: &str) -> usize {
        self.shared.seen.lock().expect("proxy state").get(path).copied().unwrap_or(0)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the stop.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        self.shared.held.lock().map(|mut h| h.clear()).unwrap_or_default();
    }
}

/// Passes the requests of one connection on to `upstream`, one at a time,
/// and their answers back, each with `Connection: close`.
fn relay(state: &ProxyState, upstream: &str, conn: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    let Some(req) = read_message(&mut reader, false)? else { return Ok(()) };
    let mut parts = req.start.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
    let path = target.split('?').next().unwrap_or(target).to_string();
    let nth = {
        let mut seen = state.seen.lock().map_err(|_| io::Error::other("poisoned"))?;
        let n = seen.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let skip = ["host", "connection", "content-length", "transfer-encoding", "keep-alive"];
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| !skip.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answer = request(upstream, method, target, &headers, &req.body)?;
    let lose = state.lose.lock().map_err(|_| io::Error::other("poisoned"))?.clone();
    if lose.is_some_and(|(p, n)| p == path && n == nth) {
        state.held.lock().map_err(|_| io::Error::other("poisoned"))?.push(conn);
        return Ok(());
    }
    let mut head = format!("{}\r\n", answer.start);
    for (k, v) in &answer.headers {
        if !skip.contains(&k.to_ascii_lowercase().as_str()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", answer.body.len()));
    conn.write_all(head.as_bytes())?;
    conn.write_all(&answer.body)?;
    conn.flush()
}

/// A real PNG of `w`×`h` (8-bit RGB, a colour gradient), which any decoder
/// reads: its pixels in zlib's stored (uncompressed) blocks, with the CRCs
/// and the Adler-32 check that PNG and zlib ask for.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((w * 3 + 1) * h) as usize);
    for y in 0..h {
        raw.push(0); // filter type None
        for x in 0..w {
            raw.extend_from_slice(&[(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128]);
        }
    }
    let mut z = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        z.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let len = block.len() as u16;
        z.push(u8::from(blocks.peek().is_none()));
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, adaptive filters, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &z[..]), (b"IEND", &[][..])] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let at = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[at..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

/// CRC-32 (ISO-HDLC, as PNG uses), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
