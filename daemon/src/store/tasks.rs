//! Engagement tasks: recurring or once, each occurrence due, done, skipped or missed.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Pool, Store};
use crate::error::{Error, Result};
use crate::model::{NewTask, QueueItem, Task, TaskPatch, TaskWhen, from_ms, local_time, to_ms};
use crate::recurrence::Schedule;

/// At most this many missed occurrences are recorded one by one when a
/// recurring task fires after a long downtime or pause.
pub const MAX_MISSED_RECORDED: usize = 1000;

/// What firing a task's schedule row does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirePlan {
    /// The occurrence that fires now: the most recent one that is due.
    pub fire_at: i64,
    /// Earlier occurrences that came due while nothing fired (recorded as missed).
    pub missed: Vec<i64>,
    /// The next occurrence after now, if the task recurs.
    pub next: Option<i64>,
}

/// Plans the firing of a task due at `due_at`, observed at `now_ms`.
///
/// Catch-up rule: when several occurrences came due while cloutd was down or
/// the queue was paused, only the most recent one fires (once, marked late);
/// the earlier ones are recorded as missed. A restart never fires a storm.
pub fn plan_fire(spec: Option<&str>, tz: &str, due_at: i64, now_ms: i64) -> FirePlan {
    let once = FirePlan { fire_at: due_at, missed: Vec::new(), next: None };
    let Some(spec) = spec else { return once };
    let Ok(schedule) = Schedule::parse(spec) else {
        tracing::warn!(spec, "a stored task schedule no longer parses; it stops recurring");
        return once;
    };
    let tz: Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    let mut fire_at = due_at;
    let mut missed = Vec::new();
    let mut steps = 0usize;
    while let Some(n) = schedule.next_after(from_ms(fire_at), tz).map(to_ms).filter(|&n| n <= now_ms) {
        if missed.len() < MAX_MISSED_RECORDED {
            missed.push(fire_at);
        }
        fire_at = n;
        steps += 1;
        if steps >= 10_000 {
            // A very frequent schedule after a long outage: jump to the last day.
            let day_ago = from_ms(now_ms - 86_400_000);
            if let Some(n) =
                schedule.next_after(day_ago, tz).map(to_ms).filter(|&n| n <= now_ms && n > fire_at)
            {
                fire_at = n;
            }
            steps = 0;
        }
    }
    let next = schedule.next_after(from_ms(fire_at.max(now_ms)), tz).map(to_ms);
    FirePlan { fire_at, missed, next }
}

pub fn task_due_message(
    text: &str,
    about: &str,
    due_ms: i64,
    now_ms: i64,
    late: bool,
    missed: usize,
) -> String {
    let mut m = format!("Task: {}", crate::model::label("", text));
    if !about.is_empty() {
        m.push_str(&format!(" (about {about})"));
    }
    if late {
        let mins = (now_ms - due_ms) / 60_000;
        let ago = if mins >= 120 { format!("{}h", mins / 60) } else { format!("{mins} min") };
        m.push_str(&format!(" (late: it was due {ago} ago)"));
    }
    if missed > 0 {
        m.push_str(&format!("; {missed} earlier occurrence(s) were missed"));
    }
    m
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    body: String,
    spec: Option<String>,
    tz: String,
    about: String,
    once_at: Option<i64>,
    created_at: i64,
    next_due: Option<i64>,
    current_due: Option<i64>,
    done: i64,
    skipped: i64,
    missed: i64,
}

impl From<TaskRow> for Task {
    fn from(r: TaskRow) -> Self {
        let n = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
        Task {
            id: r.id,
            text: r.body,
            every: r.spec.unwrap_or_default(),
            tz: r.tz,
            about: r.about,
            once_at: r.once_at.map(from_ms),
            next_due_at: r.next_due.map(from_ms),
            current_due_at: r.current_due.map(from_ms),
            done: n(r.done),
            skipped: n(r.skipped),
            missed: n(r.missed),
            created_at: from_ms(r.created_at),
        }
    }
}

