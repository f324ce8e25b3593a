//! Outbound HTTP(S), for webhook sinks and the publishing APIs (Mastodon and
//! Bluesky): the one place that speaks HTTP as a client.
//!
//! Every request goes out over HTTP/1.1, to `https://` (rustls with the ring
//! provider, trusting only the Mozilla roots built into cloutd, never the
//! system's store) or plain `http://` URLs (callers decide where plain http is
//! allowed), with no proxy, following no redirect: a 3xx is an answer like
//! any other. Each exchange, from connecting to the last byte of the answer
//! read, has a deadline, and at most a set number of bytes of an answer is
//! read. Errors name the scheme, host and port only: webhook URLs often carry
//! a secret in their path or query, and tokens travel in headers, so neither
//! appears in a message.

use std::time::Duration;

pub use reqwest::header::HeaderMap;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
pub use reqwest::{Method, StatusCode};

/// The User-Agent of every request.
pub const USER_AGENT: &str = concat!("cloutd/", env!("CARGO_PKG_VERSION"));
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// What happens to an answer longer than [`Limits::body_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// Keep its first bytes and drop the rest (for excerpts of an answer).
    Truncate,
    /// Fail with [`Error::TooLarge`] (for answers that must be read whole).
    Refuse,
}

/// The deadline and size limit of each exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From connecting to the end of the answer.
    pub timeout: Duration,
    /// How much of an answer's body is read.
    pub body_bytes: usize,
    pub oversize: Oversize,
}

/// Why an exchange has no (usable) answer. The text names the host only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("cloutd cannot set up TLS for {purpose} ({detail}); please report this")]
    Setup { purpose: &'static str, detail: String },
    #[error("invalid URL {place}: {detail}")]
    InvalidUrl { place: String, detail: String },
    #[error("cannot build the request to {place}: {detail}")]
    InvalidRequest { place: String, detail: String },
    #[error("cannot reach {place}: {detail}")]
    Unreachable { place: String, detail: String },
    #[error("{place} did not answer within {}", span(*after))]
    Timeout { place: String, after: Duration },
    #[error("{place} answered HTTP {status} with more than {limit} bytes, more than cloutd reads")]
    TooLarge { place: String, status: u16, limit: usize },
    #[error("the answer from {place} (HTTP {status}) broke off: {detail}")]
    BrokenAnswer { place: String, status: u16, detail: String },
}

/// "10 s", or "250 ms" below a whole second.
fn span(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// One request: a method, a URL, headers and an optional body.
#[derive(Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Request {
    pub fn new(method: Method, url: &str) -> Request {
        Request { method, url: url.to_string(), headers: Vec::new(), body: None }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// `Authorization: Bearer TOKEN`; the token is marked sensitive.
    pub fn bearer(self, token: &str) -> Request {
        self.header(AUTHORIZATION.as_str(), format!("Bearer {token}"))
    }

    /// A body with its content type.
    pub fn body(self, content_type: &str, body: String) -> Request {
        self.bytes(content_type, body.into_bytes())
    }

    /// A body of bytes (an image) with its content type.
    pub fn bytes(mut self, content_type: &str, body: Vec<u8>) -> Request {
        self.body = Some(body);
        self.header(CONTENT_TYPE.as_str(), content_type)
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text; "" when there is none or it is not UTF-8.
    pub fn body_text(&self) -> &str {
        self.body.as_deref().and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }
}

/// Shows the origin and the header names only: the URL and the values may hold secrets.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("origin", &origin(&self.url))
            .field("headers", &names)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// An answer: its status, headers and (up to the limit) body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Whether the body was cut at the limit ([`Oversize::Truncate`] only).
    pub truncated: bool,
}

/// An HTTP client with its connection pool and its limits. Cloning it
/// shares the pool.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Result<reqwest::Client, Error>,
    limits: Limits,
}

