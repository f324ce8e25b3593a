//! ReviewService: setbacks, lessons and the review of the program.

use chrono::{Duration, Utc};
use clout_proto::{from_ts, ts, v1};
use tonic::{Request, Response, Status};

use super::{Api, check_id, check_labels, invalid};
use crate::model::results::{Counts, Group, PostResult, summarize};
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
        stage_changes: r
            .stage_changes
            .into_iter()
            .map(|c| v1::StageChange {
                from: c.from.as_str().into(),
                to: c.to.as_str().into(),
                changed_at: Some(ts(c.at)),
            })
            .collect(),
        stage_since: r.stage_since.map(ts),
        follows_added: r.follows_added.into_iter().map(super::program::follow_to_proto).collect(),
        // Filled in by the ReviewService from the drafts and slots.
        unscheduled_draft_id: 0,
        unscheduled_draft: String::new(),
        slots: 0,
        results: None,
    }
}

impl Api {
    /// A setback's text and tags from a published draft: what it was, and
    /// how it did (the latest counts of each of its posts).
    /// The review's results: the period against the one before it, the
    /// best post, and the weekday-and-hour slots that worked best.
    async fn review_results(
        &self,
        since: chrono::DateTime<Utc>,
        until: chrono::DateTime<Utc>,
    ) -> Result<v1::ReviewResults, Status> {
        use chrono::Timelike;
        let store = &self.core.store;
        let tz = store.program().await?.tz;
        let before = since - (until - since);
        let all = store.post_results(before).await?;
        let (now, prev): (Vec<PostResult>, Vec<PostResult>) =
            all.into_iter().filter(|p| p.published_at < until).partition(|p| p.published_at >= since);
        let this = summarize(&now, tz);
        let last = summarize(&prev, tz);
        let mut slots: Vec<Group> = Vec::new();
        for p in now.iter().filter(|p| p.latest.is_some()) {
            let local = p.published_at.with_timezone(&tz);
            let key = format!("{} {:02}:00", local.format("%a"), local.hour());
            let e = p.counts().engagement();
            match slots.iter_mut().find(|g| g.key == key) {
                Some(g) => {
                    g.posts += 1;
                    g.engagement += e;
                }
                None => slots.push(Group { key, posts: 1, engagement: e }),
            }
        }
        slots.sort_by(|a, b| b.mean().total_cmp(&a.mean()).then_with(|| a.key.cmp(&b.key)));
        slots.truncate(3);
        let best = this.best.and_then(|id| now.iter().find(|p| p.id == id).cloned());
        Ok(v1::ReviewResults {
            posts: this.measured,
            engagement: this.totals.engagement(),
            previous_posts: last.measured,
            previous_engagement: last.totals.engagement(),
            best: best.map(post_result_to_proto),
            slots: slots.iter().map(group_to_proto).collect(),
        })
    }

    async fn setback_of_draft(&self, id: i64, given: &str) -> Result<(String, Vec<String>), Status> {
        let store = &self.core.store;
        let draft = store.get_draft(id).await?;
        let published = draft.published_at.ok_or_else(|| {
            Status::failed_precondition(format!(
                "draft {id} is {}, not published: a setback from a draft learns from how a post did",
                draft.state.as_str()
            ))
        })?;
        let results: Vec<PostResult> =
            store.post_results(published).await?.into_iter().filter(|p| p.draft_id == id).collect();
        let mut text = if given.trim().is_empty() {
            format!("\u{201c}{}\u{201d} did not do well", draft.label())
        } else {
            given.trim().to_string()
        };
        let evidence: Vec<String> = results
            .iter()
            .filter_map(|p| {
                let c = p.latest?.counts;
                let mut s = format!("{} likes, {} reposts, {} replies", c.likes, c.reposts, c.replies);
                if let Some(q) = c.quotes {
                    s.push_str(&format!(", {q} quotes"));
                }
                let on =
                    if p.account.is_empty() { p.network.as_str().to_string() } else { p.account.clone() };
                Some(format!("{s} on {on}"))
            })
            .collect();
        if !evidence.is_empty() {
            text.push_str(&format!(" ({})", evidence.join("; ")));
        }
        Ok((text, draft.tags))
    }
}

