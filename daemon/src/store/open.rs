//! Opening the database: the URL, the file lock, the pool, the migrations,
//! and what to say when one of them fails.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{POSTGRES_MIGRATIONS, Pool, SQLITE_MIGRATIONS, Store, fault};
use crate::error::{Error, Result};
use crate::model::to_ms;

/// Removes the password from a database URL for display.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{userinfo}@{host}{tail}")
            }
        }
        None => url.to_string(),
    }
}

/// The file behind a `sqlite:` URL, if it names one.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

impl Store {
    /// Opens (creating and migrating when needed) the database at `url`.
    /// `owner` describes this daemon in the lock file that keeps a second
    /// daemon off the same SQLite database; `None` skips the lock (tests and tools).
    pub async fn open(url: &str, owner: Option<&str>) -> Result<Store> {
        let opened_ms = to_ms(crate::clock::now());
        let redacted_url = redact_url(url);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| Error::Config(format!("invalid database URL {redacted_url}: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .after_release(|conn, _| Box::pin(discard_if_in_transaction(conn)))
                .connect_with(opts)
                .await
                .map_err(|e| Error::Startup(format!("cannot connect to {redacted_url}: {e}")))?;
            fault::set_location(&redacted_url, None);
            POSTGRES_MIGRATIONS.run(&pool).await.map_err(|e| migrate_error(&redacted_url, e))?;
            return Ok(Store {
                pool: Pool::Postgres(pool),
                redacted_url,
                _lock: None,
                opened_ms,
                result_after: Default::default(),
            });
        }
        if !url.starts_with("sqlite:") {
            return Err(Error::Startup(format!(
                "unsupported database URL {redacted_url}: use sqlite://PATH or postgres://USER@HOST/DB"
            )));
        }
        let mut lock = None;
        if let Some(path) = sqlite_path(url) {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                    action: "cannot create the data directory",
                    path: dir.into(),
                    source,
                })?;
            }
            if owner.is_some() {
                lock = Some(crate::lock::lock_database(&path).map(std::mem::ManuallyDrop::new).map_err(|e| match e {
                    crate::lock::DbLockError::Held(holder) => Error::Startup(format!(
                        "the database {} is in use by another cloutd ({holder}); stop it first or pass another --database-url",
                        path.display()
                    )),
                    crate::lock::DbLockError::Links(n) => Error::Startup(format!(
                        "the database {} has {n} hard links. SQLite keeps its write-ahead log beside each name, so two \
                         daemons on two names would damage it: remove the other names (find / -xdev -samefile {}) and start again",
                        path.display(),
                        path.display()
                    )),
                    crate::lock::DbLockError::Io(source) => {
                        Error::Io { action: "cannot open the database", path: path.clone(), source }
                    }
                })?);
                if let Some(owner) = owner {
                    // Who holds it, for people and for tools; the lock itself is on the database file.
                    let _ = std::fs::write(format!("{}.lock", path.display()), owner);
                }
            }
            fault::set_location(&path.display().to_string(), Some(&path));
        } else {
            fault::set_location(&redacted_url, None);
        }
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("invalid database URL {redacted_url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged draft survives a power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .after_release(|conn, _| Box::pin(discard_if_in_transaction(conn)))
            .connect_with(opts)
            .await
            .map_err(|e| Error::Startup(open_hint(&redacted_url, &e)))?;
        SQLITE_MIGRATIONS.run(&pool).await.map_err(|e| migrate_error(&redacted_url, e))?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            redacted_url,
            _lock: lock,
            opened_ms,
            result_after: Default::default(),
        })
    }
}

/// A pooled connection that comes back still inside a transaction (its
/// COMMIT or ROLLBACK failed, as on a full disk) is closed instead of reused:
/// every later BEGIN on it would fail. The ping first runs any rollback
/// still queued from a dropped transaction.
async fn discard_if_in_transaction<C: sqlx::Connection>(
    conn: &mut C,
) -> std::result::Result<bool, sqlx::Error> {
    conn.ping().await?;
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("closing a database connection left inside a failed transaction");
    }
    Ok(clean)
}

/// Why the schema could not be brought up to date, and what to do.
fn migrate_error(url: &str, e: sqlx::migrate::MigrateError) -> Error {
    use sqlx::migrate::MigrateError;
    match e {
        MigrateError::VersionMissing(v) => Error::Startup(format!(
            "the database {url} was last used by a newer cloutd (its schema has version {v}, which this cloutd {} does not know). \
             Nothing was changed: upgrade cloutd to use it, and keep the file",
            env!("CARGO_PKG_VERSION")
        )),
        MigrateError::Execute(ref db) if matches!(fault::classify(db), fault::Fault::ReadOnly) => {
            Error::Startup(format!(
                "the database {url} cannot be written (read-only): check that cloutd's user may write the file and its directory"
            ))
        }
        MigrateError::Execute(ref db) if matches!(fault::classify(db), fault::Fault::Full) => Error::Startup(
            format!("the disk holding the database {url} is full: free some space and start cloutd again"),
        ),
        other => Error::Startup(format!(
            "cannot prepare the database {url}: {other}. If the file is damaged, move it aside (cloutd will create a new one) or restore a backup"
        )),
    }
}

fn open_hint(url: &str, e: &sqlx::Error) -> String {
    let text = e.to_string();
    if text.contains("not a database") || text.contains("malformed") {
        format!(
            "the database {url} is damaged or not a Clout database ({text}). Move it aside (cloutd will create a new one) or restore a backup"
        )
    } else if text.contains("locked") || text.contains("busy") {
        format!(
            "the database {url} is locked by another process ({text}); stop that process or pass another --database-url"
        )
    } else {
        format!("cannot open the database {url}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite:///tmp/a.db?mode=rwc"), Some(PathBuf::from("/tmp/a.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
