//! The gRPC layer: decodes and validates requests, calls the store, wakes the
//! scheduler after writes, and converts domain types to `clout.v1` messages.

use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clout_proto::v1;
use clout_proto::{from_ts, ts};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::Core;
use crate::model::{self, Draft, DraftPatch, DraftState, NewDraft, Nudge, QueueItem};

pub mod accounts;
mod images;
mod program;
mod review;
pub mod sinks;
mod study;
mod tasks;
mod thread;

pub use review::MAX_IMPORT_BYTES;

/// Largest request the daemon decodes. Bigger ones are refused unread.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// How far in the past a requested time may be (clock skew, slow typing).
const PAST_TOLERANCE_SECS: i64 = 5;

#[derive(Clone)]
pub struct Api {
    core: Arc<Core>,
}

impl Api {
    pub fn new(core: Arc<Core>) -> Api {
        Api { core }
    }
}

// ---- validation -------------------------------------------------------------

/// Who sent a request, as far as cloutd's own-user checks go: the uid of a
/// Unix-socket peer (SO_PEERCRED), or none for TCP clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer(Option<u32>);

impl Peer {
    pub(crate) fn of<T>(req: &Request<T>) -> Peer {
        match crate::conn::Info::of(req.extensions()).map(|c| c.peer) {
            Some(crate::conn::Peer::Unix { uid, .. }) => Peer(Some(uid)),
            _ => Peer(None),
        }
    }

    fn describe(self) -> String {
        match self.0 {
            Some(uid) => format!("uid {uid}"),
            None => "a client that is not on the Unix socket".to_string(),
        }
    }
}

/// A request that only cloutd's own user, over the Unix socket, may make:
/// one that makes cloutd act as that user (run a program, read a file).
pub(crate) struct OwnerOnly {
    /// What was refused, for the log: "a command hook".
    action: &'static str,
    /// What the request would make cloutd do.
    why: &'static str,
    /// What only that user may do.
    may: &'static str,
    /// What the caller may do instead.
    instead: &'static str,
}

pub(crate) const COMMAND_HOOK: OwnerOnly = OwnerOnly {
    action: "a command hook",
    why: "command hooks run programs as cloutd's user",
    may: "add them",
    instead: "ask that user to add it, or use a webhook or desktop sink",
};

pub(crate) const SECRET_FILE: OwnerOnly = OwnerOnly {
    action: "a secret file",
    why: "cloutd reads secret files as its own user",
    may: "name them",
    instead: "give the secret itself instead (clout account add … --token-stdin or --app-password-stdin), \
              which cloutd keeps",
};

