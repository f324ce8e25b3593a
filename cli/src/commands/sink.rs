//! `clout sink …`: where nudges are delivered (webhooks, command hooks, desktop).

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand, ValueEnum};
use clout_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, DIM, GREEN, Table, YELLOW};

const AFTER_ADD: &str = "\
Examples:
  clout sink add webhook https://ntfy.sh/my-topic --format ntfy --on due
  clout sink add webhook https://hooks.slack.com/services/T/B/X --format slack --on publish,miss
  clout sink add command -- notify-me --urgent
  clout sink add desktop --on due

Events for --on: due (post_due and task_due), post, task, lesson, publish, miss, setback,
or any nudge kind. Repeat --on or separate with commas; without it every nudge is delivered.
A new sink starts at the end of the nudge log: it does not replay history.";

#[derive(Subcommand, Debug)]
pub enum SinkCmd {
    /// Add a sink: `webhook URL`, `command -- PROGRAM [ARGS]…` or `desktop`
    #[command(subcommand, after_help = AFTER_ADD)]
    Add(AddCmd),
    /// List sinks with their health and backlog
    #[command(visible_alias = "ls", after_help = "Examples:\n  clout sink list\n  clout --json sink list")]
    List,
    /// Remove a sink
    #[command(after_help = "Examples:\n  clout sink rm 2")]
    Rm {
        /// The sink id (`clout sink list` shows it)
        id: i64,
    },
    /// Send a test nudge (kind "test") to a sink now; the nudge log is not touched
    #[command(
        after_help = "Examples:\n  clout sink test 2\n  clout sink list        # a failed test shows there"
    )]
    Test {
        /// The sink id (`clout sink list` shows it)
        id: i64,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// The nudge as JSON (id, kind, message, due_at, fired_at, draft_id, task_id, late)
    Json,
    /// ntfy: the message as plain text, with Title and Tags headers
    Ntfy,
    /// {"text", "content"}: Slack and Discord incoming webhooks
    Slack,
}