impl Client {
    /// Builds the client once; `purpose` ("webhooks", "publishing") names it
    /// in the error should TLS fail to set up, reported on each request.
    pub fn new(purpose: &'static str, limits: Limits) -> Client {
        let inner = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(true)
            .tls_built_in_webpki_certs(true)
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_idle_timeout(POOL_IDLE)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| Error::Setup { purpose, detail: causes(&e) });
        Client { inner, limits }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Sends one request and reads its answer. `Err` means no usable answer;
    /// any status, 3xx and errors included, is `Ok`.
    pub async fn send(&self, req: Request) -> Result<Response, Error> {
        let client = self.inner.as_ref().map_err(Clone::clone)?;
        let place = origin(&req.url);
        let url = reqwest::Url::parse(&req.url)
            .map_err(|e| Error::InvalidUrl { place: place.clone(), detail: e.to_string() })?;
        let mut b = client.request(req.method, url);
        for (name, value) in &req.headers {
            b = b.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            b = b.body(body);
        }
        let request = b.build().map_err(|e| Error::InvalidRequest {
            place: place.clone(),
            detail: scrub(&causes(&e.without_url()), &req.url),
        })?;
        let mut request = request;
        if let Some(v) = request.headers_mut().get_mut(AUTHORIZATION) {
            v.set_sensitive(true);
        }
        let limits = self.limits;
        let exchange = async {
            let mut resp = client.execute(request).await.map_err(|e| Error::Unreachable {
                place: place.clone(),
                detail: scrub(&transport(e), &req.url),
            })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let mut body: Vec<u8> = Vec::new();
            let mut truncated = false;
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = limits.body_bytes - body.len();
                        if chunk.len() > room {
                            if limits.oversize == Oversize::Refuse {
                                return Err(Error::TooLarge {
                                    place: place.clone(),
                                    status: status.as_u16(),
                                    limit: limits.body_bytes,
                                });
                            }
                            body.extend_from_slice(&chunk[..room]);
                            truncated = true;
                            break;
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    // An excerpt is what arrived; a whole answer is needed whole.
                    Err(_) if limits.oversize == Oversize::Truncate => break,
                    Err(e) => {
                        return Err(Error::BrokenAnswer {
                            place: place.clone(),
                            status: status.as_u16(),
                            detail: scrub(&transport(e), &req.url),
                        });
                    }
                }
            }
            Ok(Response { status, headers, body, truncated })
        };
        match tokio::time::timeout(limits.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout { place, after: limits.timeout }),
        }
    }
}

/// A transport error's causes, without reqwest's own "error sending request
/// for url (…)" wrapper: "client error (Connect): tcp connect error: Connection refused".
fn transport(e: reqwest::Error) -> String {
    let e = e.without_url();
    match std::error::Error::source(&e) {
        Some(source) => causes(source),
        None => causes(&e),
    }
}

/// An error with its causes, each said once.
fn causes(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Takes the URL, and its path and query, out of a message, should a
/// library ever put them there.
fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, "the URL");
    if let Ok(u) = reqwest::Url::parse(url) {
        out = out.replace(u.as_str(), "the URL");
        let path = u.path();
        let rest = match u.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        for part in [rest.as_str(), path, u.query().unwrap_or("")] {
            if part.len() > 1 {
                out = out.replace(part, "…");
            }
        }
        if let Some(p) = u.password() {
            out = out.replace(p, "…");
        }
    }
    out
}

/// The scheme, host and port of a URL, for messages: never its user, path
/// or query. "the server" when it is not a URL.
pub fn origin(url: &str) -> String {
    match url.parse::<::http::Uri>() {
        Ok(u) => match (u.scheme_str(), u.authority()) {
            (Some(s), Some(a)) => format!("{s}://{}", a.as_str().rsplit('@').next().unwrap_or("")),
            _ => "the server".into(),
        },
        Err(_) => "the server".into(),
    }
}

