//! gRPC calls from the bench process itself, each with a deadline.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use clout_proto::v1;
use clout_proto::v1::daemon_service_client::DaemonServiceClient;
use clout_proto::v1::draft_service_client::DraftServiceClient;
use clout_proto::v1::queue_service_client::QueueServiceClient;
use tonic::transport::Channel;

/// Deadline of one unary call.
pub const CALL_LIMIT: Duration = Duration::from_secs(30);
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// Awaits `fut`, failing with a message that names `what` when `limit` passes first.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(anyhow!("deadline expired: {what} took longer than {limit:?}")),
    }
}

fn request<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(CALL_LIMIT);
    r
}

pub async fn connect(socket: &Path) -> Result<Channel> {
    within(CONNECT_LIMIT + Duration::from_secs(1), "connecting to cloutd", async {
        clout_proto::connect_unix(socket, CONNECT_LIMIT)
            .await
            .with_context(|| format!("cannot connect to cloutd at {}", socket.display()))
    })
    .await
}

/// Adds a draft (scheduled at `at` when given) and returns its id.
pub async fn add_draft(ch: &Channel, text: String, at: Option<DateTime<Utc>>) -> Result<i64> {
    send_draft(ch, v1::AddDraftRequest { text, at: at.map(clout_proto::ts), ..Default::default() }).await
}

/// Adds a draft due at `at` that cloutd publishes to `account`; returns its id.
pub async fn add_draft_to(ch: &Channel, text: String, at: DateTime<Utc>, account: &str) -> Result<i64> {
    let req = v1::AddDraftRequest {
        text,
        at: Some(clout_proto::ts(at)),
        accounts: vec![account.to_string()],
        ..Default::default()
    };
    send_draft(ch, req).await
}

async fn send_draft(ch: &Channel, req: v1::AddDraftRequest) -> Result<i64> {
    let d = within(CALL_LIMIT + Duration::from_secs(1), "AddDraft", async {
        DraftServiceClient::new(ch.clone())
            .add_draft(request(req))
            .await
            .map_err(|s| anyhow!("AddDraft failed: {s}"))
    })
    .await?
    .into_inner();
    Ok(d.id)
}

/// Records draft `id` as published at `url` (`clout posted ID --url URL`).
pub async fn mark_published(ch: &Channel, id: i64, url: String) -> Result<()> {
    within(CALL_LIMIT + Duration::from_secs(1), "MarkPublished", async {
        DraftServiceClient::new(ch.clone())
            .mark_published(request(v1::MarkPublishedRequest { id, url }))
            .await
            .map_err(|s| anyhow!("MarkPublished failed: {s}"))
    })
    .await?;
    Ok(())
}

pub async fn status(ch: &Channel) -> Result<v1::StatusResponse> {
    Ok(within(CALL_LIMIT + Duration::from_secs(1), "Status", async {
        DaemonServiceClient::new(ch.clone())
            .status(request(v1::StatusRequest {}))
            .await
            .map_err(|s| anyhow!("Status failed: {s}"))
    })
    .await?
    .into_inner())
}

/// Upcoming with the server's default limit; returns the number of items.
pub async fn upcoming(ch: &Channel) -> Result<usize> {
    let r = within(CALL_LIMIT + Duration::from_secs(1), "Upcoming", async {
        QueueServiceClient::new(ch.clone())
            .upcoming(request(v1::UpcomingRequest { horizon_seconds: 0, limit: 0 }))
            .await
            .map_err(|s| anyhow!("Upcoming failed: {s}"))
    })
    .await?
    .into_inner();
    Ok(r.items.len())
}

/// Result of adding many drafts.
pub struct Added {
    /// Draft ids in the order of their index.
    pub ids: Vec<i64>,
    /// Latency of each call, in ms.
    pub latencies_ms: Vec<f64>,
    pub elapsed: Duration,
    /// When the last call returned.
    pub finished_at: DateTime<Utc>,
}

/// Adds `n` drafts over `clients` connections, each doing its share of the
/// calls one after another; `at(i)` is the time of draft `i`. Prints progress
/// about every second under `label`; the whole job fails after `limit`.
pub async fn add_many(
    socket: &Path,
    n: usize,
    clients: usize,
    at: Arc<dyn Fn(usize) -> Option<DateTime<Utc>> + Send + Sync>,
    label: &str,
    limit: Duration,
) -> Result<Added> {
    let clients = clients.max(1);
    let mut channels = Vec::with_capacity(clients);
    for _ in 0..clients {
        channels.push(connect(socket).await?);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (k, ch) in channels.into_iter().enumerate() {
        let at = at.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(n / clients + 1);
            let mut i = k;
            while i < n {
                let t0 = Instant::now();
                let id = add_draft(&ch, format!("bench draft {i}"), at(i)).await?;
                out.push((i, id, t0.elapsed().as_secs_f64() * 1000.0));
                done.fetch_add(1, Ordering::Relaxed);
                i += clients;
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let progress = {
        let done = done.clone();
        let label = label.to_string();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!("[{label}]     added {}/{n}", done.load(Ordering::Relaxed));
            }
        })
    };
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let joined = within(limit, &format!("adding {n} drafts over {clients} client(s)"), async {
        let mut all = Vec::with_capacity(n);
        for t in tasks {
            all.extend(t.await.context("an AddDraft client task failed")??);
        }
        Ok(all)
    })
    .await;
    progress.abort();
    for a in aborts {
        a.abort();
    }
    let mut all = joined?;
    let elapsed = start.elapsed();
    let finished_at = Utc::now();
    all.sort_by_key(|x| x.0);
    Ok(Added {
        ids: all.iter().map(|x| x.1).collect(),
        latencies_ms: all.iter().map(|x| x.2).collect(),
        elapsed,
        finished_at,
    })
}

/// Retries `Status` until it answers (at most `limit`); returns when it did.
pub async fn first_status(socket: PathBuf, limit: Duration) -> Result<(Instant, v1::StatusResponse)> {
    let deadline = Instant::now() + limit;
    let mut last_err = String::new();
    while Instant::now() < deadline {
        match connect(&socket).await {
            Ok(ch) => match status(&ch).await {
                Ok(s) => return Ok((Instant::now(), s)),
                Err(e) => last_err = format!("{e:#}"),
            },
            Err(e) => last_err = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(anyhow!("deadline expired: no successful Status RPC within {limit:?} (last error: {last_err})"))
}
