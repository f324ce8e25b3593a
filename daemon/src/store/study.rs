//! Study: the fetch queue of the people you follow on Mastodon and Bluesky,
//! their stored posts, your "last looked" marks and your accounts' follower
//! counts. Queries only.

use chrono::{DateTime, Utc};

use super::tx::Tx;
use super::{Pool, Store};
use crate::error::Result;
use crate::model::study::{Fetched, FetchedPost, Person, StudyPost};
use crate::model::{Nudge, from_ms, to_ms};

/// A person claimed for fetching.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StudyClaim {
    pub follow_id: i64,
    pub handle: String,
    pub platform: String,
    pub server: String,
    pub remote_id: String,
    pub tries: i64,
}

/// How a fetch ended.
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    Fetched(Fetched),
    /// Try again at `at` (a rate limit, no answer); `message` is shown meanwhile.
    Retry {
        at: DateTime<Utc>,
        message: String,
    },
    /// Give up until the next scheduled fetch.
    Failed {
        message: String,
    },
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    follow_id: i64,
    handle: String,
    platform: String,
    server: String,
    display_name: String,
    followers: Option<i64>,
    fetched_at: Option<i64>,
    last_error: String,
    state: String,
    looked_at: Option<i64>,
    looked_followers: Option<i64>,
}

impl From<PersonRow> for Person {
    fn from(r: PersonRow) -> Person {
        Person {
            follow_id: r.follow_id,
            handle: r.handle,
            network: r.platform,
            server: r.server,
            display_name: r.display_name,
            followers: r.followers,
            fetched_at: r.fetched_at.map(from_ms),
            last_error: r.last_error,
            state: r.state,
            looked_at: r.looked_at.map(from_ms),
            looked_followers: r.looked_followers,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PostRow {
    remote_id: String,
    url: String,
    posted_at: i64,
    excerpt: String,
    likes: i64,
    reposts: i64,
    replies: i64,
    quotes: i64,
    is_thread: i64,
    is_reply: i64,
    has_images: i64,
    first_seen_at: i64,
    looked_total: Option<i64>,
}

impl From<PostRow> for StudyPost {
    fn from(r: PostRow) -> StudyPost {
        StudyPost {
            post: FetchedPost {
                remote_id: r.remote_id,
                url: r.url,
                posted_at: from_ms(r.posted_at),
                excerpt: r.excerpt,
                likes: r.likes,
                reposts: r.reposts,
                replies: r.replies,
                quotes: r.quotes,
                is_thread: r.is_thread != 0,
                is_reply: r.is_reply != 0,
                has_images: r.has_images != 0,
            },
            first_seen_at: from_ms(r.first_seen_at),
            looked_total: r.looked_total,
        }
    }
}

/// Runs `$body` with `$t` bound to the concrete transaction of either backend.
macro_rules! on_tx {
    ($self:expr, |$t:ident| $body:expr) => {
        match $self {
            Tx::Sqlite($t) => $body,
            Tx::Postgres($t) => $body,
        }
    };
}

const PERSON_SQL: &str = "SELECT s.follow_id, f.handle, f.platform, f.server, s.display_name, s.followers, \
     s.fetched_at, s.last_error, s.state, s.looked_at, s.looked_followers \
     FROM study_people s JOIN follows f ON f.id = s.follow_id";
const POST_SQL: &str = "SELECT remote_id, url, posted_at, excerpt, likes, reposts, replies, quotes, is_thread, \
     is_reply, has_images, first_seen_at, looked_total FROM study_posts";

impl Store {
    /// Puts every follow on Mastodon or Bluesky on the study schedule (a
    /// `study` row due at `now`, so it is fetched at once) unless it is
    /// there already. Returns how many were added.
    pub async fn enroll_study(&self, now: DateTime<Utc>) -> Result<u64> {
        let now_ms = to_ms(now);
        let added = in_tx!(self, |tx| {
            let added = sqlx::query(
                "INSERT INTO study_people (follow_id, state, next_attempt_at) \
                 SELECT id, 'idle', 0 FROM follows f WHERE platform IN ('mastodon', 'bluesky') \
                 AND NOT EXISTS (SELECT 1 FROM study_people s WHERE s.follow_id = f.id)",
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "INSERT INTO schedule (kind, ref_id, due_at) SELECT 'study', follow_id, $1 FROM study_people \
                 WHERE 1 = 1 ON CONFLICT (kind, ref_id) DO NOTHING",
            )
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            // Rows of follows that are gone.
            sqlx::query(
                "DELETE FROM schedule WHERE kind = 'study' AND ref_id NOT IN (SELECT follow_id FROM study_people)",
            )
            .execute(&mut *tx)
            .await?;
            added
        });
        Ok(added)
    }

    /// Asks for a fetch now: of the person with `follow_id`, or of everyone.
    /// Returns how many were asked for.
    pub async fn refresh_study(&self, follow_id: Option<i64>, now: DateTime<Utc>) -> Result<u64> {
        let n = on_pool!(self, |p| sqlx::query(
            "UPDATE study_people SET state = 'pending', next_attempt_at = $1, tries = 0 \
             WHERE state <> 'fetching' AND ($2 OR follow_id = $3)"
        )
        .bind(to_ms(now))
        .bind(follow_id.is_none())
        .bind(follow_id.unwrap_or(0))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n)
    }

    /// When `follow_id` is fetched next: its retry, else its daily `study` row.
    pub async fn next_fetch_of(&self, follow_id: i64) -> Result<Option<DateTime<Utc>>> {
        let (ms,): (Option<i64>,) = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT COALESCE((SELECT next_attempt_at FROM study_people WHERE follow_id = $1 AND state = 'pending'), \
             (SELECT due_at FROM schedule WHERE kind = 'study' AND ref_id = $1))"
        )
        .bind(follow_id)
        .fetch_one(p)
        .await
        })?;
        Ok(ms.map(from_ms))
    }

