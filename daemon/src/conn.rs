//! Accepting connections without being swamped by them.
//!
//! Each listener (the Unix socket, the TCP listener) accepts in its own task
//! and hands connections to the gRPC server through a channel. On the way:
//!
//! - **A cap per listener.** At most [`Limits::max`] connections are open at
//!   once; a connection over the cap is closed as soon as it is accepted (its
//!   client sees the connection close at once instead of hanging in the
//!   kernel's backlog). On the Unix socket one other user holds at most a
//!   quarter of the cap, and the last [`OWNER_RESERVE`] places are kept for
//!   cloutd's own user, so neither a group member nor a TCP client can lock
//!   the owner out.
//! - **A deadline for the first request.** A connection that has been let in
//!   no request (on TCP: none with the right token) within
//!   [`Limits::first_request`] is closed; so is one with no request open and
//!   none started for [`Limits::idle`]. A stream such as `clout watch` is an
//!   open request, and is never cut.
//! - **Backing off when out of file descriptors.** `accept` failing with
//!   EMFILE or ENFILE leaves the connection in the backlog, so retrying at
//!   once spins; the loop waits (50 ms, doubling to 1 s) and logs once per
//!   episode instead.
//!
//! [`raise_nofile_limit`] lifts the soft descriptor limit to the hard one at
//! start-up, and [`Limits::for_listeners`] sizes the caps from it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Sleep;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TlsConnectInfo};

/// Places on the Unix socket that only cloutd's own user may take.
pub const OWNER_RESERVE: usize = 32;
/// Descriptors kept for everything that is not a client connection: the
/// database, hooks, outbound HTTP, log files.
const OTHER_DESCRIPTORS: u64 = 128;

/// How many connections a listener takes, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once.
    pub max: usize,
    /// A connection must be let in a request within this time.
    pub first_request: Duration,
    /// A connection with no request open is closed after this time.
    pub idle: Duration,
}

impl Limits {
    /// The Unix socket's and the TCP listener's limits under a descriptor
    /// limit of `nofile`: the Unix socket gets three quarters of what is left
    /// after [`OTHER_DESCRIPTORS`] (at most 1,024), TCP a quarter (at most 512).
    pub fn for_listeners(nofile: u64) -> (Limits, Limits) {
        let budget = if nofile > 2 * OTHER_DESCRIPTORS { nofile - OTHER_DESCRIPTORS } else { nofile / 2 };
        let budget = usize::try_from(budget).unwrap_or(usize::MAX);
        let unix = Limits {
            max: (budget / 4 * 3).clamp(OWNER_RESERVE + 4, 1024),
            first_request: Duration::from_secs(10),
            idle: Duration::from_secs(300),
        };
        let tcp = Limits {
            max: (budget / 4).clamp(4, 512),
            first_request: Duration::from_secs(5),
            idle: Duration::from_secs(300),
        };
        (unix, tcp)
    }
}

/// Raises the soft limit on open files to the hard limit; returns the limit
/// now in force (the soft one, when it cannot be raised).
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let (soft, hard) = (lim.current.unwrap_or(u64::MAX), lim.maximum.unwrap_or(u64::MAX));
    if soft >= hard {
        return soft;
    }
    let raised = rustix::process::Rlimit { current: lim.maximum, maximum: lim.maximum };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::debug!(from = soft, to = hard, "raised the limit on open files");
            hard
        }
        Err(e) => {
            tracing::warn!(limit = soft, error = %e, "cannot raise the limit on open files");
            soft
        }
    }
}

/// Who is at the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A Unix-socket peer, by SO_PEERCRED.
    Unix {
        uid: u32,
        gid: u32,
        pid: Option<i32>,
    },
    Tcp(SocketAddr),
}

/// What a connection tells the requests that travel on it (in each
/// request's extensions).
#[derive(Debug, Clone)]
pub struct Info {
    pub peer: Peer,
    state: Arc<State>,
}

