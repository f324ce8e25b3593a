//! The `clout` binary on its own: help, version, completions and man page.

use std::process::Command;

fn clout(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_clout")).args(args).env("NO_COLOR", "1").output().expect("run clout")
}

/// The scripts call back into clout (`COMPLETE=SHELL clout -- …`), which answers
/// from its own command tree (and, for ids, from cloutd).
#[test]
fn completions_are_generated_for_every_shell() {
    for (shell, marker) in [
        ("bash", "-F _clap_complete_clout clout"),
        ("zsh", "#compdef clout"),
        ("fish", "complete --keep-order --exclusive --command clout"),
        ("elvish", "edit:completion:arg-completer[clout]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = clout(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell} completions lack {marker:?}");
        assert!(text.contains("COMPLETE"), "{shell} completions do not call back into clout");
    }
    let out = clout(&["completions", "tcsh"]);
    assert!(!out.status.success());
    // The call back: subcommands of `clout dr…`.
    let out = Command::new(env!("CARGO_BIN_EXE_clout"))
        .args(["--", "clout", "dr"])
        .env("COMPLETE", "fish")
        .env("CLOUT_SOCKET", "/nonexistent/cloutd.sock")
        .output()
        .expect("run clout");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l.starts_with("draft\t")));
}

#[test]
fn help_and_version_describe_the_tool() {
    let out = clout(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for word in
        ["draft", "queue", "watch", "nudges", "posted", "status", "--json", "--socket", "tomorrow 9am"]
    {
        assert!(text.contains(word), "help lacks {word}: {text}");
    }
    let out = clout(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("clout {}", env!("CARGO_PKG_VERSION")));
    let out = clout(&["man"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH clout"));
}

#[test]
fn usage_errors_exit_2_without_a_daemon() {
    let out = clout(&["draft", "show", "not-a-number"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
}
