//! The Unix socket: a private directory, a lock against a second daemon,
//! stale-socket replacement, mode 0600 (0660 for an allowed group) and a peer
//! check (see [`crate::access`]). Under socket activation the socket comes
//! from systemd instead, which owns it.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::access::Group;
use crate::error::{Error, Result};
use crate::lock::{LockError, lock_file};

/// A socket path that this daemon holds the lock for (or that systemd gave it).
pub struct Prepared {
    path: PathBuf,
    _lock: Option<File>,
    /// The directory is cloutd's (it made it now, or it is the default one), so
    /// cloutd sets its mode and group.
    manage_dir: bool,
    /// cloutd binds (and removes) the socket; false under socket activation.
    owns_socket: bool,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { action, path: path.into(), source }
}

/// Creates the socket's directory (mode 0700 when cloutd creates it, 0750 for
/// an allowed group), takes the socket lock, and clears a stale socket left by
/// a daemon that died.
pub fn prepare(path: &Path) -> Result<Prepared> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| Error::Startup(format!("invalid socket path {}", path.display())))?;
    let created_dir = !dir.exists();
    if created_dir {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("cannot create the socket directory", dir))?;
    }
    let meta = std::fs::metadata(dir).map_err(io("cannot read the socket directory", dir))?;
    if meta.uid() != clout_proto::current_uid() && dir.starts_with(std::env::temp_dir()) {
        return Err(Error::Startup(format!(
            "the socket directory {} belongs to another user; pass --socket with a path of your own",
            dir.display()
        )));
    }
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let lock = lock_file(&lock_path, &format!("pid {}", std::process::id())).map_err(|e| match e {
        LockError::Held(holder) => Error::Startup(format!(
            "another cloutd ({holder}) already serves the socket {}; stop it first (clout status shows it) or pass another --socket",
            path.display()
        )),
        LockError::Io(source) => Error::Io { action: "cannot lock", path: lock_path.clone(), source },
    })?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            // The lock is ours, so whatever listened here is gone, unless a
            // daemon without the lock is still running: make sure.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(Error::Startup(format!(
                    "a process already listens on {}; stop it first or pass another --socket",
                    path.display()
                )));
            }
            tracing::info!(socket = %path.display(), "replacing a stale socket");
            std::fs::remove_file(path).map_err(io("cannot remove the stale socket", path))?;
        }
        Ok(_) => {
            return Err(Error::Startup(format!(
                "{} exists and is not a socket; remove it or pass another --socket",
                path.display()
            )));
        }
        Err(_) => {}
    }
    let manage_dir = created_dir || dir == clout_proto::runtime_dir();
    Ok(Prepared { path: path.to_path_buf(), _lock: Some(lock), manage_dir, owns_socket: true })
}

/// Takes a listening socket inherited from systemd (socket activation). The
/// socket unit owns the file, its mode and its directory; cloutd leaves them be.
pub fn inherited(
    listener: std::os::unix::net::UnixListener,
    fallback: &Path,
) -> Result<(Prepared, UnixListener)> {
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_path_buf))
        .unwrap_or_else(|| fallback.to_path_buf());
    listener.set_nonblocking(true).map_err(io("cannot use the inherited socket", &path))?;
    let listener = UnixListener::from_std(listener).map_err(io("cannot use the inherited socket", &path))?;
    Ok((Prepared { path, _lock: None, manage_dir: false, owns_socket: false }, listener))
}

impl Prepared {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the socket came from systemd.
    pub fn is_inherited(&self) -> bool {
        !self.owns_socket
    }

    /// Binds the socket and restricts it (see [`Prepared::restrict`]).
    pub fn bind(&self, group: Option<&Group>) -> Result<UnixListener> {
        let listener = UnixListener::bind(&self.path).map_err(io("cannot listen on", &self.path))?;
        self.restrict(group)?;
        Ok(listener)
    }

    /// Sets the socket to mode 0600, or to 0660 owned by the allowed group; and
    /// the directory, when it is cloutd's (made by it, or the default one), to 0700, or 0750 owned by the group.
    /// An inherited socket is left as its socket unit made it.
    pub fn restrict(&self, group: Option<&Group>) -> Result<()> {
        if !self.owns_socket {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        let gid = group.map(|g| g.gid);
        if let Some(g) = group {
            let chgrp = |p: &Path| {
                if std::fs::metadata(p).is_ok_and(|m| m.gid() == g.gid) {
                    return Ok(());
                }
                std::os::unix::fs::chown(p, None, Some(g.gid)).map_err(|e| {
                    Error::Startup(format!(
                        "cannot give {} to the group {}: {e}; cloutd's user must be a member of that group \
                         (or run as root; under the system unit, make it the unit's Group=)",
                        p.display(),
                        g.name
                    ))
                })
            };
            chgrp(&self.path)?;
            if self.manage_dir {
                chgrp(dir)?;
            }
        }
        let (sock_mode, dir_mode) = if gid.is_some() { (0o660, 0o750) } else { (0o600, 0o700) };
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(sock_mode))
            .map_err(io("cannot set the mode of", &self.path))?;
        if self.manage_dir {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode))
                .map_err(io("cannot set the mode of", dir))?;
        } else if let Some(g) = group
            && let Ok(meta) = std::fs::metadata(dir)
        {
            let mode = meta.mode();
            let reachable = mode & 0o001 != 0 || (meta.gid() == g.gid && mode & 0o010 != 0);
            if !reachable {
                tracing::warn!(
                    dir = %dir.display(),
                    "members of the group {} cannot reach the socket: its directory {} is mode {:o}; \
                     run `chgrp {} {}; chmod 0750 {}`, or remove it and let cloutd create it",
                    g.name,
                    dir.display(),
                    mode & 0o7777,
                    g.name,
                    dir.display(),
                    dir.display()
                );
            }
        }
        Ok(())
    }

    /// Removes the socket, unless systemd owns it.
    pub fn remove(&self) {
        if self.owns_socket {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
