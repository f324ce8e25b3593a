//! JSON over HTTP for the publishing APIs: one pooled client, a deadline on
//! every request, and answers read up to a size limit.

use std::time::Duration;

use serde_json::Value;

pub use crate::http::origin;
use crate::http::{Client, Error, HeaderMap, Limits, Method, Oversize, Request};

/// How long a server may take to answer one request.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an answer is read.
const BODY_BYTES: usize = 256 * 1024;

/// A server's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A string field of the JSON body, or "".
    pub fn str(&self, field: &str) -> &str {
        self.body.get(field).and_then(Value::as_str).unwrap_or("")
    }

    /// The server's own words about an error: Mastodon's `error`, XRPC's
    /// `message` (with its `error` name), else the status.
    pub fn message(&self) -> String {
        let error = self.str("error");
        let message = self.str("message");
        let said = match (error.is_empty(), message.is_empty()) {
            (false, false) => format!("{error}: {message}"),
            (false, true) => error.to_string(),
            (true, false) => message.to_string(),
            (true, true) => String::new(),
        };
        let said: String = said.chars().filter(|c| !c.is_control()).take(300).collect();
        if said.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {said}", self.status)
        }
    }
}

/// One HTTP client, with its connection pool, for every account.
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
        Http::with_timeout("publishing", TIMEOUT)
    }

    /// A client whose every exchange ends within `timeout`.
    pub fn with_timeout(purpose: &'static str, timeout: Duration) -> Http {
        let limits = Limits { timeout, body_bytes: BODY_BYTES, oversize: Oversize::Refuse };
        Http { client: Client::new(purpose, limits) }
    }

    /// A client of its own, for another purpose, with other limits.
    pub fn with_limits(purpose: &'static str, limits: Limits) -> Http {
        Http { client: Client::new(purpose, limits) }
    }

    /// Sends one request. `Err` means no answer (a transport error, the
    /// deadline, an answer too large to read); any answer, error statuses
    /// included, is `Ok`.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, Error> {
        let mut req = Request::new(method, url).header("Accept", "application/json");
        if let Some(token) = bearer {
            req = req.bearer(token);
        }
        for (k, v) in headers {
            req = req.header(k, *v);
        }
        if let Some(v) = body {
            req = req.body("application/json", v.to_string());
        }
        let resp = self.client.send(req).await?;
        let body = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        Ok(Answer { status: resp.status.as_u16(), headers: resp.headers, body })
    }
}

impl Http {
    /// Sends bytes (an image) as the body, with their content type.
    pub async fn upload(
        &self,
        url: &str,
        bearer: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Answer, String> {
        let req = Request::new(Method::POST, url)
            .header("Accept", "application/json")
            .bearer(bearer)
            .bytes(content_type, bytes);
        let resp = self.client.send(req).await.map_err(|e| e.to_string())?;
        let body = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        Ok(Answer { status: resp.status.as_u16(), headers: resp.headers, body })
    }
}

/// Reads Retry-After (seconds or an HTTP date), else Bluesky's
/// ratelimit-reset (Unix seconds), else Mastodon's X-RateLimit-Reset (an
/// ISO 8601 time).
pub fn wait_hint(a: &Answer) -> Option<Duration> {
    let now = crate::clock::now();
    a.header("retry-after")
        .and_then(|v| super::text::retry_after(v, now))
        .or_else(|| a.header("ratelimit-reset").and_then(|v| super::text::rate_limit_reset(v, now)))
        .or_else(|| {
            // Mastodon sends it with every answer: it means wait only on a 429.
            a.header("x-ratelimit-reset")
                .filter(|_| a.status == 429)
                .and_then(|v| super::text::rate_limit_reset_at(v, now))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_the_server() {
        let a = Answer {
            status: 400,
            headers: Default::default(),
            body: serde_json::json!({"error": "ExpiredToken", "message": "Token has expired"}),
        };
        assert_eq!(a.message(), "HTTP 400: ExpiredToken: Token has expired");
        let a = Answer { status: 502, headers: Default::default(), body: Value::Null };
        assert_eq!(a.message(), "HTTP 502");
    }
}
