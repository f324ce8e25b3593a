//! Sinks: where nudges are delivered (a webhook, a command hook, the
//! desktop), in what format, and which kinds of nudge each takes.

use chrono::{DateTime, Utc};
use http::Uri;

use super::Invalid;

/// Longest webhook URL, program or argument accepted, in bytes.
const MAX_TARGET_BYTES: usize = 4096;
/// Most arguments of a command hook.
const MAX_ARGS: usize = 64;
/// Most words in a sink's event filter.
const MAX_KINDS: usize = 32;

fn bad(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid::new(field, reason)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Webhook,
    Command,
    Desktop,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::Command => "command",
            SinkKind::Desktop => "desktop",
        }
    }

    pub fn parse(s: &str) -> Option<SinkKind> {
        Some(match s {
            "webhook" => SinkKind::Webhook,
            "command" => SinkKind::Command,
            "desktop" => SinkKind::Desktop,
            _ => return None,
        })
    }
}

/// A webhook's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The nudge as JSON.
    Json,
    /// ntfy: the message as plain text, with Title and Tags headers.
    Ntfy,
    /// `{"text", "content"}`: Slack and Discord incoming webhooks.
    Slack,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ntfy => "ntfy",
            Format::Slack => "slack",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "json" => Format::Json,
            "ntfy" => Format::Ntfy,
            "slack" | "discord" => Format::Slack,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sink {
    pub id: i64,
    pub kind: SinkKind,
    /// The URL of a webhook, the program of a command hook, empty for desktop.
    pub target: String,
    pub args: Vec<String>,
    pub format: Format,
    /// The event filter as given; empty lets every nudge through.
    pub kinds: Vec<String>,
    /// The id of the last nudge delivered or skipped.
    pub cursor: i64,
    pub last_error: String,
    /// Failed attempts in a row; 0 is healthy.
    pub failures: u32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a new sink carries.
#[derive(Debug, Clone)]
pub struct NewSink {
    pub kind: SinkKind,
    pub target: String,
    pub args: Vec<String>,
    pub format: Format,
    pub kinds: Vec<String>,
}

/// The nudge kinds a filter word lets through: the hook names stand for
/// nudge kinds, and every word also matches the nudge kind of its own name.
pub fn expand(word: &str) -> &'static [&'static str] {
    match word {
        "due" => &["post_due", "task_due"],
        "post" => &["post_due"],
        "task" => &["task_due"],
        "publish" => &["published", "published_differently"],
        "fail" => &["publish_failed"],
        "miss" => &["missed", "task_missed"],
        _ => &[],
    }
}

/// Whether a filter lets a nudge kind through. An empty filter lets everything through.
pub fn matches(filter: &[String], kind: &str) -> bool {
    filter.is_empty() || filter.iter().any(|w| w == kind || expand(w).contains(&kind))
}

fn check_url(url: &str) -> Result<String, Invalid> {
    let url = url.trim();
    if url.is_empty() {
        return Err(bad("target", "a webhook needs a URL, e.g. https://ntfy.sh/my-topic"));
    }
    if url.len() > MAX_TARGET_BYTES || url.contains(char::is_whitespace) {
        return Err(bad("target", format!("the URL must be one word of at most {MAX_TARGET_BYTES} bytes")));
    }
    let bad = || {
        bad("target", format!("`{url}` is not a URL cloutd can post to: use http://HOST/… or https://HOST/…"))
    };
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

fn check_arg(what: &str, s: &str) -> Result<(), Invalid> {
    if s.len() > MAX_TARGET_BYTES || s.contains('\0') {
        return Err(bad(
            "target",
            format!("the {what} must be at most {MAX_TARGET_BYTES} bytes without NUL characters"),
        ));
    }
    Ok(())
}

fn check_kinds(kinds: &[String]) -> Result<Vec<String>, Invalid> {
    if kinds.len() > MAX_KINDS {
        return Err(bad("kinds", format!("too many event kinds: at most {MAX_KINDS}")));
    }
    let mut out: Vec<String> = Vec::new();
    for k in kinds {
        let k = k.trim().to_lowercase();
        if k.is_empty()
            || k.len() > 64
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(
                "kinds",
                format!(
                    "invalid event kind `{k}`: use due, post, task, publish, miss, setback, lesson or a nudge kind such as post_due"
                ),
            ));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

impl NewSink {
    /// A sink as `clout sink add` or the config file gives it, checked.
    /// Whether a command hook's program can run is checked where hooks
    /// run (`crate::sinks::admit`).
    pub fn check(
        kind: &str,
        target: &str,
        args: Vec<String>,
        format: &str,
        kinds: &[String],
    ) -> Result<NewSink, Invalid> {
        let kind = SinkKind::parse(kind.trim()).ok_or_else(|| {
            bad("kind", format!("unknown sink kind `{}`: use webhook, command or desktop", kind))
        })?;
        let format = match format.trim() {
            "" => Format::Json,
            f => Format::parse(f)
                .ok_or_else(|| bad("format", format!("unknown format `{f}`: use json, ntfy or slack")))?,
        };
        if kind != SinkKind::Webhook && format != Format::Json {
            return Err(bad("format", "--format applies to webhooks only"));
        }
        if kind != SinkKind::Command && !args.is_empty() {
            return Err(bad("args", "arguments apply to command hooks only"));
        }
        let target = match kind {
            SinkKind::Webhook => check_url(target)?,
            SinkKind::Command => {
                let program = target.to_string();
                if program.trim().is_empty() {
                    return Err(bad(
                        "target",
                        "a command hook needs a program: clout sink add command -- PROGRAM [ARGS]…",
                    ));
                }
                check_arg("program", &program)?;
                if args.len() > MAX_ARGS {
                    return Err(bad("args", format!("too many arguments: at most {MAX_ARGS}")));
                }
                for a in &args {
                    check_arg("argument", a)?;
                }
                program
            }
            SinkKind::Desktop => {
                if !target.trim().is_empty() {
                    return Err(bad("target", "a desktop sink takes no target"));
                }
                String::new()
            }
        };
        Ok(NewSink { kind, target, args, format, kinds: check_kinds(kinds)? })
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
