//! What went wrong with the database, read from the driver's error codes
//! (SQLite's result codes, PostgreSQL's SQLSTATE), never from message text.

use std::path::Path;

/// A storage failure, as far as it changes what cloutd says or does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Another process holds the database's write lock (SQLITE_BUSY,
    /// SQLITE_LOCKED; PostgreSQL's lock_not_available), or every pooled
    /// connection was in use for the acquire timeout.
    Busy,
    /// The disk (or quota) is full: SQLITE_FULL, PostgreSQL's disk_full.
    Full,
    /// The database file or its directory cannot be written: SQLITE_READONLY.
    ReadOnly,
    /// The file is damaged or not a database: SQLITE_CORRUPT, SQLITE_NOTADB.
    Corrupt,
    /// A low-level I/O error: SQLITE_IOERR and its extended codes.
    Io,
    /// Anything else.
    Other,
}

// SQLite's primary result codes (the low byte of an extended code).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_NOTADB: i64 = 26;

pub fn classify(e: &sqlx::Error) -> Fault {
    match e {
        sqlx::Error::PoolTimedOut => Fault::Busy,
        sqlx::Error::Database(d) => {
            let Some(code) = d.code() else { return Fault::Other };
            if let Ok(n) = code.parse::<i64>() {
                // SQLite: a numeric (extended) result code.
                return match n & 0xff {
                    SQLITE_BUSY | SQLITE_LOCKED => Fault::Busy,
                    SQLITE_FULL => Fault::Full,
                    SQLITE_READONLY => Fault::ReadOnly,
                    SQLITE_CORRUPT | SQLITE_NOTADB => Fault::Corrupt,
                    SQLITE_IOERR => Fault::Io,
                    _ => Fault::Other,
                };
            }
            // PostgreSQL: a five-character SQLSTATE.
            match code.as_ref() {
                "53100" => Fault::Full,
                "55P03" => Fault::Busy,
                "25006" => Fault::ReadOnly,
                "XX001" | "XX002" => Fault::Corrupt,
                "58030" => Fault::Io,
                _ => Fault::Other,
            }
        }
        sqlx::Error::Io(io) if io.raw_os_error() == Some(28) => Fault::Full,
        _ => Fault::Other,
    }
}

static LOCATION: std::sync::RwLock<Option<(String, Option<std::path::PathBuf>)>> =
    std::sync::RwLock::new(None);

/// Records the database this daemon uses (a redacted URL, and the file of a
/// SQLite database), for error messages.
pub fn set_location(shown: &str, file: Option<&Path>) {
    if let Ok(mut l) = LOCATION.write() {
        *l = Some((shown.to_string(), file.map(Path::to_path_buf)));
    }
}

/// The database, as error messages name it.
pub fn location() -> String {
    LOCATION.read().ok().and_then(|l| l.as_ref().map(|(s, _)| s.clone())).unwrap_or_else(|| "in use".into())
}

/// The other processes holding SQLite's locks on the file this daemon uses.
pub fn lock_holders_of_location() -> Vec<String> {
    let file = LOCATION.read().ok().and_then(|l| l.as_ref().and_then(|(_, f)| f.clone()));
    file.map(|f| crate::lock::holders(&f, "POSIX").into_iter().map(crate::lock::describe_pid).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_codes_classify() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.expect("memory db");
        let e = sqlx::query("SELEC 1").execute(&pool).await.expect_err("syntax error");
        assert_eq!(classify(&e), Fault::Other);
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), Fault::Busy);
    }
}
