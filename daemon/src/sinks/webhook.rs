//! Webhook sinks: one HTTP(S) POST per nudge, with the nudge id as the
//! idempotency key. Any 2xx answer is a delivery; anything else, or no
//! answer within 10 s, is a failure that is retried.

use std::time::Duration;

use serde_json::json;

use super::{Failure, Format, Sink, excerpt, headline, nudge_json};
use crate::http::{Client, Limits, Method, Oversize, Request, origin};
use crate::model::Nudge;

/// How long a webhook may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a response body is read (the rest is dropped).
const BODY_BYTES: usize = 4096;

/// One HTTP client (with its connection pool) for every webhook sink.
pub struct Http {
    client: Client,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Http {
        let limits = Limits { timeout: TIMEOUT, body_bytes: BODY_BYTES, oversize: Oversize::Truncate };
        Http { client: Client::new("webhooks", limits) }
    }

    /// Posts one nudge to the sink's URL.
    pub async fn post(&self, sink: &Sink, n: &Nudge) -> Result<(), Failure> {
        let resp = self.client.send(request(sink, n)).await?;
        if resp.status.is_success() {
            return Ok(());
        }
        Err(Failure::Refused {
            place: host(&sink.target),
            status: resp.status.as_u16(),
            said: excerpt(&resp.body, 200),
        })
    }
}

/// The scheme and host of a URL, for messages: webhook URLs often carry a
/// secret in their path, which stays out of errors and logs.
fn host(url: &str) -> String {
    match origin(url) {
        o if o == "the server" => "the webhook".into(),
        o => o,
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
pub fn request(sink: &Sink, n: &Nudge) -> Request {
    let (content_type, body) = match sink.format {
        Format::Json => ("application/json", nudge_json(n).to_string()),
        Format::Ntfy => ("text/plain; charset=utf-8", n.message.clone()),
        Format::Slack => ("application/json", json!({ "text": n.message, "content": n.message }).to_string()),
    };
    let mut r = Request::new(Method::POST, &sink.target)
        .body(content_type, body)
        .header("Idempotency-Key", idempotency_key(sink, n))
        .header("X-Clout-Nudge-Id", n.id.to_string())
        .header("X-Clout-Nudge-Kind", n.kind.as_str());
    if sink.format == Format::Ntfy {
        r = r.header("Title", headline(&n.kind)).header("Tags", format!("clout,{}", n.kind));
    }
    r
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
            created_at: crate::clock::now(),
        }
    }

    #[test]
    fn requests_carry_the_nudge_and_its_key() {
        let mut n = test_nudge(7);
        n.id = 42;
        n.kind = "post_due".into();
        n.draft_id = Some(3);
        let r = request(&sink(Format::Json), &n);
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.url(), "https://hooks.example.com/secret/token");
        assert_eq!(r.header_value("idempotency-key"), Some("clout-nudge-42"));
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_str(r.body_text()).expect("json");
        assert_eq!(v["draft_id"], 3);
        assert_eq!(v["id"], 42);

        let r = request(&sink(Format::Ntfy), &n);
        assert_eq!(r.body_text(), n.message);
        assert_eq!(r.header_value("title"), Some("Time to post"));

        let r = request(&sink(Format::Slack), &n);
        let v: serde_json::Value = serde_json::from_str(r.body_text()).expect("json");
        assert_eq!(v["text"], n.message.as_str());
        assert_eq!(v["content"], n.message.as_str());
    }

    #[test]
    fn messages_name_the_host_not_the_secret_path() {
        assert_eq!(host("https://hooks.example.com/secret/token"), "https://hooks.example.com");
        assert_eq!(host("http://user:pw@127.0.0.1:9/x"), "http://127.0.0.1:9");
        assert_eq!(host("nowhere"), "the webhook");
    }
}
