//! The Unix socket: a private directory, a lock against a second daemon,
//! stale-socket replacement, mode 0600 and a peer check.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::error::{Error, Result};
use crate::store::lock_file;

/// A socket path that this daemon holds the lock for.
pub struct Prepared {
    path: PathBuf,
    _lock: File,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { action, path: path.into(), source }
}

/// Creates the socket's directory (mode 0700 when cloutd creates it), takes the
/// socket lock, and clears a stale socket left by a daemon that died.
pub fn prepare(path: &Path) -> Result<Prepared> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| Error::Startup(format!("invalid socket path {}", path.display())))?;
    if !dir.exists() {
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
    let lock = lock_file(&lock_path, &format!("pid {}", std::process::id())).map_err(|holder| {
        Error::Startup(format!(
            "another cloutd ({holder}) already serves the socket {}; stop it first (clout status shows it) or pass another --socket",
            path.display()
        ))
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
    Ok(Prepared { path: path.to_path_buf(), _lock: lock })
}

impl Prepared {
    /// Binds the socket and restricts it to its owner (mode 0600).
    pub fn bind(&self) -> Result<UnixListener> {
        let listener = UnixListener::bind(&self.path).map_err(io("cannot listen on", &self.path))?;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("cannot set the mode of", &self.path))?;
        Ok(listener)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Accepts a connection only from a process of the daemon's own user.
pub fn peer_allowed(stream: &tokio::net::UnixStream, uid: u32) -> bool {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == uid => true,
        Ok(cred) => {
            tracing::warn!(peer_uid = cred.uid(), peer_pid = ?cred.pid(), "rejected a connection from another user");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "rejected a connection whose peer cannot be identified");
            false
        }
    }
}
