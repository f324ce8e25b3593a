//! Shell completion: the registration scripts of `clout completions SHELL`
//! call back into `clout` (`COMPLETE=bash clout -- …`) as you type, so ids of
//! drafts, tasks and nudges come from the running cloutd. When it is not
//! running (or does not answer within a second) an id completes to nothing,
//! quietly, and everything else still completes. A `--socket` or
//! `--endpoint` typed on the line is the daemon asked.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clout_proto::v1;

use crate::call;

/// The environment variable that asks `clout` for completions.
const VAR: &str = "COMPLETE";
/// How long a completion waits for cloutd.
const DEADLINE: Duration = Duration::from_secs(1);

/// Answers a completion request and exits, when the shell made one.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(crate::Cli::command).var(VAR).complete();
}

/// Writes the script that registers clout's completion in `shell`.
pub fn registration(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        anyhow::bail!("no completion script for {name}; try bash, zsh, fish, elvish or powershell");
    };
    let mut out = Vec::new();
    completer.write_registration(VAR, "clout", "clout", "clout", &mut out)?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)?;
    Ok(())
}

/// The value of a global flag on the command line being completed
/// (`--socket PATH` or `--socket=PATH`), else of its environment variable.
fn setting(flag: &str, var: &str) -> Option<OsString> {
    // The shell calls `clout -- WORDS…`: the words typed so far.
    let words: Vec<OsString> = std::env::args_os().skip_while(|a| a != "--").skip(1).collect();
    typed(&words, flag).or_else(|| std::env::var_os(var))
}

fn typed(words: &[OsString], flag: &str) -> Option<OsString> {
    let with_value = format!("{flag}=");
    let mut found = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == flag {
            // The word being typed (the last) is no value yet.
            found = it.next().filter(|v| !v.is_empty()).cloned().or(found);
        } else if let Some(v) = w.to_str().and_then(|w| w.strip_prefix(&with_value)) {
            found = Some(v.into());
        }
    }
    found
}

/// Runs `ask` against cloutd at the socket or endpoint typed on the command
/// line, else the environment's, else the default socket, giving up quietly
/// after [`DEADLINE`].
fn ask<F, Fut>(ask: F) -> Vec<CompletionCandidate>
where
    F: FnOnce(crate::client::Client) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<CompletionCandidate>>>,
{
    let socket = setting("--socket", "CLOUT_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(clout_proto::default_socket_path);
    if let Some(endpoint) = setting("--endpoint", "CLOUT_ENDPOINT").and_then(|e| e.into_string().ok()) {
        let token = setting("--token-file", "CLOUT_TOKEN_FILE").map(PathBuf::from);
        let ca = setting("--ca", "CLOUT_CA").map(PathBuf::from);
        if crate::client::use_endpoint(&endpoint, token.as_deref(), ca.as_deref()).is_err() {
            return Vec::new();
        }
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return Vec::new();
    };
    rt.block_on(async {
        let work = async {
            let cl = crate::client::Client::connect(&socket).await?;
            ask(cl).await
        };
        match tokio::time::timeout(DEADLINE, work).await {
            Ok(Ok(found)) => found,
            _ => Vec::new(),
        }
    })
}

fn candidate(id: i64, help: String) -> CompletionCandidate {
    CompletionCandidate::new(OsString::from(id.to_string())).help(Some(help.into()))
}

/// The drafts' ids, each with its label.
pub fn draft_ids() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        ask(|cl| async move {
            let r = call!(cl, drafts, list_drafts, v1::ListDraftsRequest::default())?;
            Ok(r.drafts
                .into_iter()
                .map(|d| candidate(d.id, crate::render::label(&d.title, &d.text, 50)))
                .collect())
        })
    })
}

/// The tasks' ids, each with its text.
pub fn task_ids() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        ask(|cl| async move {
            let r = call!(cl, tasks, list_tasks, v1::ListTasksRequest {})?;
            Ok(r.tasks.into_iter().map(|t| candidate(t.id, crate::render::label("", &t.text, 50))).collect())
        })
    })
}

/// The unread nudges' ids, each with its message.
pub fn nudge_ids() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        ask(|cl| async move {
            let r = call!(
                cl,
                nudges,
                list_nudges,
                v1::ListNudgesRequest { limit: 200, all: false, unread: true }
            )?;
            Ok(r.nudges
                .into_iter()
                .map(|n| candidate(n.id, crate::render::label("", &n.message, 50)))
                .collect())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn typed_flags_are_read_from_the_line_being_completed() {
        let line = words(&["clout", "--socket", "/tmp/a.sock", "draft", "show", ""]);
        assert_eq!(typed(&line, "--socket"), Some("/tmp/a.sock".into()));
        assert_eq!(typed(&words(&["clout", "--socket=/b", "draft", ""]), "--socket"), Some("/b".into()));
        // The last given wins; a flag whose value is still being typed gives none.
        assert_eq!(
            typed(&words(&["clout", "--socket", "/a", "--socket=/c", ""]), "--socket"),
            Some("/c".into())
        );
        assert_eq!(typed(&words(&["clout", "--socket", ""]), "--socket"), None);
        assert_eq!(typed(&words(&["clout", "draft", "show", ""]), "--socket"), None);
        assert_eq!(typed(&words(&["clout", "--socket-x", "/a"]), "--socket"), None);
    }
}
