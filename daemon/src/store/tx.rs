//! A write transaction on either backend, and the queries that firing runs
//! inside it. Queries only: what a due row means is decided in
//! [`crate::fire`].

use std::collections::HashSet;

use sqlx::{Postgres, Sqlite, Transaction};

use super::{DueRow, Pool, Store};
use crate::error::Result;
use crate::model::{Nudge, to_ms};

/// A write transaction. SQLite's takes the write lock up front
/// (`BEGIN IMMEDIATE`), so a read-then-write never fails half-way with
/// SQLITE_BUSY_SNAPSHOT. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
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

/// Which program state firing reads first.
pub struct ProgramState {
    pub paused: bool,
    pub tz: String,
    pub posts_per_week: i64,
}

/// A due post's draft, as firing needs it.
#[derive(sqlx::FromRow)]
pub struct DuePost {
    pub title: String,
    pub body: String,
    pub tags: String,
    pub missed_policy: Option<String>,
    /// Publications still to make: the daemon publishes it itself.
    pub publishes: i64,
    /// The parts after the first, as the JSON array the column holds.
    pub thread: String,
    /// The images, as the JSON array the column holds.
    pub images: String,
}

/// A live task, as firing needs it.
#[derive(sqlx::FromRow)]
pub struct DueTask {
    pub body: String,
    pub spec: Option<String>,
    pub tz: String,
    pub about: String,
    pub missed_policy: Option<String>,
}

impl Store {
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Holds off every write until the returned transaction ends: SQLite's
    /// write lock (`BEGIN IMMEDIATE`); on PostgreSQL a SHARE lock on every
    /// table of the schema, taken once the writes under way have committed.
    /// Reads made meanwhile, on any connection, all see one state of the
    /// database: an export made under it is a consistent copy.
    pub async fn hold_writes(&self) -> Result<Tx> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(t) = &mut tx {
            let (tables,): (Option<String>,) = sqlx::query_as(
                "SELECT string_agg(quote_ident(tablename), ', ' ORDER BY tablename) FROM pg_tables \
                 WHERE schemaname = current_schema()",
            )
            .fetch_one(&mut **t)
            .await?;
            if let Some(tables) = tables {
                sqlx::query(sqlx::AssertSqlSafe(format!("LOCK TABLE {tables} IN SHARE MODE")))
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(tx)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        on_tx!(self, |t| t.commit().await)?;
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    /// PostgreSQL: one writer of the nudge log at a time, so nudge ids become
    /// visible in order.
    pub async fn lock_nudge_log(&mut self) -> Result<()> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT pg_advisory_xact_lock(7263001)").execute(&mut **t).await?;
        }
        Ok(())
    }

    pub async fn program_state(&mut self) -> Result<ProgramState> {
        let (paused, tz, posts_per_week): (i64, String, i64) =
            on_tx!(self, |t| sqlx::query_as("SELECT paused, tz, posts_per_week FROM program WHERE id = 1")
                .fetch_one(&mut **t)
                .await)?;
        Ok(ProgramState { paused: paused != 0, tz, posts_per_week })
    }

