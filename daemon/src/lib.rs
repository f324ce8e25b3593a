//! `cloutd`, the Clout daemon, as a library: [`run`] serves the `clout.v1`
//! gRPC API on a Unix socket (and optionally TCP with TLS) and fires the
//! program's items on time.

pub mod access;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod conn;
pub mod error;
pub mod fire;
pub mod fleet;
pub mod health;
pub mod http;
pub mod leased;
pub mod lock;
pub mod media;
pub mod model;
pub mod publish;
pub mod recurrence;
pub mod reload;
pub mod results;
pub mod rules;
pub mod scheduler;
pub mod service;
pub mod sinks;
pub mod socket;
pub mod store;
pub mod study;
pub mod systemd;
pub mod tcp;
mod vtimezone;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clout_proto::v1;
use tokio::sync::{Notify, watch};

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
    /// Sink delivery: wakes the delivery task, delivers test nudges.
    pub sinks: sinks::Hub,
    pub started_at: DateTime<Utc>,
    pub socket: PathBuf,
    /// Rules and the missed-run policy; replaced on SIGHUP.
    pub policy: std::sync::RwLock<rules::Policy>,
    /// Tells the other daemons of a PostgreSQL fleet about a write.
    pub fleet_out: Notify,
    /// Publishing to accounts: wakes the publisher, holds sessions and config secrets.
    pub publish: publish::Hub,
    /// Whether the loops make progress: health, the watchdog, `clout status`.
    pub health: health::Health,
    /// The images drafts carry, kept beside the database.
    pub media: media::Media,
    /// Where calendar apps subscribe (`[calendar]`), if it is served.
    pub calendar_url: Option<String>,
    /// Reading the people you follow: wakes the study task, its HTTP client.
    pub study: study::Hub,
    /// Fetching your posts' results: wakes the fetcher.
    pub results: results::Hub,
}

/// The config file's `[[sinks]]`, checked as `clout sink add` checks a sink.
pub fn config_sinks(config: &Config) -> Result<Vec<sinks::NewSink>> {
    let check = |(i, decl): (usize, &config::SinkDecl)| {
        sinks::admit(&decl.kind, &decl.target, decl.args.clone(), &decl.format, &decl.on)
            .map_err(|e| Error::Config(format!("sinks[{i}] in the config file: {e}")))
    };
    config.sinks.iter().enumerate().map(check).collect()
}

