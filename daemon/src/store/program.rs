//! The program, its posting slots, pause and shuffle, and the people to learn from.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Pool, Store};
use crate::error::{Error, Result};
use crate::model::{
    Follow, Program, ProgramPatch, Purpose, QueueItem, Slot, StageChange, from_ms, local_tz, to_ms,
};
use crate::recurrence::Schedule;

/// The zone stored in the program, else the daemon's local zone.
pub fn zone(stored: &str) -> Tz {
    if stored.is_empty() { local_tz() } else { stored.parse().unwrap_or_else(|_| local_tz()) }
}

/// How far ahead the next free slot is searched.
const SLOT_SEARCH_OCCURRENCES: usize = 20_000;

/// The earliest occurrence of any slot after `now_ms` that is not in `taken`.
pub fn first_free_slot(specs: &[String], tz: Tz, taken: &HashSet<i64>, now_ms: i64) -> Result<i64> {
    if specs.is_empty() {
        return Err(Error::FailedPrecondition(
            "there are no posting slots yet: add one with `clout slots add \"mon,wed,fri 09:00\"`".into(),
        ));
    }
    let schedules: Vec<Schedule> = specs.iter().filter_map(|s| Schedule::parse(s).ok()).collect();
    // The next candidate of every slot; take the earliest, advance that slot.
    let mut next: Vec<Option<DateTime<Utc>>> =
        schedules.iter().map(|s| s.next_after(from_ms(now_ms), tz)).collect();
    for _ in 0..SLOT_SEARCH_OCCURRENCES {
        let Some((i, t)) =
            next.iter().enumerate().filter_map(|(i, t)| t.map(|t| (i, t))).min_by_key(|&(_, t)| t)
        else {
            break;
        };
        if !taken.contains(&to_ms(t)) {
            return Ok(to_ms(t));
        }
        next[i] = schedules[i].next_after(t, tz);
    }
    Err(Error::FailedPrecondition(
        "every posting slot in the searchable future is taken: add slots with `clout slots add`".into(),
    ))
}

