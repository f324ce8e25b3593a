//! Webhook sinks: one HTTP(S) POST per nudge, with the nudge id as the
//! idempotency key. Any 2xx answer is a delivery; anything else, or no
//! answer within 10 s, is a failure that is retried.

use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use super::{Format, Sink, excerpt, headline, nudge_json};
use crate::model::Nudge;

/// How long a webhook may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a response body is read (the rest is dropped).
const BODY_BYTES: usize = 4096;

pub(crate) type HttpsClient = Client<HttpsConnector<HttpConnector>, String>;

/// An HTTP/1.1 client for `https://` and `http://` URLs, with the webpki roots.
pub(crate) fn https_client(purpose: &str) -> Result<HttpsClient, String> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map(|b| {
            let connector = b.https_or_http().enable_http1().build();
            Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector)
        })
        .map_err(|e| format!("cloutd cannot set up TLS for {purpose} ({e}); please report this"))
}

/// One HTTP client (with its connection pool) for every webhook sink.
pub struct Http {
    client: Result<HttpsClient, String>,
}

impl Http {
    pub fn new() -> Http {
        Http { client: https_client("webhooks") }
    }

    /// Posts one nudge to the sink's URL.
    pub async fn post(&self, sink: &Sink, n: &Nudge) -> Result<(), String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let place = host(&sink.target);
        let req = request(sink, n)?;
        match tokio::time::timeout(TIMEOUT, send(client, req, &place)).await {
            Ok(result) => result,
            Err(_) => Err(format!("{place} did not answer within {} s", TIMEOUT.as_secs())),
        }
    }
}

/// The scheme and host of a URL, for messages: webhook URLs often carry a
/// secret in their path, which stays out of errors and logs.
fn host(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(u) => match (u.scheme_str(), u.authority()) {
            (Some(s), Some(a)) => format!("{s}://{}", a.as_str().rsplit('@').next().unwrap_or("")),
            _ => "the webhook".into(),
        },
        Err(_) => "the webhook".into(),
    }
}

/// The idempotency key: the nudge id; a test nudge gets a key of its own.
pub fn idempotency_key(sink: &Sink, n: &Nudge) -> String {
    if n.id > 0 {
        format!("clout-nudge-{}", n.id)
    } else {
        format!("clout-test-{}-{}", sink.id, n.fired_at.timestamp_millis())
    }
}

/// The request for one nudge in the sink's format.
pub fn request(sink: &Sink, n: &Nudge) -> Result<Request<String>, String> {
    let (content_type, body) = match sink.format {
        Format::Json => ("application/json", nudge_json(n).to_string()),
        Format::Ntfy => ("text/plain; charset=utf-8", n.message.clone()),
        Format::Slack => ("application/json", json!({ "text": n.message, "content": n.message }).to_string()),
    };
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(sink.target.as_str())
        .header(CONTENT_TYPE, content_type)
        .header(USER_AGENT, concat!("cloutd/", env!("CARGO_PKG_VERSION")))
        .header("Idempotency-Key", idempotency_key(sink, n))
        .header("X-Clout-Nudge-Id", n.id.to_string())
        .header("X-Clout-Nudge-Kind", n.kind.as_str());
    if sink.format == Format::Ntfy {
        b = b.header("Title", headline(&n.kind)).header("Tags", format!("clout,{}", n.kind));
    }
    b.body(body).map_err(|e| format!("cannot build the request to {}: {e}", host(&sink.target)))
}

async fn send(client: &HttpsClient, req: Request<String>, place: &str) -> Result<(), String> {
    let resp = client.request(req).await.map_err(|e| format!("cannot reach {place}: {}", causes(&e)))?;
    let status = resp.status();
    let body = read_prefix(resp.into_body(), BODY_BYTES).await;
    if status.is_success() {
        return Ok(());
    }
    let said = excerpt(&body, 200);
    if said.is_empty() {
        Err(format!("{place} answered HTTP {status}"))
    } else {
        Err(format!("{place} answered HTTP {status}: {said}"))
    }
}

/// Up to `limit` bytes of a response body.
pub(crate) async fn read_prefix(mut body: Incoming, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < limit {
        match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let take = data.len().min(limit - out.len());
                    out.extend_from_slice(&data[..take]);
                }
            }
            _ => break,
        }
    }
    out
}

/// An error with its causes: "client error (Connect): tcp connect error: Connection refused".
pub(crate) fn causes(e: &dyn std::error::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::{SinkKind, test_nudge};

    fn sink(format: Format) -> Sink {
        Sink {
            id: 7,
            kind: SinkKind::Webhook,
            target: "https://hooks.example.com/secret/token".into(),
            args: vec![],
            format,
            kinds: vec![],
            cursor: 0,
            last_error: String::new(),
            failures: 0,
            last_attempt_at: None,
            next_attempt_at: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn requests_carry_the_nudge_and_its_key() {
        let mut n = test_nudge(7);
        n.id = 42;
        n.kind = "post_due".into();
        n.draft_id = Some(3);
        let r = request(&sink(Format::Json), &n).expect("request");
        assert_eq!(r.headers()["idempotency-key"], "clout-nudge-42");
        assert_eq!(r.headers()["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_str(r.body()).expect("json");
        assert_eq!(v["draft_id"], 3);
        assert_eq!(v["id"], 42);

        let r = request(&sink(Format::Ntfy), &n).expect("request");
        assert_eq!(r.body(), &n.message);
        assert_eq!(r.headers()["title"], "Time to post");

        let r = request(&sink(Format::Slack), &n).expect("request");
        let v: serde_json::Value = serde_json::from_str(r.body()).expect("json");
        assert_eq!(v["text"], n.message.as_str());
        assert_eq!(v["content"], n.message.as_str());
    }

    #[test]
    fn messages_name_the_host_not_the_secret_path() {
        assert_eq!(host("https://hooks.example.com/secret/token"), "https://hooks.example.com");
        assert_eq!(host("http://user:pw@127.0.0.1:9/x"), "http://127.0.0.1:9");
    }
}
