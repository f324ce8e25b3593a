//! Study: reading the recent public posts of the people you follow.
//!
//! A `study` row of the due-index fires daily per person (see
//! `fire/study.rs`); firing only marks the person pending, in the firing
//! transaction, and wakes this task. The study task claims pending people
//! under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), fetches outside
//! any transaction through `http.rs`, and records what it found. So a slow or
//! dead network holds up only this task, never a due post.
//!
//! Requests are bounded: a deadline each, a size limit on each answer, at
//! most [`PAGES`] pages a person, and a server's rate-limit headers are
//! honoured: with none left, cloutd asks that server nothing more until the
//! reset it named.

mod bluesky;
mod mastodon;
pub mod results;
pub mod stage;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use crate::Core;
use crate::http::{Limits, Oversize};
use crate::model::study::{Fetched, StudyNetwork, default_server};
use crate::publish::http::{Answer, Http};
use crate::store::study::{FetchOutcome, StudyClaim};

/// Pages read per person and fetch.
pub const PAGES: usize = 3;
/// Posts asked for per page (Mastodon's most is 40, Bluesky's 100).
pub const MASTODON_PAGE: usize = 40;
pub const BLUESKY_PAGE: usize = 50;
/// Posts older than this are not paged back to.
pub const WINDOW_DAYS: i64 = 60;
/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an answer is read.
const BODY_BYTES: usize = 1024 * 1024;
/// How long a claim lasts; longer than a whole fetch can take
/// (two lookups and [`PAGES`] pages, each within [`TIMEOUT`]).
pub const LEASE: Duration = Duration::from_secs(120);
/// People fetched at a time.
const BATCH: u32 = 4;
/// Tries before a failing fetch waits for the next scheduled one.
const MAX_TRIES: i64 = 4;
/// How long a server may ask cloutd to wait, at most.
const MAX_WAIT: Duration = Duration::from_secs(6 * 3600);

/// Shared by the study task and the gRPC service.
pub struct Hub {
    wake: Notify,
    pub http: Http,
    /// Servers that said "no requests left until": origin -> reset.
    not_before: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let limits = Limits { timeout: TIMEOUT, body_bytes: BODY_BYTES, oversize: Oversize::Refuse };
        Hub {
            wake: Notify::new(),
            http: Http::with_limits("study", limits),
            not_before: Mutex::new(HashMap::new()),
        }
    }

    /// Something may be due to fetch: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn held_until(&self, origin: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let map = self.not_before.lock().ok()?;
        map.get(origin).copied().filter(|t| *t > now)
    }

    fn hold(&self, origin: &str, until: DateTime<Utc>) {
        if let Ok(mut map) = self.not_before.lock() {
            map.insert(origin.to_string(), until);
        }
    }

    /// Reads a server's rate-limit headers after an answer: with no request
    /// left, holds the server until its reset. Returns that reset.
    fn note_rate_limit(&self, origin: &str, a: &Answer, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let until = rate_limited_until(a, now)?;
        self.hold(origin, until);
        Some(until)
    }
}

/// When a server that has no requests left (or answered 429) takes them
/// again: Mastodon's `X-RateLimit-Remaining` / `X-RateLimit-Reset` (an ISO
/// 8601 time), Bluesky's `ratelimit-remaining` / `ratelimit-reset` (Unix
/// seconds), or `Retry-After`. None while requests are left.
pub fn rate_limited_until(a: &Answer, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let remaining = a.header("x-ratelimit-remaining").or_else(|| a.header("ratelimit-remaining"));
    let exhausted = remaining.is_some_and(|r| r.trim() == "0");
    if a.status != 429 && !exhausted {
        return None;
    }
    let cap =
        |t: DateTime<Utc>| t.min(now + chrono::Duration::from_std(MAX_WAIT).unwrap_or_default()).max(now);
    if let Some(v) = a.header("x-ratelimit-reset")
        && let Ok(t) = DateTime::parse_from_rfc3339(v.trim())
    {
        return Some(cap(t.with_timezone(&Utc)));
    }
    if let Some(v) = a.header("ratelimit-reset")
        && let Ok(secs) = v.trim().parse::<i64>()
        && let Some(t) = DateTime::from_timestamp(secs, 0)
    {
        return Some(cap(t));
    }
    if let Some(v) = a.header("retry-after")
        && let Some(d) = crate::publish::text::retry_after(v, now)
    {
        return Some(cap(now + chrono::Duration::from_std(d).unwrap_or_default()));
    }
    // Exhausted without saying until when: a minute.
    Some(now + chrono::Duration::seconds(60))
}

/// Why a fetch did not finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// Worth another try (no answer, 5xx): after `after` if known.
    #[error("{message}")]
    Temporary { message: String, after: Option<DateTime<Utc>> },
    /// Trying again soon would fail the same way (unknown handle, refused).
    #[error("{message}")]
    Permanent { message: String },
}

impl FetchError {
    fn from_answer(a: &Answer, what: &str, now: DateTime<Utc>) -> FetchError {
        let message = format!("{what}: {}", a.message());
        match a.status {
            429 => FetchError::Temporary { message, after: rate_limited_until(a, now) },
            408 | 500..=599 => FetchError::Temporary { message, after: None },
            _ => FetchError::Permanent { message },
        }
    }

    fn unreachable(e: crate::http::Error) -> FetchError {
        FetchError::Temporary { message: e.to_string(), after: None }
    }
}

/// The people due for a fetch, as a leased queue.
struct People;

impl crate::leased::Queue for People {
    type Claim = StudyClaim;
    const WHAT: &'static str = "the study queue";
    const BATCH: u32 = BATCH;
    const LEASE: Duration = LEASE;

