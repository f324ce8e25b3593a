//! The README's commands against the binaries: every `clout …` and
//! `cloutd …` line in its shell examples must parse, so the README cannot
//! name a subcommand or a flag that does not exist.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clout_e2e::bin;

/// Every command line of the README's ```sh blocks that starts with `prog`,
/// with `\` continuations joined and `# comments` dropped.
fn readme_commands(prog: &str) -> Vec<Vec<String>> {
    let readme = include_str!("../../README.md");
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_sh = t == "```sh";
            pending.clear();
            continue;
        }
        if !in_sh {
            continue;
        }
        let line = if pending.is_empty() { t.to_string() } else { format!("{pending} {t}") };
        if let Some(head) = line.strip_suffix('\\') {
            pending = head.trim_end().to_string();
            continue;
        }
        pending.clear();
        // One line may show two commands: "clout queue pause / clout queue resume".
        for part in line.split(" / ") {
            let Some(words) = shlex::split(strip_comment(part)) else {
                panic!("the README line {part:?} does not split like a shell line");
            };
            for command in commands_of(words) {
                if command.first().is_some_and(|w| w == prog) {
                    out.push(command[1..].to_vec());
                }
            }
        }
    }
    out
}

/// The simple commands of a shell line: split at `&&`, `||`, `|` and `;`,
/// without redirections (`> FILE`, `2> FILE`, `< FILE`).
fn commands_of(words: Vec<String>) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "&&" | "||" | "|" | ";" => out.push(Vec::new()),
            ">" | ">>" | "<" | "2>" | "2>>" => {
                words.next();
            }
            _ => out.last_mut().expect("one command at least").push(w),
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// The line without a trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && (i == 0 || line[..i].ends_with(' ')) => return line[..i].trim_end(),
            _ => {}
        }
    }
    line.trim_end()
}

/// Runs the command and reports whether clap refused it (exit status 2 with
/// a usage message). Commands that parse go on to fail for want of a daemon
/// or a file, or wait for one: they are stopped after a few seconds.
fn refused(prog: &str, args: &[String], extra: &[&str]) -> Option<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut child = Command::new(bin(prog))
        .args(args)
        .args(extra)
        .current_dir(dir.path())
        .env("CLOUT_SOCKET", dir.path().join("none.sock"))
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status.code() == Some(2) && err.contains("Usage:")).then_some(err);
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_clout_command_in_the_readme_parses() {
    let commands = readme_commands("clout");
    assert!(commands.len() >= 30, "found only {} clout commands in the README", commands.len());
    let bad: Vec<String> = commands
        .iter()
        .filter_map(|args| refused("clout", args, &[]).map(|err| format!("clout {}: {err}", args.join(" "))))
        .collect();
    assert!(bad.is_empty(), "README commands that clout refuses:\n{}", bad.join("\n"));
}

#[test]
fn every_cloutd_command_in_the_readme_parses() {
    let commands = readme_commands("cloutd");
    assert!(!commands.is_empty(), "found no cloutd command in the README");
    // --check-config validates and exits instead of serving.
    let bad: Vec<String> = commands
        .iter()
        .filter_map(|args| {
            refused("cloutd", args, &["--check-config"])
                .map(|err| format!("cloutd {}: {err}", args.join(" ")))
        })
        .collect();
    assert!(bad.is_empty(), "README commands that cloutd refuses:\n{}", bad.join("\n"));
}

#[test]
fn a_flag_that_does_not_exist_is_caught() {
    // The check itself can fail: a made-up flag is refused.
    assert!(
        refused("clout", &["draft".into(), "add".into(), "x".into(), "--no-such-flag".into()], &[]).is_some()
    );
}
