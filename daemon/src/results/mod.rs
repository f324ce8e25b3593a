//! Fetching your posts' results: a second queue beside the due-index, like
//! publishing.
//!
//! When a post's snapshot time comes, firing its `result` row only marks the
//! post queued. The fetcher claims queued posts under a lease (so a fleet
//! fetches each once), fetches their counts outside any transaction, and
//! records the outcome, which puts the next snapshot on the schedule:
//!
//! - Mastodon: `GET /api/v1/statuses/:id` on the post's instance, with the
//!   account's token when there is one: `favourites_count`, `reblogs_count`,
//!   `replies_count`, and `quotes_count` where the server gives it. 404 or
//!   410 means the post was deleted.
//! - Bluesky: `app.bsky.feed.getPosts` on the account's app view (the public
//!   one by default), up to 25 posts a call: `likeCount`, `repostCount`,
//!   `replyCount`, `quoteCount`. A post missing from the answer was deleted.
//!
//! Every request ends within [`TIMEOUT`], so a batch ends well inside its
//! lease and needs no renewal. A failure (no answer, a refused token, 429 or
//! 5xx) is recorded on the post and tried again later: after the server's
//! `Retry-After`, `ratelimit-reset` or `X-RateLimit-Reset`, else a backoff.

mod bluesky;
mod mastodon;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::Core;
use crate::model::Network;
use crate::model::results::Counts;
use crate::publish::http::Http;
use crate::store::results::{Fetched, ResultClaim};

/// How long one request for results may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claim lasts: longer than the two requests a batch makes at most.
pub const LEASE: Duration = Duration::from_secs(120);
/// Posts claimed at a time: one Bluesky `getPosts` call's worth.
pub const BATCH: u32 = 25;
/// Batches fetched at once.
pub const PARALLEL: usize = 2;

/// State shared by the fetcher and the gRPC service.
pub struct Hub {
    wake: Notify,
    http: Http,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        Hub { wake: Notify::new(), http: Http::with_timeout("results", TIMEOUT) }
    }

    /// Posts may be queued for a fetch: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// One post's fetch: which post, and how it ended.
type Done = Vec<(i64, Fetched)>;

/// Fetches queued posts until `shutdown` flips. Fetches in flight at
/// shutdown are abandoned; their claims are taken back at the next start.
pub async fn run(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let me = crate::publish::owner(&core);
    if let Err(e) = core.store.release_claims(crate::store::Leased::Results, &me).await {
        tracing::error!(error = %e, "cannot release this daemon's earlier result claims");
    }
    let lease = chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(120));
    let mut inflight: JoinSet<()> = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let woken = core.results.wake.notified();
        let mut claimed = false;
        if inflight.len() < PARALLEL {
            match core.store.claim_results(&me, crate::clock::now(), lease, BATCH).await {
                Ok(claims) if !claims.is_empty() => {
                    claimed = true;
                    inflight.spawn(fetch_batch(core.clone(), me.clone(), claims));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the posts due for results; retrying in 1 s");
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            }
        }
        if claimed && inflight.len() < PARALLEL {
            continue;
        }
        // A fleet's other daemons may leave claims that run out; look now and then.
        let fallback = core.store.is_postgres().then_some(crate::fleet::FALLBACK_WAKE);
        tokio::select! {
            _ = shutdown.changed() => break,
            () = woken => {}
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            () = async {
                match fallback {
                    Some(w) => tokio::time::sleep(w).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
    inflight.abort_all();
}

async fn fetch_batch(core: Arc<Core>, me: String, claims: Vec<ResultClaim>) {
    let done = fetch(&core, &claims).await;
    for (id, outcome) in done {
        match &outcome {
            Fetched::Counts(c) => tracing::debug!(post = id, likes = c.likes, "fetched results"),
            Fetched::Deleted => tracing::info!(post = id, "a post was deleted on its server"),
            Fetched::Failed { message, .. } => tracing::warn!(post = id, "cannot fetch results: {message}"),
        }
        if let Err(e) = core.store.finish_result(id, &me, &outcome, crate::clock::now()).await {
            tracing::error!(error = %e, post = id, "cannot record a post's results");
        }
    }
    // The next snapshots went on the schedule: the scheduler sleeps until the earliest.
    core.wake.notify_one();
}

/// Fetches every claimed post: Mastodon posts each on its own, at once;
/// Bluesky posts in one call per app view.
pub async fn fetch(core: &Core, claims: &[ResultClaim]) -> Done {
    let mut accounts = HashMap::new();
    for c in claims {
        if let Some(id) = c.account_id
            && !accounts.contains_key(&id)
            && let Ok(a) = core.store.account(id).await
        {
            accounts.insert(id, a);
        }
    }
    let http = &core.results.http;
    let mut bluesky: HashMap<String, Vec<&ResultClaim>> = HashMap::new();
    let mut tasks = Vec::new();
    for c in claims {
        let account = c.account_id.and_then(|id| accounts.get(&id));
        match c.network {
            Network::Mastodon => {
                // A token lets the instance show a post that is not public; without
                // one (a recorded post, or a secret that cannot be read) it is asked anyway.
                let token = account.and_then(|a| core.publish.secret(a).ok());
                let name = account.map(|a| a.name.clone());
                tasks.push(async move {
                    (c.id, mastodon::fetch(http, c, token.as_deref(), name.as_deref()).await)
                });
            }
            Network::Bluesky => {
                let appview = account
                    .map(|a| a.appview.clone())
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| crate::model::account::BLUESKY_APPVIEW.to_string());
                bluesky.entry(appview).or_default().push(c);
            }
        }
    }
    let mut done: Done = Vec::with_capacity(claims.len());
    // Every app view at once too: a batch takes two requests' time at most.
    let sky: Vec<_> = bluesky
        .iter()
        .flat_map(|(appview, posts)| posts.chunks(bluesky::MAX_URIS).map(move |chunk| (appview, chunk)))
        .map(|(appview, chunk)| bluesky::fetch(http, appview, chunk))
        .collect();
    let (masto, sky) = tokio::join!(join_all(tasks), join_all(sky));
    done.extend(masto);
    done.extend(sky.into_iter().flatten());
    done
}

/// Runs every future at once and collects their outputs.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// A count field of a JSON answer; absent or not a number is `None`.
fn count(v: &serde_json::Value, field: &str) -> Option<i64> {
    v.get(field).and_then(serde_json::Value::as_i64).map(|n| n.max(0))
}

/// Counts from an answer's fields, each missing one (but quotes) as 0.
fn counts(v: &serde_json::Value, likes: &str, reposts: &str, replies: &str, quotes: &str) -> Counts {
    Counts {
        likes: count(v, likes).unwrap_or(0),
        reposts: count(v, reposts).unwrap_or(0),
        replies: count(v, replies).unwrap_or(0),
        quotes: count(v, quotes),
    }
}

/// A failure, retried at the server's hint or after the backoff.
fn failed(message: String, after: Option<Duration>) -> Fetched {
    let retry_at = after.and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| crate::clock::now() + d);
    Fetched::Failed { message, retry_at }
}
