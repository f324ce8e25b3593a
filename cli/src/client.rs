//! The connection to cloutd: finds the socket, connects without hanging, and
//! turns gRPC failures into sentences that say what to do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use clout_proto::v1::daemon_service_client::DaemonServiceClient;
use clout_proto::v1::draft_service_client::DraftServiceClient;
use clout_proto::v1::nudge_service_client::NudgeServiceClient;
use clout_proto::v1::program_service_client::ProgramServiceClient;
use clout_proto::v1::queue_service_client::QueueServiceClient;
use clout_proto::v1::task_service_client::TaskServiceClient;
use tonic::transport::Channel;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// No unary call should take longer; a stuck daemon gives an error, not a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    channel: Channel,
    pub socket: PathBuf,
}

impl Client {
    pub async fn connect(socket: &Path) -> Result<Client> {
        let channel =
            clout_proto::connect_unix(socket, CONNECT_TIMEOUT).await.map_err(|e| not_running(socket, &e))?;
        Ok(Client { channel, socket: socket.to_path_buf() })
    }

    pub fn drafts(&self) -> DraftServiceClient<Channel> {
        DraftServiceClient::new(self.channel.clone())
    }

    pub fn queue(&self) -> QueueServiceClient<Channel> {
        QueueServiceClient::new(self.channel.clone())
    }

    pub fn nudges(&self) -> NudgeServiceClient<Channel> {
        NudgeServiceClient::new(self.channel.clone())
    }

    pub fn program(&self) -> ProgramServiceClient<Channel> {
        ProgramServiceClient::new(self.channel.clone())
    }

    pub fn tasks(&self) -> TaskServiceClient<Channel> {
        TaskServiceClient::new(self.channel.clone())
    }

    pub fn daemon(&self) -> DaemonServiceClient<Channel> {
        DaemonServiceClient::new(self.channel.clone())
    }
}

/// Wraps a request with the standard deadline.
pub fn request<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(REQUEST_TIMEOUT);
    r
}

fn not_running(socket: &Path, e: &tonic::transport::Error) -> anyhow::Error {
    let mut cause = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    anyhow!(
        "cannot reach cloutd at {} ({cause}).\n\
         Is the daemon running? Start it with `cloutd` (or `systemctl --user start cloutd`), \
         or point clout at its socket with --socket or CLOUT_SOCKET.",
        socket.display()
    )
}

/// Turns a gRPC status into a plain error message.
pub fn status_error(socket: &Path, s: tonic::Status) -> anyhow::Error {
    use tonic::Code;
    match s.code() {
        Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition | Code::AlreadyExists => {
            anyhow!("{}", s.message())
        }
        Code::Unavailable => anyhow!(
            "cloutd at {} is not answering ({}). Is it running? Start it with `cloutd`.",
            socket.display(),
            s.message()
        ),
        Code::DeadlineExceeded => {
            anyhow!("cloutd at {} did not answer in time; check its log", socket.display())
        }
        Code::Unimplemented => anyhow!(
            "this cloutd does not know that request ({}); it may be older than clout {}: upgrade and restart it",
            s.message(),
            env!("CARGO_PKG_VERSION")
        ),
        _ => anyhow!("cloutd failed: {}", s.message()),
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
