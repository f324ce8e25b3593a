//! cloutd against clients it does not trust and faults it does not expect:
//! other users naming the owner's secret files, a full disk, a database
//! reached through a second link, values too large to echo back.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use clout_e2e::fake::Fake;
use clout_e2e::{Home, bin, clout_as, is_root, skip, stderr, stdout, write_secret};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A home whose cloutd lets members of gid 65534 in, with a copy of `clout`
/// that uid 65534 can run. Returns the copy's path.
fn shared_home(home: &Home) -> (clout_e2e::Daemon, std::path::PathBuf) {
    chmod(home.dir.path(), 0o755);
    let clout = home.dir.path().join("clout");
    std::fs::copy(bin("clout"), &clout).expect("copy clout");
    chmod(&clout, 0o755);
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, format!("allowed_group = \"65534\"\n{}", clout_e2e::QUIET_RULES))
        .expect("config");
    let d = home.start_with(&["--config", config.to_str().expect("utf-8")]).expect("cloutd did not start");
    (d, clout)
}

/// A member of `allowed_group` cannot make cloutd read a file of cloutd's
/// user and send it to a server of the member's choosing: not through
/// AddAccount, not through an import. The member may give a secret inline,
/// which cloutd keeps and publishes with; cloutd's own user may still name
/// files.
#[test]
fn only_cloutds_user_may_name_secret_files() {
    if !is_root() {
        return skip("needs root, to run clout as another user (setpriv)");
    }
    let fake = Fake::start();
    let url = fake.url();
    let home = Home::new();
    let (_d, clout) = shared_home(&home);
    let sock = home.socket();
    // A secret of cloutd's user, readable by that user alone.
    let owners = write_secret(home.dir.path(), "owner.token", Fake::MASTODON_TOKEN).expect("secret");
    let owners = owners.to_str().expect("utf-8");

    let out = clout_as(
        &clout,
        65534,
        65534,
        &sock,
        &["account", "add", "mastodon", "--instance", &url, "--token-file", owners, "--name", "stolen"],
        b"",
    );
    assert!(!out.status.success(), "a group member named the owner's secret file: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("only that user may name them") && err.contains("you are uid 65534"), "{err}");
    assert!(err.contains("--token-stdin"), "no way forward in: {err}");
    assert!(
        fake.requests().is_empty(),
        "cloutd signed in with the owner's secret: {:?}",
        fake.requests().len()
    );

    // The same through an import of an account that names the file.
    let mut doc: Value =
        serde_json::from_str(&stdout(&home.clout(&["export", "--json", "-"]))).expect("export");
    doc["accounts"] =
        serde_json::json!([{"name": "stolen", "network": "mastodon", "server": url, "secret_file": owners}]);
    let file = std::env::temp_dir().join(format!("clout-hostile-import-{}.json", std::process::id()));
    std::fs::write(&file, doc.to_string()).expect("write import");
    chmod(&file, 0o644);
    let out = clout_as(&clout, 65534, 65534, &sock, &["import", file.to_str().expect("utf-8")], b"");
    let _ = std::fs::remove_file(&file);
    assert!(!out.status.success(), "a group member imported the owner's secret file: {}", stdout(&out));
    assert!(stderr(&out).contains("only that user may name them"), "{}", stderr(&out));
    assert_eq!(home.json(&["account", "list"]), Value::Array(vec![]), "an account was added");

    // Inline, the member's own secret is fine, and cloutd keeps it.
    let out = clout_as(
        &clout,
        65534,
        65534,
        &sock,
        &["--json", "account", "add", "mastodon", "--instance", &url, "--token-stdin", "--name", "guest"],
        format!("{}\n", Fake::MASTODON_TOKEN).as_bytes(),
    );
    assert!(out.status.success(), "an inline secret was refused: {}", stderr(&out));
    let accounts = home.json(&["account", "list"]);
    assert_eq!(accounts[0]["name"], "guest", "{accounts}");
    assert_eq!(accounts[0]["secret_source"], "kept by cloutd", "{accounts}");
    assert!(!accounts.to_string().contains(Fake::MASTODON_TOKEN), "the secret crossed the API: {accounts}");
    let export = home.clout(&["export", "--json", "-"]);
    assert!(!stdout(&export).contains(Fake::MASTODON_TOKEN), "the export holds the secret");

    // cloutd publishes with the kept secret.
    let watch = home.watch(&[]);
    let added = home.json(&["draft", "add", "kept secret", "--at", "in 1s", "--account", "guest"]);
    let n = watch.next_of_kind("published", WAIT);
    assert_eq!(n["draft_id"], added["id"], "{n}");
    let posts = fake.requests_to("/api/v1/statuses");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("authorization"), Some(format!("Bearer {}", Fake::MASTODON_TOKEN).as_str()));

    // cloutd's own user may still name a file.
    let own = home.json(&[
        "account",
        "add",
        "mastodon",
        "--instance",
        &url,
        "--token-file",
        owners,
        "--name",
        "own",
    ]);
    assert_eq!(own["secret_source"], format!("file {owners}"), "{own}");
}