/// Everything but RFC 3986's unreserved characters is encoded in a query value.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The percent-encoded form of a query value (`a b/c` → `a%20b%2Fc`).
pub fn query_value(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn limits(timeout: Duration, body_bytes: usize, oversize: Oversize) -> Limits {
        Limits { timeout, body_bytes, oversize }
    }

    /// A local server that answers every connection with `answer` (after
    /// reading the request head), or never answers when `answer` is None.
    /// Returns its address and a counter of the requests it read.
    async fn server(answer: Option<Vec<u8>>) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let answer = answer.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                    match answer {
                        Some(a) => {
                            let _ = sock.write_all(&a).await;
                            let _ = sock.shutdown().await;
                        }
                        // Hold the connection open and say nothing.
                        None => std::future::pending::<()>().await,
                    }
                });
            }
        });
        (addr, rx)
    }

    fn answer(status: &str, extra: &str, body: &[u8]) -> Vec<u8> {
        let mut a = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
            body.len()
        )
        .into_bytes();
        a.extend_from_slice(body);
        a
    }

    #[test]
    fn messages_name_the_host_not_the_secret_path() {
        assert_eq!(origin("https://hooks.example.com/secret/token"), "https://hooks.example.com");
        assert_eq!(origin("http://user:pw@127.0.0.1:9/x"), "http://127.0.0.1:9");
        assert_eq!(origin("not a url"), "the server");
        assert_eq!(span(Duration::from_secs(10)), "10 s");
        assert_eq!(span(Duration::from_millis(250)), "250 ms");
    }

    #[tokio::test]
    async fn errors_never_show_the_path_query_or_token() {
        // Nothing listens on this port: bind one, learn it, let it go.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let url = format!("http://127.0.0.1:{port}/hooks/s3cr3t-path?token=t0ps3cr3t");
        let client = Client::new("tests", limits(Duration::from_secs(30), 1024, Oversize::Refuse));
        let req = Request::new(Method::POST, &url).bearer("b34r3r-token").body("text/plain", "hi".into());
        let err = client.send(req).await.expect_err("nothing listens there");
        let text = err.to_string();
        assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
        assert!(text.starts_with(&format!("cannot reach http://127.0.0.1:{port}: ")), "{text}");
        for secret in ["s3cr3t-path", "t0ps3cr3t", "b34r3r-token", "/hooks"] {
            assert!(!text.contains(secret), "the error shows `{secret}`: {text}");
            assert!(!format!("{err:?}").contains(secret), "the error shows `{secret}`: {err:?}");
        }

        // An answer that is too large, and one that never comes, say only the host too.
        let (addr, _) = server(None).await;
        let url = format!("http://{addr}/hooks/s3cr3t-path?token=t0ps3cr3t");
        let quick = Client::new("tests", limits(Duration::from_millis(300), 1024, Oversize::Refuse));
        let err =
            quick.send(Request::new(Method::GET, &url).bearer("b34r3r-token")).await.expect_err("silent");
        for secret in ["s3cr3t-path", "t0ps3cr3t", "b34r3r-token"] {
            assert!(!err.to_string().contains(secret), "{err}");
        }
    }

    #[test]
    fn scrub_takes_out_the_url_and_its_path() {
        let url = "https://u:pw0rd@hooks.example.com/s3cr3t?k=v";
        let said = format!("error for url ({url}) at /s3cr3t?k=v with pw0rd");
        let clean = scrub(&said, url);
        assert!(!clean.contains("s3cr3t") && !clean.contains("pw0rd"), "{clean}");
    }

    #[tokio::test]
    async fn an_oversized_answer_is_a_clear_error_or_an_excerpt() {
        let big = vec![b'x'; 64 * 1024];
        let (addr, _) = server(Some(answer("200 OK", "", &big))).await;
        let url = format!("http://{addr}/api");
        let whole = Client::new("tests", limits(Duration::from_secs(30), 4096, Oversize::Refuse));
        let err = whole.send(Request::new(Method::GET, &url)).await.expect_err("too large");
        assert_eq!(err, Error::TooLarge { place: format!("http://{addr}"), status: 200, limit: 4096 });
        assert_eq!(
            err.to_string(),
            format!("http://{addr} answered HTTP 200 with more than 4096 bytes, more than cloutd reads")
        );

        let excerpt = Client::new("tests", limits(Duration::from_secs(30), 4096, Oversize::Truncate));
        let r = excerpt.send(Request::new(Method::GET, &url)).await.expect("an excerpt");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body.len(), 4096);
        assert!(r.truncated);

        // Exactly the limit is not too large.
        let (addr, _) = server(Some(answer("200 OK", "", &big[..4096]))).await;
        let r = whole.send(Request::new(Method::GET, &format!("http://{addr}/"))).await.expect("fits");
        assert_eq!(r.body.len(), 4096);
        assert!(!r.truncated);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let (addr, mut requests) = server(None).await;
        let client = Client::new("tests", limits(Duration::from_millis(300), 1024, Oversize::Refuse));
        let req = Request::new(Method::POST, &format!("http://{addr}/slow")).body("text/plain", "x".into());
        // A generous guard, so that a missing deadline fails rather than hangs.
        let err = tokio::time::timeout(Duration::from_secs(60), client.send(req))
            .await
            .expect("the client's own deadline ends the request")
            .expect_err("no answer");
        assert_eq!(
            err,
            Error::Timeout { place: format!("http://{addr}"), after: Duration::from_millis(300) }
        );
        assert_eq!(err.to_string(), format!("http://{addr} did not answer within 300 ms"));
        assert!(requests.recv().await.is_some_and(|h| h.starts_with("POST /slow ")), "the request was sent");
    }

    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        let (target, mut target_requests) = server(Some(answer("200 OK", "", b"moved here"))).await;
        let location = format!("location: http://{target}/elsewhere\r\n");
        let (addr, mut requests) = server(Some(answer("302 Found", &location, b""))).await;
        let client = Client::new("tests", limits(Duration::from_secs(30), 1024, Oversize::Refuse));
        let r =
            client.send(Request::new(Method::POST, &format!("http://{addr}/hook"))).await.expect("answer");
        assert_eq!(r.status, StatusCode::FOUND);
        let expected = format!("http://{target}/elsewhere");
        assert_eq!(r.headers.get("location").and_then(|v| v.to_str().ok()), Some(expected.as_str()));
        assert!(requests.recv().await.is_some(), "the first server was asked");
        assert!(target_requests.try_recv().is_err(), "the redirect was followed");
    }

    #[tokio::test]
    async fn requests_carry_their_headers_and_body() {
        let (addr, mut requests) = server(Some(answer("201 Created", "x-answer: yes\r\n", b"{}"))).await;
        let client = Client::new("tests", limits(Duration::from_secs(30), 1024, Oversize::Refuse));
        let req = Request::new(Method::POST, &format!("http://{addr}/api/v1/statuses"))
            .header("Idempotency-Key", "k-1")
            .bearer("tok")
            .body("application/json", "{\"a\":1}".into());
        assert_eq!(req.header_value("idempotency-key"), Some("k-1"));
        assert_eq!(req.body_text(), "{\"a\":1}");
        let r = client.send(req).await.expect("answer");
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.headers["x-answer"], "yes");
        assert_eq!(r.body, b"{}");
        let head = requests.recv().await.expect("request").to_lowercase();
        assert!(head.starts_with("post /api/v1/statuses http/1.1\r\n"), "{head}");
        for line in [
            "idempotency-key: k-1",
            "authorization: bearer tok",
            "content-type: application/json",
            "content-length: 7",
            concat!("user-agent: cloutd/", env!("CARGO_PKG_VERSION")),
        ] {
            assert!(head.contains(line), "no `{line}` in {head}");
        }
    }

    #[tokio::test]
    async fn bad_urls_and_headers_are_errors() {
        let client = Client::new("tests", limits(Duration::from_secs(30), 1024, Oversize::Refuse));
        let err = client.send(Request::new(Method::GET, "nowhere")).await.expect_err("not a URL");
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
        let err = client
            .send(Request::new(Method::GET, "http://127.0.0.1:9/x").header("X-Bad", "a\nb"))
            .await
            .expect_err("bad header");
        assert!(err.to_string().starts_with("cannot build the request to http://127.0.0.1:9"), "{err}");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_value("@bob@example.org"), "%40bob%40example.org");
        assert_eq!(query_value("a b/c"), "a%20b%2Fc");
        assert_eq!(
            query_value("at://did:plc:abc/app.bsky.feed.post/3k"),
            "at%3A%2F%2Fdid%3Aplc%3Aabc%2Fapp.bsky.feed.post%2F3k"
        );
        assert_eq!(query_value("A-z_0.9~"), "A-z_0.9~");
    }
}
