//! Exclusive locks that keep a second daemon off what this one uses, and
//! who holds them, read from `/proc/locks`.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Takes an exclusive lock on `path` (created if missing) and writes `owner`
/// into it. When another process holds it, [`LockError::Held`] says what
/// that process wrote.
pub fn lock_file(path: &Path, owner: &str) -> Result<File, LockError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(LockError::Io)?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.set_len(0);
            let _ = file.write_all(owner.as_bytes());
            let _ = file.flush();
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(path).unwrap_or_default();
            let holder = holder.trim();
            Err(LockError::Held(if holder.is_empty() {
                "another process".to_string()
            } else {
                holder.to_string()
            }))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
    }
}

/// Why a lock file cannot be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it: what that process wrote into it.
    Held(String),
    Io(std::io::Error),
}

/// Why a database file cannot be locked.
#[derive(Debug)]
pub enum DbLockError {
    /// Another process holds it: who, as far as can be told.
    Held(String),
    /// The file has more than one name (hard links).
    Links(u64),
    Io(std::io::Error),
}

/// Locks the database file itself (`flock`, which SQLite does not use), so a
/// second daemon is refused whatever path, symlink or hard link it names the
/// file by. A file with several hard links is refused outright: SQLite keys
/// its `-wal` and `-shm` files on the name, so two names mean two logs and a
/// damaged database.
pub fn lock_database(path: &Path) -> Result<File, DbLockError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(DbLockError::Io)?;
    let links = file.metadata().map_err(DbLockError::Io)?.nlink();
    if links > 1 {
        return Err(DbLockError::Links(links));
    }
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let pids = holders(path, "FLOCK");
            Err(DbLockError::Held(match pids.first() {
                Some(&pid) => describe_daemon(pid),
                None => "another process".to_string(),
            }))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(DbLockError::Io(e)),
    }
}

/// The processes other than this one holding a lock of `kind` (`POSIX`,
/// `FLOCK`, `OFDLCK`) on `path`, or on its `-wal` and `-shm` files.
pub fn holders(path: &Path, kind: &str) -> Vec<u32> {
    let mut inodes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(m) = std::fs::metadata(format!("{}{suffix}", path.display())) {
            inodes.push((dev_major(m.dev()), dev_minor(m.dev()), m.ino()));
        }
    }
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else { return Vec::new() };
    let me = std::process::id();
    let mut pids: Vec<u32> = locks
        .lines()
        .filter_map(|l| parse_lock_line(l, kind))
        .filter(|(pid, id)| *pid != me && inodes.contains(id))
        .map(|(pid, _)| pid)
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// `1: POSIX  ADVISORY  WRITE 1234 08:02:131 0 EOF` → (1234, (8, 2, 131)).
fn parse_lock_line(line: &str, kind: &str) -> Option<(u32, (u64, u64, u64))> {
    let mut f = line.split_whitespace();
    f.next()?;
    if f.next()? != kind {
        return None;
    }
    let mut f = f.skip(2);
    let pid = f.next()?.parse().ok()?;
    let mut id = f.next()?.split(':');
    let major = u64::from_str_radix(id.next()?, 16).ok()?;
    let minor = u64::from_str_radix(id.next()?, 16).ok()?;
    let ino = id.next()?.parse().ok()?;
    Some((pid, (major, minor, ino)))
}

/// "pid N (command)".
pub fn describe_pid(pid: u32) -> String {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => format!("pid {pid} ({})", comm.trim()),
        Err(_) => format!("pid {pid}"),
    }
}

/// "pid N, socket PATH": the Unix socket the process listens on, found
/// through its file descriptors and `/proc/net/unix`.
fn describe_daemon(pid: u32) -> String {
    let sockets: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|t| t.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(String::from))
        .collect();
    let listening = std::fs::read_to_string("/proc/net/unix").ok().and_then(|table| {
        table.lines().skip(1).find_map(|l| {
            // Num RefCount Protocol Flags Type St Inode Path; flags 00010000: listening.
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && f[3] == "00010000" && sockets.iter().any(|s| s == f[6]))
                .then(|| f[7].to_string())
        })
    });
    match listening {
        Some(path) => format!("pid {pid}, socket {path}"),
        None => describe_pid(pid),
    }
}

// glibc's encoding of dev_t, as /proc/locks prints it (hex major:minor).
fn dev_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)
}

fn dev_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines_parse() {
        assert_eq!(
            parse_lock_line("1: FLOCK  ADVISORY  WRITE 1234 08:02:131 0 EOF", "FLOCK"),
            Some((1234, (8, 2, 131)))
        );
        assert_eq!(parse_lock_line("1: POSIX  ADVISORY  WRITE 1234 fd:0a:7 0 EOF", "FLOCK"), None);
        assert_eq!(
            parse_lock_line("1: POSIX  ADVISORY  WRITE 1234 fd:0a:7 0 EOF", "POSIX"),
            Some((1234, (0xfd, 10, 7)))
        );
        assert_eq!((dev_major(0x802), dev_minor(0x802)), (8, 2));
    }

    #[test]
    fn a_second_lock_on_the_same_file_names_this_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("a.db");
        let _held = lock_database(&db).expect("first lock");
        // This process holds it, and holders() leaves this process out.
        match lock_database(&dir.path().join("a.db")) {
            Err(DbLockError::Held(who)) => assert_eq!(who, "another process"),
            other => panic!("expected Held, got {other:?}"),
        }
        let link = dir.path().join("b.db");
        std::fs::hard_link(&db, &link).expect("hard link");
        assert!(matches!(lock_database(&link), Err(DbLockError::Links(2))));
    }
}
