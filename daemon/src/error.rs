//! The daemon's error type and its mapping to gRPC status codes.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("storage error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Startup(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { .. } => tonic::Status::not_found(e.to_string()),
            Error::Invalid(m) => tonic::Status::invalid_argument(m),
            Error::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
            Error::Db(ref inner) if is_busy(inner) => {
                tonic::Status::unavailable("the database is locked by another process; try again")
            }
            other => {
                tracing::error!(error = %other, "request failed");
                tonic::Status::internal(format!("{other}; see cloutd's log"))
            }
        }
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let m = d.message();
            m.contains("database is locked") || m.contains("database is busy")
        }
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}