impl Info {
    /// The connection a request came on, also under TLS.
    pub fn of(ext: &http::Extensions) -> Option<&Info> {
        ext.get::<Info>().or_else(|| ext.get::<TlsConnectInfo<Info>>().map(TlsConnectInfo::get_ref))
    }

    /// Marks the connection as having sent a request it may send (for TCP:
    /// one with the right token), which lifts the first-request deadline.
    pub fn admit(&self) {
        self.state.admitted.store(true, Ordering::Relaxed);
    }

    /// Counts a request as open until the guard (kept with its response
    /// body) is dropped.
    fn open(&self) -> OpenRequest {
        self.state.open.fetch_add(1, Ordering::Relaxed);
        self.state.touch();
        OpenRequest(self.state.clone())
    }
}

#[derive(Debug)]
struct State {
    opened: Instant,
    admitted: AtomicBool,
    /// Requests whose response has not ended.
    open: AtomicUsize,
    /// When a request last started or ended, in ms after `opened`.
    last_ms: AtomicU64,
}

impl State {
    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Why the connection should close now, or when to look again.
    fn due(&self, limits: &Limits, now: Instant) -> Result<Instant, &'static str> {
        if !self.admitted.load(Ordering::Relaxed) {
            let deadline = self.opened + limits.first_request;
            return if now >= deadline { Err("it sent no request it may send") } else { Ok(deadline) };
        }
        if self.open.load(Ordering::Relaxed) > 0 {
            return Ok(now + limits.idle);
        }
        let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        let deadline = last + limits.idle;
        if now >= deadline { Err("it was idle") } else { Ok(deadline) }
    }
}

struct OpenRequest(Arc<State>);

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Counts a listener's open connections, in all and per Unix user.
#[derive(Debug)]
struct Places {
    listener: &'static str,
    limits: Limits,
    owner: u32,
    counts: Mutex<(usize, HashMap<u32, usize>)>,
    refused: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

/// A connection's place; given back when the connection is dropped.
#[derive(Debug)]
struct Place {
    places: Arc<Places>,
    uid: Option<u32>,
}

impl Places {
    fn take(self: &Arc<Places>, peer: &Peer) -> Option<Place> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, per_uid) = &mut *counts;
        let uid = match peer {
            Peer::Unix { uid, .. } => Some(*uid),
            Peer::Tcp(_) => None,
        };
        let max = self.limits.max;
        let fits = match uid {
            Some(u) if u == self.owner => *total < max,
            Some(u) => {
                *total < max.saturating_sub(OWNER_RESERVE)
                    && per_uid.get(&u).copied().unwrap_or(0) < (max / 4).max(1)
            }
            None => *total < max,
        };
        if !fits {
            return None;
        }
        *total += 1;
        if let Some(u) = uid {
            *per_uid.entry(u).or_insert(0) += 1;
        }
        Some(Place { places: self.clone(), uid })
    }

    /// Logs a refused connection, at most once every 10 s.
    fn refused(&self, peer: &Peer) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_warning.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        *last = Some(Instant::now());
        tracing::warn!(
            listener = self.listener,
            peer = ?peer,
            limit = self.limits.max,
            refused_so_far = n,
            "refused a connection: the listener has as many open connections as it takes \
             (clients that hold connections open without sending requests are closed after {} s)",
            self.limits.first_request.as_secs()
        );
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.places.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, per_uid) = &mut *counts;
        *total = total.saturating_sub(1);
        if let Some(u) = self.uid
            && let Some(n) = per_uid.get_mut(&u)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_uid.remove(&u);
            }
        }
    }
}

/// An accepted connection: the stream, its place under the cap, and the
/// deadline that closes it when it sends nothing.
pub struct Conn<S> {
    io: S,
    info: Info,
    limits: Limits,
    timer: Pin<Box<Sleep>>,
    _place: Place,
}