#[tonic::async_trait]
impl v1::review_service_server::ReviewService for Api {
    async fn add_setback(
        &self,
        req: Request<v1::AddSetbackRequest>,
    ) -> Result<Response<v1::Setback>, Status> {
        let mut r = req.into_inner();
        if let Some(from) = r.from_draft {
            if r.task_id.is_some() || r.draft_id.is_some_and(|d| d != from) {
                return Err(invalid(
                    "--from-draft names the draft the setback is about: leave out --draft and --task",
                ));
            }
            let from = check_id(from)?;
            let (text, tags) = self.setback_of_draft(from, &r.text).await?;
            r.text = text;
            if r.tags.is_empty() {
                r.tags = tags;
            }
            r.draft_id = Some(from);
        }
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
            .add_setback(&text, &tags, draft_id, task_id, lesson.as_deref(), crate::clock::now())
            .await?;
        self.core.changed();
        self.core.nudged().await?;
        Ok(Response::new(setback_to_proto(s)))
    }

    async fn add_lesson(&self, req: Request<v1::AddLessonRequest>) -> Result<Response<v1::Lesson>, Status> {
        let r = req.into_inner();
        let id = check_id(r.setback_id)?;
        let text = check_note("lesson", &r.text)?;
        let l = self.core.store.add_lesson(id, &text, crate::clock::now()).await?;
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
            None => crate::clock::now(),
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
        let results = self.review_results(since, until).await?;
        Ok(Response::new(v1::ReviewResponse {
            results: Some(results),
            unscheduled_draft_id: unscheduled.as_ref().map_or(0, |d| d.id),
            unscheduled_draft: unscheduled.map(|d| d.label()).unwrap_or_default(),
            slots,
            ..review_to_proto(review)
        }))
    }

    async fn results(
        &self,
        req: Request<v1::ResultsRequest>,
    ) -> Result<Response<v1::ResultsResponse>, Status> {
        let r = req.into_inner();
        let days = if r.days == 0 { 30 } else { r.days };
        if days > 3660 {
            return Err(invalid(format!("--days {days} is more than 10 years: give at most 3660")));
        }
        let since = crate::clock::now() - Duration::days(i64::from(days));
        let store = &self.core.store;
        let tz = store.program().await?.tz;
        let posts = store.post_results(since).await?;
        let summary = summarize(&posts, tz);
        let mut out: Vec<v1::PostResult> = posts.into_iter().map(post_result_to_proto).collect();
        out.reverse();
        Ok(Response::new(v1::ResultsResponse {
            since: Some(ts(since)),
            posts: out,
            best: summary.best,
            worst: summary.worst,
            tz: tz.name().to_string(),
            by_weekday: summary.by_weekday.iter().map(group_to_proto).collect(),
            by_hour: summary.by_hour.iter().map(group_to_proto).collect(),
            by_tag: summary.by_tag.iter().map(group_to_proto).collect(),
            by_shape: summary.by_shape.iter().map(group_to_proto).collect(),
            totals: Some(counts_to_proto(summary.totals)),
        }))
    }

    async fn refresh_results(
        &self,
        _req: Request<v1::RefreshResultsRequest>,
    ) -> Result<Response<v1::RefreshResultsResponse>, Status> {
        let queued = self.core.store.refresh_results().await?;
        self.core.results.wake();
        Ok(Response::new(v1::RefreshResultsResponse { queued }))
    }
}

pub(crate) fn counts_to_proto(c: Counts) -> v1::ResultCounts {
    v1::ResultCounts {
        likes: c.likes,
        reposts: c.reposts,
        replies: c.replies,
        quotes: c.quotes,
        engagement: c.engagement(),
    }
}

pub(crate) fn group_to_proto(g: &Group) -> v1::ResultGroup {
    v1::ResultGroup { key: g.key.clone(), posts: g.posts, engagement: g.engagement, mean: g.mean() }
}

pub(crate) fn post_result_to_proto(p: PostResult) -> v1::PostResult {
    v1::PostResult {
        id: p.id,
        draft_id: p.draft_id,
        counts: Some(counts_to_proto(p.counts())),
        change: p.change(),
        fetched_at: p.latest.map(|s| ts(s.at)),
        label: p.label,
        network: p.network.as_str().into(),
        account: p.account,
        url: p.url,
        published_at: Some(ts(p.published_at)),
        tags: p.tags,
        thread: p.thread,
        snapshots: p.snapshots,
        state: p.state.as_str().into(),
        last_error: p.last_error,
        last_error_at: p.last_error_at.map(ts),
        next_fetch_at: p.next_fetch_at.map(ts),
    }
}

