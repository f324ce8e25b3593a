//! What the leased queues (publications, result fetches, the people to
//! study) share in the store: a row is claimed by setting its state to the
//! queue's busy state with a lease owner and a lease end; a claim whose
//! lease ran out may be taken by any daemon.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::{Pool, Store};
use crate::error::Result;
use crate::model::from_ms;

/// A table of claimable rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leased {
    Publications,
    Results,
    Study,
}

impl Leased {
    fn table(self) -> &'static str {
        match self {
            Leased::Publications => "publications",
            Leased::Results => "result_posts",
            Leased::Study => "study_people",
        }
    }

    /// The state of a claimed row.
    fn busy(self) -> &'static str {
        match self {
            Leased::Publications => "publishing",
            Leased::Results | Leased::Study => "fetching",
        }
    }
}

impl Store {
    /// Frees the claims a daemon left behind when it stopped: on SQLite,
    /// where only one daemon runs, every claim; on PostgreSQL, those of
    /// `owner` (this daemon on its socket): other daemons' claims run out
    /// on their own. A freed claim is due at once.
    pub async fn release_claims(&self, queue: Leased, owner: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET lease_until = 0 WHERE state = '{}' AND (lease_owner = $1 OR $2)",
            queue.table(),
            queue.busy()
        );
        on_pool!(self, |p| sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(owner)
            .bind(!self.is_postgres())
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// When the next row of a queue with its own due times (publications,
    /// the people to study) is due, or a claim on one runs out, if any waits.
    pub async fn next_claim_at(&self, queue: Leased) -> Result<Option<DateTime<Utc>>> {
        let sql = format!(
            "SELECT MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) FROM {} \
             WHERE state IN ('pending', '{}')",
            queue.table(),
            queue.busy()
        );
        let (ms,): (Option<i64>,) =
            on_pool!(self, |p| sqlx::query_as(AssertSqlSafe(sql.clone())).fetch_one(p).await)?;
        Ok(ms.map(from_ms))
    }
}
