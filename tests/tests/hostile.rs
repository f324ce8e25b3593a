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

/// A tmpfs of `size` mounted on a fresh directory; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(ok.success(), "mount tmpfs failed");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    while f.write_all(&block[..512]).is_ok() {}
    let _ = f.sync_all();
}

/// On a full disk a write is refused as RESOURCE_EXHAUSTED naming the
/// database; once space is back, writes work again and the drafts that came
/// due meanwhile fire, each once. (Before, every pooled connection kept a
/// failed transaction open and all later writes failed.)
#[test]
fn writes_recover_after_the_disk_was_full() {
    if !is_root() {
        return skip("needs root, to mount a small tmpfs");
    }
    let disk = Tmpfs::mount("3m");
    let db = disk.path().join("clout.db");
    let url = format!("sqlite://{}", db.display());
    let home = Home::new();
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, clout_e2e::QUIET_RULES).expect("config");
    let _d = clout_e2e::start_daemon(&home.socket(), &url, &["--config", config.to_str().expect("utf-8")])
        .expect("cloutd did not start");
    let watch = home.watch(&[]);
    let mut due = Vec::new();
    for i in 0..3 {
        due.push(home.json(&["draft", "add", &format!("due while full {i}"), "--at", "in 4s"])["id"].clone());
    }
    fill(&disk.path().join("filler"));
    let big = "a fairly long draft that needs new pages. ".repeat(1500);
    let mut refused = 0;
    for _ in 0..10 {
        let out = home.clout(&["draft", "add", &big]);
        if !out.status.success() {
            let err = stderr(&out);
            assert!(err.contains("is full") && err.contains(&db.display().to_string()), "{err}");
            assert!(!err.contains("not answering") && !err.contains("cloutd failed"), "{err}");
            refused += 1;
        }
    }
    assert!(refused > 0, "no write failed on a full disk");
    std::thread::sleep(Duration::from_secs(5));
    std::fs::remove_file(disk.path().join("filler")).expect("free the disk");

    for i in 0..40 {
        let out = home.clout(&["draft", "add", &format!("after the disk was freed {i}")]);
        assert!(out.status.success(), "add {i} failed after space was freed: {}", stderr(&out));
    }
    let mut fired = std::collections::BTreeSet::new();
    while fired.len() < 3 {
        let n = watch.next_of_kind("post_due", WAIT);
        assert!(fired.insert(n["draft_id"].to_string()), "fired twice: {n}");
    }
    let want: std::collections::BTreeSet<String> = due.iter().map(Value::to_string).collect();
    assert_eq!(fired, want);
}

/// A database with a second name (a hard link) is refused: SQLite keys its
/// log on the name, so two daemons on two names damage it. A second daemon
/// on the same file through a symlink is refused naming the first one; the
/// first keeps firing and the file stays intact.
#[test]
fn a_second_name_for_the_database_is_refused() {
    let home = Home::new();
    let d = home.start();
    let db = home.dir.path().join("data").join("clout.db");
    let link = home.dir.path().join("link.db");
    std::fs::hard_link(&db, &link).expect("hard link");
    let other = Home::new();
    let err = clout_e2e::start_daemon(&other.socket(), &format!("sqlite://{}", link.display()), &[])
        .err()
        .expect("a second daemon started on a hard link");
    assert!(err.contains("hard links") && err.contains("samefile"), "{err}");
    std::fs::remove_file(&link).expect("rm link");

    let sym = home.dir.path().join("sym.db");
    std::os::unix::fs::symlink(&db, &sym).expect("symlink");
    let err = clout_e2e::start_daemon(&other.socket(), &format!("sqlite://{}", sym.display()), &[])
        .err()
        .expect("a second daemon started through a symlink");
    assert!(err.contains("in use by another cloutd"), "{err}");
    assert!(err.contains(&format!("pid {}", d.pid())), "does not name the first daemon: {err}");
    assert!(err.contains(&home.socket().display().to_string()), "does not name its socket: {err}");

    // The first daemon fires a burst, and the file is intact.
    let watch = home.watch(&[]);
    for i in 0..100 {
        home.json(&["draft", "add", &format!("burst {i}"), "--at", "in 2s"]);
    }
    for _ in 0..100 {
        watch.next_of_kind("post_due", WAIT);
    }
    drop(d);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let ok: String = rt.block_on(async {
        use sqlx::Connection;
        let mut c =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.expect("open");
        sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut c).await.expect("integrity_check")
    });
    assert_eq!(ok, "ok");
}

