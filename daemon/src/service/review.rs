//! ReviewService: setbacks, lessons and the review of the program.

use chrono::{Duration, Utc};
use clout_proto::{from_ts, ts, v1};
use tonic::{Request, Response, Status};

use super::{Api, check_id, check_labels, invalid};
use crate::model::{Lesson, Purpose, Review, Setback};

/// Largest setback or lesson text, in bytes.
const MAX_NOTE_BYTES: usize = 8 * 1024;

fn check_note(what: &str, text: &str) -> Result<String, Status> {
    if text.trim().is_empty() {
        return Err(invalid(format!("the {what} is empty: say what happened")));
    }
    if text.len() > MAX_NOTE_BYTES {
        return Err(invalid(format!(
            "the {what} is {} bytes; the limit is {MAX_NOTE_BYTES} bytes",
            text.len()
        )));
    }
    if text.contains('\0') {
        return Err(invalid(format!("the {what} contains a NUL character")));
    }
    Ok(text.trim().to_string())
}

pub(crate) fn lesson_to_proto(l: Lesson) -> v1::Lesson {
    v1::Lesson {
        id: l.id,
        setback_id: l.setback_id,
        text: l.text,
        tags: l.tags,
        created_at: Some(ts(l.created_at)),
        next_at: l.next_at.map(ts),
        setback: l.setback,
    }
}

pub(crate) fn setback_to_proto(s: Setback) -> v1::Setback {
    v1::Setback {
        id: s.id,
        text: s.text,
        tags: s.tags,
        draft_id: s.draft_id,
        task_id: s.task_id,
        created_at: Some(ts(s.created_at)),
        lessons: s.lessons.into_iter().map(lesson_to_proto).collect(),
    }
}

fn review_to_proto(r: Review) -> v1::ReviewResponse {
    let days = r.days();
    v1::ReviewResponse {
        purpose: match r.program.purpose {
            Purpose::Learn => "learn",
            Purpose::Influence => "influence",
        }
        .into(),
        tz: r.program.tz.name().to_string(),
        since: Some(ts(r.since)),
        until: Some(ts(r.until)),
        days,
        posts_per_week_goal: r.program.posts_per_week,
        engagements_per_day_goal: r.program.engagements_per_day,
        posts_published: r.posts_published,
        posts_per_week: if days > 0.0 { f64::from(r.posts_published) * 7.0 / days } else { 0.0 },
        tasks_done: r.tasks_done,
        tasks_skipped: r.tasks_skipped,
        tasks_missed: r.tasks_missed,
        tasks_per_day: if days > 0.0 { f64::from(r.tasks_done) / days } else { 0.0 },
        current_streak_weeks: r.current_streak_weeks,
        best_streak_weeks: r.best_streak_weeks,
        consistency: r.consistency,
        queue_days_ahead: r
            .queue_covered_until
            .map(|t| {
                (t.with_timezone(&r.program.tz).date_naive()
                    - r.until.with_timezone(&r.program.tz).date_naive())
                .num_days()
                .max(0) as u32
            })
            .unwrap_or(0),
        queue_covered_until: r.queue_covered_until.map(ts),
        queued_posts: r.queued_posts,
        overdue: r
            .overdue
            .into_iter()
            .map(|o| v1::OverdueItem {
                kind: o.kind.into(),
                id: o.id,
                text: o.text,
                due_at: Some(ts(o.due_at)),
            })
            .collect(),
        setbacks: r.setbacks.into_iter().map(setback_to_proto).collect(),
        lessons: r.lessons.into_iter().map(lesson_to_proto).collect(),
        activity: r
            .activity
            .into_iter()
            .map(|a| v1::DayActivity {
                date: a.date.format("%Y-%m-%d").to_string(),
                posts: a.posts,
                tasks: a.tasks,
            })
            .collect(),
        // Filled in by the ReviewService from the drafts and slots.
        unscheduled_draft_id: 0,
        unscheduled_draft: String::new(),
        slots: 0,
    }
}

#[tonic::async_trait]
impl v1::review_service_server::ReviewService for Api {
    async fn add_setback(
        &self,
        req: Request<v1::AddSetbackRequest>,
    ) -> Result<Response<v1::Setback>, Status> {
        let r = req.into_inner();
        let text = check_note("setback", &r.text)?;
        let lesson = if r.lesson.trim().is_empty() { None } else { Some(check_note("lesson", &r.lesson)?) };
        let tags = check_labels("tag", &r.tags)?;
        if r.draft_id.is_some() && r.task_id.is_some() {
            return Err(invalid("a setback is about a draft or a task, not both"));
        }
        let draft_id = r.draft_id.map(check_id).transpose()?;
        let task_id = r.task_id.map(check_id).transpose()?;
        let s = self
            .core
            .store
            .add_setback(&text, &tags, draft_id, task_id, lesson.as_deref(), Utc::now())
            .await?;
        self.core.changed();
        self.core.nudged().await?;
        Ok(Response::new(setback_to_proto(s)))
    }

