//! The `clout.v1` gRPC API shared by `cloutd` and `clout`.
//!
//! Holds the generated messages and services, the encoded descriptor set for
//! server reflection, the default socket path, the `connect` helpers (Unix
//! socket, TCP with TLS) and the bearer token shared by both ends of TCP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Uri};

#[allow(clippy::all, clippy::unwrap_used)]
pub mod v1 {
    tonic::include_proto!("clout.v1");
}

/// Encoded `FileDescriptorSet` of `clout.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/clout_descriptor.bin"));

/// Bumped on every incompatible change of the API.
pub const PROTOCOL: u32 = 1;

/// The largest message either side accepts (requests are capped well below).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The default socket: `$XDG_RUNTIME_DIR/clout/cloutd.sock`, else a private
/// per-user directory under the system's temporary directory.
pub fn default_socket_path() -> PathBuf {
    runtime_dir().join("cloutd.sock")
}

/// The private directory that holds the socket by default.
pub fn runtime_dir() -> PathBuf {
    match dirs::runtime_dir() {
        Some(dir) => dir.join("clout"),
        None => std::env::temp_dir().join(format!("clout-{}", current_uid())),
    }
}

/// The real user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY-free: getuid cannot fail and has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::getuid()
    }
}

/// Converts a chrono instant into a protobuf timestamp.
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// Converts a protobuf timestamp into a chrono instant; `None` when out of range.
pub fn from_ts(t: &prost_types::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return None;
    }
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32)
}

/// Opens a channel to `cloutd` on a Unix socket. Fails fast (within
/// `timeout`) when nothing listens there.
pub async fn connect_unix(path: &Path, timeout: Duration) -> Result<Channel, tonic::transport::Error> {
    let path = path.to_path_buf();
    // The URI is never used for routing: the connector below opens the socket.
    // Its authority becomes the HTTP/2 `:authority`, which must be a host name.
    Endpoint::from_static("http://localhost")
        .connect_timeout(timeout)
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}