impl<S> Conn<S> {
    /// Fails the read once the connection is past its deadline; otherwise
    /// keeps the timer armed for the next one.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            match self.info.state.due(&self.limits, Instant::now()) {
                Ok(next) => self.timer.as_mut().reset(next.into()),
                Err(why) => {
                    tracing::debug!(peer = ?self.info.peer, "closing a connection: {why}");
                    return Err(io::Error::new(io::ErrorKind::TimedOut, why));
                }
            }
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Conn<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Conn<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl<S> Connected for Conn<S> {
    type ConnectInfo = Info;

    fn connect_info(&self) -> Info {
        self.info.clone()
    }
}

/// A listener cloutd accepts on.
pub trait Listen: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, Peer)>> + Send;
}

impl Listen for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;

    async fn accept(&self) -> io::Result<(tokio::net::UnixStream, Peer)> {
        let (stream, _) = tokio::net::UnixListener::accept(self).await?;
        let cred = stream.peer_cred().inspect_err(|e| {
            tracing::warn!(error = %e, "rejected a connection whose peer cannot be identified");
        })?;
        Ok((stream, Peer::Unix { uid: cred.uid(), gid: cred.gid(), pid: cred.pid() }))
    }
}

impl Listen for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&self) -> io::Result<(tokio::net::TcpStream, Peer)> {
        let (stream, addr) = tokio::net::TcpListener::accept(self).await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, Peer::Tcp(addr)))
    }
}

/// The stream of connections a gRPC server serves.
pub type Incoming<S> = ReceiverStream<io::Result<Conn<S>>>;

/// Accepts on `listener` in a task of its own; `admit` decides, per
/// connection, whether it may stay (the Unix socket's peer check). The task
/// ends when the server drops the stream.
pub fn accept<L: Listen>(
    listener: L,
    name: &'static str,
    limits: Limits,
    admit: impl Fn(&L::Stream, &Peer) -> bool + Send + 'static,
) -> Incoming<L::Stream> {
    let (tx, rx) = mpsc::channel(32);
    let places = Arc::new(Places {
        listener: name,
        limits,
        owner: clout_proto::current_uid(),
        counts: Mutex::new((0, HashMap::new())),
        refused: AtomicU64::new(0),
        last_warning: Mutex::new(None),
    });
    tokio::spawn(async move {
        let mut backoff = Backoff::new(name);
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                () = tx.closed() => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => {
                    backoff.reset();
                    a
                }
                Err(e) => {
                    backoff.wait(&e).await;
                    continue;
                }
            };
            if !admit(&stream, &peer) {
                continue;
            }
            let Some(place) = places.take(&peer) else {
                places.refused(&peer);
                continue;
            };
            let state = Arc::new(State {
                opened: Instant::now(),
                admitted: AtomicBool::new(false),
                open: AtomicUsize::new(0),
                last_ms: AtomicU64::new(0),
            });
            let conn = Conn {
                io: stream,
                info: Info { peer, state },
                limits,
                timer: Box::pin(tokio::time::sleep(limits.first_request)),
                _place: place,
            };
            if tx.send(Ok(conn)).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

/// Waits after a failed `accept`: long and logged when out of descriptors or
/// memory (the connection stays queued, so retrying at once would spin),
/// briefly for anything else (a client that gave up, say).
struct Backoff {
    listener: &'static str,
    delay: Duration,
    warned: bool,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const MOST: Duration = Duration::from_secs(1);

    fn new(listener: &'static str) -> Backoff {
        Backoff { listener, delay: Backoff::FIRST, warned: false }
    }

    fn reset(&mut self) {
        if self.warned {
            tracing::info!(listener = self.listener, "accepting connections again");
        }
        self.delay = Backoff::FIRST;
        self.warned = false;
    }

    async fn wait(&mut self, e: &io::Error) {
        let exhausted =
            matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM));
        if !exhausted {
            tracing::debug!(listener = self.listener, error = %e, "a connection failed while being accepted");
            tokio::time::sleep(Duration::from_millis(1)).await;
            return;
        }
        if !self.warned {
            self.warned = true;
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
            tracing::warn!(
                listener = self.listener,
                error = %e,
                open_files_limit = ?limit,
                "cannot accept connections: out of file descriptors; waiting for some to close \
                 (raise LimitNOFILE= or `ulimit -n` if this recurs)"
            );
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Backoff::MOST);
    }
}