#[derive(Args, Debug)]
pub struct OnArgs {
    /// Deliver only these events (see below) [default: every nudge]
    #[arg(long = "on", value_name = "KIND", value_delimiter = ',')]
    on: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum AddCmd {
    /// POST each nudge to URL, with the header `Idempotency-Key: clout-nudge-ID`
    #[command(after_help = AFTER_ADD)]
    Webhook {
        /// http:// or https:// URL, e.g. https://ntfy.sh/my-topic
        url: String,
        /// The payload
        #[arg(long, value_enum, default_value_t = FormatArg::Json)]
        format: FormatArg,
        #[command(flatten)]
        on: OnArgs,
    },
    /// Run PROGRAM [ARGS]… for each nudge: the nudge as JSON on stdin, CLOUT_NUDGE_ID and
    /// CLOUT_NUDGE_KIND in its environment; exit 0 within 30 s counts as delivered
    #[command(after_help = AFTER_ADD)]
    Command {
        #[command(flatten)]
        on: OnArgs,
        /// The program (a name on cloutd's PATH, or a path) and its arguments, after `--`
        #[arg(
            value_name = "PROGRAM",
            required = true,
            num_args = 1..,
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        argv: Vec<String>,
    },
    /// Desktop notifications: freedesktop notifications over D-Bus, sent with notify-send
    #[command(after_help = AFTER_ADD)]
    Desktop {
        #[command(flatten)]
        on: OnArgs,
    },
}

fn sink_json(s: &v1::Sink) -> serde_json::Value {
    json!({
        "id": s.id,
        "kind": s.kind,
        "target": s.target,
        "args": s.args,
        "format": s.format,
        "kinds": s.kinds,
        "cursor": s.cursor,
        "backlog": s.backlog,
        "healthy": s.healthy,
        "failures": s.failures,
        "last_error": s.last_error,
        "last_attempt_at": render::rfc3339(&s.last_attempt_at),
        "next_attempt_at": render::rfc3339(&s.next_attempt_at),
        "created_at": render::rfc3339(&s.created_at),
    })
}

/// Where a sink delivers, in one line.
fn target(s: &v1::Sink) -> String {
    match s.kind.as_str() {
        "webhook" if s.format != "json" => format!("{} ({})", s.target, s.format),
        "command" => {
            std::iter::once(&s.target).chain(&s.args).map(|a| quote(a)).collect::<Vec<_>>().join(" ")
        }
        "desktop" => "notify-send".into(),
        _ => s.target.clone(),
    }
}

/// A word as a shell would need it.
fn quote(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

fn filter(s: &v1::Sink) -> String {
    if s.kinds.is_empty() { "all".into() } else { s.kinds.join(",") }
}

fn health(s: &v1::Sink) -> String {
    if s.healthy {
        return "ok".into();
    }
    let retry = render::time(&s.next_attempt_at)
        .filter(|t| *t > chrono::Utc::now())
        .map(|t| format!(", retry {}", render::relative(t)))
        .unwrap_or_default();
    format!("failing ({}×{retry})", s.failures)
}

/// A command hook's program, made absolute when given as a relative path:
/// cloutd runs hooks from its own directory, not this one.
fn program_path(program: &str) -> Result<String> {
    let p = std::path::Path::new(program);
    if !program.contains('/') || p.is_absolute() {
        return Ok(program.to_string());
    }
    let cwd = std::env::current_dir().map_err(|e| anyhow!("cannot read the current directory: {e}"))?;
    Ok(cwd.join(p.strip_prefix("./").unwrap_or(p)).display().to_string())
}

pub async fn run(ctx: &Ctx, cmd: SinkCmd) -> Result<()> {
    let cl = ctx.client().await?;
    match cmd {
        SinkCmd::Add(add) => {
            let req = match add {
                AddCmd::Webhook { url, format, on } => v1::AddSinkRequest {
                    kind: "webhook".into(),
                    target: url,
                    args: vec![],
                    format: match format {
                        FormatArg::Json => "json",
                        FormatArg::Ntfy => "ntfy",
                        FormatArg::Slack => "slack",
                    }
                    .into(),
                    kinds: on.on,
                },
                AddCmd::Command { on, argv } => {
                    let mut argv = argv.into_iter();
                    let program = argv.next().unwrap_or_default();
                    if program.trim().is_empty() {
                        return Err(anyhow!(
                            "give the program to run: clout sink add command -- PROGRAM [ARGS]…"
                        ));
                    }
                    v1::AddSinkRequest {
                        kind: "command".into(),
                        target: program_path(&program)?,
                        args: argv.collect(),
                        format: String::new(),
                        kinds: on.on,
                    }
                }
                AddCmd::Desktop { on } => v1::AddSinkRequest {
                    kind: "desktop".into(),
                    target: String::new(),
                    args: vec![],
                    format: String::new(),
                    kinds: on.on,
                },
            };
            let s = call!(cl, sinks, add_sink, req)?;
            if ctx.json {
                render::print_json(&sink_json(&s));
            } else {
                let events = if s.kinds.is_empty() { "every nudge".to_string() } else { s.kinds.join(", ") };
                anstream::println!("Added sink {BOLD}{}{BOLD:#}: {} {} ({events})", s.id, s.kind, target(&s));
                anstream::println!("{DIM}Check it with: clout sink test {}{DIM:#}", s.id);
            }
        }
        SinkCmd::List => {
            let r = call!(cl, sinks, list_sinks, v1::ListSinksRequest {})?;
            if ctx.json {
                render::print_json(&serde_json::Value::Array(r.sinks.iter().map(sink_json).collect()));
            } else if r.sinks.is_empty() {
                println!(
                    "No sinks: nudges are only in `clout watch`. Add one, e.g.: clout sink add webhook https://ntfy.sh/my-topic --format ntfy"
                );
            } else {
                let mut t =
                    Table::new(vec!["ID", "KIND", "TARGET", "FILTER", "HEALTH", "BACKLOG", "LAST ERROR"]);
                for s in &r.sinks {
                    t.row(vec![
                        (s.id.to_string(), BOLD),
                        (s.kind.clone(), anstyle::Style::new()),
                        (render::cut(&target(s), 48), anstyle::Style::new()),
                        (filter(s), DIM),
                        (health(s), if s.healthy { GREEN } else { YELLOW }),
                        (s.backlog.to_string(), anstyle::Style::new()),
                        (render::cut(&s.last_error, 60), DIM),
                    ]);
                }
                t.print();
            }
        }
        SinkCmd::Rm { id } => {
            call!(cl, sinks, remove_sink, v1::RemoveSinkRequest { id })?;
            if ctx.json {
                render::print_json(&json!({ "id": id, "deleted": true }));
            } else {
                println!("Removed sink {id}");
            }
        }
        SinkCmd::Test { id } => {
            let r = call!(cl, sinks, test_sink, v1::TestSinkRequest { id })?;
            if ctx.json {
                render::print_json(&json!({ "id": id, "ok": r.ok, "error": r.error }));
            }
            if !r.ok {
                return Err(anyhow!("sink {id} did not take the test nudge: {}", r.error));
            }
            if !ctx.json {
                anstream::println!("{GREEN}Sink {id} works:{GREEN:#} the test nudge was delivered");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(quote("sh"), "sh");
        assert_eq!(quote("cat > /tmp/x"), "'cat > /tmp/x'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