/// The shortest bearer token accepted, in characters.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a private file (a bearer token, an account's secret) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error("cannot read the {what} file {}: {source}", path.display())]
    Read { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the {what} file {} is not a regular file", path.display())]
    NotAFile { what: &'static str, path: PathBuf },
    #[error("the {what} file {} has mode {mode:04o}, so other users can read it; run `chmod 600 {}`", path.display(), path.display())]
    Shared { what: &'static str, path: PathBuf, mode: u32 },
    /// The file's text is not what it must hold; `reason` reads after "the
    /// {what} file PATH".
    #[error("the {what} file {} {reason}", path.display())]
    Content { what: &'static str, path: PathBuf, reason: String },
}

/// Reads a file that only its owner may read (mode 0600 or stricter) and
/// returns its text without surrounding whitespace. `what` names it in errors.
pub fn read_private_file(path: &Path, what: &'static str) -> Result<String, PrivateFileError> {
    use std::os::unix::fs::PermissionsExt;
    let read = |source| PrivateFileError::Read { what, path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(PrivateFileError::NotAFile { what, path: path.to_path_buf() });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PrivateFileError::Shared { what, path: path.to_path_buf(), mode });
    }
    Ok(std::fs::read_to_string(path).map_err(read)?.trim().to_string())
}

/// Reads a bearer token from a file that only its owner may read (mode 0600
/// or stricter). The token is the file's text without surrounding whitespace:
/// at least [`MIN_TOKEN_LEN`] visible ASCII characters.
pub fn read_token_file(path: &Path) -> Result<String, PrivateFileError> {
    let token = read_private_file(path, "token")?;
    let refuse =
        |reason: String| Err(PrivateFileError::Content { what: "token", path: path.to_path_buf(), reason });
    if token.len() < MIN_TOKEN_LEN {
        return refuse(format!(
            "holds {} characters; use at least {MIN_TOKEN_LEN} (for example: umask 077; openssl rand -hex 32 > {})",
            token.len(),
            path.display()
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return refuse(
            "must hold one word of visible ASCII characters (no spaces or line breaks inside)".to_string(),
        );
    }
    Ok(token)
}

/// A bearer token that cannot go in an HTTP header.
#[derive(Debug, thiserror::Error)]
#[error("the token is not valid in an HTTP header")]
pub struct BadToken;

/// Adds `authorization: Bearer TOKEN` to every request (or nothing, on the Unix socket).
#[derive(Clone, Default)]
pub struct BearerAuth(Option<MetadataValue<Ascii>>);

impl BearerAuth {
    /// No token: for the Unix socket, where the kernel vouches for the peer.
    pub fn none() -> BearerAuth {
        BearerAuth(None)
    }

    /// A token as [`read_token_file`] returns it.
    pub fn new(token: &str) -> Result<BearerAuth, BadToken> {
        let value = format!("Bearer {token}").parse::<MetadataValue<Ascii>>().map_err(|_| BadToken)?;
        Ok(BearerAuth(Some(value)))
    }
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// Why [`connect_tcp`] failed.
#[derive(Debug)]
pub enum TcpError {
    /// The endpoint or the CA file is wrong: nothing was sent.
    Invalid(String),
    /// Nothing answered, or the TLS handshake failed.
    Unreachable(String),
}

impl std::fmt::Display for TcpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TcpError::Invalid(m) | TcpError::Unreachable(m) => f.write_str(m),
        }
    }
}

/// Opens a channel to `cloutd`'s TCP listener: `https://HOST:PORT` (TLS,
/// trusting `ca` if given, else the system's roots), or `http://` to a loopback
/// address only (a daemon started with `--insecure-loopback`). Fails fast
/// (within `timeout`) when nothing answers.
pub async fn connect_tcp(endpoint: &str, ca: Option<&Path>, timeout: Duration) -> Result<Channel, TcpError> {
    let invalid = |m: String| TcpError::Invalid(m);
    let uri: Uri = endpoint.parse().map_err(|e| {
        invalid(format!("invalid endpoint {endpoint:?} ({e}): write it as https://HOST:PORT"))
    })?;
    let host =
        uri.host().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string()).ok_or_else(|| {
            invalid(format!("the endpoint {endpoint:?} has no host: write it as https://HOST:PORT"))
        })?;
    if uri.port().is_none() {
        return Err(invalid(format!(
            "the endpoint {endpoint:?} has no port: write it as https://{host}:PORT"
        )));
    }
    let mut ep = Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| invalid(format!("invalid endpoint {endpoint:?}: {e}")))?
        .connect_timeout(timeout)
        .tcp_nodelay(true);
    match uri.scheme_str() {
        Some("https") => {
            let mut tls = ClientTlsConfig::new().domain_name(host.clone()).timeout(timeout);
            tls = match ca {
                Some(path) => {
                    let pem = std::fs::read(path).map_err(|e| {
                        invalid(format!("cannot read the CA certificate {}: {e}", path.display()))
                    })?;
                    tls.ca_certificate(Certificate::from_pem(pem))
                }
                None => tls.with_native_roots(),
            };
            ep = ep
                .tls_config(tls)
                .map_err(|e| invalid(format!("cannot set up TLS for {endpoint}: {}", cause(&e))))?;
        }
        Some("http") => {
            let loopback =
                host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(invalid(format!(
                    "refusing to send the token to {host} over plain http: use https://{host}:PORT \
                     (cloutd with --tls-cert and --tls-key)"
                )));
            }
            if ca.is_some() {
                return Err(invalid("--ca applies to https:// endpoints; this one is http://".into()));
            }
        }
        _ => {
            return Err(invalid(format!(
                "the endpoint {endpoint:?} must start with https:// (or http:// for loopback)"
            )));
        }
    }
    ep.connect().await.map_err(|e| TcpError::Unreachable(cause(&e)))
}

/// The innermost message of an error chain, which is the one that says what happened.
pub fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    msg
}
