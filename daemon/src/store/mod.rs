//! Durable state: SQLite by default, PostgreSQL for a fleet of daemons.
//!
//! Every query is written once with `$N` placeholders, which both backends
//! accept, and runs through [`on_pool!`] or [`in_tx!`] against the concrete
//! driver. Instants are stored as Unix milliseconds.

use std::fs::File;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use crate::error::{Error, Result};
use crate::model::{Draft, DraftPatch, DraftState, NewDraft, Nudge, QueueItem, from_ms, to_ms};
use crate::rules::{self, MissedPolicy, Policy};

pub(crate) static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub(crate) static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub use crate::fire::LATE_AFTER_MS;

pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool of either backend.
macro_rules! on_pool {
    ($self:expr, |$p:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` in a transaction bound to `$tx`, begun with `$sqlite` on
/// SQLite and `$postgres` on PostgreSQL, and commits it. An early return
/// (`?`) from the body rolls the transaction back.
macro_rules! tx_begun_with {
    ($self:expr, $sqlite:expr, $postgres:expr, |$tx:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite(p) => {
                let mut $tx = p.begin_with($sqlite).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Pool::Postgres(p) => {
                let mut $tx = p.begin_with($postgres).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Runs `$body` inside a write transaction bound to `$tx` and commits it.
/// SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so a
/// read-then-write never fails half-way with SQLITE_BUSY_SNAPSHOT.
macro_rules! in_tx {
    ($self:expr, |$tx:ident| $body:expr) => {
        tx_begun_with!($self, "BEGIN IMMEDIATE", "BEGIN", |$tx| $body)
    };
}

/// Runs `$body` in a read-only transaction bound to `$tx`: all its queries
/// see the database as of one moment (SQLite's read snapshot; PostgreSQL's
/// REPEATABLE READ), so rows read by two queries agree with each other.
macro_rules! read_tx {
    ($self:expr, |$tx:ident| $body:expr) => {
        tx_begun_with!($self, "BEGIN DEFERRED", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", |$tx| {
            $body
        })
    };
}

pub use leases::Leased;

pub struct Store {
    pool: Pool,
    redacted_url: String,
    /// The `flock` on the database file. Never closed while the process
    /// lives: closing any descriptor of the file would drop SQLite's own
    /// POSIX locks on it too.
    _lock: Option<std::mem::ManuallyDrop<File>>,
    /// When this store was opened, in Unix ms.
    opened_ms: i64,
    /// When results are fetched after a post's publication (ms); empty
    /// means the default 1 h, 24 h, 7 d, 30 d.
    result_after: std::sync::RwLock<Vec<i64>>,
}

#[derive(sqlx::FromRow)]
struct DraftRow {
    id: i64,
    title: String,
    body: String,
    platforms: String,
    tags: String,
    state: String,
    scheduled_at: Option<i64>,
    fired_at: Option<i64>,
    late: i64,
    published_at: Option<i64>,
    published_url: String,
    created_at: i64,
    updated_at: i64,
    slotted: i64,
    visibility: String,
    content_warning: String,
    language: String,
    thread: String,
    no_card: i64,
    images: String,
}

impl DraftRow {
    fn into_draft(self) -> Result<Draft> {
        let state = DraftState::parse(&self.state).ok_or_else(|| {
            Error::Corrupt(format!("draft {} has an unknown state `{}` in the database", self.id, self.state))
        })?;
        Ok(Draft {
            id: self.id,
            title: self.title,
            text: self.body,
            platforms: serde_json::from_str(&self.platforms).unwrap_or_default(),
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            state,
            scheduled_at: self.scheduled_at.map(from_ms),
            fired_at: self.fired_at.map(from_ms),
            late: self.late != 0,
            published_at: self.published_at.map(from_ms),
            published_url: self.published_url,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
            slotted: self.slotted != 0,
            visibility: self.visibility,
            content_warning: self.content_warning,
            language: self.language,
            thread: serde_json::from_str(&self.thread).unwrap_or_default(),
            no_card: self.no_card != 0,
            images: serde_json::from_str(&self.images).unwrap_or_default(),
            publications: Vec::new(),
            fire_error: None,
        })
    }
}

#[derive(sqlx::FromRow)]
struct NudgeRow {
    id: i64,
    kind: String,
    message: String,
    due_at: i64,
    fired_at: i64,
    draft_id: Option<i64>,
    task_id: Option<i64>,
    late: i64,
}

impl From<NudgeRow> for Nudge {
    fn from(r: NudgeRow) -> Self {
        Nudge {
            id: r.id,
            kind: r.kind,
            message: r.message,
            due_at: from_ms(r.due_at),
            fired_at: from_ms(r.fired_at),
            draft_id: r.draft_id,
            task_id: r.task_id,
            late: r.late != 0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct DueRow {
    pub id: i64,
    pub kind: String,
    pub ref_id: i64,
    pub due_at: i64,
}

const DRAFT_COLUMNS: &str = "id, title, body, platforms, tags, state, scheduled_at, fired_at, late, \
     published_at, published_url, created_at, updated_at, slotted, visibility, content_warning, language, thread, no_card, images";
const SELECT_DRAFT: &str = "SELECT id, title, body, platforms, tags, state, scheduled_at, fired_at, late, \
     published_at, published_url, created_at, updated_at, slotted, visibility, content_warning, language, thread, no_card, images \
     FROM drafts WHERE id = $1";

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn json_images(v: &[crate::media::Image]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Appends a nudge unless its occurrence key is already in the log.
/// Evaluates to the nudge written, or `None`.
macro_rules! insert_nudge {
    ($tx:expr, $n:expr, $key:expr) => {{
        let n: crate::model::Nudge = $n;
        let key: String = $key;
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO nudges (kind, message, due_at, fired_at, draft_id, task_id, late, item_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (item_key) DO NOTHING RETURNING id",
        )
        .bind(&n.kind)
        .bind(&n.message)
        .bind(to_ms(n.due_at))
        .bind(to_ms(n.fired_at))
        .bind(n.draft_id)
        .bind(n.task_id)
        .bind(i64::from(n.late))
        .bind(&key)
        .fetch_optional(&mut *$tx)
        .await?;
        id.map(|(id,)| crate::model::Nudge { id, ..n })
    }};
}

/// Loads a draft inside a transaction, or fails with NotFound.
macro_rules! draft_in {
    ($tx:expr, $id:expr) => {{
        let id: i64 = $id;
        let row: Option<DraftRow> = sqlx::query_as(SELECT_DRAFT).bind(id).fetch_optional(&mut *$tx).await?;
        row.ok_or(Error::NotFound { what: "draft", id })?.into_draft()?
    }};
}

/// The next posting slot after `$now_ms` that no scheduled post holds,
/// read inside the caller's transaction (so two adds never take one slot).
macro_rules! free_slot {
    ($tx:expr, $now_ms:expr) => {{
        let now_ms: i64 = $now_ms;
        let specs: Vec<(String,)> =
            sqlx::query_as("SELECT spec FROM slots ORDER BY id").fetch_all(&mut *$tx).await?;
        let (tz,): (String,) =
            sqlx::query_as("SELECT tz FROM program WHERE id = 1").fetch_one(&mut *$tx).await?;
        let taken: Vec<(i64,)> =
            sqlx::query_as("SELECT due_at FROM schedule WHERE kind = 'post' AND due_at > $1")
                .bind(now_ms)
                .fetch_all(&mut *$tx)
                .await?;
        let taken: std::collections::HashSet<i64> = taken.into_iter().map(|(t,)| t).collect();
        let specs: Vec<String> = specs.into_iter().map(|(s,)| s).collect();
        program::first_free_slot(&specs, program::zone(&tz), &taken, now_ms)?
    }};
}

/// Inserts a lesson and its first resurfacing; evaluates to the lesson's id.
macro_rules! insert_lesson {
    ($tx:expr, $setback:expr, $text:expr, $now_ms:expr) => {{
        let now_ms: i64 = $now_ms;
        let (lesson_id,): (i64,) = sqlx::query_as(
            "INSERT INTO lessons (setback_id, body, stage, created_at) VALUES ($1, $2, 0, $3) RETURNING id",
        )
        .bind($setback)
        .bind($text)
        .bind(now_ms)
        .fetch_one(&mut *$tx)
        .await?;
        sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) VALUES ('lesson', $1, $2)")
            .bind(lesson_id)
            .bind(crate::store::review::resurface_after(0, now_ms))
            .execute(&mut *$tx)
            .await?;
        lesson_id
    }};
}

#[macro_use]
pub mod results;
#[macro_use]
pub mod publish;
pub mod backup;
mod bulk;
pub mod fault;
mod import;
mod leases;
mod parts;
mod program;
mod review;
mod sinks;
pub mod study;
mod tasks;

mod nudges;
mod open;
pub mod tx;

pub use open::{redact_url, sqlite_path};

pub use program::{first_free_slot, zone as program_zone};
pub use review::{consistency, last_time, lesson_message, resurface_after, streaks};
pub use tasks::{plan_fire, task_due_message};

impl Store {
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// The PostgreSQL pool, for LISTEN/NOTIFY.
    pub fn pg_pool(&self) -> Option<PgPool> {
        match &self.pool {
            Pool::Postgres(p) => Some(p.clone()),
            Pool::Sqlite(_) => None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }

    // ---- drafts ------------------------------------------------------------

    pub async fn add_draft(&self, d: &NewDraft, now: DateTime<Utc>) -> Result<Draft> {
        let now_ms = to_ms(now);
        let id: i64 = in_tx!(self, |tx| {
            let at = if d.queue { Some(free_slot!(tx, now_ms)) } else { d.at.map(to_ms) };
            let state = if at.is_some() { DraftState::Scheduled } else { DraftState::Draft };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO drafts (title, body, platforms, tags, state, scheduled_at, created_at, updated_at, slotted, \
                 missed_policy, visibility, content_warning, language, thread, no_card, images) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            )
            .bind(&d.title)
            .bind(&d.text)
            .bind(json_list(&d.platforms))
            .bind(json_list(&d.tags))
            .bind(state.as_str())
            .bind(at)
            .bind(now_ms)
            .bind(i64::from(d.queue))
            .bind(d.if_missed.map(MissedPolicy::as_str))
            .bind(&d.visibility)
            .bind(&d.content_warning)
            .bind(&d.language)
            .bind(json_list(&d.thread))
            .bind(i64::from(d.no_card))
            .bind(json_images(&d.images))
            .fetch_one(&mut *tx)
            .await?;
            if !d.accounts.is_empty() {
                set_publications!(tx, id, &d.accounts, now_ms);
            }
            if let Some(at) = at {
                sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) VALUES ('post', $1, $2)")
                    .bind(id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            id
        });
        self.get_draft(id).await
    }

    pub async fn get_draft(&self, id: i64) -> Result<Draft> {
        let row: Option<DraftRow> =
            on_pool!(self, |p| sqlx::query_as(SELECT_DRAFT).bind(id).fetch_optional(p).await)?;
        let mut d = row.ok_or(Error::NotFound { what: "draft", id })?.into_draft()?;
        d.publications = self.publications_of(id).await?;
        d.fire_error = self.set_aside_error(id).await?;
        Ok(d)
    }

    pub async fn list_drafts(&self, states: &[DraftState]) -> Result<Vec<Draft>> {
        let rows: Vec<DraftRow> = if states.is_empty() {
            let sql = format!("SELECT {DRAFT_COLUMNS} FROM drafts ORDER BY id");
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await)?
        } else {
            let marks: Vec<String> = (1..=states.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {DRAFT_COLUMNS} FROM drafts WHERE state IN ({}) ORDER BY id",
                marks.join(", ")
            );
            on_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for s in states {
                    q = q.bind(s.as_str());
                }
                q.fetch_all(p).await
            })?
        };
        let mut publications = self.all_publications().await?;
        rows.into_iter()
            .map(|r| {
                let mut d = r.into_draft()?;
                d.publications = publications.remove(&d.id).unwrap_or_default();
                Ok(d)
            })
            .collect()
    }

    pub async fn update_draft(&self, id: i64, patch: &DraftPatch, now: DateTime<Utc>) -> Result<Draft> {
        in_tx!(self, |tx| {
            let cur = draft_in!(tx, id);
            if cur.state == DraftState::Published {
                return Err(Error::FailedPrecondition(format!(
                    "draft {id} is already published; add a new draft instead"
                )));
            }
            if cur.state == DraftState::Publishing {
                return Err(Error::FailedPrecondition(format!(
                    "draft {id} is being published right now; wait for it to finish (clout draft show {id})"
                )));
            }
            let title = patch.title.as_ref().unwrap_or(&cur.title);
            let text = patch.text.as_ref().unwrap_or(&cur.text);
            let platforms = patch.platforms.as_ref().unwrap_or(&cur.platforms);
            let tags = patch.tags.as_ref().unwrap_or(&cur.tags);
            let visibility = patch.visibility.as_ref().unwrap_or(&cur.visibility);
            let content_warning = patch.content_warning.as_ref().unwrap_or(&cur.content_warning);
            let language = patch.language.as_ref().unwrap_or(&cur.language);
            let thread = patch.thread.as_ref().unwrap_or(&cur.thread);
            let no_card = patch.no_card.unwrap_or(cur.no_card);
            let images = patch.images.as_ref().unwrap_or(&cur.images);
            sqlx::query(
                "UPDATE drafts SET title = $1, body = $2, platforms = $3, tags = $4, updated_at = $5, \
                 visibility = $7, content_warning = $8, language = $9, thread = $10, no_card = $11, images = $12 WHERE id = $6",
            )
            .bind(title)
            .bind(text)
            .bind(json_list(platforms))
            .bind(json_list(tags))
            .bind(to_ms(now))
            .bind(id)
            .bind(visibility)
            .bind(content_warning)
            .bind(language)
            .bind(json_list(thread))
            .bind(i64::from(no_card))
            .bind(json_images(images))
            .execute(&mut *tx)
            .await?;
            if let Some(accounts) = &patch.accounts {
                set_publications!(tx, id, accounts, to_ms(now));
            }
        });
        self.get_draft(id).await
    }

    pub async fn delete_draft(&self, id: i64) -> Result<()> {
        in_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM schedule WHERE kind = 'result' AND ref_id IN (SELECT id FROM result_posts WHERE draft_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query("DELETE FROM drafts WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound { what: "draft", id });
            }
            for table in [
                "DELETE FROM schedule WHERE kind = 'post' AND ref_id = $1",
                "DELETE FROM set_aside WHERE kind = 'post' AND ref_id = $1",
            ] {
                sqlx::query(table).bind(id).execute(&mut *tx).await?;
            }
        });
        Ok(())
    }

    /// Schedules a draft at `at`, or in the next free posting slot when `at` is `None`.
    pub async fn schedule_draft(
        &self,
        id: i64,
        at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Draft> {
        in_tx!(self, |tx| {
            let cur = draft_in!(tx, id);
            if cur.state.is_final() || cur.state == DraftState::Publishing {
                return Err(Error::FailedPrecondition(format!(
                    "draft {id} is {}; only drafts that are not published, being published or skipped can be scheduled",
                    cur.state.as_str()
                )));
            }
            let slotted = at.is_none();
            if slotted {
                // Free this draft's own slot before looking for one.
                sqlx::query("DELETE FROM schedule WHERE kind = 'post' AND ref_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let at = match at {
                Some(at) => to_ms(at),
                None => free_slot!(tx, to_ms(now)),
            };
            sqlx::query(
                "UPDATE drafts SET state = 'scheduled', scheduled_at = $1, fired_at = NULL, late = 0, \
                 updated_at = $2, slotted = $3 WHERE id = $4",
            )
            .bind(at)
            .bind(to_ms(now))
            .bind(i64::from(slotted))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO schedule (kind, ref_id, due_at) VALUES ('post', $1, $2) \
                 ON CONFLICT (kind, ref_id) DO UPDATE SET due_at = excluded.due_at",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // Scheduling again is trying again: the draft is no longer set aside.
            sqlx::query("DELETE FROM set_aside WHERE kind = 'post' AND ref_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        self.get_draft(id).await
    }

    pub async fn unschedule_draft(&self, id: i64, now: DateTime<Utc>) -> Result<Draft> {
        in_tx!(self, |tx| {
            let cur = draft_in!(tx, id);
            if cur.state != DraftState::Scheduled {
                return Err(Error::FailedPrecondition(format!(
                    "draft {id} is {}, not scheduled",
                    cur.state.as_str()
                )));
            }
            sqlx::query(
                "UPDATE drafts SET state = 'draft', scheduled_at = NULL, updated_at = $1 WHERE id = $2",
            )
            .bind(to_ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM schedule WHERE kind = 'post' AND ref_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        self.get_draft(id).await
    }

    /// Moves a draft to a final state (published or skipped) and drops its schedule row.
    pub async fn finish_draft(
        &self,
        id: i64,
        state: DraftState,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<Draft> {
        let first_after = self.first_result_after();
        in_tx!(self, |tx| {
            let cur = draft_in!(tx, id);
            if cur.state.is_final() {
                return Err(Error::FailedPrecondition(format!(
                    "draft {id} is already {}",
                    cur.state.as_str()
                )));
            }
            let published_at = (state == DraftState::Published).then(|| to_ms(now));
            if state == DraftState::Published {
                // On-publish hooks: the log records the publication too.
                let mut message = format!("Published: \u{201c}{}\u{201d}", cur.label());
                if !url.is_empty() {
                    message.push_str(&format!(" at {url}"));
                }
                let n = Nudge {
                    id: 0,
                    kind: "published".into(),
                    message,
                    due_at: now,
                    fired_at: now,
                    draft_id: Some(id),
                    task_id: None,
                    late: false,
                };
                let _ = insert_nudge!(tx, n, format!("published:{id}"));
            }
            // The person said what became of it: its due nudge, and the
            // `published` nudge of a post they recorded themselves, are seen.
            sqlx::query(
                "UPDATE nudges SET acked_at = $1 WHERE draft_id = $2 AND acked_at IS NULL \
                 AND kind IN ('post_due', 'published')",
            )
            .bind(to_ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE drafts SET state = $1, published_at = $2, published_url = $3, updated_at = $4 WHERE id = $5")
                .bind(state.as_str())
                .bind(published_at)
                .bind(url)
                .bind(to_ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM schedule WHERE kind = 'post' AND ref_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            // A post recorded with its Mastodon or Bluesky address: its results are fetched.
            if let Some(at) = published_at
                && !url.is_empty()
            {
                track_recorded_url!(tx, id, url, at, first_after);
            }
        });
        self.get_draft(id).await
    }

    // ---- the queue ---------------------------------------------------------

    /// Posts and task occurrences in time order. Tasks are expanded into
    /// their occurrences up to `until`, or up to a week ahead without one.
    pub async fn upcoming(&self, until: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<QueueItem>> {
        let until_ms = until.map(to_ms).unwrap_or(i64::MAX);
        let rows: Vec<(i64, i64, String, String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT s.due_at, s.ref_id, d.title, d.body, d.slotted FROM schedule s \
             JOIN drafts d ON s.kind = 'post' AND d.id = s.ref_id \
             WHERE s.due_at <= $1 ORDER BY s.due_at, s.id LIMIT $2"
        )
        .bind(until_ms)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        let mut items: Vec<QueueItem> = rows
            .into_iter()
            .map(|(due_at, id, title, text, slotted)| QueueItem {
                kind: "post".into(),
                due_at: from_ms(due_at),
                id,
                title,
                text,
                about: String::new(),
                slotted: slotted != 0,
            })
            .collect();
        let task_until = until.unwrap_or_else(|| crate::clock::now() + chrono::Duration::days(7));
        items.extend(self.task_timeline(task_until, limit as usize).await?);
        items.sort_by_key(|q| (q.due_at, q.kind != "post", q.id));
        items.truncate(limit as usize);
        Ok(items)
    }

    // ---- the scheduler -----------------------------------------------------

    /// The earliest due time of any pending item.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        // While the program is paused nothing is due.
        let (ms,): (Option<i64>,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT MIN(due_at) FROM schedule WHERE NOT EXISTS (SELECT 1 FROM program WHERE paused <> 0)"
        )
        .fetch_one(p)
        .await)?;
        Ok(ms.map(from_ms))
    }

    /// The earliest pending post or task occurrence, paused or not: what
    /// `clout status` calls "next due". Rule checks, lessons and snoozes are
    /// not work to do, so they are left out. Returns its time, kind and id.
    pub async fn next_pending(&self) -> Result<Option<(DateTime<Utc>, String, i64)>> {
        let row: Option<(i64, String, i64)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT due_at, kind, ref_id FROM schedule WHERE kind IN ('post', 'task') ORDER BY due_at, id LIMIT 1"
        )
        .fetch_optional(p)
        .await
        })?;
        Ok(row.map(|(at, kind, id)| (from_ms(at), kind, id)))
    }

    pub async fn pending_count(&self) -> Result<u64> {
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM schedule WHERE kind IN ('post', 'task')"
        )
        .fetch_one(p)
        .await)?;
        Ok(n.max(0) as u64)
    }

    /// The ids of the rows [`crate::fire::fire_due`] would fire, in its order.
    pub async fn due_ids(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<i64>> {
        let ids: Vec<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM schedule WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2"
        )
        .bind(to_ms(now))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// When this store was opened, in Unix ms.
    pub fn opened_ms(&self) -> i64 {
        self.opened_ms
    }

    /// Moves schedule row `id`, whose firing failed `failures` times with
    /// `error`, out of the due-index into `set_aside`, and writes a
    /// `fire_failed` nudge that names it. Returns the nudge.
    pub async fn set_aside(
        &self,
        id: i64,
        error: &str,
        failures: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<Nudge>> {
        let now_ms = to_ms(now);
        let nudge = in_tx!(self, |tx| {
            let row: Option<DueRow> =
                sqlx::query_as("SELECT id, kind, ref_id, due_at FROM schedule WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match row {
                None => None,
                Some(row) => {
                    sqlx::query(
                        "INSERT INTO set_aside (kind, ref_id, due_at, error, failures, set_aside_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, ref_id) DO UPDATE SET \
                         due_at = excluded.due_at, error = excluded.error, failures = excluded.failures, \
                         set_aside_at = excluded.set_aside_at",
                    )
                    .bind(&row.kind)
                    .bind(row.ref_id)
                    .bind(row.due_at)
                    .bind(error)
                    .bind(i64::from(failures))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM schedule WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    let (what, draft_id, task_id, hint) = match row.kind.as_str() {
                        "post" => (
                            format!("draft {}", row.ref_id),
                            Some(row.ref_id),
                            None,
                            format!(
                                "clout draft show {} says why; `clout draft schedule {} --at WHEN` tries again",
                                row.ref_id, row.ref_id
                            ),
                        ),
                        "task" => (
                            format!("task {}", row.ref_id),
                            None,
                            Some(row.ref_id),
                            "cloutd's log says more; edit or re-add the task to try again".to_string(),
                        ),
                        other => {
                            (format!("a {other} item"), None, None, "cloutd's log says more".to_string())
                        }
                    };
                    let n = Nudge {
                        id: 0,
                        kind: "fire_failed".into(),
                        message: format!(
                            "Could not fire {what} after {failures} tries, so it was set aside and everything else fires on: {}. {hint}",
                            crate::error::tidy(error)
                        ),
                        due_at: from_ms(row.due_at),
                        fired_at: from_ms(now_ms),
                        draft_id,
                        task_id,
                        late: false,
                    };
                    insert_nudge!(tx, n, format!("fire_failed:{}:{}:{}", row.kind, row.ref_id, row.due_at))
                }
            }
        });
        Ok(nudge)
    }

    /// Why the draft's firing was set aside, if it was.
    pub async fn set_aside_error(&self, draft_id: i64) -> Result<Option<String>> {
        let row: Option<(String,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT error FROM set_aside WHERE kind = 'post' AND ref_id = $1"
        )
        .bind(draft_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(e,)| e))
    }

    /// Puts the rule checks on the schedule (or takes them off), from `policy`.
    pub async fn sync_checks(&self, policy: &Policy, now: DateTime<Utc>) -> Result<()> {
        let tz = self.program().await?.tz;
        in_tx!(self, |tx| {
            for check in rules::Check::ALL {
                match policy.next_check(check, now, tz) {
                    Some(at) => {
                        sqlx::query(
                            "INSERT INTO schedule (kind, ref_id, due_at) VALUES ('check', $1, $2) \
                             ON CONFLICT (kind, ref_id) DO UPDATE SET due_at = excluded.due_at",
                        )
                        .bind(check as i64)
                        .bind(to_ms(at))
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM schedule WHERE kind = 'check' AND ref_id = $1")
                            .bind(check as i64)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
        });
        Ok(())
    }
}