    fn wake(core: &Core) -> &Notify {
        &core.study.wake
    }

    async fn claim(
        core: &Core,
        me: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        room: u32,
    ) -> crate::error::Result<Vec<StudyClaim>> {
        core.store.claim_study(me, now, lease, room).await
    }

    async fn next_at(core: &Core) -> crate::error::Result<Option<DateTime<Utc>>> {
        core.store.next_claim_at(crate::store::Leased::Study).await
    }

    fn work(
        core: Arc<Core>,
        me: String,
        claim: StudyClaim,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        fetch_one(core, me, claim)
    }
}

/// Fetches the people due until `shutdown` flips.
pub async fn run(core: Arc<Core>, shutdown: watch::Receiver<bool>) {
    let me = crate::leased::owner(&core, ":study");
    if let Err(e) = core.store.release_claims(crate::store::Leased::Study, &me).await {
        tracing::error!(error = %e, "cannot release this daemon's earlier study claims");
    }
    crate::leased::run::<People>(core, me, shutdown, "the study task").await;
}

async fn fetch_one(core: Arc<Core>, me: String, claim: StudyClaim) {
    let now = crate::clock::now();
    let outcome = match fetch(&core, &claim, now).await {
        Ok(f) => FetchOutcome::Fetched(f),
        Err(FetchError::Temporary { message, after }) if claim.tries < MAX_TRIES => {
            let backoff = chrono::Duration::seconds(30 * (1 << claim.tries.clamp(0, 8)));
            FetchOutcome::Retry { at: after.unwrap_or(now + backoff), message }
        }
        Err(e) => FetchOutcome::Failed { message: e.to_string() },
    };
    match &outcome {
        FetchOutcome::Fetched(f) => {
            tracing::info!(follow = claim.follow_id, handle = %claim.handle, posts = f.posts.len(), "studied")
        }
        FetchOutcome::Retry { at, message } => {
            tracing::warn!(follow = claim.follow_id, handle = %claim.handle, retry_at = %at.to_rfc3339(), "study fetch failed for now: {message}")
        }
        FetchOutcome::Failed { message } => {
            tracing::warn!(follow = claim.follow_id, handle = %claim.handle, "study fetch failed: {message}")
        }
    }
    match core.store.finish_study(claim.follow_id, &me, &outcome, crate::clock::now()).await {
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, follow = claim.follow_id, "cannot record a study fetch"),
    }
    if matches!(outcome, FetchOutcome::Fetched(_)) {
        own_followers(&core).await;
        stage::nudge_when_ready(&core).await;
    }
}

/// One fetch of one person.
async fn fetch(core: &Core, claim: &StudyClaim, now: DateTime<Utc>) -> Result<Fetched, FetchError> {
    let Some(network) = StudyNetwork::parse(&claim.platform) else {
        return Err(FetchError::Permanent {
            message: format!("cloutd cannot read posts on {}", claim.platform),
        });
    };
    let server =
        if claim.server.is_empty() { default_server(network, &claim.handle) } else { claim.server.clone() };
    let origin = crate::http::origin(&server);
    if let Some(until) = core.study.held_until(&origin, now) {
        return Err(FetchError::Temporary {
            message: format!("{origin} asked for no more requests until {}", until.to_rfc3339()),
            after: Some(until),
        });
    }
    match network {
        StudyNetwork::Mastodon => mastodon::fetch(core, &server, &origin, claim, now).await,
        StudyNetwork::Bluesky => bluesky::fetch(core, &server, &origin, claim, now).await,
    }
}

/// Reads your accounts' follower counts (best effort; errors are logged).
async fn own_followers(core: &Core) {
    let Ok(accounts) = core.store.accounts().await else { return };
    for a in accounts {
        let n = match a.network {
            crate::model::Network::Mastodon => mastodon::own_followers(core, &a).await,
            crate::model::Network::Bluesky => bluesky::own_followers(core, &a).await,
        };
        match n {
            Some(n) => {
                if let Err(e) = core.store.set_own_followers(a.id, n, crate::clock::now()).await {
                    tracing::warn!(error = %e, account = %a.name, "cannot keep the follower count");
                }
            }
            None => tracing::debug!(account = %a.name, "no follower count"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &str)]) -> Answer {
        let mut map = crate::http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().expect("header"));
        }
        Answer { status, headers: map, body: serde_json::Value::Null }
    }

    #[test]
    fn rate_limits_are_read_from_either_network() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("t");
        assert_eq!(rate_limited_until(&answer(200, &[("x-ratelimit-remaining", "5")]), now), None);
        let m =
            answer(200, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "2027-01-15T08:05:00.000Z")]);
        let reset = DateTime::parse_from_rfc3339("2027-01-15T08:05:00Z").expect("t").timestamp();
        assert_eq!(rate_limited_until(&m, now).map(|t| t.timestamp()), Some(reset));
        let b = answer(200, &[("ratelimit-remaining", "0"), ("ratelimit-reset", "1800000030")]);
        assert_eq!(rate_limited_until(&b, now).map(|t| t.timestamp()), Some(1_800_000_030));
        let r = answer(429, &[("retry-after", "7")]);
        assert_eq!(rate_limited_until(&r, now).map(|t| t.timestamp()), Some(1_800_000_007));
        // A reset far away is capped.
        let far = answer(429, &[("ratelimit-reset", "1900000000")]);
        assert_eq!(rate_limited_until(&far, now).map(|t| t.timestamp()), Some(1_800_000_000 + 6 * 3600));
    }
}