/// While another process holds the database's lock, a write is refused with
/// "busy" and that process's pid, not "is cloutd running?".
#[test]
fn a_busy_database_is_named_as_busy() {
    let home = Home::new();
    let _d = home.start();
    let url = home.db_url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut c = rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.expect("open");
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut c).await.expect("begin exclusive");
        c
    });
    let out = home.clout(&["draft", "add", "while it is locked"]);
    assert!(!out.status.success(), "a write went through a held lock");
    let err = stderr(&out);
    assert!(err.contains("is busy") && err.contains(&format!("pid {}", std::process::id())), "{err}");
    assert!(!err.contains("Is it running"), "{err}");
    rt.block_on(async {
        sqlx::query("ROLLBACK").execute(&mut c).await.expect("rollback");
    });
    drop(c);
    home.json(&["draft", "add", "after the lock"]);
}

/// A database written by a newer cloutd is kept, and the error says to
/// upgrade cloutd.
#[test]
fn a_database_from_a_newer_cloutd_is_kept() {
    let home = Home::new();
    home.start().stop(WAIT);
    let db = home.dir.path().join("data").join("clout.db");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&home.db_url()).await.expect("open");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', 1, x'00', 0)",
        )
        .execute(&mut c)
        .await
        .expect("insert");
        c.close().await.expect("close");
    });
    let before = std::fs::read(&db).expect("read db");
    let err = home.start_with(&[]).err().expect("started on a newer database");
    assert!(err.contains("newer cloutd") && err.contains("upgrade cloutd"), "{err}");
    assert!(!err.contains("move it aside"), "{err}");
    assert_eq!(std::fs::read(&db).expect("read db"), before, "the database was changed");
}

/// An oversized value is named, not echoed whole (a 100 KB tag once gave a
/// 100 KB error that the client could not even read).
#[test]
fn errors_quote_at_most_a_little_of_a_bad_value() {
    let home = Home::new();
    let _d = home.start();
    let tag = "t".repeat(100_000);
    let out = home.clout(&["draft", "add", "x", "--tag", &tag]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.len() < 1000 && err.contains("tag"), "{} bytes: {}", err.len(), &err[..err.len().min(300)]);
    assert!(!err.contains("h2 protocol error"), "{err}");
}

/// A command hook that hangs is stopped at its timeout together with what it
/// started in the background; hooks never see cloutd's systemd variables;
/// and a failing hook's last error shows the end of its error output.
#[test]
fn hooks_leave_nothing_behind_and_inherit_no_systemd_variables() {
    let home = Home::new();
    let config = home.dir.path().join("cloutd.toml");
    std::fs::write(&config, clout_e2e::QUIET_RULES).expect("config");
    let notify = home.dir.path().join("notify.sock");
    let _listener = std::os::unix::net::UnixDatagram::bind(&notify).expect("notify socket");
    let mut cmd = clout_e2e::daemon_command(&home.socket(), &home.db_url());
    cmd.arg("--config").arg(&config).env("NOTIFY_SOCKET", &notify).env("WATCHDOG_USEC", "600000000");
    let d = clout_e2e::spawn_daemon(cmd, &home.socket(), &home.db_url()).expect("cloutd did not start");

    let dir = home.dir.path().display().to_string();
    let env_file = format!("{dir}/hook.env");
    let pid_file = format!("{dir}/hook.pid");
    let script = format!("env > {env_file}; sleep 300 & echo $! > {pid_file}; sleep 300");
    let out = home.clout(&["sink", "add", "command", "--", "/bin/sh", "-c", &script]);
    assert!(out.status.success(), "{}", stderr(&out));
    home.json(&["draft", "add", "hang the hook", "--at", "in 1s"]);
    assert!(
        d.wait_log("did not finish within", Duration::from_secs(90)),
        "the hook was not stopped:\n{}",
        d.log()
    );
    let env = std::fs::read_to_string(&env_file).expect("the hook ran");
    assert!(env.contains("CLOUT_NUDGE_ID="), "{env}");
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        assert!(!env.contains(&format!("{var}=")), "the hook inherited {var}:\n{env}");
    }
    let pid = std::fs::read_to_string(&pid_file).expect("pid file").trim().to_string();
    let gone = (0..100).any(|_| {
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ");
        if alive {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive
    });
    assert!(gone, "the hook's background process {pid} outlived its timeout");

    // A hook that fails after much error output: its last error ends with
    // what it said last.
    let noisy = "i=0; while [ $i -lt 3000 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done; \
                 echo THE-LAST-WORDS >&2; exit 3";
    let added = home.json(&["sink", "add", "command", "--on", "lesson", "--", "/bin/sh", "-c", noisy]);
    let id = added["id"].to_string();
    let tested = home.clout(&["sink", "test", &id]);
    assert!(!tested.status.success(), "a failing hook passed its test");
    let last = stderr(&tested);
    assert!(last.contains("status 3"), "{last}");
    assert!(last.contains("THE-LAST-WORDS"), "the last error does not show the end of stderr: {last}");
}