const SELECT_TASKS: &str = "SELECT t.id, t.body, t.spec, t.tz, t.about, t.once_at, t.created_at, \
     (SELECT s.due_at FROM schedule s WHERE s.kind = 'task' AND s.ref_id = t.id) AS next_due, \
     (SELECT MAX(o.due_at) FROM task_occurrences o WHERE o.task_id = t.id AND o.state = 'due') AS current_due, \
     (SELECT COUNT(*) FROM task_occurrences o WHERE o.task_id = t.id AND o.state = 'done') AS done, \
     (SELECT COUNT(*) FROM task_occurrences o WHERE o.task_id = t.id AND o.state = 'skipped') AS skipped, \
     (SELECT COUNT(*) FROM task_occurrences o WHERE o.task_id = t.id AND o.state = 'missed') AS missed \
     FROM tasks t WHERE t.removed_at IS NULL";

impl Store {
    pub async fn add_task(&self, t: &NewTask, now: DateTime<Utc>) -> Result<Task> {
        let first = match (&t.every, t.once_at) {
            (Some(s), None) => s.next_after(now, t.tz).ok_or_else(|| {
                Error::Invalid(format!("the schedule `{}` has no occurrence after now", s.spec()))
            })?,
            (None, Some(at)) => at,
            _ => return Err(Error::Invalid("give either a schedule (--every) or a time (--once)".into())),
        };
        let id: i64 = in_tx!(self, |tx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO tasks (body, spec, tz, about, once_at, created_at, missed_policy) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&t.text)
            .bind(t.every.as_ref().map(|s| s.spec().to_string()))
            .bind(t.tz.name())
            .bind(&t.about)
            .bind(t.once_at.map(to_ms))
            .bind(to_ms(now))
            .bind(t.if_missed.map(crate::rules::MissedPolicy::as_str))
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) VALUES ('task', $1, $2)")
                .bind(id)
                .bind(to_ms(first))
                .execute(&mut *tx)
                .await?;
            id
        });
        self.task(id).await
    }

    pub async fn task(&self, id: i64) -> Result<Task> {
        let sql = format!("{SELECT_TASKS} AND t.id = $1");
        let row: Option<TaskRow> = on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(p)
            .await)?;
        Ok(row.ok_or(Error::NotFound { what: "task", id })?.into())
    }

    pub async fn tasks(&self) -> Result<Vec<Task>> {
        let sql = format!("{SELECT_TASKS} ORDER BY t.id");
        let rows: Vec<TaskRow> =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Removes a task from the program; its history stays for reviews.
    pub async fn remove_task(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        in_tx!(self, |tx| {
            let done = sqlx::query("UPDATE tasks SET removed_at = $1 WHERE id = $2 AND removed_at IS NULL")
                .bind(to_ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound { what: "task", id });
            }
            sqlx::query("DELETE FROM schedule WHERE kind = 'task' AND ref_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Changes a task (`clout task edit`). A new schedule, time or zone moves
    /// its schedule row to the first occurrence after `now` that was not done
    /// or skipped early; an occurrence already waiting stays as it is.
    pub async fn update_task(&self, id: i64, patch: &TaskPatch, now: DateTime<Utc>) -> Result<Task> {
        self.check_not_removed(id).await?;
        let task = self.task(id).await?;
        let tz: Tz = match patch.tz {
            Some(tz) => tz,
            None => task.tz.parse().unwrap_or(chrono_tz::UTC),
        };
        let (spec, once_at) = match &patch.when {
            Some(TaskWhen::Every(s)) => (Some(s.spec().to_string()), None),
            Some(TaskWhen::Once(at)) => (None, Some(*at)),
            None if task.every.is_empty() => (None, task.once_at),
            None => (Some(task.every.clone()), None),
        };
        let moved = patch.when.is_some() || patch.tz.is_some_and(|z| z.name() != task.tz);
        let now_ms = to_ms(now);
        in_tx!(self, |tx| {
            sqlx::query(
                "UPDATE tasks SET body = $1, spec = $2, tz = $3, about = $4, once_at = $5 WHERE id = $6",
            )
            .bind(patch.text.as_ref().unwrap_or(&task.text))
            .bind(&spec)
            .bind(tz.name())
            .bind(patch.about.as_ref().unwrap_or(&task.about))
            .bind(once_at.map(to_ms))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(policy) = patch.if_missed {
                sqlx::query("UPDATE tasks SET missed_policy = $1 WHERE id = $2")
                    .bind(policy.as_str())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            if moved {
                // Occurrences already recorded from now on (done or skipped early) are passed over.
                let taken: Vec<(i64,)> =
                    sqlx::query_as("SELECT due_at FROM task_occurrences WHERE task_id = $1 AND due_at >= $2")
                        .bind(id)
                        .bind(now_ms)
                        .fetch_all(&mut *tx)
                        .await?;
                let taken: std::collections::HashSet<i64> = taken.into_iter().map(|(t,)| t).collect();
                let first = match (&spec, once_at) {
                    (Some(spec), _) => {
                        let schedule = Schedule::parse(spec).map_err(|e| Error::Invalid(e.to_string()))?;
                        let mut at = schedule.next_after(now, tz);
                        let mut steps = 0;
                        while let Some(t) = at.filter(|t| taken.contains(&to_ms(*t)) && steps < 10_000) {
                            at = schedule.next_after(t, tz);
                            steps += 1;
                        }
                        Some(at.ok_or_else(|| {
                            Error::Invalid(format!("the schedule `{spec}` has no occurrence after now"))
                        })?)
                    }
                    (None, Some(at)) => Some(at).filter(|at| !taken.contains(&to_ms(*at))),
                    (None, None) => None,
                };
                sqlx::query("DELETE FROM schedule WHERE kind = 'task' AND ref_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if let Some(first) = first {
                    sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) VALUES ('task', $1, $2)")
                        .bind(id)
                        .bind(to_ms(first))
                        .execute(&mut *tx)
                        .await?;
                }
            }
        });
        self.task(id).await
    }

    /// Fails with a sentence when task `id` was removed: nothing of it waits.
    async fn check_not_removed(&self, id: i64) -> Result<()> {
        let removed: Option<(Option<i64>,)> =
            on_pool!(self, |p| sqlx::query_as("SELECT removed_at FROM tasks WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await)?;
        if let Some((Some(at),)) = removed {
            return Err(Error::FailedPrecondition(format!(
                "task {id} was removed on {}, so nothing of it waits to be done; its history stays in \
                 `clout review`, and `clout task list` shows the tasks you have",
                local_time(from_ms(at), self.program().await?.tz)
            )));
        }
        Ok(())
    }

    /// Marks the task's current occurrence `done` or `skipped`. Returns the
    /// task and the occurrence resolved.
    pub async fn resolve_task(
        &self,
        id: i64,
        state: &'static str,
        now: DateTime<Utc>,
    ) -> Result<(Task, DateTime<Utc>)> {
        self.check_not_removed(id).await?;
        let task = self.task(id).await?;
        let Some(current) = task.current_due_at else {
            let next = match task.next_due_at {
                Some(t) => format!(
                    "; its next occurrence is due {} (`clout task done {id} --next` marks that one done early)",
                    local_time(t, self.program().await?.tz)
                ),
                None => String::new(),
            };
            return Err(Error::FailedPrecondition(format!(
                "task {id} has no occurrence waiting to be done{next}"
            )));
        };
        on_pool!(self, |p| {
            sqlx::query(
            "UPDATE task_occurrences SET state = $1, resolved_at = $2 WHERE task_id = $3 AND due_at = $4 AND state = 'due'"
        )
        .bind(state)
        .bind(to_ms(now))
        .bind(id)
        .bind(to_ms(current))
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok((self.task(id).await?, current))
    }

    /// Marks the task's next occurrence `done` or `skipped` before it fires,
    /// and moves its schedule row on past it. Refused while an occurrence
    /// waits: that one is resolved first. Returns the task and the occurrence.
    pub async fn resolve_next(
        &self,
        id: i64,
        state: &'static str,
        now: DateTime<Utc>,
    ) -> Result<(Task, DateTime<Utc>)> {
        self.check_not_removed(id).await?;
        let task = self.task(id).await?;
        if let Some(current) = task.current_due_at {
            return Err(Error::FailedPrecondition(format!(
                "task {id} has an occurrence waiting since {}: `clout task done {id}` resolves that one first",
                local_time(current, self.program().await?.tz)
            )));
        }
        let Some(next) = task.next_due_at else {
            return Err(Error::FailedPrecondition(format!("task {id} has no occurrence left")));
        };
        let tz: Tz = task.tz.parse().unwrap_or(chrono_tz::UTC);
        let after = Schedule::parse(&task.every).ok().and_then(|s| s.next_after(next, tz));
        in_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO task_occurrences (task_id, due_at, state, fired_at, resolved_at, late) \
                 VALUES ($1, $2, $3, NULL, $4, 0) ON CONFLICT (task_id, due_at) DO NOTHING",
            )
            .bind(id)
            .bind(to_ms(next))
            .bind(state)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            match after {
                Some(at) => {
                    sqlx::query("UPDATE schedule SET due_at = $1 WHERE kind = 'task' AND ref_id = $2")
                        .bind(to_ms(at))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                }
                None => {
                    sqlx::query("DELETE FROM schedule WHERE kind = 'task' AND ref_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                }
            };
        });
        Ok((self.task(id).await?, next))
    }

    /// Upcoming task occurrences up to `until`, expanded from each task's next due time.
    pub async fn task_timeline(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<QueueItem>> {
        let rows: Vec<(i64, i64, String, Option<String>, String, String)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT t.id, s.due_at, t.body, t.spec, t.tz, t.about FROM schedule s \
             JOIN tasks t ON s.kind = 'task' AND t.id = s.ref_id WHERE s.due_at <= $1 ORDER BY s.due_at LIMIT $2"
        )
        .bind(to_ms(until))
        .bind(limit as i64)
        .fetch_all(p)
        .await
        })?;
        let mut out = Vec::new();
        for (id, due, body, spec, tz, about) in rows {
            let item = |at: DateTime<Utc>| QueueItem {
                kind: "task".into(),
                due_at: at,
                id,
                title: String::new(),
                text: body.clone(),
                about: about.clone(),
                slotted: false,
            };
            let mut at = from_ms(due);
            out.push(item(at));
            if let Some(s) = spec.as_deref().and_then(|s| Schedule::parse(s).ok()) {
                let tz: Tz = tz.parse().unwrap_or(chrono_tz::UTC);
                while let Some(n) = s.next_after(at, tz).filter(|&n| n <= until) {
                    if out.len() >= limit {
                        break;
                    }
                    out.push(item(n));
                    at = n;
                }
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        to_ms(chrono::TimeZone::with_ymd_and_hms(&Utc, y, m, d, h, 0, 0).single().expect("time"))
    }

    #[test]
    fn an_on_time_fire_schedules_the_next_occurrence() {
        let due = at(2030, 1, 7, 9);
        let p = plan_fire(Some("daily 09:00"), "UTC", due, due + 5);
        assert_eq!(p, FirePlan { fire_at: due, missed: vec![], next: Some(due + D) });
    }

    #[test]
    fn after_downtime_only_the_latest_occurrence_fires() {
        let due = at(2030, 1, 7, 9);
        let now = due + 3 * D + H; // three days later, 10:00
        let p = plan_fire(Some("daily 09:00"), "UTC", due, now);
        assert_eq!(p.fire_at, due + 3 * D);
        assert_eq!(p.missed, vec![due, due + D, due + 2 * D]);
        assert_eq!(p.next, Some(due + 4 * D));
    }

    #[test]
    fn a_one_off_task_fires_once() {
        let due = at(2030, 1, 7, 9);
        assert_eq!(
            plan_fire(None, "UTC", due, due + 10 * D),
            FirePlan { fire_at: due, missed: vec![], next: None }
        );
    }

    #[test]
    fn a_frequent_schedule_after_a_long_outage_stays_bounded() {
        let due = at(2030, 1, 1, 0);
        let now = due + 400 * D;
        let p = plan_fire(Some("* * * * *"), "UTC", due, now);
        assert!(p.fire_at <= now && p.fire_at > now - 2 * 60_000, "{p:?}");
        assert_eq!(p.missed.len(), MAX_MISSED_RECORDED);
        assert!(p.next.is_some_and(|n| n > now));
    }
}
