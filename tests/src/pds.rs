//! A real Bluesky PDS for the end-to-end tests: `scripts/pds.sh` installs
//! `@atproto/pds` (and the PLC directory it registers accounts with) into a
//! cache, `start.mjs` runs it on 127.0.0.1 with its data in a temporary
//! directory, and the tests talk XRPC to it with reqwest. [`Proxy`] stands
//! between cloutd and the PDS when a test needs an answer that the PDS gave
//! to be lost on its way back.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

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
    client: reqwest::Client,
    /// Runs the client's requests, one at a time, for the synchronous tests.
    runtime: Runtime,
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
        let (client, runtime) = (client(), runtime());
        Some(Pds { url, plc, ready, child, _stdin: stdin, stderr, _data: data, client, runtime })
    }

    /// Sends a request and reads the whole answer: the status, the content
    /// type and the body.
    fn send(&self, request: reqwest::RequestBuilder) -> (u16, String, Bytes) {
        self.runtime.block_on(async {
            let answer = request.send().await.expect("a request to the PDS");
            let status = answer.status().as_u16();
            let kind = answer.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let kind = kind.unwrap_or("").to_string();
            (status, kind, answer.bytes().await.expect("an answer from the PDS"))
        })
    }

    /// GET `/xrpc/NSID?QUERY`: the status and the JSON answer (Null when
    /// the body is not JSON).
    pub fn get(&self, nsid: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let (status, _, body) = self.send(self.client.get(format!("{}/xrpc/{nsid}", self.url)).query(query));
        (status, json_or_null(&body))
    }

    /// POST `/xrpc/NSID` with a JSON body, with `token` as the bearer.
    pub fn post(&self, nsid: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/xrpc/{nsid}", self.url))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let (status, _, body) = self.send(request);
        (status, json_or_null(&body))
    }

    /// `com.atproto.sync.getBlob`: the status, the content type and the bytes.
    pub fn blob(&self, did: &str, cid: &str) -> (u16, String, Vec<u8>) {
        let url = format!("{}/xrpc/com.atproto.sync.getBlob", self.url);
        let (status, kind, body) = self.send(self.client.get(url).query(&[("did", did), ("cid", cid)]));
        (status, kind, body.to_vec())
    }

    /// The PLC directory's DID document for `did`: the status and the JSON
    /// answer (Null when the body is not JSON).
    pub fn did_document(&self, did: &str) -> (u16, Value) {
        let (status, _, body) = self.send(self.client.get(format!("{}/{did}", self.plc)));
        (status, json_or_null(&body))
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

fn json_or_null(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// A client for 127.0.0.1, past any proxy that the environment names.
fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(IO_LIMIT).build().expect("an HTTP client")
}

/// A runtime of one worker thread: it runs what is spawned on it, and what
/// a synchronous test blocks on.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// An HTTP proxy in front of the PDS, for cloutd: each request is passed on
/// and its answer passed back, except one chosen by [`Proxy::lose_answer`],
/// which reaches the PDS (and is carried out there) but whose answer never
/// comes back: its connection is kept open and silent until the proxy is
/// dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to give cloutd as the PDS.
    pub url: String,
    state: Arc<ProxyState>,
    /// Serves the proxy; dropping it stops the proxy and closes every
    /// connection, the silent ones too.
    _runtime: Runtime,
}

#[derive(Default)]
struct ProxyState {
    /// Requests seen, by path (without the query).
    seen: Mutex<HashMap<String, usize>>,
    /// (path, n): lose the answer to the nth request to path.
    lose: Mutex<Option<(String, usize)>>,
}

impl Proxy {
    /// Binds 127.0.0.1 on a free port and passes requests on to `upstream`
    /// (`http://HOST:PORT`).
    pub fn start(upstream: &str) -> Proxy {
        let runtime = runtime();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(ProxyState::default());
        let (shared, upstream, client) = (state.clone(), upstream.to_string(), client());
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, upstream, client) = (shared.clone(), upstream.clone(), client.clone());
                let service =
                    service_fn(move |req| relay(state.clone(), client.clone(), upstream.clone(), req));
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Proxy { url, state, _runtime: runtime }
    }

    /// The answer to the `nth` request (from 1) to `path` is lost.
    pub fn lose_answer(&self, path: &str, nth: usize) {
        *self.state.lose.lock().expect("proxy state") = Some((path.to_string(), nth));
    }

    /// How many requests to `path` came through.
    pub fn count(&self, path: &str) -> usize {
        self.state.seen.lock().expect("proxy state").get(path).copied().unwrap_or(0)
    }
}

/// Passes one request on to `upstream` and its answer back (502 when the
/// PDS cannot be reached), or, for the request chosen to lose its answer,
/// never answers.
async fn relay(
    state: Arc<ProxyState>,
    client: reqwest::Client,
    upstream: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let nth = {
        let mut seen = state.seen.lock().expect("proxy state");
        let n = seen.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let lose = state.lose.lock().expect("proxy state").as_ref().is_some_and(|(p, n)| *p == path && *n == nth);
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let sent = client
        .request(parts.method, format!("{upstream}{target}"))
        .headers(end_to_end(&parts.headers))
        .body(body)
        .send()
        .await;
    let mut back = Response::new(Full::default());
    match sent {
        Ok(answer) => {
            *back.status_mut() = answer.status();
            *back.headers_mut() = end_to_end(answer.headers());
            *back.body_mut() = Full::new(answer.bytes().await.unwrap_or_default());
        }
        Err(e) => {
            *back.status_mut() = StatusCode::BAD_GATEWAY;
            *back.body_mut() = Full::new(Bytes::from(format!("the PDS cannot be reached: {e}")));
        }
    }
    if lose {
        // Carried out by the PDS, never answered.
        std::future::pending::<()>().await;
    }
    Ok(back)
}

/// The headers to pass on: all but those of one connection, and the length,
/// which is set again for the body as it is sent.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in ["host", "connection", "keep-alive", "transfer-encoding", "content-length"] {
        kept.remove(name);
    }
    kept
}
