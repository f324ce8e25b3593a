//! `cloutd`, the Clout daemon, as a library: [`run`] serves the `clout.v1`
//! gRPC API on a Unix socket and fires the program's items on time.

pub mod config;
pub mod error;
pub mod model;
pub mod recurrence;
pub mod scheduler;
pub mod service;
pub mod socket;
pub mod store;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clout_proto::v1;
use tokio::sync::{Notify, watch};
use tokio_stream::StreamExt;

pub use config::Config;
pub use error::{Error, Result};
use store::Store;

/// State shared by the gRPC services and the scheduler.
pub struct Core {
    pub store: Store,
    /// Wakes the scheduler after a write that may change the next due time.
    pub wake: Notify,
    /// The id of the newest nudge in the log; watchers wait on its changes.
    pub nudges: watch::Sender<i64>,
    /// Flips to true when the daemon stops.
    pub shutdown: watch::Receiver<bool>,
    pub started_at: DateTime<Utc>,
    pub socket: PathBuf,
}

/// Runs the daemon until `shutdown` completes, then stops cleanly: in-flight
/// fires finish, watchers are closed, the socket is removed.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let socket = socket::prepare(&config.socket)?;
    let owner = format!("pid {}, socket {}", std::process::id(), config.socket.display());
    let store = Store::open(&config.database_url, Some(&owner)).await?;
    let listener = socket.bind()?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let last = store.last_nudge_id().await?;
    let core = Arc::new(Core {
        store,
        wake: Notify::new(),
        nudges: watch::Sender::new(last),
        shutdown: stop_rx.clone(),
        started_at: Utc::now(),
        socket: config.socket.clone(),
    });
    let scheduler = tokio::spawn(scheduler::run(core.clone(), stop_rx.clone()));

    let api = service::Api::new(core.clone());
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<v1::draft_service_server::DraftServiceServer<service::Api>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(clout_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Startup(format!("cannot build gRPC reflection: {e}")))?;

    let max = service::MAX_REQUEST_BYTES;
    let router = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection)
        .add_service(
            v1::draft_service_server::DraftServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            v1::queue_service_server::QueueServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            v1::nudge_service_server::NudgeServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            v1::program_service_server::ProgramServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            v1::task_service_server::TaskServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(v1::daemon_service_server::DaemonServiceServer::new(api).max_decoding_message_size(max));

    let uid = clout_proto::current_uid();
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener).filter(move |conn| match conn {
        Ok(stream) => socket::peer_allowed(stream, uid),
        Err(_) => true,
    });

    tracing::info!(
        socket = %config.socket.display(),
        database = %core.store.redacted_url(),
        version = env!("CARGO_PKG_VERSION"),
        "cloutd ready"
    );
    let stop = async {
        shutdown.await;
        tracing::info!("stopping");
        let _ = stop_tx.send(true);
    };
    let served = router.serve_with_incoming_shutdown(incoming, stop).await;
    let _ = scheduler.await;
    core.store.close().await;
    socket.remove();
    served.map_err(|e| Error::Startup(format!("the gRPC server failed: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}
