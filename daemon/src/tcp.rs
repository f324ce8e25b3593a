//! The optional TCP listener (`--listen ADDR`): TLS with rustls, and a bearer
//! token on every request, compared in constant time. The same services as
//! the Unix socket, with the same request size limits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use subtle::ConstantTimeEq;
use tonic::service::{Interceptor, InterceptorLayer, Routes};
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::config::TcpConfig;
use crate::conn::{self, Limits};
use crate::error::{Error, Result};

/// The token TCP clients must send, replaced when SIGHUP re-reads the token file.
pub type SharedToken = Arc<RwLock<Arc<str>>>;

/// Largest HTTP/2 header block accepted on TCP (the token travels in one).
const MAX_HEADER_BYTES: u32 = 16 * 1024;
/// A TLS handshake that takes longer is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads and checks the token file (mode 0600, a long enough token).
pub fn read_token(cfg: &TcpConfig) -> Result<String> {
    clout_proto::read_token_file(&cfg.token_file).map_err(|e| Error::Startup(e.to_string()))
}

/// A bound TCP listener, ready to serve.
pub struct Listener {
    listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
    tls: Option<ServerTlsConfig>,
}

impl Listener {
    /// Reads the certificate and key, then binds the address.
    pub async fn bind(cfg: &TcpConfig) -> Result<Listener> {
        let tls = match &cfg.tls {
            Some(files) => {
                let read = |action: &'static str, path: &std::path::Path| {
                    std::fs::read(path).map_err(|source| Error::Io { action, path: path.into(), source })
                };
                let cert = read("cannot read the TLS certificate", &files.cert)?;
                let key = read("cannot read the TLS private key", &files.key)?;
                Some(
                    ServerTlsConfig::new().identity(Identity::from_pem(cert, key)).timeout(HANDSHAKE_TIMEOUT),
                )
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(cfg.addr).await.map_err(|e| {
            Error::Startup(format!("cannot listen on {}: {e}; pick another --listen address", cfg.addr))
        })?;
        let addr = listener.local_addr().unwrap_or(cfg.addr);
        // Checking the identity now turns a bad certificate or key into a startup error.
        if let Some(tls) = &tls {
            Server::builder().tls_config(tls.clone()).map_err(|e| {
                Error::Startup(format!(
                    "invalid TLS certificate or key ({}); both must be PEM files and the key must match the certificate",
                    clout_proto::cause(&e)
                ))
            })?;
        }
        Ok(Listener { listener, addr, tls })
    }

    /// Whether connections are encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `routes` until `shutdown` completes; every request must carry
    /// the token, and a connection that sends none with it within
    /// `limits.first_request` is closed.
    pub async fn serve(
        self,
        routes: Routes,
        token: SharedToken,
        limits: Limits,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let builder = match self.tls {
            Some(tls) => Server::builder().tls_config(tls).map_err(|e| {
                Error::Startup(format!("invalid TLS configuration: {}", clout_proto::cause(&e)))
            })?,
            None => Server::builder(),
        };
        builder
            .http2_max_header_list_size(MAX_HEADER_BYTES)
            .http2_keepalive_interval(Some(Duration::from_secs(60)))
            .layer(
                tower::ServiceBuilder::new()
                    .layer(conn::TrackLayer { admit_all: false })
                    .layer(InterceptorLayer::new(TokenCheck { token })),
            )
            .add_routes(routes)
            .serve_with_incoming_shutdown(conn::accept(self.listener, "tcp", limits, |_, _| true), shutdown)
            .await
            .map_err(|e| Error::Startup(format!("the TCP listener failed: {}", clout_proto::cause(&e))))
    }
}

/// Lets a request through only with `authorization: Bearer TOKEN`.
#[derive(Clone)]
struct TokenCheck {
    token: SharedToken,
}

impl Interceptor for TokenCheck {
    fn call(&mut self, req: tonic::Request<()>) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        let presented = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let expected = self.token.read().unwrap_or_else(PoisonError::into_inner).clone();
        let conn = conn::Info::of(req.extensions());
        if presented.is_some_and(|p| token_matches(&expected, p)) {
            if let Some(c) = conn {
                c.admit();
            }
            return Ok(req);
        }
        let peer = match conn.map(|c| c.peer) {
            Some(conn::Peer::Tcp(addr)) => addr.to_string(),
            _ => "an unknown address".into(),
        };
        let what = if presented.is_some() { "a wrong" } else { "no" };
        tracing::warn!(peer = %peer, "rejected a TCP request with {what} bearer token");
        Err(tonic::Status::unauthenticated(
            "missing or wrong bearer token: pass --token-file with the token cloutd was started with",
        ))
    }
}

/// Compares in constant time (for tokens of equal length; the length is not secret).
fn token_matches(expected: &str, presented: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(token: &str, header: Option<&str>) -> std::result::Result<(), tonic::Code> {
        let mut t = TokenCheck { token: Arc::new(RwLock::new(Arc::from(token))) };
        let mut req = tonic::Request::new(());
        if let Some(h) = header {
            req.metadata_mut().insert("authorization", h.parse().expect("ascii"));
        }
        t.call(req).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let tok = "0123456789abcdef0123";
        assert_eq!(check(tok, Some("Bearer 0123456789abcdef0123")), Ok(()));
        for bad in [None, Some("Bearer 0123456789abcdef012"), Some("Bearer 0123456789abcdef01234"), Some(tok)]
        {
            assert_eq!(check(tok, bad), Err(tonic::Code::Unauthenticated), "{bad:?}");
        }
        assert_eq!(check(tok, Some("bearer 0123456789abcdef0123")), Err(tonic::Code::Unauthenticated));
    }
}
