//! Setbacks and lessons, and the review of the program: goals against what happened.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{Pool, Store, json_list};
use crate::error::{Error, Result};
use crate::model::{DayActivity, Lesson, OverdueItem, Review, Setback, from_ms, to_ms};

/// Days after which a lesson comes back, by stage; the last one repeats ("then rarely").
pub const RESURFACE_DAYS: [i64; 4] = [1, 7, 30, 180];

/// When a lesson at `stage` resurfaces after `from_ms`.
pub fn resurface_after(stage: i64, from_ms: i64) -> i64 {
    let i = usize::try_from(stage).unwrap_or(0).min(RESURFACE_DAYS.len() - 1);
    from_ms + RESURFACE_DAYS[i] * 86_400_000
}

pub fn lesson_message(lesson: &str, setback: &str) -> String {
    format!(
        "Lesson: {} (from the setback \u{201c}{}\u{201d})",
        crate::model::label("", lesson),
        crate::model::label("", setback)
    )
}

/// Lessons whose tags meet `tags`, newest first: "Last time: …" lines.
pub fn last_time(tags: &[String], lessons: &[(String, String)]) -> Vec<String> {
    if tags.is_empty() {
        return Vec::new();
    }
    lessons
        .iter()
        .filter(|(_, ltags)| {
            let ltags: Vec<String> = serde_json::from_str(ltags).unwrap_or_default();
            ltags.iter().any(|t| tags.contains(t))
        })
        .take(3)
        .map(|(body, _)| format!("Last time: {}", crate::model::label("", body)))
        .collect()
}

/// The query behind [`last_time`]: recent lessons of tagged setbacks.
pub const TAGGED_LESSONS: &str = "SELECT l.body, s.tags FROM lessons l JOIN setbacks s ON s.id = l.setback_id \
     WHERE s.tags <> '[]' ORDER BY l.id DESC LIMIT 500";

#[derive(sqlx::FromRow)]
struct LessonRow {
    id: i64,
    setback_id: i64,
    body: String,
    created_at: i64,
    tags: String,
    setback: String,
    next_at: Option<i64>,
}

impl From<LessonRow> for Lesson {
    fn from(r: LessonRow) -> Self {
        Lesson {
            id: r.id,
            setback_id: r.setback_id,
            text: r.body,
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            created_at: from_ms(r.created_at),
            next_at: r.next_at.map(from_ms),
            setback: r.setback,
        }
    }
}

const SELECT_LESSONS: &str = "SELECT l.id, l.setback_id, l.body, l.created_at, s.tags, s.body AS setback, \
     (SELECT sc.due_at FROM schedule sc WHERE sc.kind = 'lesson' AND sc.ref_id = l.id) AS next_at \
     FROM lessons l JOIN setbacks s ON s.id = l.setback_id";

#[derive(sqlx::FromRow)]
struct SetbackRow {
    id: i64,
    body: String,
    tags: String,
    draft_id: Option<i64>,
    task_id: Option<i64>,
    created_at: i64,
}

/// The Monday that starts the week of `d`.
fn week_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// Current and best runs of consecutive weeks with at least `goal` posts.
/// The running week counts once it meets the goal, and does not break a run before it does.
pub fn streaks(per_week: &BTreeMap<NaiveDate, u32>, goal: u32, this_week: NaiveDate) -> (u32, u32) {
    if goal == 0 {
        return (0, 0);
    }
    let Some(first) = per_week.keys().next().copied() else { return (0, 0) };
    let (mut best, mut run) = (0u32, 0u32);
    let mut week = first;
    let mut current = 0;
    while week <= this_week {
        let met = per_week.get(&week).copied().unwrap_or(0) >= goal;
        if met {
            run += 1;
            best = best.max(run);
        } else if week != this_week {
            run = 0;
        }
        current = run;
        week += Duration::days(7);
    }
    (current, best)
}

/// The consistency score, 0 to 100 (documented in the README):
/// the mean of the goal parts that exist — posts published against the posting
/// goal for the period, tasks done against the engagement goal — each capped
/// at 100 %. Without goals: the share of the period's task occurrences that were done.
pub fn consistency(r: &Review) -> u32 {
    let days = r.days();
    let mut parts = Vec::new();
    if r.program.posts_per_week > 0 && days > 0.0 {
        let want = f64::from(r.program.posts_per_week) * days / 7.0;
        parts.push((f64::from(r.posts_published) / want).min(1.0));
    }
    if r.program.engagements_per_day > 0 && days > 0.0 {
        let want = f64::from(r.program.engagements_per_day) * days;
        parts.push((f64::from(r.tasks_done) / want).min(1.0));
    }
    if parts.is_empty() {
        let all = r.tasks_done + r.tasks_skipped + r.tasks_missed;
        if all == 0 {
            return 0;
        }
        parts.push(f64::from(r.tasks_done) / f64::from(all));
    }
    (100.0 * parts.iter().sum::<f64>() / parts.len() as f64).round() as u32
}