#[derive(sqlx::FromRow)]
struct ProgramRow {
    purpose: String,
    posts_per_week: i64,
    engagements_per_day: i64,
    tz: String,
    paused: i64,
    paused_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct FollowRow {
    id: i64,
    handle: String,
    platform: String,
    why: String,
    topic: String,
    server: String,
    created_at: i64,
}

impl From<FollowRow> for Follow {
    fn from(r: FollowRow) -> Self {
        Follow {
            id: r.id,
            handle: r.handle,
            platform: r.platform,
            why: r.why,
            topic: r.topic,
            server: r.server,
            created_at: from_ms(r.created_at),
        }
    }
}

impl Store {
    pub async fn program(&self) -> Result<Program> {
        let r: ProgramRow = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT purpose, posts_per_week, engagements_per_day, tz, paused, paused_at FROM program WHERE id = 1"
        )
        .fetch_one(p)
        .await
        })?;
        Ok(Program {
            purpose: Purpose::parse(&r.purpose),
            posts_per_week: r.posts_per_week.clamp(0, i64::from(u32::MAX)) as u32,
            engagements_per_day: r.engagements_per_day.clamp(0, i64::from(u32::MAX)) as u32,
            tz: zone(&r.tz),
            paused: r.paused != 0,
            paused_at: r.paused_at.map(from_ms),
        })
    }

    pub async fn set_program(&self, patch: &ProgramPatch, now: DateTime<Utc>) -> Result<Program> {
        let cur = self.program().await?;
        let purpose = patch.purpose.unwrap_or(cur.purpose);
        let ppw = patch.posts_per_week.unwrap_or(cur.posts_per_week);
        let epd = patch.engagements_per_day.unwrap_or(cur.engagements_per_day);
        // An unset zone keeps the stored value, which may be "follow cloutd's local zone".
        let tz: Option<&str> = patch.tz.as_ref().map(|t| t.name());
        in_tx!(self, |tx| {
            let (was,): (String,) =
                sqlx::query_as("SELECT purpose FROM program WHERE id = 1").fetch_one(&mut *tx).await?;
            sqlx::query(
                "UPDATE program SET purpose = $1, posts_per_week = $2, engagements_per_day = $3, \
                 tz = COALESCE($4, tz), updated_at = $5 WHERE id = 1",
            )
            .bind(purpose.as_str())
            .bind(i64::from(ppw))
            .bind(i64::from(epd))
            .bind(tz)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            // A new stage is recorded with its date, for the review.
            if Purpose::parse(&was) != purpose {
                sqlx::query(
                    "INSERT INTO stage_changes (from_purpose, to_purpose, changed_at) VALUES ($1, $2, $3)",
                )
                .bind(Purpose::parse(&was).as_str())
                .bind(purpose.as_str())
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
            }
        });
        self.program().await
    }

    /// Every change of the program's stage, oldest first.
    pub async fn stage_changes(&self) -> Result<Vec<StageChange>> {
        let rows: Vec<(String, String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT from_purpose, to_purpose, changed_at FROM stage_changes ORDER BY changed_at, id"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(from, to, at)| StageChange {
                from: Purpose::parse(&from),
                to: Purpose::parse(&to),
                at: from_ms(at),
            })
            .collect())
    }

    /// Pauses or resumes firing. On resume, returns how many items came due
    /// during the pause (they fire at once, marked late).
    pub async fn set_paused(&self, paused: bool, now: DateTime<Utc>) -> Result<u32> {
        let now_ms = to_ms(now);
        let came_due = in_tx!(self, |tx| {
            let (was,): (i64,) =
                sqlx::query_as("SELECT paused FROM program WHERE id = 1").fetch_one(&mut *tx).await?;
            if (was != 0) == paused {
                return Err(Error::FailedPrecondition(
                    if paused { "the queue is already paused" } else { "the queue is not paused" }.into(),
                ));
            }
            sqlx::query("UPDATE program SET paused = $1, paused_at = $2 WHERE id = 1")
                .bind(i64::from(paused))
                .bind(paused.then_some(now_ms))
                .execute(&mut *tx)
                .await?;
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM schedule WHERE due_at <= $1")
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
            n
        });
        Ok(if paused { 0 } else { came_due.clamp(0, i64::from(u32::MAX)) as u32 })
    }

    pub async fn add_slot(&self, spec: &Schedule, now: DateTime<Utc>) -> Result<Slot> {
        let (id,): (i64,) = on_pool!(self, |p| sqlx::query_as(
            "INSERT INTO slots (spec, created_at) VALUES ($1, $2) RETURNING id"
        )
        .bind(spec.spec())
        .bind(to_ms(now))
        .fetch_one(p)
        .await)?;
        Ok(Slot { id, spec: spec.spec().to_string() })
    }

    pub async fn slots(&self) -> Result<Vec<Slot>> {
        let rows: Vec<(i64, String)> =
            on_pool!(self, |p| sqlx::query_as("SELECT id, spec FROM slots ORDER BY id").fetch_all(p).await)?;
        Ok(rows.into_iter().map(|(id, spec)| Slot { id, spec }).collect())
    }

    pub async fn remove_slot(&self, id: i64) -> Result<()> {
        let done = on_pool!(self, |p| sqlx::query("DELETE FROM slots WHERE id = $1")
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(Error::NotFound { what: "slot", id });
        }
        Ok(())
    }

    /// Reorders the drafts that sit in posting slots: the same times, the
    /// drafts in a new random order. Returns them in their new order.
    pub async fn shuffle_slots(&self, now: DateTime<Utc>) -> Result<Vec<QueueItem>> {
        let now_ms = to_ms(now);
        in_tx!(self, |tx| {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT s.ref_id, s.due_at FROM schedule s JOIN drafts d ON d.id = s.ref_id \
                 WHERE s.kind = 'post' AND d.slotted = 1 AND s.due_at > $1 ORDER BY s.due_at, s.id",
            )
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            let times: Vec<i64> = rows.iter().map(|r| r.1).collect();
            let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let before = ids.clone();
            fastrand::shuffle(&mut ids);
            if ids.len() > 1 && ids == before {
                ids.rotate_left(1);
            }
            for (id, at) in ids.iter().zip(&times) {
                sqlx::query("UPDATE schedule SET due_at = $1 WHERE kind = 'post' AND ref_id = $2")
                    .bind(*at)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE drafts SET scheduled_at = $1, updated_at = $2 WHERE id = $3")
                    .bind(*at)
                    .bind(now_ms)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        let mut items = self.upcoming(None, 100_000).await?;
        items.retain(|q| q.kind == "post" && q.slotted);
        Ok(items)
    }

    pub async fn add_follow(&self, f: &Follow, now: DateTime<Utc>) -> Result<Follow> {
        let exists: Option<(i64,)> =
            on_pool!(self, |p| sqlx::query_as("SELECT id FROM follows WHERE handle = $1 AND platform = $2")
                .bind(&f.handle)
                .bind(&f.platform)
                .fetch_optional(p)
                .await)?;
        if let Some((id,)) = exists {
            return Err(Error::FailedPrecondition(format!(
                "you already follow {} on {} (follow {id})",
                f.handle, f.platform
            )));
        }
        let row: FollowRow = on_pool!(self, |p| {
            sqlx::query_as(
            "INSERT INTO follows (handle, platform, why, topic, server, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, handle, platform, why, topic, server, created_at"
        )
        .bind(&f.handle)
        .bind(&f.platform)
        .bind(&f.why)
        .bind(&f.topic)
        .bind(&f.server)
        .bind(to_ms(now))
        .fetch_one(p)
        .await
        })?;
        Ok(row.into())
    }

    pub async fn follows(&self) -> Result<Vec<Follow>> {
        let rows: Vec<FollowRow> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id, handle, platform, why, topic, server, created_at FROM follows ORDER BY id"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn remove_follow(&self, id: i64) -> Result<()> {
        let done = in_tx!(self, |tx| {
            sqlx::query("DELETE FROM schedule WHERE kind = 'study' AND ref_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM follows WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected()
        });
        if done == 0 {
            return Err(Error::NotFound { what: "follow", id });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_free_slot_skips_taken_ones_and_merges_slots() {
        let tz = chrono_tz::UTC;
        // 2030-01-07 is a Monday.
        let now =
            to_ms(chrono::TimeZone::with_ymd_and_hms(&Utc, 2030, 1, 7, 8, 0, 0).single().expect("time"));
        let specs = vec!["mon,wed 09:00".to_string(), "daily 12:00".to_string()];
        let mon9 = now + 3_600_000;
        let mon12 = now + 4 * 3_600_000;
        assert_eq!(first_free_slot(&specs, tz, &HashSet::new(), now).expect("slot"), mon9);
        let taken: HashSet<i64> = [mon9].into();
        assert_eq!(first_free_slot(&specs, tz, &taken, now).expect("slot"), mon12);
        let taken: HashSet<i64> = [mon9, mon12].into();
        let tue12 = mon12 + 86_400_000;
        assert_eq!(first_free_slot(&specs, tz, &taken, now).expect("slot"), tue12);
        assert!(matches!(first_free_slot(&[], tz, &HashSet::new(), now), Err(Error::FailedPrecondition(_))));
    }
}
