//! Results of your own posts: the posts followed, their snapshots, and the
//! claims the fetcher takes on posts whose snapshot came due.
//!
//! A followed post has one `result` row in the due-index at its next
//! snapshot time. Firing it only marks the post queued ([`Tx::queue_result`]);
//! the fetcher claims queued posts under a lease ([`Store::claim_results`]),
//! fetches outside any transaction, and records the outcome
//! ([`Store::finish_result`]), which puts the next snapshot on the schedule.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Pool, Store};
use crate::error::Result;
use crate::model::results::{Counts, DEFAULT_AFTER, PostResult, ResultState, Snapshot};
use crate::model::{self, Network, from_ms, to_ms};

/// Failed fetches in a row after which a snapshot is given up and the post
/// waits for its next one.
pub const MAX_FAILURES: i64 = 8;
/// The first retry delay after a failed fetch; it doubles up to [`MAX_RETRY_MS`].
pub const FIRST_RETRY_MS: i64 = 60_000;
pub const MAX_RETRY_MS: i64 = 6 * 3_600_000;

/// Puts post `$id`'s next fetch on the schedule at `$at`.
macro_rules! schedule_result {
    ($tx:expr, $id:expr, $at:expr) => {{
        sqlx::query(
            "INSERT INTO schedule (kind, ref_id, due_at) VALUES ('result', $1, $2) \
             ON CONFLICT (kind, ref_id) DO UPDATE SET due_at = excluded.due_at",
        )
        .bind($id)
        .bind($at)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Starts following a post inside the caller's transaction: a
/// `result_posts` row and its first `result` row in the due-index. A post
/// followed already is left as it is.
macro_rules! track_post {
    ($tx:expr, $draft_id:expr, $account_id:expr, $account:expr, $network:expr, $server:expr,
     $remote_id:expr, $url:expr, $published_ms:expr, $first_after_ms:expr) => {{
        let published_ms: i64 = $published_ms;
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO result_posts (draft_id, account_id, account_name, network, server, remote_id, url, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (draft_id, network, remote_id) DO NOTHING RETURNING id",
        )
        .bind($draft_id)
        .bind($account_id)
        .bind($account)
        .bind($network)
        .bind($server)
        .bind($remote_id)
        .bind($url)
        .bind(published_ms)
        .fetch_optional(&mut *$tx)
        .await?;
        if let Some((id,)) = id {
            sqlx::query(
                "INSERT INTO schedule (kind, ref_id, due_at) VALUES ('result', $1, $2) \
                 ON CONFLICT (kind, ref_id) DO UPDATE SET due_at = excluded.due_at",
            )
            .bind(id)
            .bind(published_ms.saturating_add($first_after_ms))
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Follows the post a manual `clout posted ID --url URL` names, when the URL
/// is a Mastodon or Bluesky post. A Mastodon account on the same server
/// lends its token; a Bluesky account, its app view.
macro_rules! track_recorded_url {
    ($tx:expr, $draft_id:expr, $url:expr, $published_ms:expr, $first_after_ms:expr) => {{
        let url: &str = $url;
        if let Some(post) = crate::model::results::remote_post(url) {
            let accounts: Vec<(i64, String, String)> =
                sqlx::query_as("SELECT id, name, server FROM accounts WHERE network = $1 ORDER BY id")
                    .bind(post.network.as_str())
                    .fetch_all(&mut *$tx)
                    .await?;
            let account = accounts.into_iter().find(|(_, _, server)| {
                post.network == crate::model::Network::Bluesky || server.eq_ignore_ascii_case(&post.server)
            });
            let (account_id, name) = match account {
                Some((id, name, _)) => (Some(id), name),
                None => (None, String::new()),
            };
            track_post!(
                $tx,
                $draft_id,
                account_id,
                &name,
                post.network.as_str(),
                &post.server,
                &post.remote_id,
                url,
                $published_ms,
                $first_after_ms
            );
        }
    }};
}

/// A post the fetcher claimed, with what it needs to fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultClaim {
    pub id: i64,
    pub draft_id: i64,
    pub network: Network,
    pub account_id: Option<i64>,
    pub account: String,
    pub server: String,
    pub remote_id: String,
    pub published_at: DateTime<Utc>,
    /// Failed fetches in a row before this one.
    pub failures: i64,
}

/// How one fetch of a post ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Counts(Counts),
    /// The server says the post is gone.
    Deleted,
    /// No counts this time; try again at `retry_at` (the server's hint, or
    /// `None` for the backoff).
    Failed {
        message: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// When failed fetch number `failures` is tried again, in ms from now.
pub fn retry_delay_ms(failures: i64) -> i64 {
    let doublings = (failures - 1).clamp(0, 20) as u32;
    FIRST_RETRY_MS.saturating_mul(1 << doublings).min(MAX_RETRY_MS)
}

#[derive(sqlx::FromRow)]
struct PostRow {
    id: i64,
    draft_id: i64,
    account_name: String,
    network: String,
    url: String,
    published_at: i64,
    state: String,
    last_error: String,
    last_error_at: Option<i64>,
    title: String,
    body: String,
    tags: String,
    thread: String,
    next_fetch_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    post_id: i64,
    at: i64,
    likes: i64,
    reposts: i64,
    replies: i64,
    quotes: Option<i64>,
}

impl From<&SnapshotRow> for Snapshot {
    fn from(r: &SnapshotRow) -> Self {
        Snapshot {
            at: from_ms(r.at),
            counts: Counts { likes: r.likes, reposts: r.reposts, replies: r.replies, quotes: r.quotes },
        }
    }
}

/// A snapshot as exported: the followed post's draft and id there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportedPost {
    pub draft_id: i64,
    #[serde(default)]
    pub account: String,
    pub network: String,
    #[serde(default)]
    pub server: String,
    pub remote_id: String,
    #[serde(default)]
    pub url: String,
    pub published_at: i64,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub snapshots: Vec<ExportedSnapshot>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportedSnapshot {
    pub at: i64,
    pub likes: i64,
    pub reposts: i64,
    pub replies: i64,
    #[serde(default)]
    pub quotes: Option<i64>,
}

impl Store {
    /// Sets when results are fetched after a post's publication (ms after it).
    pub fn set_result_after(&self, after: Vec<i64>) {
        if let Ok(mut a) = self.result_after.write() {
            *a = after;
        }
    }

    /// When results are fetched after a post's publication (ms after it).
    pub fn result_after(&self) -> Vec<i64> {
        match self.result_after.read() {
            Ok(a) if !a.is_empty() => a.clone(),
            _ => DEFAULT_AFTER.to_vec(),
        }
    }

    pub(crate) fn first_result_after(&self) -> i64 {
        self.result_after().first().copied().unwrap_or(DEFAULT_AFTER[0])
    }

    /// Your posts published since `since`, oldest first, each with its
    /// latest two snapshots, tags and whether it is a thread.
    pub async fn post_results(&self, since: DateTime<Utc>) -> Result<Vec<PostResult>> {
        let since_ms = to_ms(since);
        // One snapshot of the database: a fetch finishing between the two
        // reads would show its new count beside its old state.
        let (rows, snaps): (Vec<PostRow>, Vec<SnapshotRow>) = read_tx!(self, |tx| {
            let rows = sqlx::query_as(
                "SELECT r.id, r.draft_id, r.account_name, r.network, r.url, r.published_at, r.state, r.last_error, \
                 r.last_error_at, d.title, d.body, d.tags, d.thread, \
                 (SELECT MIN(s.due_at) FROM schedule s WHERE s.kind = 'result' AND s.ref_id = r.id) AS next_fetch_at \
                 FROM result_posts r JOIN drafts d ON d.id = r.draft_id \
                 WHERE r.published_at >= $1 ORDER BY r.published_at, r.id",
            )
            .bind(since_ms)
            .fetch_all(&mut *tx)
            .await?;
            let snaps = sqlx::query_as(
                "SELECT s.post_id, s.at, s.likes, s.reposts, s.replies, s.quotes FROM result_snapshots s \
                 JOIN result_posts r ON r.id = s.post_id WHERE r.published_at >= $1 ORDER BY s.post_id, s.at",
            )
            .bind(since_ms)
            .fetch_all(&mut *tx)
            .await?;
            (rows, snaps)
        });
        let mut by_post: HashMap<i64, Vec<&SnapshotRow>> = HashMap::new();
        for s in &snaps {
            by_post.entry(s.post_id).or_default().push(s);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(network) = Network::parse(&r.network) else { continue };
            let taken = by_post.remove(&r.id).unwrap_or_default();
            let thread: Vec<String> = serde_json::from_str(&r.thread).unwrap_or_default();
            let latest = taken.last().map(|s| Snapshot::from(*s));
            let previous = taken.len().checked_sub(2).and_then(|i| taken.get(i)).map(|s| Snapshot::from(*s));
            out.push(PostResult {
                id: r.id,
                draft_id: r.draft_id,
                label: model::label(&r.title, &r.body),
                network,
                account: r.account_name,
                url: r.url,
                published_at: from_ms(r.published_at),
                tags: serde_json::from_str(&r.tags).unwrap_or_default(),
                thread: !thread.is_empty(),
                latest,
                previous,
                snapshots: taken.len() as u32,
                state: ResultState::parse(&r.state),
                last_error: r.last_error,
                last_error_at: r.last_error_at.map(from_ms),
                next_fetch_at: r.next_fetch_at.map(from_ms),
            });
        }
        Ok(out)
    }

    /// Every snapshot of a post, oldest first.
    pub async fn result_snapshots(&self, post_id: i64) -> Result<Vec<Snapshot>> {
        let rows: Vec<SnapshotRow> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT post_id, at, likes, reposts, replies, quotes FROM result_snapshots WHERE post_id = $1 ORDER BY at"
        )
        .bind(post_id)
        .fetch_all(p)
        .await
        })?;
        Ok(rows.iter().map(Snapshot::from).collect())
    }

    /// Queues every followed post that is not deleted for a fetch now
    /// (`clout results refresh`); returns how many.
    pub async fn refresh_results(&self) -> Result<u64> {
        let done = on_pool!(self, |p| {
            sqlx::query(
            "UPDATE result_posts SET state = 'queued', queued_by = 'refresh' WHERE state IN ('tracking', 'done')"
        )
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(done)
    }

    /// Claims up to `limit` posts queued for a fetch (or whose claim ran out)
    /// for `owner` until `now + lease`.
    pub async fn claim_results(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<ResultClaim>> {
        let now_ms = to_ms(now);
        let until = to_ms(now + lease);
        let lock = if self.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
        let pick = format!(
            "SELECT id, draft_id, network, account_id, account_name, server, remote_id, published_at, failures \
             FROM result_posts WHERE state = 'queued' OR (state = 'fetching' AND lease_until < $1) \
             ORDER BY id LIMIT $2{lock}"
        );
        type Row = (i64, i64, String, Option<i64>, String, String, String, i64, i64);
        let rows: Vec<Row> = in_tx!(self, |tx| {
            let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(pick.clone()))
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            for r in &rows {
                sqlx::query(
                    "UPDATE result_posts SET state = 'fetching', lease_owner = $2, lease_until = $3 WHERE id = $1",
                )
                .bind(r.0)
                .bind(owner)
                .bind(until)
                .execute(&mut *tx)
                .await?;
            }
            rows
        });
        Ok(rows
            .into_iter()
            .filter_map(
                |(id, draft_id, network, account_id, account, server, remote_id, published, failures)| {
                    Some(ResultClaim {
                        id,
                        draft_id,
                        network: Network::parse(&network)?,
                        account_id,
                        account,
                        server,
                        remote_id,
                        published_at: from_ms(published),
                        failures,
                    })
                },
            )
            .collect())
    }

    /// Records how a fetch ended and puts the post's next snapshot on the
    /// schedule. Does nothing (false) when `owner` no longer holds the claim.
    pub async fn finish_result(
        &self,
        id: i64,
        owner: &str,
        outcome: &Fetched,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let now_ms = to_ms(now);
        let after = self.result_after();
        let done = in_tx!(self, |tx| {
            let row: Option<(i64, i64, i64, String, Option<String>)> = sqlx::query_as(
                "SELECT published_at, step, failures, queued_by, lease_owner FROM result_posts \
                 WHERE id = $1 AND state = 'fetching'",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((published, step, failures, queued_by, lease)) = row else { return Ok(false) };
            if lease.as_deref() != Some(owner) {
                return Ok(false);
            }
            let scheduled = queued_by == "schedule";
            // The first snapshot time after now, from `from` on: offsets that
            // passed while cloutd was down are not fetched late one by one.
            let next_step = |from: i64| -> (i64, Option<i64>) {
                let mut k = from.max(0);
                while let Some(off) = after.get(k as usize) {
                    let at = published.saturating_add(*off);
                    if at > now_ms {
                        return (k, Some(at));
                    }
                    k += 1;
                }
                (k, None)
            };
            match outcome {
                Fetched::Counts(c) => {
                    sqlx::query(
                        "INSERT INTO result_snapshots (post_id, at, likes, reposts, replies, quotes) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (post_id, at) DO NOTHING",
                    )
                    .bind(id)
                    .bind(now_ms)
                    .bind(c.likes)
                    .bind(c.reposts)
                    .bind(c.replies)
                    .bind(c.quotes)
                    .execute(&mut *tx)
                    .await?;
                    let (step, next) = if scheduled { next_step(step + 1) } else { (step, None) };
                    let state = if scheduled {
                        if next.is_some() { "tracking" } else { "done" }
                    } else if (step as usize) < after.len() {
                        "tracking"
                    } else {
                        "done"
                    };
                    sqlx::query(
                        "UPDATE result_posts SET state = $2, step = $3, failures = 0, last_error = '', \
                         last_error_at = NULL, queued_by = '', lease_owner = NULL, lease_until = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(state)
                    .bind(step)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(at) = next {
                        schedule_result!(tx, id, at);
                    }
                }
                Fetched::Deleted => {
                    sqlx::query(
                        "UPDATE result_posts SET state = 'deleted', deleted_at = $2, \
                         last_error = 'the post was deleted on the server; no more fetches', last_error_at = $2, \
                         queued_by = '', lease_owner = NULL, lease_until = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM schedule WHERE kind = 'result' AND ref_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Fetched::Failed { message, retry_at } => {
                    let failures = failures + 1;
                    let (step, next, state) = if !scheduled {
                        // A refresh that failed leaves the schedule as it was.
                        let state = if (step as usize) < after.len() { "tracking" } else { "done" };
                        (step, None, state)
                    } else if failures >= MAX_FAILURES {
                        // Given up for this snapshot: the next one may fare better.
                        let (step, next) = next_step(step + 1);
                        (step, next, if next.is_some() { "tracking" } else { "done" })
                    } else {
                        let at = retry_at.map(to_ms).unwrap_or_else(|| now_ms + retry_delay_ms(failures));
                        (step, Some(at.max(now_ms)), "tracking")
                    };
                    let failures = if failures >= MAX_FAILURES && scheduled { 0 } else { failures };
                    sqlx::query(
                        "UPDATE result_posts SET state = $2, step = $3, failures = $4, last_error = $5, \
                         last_error_at = $6, queued_by = '', lease_owner = NULL, lease_until = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(state)
                    .bind(step)
                    .bind(failures)
                    .bind(message)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(at) = next {
                        schedule_result!(tx, id, at);
                    }
                }
            }
            true
        });
        Ok(done)
    }

    /// Every followed post with its snapshots, for `clout export`.
    pub async fn export_results(&self) -> Result<Vec<ExportedPost>> {
        type Row = (i64, i64, String, String, String, String, String, i64, String);
        let rows: Vec<Row> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id, draft_id, account_name, network, server, remote_id, url, published_at, state \
             FROM result_posts ORDER BY id"
        )
        .fetch_all(p)
        .await)?;
        let snaps: Vec<SnapshotRow> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT post_id, at, likes, reposts, replies, quotes FROM result_snapshots ORDER BY post_id, at"
        )
        .fetch_all(p)
        .await
        })?;
        let mut by_post: HashMap<i64, Vec<ExportedSnapshot>> = HashMap::new();
        for s in snaps {
            by_post.entry(s.post_id).or_default().push(ExportedSnapshot {
                at: s.at,
                likes: s.likes,
                reposts: s.reposts,
                replies: s.replies,
                quotes: s.quotes,
            });
        }
        Ok(rows
            .into_iter()
            .map(|(id, draft_id, account, network, server, remote_id, url, published_at, state)| {
                ExportedPost {
                    draft_id,
                    account,
                    network,
                    server,
                    remote_id,
                    url,
                    published_at,
                    state: if state == "deleted" { state } else { String::new() },
                    snapshots: by_post.remove(&id).unwrap_or_default(),
                }
            })
            .collect())
    }
}