fn local_date(ms: i64, tz: Tz) -> NaiveDate {
    from_ms(ms).with_timezone(&tz).date_naive()
}

impl Store {
    /// Records a setback (and its lesson, if given) in one transaction.
    pub async fn add_setback(
        &self,
        text: &str,
        tags: &[String],
        draft_id: Option<i64>,
        task_id: Option<i64>,
        lesson: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Setback> {
        let now_ms = to_ms(now);
        let id: i64 = in_tx!(self, |tx| {
            if let Some(d) = draft_id {
                let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM drafts WHERE id = $1")
                    .bind(d)
                    .fetch_optional(&mut *tx)
                    .await?;
                found.ok_or(Error::NotFound { what: "draft", id: d })?;
            }
            if let Some(t) = task_id {
                let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM tasks WHERE id = $1")
                    .bind(t)
                    .fetch_optional(&mut *tx)
                    .await?;
                found.ok_or(Error::NotFound { what: "task", id: t })?;
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO setbacks (body, tags, draft_id, task_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(text)
            .bind(json_list(tags))
            .bind(draft_id)
            .bind(task_id)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(lesson) = lesson {
                insert_lesson!(tx, id, lesson, now_ms);
            }
            // On-setback hooks: the log records the setback too.
            let n = crate::model::Nudge {
                id: 0,
                kind: "setback".into(),
                message: format!("Setback recorded: {}", crate::model::label("", text)),
                due_at: now,
                fired_at: now,
                draft_id,
                task_id,
                late: false,
            };
            let _ = insert_nudge!(tx, n, format!("setback:{id}"));
            id
        });
        self.setback(id).await
    }

    pub async fn add_lesson(&self, setback_id: i64, text: &str, now: DateTime<Utc>) -> Result<Lesson> {
        let now_ms = to_ms(now);
        let id: i64 = in_tx!(self, |tx| {
            let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM setbacks WHERE id = $1")
                .bind(setback_id)
                .fetch_optional(&mut *tx)
                .await?;
            found.ok_or(Error::NotFound { what: "setback", id: setback_id })?;
            insert_lesson!(tx, setback_id, text, now_ms)
        });
        let sql = format!("{SELECT_LESSONS} WHERE l.id = $1");
        let row: LessonRow =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_one(p).await)?;
        Ok(row.into())
    }

    async fn setback(&self, id: i64) -> Result<Setback> {
        let mut all = self.setbacks_where(Some(id), None).await?;
        all.pop().ok_or(Error::NotFound { what: "setback", id })
    }

    async fn setbacks_where(&self, id: Option<i64>, since: Option<i64>) -> Result<Vec<Setback>> {
        let rows: Vec<SetbackRow> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id, body, tags, draft_id, task_id, created_at FROM setbacks \
             WHERE ($1 = 0 OR id = $1) AND created_at >= $2 ORDER BY id"
        )
        .bind(id.unwrap_or(0))
        .bind(since.unwrap_or(i64::MIN))
        .fetch_all(p)
        .await)?;
        let lessons = self.lessons("", "").await?;
        let mut by_setback: HashMap<i64, Vec<Lesson>> = HashMap::new();
        for l in lessons {
            by_setback.entry(l.setback_id).or_default().push(l);
        }
        Ok(rows
            .into_iter()
            .map(|r| Setback {
                id: r.id,
                text: r.body,
                tags: serde_json::from_str(&r.tags).unwrap_or_default(),
                draft_id: r.draft_id,
                task_id: r.task_id,
                created_at: from_ms(r.created_at),
                lessons: by_setback.remove(&r.id).unwrap_or_default(),
            })
            .collect())
    }

    pub async fn setbacks_since(&self, since: DateTime<Utc>) -> Result<Vec<Setback>> {
        self.setbacks_where(None, Some(to_ms(since))).await
    }