    /// Claims up to `limit` rows due at `now_ms` (only row `only`, if given),
    /// in time order; on PostgreSQL, rows another daemon holds are skipped.
    pub async fn claim_due(&mut self, now_ms: i64, limit: u32, only: Option<i64>) -> Result<Vec<DueRow>> {
        let lock = if self.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
        let filter = if only.is_some() { " AND id = $3" } else { "" };
        let sql = format!(
            "SELECT id, kind, ref_id, due_at FROM schedule WHERE due_at <= $1{filter} ORDER BY due_at, id LIMIT $2{lock}"
        );
        let rows = on_tx!(self, |t| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now_ms).bind(i64::from(limit));
            if let Some(id) = only {
                q = q.bind(id);
            }
            q.fetch_all(&mut **t).await
        })?;
        Ok(rows)
    }

    pub async fn reschedule(&mut self, row: i64, due_ms: i64) -> Result<()> {
        on_tx!(self, |t| sqlx::query("UPDATE schedule SET due_at = $1 WHERE id = $2")
            .bind(due_ms)
            .bind(row)
            .execute(&mut **t)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Deletes spent schedule rows in one statement.
    pub async fn delete_schedule_rows(&mut self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // `$1, $2, …`: both SQLite and PostgreSQL take numbered placeholders.
        let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql = format!("DELETE FROM schedule WHERE id IN ({list})");
        on_tx!(self, |t| {
            // Not kept prepared: the list length changes from batch to batch.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for id in ids {
                q = q.bind(*id);
            }
            q.execute(&mut **t).await.map(|_| ())
        })?;
        Ok(())
    }

    /// Appends a nudge unless its occurrence key is already in the log.
    pub async fn insert_nudge(&mut self, n: Nudge, key: String) -> Result<Option<Nudge>> {
        Ok(on_tx!(self, |t| {
            let tx = &mut **t;
            insert_nudge!(tx, n, key)
        }))
    }

    /// Consistency nudges fired since `since_ms`, for the daily cap.
    /// How many nudges of `kinds` fired since `since_ms` (the daily cap).
    pub async fn nudges_of_kinds_since(&mut self, since_ms: i64, kinds: &[&str]) -> Result<i64> {
        let marks: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 2)).collect();
        let sql =
            format!("SELECT COUNT(*) FROM nudges WHERE fired_at >= $1 AND kind IN ({})", marks.join(", "));
        let (n,): (i64,) = on_tx!(self, |t| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(since_ms);
            for k in kinds {
                q = q.bind(*k);
            }
            q.fetch_one(&mut **t).await
        })?;
        Ok(n)
    }

    // ---- posts ---------------------------------------------------------------

    pub async fn due_post(&mut self, draft: i64) -> Result<Option<DuePost>> {
        // Whether it publishes itself comes along, sparing manual drafts an UPDATE.
        let row: Option<DuePost> = on_tx!(self, |t| {
            sqlx::query_as(
                "SELECT title, body, tags, missed_policy, (SELECT COUNT(*) FROM publications p \
             WHERE p.draft_id = drafts.id AND p.state IN ('waiting', 'failed', 'pending')) AS publishes, thread, images \
             FROM drafts WHERE id = $1",
            )
            .bind(draft)
            .fetch_optional(&mut **t)
            .await
        })?;
        Ok(row)
    }

    pub async fn slot_specs(&mut self) -> Result<Vec<String>> {
        let specs: Vec<(String,)> =
            on_tx!(self, |t| sqlx::query_as("SELECT spec FROM slots ORDER BY id").fetch_all(&mut **t).await)?;
        Ok(specs.into_iter().map(|(s,)| s).collect())
    }

    /// The times of the posts scheduled after `after_ms`.
    pub async fn taken_post_times(&mut self, after_ms: i64) -> Result<HashSet<i64>> {
        let taken: Vec<(i64,)> = on_tx!(self, |t| sqlx::query_as(
            "SELECT due_at FROM schedule WHERE kind = 'post' AND due_at > $1"
        )
        .bind(after_ms)
        .fetch_all(&mut **t)
        .await)?;
        Ok(taken.into_iter().map(|(t,)| t).collect())
    }

    pub async fn move_draft_to_slot(&mut self, draft: i64, at_ms: i64, now_ms: i64) -> Result<()> {
        on_tx!(self, |t| sqlx::query(
            "UPDATE drafts SET scheduled_at = $1, slotted = 1, updated_at = $2 WHERE id = $3"
        )
        .bind(at_ms)
        .bind(now_ms)
        .bind(draft)
        .execute(&mut **t)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn unschedule_fired_draft(&mut self, draft: i64, now_ms: i64) -> Result<()> {
        on_tx!(self, |t| sqlx::query(
            "UPDATE drafts SET state = 'draft', scheduled_at = NULL, updated_at = $1 WHERE id = $2"
        )
        .bind(now_ms)
        .bind(draft)
        .execute(&mut **t)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Hands the draft to the publisher: its publications become pending.
    pub async fn start_publishing(&mut self, draft: i64, now_ms: i64, late: bool) -> Result<()> {
        on_tx!(self, |t| sqlx::query(
            "UPDATE publications SET state = 'pending', next_attempt_at = $1, tries = 0 \
             WHERE draft_id = $2 AND state IN ('waiting', 'failed', 'pending')",
        )
        .bind(now_ms)
        .bind(draft)
        .execute(&mut **t)
        .await
        .map(|_| ()))?;
        self.set_fired_state(draft, "publishing", now_ms, late).await
    }

    /// The draft fired: `due` (a nudge asks the person to post) or `publishing`.
    pub async fn set_fired_state(&mut self, draft: i64, state: &str, now_ms: i64, late: bool) -> Result<()> {
        on_tx!(self, |t| sqlx::query(
            "UPDATE drafts SET state = $1, fired_at = $2, late = $3, updated_at = $2 WHERE id = $4"
        )
        .bind(state)
        .bind(now_ms)
        .bind(i64::from(late))
        .bind(draft)
        .execute(&mut **t)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Every lesson with its setback's tags (JSON), for "Last time: …".
    pub async fn tagged_lessons(&mut self) -> Result<Vec<(String, String)>> {
        Ok(on_tx!(self, |t| sqlx::query_as(super::review::TAGGED_LESSONS).fetch_all(&mut **t).await)?)
    }

    // ---- tasks ---------------------------------------------------------------

    pub async fn live_task(&mut self, task: i64) -> Result<Option<DueTask>> {
        Ok(on_tx!(self, |t| {
            sqlx::query_as(
                "SELECT body, spec, tz, about, missed_policy FROM tasks WHERE id = $1 AND removed_at IS NULL",
            )
            .bind(task)
            .fetch_optional(&mut **t)
            .await
        })?)
    }

    /// Marks the task's open occurrences missed; returns their times.
    pub async fn miss_open_occurrences(&mut self, task: i64, now_ms: i64) -> Result<Vec<i64>> {
        let open: Vec<(i64,)> = on_tx!(self, |t| sqlx::query_as(
            "SELECT due_at FROM task_occurrences WHERE task_id = $1 AND state = 'due'"
        )
        .bind(task)
        .fetch_all(&mut **t)
        .await)?;
        on_tx!(self, |t| {
            sqlx::query(
            "UPDATE task_occurrences SET state = 'missed', resolved_at = $2 WHERE task_id = $1 AND state = 'due'",
        )
        .bind(task)
        .bind(now_ms)
        .execute(&mut **t)
        .await
        .map(|_| ())
        })?;
        Ok(open.into_iter().map(|(d,)| d).collect())
    }

    /// Records an occurrence (unless one at that time exists).
    pub async fn insert_occurrence(&mut self, task: i64, occ: &Occurrence) -> Result<()> {
        on_tx!(self, |t| sqlx::query(
            "INSERT INTO task_occurrences (task_id, due_at, state, fired_at, resolved_at, late) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (task_id, due_at) DO NOTHING",
        )
        .bind(task)
        .bind(occ.due_ms)
        .bind(occ.state)
        .bind(occ.fired_ms)
        .bind(occ.resolved_ms)
        .bind(i64::from(occ.late))
        .execute(&mut **t)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    // ---- lessons, checks, snoozes ---------------------------------------------

    /// A lesson's text, its setback's text and its resurfacing stage.
    pub async fn lesson(&mut self, lesson: i64) -> Result<Option<(String, String, i64)>> {
        Ok(on_tx!(self, |t| {
            sqlx::query_as(
            "SELECT l.body, s.body, l.stage FROM lessons l JOIN setbacks s ON s.id = l.setback_id WHERE l.id = $1",
        )
        .bind(lesson)
        .fetch_optional(&mut **t)
        .await
        })?)
    }

    pub async fn advance_lesson(&mut self, lesson: i64) -> Result<()> {
        on_tx!(self, |t| sqlx::query("UPDATE lessons SET stage = stage + 1 WHERE id = $1")
            .bind(lesson)
            .execute(&mut **t)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Drafts published in `[from_ms, to_ms)`, or `[from_ms, to_ms]` when `inclusive`.
    pub async fn published_between(&mut self, from_ms: i64, to_ms: i64, inclusive: bool) -> Result<i64> {
        let sql = if inclusive {
            "SELECT COUNT(*) FROM drafts WHERE state IN ('published', 'partial') AND published_at >= $1 AND published_at <= $2"
        } else {
            "SELECT COUNT(*) FROM drafts WHERE state IN ('published', 'partial') AND published_at >= $1 AND published_at < $2"
        };
        let (n,): (i64,) =
            on_tx!(self, |t| sqlx::query_as(sql).bind(from_ms).bind(to_ms).fetch_one(&mut **t).await)?;
        Ok(n)
    }

    /// Posts scheduled in `(from_ms, to_ms]`.
    pub async fn posts_queued_between(&mut self, from_ms: i64, to_ms: i64) -> Result<i64> {
        let (n,): (i64,) = on_tx!(self, |t| sqlx::query_as(
            "SELECT COUNT(*) FROM schedule WHERE kind = 'post' AND due_at > $1 AND due_at <= $2"
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(&mut **t)
        .await)?;
        Ok(n)
    }

    /// The nudge a snooze brings back: kind, message, draft and task; none
    /// when its draft was deleted (or, for `post_due`, is no longer due) or
    /// its task removed.
    pub async fn snoozed(
        &mut self,
        nudge: i64,
    ) -> Result<Option<(String, String, Option<i64>, Option<i64>)>> {
        Ok(on_tx!(self, |t| sqlx::query_as(
            "SELECT n.kind, n.message, n.draft_id, n.task_id FROM nudges n WHERE n.id = $1 \
             AND (n.draft_id IS NULL OR EXISTS (SELECT 1 FROM drafts d WHERE d.id = n.draft_id \
                  AND (n.kind <> 'post_due' OR d.state = 'due'))) \
             AND (n.task_id IS NULL OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = n.task_id \
                  AND t.removed_at IS NULL))"
        )
        .bind(nudge)
        .fetch_optional(&mut **t)
        .await)?)
    }

    // ---- results -------------------------------------------------------------

    /// Firing a `result` row: the post is queued for the fetcher, which does
    /// the network work outside this transaction. False when the post is no
    /// longer followed.
    pub async fn queue_result(&mut self, id: i64) -> Result<bool> {
        let done = on_tx!(self, |t| sqlx::query(
            "UPDATE result_posts SET queued_by = 'schedule', \
             state = CASE WHEN state = 'fetching' THEN state ELSE 'queued' END \
             WHERE id = $1 AND state IN ('tracking', 'queued', 'fetching', 'done')"
        )
        .bind(id)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }
}

/// A task occurrence to record.
pub struct Occurrence {
    pub due_ms: i64,
    pub state: &'static str,
    pub fired_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    pub late: bool,
}