impl OwnerOnly {
    pub(crate) fn check(&self, peer: Peer) -> Result<(), Status> {
        let own = clout_proto::current_uid();
        if peer.0 == Some(own) {
            return Ok(());
        }
        let who = peer.describe();
        tracing::warn!(peer = %who, "refused {} from someone other than cloutd's user", self.action);
        Err(Status::permission_denied(format!(
            "{} (uid {own}), so only that user may {}, over the Unix socket; you are {who}: {}",
            self.why, self.may, self.instead
        )))
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> Status {
    Status::invalid_argument(crate::error::tidy(&msg.into()))
}

/// A missed-run policy from a request; empty means the config's default.
pub(crate) fn parse_missed(s: &str) -> Result<Option<crate::rules::MissedPolicy>, Status> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    crate::rules::MissedPolicy::parse(s.trim()).map(Some).ok_or_else(|| {
        invalid(format!("unknown missed-run policy `{s}`: use catch-up, skip, next-slot or ask"))
    })
}

pub(crate) fn check_id(id: i64) -> Result<i64, Status> {
    if id <= 0 { Err(invalid(format!("invalid id {id}: ids are positive whole numbers"))) } else { Ok(id) }
}

/// Checks a draft's parts (its text, then its thread): at most
/// [`model::MAX_PARTS`], each a text that [`check_text`] accepts; the error
/// names the part.
pub(crate) fn check_parts(text: &str, thread: &[String]) -> Result<Vec<String>, Status> {
    let total = 1 + thread.len();
    if total > model::MAX_PARTS {
        return Err(invalid(format!(
            "the thread has {total} parts; the limit is {}: make it two drafts",
            model::MAX_PARTS
        )));
    }
    let mut out = Vec::with_capacity(total);
    for (i, part) in std::iter::once(text).chain(thread.iter().map(String::as_str)).enumerate() {
        let checked = check_text(part).map_err(|e| {
            if total == 1 { e } else { invalid(format!("part {} of {total}: {}", i + 1, e.message())) }
        })?;
        out.push(checked);
    }
    Ok(out)
}

pub(crate) fn check_text(text: &str) -> Result<String, Status> {
    if text.trim().is_empty() {
        return Err(invalid("the text is empty: write something to post"));
    }
    if text.len() > model::MAX_TEXT_BYTES {
        return Err(invalid(format!(
            "the text is {} bytes; the limit is {} bytes (64 KiB)",
            text.len(),
            model::MAX_TEXT_BYTES
        )));
    }
    if text.contains('\0') {
        return Err(invalid("the text contains a NUL character"));
    }
    Ok(text.to_string())
}

fn check_title(title: &str) -> Result<String, Status> {
    if title.len() > model::MAX_TITLE_BYTES {
        return Err(invalid(format!("the title is longer than {} bytes", model::MAX_TITLE_BYTES)));
    }
    if title.contains(['\0', '\n', '\r']) {
        return Err(invalid("the title must be one line of text"));
    }
    Ok(title.trim().to_string())
}

pub(crate) fn check_labels(what: &str, labels: &[String]) -> Result<Vec<String>, Status> {
    if labels.len() > model::MAX_LABELS {
        return Err(invalid(format!("too many {what}s: at most {}", model::MAX_LABELS)));
    }
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for l in labels {
        let l = l.trim().trim_start_matches('#').to_lowercase();
        if l.is_empty()
            || l.len() > model::MAX_LABEL_BYTES
            || l.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(format!(
                "invalid {what} `{l}`: use a single word of at most {} bytes",
                model::MAX_LABEL_BYTES
            )));
        }
        if !out.contains(&l) {
            out.push(l);
        }
    }
    Ok(out)
}

