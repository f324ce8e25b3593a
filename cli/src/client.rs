//! The connection to cloutd: finds the socket (or the TCP endpoint), connects
//! without hanging, and turns gRPC failures into sentences that say what to do.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clout_proto::BearerAuth;
use clout_proto::v1::backup_service_client::BackupServiceClient;
use clout_proto::v1::daemon_service_client::DaemonServiceClient;
use clout_proto::v1::draft_service_client::DraftServiceClient;
use clout_proto::v1::image_service_client::ImageServiceClient;
use clout_proto::v1::nudge_service_client::NudgeServiceClient;
use clout_proto::v1::program_service_client::ProgramServiceClient;
use clout_proto::v1::queue_service_client::QueueServiceClient;
use clout_proto::v1::review_service_client::ReviewServiceClient;
use clout_proto::v1::task_service_client::TaskServiceClient;
use tonic::transport::Channel;

/// A channel that sends the bearer token (over TCP) with every request.
pub type Conn = tonic::service::interceptor::InterceptedService<Channel, BearerAuth>;

/// cloutd over TCP (`--endpoint`), chosen once at start.
struct Remote {
    endpoint: String,
    auth: BearerAuth,
    ca: Option<PathBuf>,
}

static REMOTE: OnceLock<Remote> = OnceLock::new();

/// Sends every connection to `endpoint` over TCP instead of the socket, with the
/// bearer token from `token_file` and, for https, `ca` as the trusted root.
pub fn use_endpoint(endpoint: &str, token_file: Option<&Path>, ca: Option<&Path>) -> Result<()> {
    let token_file = token_file.ok_or_else(|| {
        anyhow!(
            "--endpoint needs --token-file FILE (or CLOUT_TOKEN_FILE): the file with the bearer token cloutd was started with"
        )
    })?;
    let token = clout_proto::read_token_file(token_file)?;
    let auth = BearerAuth::new(&token)?;
    let _ = REMOTE.set(Remote { endpoint: endpoint.to_string(), auth, ca: ca.map(Path::to_path_buf) });
    Ok(())
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// No unary call should take longer; a stuck daemon gives an error, not a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    channel: Conn,
    /// The socket, or the TCP endpoint (for messages).
    pub socket: PathBuf,
}

impl Client {
    pub async fn connect(socket: &Path) -> Result<Client> {
        if let Some(r) = REMOTE.get() {
            let channel = clout_proto::connect_tcp(&r.endpoint, r.ca.as_deref(), CONNECT_TIMEOUT)
                .await
                .map_err(|e| match e {
                    clout_proto::TcpError::Invalid(m) => anyhow!(m),
                    clout_proto::TcpError::Unreachable(cause) => unreachable_endpoint(&r.endpoint, &cause),
                })?;
            return Ok(Client {
                channel: Conn::new(channel, r.auth.clone()),
                socket: PathBuf::from(&r.endpoint),
            });
        }
        let channel =
            clout_proto::connect_unix(socket, CONNECT_TIMEOUT).await.map_err(|e| not_running(socket, &e))?;
        Ok(Client { channel: Conn::new(channel, BearerAuth::none()), socket: socket.to_path_buf() })
    }

    pub fn drafts(&self) -> DraftServiceClient<Conn> {
        DraftServiceClient::new(self.channel.clone())
    }

    pub fn images(&self) -> ImageServiceClient<Conn> {
        ImageServiceClient::new(self.channel.clone()).max_encoding_message_size(usize::MAX)
    }

    pub fn queue(&self) -> QueueServiceClient<Conn> {
        QueueServiceClient::new(self.channel.clone())
    }

    pub fn nudges(&self) -> NudgeServiceClient<Conn> {
        NudgeServiceClient::new(self.channel.clone())
    }

    pub fn program(&self) -> ProgramServiceClient<Conn> {
        ProgramServiceClient::new(self.channel.clone())
    }

    pub fn backup(&self) -> BackupServiceClient<Conn> {
        BackupServiceClient::new(self.channel.clone())
    }

    pub fn review(&self) -> ReviewServiceClient<Conn> {
        ReviewServiceClient::new(self.channel.clone())
    }

    pub fn sinks(&self) -> clout_proto::v1::sink_service_client::SinkServiceClient<Conn> {
        clout_proto::v1::sink_service_client::SinkServiceClient::new(self.channel.clone())
    }

    pub fn tasks(&self) -> TaskServiceClient<Conn> {
        TaskServiceClient::new(self.channel.clone())
    }

    pub fn accounts(&self) -> clout_proto::v1::account_service_client::AccountServiceClient<Conn> {
        clout_proto::v1::account_service_client::AccountServiceClient::new(self.channel.clone())
    }