    /// Lessons, oldest first, filtered by a tag and by words (all must appear).
    pub async fn lessons(&self, tag: &str, search: &str) -> Result<Vec<Lesson>> {
        let sql = format!("{SELECT_LESSONS} ORDER BY l.id");
        let rows: Vec<LessonRow> =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await)?;
        let tag = tag.trim().trim_start_matches('#').to_lowercase();
        let words: Vec<String> = search.split_whitespace().map(str::to_lowercase).collect();
        Ok(rows
            .into_iter()
            .map(Lesson::from)
            .filter(|l| tag.is_empty() || l.tags.contains(&tag))
            .filter(|l| {
                let hay = format!("{} {}", l.text, l.setback).to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect())
    }

    /// "Last time: …" lines for a draft with these tags.
    pub async fn last_time(&self, tags: &[String]) -> Result<Vec<String>> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let lessons: Vec<(String, String)> =
            on_pool!(self, |p| sqlx::query_as(TAGGED_LESSONS).fetch_all(p).await)?;
        Ok(last_time(tags, &lessons))
    }

    /// The review of `[since, until)`, with streaks and the heatmap over all history.
    /// When the program began: the first draft, task, slot, follow or
    /// setback; `None` while there is none.
    pub async fn program_started(&self) -> Result<Option<DateTime<Utc>>> {
        let (ms,): (Option<i64>,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT MIN(t) FROM (SELECT MIN(created_at) AS t FROM drafts \
             UNION ALL SELECT MIN(created_at) FROM tasks UNION ALL SELECT MIN(created_at) FROM slots \
             UNION ALL SELECT MIN(created_at) FROM follows UNION ALL SELECT MIN(created_at) FROM setbacks) m"
        )
        .fetch_one(p)
        .await)?;
        Ok(ms.map(from_ms))
    }

    pub async fn review(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        heatmap_days: u32,
    ) -> Result<Review> {
        let program = self.program().await?;
        let tz = program.tz;
        // A new program is not scored against days before it existed.
        let since = match self.program_started().await? {
            Some(start) if start > since && start < until => start,
            _ => since,
        };
        let (s_ms, u_ms) = (to_ms(since), to_ms(until));
        let published: Vec<(i64,)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT published_at FROM drafts WHERE state IN ('published', 'partial') AND published_at IS NOT NULL"
        )
        .fetch_all(p)
        .await
        })?;
        let done: Vec<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT resolved_at FROM task_occurrences WHERE state = 'done' AND resolved_at IS NOT NULL"
        )
        .fetch_all(p)
        .await)?;
        let states: Vec<(String, i64)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT state, COUNT(*) FROM task_occurrences WHERE due_at >= $1 AND due_at < $2 GROUP BY state"
        )
        .bind(s_ms)
        .bind(u_ms)
        .fetch_all(p)
        .await
        })?;
        let (queue_last, queued): (Option<i64>, i64) = on_pool!(self, |p| sqlx::query_as(
            "SELECT MAX(due_at), COUNT(*) FROM schedule WHERE kind = 'post'"
        )
        .fetch_one(p)
        .await)?;
        let due_posts: Vec<(i64, String, String, i64)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT id, title, body, COALESCE(scheduled_at, fired_at, 0) FROM drafts WHERE state = 'due' ORDER BY 4"
        )
        .fetch_all(p)
        .await
        })?;
        let due_tasks: Vec<(i64, String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT t.id, t.body, o.due_at FROM task_occurrences o JOIN tasks t ON t.id = o.task_id \
             WHERE o.state = 'due' AND t.removed_at IS NULL ORDER BY o.due_at"
        )
        .fetch_all(p)
        .await)?;

        let in_period = |ms: &i64| *ms >= s_ms && *ms < u_ms;
        let posts_published = published.iter().filter(|(t,)| in_period(t)).count() as u32;
        let tasks_done = done.iter().filter(|(t,)| in_period(t)).count() as u32;
        let count = |s: &str| states.iter().find(|(k, _)| k == s).map(|(_, n)| *n as u32).unwrap_or(0);

        // Per week (streaks) and per day (heatmap), in the program's zone.
        let today = until.with_timezone(&tz).date_naive();
        let first_day = today - Duration::days(i64::from(heatmap_days.max(1)) - 1);
        let mut per_week: BTreeMap<NaiveDate, u32> = BTreeMap::new();
        let mut per_day: BTreeMap<NaiveDate, (u32, u32)> = BTreeMap::new();
        for (t,) in &published {
            let d = local_date(*t, tz);
            *per_week.entry(week_of(d)).or_default() += 1;
            if d >= first_day && d <= today {
                per_day.entry(d).or_default().0 += 1;
            }
        }
        let heat_from = to_ms(since.min(until - Duration::days(i64::from(heatmap_days) + 1)));
        for (t,) in done.iter().filter(|(t,)| *t >= heat_from) {
            let d = local_date(*t, tz);
            if d >= first_day && d <= today {
                per_day.entry(d).or_default().1 += 1;
            }
        }
        let (current_streak_weeks, best_streak_weeks) =
            streaks(&per_week, program.posts_per_week, week_of(today));
        let activity = (0..heatmap_days.max(1))
            .map(|i| {
                let date = first_day + Duration::days(i64::from(i));
                let (posts, tasks) = per_day.get(&date).copied().unwrap_or((0, 0));
                DayActivity { date, posts, tasks }
            })
            .collect();

        let mut overdue: Vec<OverdueItem> = due_posts
            .into_iter()
            .map(|(id, title, body, at)| OverdueItem {
                kind: "post",
                id,
                text: crate::model::label(&title, &body),
                due_at: from_ms(at),
            })
            .collect();
        overdue.extend(due_tasks.into_iter().map(|(id, body, at)| OverdueItem {
            kind: "task",
            id,
            text: crate::model::label("", &body),
            due_at: from_ms(at),
        }));
        overdue.sort_by_key(|o| o.due_at);

        let setbacks =
            self.setbacks_since(since).await?.into_iter().filter(|s| s.created_at < until).collect();
        let lessons = self
            .lessons("", "")
            .await?
            .into_iter()
            .filter(|l| l.created_at >= since && l.created_at < until)
            .collect();
        let changes = self.stage_changes().await?;
        let stage_since = changes.last().map(|c| c.at);
        let stage_changes = changes.into_iter().filter(|c| c.at >= since && c.at < until).collect();
        let follows_added = self
            .follows()
            .await?
            .into_iter()
            .filter(|f| f.created_at >= since && f.created_at < until)
            .collect();
        let mut r = Review {
            program,
            since,
            until,
            posts_published,
            tasks_done,
            tasks_skipped: count("skipped"),
            tasks_missed: count("missed"),
            current_streak_weeks,
            best_streak_weeks,
            consistency: 0,
            queue_covered_until: queue_last.map(from_ms),
            queued_posts: queued.max(0) as u32,
            overdue,
            setbacks,
            lessons,
            activity,
            stage_changes,
            stage_since,
            follows_added,
        };
        r.consistency = consistency(&r);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn streaks_count_consecutive_weeks_that_meet_the_goal() {
        // Weeks starting Mondays 2030-01-07, 14, 21, 28, Feb 4.
        let mut w = BTreeMap::new();
        w.insert(d(2030, 1, 7), 3);
        w.insert(d(2030, 1, 14), 3);
        w.insert(d(2030, 1, 21), 1);
        w.insert(d(2030, 1, 28), 4);
        assert_eq!(streaks(&w, 3, d(2030, 1, 28)), (1, 2));
        // The running week has not met the goal yet: the run before it still counts.
        assert_eq!(streaks(&w, 3, d(2030, 2, 4)), (1, 2));
        // A full missed week breaks it.
        assert_eq!(streaks(&w, 3, d(2030, 2, 11)), (0, 2));
        assert_eq!(streaks(&w, 0, d(2030, 2, 11)), (0, 0));
        assert_eq!(week_of(d(2030, 1, 13)), d(2030, 1, 7));
    }

    #[test]
    fn lessons_resurface_on_a_spaced_schedule() {
        let day = 86_400_000;
        assert_eq!(resurface_after(0, 0), day);
        assert_eq!(resurface_after(1, 0), 7 * day);
        assert_eq!(resurface_after(2, 0), 30 * day);
        assert_eq!(resurface_after(3, 0), 180 * day);
        assert_eq!(resurface_after(9, 0), 180 * day);
    }

    #[test]
    fn last_time_matches_tags() {
        let lessons = vec![
            ("Post threads in the morning".to_string(), "[\"threads\"]".to_string()),
            ("Never argue in replies".to_string(), "[\"replies\",\"tone\"]".to_string()),
        ];
        assert_eq!(
            last_time(&["tone".into()], &lessons),
            vec!["Last time: Never argue in replies".to_string()]
        );
        assert!(last_time(&["other".into()], &lessons).is_empty());
        assert!(last_time(&[], &lessons).is_empty());
    }
}