pub(crate) fn check_time(
    t: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Status> {
    let t = t.ok_or_else(|| invalid("a time is required"))?;
    let at = from_ts(t).ok_or_else(|| invalid("the time is out of range"))?;
    if at < now - chrono::Duration::seconds(PAST_TOLERANCE_SECS) {
        return Err(invalid(format!(
            "the time {} is in the past",
            crate::model::local_time(at, clout_time::local_tz())
        )));
    }
    if at.timestamp() > 7_258_118_400 {
        return Err(invalid("the time is after the year 2199"));
    }
    Ok(at)
}

fn state_from_proto(s: i32) -> Result<DraftState, Status> {
    Ok(match v1::DraftState::try_from(s) {
        Ok(v1::DraftState::Draft) => DraftState::Draft,
        Ok(v1::DraftState::Scheduled) => DraftState::Scheduled,
        Ok(v1::DraftState::Due) => DraftState::Due,
        Ok(v1::DraftState::Published) => DraftState::Published,
        Ok(v1::DraftState::Skipped) => DraftState::Skipped,
        Ok(v1::DraftState::Publishing) => DraftState::Publishing,
        Ok(v1::DraftState::Partial) => DraftState::Partial,
        Ok(v1::DraftState::Failed) => DraftState::Failed,
        _ => return Err(invalid(format!("unknown draft state {s}"))),
    })
}

fn state_to_proto(s: DraftState) -> v1::DraftState {
    match s {
        DraftState::Draft => v1::DraftState::Draft,
        DraftState::Scheduled => v1::DraftState::Scheduled,
        DraftState::Due => v1::DraftState::Due,
        DraftState::Published => v1::DraftState::Published,
        DraftState::Skipped => v1::DraftState::Skipped,
        DraftState::Publishing => v1::DraftState::Publishing,
        DraftState::Partial => v1::DraftState::Partial,
        DraftState::Failed => v1::DraftState::Failed,
    }
}

// ---- conversions ------------------------------------------------------------

impl From<Draft> for v1::Draft {
    fn from(d: Draft) -> Self {
        v1::Draft {
            id: d.id,
            title: d.title,
            text: d.text,
            platforms: d.platforms,
            tags: d.tags,
            state: state_to_proto(d.state) as i32,
            scheduled_at: d.scheduled_at.map(ts),
            created_at: Some(ts(d.created_at)),
            updated_at: Some(ts(d.updated_at)),
            fired_at: d.fired_at.map(ts),
            published_at: d.published_at.map(ts),
            published_url: d.published_url,
            late: d.late,
            slotted: d.slotted,
            last_time: Vec::new(),
            publications: d.publications.into_iter().map(Into::into).collect(),
            visibility: d.visibility,
            content_warning: d.content_warning,
            language: d.language,
            fire_error: d.fire_error.unwrap_or_default(),
            thread: d.thread,
            no_card: d.no_card,
            images: d.images.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Nudge> for v1::Nudge {
    fn from(n: Nudge) -> Self {
        v1::Nudge {
            id: n.id,
            kind: n.kind,
            message: n.message,
            due_at: Some(ts(n.due_at)),
            fired_at: Some(ts(n.fired_at)),
            draft_id: n.draft_id,
            task_id: n.task_id,
            late: n.late,
            acked: false,
        }
    }
}

impl From<QueueItem> for v1::QueueItem {
    fn from(q: QueueItem) -> Self {
        v1::QueueItem {
            kind: q.kind,
            due_at: Some(ts(q.due_at)),
            id: q.id,
            title: q.title,
            text: q.text,
            about: q.about,
            slotted: q.slotted,
        }
    }
}

// ---- drafts -----------------------------------------------------------------

#[tonic::async_trait]
impl v1::draft_service_server::DraftService for Api {
    async fn add_draft(&self, req: Request<v1::AddDraftRequest>) -> Result<Response<v1::Draft>, Status> {
        let r = req.into_inner();
        let now = crate::clock::now();
        let content_warning = accounts::check_content_warning(&r.content_warning)?;
        let mut parts = check_parts(&r.text, &r.thread)?;
        let mut wanted = r.images.clone();
        if r.split {
            let (_, named) = accounts::resolve_accounts(self, &r.accounts).await?;
            // An image stays on the first of the parts its part is cut into.
            let mut starts = Vec::with_capacity(parts.len());
            let mut cut = Vec::new();
            for p in parts {
                starts.push(cut.len() as u32);
                cut.extend(thread::split(vec![p], &named, &content_warning, r.number));
            }
            for i in &mut wanted {
                if let Some(start) = (i.part as usize).checked_sub(1).and_then(|p| starts.get(p)) {
                    i.part = start + 1;
                }
            }
            parts = cut;
        }
        if r.number {
            parts = crate::publish::split::number(parts);
        }
        let parts = check_parts(&parts[0], &parts[1..])?;
        let images = images::check_images(&self.core, &wanted, parts.len()).await?;
        let new = NewDraft {
            accounts: accounts::check_accounts(self, &r.accounts, &parts, &content_warning, &images).await?,
            images,
            text: parts[0].clone(),
            thread: parts[1..].to_vec(),
            no_card: r.no_card,
            title: check_title(&r.title)?,
            platforms: check_labels("platform", &r.platforms)?,
            tags: check_labels("tag", &r.tags)?,
            at: r.at.as_ref().map(|t| check_time(Some(t), now)).transpose()?,
            queue: r.queue,
            if_missed: parse_missed(&r.if_missed)?,
            visibility: accounts::check_visibility(&r.visibility)?,
            content_warning,
            language: accounts::check_language(&r.language)?,
        };
        if new.queue && new.at.is_some() {
            return Err(invalid("give either a time or queue, not both"));
        }
        let d = self.core.store.add_draft(&new, now).await?;
        if new.at.is_some() || new.queue {
            self.core.changed();
        }
        let last_time = self.core.store.last_time(&d.tags).await?;
        Ok(Response::new(v1::Draft { last_time, ..d.into() }))
    }

    async fn get_draft(&self, req: Request<v1::GetDraftRequest>) -> Result<Response<v1::Draft>, Status> {
        let id = check_id(req.into_inner().id)?;
        let d = self.core.store.get_draft(id).await?;
        let last_time = self.core.store.last_time(&d.tags).await?;
        Ok(Response::new(v1::Draft { last_time, ..d.into() }))
    }

    async fn list_drafts(
        &self,
        req: Request<v1::ListDraftsRequest>,
    ) -> Result<Response<v1::ListDraftsResponse>, Status> {
        let r = req.into_inner();
        let states = r.states.into_iter().map(state_from_proto).collect::<Result<Vec<_>, _>>()?;
        let drafts = self.core.store.list_drafts(&states).await?;
        let drafts = drafts.into_iter().filter(|d| d.matches(&r.tags, &r.search)).map(Into::into).collect();
        Ok(Response::new(v1::ListDraftsResponse { drafts }))
    }

    async fn update_draft(
        &self,
        req: Request<v1::UpdateDraftRequest>,
    ) -> Result<Response<v1::Draft>, Status> {
        let r = req.into_inner();
        let id = check_id(r.id)?;
        let mut patch = DraftPatch {
            text: r.text.as_deref().map(check_text).transpose()?,
            title: r.title.as_deref().map(check_title).transpose()?,
            platforms: r.replace_platforms.then(|| check_labels("platform", &r.platforms)).transpose()?,
            tags: r.replace_tags.then(|| check_labels("tag", &r.tags)).transpose()?,
            accounts: None,
            visibility: r.visibility.as_deref().map(accounts::check_visibility).transpose()?,
            content_warning: r.content_warning.as_deref().map(accounts::check_content_warning).transpose()?,
            language: r.language.as_deref().map(accounts::check_language).transpose()?,
            thread: None,
            no_card: r.no_card,
            images: None,
        };
        // The parts, their warning and their accounts must fit together.
        let cur = self.core.store.get_draft(id).await?;
        let text = patch.text.clone().unwrap_or_else(|| cur.text.clone());
        let thread = if r.replace_thread { r.thread.clone() } else { cur.thread.clone() };
        let parts = check_parts(&text, &thread)?;
        if r.replace_thread {
            patch.thread = Some(parts[1..].to_vec());
        }
        let images = if r.replace_images {
            images::check_images(&self.core, &r.images, parts.len()).await?
        } else {
            // Images on parts a shorter thread no longer has would be lost: say so.
            if let Some(i) = cur.images.iter().find(|i| i.part as usize >= parts.len()) {
                return Err(invalid(format!(
                    "the draft has an image on part {}, which the new thread does not have: \
                     give the images again (--image) or drop them (--no-image)",
                    i.part + 1
                )));
            }
            cur.images.clone()
        };
        if r.replace_images {
            patch.images = Some(images.clone());
        }
        let cw = patch.content_warning.clone().unwrap_or(cur.content_warning);
        let names: Vec<String> = if r.replace_accounts {
            r.accounts.clone()
        } else {
            cur.publications.iter().filter(|p| p.account_id.is_some()).map(|p| p.account.clone()).collect()
        };
        let names = accounts::check_accounts(self, &names, &parts, &cw, &images).await?;
        if r.replace_accounts {
            patch.accounts = Some(names);
        }
        let d = self.core.store.update_draft(id, &patch, crate::clock::now()).await?;
        if r.replace_images {
            crate::media::sweep_later(&self.core);
        }
        Ok(Response::new(d.into()))
    }

    async fn delete_draft(
        &self,
        req: Request<v1::DeleteDraftRequest>,
    ) -> Result<Response<v1::DeleteDraftResponse>, Status> {
        let id = check_id(req.into_inner().id)?;
        self.core.store.delete_draft(id).await?;
        self.core.changed();
        crate::media::sweep_later(&self.core);
        Ok(Response::new(v1::DeleteDraftResponse {}))
    }

    async fn schedule_draft(
        &self,
        req: Request<v1::ScheduleDraftRequest>,
    ) -> Result<Response<v1::Draft>, Status> {
        let r = req.into_inner();
        let id = check_id(r.id)?;
        let now = crate::clock::now();
        let at = match (r.queue, r.at.as_ref()) {
            (true, None) => None,
            (false, t) => Some(check_time(t, now)?),
            (true, Some(_)) => return Err(invalid("give either a time or queue, not both")),
        };
        let d = self.core.store.schedule_draft(id, at, now).await?;
        self.core.changed();
        Ok(Response::new(d.into()))
    }

    async fn unschedule_draft(
        &self,
        req: Request<v1::UnscheduleDraftRequest>,
    ) -> Result<Response<v1::Draft>, Status> {
        let id = check_id(req.into_inner().id)?;
        let d = self.core.store.unschedule_draft(id, crate::clock::now()).await?;
        self.core.changed();
        Ok(Response::new(d.into()))
    }

    async fn mark_published(
        &self,
        req: Request<v1::MarkPublishedRequest>,
    ) -> Result<Response<v1::Draft>, Status> {
        let r = req.into_inner();
        let id = check_id(r.id)?;
        let url = r.url.trim();
        if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "the URL must be one word of at most 2048 bytes, without control characters",
            ));
        }
        if !url.is_empty() {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            if host.is_none_or(str::is_empty) {
                return Err(invalid(format!(
                    "the URL `{url}` must be https://HOST/… or http://HOST/…, e.g. https://mastodon.social/@me/1"
                )));
            }
        }
        let d = self.core.store.finish_draft(id, DraftState::Published, url, crate::clock::now()).await?;
        self.core.changed();
        self.core.nudged().await?;
        Ok(Response::new(d.into()))
    }

    async fn retry_draft(&self, req: Request<v1::RetryDraftRequest>) -> Result<Response<v1::Draft>, Status> {
        let id = check_id(req.into_inner().id)?;
        let d = self.core.store.retry_draft(id, crate::clock::now()).await?;
        self.core.changed();
        Ok(Response::new(d.into()))
    }

    async fn skip_draft(&self, req: Request<v1::SkipDraftRequest>) -> Result<Response<v1::Draft>, Status> {
        let id = check_id(req.into_inner().id)?;
        let d = self.core.store.finish_draft(id, DraftState::Skipped, "", crate::clock::now()).await?;
        self.core.changed();
        Ok(Response::new(d.into()))
    }
}

// ---- the queue --------------------------------------------------------------

#[tonic::async_trait]
impl v1::queue_service_server::QueueService for Api {
    async fn upcoming(
        &self,
        req: Request<v1::UpcomingRequest>,
    ) -> Result<Response<v1::UpcomingResponse>, Status> {
        let r = req.into_inner();
        if r.horizon_seconds < 0 {
            return Err(invalid("horizon_seconds must not be negative"));
        }
        let until = (r.horizon_seconds > 0).then(|| {
            crate::clock::now() + chrono::Duration::seconds(r.horizon_seconds.min(100 * 365 * 86_400))
        });
        let limit = if r.limit == 0 { 1000 } else { r.limit.min(100_000) };
        let items = self.core.store.upcoming(until, limit).await?;
        let program = self.core.store.program().await?;
        Ok(Response::new(v1::UpcomingResponse {
            items: items.into_iter().map(Into::into).collect(),
            paused: program.paused,
            paused_at: program.paused_at.map(ts),
        }))
    }

    async fn shuffle(
        &self,
        _req: Request<v1::ShuffleRequest>,
    ) -> Result<Response<v1::ShuffleResponse>, Status> {
        let items = self.core.store.shuffle_slots(crate::clock::now()).await?;
        self.core.changed();
        Ok(Response::new(v1::ShuffleResponse { items: items.into_iter().map(Into::into).collect() }))
    }

    async fn pause(&self, _req: Request<v1::PauseRequest>) -> Result<Response<v1::PauseState>, Status> {
        self.core.store.set_paused(true, crate::clock::now()).await?;
        self.core.changed();
        let p = self.core.store.program().await?;
        Ok(Response::new(v1::PauseState { paused: true, paused_at: p.paused_at.map(ts), came_due: 0 }))
    }

    async fn resume(&self, _req: Request<v1::ResumeRequest>) -> Result<Response<v1::PauseState>, Status> {
        let came_due = self.core.store.set_paused(false, crate::clock::now()).await?;
        self.core.changed();
        Ok(Response::new(v1::PauseState { paused: false, paused_at: None, came_due }))
    }
}

// ---- nudges -----------------------------------------------------------------

type NudgeStream = Pin<Box<dyn Stream<Item = Result<v1::Nudge, Status>> + Send>>;

#[tonic::async_trait]
impl v1::nudge_service_server::NudgeService for Api {
    type WatchStream = NudgeStream;

    async fn watch(&self, req: Request<v1::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let after = req.into_inner().after_id;
        if after.is_some_and(|a| a < 0) {
            return Err(invalid("after_id must not be negative"));
        }
        let core = self.core.clone();
        // Subscribe before reading the log, so a nudge fired in between is not missed.
        let mut fired = core.nudges.subscribe();
        let mut cursor = match after {
            Some(id) => id,
            None => core.store.last_nudge_id().await?,
        };
        let mut shutdown = core.shutdown.clone();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                loop {
                    let batch = match core.store.nudges_after(cursor, 500).await {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = tx.send(Err(Status::from(e))).await;
                            return;
                        }
                    };
                    let full = batch.len() == 500;
                    for n in batch {
                        cursor = n.id;
                        if tx.send(Ok(n.into())).await.is_err() {
                            return;
                        }
                    }
                    if !full {
                        break;
                    }
                }
                let fallback = async {
                    if core.store.is_postgres() {
                        tokio::time::sleep(crate::fleet::FALLBACK_WAKE).await
                    } else {
                        std::future::pending().await
                    }
                };
                tokio::select! {
                    changed = fired.changed() => if changed.is_err() { return },
                    _ = fallback => {}
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn list_nudges(
        &self,
        req: Request<v1::ListNudgesRequest>,
    ) -> Result<Response<v1::ListNudgesResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 { 50 } else { r.limit.min(100_000) };
        let store = &self.core.store;
        let nudges = match (r.all, r.unread) {
            (_, true) => store.unread_nudges(if r.all { u32::MAX } else { limit }).await?,
            (true, false) => store.nudges_after(0, u32::MAX).await?,
            (false, false) => store.recent_nudges(limit).await?,
        };
        let acked = match (nudges.first(), nudges.last()) {
            (Some(a), Some(b)) if !r.unread => store.acked_ids(a.id, b.id).await?,
            _ => Default::default(),
        };
        let nudges = nudges
            .into_iter()
            .map(|n| {
                let seen = acked.contains(&n.id);
                v1::Nudge { acked: seen, ..n.into() }
            })
            .collect();
        Ok(Response::new(v1::ListNudgesResponse { nudges }))
    }

    async fn ack(&self, req: Request<v1::AckRequest>) -> Result<Response<v1::Nudge>, Status> {
        let id = check_id(req.into_inner().id)?;
        let n = self.core.store.ack_nudge(id, crate::clock::now()).await?;
        Ok(Response::new(v1::Nudge { acked: true, ..n.into() }))
    }

    async fn ack_many(
        &self,
        req: Request<v1::AckManyRequest>,
    ) -> Result<Response<v1::AckManyResponse>, Status> {
        let r = req.into_inner();
        if r.ids.is_empty() && !r.all && r.kinds.is_empty() {
            return Err(invalid("name the nudges: ids, all, or kinds"));
        }
        if !r.ids.is_empty() && r.all {
            return Err(invalid("give ids or all, not both"));
        }
        let ids = r.ids.iter().map(|&id| check_id(id)).collect::<Result<Vec<_>, _>>()?;
        let acked = self.core.store.ack_many(&ids, &r.kinds, crate::clock::now()).await?;
        Ok(Response::new(v1::AckManyResponse { acked }))
    }

    async fn snooze(&self, req: Request<v1::SnoozeRequest>) -> Result<Response<v1::SnoozeResponse>, Status> {
        let r = req.into_inner();
        let id = check_id(r.id)?;
        let now = crate::clock::now();
        let (until, ok) = match r.until.as_ref() {
            Some(t) => {
                let until = from_ts(t).ok_or_else(|| invalid("the time is out of range"))?;
                // A little slack for the time the request took on its way.
                (until, (55..=30 * 86_400 + 60).contains(&(until - now).num_seconds()))
            }
            None => (
                now + chrono::Duration::seconds(r.seconds.clamp(0, 31 * 86_400)),
                (60..=30 * 86_400).contains(&r.seconds),
            ),
        };
        if !ok {
            return Err(invalid("snooze for 1 minute to 30 days, e.g. --for 1h or --for tomorrow"));
        }
        let n = self.core.store.snooze_nudge(id, until, now).await?;
        self.core.changed();
        Ok(Response::new(v1::SnoozeResponse {
            nudge: Some(v1::Nudge { acked: true, ..n.into() }),
            until: Some(ts(until)),
        }))
    }
}

// ---- the daemon -------------------------------------------------------------

#[tonic::async_trait]
impl v1::daemon_service_server::DaemonService for Api {
    async fn status(&self, _req: Request<v1::StatusRequest>) -> Result<Response<v1::StatusResponse>, Status> {
        let store = &self.core.store;
        let health = self.core.health.check(store).await;
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let program = store.program().await?;
        let next = store.next_pending().await?;
        Ok(Response::new(v1::StatusResponse {
            paused: program.paused,
            paused_at: program.paused_at.map(ts),
            next_due_kind: next.as_ref().map(|(_, kind, _)| kind.clone()).unwrap_or_default(),
            next_due_id: next.as_ref().map_or(0, |(_, _, id)| *id),
            healthy: health.healthy,
            problems: health.problems,
            lag_ms: millis(health.lag),
            health_threshold_ms: millis(self.core.health.threshold()),
            loops: health
                .loops
                .into_iter()
                .map(|l| v1::LoopStatus {
                    name: l.name.to_string(),
                    last_turn: l.last_turn.map(ts),
                    busy_ms: l.busy_for.map_or(0, millis),
                })
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: clout_proto::PROTOCOL,
            pid: std::process::id(),
            started_at: Some(ts(self.core.started_at)),
            database: store.redacted_url().to_string(),
            socket: self.core.socket.display().to_string(),
            next_due_at: next.map(|(at, _, _)| ts(at)),
            pending_items: store.pending_count().await?,
            nudges: store.nudge_count().await?,
            calendar_url: self.core.calendar_url.clone().unwrap_or_default(),
            clock_offset_ms: crate::clock::offset().num_milliseconds(),
        }))
    }
}