/// Decodes and keeps every image of an import; the error names the image.
/// Answers the document and each image kept (hash, type and bytes).
fn keep_images(
    media: &crate::media::Media,
    mut doc: crate::store::backup::Document,
) -> Result<(crate::store::backup::Document, Vec<Kept>), Status> {
    use base64::Engine;
    let mut kept = Vec::new();
    for (i, d) in doc.drafts.iter_mut().enumerate() {
        for (j, x) in d.images.iter_mut().enumerate() {
            let field = format!("drafts[{i}].images[{j}].data");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(x.data.trim())
                .map_err(|e| invalid(format!("the import file is not valid at {field}: not base64 ({e})")))?;
            let s = media.store(&bytes).map_err(|e| match e {
                crate::media::MediaError::Write { .. } => Status::from(crate::error::Error::from(e)),
                e => invalid(format!("the import file is not valid at {field}: {e}")),
            })?;
            kept.push((s.sha256.clone(), s.mime, bytes));
            x.sha256 = s.sha256;
            x.mime_type = s.mime.to_string();
            x.size = s.bytes;
            x.width = s.width;
            x.height = s.height;
            x.data.clear();
        }
    }
    Ok((doc, kept))
}

/// An image an import kept: its hash, type and bytes.
type Kept = (String, &'static str, Vec<u8>);

/// Largest import document accepted, in bytes.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

#[tonic::async_trait]
impl v1::backup_service_server::BackupService for Api {
    async fn export(&self, _req: Request<v1::ExportRequest>) -> Result<Response<v1::ExportResponse>, Status> {
        let mut doc = self.core.store.export().await?;
        // The images go in the file, in base64.
        for x in doc.drafts.iter().flat_map(|d| &d.images) {
            crate::media::fetch(&self.core, &x.sha256).await?;
        }
        let media = self.core.media.clone();
        doc = tokio::task::spawn_blocking(move || {
            use base64::Engine;
            for d in &mut doc.drafts {
                d.images.retain_mut(|x| match media.read(&x.sha256, &x.mime_type) {
                    Ok(bytes) => {
                        x.data = base64::engine::general_purpose::STANDARD.encode(bytes);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(draft = d.id, "an image is left out of the export: {e}");
                        false
                    }
                });
            }
            doc
        })
        .await
        .map_err(|e| Status::internal(format!("cannot read the images: {e}")))?;
        let json = serde_json::to_string_pretty(&doc)
            .map_err(|e| Status::internal(format!("cannot write JSON: {e}")))?;
        Ok(Response::new(v1::ExportResponse { json }))
    }

    async fn calendar(
        &self,
        _req: Request<v1::CalendarRequest>,
    ) -> Result<Response<v1::CalendarResponse>, Status> {
        let ics = crate::calendar::build(&self.core.store, crate::clock::now()).await?;
        Ok(Response::new(v1::CalendarResponse {
            ics,
            url: self.core.calendar_url.clone().unwrap_or_default(),
        }))
    }

    async fn import(&self, req: Request<v1::ImportRequest>) -> Result<Response<v1::ImportResponse>, Status> {
        let peer = super::Peer::of(&req);
        let text = req.into_inner().json;
        let doc: crate::store::backup::Document = serde_json::from_str(&text)
            .map_err(|e| invalid(format!("the import file is not a Clout export: {e}")))?;
        // Each image is kept first (its type, size and dimensions read from its bytes).
        let media = self.core.media.clone();
        let (doc, kept) = tokio::task::spawn_blocking(move || keep_images(&media, doc))
            .await
            .map_err(|e| Status::internal(format!("cannot keep the images: {e}")))??;
        for (sha256, mime, bytes) in &kept {
            self.core.store.share_media(sha256, mime, bytes, crate::clock::now()).await?;
        }
        // An imported account's secret file is read as cloutd's user, like one named by AddAccount.
        if doc.accounts.iter().any(|a| !a.secret_file.trim().is_empty()) {
            super::SECRET_FILE.check(peer)?;
        }
        let (added, skipped) = self.core.store.import(&doc).await?;
        // Imported follows on Mastodon or Bluesky are read like added ones.
        self.core.store.enroll_study(crate::clock::now()).await?;
        self.core.changed();
        // Images of drafts that were skipped as already here are kept by nobody.
        crate::media::sweep_later(&self.core);
        Ok(Response::new(v1::ImportResponse { added, skipped }))
    }
}
