//! Sinks and their cursors into the nudge log.

use chrono::{DateTime, Utc};

use super::{Pool, Store, json_list};
use crate::error::{Error, Result};
use crate::model::sink::{Format, NewSink, Sink, SinkKind, matches};
use crate::model::{from_ms, to_ms};

/// Most sinks one daemon delivers to.
pub const MAX_SINKS: i64 = 64;

#[derive(sqlx::FromRow)]
struct SinkRow {
    id: i64,
    kind: String,
    target: String,
    args: String,
    format: String,
    kinds: String,
    cursor: i64,
    last_error: String,
    failures: i64,
    last_attempt_at: Option<i64>,
    next_attempt_at: Option<i64>,
    created_at: i64,
}

impl SinkRow {
    fn into_sink(self) -> Result<Sink> {
        let kind = SinkKind::parse(&self.kind).ok_or_else(|| {
            Error::Corrupt(format!("sink {} has an unknown kind `{}` in the database", self.id, self.kind))
        })?;
        Ok(Sink {
            id: self.id,
            kind,
            target: self.target,
            args: serde_json::from_str(&self.args).unwrap_or_default(),
            format: Format::parse(&self.format).unwrap_or(Format::Json),
            kinds: serde_json::from_str(&self.kinds).unwrap_or_default(),
            cursor: self.cursor,
            last_error: self.last_error,
            failures: self.failures.clamp(0, i64::from(u32::MAX)) as u32,
            last_attempt_at: self.last_attempt_at.map(from_ms),
            next_attempt_at: self.next_attempt_at.map(from_ms),
            created_at: from_ms(self.created_at),
        })
    }
}

const SINK_COLUMNS: &str = "SELECT id, kind, target, args, format, kinds, cursor, last_error, failures, \
     last_attempt_at, next_attempt_at, created_at FROM sinks";

impl Store {
    /// Adds a sink. It starts at the end of the nudge log: history is not replayed.
    pub async fn add_sink(&self, s: &NewSink, now: DateTime<Utc>) -> Result<Sink> {
        let args = json_list(&s.args);
        let id: i64 = in_tx!(self, |tx| {
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sinks").fetch_one(&mut *tx).await?;
            if count >= MAX_SINKS {
                return Err(Error::FailedPrecondition(format!(
                    "there are already {count} sinks, the most cloutd delivers to; remove one with `clout sink rm ID`"
                )));
            }
            let same: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM sinks WHERE kind = $1 AND target = $2 AND args = $3")
                    .bind(s.kind.as_str())
                    .bind(&s.target)
                    .bind(&args)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((id,)) = same {
                return Err(Error::Conflict {
                    existing: id,
                    message: format!(
                        "sink {id} already delivers there; remove it first (`clout sink rm {id}`) to change it"
                    ),
                });
            }
            let (last,): (Option<i64>,) =
                sqlx::query_as("SELECT MAX(id) FROM nudges").fetch_one(&mut *tx).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO sinks (kind, target, args, format, kinds, cursor, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(s.kind.as_str())
            .bind(&s.target)
            .bind(&args)
            .bind(s.format.as_str())
            .bind(json_list(&s.kinds))
            .bind(last.unwrap_or(0))
            .bind(to_ms(now))
            .fetch_one(&mut *tx)
            .await?;
            id
        });
        self.get_sink(id).await
    }

    pub async fn get_sink(&self, id: i64) -> Result<Sink> {
        let sql = format!("{SINK_COLUMNS} WHERE id = $1");
        let row: Option<SinkRow> = on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(p)
            .await)?;
        row.ok_or(Error::NotFound { what: "sink", id })?.into_sink()
    }

    pub async fn sinks(&self) -> Result<Vec<Sink>> {
        let sql = format!("{SINK_COLUMNS} ORDER BY id");
        let rows: Vec<SinkRow> =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await)?;
        rows.into_iter().map(SinkRow::into_sink).collect()
    }

    pub async fn remove_sink(&self, id: i64) -> Result<()> {
        let done = on_pool!(self, |p| sqlx::query("DELETE FROM sinks WHERE id = $1")
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(Error::NotFound { what: "sink", id });
        }
        Ok(())
    }

    /// Takes or renews the sink's delivery lease for `owner` until `until`.
    /// Returns the sink's stored cursor, or `None` while another daemon holds
    /// an unexpired lease (or the sink is gone).
    pub async fn claim_sink(
        &self,
        id: i64,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let row: Option<(i64,)> = on_pool!(self, |p| {
            sqlx::query_as(
            "UPDATE sinks SET lease_owner = $2, lease_until = $3 \
             WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until IS NULL OR lease_until < $4) \
             RETURNING cursor"
        )
        .bind(id)
        .bind(owner)
        .bind(to_ms(until))
        .bind(to_ms(now))
        .fetch_optional(p)
        .await
        })?;
        Ok(row.map(|(c,)| c))
    }

    /// Records that nudge `cursor` reached the sink: the cursor moves on and
    /// the sink is healthy. False when the sink no longer exists.
    pub async fn sink_delivered(&self, id: i64, cursor: i64, now: DateTime<Utc>) -> Result<bool> {
        let done = on_pool!(self, |p| sqlx::query(
            "UPDATE sinks SET cursor = CASE WHEN cursor < $1 THEN $1 ELSE cursor END, last_error = '', \
             failures = 0, last_attempt_at = $2, next_attempt_at = NULL WHERE id = $3"
        )
        .bind(cursor)
        .bind(to_ms(now))
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Moves the cursor past nudges the sink's filter skips. Health is unchanged.
    pub async fn sink_skipped(&self, id: i64, cursor: i64) -> Result<bool> {
        let done = on_pool!(self, |p| sqlx::query(
            "UPDATE sinks SET cursor = CASE WHEN cursor < $1 THEN $1 ELSE cursor END WHERE id = $2"
        )
        .bind(cursor)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Records a failed attempt: the error, the count of failures in a row
    /// and when the next attempt is due. False when the sink no longer exists.
    pub async fn sink_failed(
        &self,
        id: i64,
        error: &str,
        failures: u32,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<bool> {
        let done = on_pool!(self, |p| sqlx::query(
            "UPDATE sinks SET last_error = $1, failures = $2, last_attempt_at = $3, next_attempt_at = $4 \
             WHERE id = $5"
        )
        .bind(error)
        .bind(i64::from(failures))
        .bind(to_ms(now))
        .bind(to_ms(next))
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// How many nudges after `cursor` pass the filter `kinds`: the sink's backlog.
    pub async fn sink_backlog(&self, cursor: i64, kinds: &[String]) -> Result<u64> {
        let rows: Vec<(String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT kind, COUNT(*) FROM nudges WHERE id > $1 GROUP BY kind"
        )
        .bind(cursor)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().filter(|(k, _)| matches(kinds, k)).map(|(_, n)| n.max(0) as u64).sum())
    }
}