    pub fn study(&self) -> clout_proto::v1::study_service_client::StudyServiceClient<Conn> {
        clout_proto::v1::study_service_client::StudyServiceClient::new(self.channel.clone())
    }

    pub fn daemon(&self) -> DaemonServiceClient<Conn> {
        DaemonServiceClient::new(self.channel.clone())
    }
}

/// Wraps a request with the standard deadline.
pub fn request<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(REQUEST_TIMEOUT);
    r
}

/// The deadline of an import of `bytes`: the standard one, plus 2 s a MiB
/// (cloutd parses, checks and writes the whole file in one transaction; 64 MiB
/// take a few seconds on a laptop, so this leaves room for a slow disk).
pub fn import_deadline(bytes: usize) -> Duration {
    let mib = u64::try_from(bytes.div_ceil(1024 * 1024)).unwrap_or(u64::MAX);
    REQUEST_TIMEOUT.saturating_add(Duration::from_secs(mib.saturating_mul(2)))
}

fn not_running(socket: &Path, e: &tonic::transport::Error) -> anyhow::Error {
    let mut cause = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    peer_refused(socket, &cause).unwrap_or_else(|| not_running_plain(socket, &cause))
}

/// A daemon of another user that drops the connection at once has refused this
/// peer (its SO_PEERCRED check): say so instead of "not running".
fn peer_refused(socket: &Path, cause: &str) -> Option<anyhow::Error> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(socket).ok()?.uid();
    let uid = clout_proto::current_uid();
    let cause_lc = cause.to_lowercase();
    // How hyper words a connection dropped at once, depending on when it noticed.
    let closed = [
        "broken pipe",
        "reset by peer",
        "connection closed",
        "transport error",
        "unexpected end of file",
        "operation was canceled",
    ]
    .iter()
    .any(|m| cause_lc.contains(m));
    (owner != uid && closed).then(|| {
        anyhow!(
            "cloutd at {} closed the connection ({cause}): it accepts only its own user and members of \
             its allowed group, and you are uid {uid}. Ask its owner to add you to that group \
             (allowed_group in cloutd.toml), or run your own cloutd.",
            socket.display()
        )
    })
}

fn not_running_plain(socket: &Path, cause: &str) -> anyhow::Error {
    anyhow!(
        "cannot reach cloutd at {} ({cause}).\n\
         Is the daemon running? Start it with `cloutd` (or `systemctl --user start cloutd`), \
         or point clout at its socket with --socket or CLOUT_SOCKET.",
        socket.display()
    )
}

fn unreachable_endpoint(endpoint: &str, cause: &str) -> anyhow::Error {
    anyhow!(
        "cannot reach cloutd at {endpoint} ({cause}).\n\
         Is it running with --listen, and do the endpoint's host name and --ca match its certificate?"
    )
}

/// Turns a gRPC status into a plain error message.
pub fn status_error(socket: &Path, s: tonic::Status) -> anyhow::Error {
    use tonic::Code;
    match s.code() {
        // cloutd answered: its sentence says what is wrong (a busy database is
        // Aborted, a full disk ResourceExhausted).
        Code::InvalidArgument
        | Code::NotFound
        | Code::FailedPrecondition
        | Code::AlreadyExists
        | Code::Aborted
        | Code::ResourceExhausted
        | Code::Internal => {
            anyhow!("{}", s.message())
        }
        Code::Unavailable => peer_refused(socket, s.message()).unwrap_or_else(|| {
            anyhow!(
                "cloutd at {} is not answering ({}). Is it running? Start it with `cloutd`.",
                socket.display(),
                s.message()
            )
        }),
        Code::DeadlineExceeded => {
            anyhow!("cloutd at {} did not answer in time; check its log", socket.display())
        }
        Code::Unimplemented => anyhow!(
            "this cloutd does not know that request ({}); it may be older than clout {}: upgrade and restart it",
            s.message(),
            env!("CARGO_PKG_VERSION")
        ),
        Code::Unauthenticated | Code::PermissionDenied => {
            anyhow!("cloutd at {} refused this client: {}", socket.display(), s.message())
        }
        _ => peer_refused(socket, s.message()).unwrap_or_else(|| anyhow!("cloutd failed: {}", s.message())),
    }
}

/// Calls `$client.$method(request($msg))` and maps the status to a sentence.
#[macro_export]
macro_rules! call {
    ($cl:expr, $svc:ident, $method:ident, $msg:expr) => {
        $cl.$svc()
            .$method($crate::client::request($msg))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| $crate::client::status_error(&$cl.socket, s))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_gets_more_time_the_bigger_it_is() {
        assert_eq!(import_deadline(10), REQUEST_TIMEOUT + Duration::from_secs(2));
        assert_eq!(import_deadline(64 * 1024 * 1024), REQUEST_TIMEOUT + Duration::from_secs(128));
    }
}
