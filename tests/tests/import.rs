//! Big imports: linear in the size of the file, firing on time while one
//! runs, and all or nothing when cloutd is killed during one.

use std::process::{Command, Stdio};
use std::time::Duration;

use clout_e2e::{Home, bin};

const DRAFTS: usize = 20_000;

/// An export holding `n` drafts of about 700 bytes each (14 MiB for 20,000).
fn export_of(n: usize) -> String {
    let text = "a draft long enough to weigh like a real one, ".repeat(14);
    let mut out = String::from(
        r#"{"format":"clout-export","version":1,"program":{"purpose":"learn","posts_per_week":3,"engagements_per_day":5,"tz":"UTC","paused":false},"drafts":["#,
    );
    for i in 1..=n {
        if i > 1 {
            out.push(',');
        }
        // One millisecond apart, a month ago.
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + i as i64).expect("time");
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        out.push_str(&format!(
            r#"{{"id":{i},"title":"","text":"{i} {text}","platforms":[],"tags":["big"],"state":"draft","scheduled_at":null,"fired_at":null,"late":false,"published_at":null,"published_url":"","slotted":false,"created_at":"{at}","updated_at":"{at}"}}"#
        ));
    }
    out.push_str("]}");
    out
}

fn write_export(home: &Home, n: usize) -> std::path::PathBuf {
    let file = home.dir.path().join("big.json");
    std::fs::write(&file, export_of(n)).expect("write the export");
    file
}

fn drafts_in(home: &Home) -> usize {
    let doc = home.json(&["export", "-"]);
    doc["drafts"].as_array().map_or(0, Vec::len)
}

/// 20,000 drafts (14 MiB) import within the CLI's deadline (a scan per draft
/// took minutes), a draft due meanwhile fires on time, not late, and the same
/// file again adds nothing.
#[test]
fn a_big_import_is_linear_and_firing_stays_on_time() {
    let home = Home::new();
    let _d = home.start();
    let file = write_export(&home, DRAFTS);
    let watch = home.watch(&["--after", "0"]);
    let due = home.json(&["draft", "add", "due during the import", "--at", "in 2s"]);
    let r = home.json(&["import", file.to_str().expect("utf-8")]);
    assert_eq!(r["added"].as_u64(), Some(DRAFTS as u64), "{r}");
    let n = watch.next_of_kind("post_due", Duration::from_secs(60));
    assert_eq!(n["draft_id"], due["id"], "{n}");
    assert_eq!(n["late"], false, "the draft due during the import fired late: {n}");
    let again = home.json(&["import", file.to_str().expect("utf-8")]);
    assert_eq!(again["added"], 0, "{again}");
    assert_eq!(again["skipped"].as_u64(), Some(DRAFTS as u64), "{again}");
    assert_eq!(drafts_in(&home), DRAFTS + 1);
}

/// kill -9 at several points of an import: afterwards the database holds
/// either none of the file or all of it.
#[test]
fn kill_9_during_an_import_keeps_all_or_nothing() {
    for delay_ms in [150u64, 400, 800, 1500] {
        let home = Home::new();
        let d = home.start();
        let file = write_export(&home, DRAFTS);
        let mut import = Command::new(bin("clout"))
            .args(["import", file.to_str().expect("utf-8")])
            .env("CLOUT_SOCKET", home.socket())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run clout import");
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.kill9();
        let _ = import.wait();
        let _d = home.start();
        let n = drafts_in(&home);
        assert!(n == 0 || n == DRAFTS, "killed {delay_ms} ms into an import: {n} of {DRAFTS} drafts landed");
        // Whatever happened, the import can be run (again) to the end.
        let r = home.json(&["import", file.to_str().expect("utf-8")]);
        assert_eq!(
            r["added"].as_u64().unwrap_or(0) + r["skipped"].as_u64().unwrap_or(0),
            DRAFTS as u64,
            "{r}"
        );
        assert_eq!(drafts_in(&home), DRAFTS);
    }
}
