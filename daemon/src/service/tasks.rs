//! TaskService: engagement tasks and their occurrences.

use clout_proto::{ts, v1};
use tonic::{Request, Response, Status};

use super::program::{check_handle, parse_schedule, parse_zone};
use super::{Api, check_id, check_text, check_time, invalid};
use crate::model::{NewTask, Task, TaskPatch, TaskWhen};

/// Largest task text accepted, in bytes.
const MAX_TASK_BYTES: usize = 4096;

fn task_to_proto(t: Task) -> v1::Task {
    v1::Task {
        id: t.id,
        text: t.text,
        every: t.every,
        tz: t.tz,
        about: t.about,
        once_at: t.once_at.map(ts),
        next_due_at: t.next_due_at.map(ts),
        current_due_at: t.current_due_at.map(ts),
        done: t.done,
        skipped: t.skipped,
        missed: t.missed,
        created_at: Some(ts(t.created_at)),
        resolved_due_at: None,
    }
}

impl Api {
    async fn resolve(
        &self,
        r: v1::ResolveTaskRequest,
        state: &'static str,
    ) -> Result<Response<v1::Task>, Status> {
        let id = check_id(r.id)?;
        let store = &self.core.store;
        let (task, occurrence) = if r.next {
            store.resolve_next(id, state, crate::clock::now()).await?
        } else {
            store.resolve_task(id, state, crate::clock::now()).await?
        };
        if r.next {
            self.core.changed();
        }
        Ok(Response::new(v1::Task { resolved_due_at: Some(ts(occurrence)), ..task_to_proto(task) }))
    }

    async fn zone_or_program(&self, tz: &str) -> Result<chrono_tz::Tz, Status> {
        if tz.trim().is_empty() { Ok(self.core.store.program().await?.tz) } else { parse_zone(tz.trim()) }
    }
}

#[tonic::async_trait]
impl v1::task_service_server::TaskService for Api {
    async fn add_task(&self, req: Request<v1::AddTaskRequest>) -> Result<Response<v1::Task>, Status> {
        let r = req.into_inner();
        if r.text.len() > MAX_TASK_BYTES {
            return Err(invalid(format!(
                "the task text is {} bytes; the limit is {MAX_TASK_BYTES} bytes",
                r.text.len()
            )));
        }
        let text = check_text(&r.text)?;
        let now = crate::clock::now();
        let (every, once_at) = match (r.every.trim().is_empty(), r.once_at.as_ref()) {
            (false, None) => (Some(parse_schedule(&r.every)?), None),
            (true, Some(t)) => (None, Some(check_time(Some(t), now)?)),
            (false, Some(_)) => {
                return Err(invalid("give either a schedule (--every) or a time (--once), not both"));
            }
            (true, None) => {
                return Err(invalid("give a schedule (--every \"weekdays 10:00\") or a time (--once WHEN)"));
            }
        };
        let about = if r.about.trim().is_empty() { String::new() } else { check_handle(&r.about)? };
        let if_missed = super::parse_missed(&r.if_missed)?;
        let task = NewTask { text, every, once_at, tz: self.zone_or_program(&r.tz).await?, about, if_missed };
        let t = self.core.store.add_task(&task, now).await?;
        self.core.changed();
        Ok(Response::new(task_to_proto(t)))
    }

    async fn update_task(&self, req: Request<v1::UpdateTaskRequest>) -> Result<Response<v1::Task>, Status> {
        let r = req.into_inner();
        let id = check_id(r.id)?;
        let text = match r.text.as_deref() {
            Some(t) if t.len() > MAX_TASK_BYTES => {
                return Err(invalid(format!(
                    "the task text is {} bytes; the limit is {MAX_TASK_BYTES} bytes",
                    t.len()
                )));
            }
            Some(t) => Some(check_text(t)?),
            None => None,
        };
        let now = crate::clock::now();
        let when = match (r.every.as_deref(), r.once_at.as_ref()) {
            (Some(_), Some(_)) => {
                return Err(invalid("give either a schedule (--every) or a time (--once), not both"));
            }
            (Some(every), None) => Some(TaskWhen::Every(parse_schedule(every)?)),
            (None, Some(t)) => Some(TaskWhen::Once(check_time(Some(t), now)?)),
            (None, None) => None,
        };
        let tz = match r.tz.as_deref() {
            Some(tz) if tz.trim().is_empty() => Some(self.core.store.program().await?.tz),
            Some(tz) => Some(parse_zone(tz.trim())?),
            None => None,
        };
        let about = match r.about.as_deref() {
            Some(a) if a.trim().is_empty() => Some(String::new()),
            Some(a) => Some(check_handle(a)?),
            None => None,
        };
        let if_missed = match r.if_missed.as_deref() {
            Some(m) => super::parse_missed(m)?,
            None => None,
        };
        if text.is_none() && when.is_none() && tz.is_none() && about.is_none() && if_missed.is_none() {
            return Err(invalid(
                "nothing to change: give a new text, --every, --once, --tz, --about or --if-missed",
            ));
        }
        let patch = TaskPatch { text, when, tz, about, if_missed };
        let t = self.core.store.update_task(id, &patch, now).await?;
        self.core.changed();
        Ok(Response::new(task_to_proto(t)))
    }

    async fn list_tasks(
        &self,
        _req: Request<v1::ListTasksRequest>,
    ) -> Result<Response<v1::ListTasksResponse>, Status> {
        let tasks = self.core.store.tasks().await?.into_iter().map(task_to_proto).collect();
        Ok(Response::new(v1::ListTasksResponse { tasks }))
    }

    async fn remove_task(
        &self,
        req: Request<v1::RemoveTaskRequest>,
    ) -> Result<Response<v1::RemoveTaskResponse>, Status> {
        self.core.store.remove_task(check_id(req.into_inner().id)?, crate::clock::now()).await?;
        self.core.changed();
        Ok(Response::new(v1::RemoveTaskResponse {}))
    }

    async fn done_task(&self, req: Request<v1::ResolveTaskRequest>) -> Result<Response<v1::Task>, Status> {
        self.resolve(req.into_inner(), "done").await
    }

    async fn skip_task(&self, req: Request<v1::ResolveTaskRequest>) -> Result<Response<v1::Task>, Status> {
        self.resolve(req.into_inner(), "skipped").await
    }

    async fn preview_schedule(
        &self,
        req: Request<v1::PreviewScheduleRequest>,
    ) -> Result<Response<v1::PreviewScheduleResponse>, Status> {
        let r = req.into_inner();
        let schedule = parse_schedule(&r.every)?;
        let tz = self.zone_or_program(&r.tz).await?;
        let count = r.count.clamp(1, 100) as usize;
        let next = schedule.upcoming(crate::clock::now(), tz, count).into_iter().map(ts).collect();
        Ok(Response::new(v1::PreviewScheduleResponse { tz: tz.name().to_string(), next }))
    }
}
