//! The config file: `cloutd --check-config`, and sinks declared in it.

use std::process::Command;
use std::time::{Duration, Instant};

use clout_e2e::{Home, QUIET_RULES, bin, start_daemon};

#[test]
fn check_config_prints_the_effective_settings_or_names_the_problem() {
    let home = Home::new();
    let good = home.dir.path().join("good.toml");
    std::fs::write(&good, "[nudges]\nquiet_hours = \"22:00-07:00\"\ndaily_cap = 1\n").expect("write");
    let out = Command::new(bin("cloutd"))
        .args(["--check-config", "--config"])
        .arg(&good)
        .args(["--database-url", "postgres://me:secret@db.example/clout"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("valid")
            && text.contains("quiet_hours = \"22:00-07:00\"")
            && text.contains("daily_cap = 1"),
        "{text}"
    );
    assert!(text.contains("me:***@db.example") && !text.contains("secret"), "the password leaked: {text}");

    for (body, expect) in [
        ("[nudges]\nquiet_hours = \"late\"\n", "nudges.quiet_hours"),
        ("[nudges.rules.weekly_review]\nat = \"blursday 10:00\"\n", "weekly_review"),
        ("[[sinks]]\nkind = \"webhook\"\ntarget = \"ftp://x\"\n", "sinks[0]"),
        ("surprise = 1\n", "surprise"),
    ] {
        let bad = home.dir.path().join("bad.toml");
        std::fs::write(&bad, body).expect("write");
        let out =
            Command::new(bin("cloutd")).args(["--check-config", "--config"]).arg(&bad).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted {body:?}");
        assert!(err.contains(expect), "expected {expect:?} in {err}");
    }
}

#[test]
fn sinks_declared_in_the_config_file_deliver_and_are_added_once() {
    let home = Home::new();
    let out_file = home.dir.path().join("hook.out");
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(
        &config,
        format!(
            "{QUIET_RULES}\n[[sinks]]\nkind = \"command\"\ntarget = \"/bin/sh\"\nargs = [\"-c\", \"cat >> {}\"]\non = [\"due\"]\n",
            out_file.display()
        ),
    )
    .expect("write");
    let args = ["--config", config.to_str().expect("path")];
    let d = start_daemon(&home.socket(), &home.db_url(), &args).expect("cloutd");
    let sinks = home.json(&["sink", "list"]);
    assert_eq!(sinks.as_array().map(Vec::len), Some(1), "{sinks}");
    let draft = home.json(&["draft", "add", "to the hook", "--at", "in 1s"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let text = std::fs::read_to_string(&out_file).unwrap_or_default();
        if !text.is_empty() {
            break text;
        }
        assert!(Instant::now() < deadline, "the configured hook never ran");
        std::thread::sleep(Duration::from_millis(50));
    };
    let nudge: serde_json::Value =
        serde_json::from_str(delivered.lines().next().unwrap_or("")).expect("json");
    assert_eq!(nudge["draft_id"], draft["id"]);
    // A restart with the same file adds nothing.
    d.kill9();
    let _d = start_daemon(&home.socket(), &home.db_url(), &args).expect("cloutd");
    assert_eq!(home.json(&["sink", "list"]).as_array().map(Vec::len), Some(1));
}