    /// Claims up to `limit` people due for a fetch (or whose claim ran out)
    /// for `owner` until `now + lease`.
    pub async fn claim_study(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<StudyClaim>> {
        let now_ms = to_ms(now);
        // A read first: most wake-ups find nobody due, and need no write lock.
        let due: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT follow_id FROM study_people WHERE (state = 'pending' AND next_attempt_at <= $1) \
             OR (state = 'fetching' AND lease_until < $1) LIMIT 1"
        )
        .bind(now_ms)
        .fetch_optional(p)
        .await)?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let lock = if self.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
        let pick = format!(
            "SELECT follow_id FROM study_people WHERE (state = 'pending' AND next_attempt_at <= $1) \
             OR (state = 'fetching' AND lease_until < $1) ORDER BY next_attempt_at, follow_id LIMIT $2{lock}"
        );
        let claims = in_tx!(self, |tx| {
            let ids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(pick))
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let mut out = Vec::with_capacity(ids.len());
            for (id,) in ids {
                sqlx::query(
                    "UPDATE study_people SET state = 'fetching', lease_owner = $2, lease_until = $3, tries = tries + 1 \
                     WHERE follow_id = $1",
                )
                .bind(id)
                .bind(owner)
                .bind(to_ms(now + lease))
                .execute(&mut *tx)
                .await?;
                let claim: Option<StudyClaim> = sqlx::query_as(
                    "SELECT s.follow_id, f.handle, f.platform, f.server, s.remote_id, s.tries \
                     FROM study_people s JOIN follows f ON f.id = s.follow_id WHERE s.follow_id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                out.extend(claim);
            }
            out
        });
        Ok(claims)
    }

    /// Records how a fetch ended, if `owner` still holds the claim: the
    /// person's details and posts (new ones added, known ones' counts
    /// updated), or the error and when to try again.
    pub async fn finish_study(
        &self,
        follow_id: i64,
        owner: &str,
        outcome: &FetchOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let now_ms = to_ms(now);
        let held = in_tx!(self, |tx| {
            let held: Option<(i64,)> = sqlx::query_as(
                "SELECT follow_id FROM study_people WHERE follow_id = $1 AND state = 'fetching' AND lease_owner = $2",
            )
            .bind(follow_id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            if held.is_some() {
                match outcome {
                    FetchOutcome::Fetched(f) => {
                        sqlx::query(
                            "UPDATE study_people SET state = 'idle', tries = 0, lease_owner = NULL, lease_until = 0, \
                             remote_id = $2, display_name = $3, followers = COALESCE($4, followers), fetched_at = $5, \
                             last_error = '' WHERE follow_id = $1",
                        )
                        .bind(follow_id)
                        .bind(&f.remote_id)
                        .bind(&f.display_name)
                        .bind(f.followers)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                        for p in &f.posts {
                            sqlx::query(
                                "INSERT INTO study_posts (follow_id, remote_id, url, posted_at, excerpt, likes, reposts, \
                                 replies, quotes, is_thread, is_reply, has_images, first_seen_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                                 ON CONFLICT (follow_id, remote_id) DO UPDATE SET likes = excluded.likes, \
                                 reposts = excluded.reposts, replies = excluded.replies, quotes = excluded.quotes, \
                                 excerpt = excluded.excerpt, is_thread = excluded.is_thread, \
                                 has_images = excluded.has_images",
                            )
                            .bind(follow_id)
                            .bind(&p.remote_id)
                            .bind(&p.url)
                            .bind(to_ms(p.posted_at))
                            .bind(&p.excerpt)
                            .bind(p.likes)
                            .bind(p.reposts)
                            .bind(p.replies)
                            .bind(p.quotes)
                            .bind(i64::from(p.is_thread))
                            .bind(i64::from(p.is_reply))
                            .bind(i64::from(p.has_images))
                            .bind(now_ms)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    FetchOutcome::Retry { at, message } => {
                        sqlx::query(
                            "UPDATE study_people SET state = 'pending', next_attempt_at = $2, lease_owner = NULL, \
                             lease_until = 0, last_error = $3 WHERE follow_id = $1",
                        )
                        .bind(follow_id)
                        .bind(to_ms(*at))
                        .bind(message)
                        .execute(&mut *tx)
                        .await?;
                    }
                    FetchOutcome::Failed { message } => {
                        sqlx::query(
                            "UPDATE study_people SET state = 'idle', tries = 0, lease_owner = NULL, lease_until = 0, \
                             last_error = $2 WHERE follow_id = $1",
                        )
                        .bind(follow_id)
                        .bind(message)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            held.is_some()
        });
        Ok(held)
    }

    /// The people studied, in follow order; only `follow_id` when given.
    pub async fn studied_people(&self, follow_id: Option<i64>) -> Result<Vec<Person>> {
        let sql = format!("{PERSON_SQL} WHERE ($1 OR s.follow_id = $2) ORDER BY s.follow_id");
        let rows: Vec<PersonRow> = on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(follow_id.is_none())
            .bind(follow_id.unwrap_or(0))
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// A person's posts since `since`, newest first.
    pub async fn study_posts(&self, follow_id: i64, since: DateTime<Utc>) -> Result<Vec<StudyPost>> {
        let sql =
            format!("{POST_SQL} WHERE follow_id = $1 AND posted_at >= $2 ORDER BY posted_at DESC, id DESC");
        let rows: Vec<PostRow> = on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(follow_id)
            .bind(to_ms(since))
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Marks `follow_id` as looked at now: its follower count and each
    /// post's engagement become the base of the next "what changed".
    pub async fn mark_looked(&self, follow_id: i64, now: DateTime<Utc>) -> Result<()> {
        in_tx!(self, |tx| {
            sqlx::query(
                "UPDATE study_people SET looked_at = $2, looked_followers = followers WHERE follow_id = $1",
            )
            .bind(follow_id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE study_posts SET looked_total = likes + reposts + replies + quotes WHERE follow_id = $1",
            )
            .bind(follow_id)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// When each occurrence of a study task (one `--about` someone) was done.
    pub async fn study_tasks_done(&self) -> Result<Vec<DateTime<Utc>>> {
        let rows: Vec<(Option<i64>,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT o.resolved_at FROM task_occurrences o JOIN tasks t ON t.id = o.task_id \
             WHERE t.about <> '' AND o.state = 'done'"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().filter_map(|(t,)| t.map(from_ms)).collect())
    }

    /// Your accounts' followers together, if any account's count is known.
    pub async fn own_followers(&self) -> Result<Option<i64>> {
        let (n,): (Option<i64>,) =
            on_pool!(self, |p| sqlx::query_as("SELECT CAST(SUM(followers) AS BIGINT) FROM study_self")
                .fetch_one(p)
                .await)?;
        Ok(n)
    }

    /// Keeps an account's follower count.
    pub async fn set_own_followers(&self, account_id: i64, followers: i64, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO study_self (account_id, followers, fetched_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET followers = excluded.followers, fetched_at = excluded.fetched_at"
        )
        .bind(account_id)
        .bind(followers)
        .bind(to_ms(now))
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// Appends a nudge once ever: its key is `key`. Returns it when written.
    pub async fn nudge_once(&self, n: Nudge, key: &str) -> Result<Option<Nudge>> {
        let mut tx = self.begin().await?;
        tx.lock_nudge_log().await?;
        let out = tx.insert_nudge(n, key.to_string()).await?;
        tx.commit().await?;
        Ok(out)
    }
}

impl Tx {
    /// A `study` row fired: asks for a fetch of its person unless one is
    /// under way. False when the person is no longer studied.
    pub async fn mark_study_due(&mut self, follow_id: i64, now_ms: i64) -> Result<bool> {
        let n = on_tx!(self, |t| sqlx::query(
            "UPDATE study_people SET state = 'pending', next_attempt_at = $2, tries = 0 \
             WHERE follow_id = $1 AND state = 'idle'"
        )
        .bind(follow_id)
        .bind(now_ms)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        if n > 0 {
            return Ok(true);
        }
        let (left,): (i64,) =
            on_tx!(self, |t| sqlx::query_as("SELECT COUNT(*) FROM study_people WHERE follow_id = $1")
                .bind(follow_id)
                .fetch_one(&mut **t)
                .await)?;
        Ok(left > 0)
    }

    /// The most engaging posts first seen since `since_ms` of the person
    /// followed as `handle`: (excerpt, engagement, url), at most `limit`, and
    /// how many there are in all.
    pub async fn study_digest(
        &mut self,
        handle: &str,
        since_ms: i64,
        limit: i64,
    ) -> Result<(Vec<(String, i64, String)>, i64)> {
        let rows: Vec<(String, i64, String)> = on_tx!(self, |t| sqlx::query_as(
            "SELECT p.excerpt, p.likes + p.reposts + p.replies + p.quotes AS e, p.url FROM study_posts p \
             JOIN follows f ON f.id = p.follow_id WHERE lower(f.handle) = lower($1) AND p.first_seen_at > $2 \
             AND p.is_reply = 0 ORDER BY e DESC, p.posted_at DESC LIMIT $3"
        )
        .bind(handle)
        .bind(since_ms)
        .bind(limit)
        .fetch_all(&mut **t)
        .await)?;
        let (all,): (i64,) = on_tx!(self, |t| sqlx::query_as(
            "SELECT COUNT(*) FROM study_posts p JOIN follows f ON f.id = p.follow_id \
             WHERE lower(f.handle) = lower($1) AND p.first_seen_at > $2 AND p.is_reply = 0"
        )
        .bind(handle)
        .bind(since_ms)
        .fetch_one(&mut **t)
        .await)?;
        Ok((rows, all))
    }

    /// When the task's occurrence before the one firing at `due_ms` fired.
    pub async fn previous_fire(&mut self, task: i64, due_ms: i64) -> Result<Option<i64>> {
        let (ms,): (Option<i64>,) = on_tx!(self, |t| sqlx::query_as(
            "SELECT MAX(fired_at) FROM task_occurrences WHERE task_id = $1 AND due_at < $2"
        )
        .bind(task)
        .bind(due_ms)
        .fetch_one(&mut **t)
        .await)?;
        Ok(ms)
    }
}