    async fn add_lesson(&self, req: Request<v1::AddLessonRequest>) -> Result<Response<v1::Lesson>, Status> {
        let r = req.into_inner();
        let id = check_id(r.setback_id)?;
        let text = check_note("lesson", &r.text)?;
        let l = self.core.store.add_lesson(id, &text, Utc::now()).await?;
        self.core.changed();
        Ok(Response::new(lesson_to_proto(l)))
    }

    async fn list_lessons(
        &self,
        req: Request<v1::ListLessonsRequest>,
    ) -> Result<Response<v1::ListLessonsResponse>, Status> {
        let r = req.into_inner();
        if r.search.len() > 1024 || r.tag.len() > 64 {
            return Err(invalid("the search (at most 1024 bytes) or the tag (at most 64 bytes) is too long"));
        }
        let lessons = self.core.store.lessons(&r.tag, &r.search).await?;
        Ok(Response::new(v1::ListLessonsResponse {
            lessons: lessons.into_iter().map(lesson_to_proto).collect(),
        }))
    }

    async fn list_setbacks(
        &self,
        req: Request<v1::ListSetbacksRequest>,
    ) -> Result<Response<v1::ListSetbacksResponse>, Status> {
        let since = match req.into_inner().since.as_ref() {
            Some(t) => from_ts(t).ok_or_else(|| invalid("since is out of range"))?,
            None => chrono::DateTime::<Utc>::MIN_UTC,
        };
        let setbacks = self.core.store.setbacks_since(since).await?;
        Ok(Response::new(v1::ListSetbacksResponse {
            setbacks: setbacks.into_iter().map(setback_to_proto).collect(),
        }))
    }

    async fn review(&self, req: Request<v1::ReviewRequest>) -> Result<Response<v1::ReviewResponse>, Status> {
        let r = req.into_inner();
        let until = match r.until.as_ref() {
            Some(t) => from_ts(t).ok_or_else(|| invalid("until is out of range"))?,
            None => Utc::now(),
        };
        let since = match r.since.as_ref() {
            Some(t) => from_ts(t).ok_or_else(|| invalid("since is out of range"))?,
            None => until - Duration::days(7),
        };
        if since >= until {
            return Err(invalid("the review period is empty: since must be before until"));
        }
        if until - since > Duration::days(366 * 20) {
            return Err(invalid("the review period is longer than 20 years"));
        }
        let heatmap_days = if r.heatmap_days == 0 { 182 } else { r.heatmap_days.min(3660) };
        let store = &self.core.store;
        let review = store.review(since, until, heatmap_days).await?;
        let unscheduled = store.list_drafts(&[crate::model::DraftState::Draft]).await?.into_iter().next();
        let slots = u32::try_from(store.slots().await?.len()).unwrap_or(u32::MAX);
        Ok(Response::new(v1::ReviewResponse {
            unscheduled_draft_id: unscheduled.as_ref().map_or(0, |d| d.id),
            unscheduled_draft: unscheduled.map(|d| d.label()).unwrap_or_default(),
            slots,
            ..review_to_proto(review)
        }))
    }
}

/// Largest import document accepted, in bytes.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

#[tonic::async_trait]
impl v1::backup_service_server::BackupService for Api {
    async fn export(&self, _req: Request<v1::ExportRequest>) -> Result<Response<v1::ExportResponse>, Status> {
        let doc = self.core.store.export().await?;
        let json = serde_json::to_string_pretty(&doc)
            .map_err(|e| Status::internal(format!("cannot write JSON: {e}")))?;
        Ok(Response::new(v1::ExportResponse { json }))
    }

    async fn import(&self, req: Request<v1::ImportRequest>) -> Result<Response<v1::ImportResponse>, Status> {
        let peer = super::Peer::of(&req);
        let text = req.into_inner().json;
        let doc: crate::store::backup::Document = serde_json::from_str(&text)
            .map_err(|e| invalid(format!("the import file is not a Clout export: {e}")))?;
        // An imported account's secret file is read as cloutd's user, like one named by AddAccount.
        if doc.accounts.iter().any(|a| !a.secret_file.trim().is_empty()) {
            super::SECRET_FILE.check(peer)?;
        }
        let (added, skipped) = self.core.store.import(&doc).await?;
        self.core.changed();
        Ok(Response::new(v1::ImportResponse { added, skipped }))
    }
}
