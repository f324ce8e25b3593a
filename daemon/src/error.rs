//! The daemon's error type and its one mapping to gRPC status codes.
//!
//! Clients get a sentence that says what to do. Storage faults are told
//! apart by the driver's error codes ([`crate::store::fault`]); an internal
//! error reaches the client as a short sentence with a reference that
//! matches a line of cloutd's log, never as driver text or paths.

use std::path::PathBuf;

use crate::store::fault::{self, Fault};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// The thing exists already (`existing` is its id).
    #[error("{message}")]
    Conflict { existing: i64, message: String },
    /// The database holds a value this cloutd cannot read: written by a
    /// newer version, or damaged. Found at run time.
    #[error("{0}")]
    Corrupt(String),
    /// The configuration (config file, flags, environment) is wrong.
    #[error("{0}")]
    Config(String),
    #[error("storage error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    /// cloutd could not start, or a server it runs failed.
    #[error("{0}")]
    Startup(String),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The storage fault behind this error, if it is one.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Error::Db(e) => Some(fault::classify(e)),
            _ => None,
        }
    }
}

/// The longest value quoted back in an error, in characters.
const MAX_QUOTE: usize = 80;
/// The longest error message sent to a client, in bytes.
const MAX_MESSAGE: usize = 2048;

/// Shortens every `quoted` value in `msg` to at most [`MAX_QUOTE`]
/// characters, and the whole message to [`MAX_MESSAGE`] bytes, so that an
/// oversized value is named without being echoed whole.
pub fn tidy(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(MAX_MESSAGE));
    let mut parts = msg.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut inside = true;
    for part in parts {
        out.push('`');
        if inside && part.chars().count() > MAX_QUOTE {
            out.extend(part.chars().take(MAX_QUOTE - 1));
            out.push('…');
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    if out.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE - '…'.len_utf8();
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// Logs an internal error under a fresh reference and gives the client a
/// sentence naming that reference.
fn internal(e: &dyn std::fmt::Display) -> tonic::Status {
    let reference = format!("{:08x}", fastrand::u32(..));
    tracing::error!(reference = %reference, error = %e, "request failed");
    tonic::Status::internal(format!(
        "cloutd could not complete the request (reference {reference}); its log says why under that reference"
    ))
}

fn storage(e: &sqlx::Error) -> tonic::Status {
    let at = fault::location();
    match fault::classify(e) {
        Fault::Busy => {
            let holders = fault::lock_holders_of_location();
            let who =
                if holders.is_empty() { String::new() } else { format!(" (held by {})", holders.join(", ")) };
            tracing::warn!(error = %e, "a request waited too long for the database");
            tonic::Status::aborted(format!(
                "the database {at} is busy: another process holds its lock{who}. Nothing was changed; try again once it lets go"
            ))
        }
        Fault::Full => {
            tracing::error!(error = %e, "the disk holding the database is full");
            tonic::Status::resource_exhausted(format!(
                "the disk holding the database {at} is full. Nothing was changed; free some space and try again (cloutd carries on by itself once there is room)"
            ))
        }
        Fault::ReadOnly => {
            tracing::error!(error = %e, "the database cannot be written");
            tonic::Status::failed_precondition(format!(
                "the database {at} cannot be written (read-only): check that cloutd's user may write the file and its directory, and that the filesystem is not mounted read-only"
            ))
        }
        Fault::Corrupt => {
            tracing::error!(error = %e, "the database is damaged");
            tonic::Status::internal(format!(
                "the database {at} is damaged. Stop cloutd, move the file aside and import your last export (clout import FILE)"
            ))
        }
        Fault::Io | Fault::Other => internal(e),
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { .. } => tonic::Status::not_found(tidy(&e.to_string())),
            Error::Invalid(m) => tonic::Status::invalid_argument(tidy(&m)),
            Error::FailedPrecondition(m) => tonic::Status::failed_precondition(tidy(&m)),
            Error::Conflict { message, .. } => tonic::Status::already_exists(tidy(&message)),
            Error::Db(ref inner) => storage(inner),
            Error::Media(crate::media::MediaError::Write { .. }) => internal(&e),
            Error::Media(
                ref m @ (crate::media::MediaError::Missing { .. } | crate::media::MediaError::Damaged { .. }),
            ) => tonic::Status::failed_precondition(tidy(&m.to_string())),
            Error::Media(ref m) => tonic::Status::invalid_argument(tidy(&m.to_string())),
            other => internal(&other),
        }
    }
}

/// `75s`, `4m 10s`, `2h 5m`: a duration for messages.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quotes_are_shortened() {
        let tag = "x".repeat(100_000);
        let m = tidy(&format!("invalid tag `{tag}`: use letters"));
        assert!(m.len() < 200, "{}", m.len());
        assert!(m.starts_with("invalid tag `xxx") && m.ends_with("…`: use letters"), "{m}");
        assert_eq!(
            tidy("unknown zone `Europe/Berln`: did you mean `Europe/Berlin`?"),
            "unknown zone `Europe/Berln`: did you mean `Europe/Berlin`?"
        );
        let long = "é".repeat(5000);
        assert!(tidy(&long).len() <= MAX_MESSAGE);
    }

    #[test]
    fn internal_errors_hide_their_text() {
        let s: tonic::Status = Error::Startup("/secret/path/x.db: driver text".into()).into();
        assert_eq!(s.code(), tonic::Code::Internal);
        assert!(
            !s.message().contains("/secret/path") && s.message().contains("reference"),
            "{}",
            s.message()
        );
    }
}