/// A layer over the gRPC routes that counts each request as open on its
/// connection until its response ends; with `admit_all` (the Unix socket,
/// whose peers were checked when they connected) every request also admits
/// its connection.
#[derive(Debug, Clone, Copy)]
pub struct TrackLayer {
    pub admit_all: bool,
}

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner, admit_all: self.admit_all }
    }
}

#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
    admit_all: bool,
}

impl<S, B, R> tower::Service<http::Request<B>> for Track<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Tracked<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let open = Info::of(req.extensions()).map(|info| {
            if self.admit_all {
                info.admit();
            }
            info.open()
        });
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            Ok(res.map(|body| Tracked { body, _open: open }))
        })
    }
}

/// A response body that keeps its request counted as open until it ends.
pub struct Tracked<B> {
    body: B,
    _open: Option<OpenRequest>,
}

impl<B: http_body::Body + Unpin> http_body::Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_follow_the_descriptor_limit() {
        let (unix, tcp) = Limits::for_listeners(1024);
        assert_eq!((unix.max, tcp.max), (672, 224));
        let (unix, tcp) = Limits::for_listeners(65536);
        assert_eq!((unix.max, tcp.max), (1024, 512));
        let (unix, tcp) = Limits::for_listeners(64);
        assert_eq!((unix.max, tcp.max), (OWNER_RESERVE + 4, 8));
    }

    fn places(max: usize) -> Arc<Places> {
        Arc::new(Places {
            listener: "test",
            limits: Limits { max, first_request: Duration::from_secs(1), idle: Duration::from_secs(1) },
            owner: 1000,
            counts: Mutex::new((0, HashMap::new())),
            refused: AtomicU64::new(0),
            last_warning: Mutex::new(None),
        })
    }

    fn unix(uid: u32) -> Peer {
        Peer::Unix { uid, gid: uid, pid: None }
    }

    #[test]
    fn other_users_leave_the_owner_its_reserve() {
        let p = places(OWNER_RESERVE + 40);
        let mut held = Vec::new();
        // Each other user takes at most a quarter of the cap...
        for uid in 2000..2100 {
            while let Some(place) = p.take(&unix(uid)) {
                held.push(place);
            }
        }
        // ...and together they stop short of the owner's reserve.
        assert_eq!(held.len(), 40);
        for _ in 0..OWNER_RESERVE {
            held.push(p.take(&unix(1000)).expect("the owner gets its reserve"));
        }
        assert!(p.take(&unix(1000)).is_none(), "the cap holds for the owner too");
        held.truncate(10);
        assert!(p.take(&unix(2000)).is_some(), "places come back when connections close");
    }

    #[test]
    fn a_connection_is_due_to_close_when_it_sends_nothing() {
        let limits = Limits { max: 1, first_request: Duration::from_secs(5), idle: Duration::from_secs(60) };
        let t0 = Instant::now();
        let s = State {
            opened: t0,
            admitted: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        };
        assert_eq!(s.due(&limits, t0), Ok(t0 + Duration::from_secs(5)));
        assert!(s.due(&limits, t0 + Duration::from_secs(5)).is_err());
        s.admitted.store(true, Ordering::Relaxed);
        assert_eq!(s.due(&limits, t0 + Duration::from_secs(5)), Ok(t0 + Duration::from_secs(60)));
        s.open.store(1, Ordering::Relaxed);
        let later = t0 + Duration::from_secs(600);
        assert_eq!(s.due(&limits, later), Ok(later + Duration::from_secs(60)), "an open stream is never cut");
        s.open.store(0, Ordering::Relaxed);
        assert!(s.due(&limits, later).is_err());
    }
}