/// Adds the config file's `[[sinks]]` that the database does not have yet.
/// Removing one from the file does not remove it: `clout sink rm` does.
pub async fn add_config_sinks(core: &Core, config: &Config) -> Result<()> {
    for (decl, sink) in config.sinks.iter().zip(config_sinks(config)?) {
        match core.store.add_sink(&sink, crate::clock::now()).await {
            Ok(s) => {
                tracing::info!(sink = s.id, kind = decl.kind.as_str(), "added a sink from the config file")
            }
            Err(Error::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    core.sinks.changed();
    Ok(())
}

/// Adds or updates the config file's `[[accounts]]` and keeps their inline
/// secrets in memory. Removing one from the file does not remove it:
/// `clout account rm` does.
pub async fn add_config_accounts(core: &Core, config: &Config) -> Result<()> {
    let mut secrets = std::collections::HashMap::new();
    for (i, decl) in config.accounts.iter().enumerate() {
        let (account, secret) =
            decl.resolve().map_err(|e| Error::Config(format!("[[accounts]] #{}: {e}", i + 1)))?;
        if let Some(secret) = secret {
            secrets.insert(account.name.clone(), secret);
        }
        core.store.upsert_config_account(&account, crate::clock::now()).await?;
    }
    core.publish.set_config_secrets(secrets);
    Ok(())
}

impl Core {
    /// A request wrote to the nudge log: tell the watchers and sinks.
    pub async fn nudged(&self) -> Result<()> {
        let last = self.store.last_nudge_id().await?;
        self.nudges.send_if_modified(|cur| {
            let newer = last > *cur;
            if newer {
                *cur = last;
            }
            newer
        });
        Ok(())
    }

    /// A write changed what is due: wake this daemon's scheduler and
    /// publisher, and the fleet's. The study task and the results fetcher
    /// are not woken here: their work is queued by fired rows (the scheduler
    /// wakes them after each firing) or by a refresh, which wakes them itself.
    pub fn changed(&self) {
        self.wake.notify_one();
        self.publish.wake();
        self.fleet_out.notify_one();
    }

    /// The policy in force now.
    pub fn policy(&self) -> rules::Policy {
        self.policy.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// Replaces the policy and puts the rule checks on the schedule again.
    pub async fn set_policy(&self, policy: rules::Policy) -> Result<()> {
        self.store.sync_checks(&policy, crate::clock::now()).await?;
        if let Ok(mut p) = self.policy.write() {
            *p = policy;
        }
        self.changed();
        Ok(())
    }
}

/// How long open connections may take to finish after the stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How the daemon was started, beyond its settings: systemd and signals.
#[derive(Default)]
pub struct Launch {
    /// A listening socket inherited from systemd (socket activation).
    pub inherited: Option<std::os::unix::net::UnixListener>,
    /// Each message asks to re-read the configuration (SIGHUP).
    pub reload: Option<tokio::sync::mpsc::Receiver<()>>,
    /// Replaces the log filter (from a tracing-subscriber reload handle).
    pub set_log_filter: Option<reload::LogFilterFn>,
}

/// Runs the daemon until `shutdown` completes, then stops cleanly: in-flight
/// fires finish, watchers are closed, the socket is removed.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    run_with(config, shutdown, Launch::default()).await
}

/// [`run`], with systemd's socket and a way to reload the configuration.
pub async fn run_with(config: Config, shutdown: impl Future<Output = ()>, launch: Launch) -> Result<()> {
    let policy = access::PeerPolicy::new(clout_proto::current_uid(), config.allowed_group.as_deref())?;
    let open_files = conn::raise_nofile_limit();
    let (unix_limits, tcp_limits) = conn::Limits::for_listeners(open_files);
    let tcp_token = config.tcp.as_ref().map(tcp::read_token).transpose()?;
    let (socket, inherited) = match launch.inherited {
        Some(l) => socket::inherited(l, &config.socket).map(|(s, l)| (s, Some(l)))?,
        None => (socket::prepare(&config.socket)?, None),
    };
    let owner = format!("pid {}, socket {}", std::process::id(), socket.path().display());
    let store = Store::open(&config.database_url, Some(&owner)).await?;
    let tcp_listener = match &config.tcp {
        Some(t) => Some(tcp::Listener::bind(t).await?),
        None => None,
    };
    let calendar_listener = match &config.calendar {
        Some(c) => Some(calendar::Listener::bind(c).await?),
        None => None,
    };
    let listener = match inherited {
        Some(l) => l,
        None => socket.bind(policy.group.as_ref())?,
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let last = store.last_nudge_id().await?;
    let core = Arc::new(Core {
        store,
        wake: Notify::new(),
        nudges: watch::Sender::new(last),
        shutdown: stop_rx.clone(),
        sinks: sinks::Hub::new(),
        started_at: crate::clock::now(),
        socket: socket.path().to_path_buf(),
        policy: std::sync::RwLock::new(config.policy.clone()),
        fleet_out: Notify::new(),
        publish: publish::Hub::new(),
        health: health::Health::default(),
        media: media::Media::for_database(&config.database_url),
        calendar_url: calendar_listener.as_ref().map(calendar::Listener::url),
        study: study::Hub::new(),
        results: results::Hub::new(),
    });
    core.store.set_result_after(config.result_after.clone());
    core.health.set_threshold(Duration::from_secs(config.health.threshold_seconds));
    let fleet =
        core.store.pg_pool().map(|pool| tokio::spawn(fleet::run(core.clone(), pool, stop_rx.clone())));
    core.store.sync_checks(&config.policy, crate::clock::now()).await?;
    add_config_sinks(&core, &config).await?;
    add_config_accounts(&core, &config).await?;
    let calendar_server = calendar_listener.map(|l| {
        tracing::info!(addr = %l.addr, "serving the calendar for subscriptions (`clout status` shows its URL)");
        tokio::spawn(l.serve(core.clone(), stop_rx.clone()))
    });
    core.store.enroll_study(crate::clock::now()).await?;
    let scheduler = tokio::spawn(scheduler::run(core.clone(), stop_rx.clone()));
    let sink_delivery = tokio::spawn(sinks::run(core.clone(), stop_rx.clone()));
    let publisher = tokio::spawn(publish::run(core.clone(), stop_rx.clone()));
    let studier = tokio::spawn(study::run(core.clone(), stop_rx.clone()));
    let fetcher = tokio::spawn(results::run(core.clone(), stop_rx.clone()));
    media::sweep_later(&core);

    let api = service::Api::new(core.clone());
    let (health_reporter, health) = tonic_health::server::health_reporter();
    for name in SERVICE_NAMES {
        health_reporter.set_service_status(name, tonic_health::ServingStatus::Serving).await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(clout_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Startup(format!("cannot build gRPC reflection: {e}")))?;

    let max = service::MAX_REQUEST_BYTES;
    let routes = tonic::service::Routes::default()
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
        .add_service(
            v1::review_service_server::ReviewServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            v1::backup_service_server::BackupServiceServer::new(api.clone())
                .max_decoding_message_size(service::MAX_IMPORT_BYTES)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(
            v1::sink_service_server::SinkServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            v1::account_service_server::AccountServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            v1::image_service_server::ImageServiceServer::new(api.clone())
                .max_decoding_message_size(media::MAX_IMAGE_BYTES + 1024),
        )
        .add_service(
            v1::study_service_server::StudyServiceServer::new(api.clone()).max_decoding_message_size(max),
        )
        .add_service(v1::daemon_service_server::DaemonServiceServer::new(api).max_decoding_message_size(max));

    let policy: access::SharedPolicy = Arc::new(RwLock::new(policy));
    let incoming = {
        let policy = policy.clone();
        conn::accept(listener, "unix", unix_limits, move |_, peer| match *peer {
            conn::Peer::Unix { uid, gid, pid } => {
                policy.read().unwrap_or_else(PoisonError::into_inner).allows(uid, gid, pid)
            }
            conn::Peer::Tcp(_) => false,
        })
    };
    let token: Option<tcp::SharedToken> = tcp_token.map(|t| Arc::new(RwLock::new(Arc::from(t))));
    let tcp_server = match (tcp_listener, &token) {
        (Some(l), Some(token)) => {
            tracing::info!(addr = %l.addr, tls = l.is_tls(), "listening on TCP; every request needs the bearer token");
            if !l.is_tls() {
                tracing::warn!(addr = %l.addr, "the TCP listener is plaintext (--insecure-loopback): for this machine only");
            }
            Some(l.serve(routes.clone(), token.clone(), tcp_limits, stopped(stop_rx.clone())))
        }
        _ => None,
    };

    tracing::info!(
        socket = %socket.path().display(),
        activated = socket.is_inherited(),
        database = %core.store.redacted_url(),
        version = env!("CARGO_PKG_VERSION"),
        open_files,
        max_connections = unix_limits.max,
        "cloutd ready"
    );
    systemd::ready("serving");
    let stop = async {
        shutdown.await;
        tracing::info!("stopping");
        systemd::stopping();
        let _ = stop_tx.send(true);
    };
    let unix_server = tonic::transport::Server::builder()
        .layer(conn::TrackLayer { admit_all: true })
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stop);
    let live = reload::Live {
        config: RwLock::new(config),
        policy,
        socket: &socket,
        token,
        set_log_filter: launch.set_log_filter,
        core: core.clone(),
    };
    let servers = async {
        let tcp = async {
            match tcp_server {
                Some(server) => server.await,
                None => Ok(()),
            }
        };
        let (unix, tcp, (), ()) = tokio::join!(
            unix_server,
            tcp,
            reload::serve(live, launch.reload, stop_rx.clone()),
            health_loop(core.clone(), health_reporter, systemd::watchdog_interval(), stop_rx.clone()),
        );
        (unix, tcp)
    };
    // Connections get a grace period to finish; a client that holds on past it is cut off.
    let grace = async {
        stopped(stop_rx.clone()).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let served = tokio::select! {
        r = servers => Some(r),
        () = grace => {
            tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after the stop signal; closing them");
            None
        }
    };
    let _ = scheduler.await;
    let _ = sink_delivery.await;
    let _ = publisher.await;
    if let Some(calendar) = calendar_server {
        let _ = calendar.await;
    }
    let _ = studier.await;
    let _ = fetcher.await;
    if let Some(fleet) = fleet {
        let _ = fleet.await;
    }
    if tokio::time::timeout(Duration::from_secs(1), core.store.close()).await.is_err() {
        tracing::warn!("the database connections did not close within 1 s");
    }
    socket.remove();
    if let Some((unix, tcp)) = served {
        unix.map_err(|e| Error::Startup(format!("the gRPC server failed: {e}")))?;
        tcp?;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The names health is reported under besides "" (the whole daemon).
const SERVICE_NAMES: [&str; 12] = [
    "clout.v1.DraftService",
    "clout.v1.ImageService",
    "clout.v1.QueueService",
    "clout.v1.NudgeService",
    "clout.v1.ProgramService",
    "clout.v1.TaskService",
    "clout.v1.ReviewService",
    "clout.v1.BackupService",
    "clout.v1.SinkService",
    "clout.v1.AccountService",
    "clout.v1.StudyService",
    "clout.v1.DaemonService",
];

/// Judges health and acts on the verdict: sets the gRPC health service's
/// status (overall and per service), logs each change, and pings the systemd
/// watchdog only while healthy. Under a watchdog it looks at a third of the
/// watchdog's period, as systemd needs; otherwise only when the verdict could
/// change (an item due passing the threshold, work running too long, a
/// change the scheduler saw) and every few seconds while unhealthy, so an idle
/// daemon does not wake for it.
async fn health_loop(
    core: Arc<Core>,
    reporter: tonic_health::server::HealthReporter,
    watchdog: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) {
    use tonic_health::ServingStatus;
    const SICK_LOOK: Duration = Duration::from_secs(5);
    // Looking a moment after the instant the verdict could change, not at it.
    const MARGIN: Duration = Duration::from_millis(20);
    let period = watchdog.map(|w| (w / 3).clamp(Duration::from_millis(10), Duration::from_secs(5)));
    let mut was = None;
    loop {
        let report = core.health.check(&core.store).await;
        if report.healthy && watchdog.is_some() {
            systemd::watchdog_ping();
        }
        if was != Some(report.healthy) {
            was = Some(report.healthy);
            let status = if report.healthy { ServingStatus::Serving } else { ServingStatus::NotServing };
            if report.healthy {
                tracing::info!("healthy: firing is on time");
            } else {
                tracing::warn!("unhealthy: {}", report.problems.join("; "));
            }
            reporter.set_service_status("", status).await;
            for name in SERVICE_NAMES {
                reporter.set_service_status(name, status).await;
            }
        }
        let wait = match period {
            Some(p) => Some(p),
            None if !report.healthy => Some(SICK_LOOK),
            None => core
                .health
                .next_look(crate::clock::now())
                .map(|t| (t - crate::clock::now()).to_std().unwrap_or_default() + MARGIN),
        };
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            () = core.health.changed(), if period.is_none() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Completes once the stop flag is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
