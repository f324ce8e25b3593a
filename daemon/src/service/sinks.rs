//! SinkService: where nudges are delivered.

use chrono::Utc;
use clout_proto::{ts, v1};
use http::Uri;
use tonic::{Request, Response, Status};

use super::{Api, check_id, invalid};
use crate::sinks::{Format, NewSink, Sink, SinkKind, check_program, test_nudge};

/// Longest webhook URL, program or argument accepted, in bytes.
const MAX_TARGET_BYTES: usize = 4096;
/// Most arguments of a command hook.
const MAX_ARGS: usize = 64;
/// Most words in a sink's event filter.
const MAX_KINDS: usize = 32;

fn sink_to_proto(s: Sink, backlog: u64) -> v1::Sink {
    v1::Sink {
        id: s.id,
        kind: s.kind.as_str().to_string(),
        target: s.target,
        args: s.args,
        format: s.format.as_str().to_string(),
        kinds: s.kinds,
        cursor: s.cursor,
        backlog,
        healthy: s.failures == 0,
        last_error: s.last_error,
        last_attempt_at: s.last_attempt_at.map(ts),
        next_attempt_at: s.next_attempt_at.filter(|_| s.failures > 0).map(ts),
        failures: s.failures,
        created_at: Some(ts(s.created_at)),
    }
}

fn check_url(url: &str) -> Result<String, Status> {
    let url = url.trim();
    if url.is_empty() {
        return Err(invalid("a webhook needs a URL, e.g. https://ntfy.sh/my-topic"));
    }
    if url.len() > MAX_TARGET_BYTES || url.contains(char::is_whitespace) {
        return Err(invalid(format!("the URL must be one word of at most {MAX_TARGET_BYTES} bytes")));
    }
    let bad =
        || invalid(format!("`{url}` is not a URL cloutd can post to: use http://HOST/… or https://HOST/…"));
    let uri: Uri = url.parse().map_err(|_| bad())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url.to_string())
}

fn check_arg(what: &str, s: &str) -> Result<(), Status> {
    if s.len() > MAX_TARGET_BYTES || s.contains('\0') {
        return Err(invalid(format!(
            "the {what} must be at most {MAX_TARGET_BYTES} bytes without NUL characters"
        )));
    }
    Ok(())
}

fn check_kinds(kinds: &[String]) -> Result<Vec<String>, Status> {
    if kinds.len() > MAX_KINDS {
        return Err(invalid(format!("too many event kinds: at most {MAX_KINDS}")));
    }
    let mut out: Vec<String> = Vec::new();
    for k in kinds {
        let k = k.trim().to_lowercase();
        if k.is_empty()
            || k.len() > 64
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(format!(
                "invalid event kind `{k}`: use due, post, task, publish, miss, setback, lesson or a nudge kind such as post_due"
            )));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// A sink declared in the config file, checked like `clout sink add`.
pub fn from_config(i: usize, d: &crate::config::SinkDecl) -> Result<NewSink, String> {
    new_sink(v1::AddSinkRequest {
        kind: d.kind.clone(),
        target: d.target.clone(),
        args: d.args.clone(),
        format: d.format.clone(),
        kinds: d.on.clone(),
    })
    .map_err(|s| format!("sinks[{i}] in the config file: {}", s.message()))
}

fn new_sink(r: v1::AddSinkRequest) -> Result<NewSink, Status> {
    let kind = SinkKind::parse(r.kind.trim())
        .ok_or_else(|| invalid(format!("unknown sink kind `{}`: use webhook, command or desktop", r.kind)))?;
    let format = match r.format.trim() {
        "" => Format::Json,
        f => Format::parse(f)
            .ok_or_else(|| invalid(format!("unknown format `{f}`: use json, ntfy or slack")))?,
    };
    if kind != SinkKind::Webhook && format != Format::Json {
        return Err(invalid("--format applies to webhooks only"));
    }
    if kind != SinkKind::Command && !r.args.is_empty() {
        return Err(invalid("arguments apply to command hooks only"));
    }
    let target = match kind {
        SinkKind::Webhook => check_url(&r.target)?,
        SinkKind::Command => {
            let program = r.target.clone();
            if program.trim().is_empty() {
                return Err(invalid(
                    "a command hook needs a program: clout sink add command -- PROGRAM [ARGS]…",
                ));
            }
            check_arg("program", &program)?;
            if r.args.len() > MAX_ARGS {
                return Err(invalid(format!("too many arguments: at most {MAX_ARGS}")));
            }
            for a in &r.args {
                check_arg("argument", a)?;
            }
            check_program(&program).map_err(invalid)?;
            program
        }
        SinkKind::Desktop => {
            if !r.target.trim().is_empty() {
                return Err(invalid("a desktop sink takes no target"));
            }
            String::new()
        }
    };
    Ok(NewSink { kind, target, args: r.args, format, kinds: check_kinds(&r.kinds)? })
}

#[tonic::async_trait]
impl v1::sink_service_server::SinkService for Api {
    async fn add_sink(&self, req: Request<v1::AddSinkRequest>) -> Result<Response<v1::Sink>, Status> {
        if SinkKind::parse(req.get_ref().kind.trim()) == Some(SinkKind::Command) {
            super::COMMAND_HOOK.check(super::Peer::of(&req))?;
        }
        let new = new_sink(req.into_inner())?;
        let sink = self.core.store.add_sink(&new, Utc::now()).await?;
        self.core.sinks.changed();
        tracing::info!(sink = sink.id, kind = sink.kind.as_str(), "sink added");
        Ok(Response::new(sink_to_proto(sink, 0)))
    }

    async fn list_sinks(
        &self,
        _req: Request<v1::ListSinksRequest>,
    ) -> Result<Response<v1::ListSinksResponse>, Status> {
        let store = &self.core.store;
        let mut sinks = Vec::new();
        for s in store.sinks().await? {
            let backlog = store.sink_backlog(s.cursor, &s.kinds).await?;
            sinks.push(sink_to_proto(s, backlog));
        }
        Ok(Response::new(v1::ListSinksResponse { sinks }))
    }

    async fn remove_sink(
        &self,
        req: Request<v1::RemoveSinkRequest>,
    ) -> Result<Response<v1::RemoveSinkResponse>, Status> {
        let id = check_id(req.into_inner().id)?;
        self.core.store.remove_sink(id).await?;
        self.core.sinks.changed();
        tracing::info!(sink = id, "sink removed");
        Ok(Response::new(v1::RemoveSinkResponse {}))
    }

    async fn test_sink(
        &self,
        req: Request<v1::TestSinkRequest>,
    ) -> Result<Response<v1::TestSinkResponse>, Status> {
        let id = check_id(req.into_inner().id)?;
        let sink = self.core.store.get_sink(id).await?;
        match self.core.sinks.deliver(&sink, &test_nudge(id)).await {
            Ok(()) => {
                // It works now: a sink waiting out a backoff is tried again at once.
                if sink.failures > 0 {
                    self.core.sinks.changed();
                }
                Ok(Response::new(v1::TestSinkResponse { ok: true, error: String::new() }))
            }
            Err(error) => Ok(Response::new(v1::TestSinkResponse { ok: false, error })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert!(check_url("https://ntfy.sh/topic").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        for bad in ["", "ftp://x/y", "ntfy.sh/topic", "https:///path", "http://a b", "file:///etc/passwd"] {
            assert!(check_url(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn kinds_are_words() {
        assert_eq!(
            check_kinds(&["Due".into(), "due".into(), "lesson".into()]).expect("ok"),
            ["due", "lesson"]
        );
        assert!(check_kinds(&["two words".into()]).is_err());
    }
}
