//! The nudge log: reading it, acknowledging and snoozing nudges.

use chrono::{DateTime, Utc};

use super::{NudgeRow, Pool, Store};
use crate::error::{Error, Result};
use crate::model::{Nudge, to_ms};

impl Store {
    /// Nudges with an id above `after`, oldest first.
    pub async fn nudges_after(&self, after: i64, limit: u32) -> Result<Vec<Nudge>> {
        let rows: Vec<NudgeRow> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT id, kind, message, due_at, fired_at, draft_id, task_id, late FROM nudges WHERE id > $1 ORDER BY id LIMIT $2"
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await
        })?;
        Ok(rows.into_iter().map(Nudge::from).collect())
    }

    /// The newest `limit` nudges, oldest first.
    pub async fn recent_nudges(&self, limit: u32) -> Result<Vec<Nudge>> {
        let rows: Vec<NudgeRow> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT id, kind, message, due_at, fired_at, draft_id, task_id, late FROM \
             (SELECT id, kind, message, due_at, fired_at, draft_id, task_id, late FROM nudges ORDER BY id DESC LIMIT $1) r ORDER BY id"
        )
        .bind(i64::from(limit))
        .fetch_all(p)
        .await
        })?;
        Ok(rows.into_iter().map(Nudge::from).collect())
    }

    pub async fn nudge(&self, id: i64) -> Result<Nudge> {
        let row: Option<NudgeRow> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT id, kind, message, due_at, fired_at, draft_id, task_id, late FROM nudges WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await
        })?;
        Ok(row.ok_or(Error::NotFound { what: "nudge", id })?.into())
    }

    /// The newest `limit` nudges not acknowledged yet, oldest first.
    pub async fn unread_nudges(&self, limit: u32) -> Result<Vec<Nudge>> {
        let rows: Vec<NudgeRow> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id, kind, message, due_at, fired_at, draft_id, task_id, late FROM \
             (SELECT id, kind, message, due_at, fired_at, draft_id, task_id, late FROM nudges \
              WHERE acked_at IS NULL ORDER BY id DESC LIMIT $1) r ORDER BY id"
        )
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(Nudge::from).collect())
    }

    /// Which nudges with ids in `from..=to` have been acknowledged.
    pub async fn acked_ids(&self, from: i64, to: i64) -> Result<std::collections::HashSet<i64>> {
        let rows: Vec<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM nudges WHERE id >= $1 AND id <= $2 AND acked_at IS NOT NULL"
        )
        .bind(from)
        .bind(to)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Marks a nudge as seen.
    pub async fn ack_nudge(&self, id: i64, now: DateTime<Utc>) -> Result<Nudge> {
        let done = on_pool!(self, |p| sqlx::query(
            "UPDATE nudges SET acked_at = COALESCE(acked_at, $2) WHERE id = $1"
        )
        .bind(id)
        .bind(to_ms(now))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(Error::NotFound { what: "nudge", id });
        }
        self.nudge(id).await
    }

    /// Marks the nudges `ids` as seen, or with no ids every unread nudge (of
    /// `kinds`, when given). An unknown id fails and changes nothing.
    /// Returns the ids that were unread.
    pub async fn ack_many(&self, ids: &[i64], kinds: &[String], now: DateTime<Utc>) -> Result<Vec<i64>> {
        let acked = in_tx!(self, |tx| {
            let unread: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, kind FROM nudges WHERE acked_at IS NULL ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await?;
            for &id in ids {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM nudges WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                if n == 0 {
                    return Err(Error::NotFound { what: "nudge", id });
                }
            }
            let pick: Vec<i64> = unread
                .into_iter()
                .filter(|(id, kind)| {
                    (ids.is_empty() || ids.contains(id)) && (kinds.is_empty() || kinds.contains(kind))
                })
                .map(|(id, _)| id)
                .collect();
            for chunk in pick.chunks(500) {
                let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!("UPDATE nudges SET acked_at = $1 WHERE id IN ({})", marks.join(", "));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(now));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            pick
        });
        Ok(acked)
    }

    /// Marks a nudge as seen and schedules it to nudge again at `until`.
    pub async fn snooze_nudge(&self, id: i64, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<Nudge> {
        in_tx!(self, |tx| {
            let done = sqlx::query("UPDATE nudges SET acked_at = COALESCE(acked_at, $2) WHERE id = $1")
                .bind(id)
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound { what: "nudge", id });
            }
            sqlx::query(
                "INSERT INTO schedule (kind, ref_id, due_at) VALUES ('snooze', $1, $2) \
                 ON CONFLICT (kind, ref_id) DO UPDATE SET due_at = excluded.due_at",
            )
            .bind(id)
            .bind(to_ms(until))
            .execute(&mut *tx)
            .await?;
        });
        self.nudge(id).await
    }

    pub async fn last_nudge_id(&self) -> Result<i64> {
        let (id,): (Option<i64>,) =
            on_pool!(self, |p| sqlx::query_as("SELECT MAX(id) FROM nudges").fetch_one(p).await)?;
        Ok(id.unwrap_or(0))
    }

    pub async fn nudge_count(&self) -> Result<u64> {
        let (n,): (i64,) =
            on_pool!(self, |p| sqlx::query_as("SELECT COUNT(*) FROM nudges").fetch_one(p).await)?;
        Ok(n.max(0) as u64)
    }
}
