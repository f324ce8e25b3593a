//! StudyService: what the people you follow post, the program's stage, and
//! posting slots suggested from what works.

use chrono::{Datelike, Timelike};
use clout_proto::{ts, v1};
use tonic::{Request, Response, Status};

use super::program::parse_schedule;
use super::{Api, invalid};
use crate::error::Error;
use crate::model::Purpose;
use crate::model::study::{
    self, BEST_DAYS, BEST_SHOWN, Person, RECENT_SHOWN, STAGE_CONSISTENCY, STAGE_RATIO, STAGE_STUDY_WEEKS,
    StudyPost, best_posts, cadence, changes,
};
use crate::recurrence::Schedule;
use crate::study::results::OwnResults;
use crate::study::stage;

/// Most slots one suggestion gives.
const MAX_SUGGESTIONS: u32 = 7;

fn post_to_proto(s: &StudyPost) -> v1::StudiedPost {
    let p = &s.post;
    v1::StudiedPost {
        remote_id: p.remote_id.clone(),
        url: p.url.clone(),
        posted_at: Some(ts(p.posted_at)),
        excerpt: p.excerpt.clone(),
        likes: p.likes,
        reposts: p.reposts,
        replies: p.replies,
        quotes: p.quotes,
        is_thread: p.is_thread,
        is_reply: p.is_reply,
        has_images: p.has_images,
        is_new: s.looked_total.is_none(),
    }
}

fn rate(r: &study::Rate) -> v1::Rate {
    v1::Rate { posts: r.posts, per_post: r.per_post, per_thousand: r.per_thousand }
}

/// "@bob@host" and "bob@host" name the same person; so do letter cases.
fn same_handle(a: &str, b: &str) -> bool {
    a.trim().trim_start_matches('@').eq_ignore_ascii_case(b.trim().trim_start_matches('@'))
}

impl Api {
    async fn person_named(&self, handle: &str) -> Result<Person, Status> {
        let people = self.core.store.studied_people(None).await?;
        if let Some(p) = people.into_iter().find(|p| same_handle(&p.handle, handle)) {
            return Ok(p);
        }
        let follows = self.core.store.follows().await?;
        Err(match follows.iter().find(|f| same_handle(&f.handle, handle)) {
            Some(f) => Error::FailedPrecondition(format!(
                "cloutd cannot read posts on {}: study works for follows on mastodon or bluesky",
                f.platform
            ))
            .into(),
            None => Error::FailedPrecondition(format!(
                "you do not follow {handle}: add them with `clout follow add {handle} -p mastodon` (or -p bluesky)"
            ))
            .into(),
        })
    }
}

#[tonic::async_trait]
impl v1::study_service_server::StudyService for Api {
    async fn study(&self, req: Request<v1::StudyRequest>) -> Result<Response<v1::StudyResponse>, Status> {
        let r = req.into_inner();
        let store = &self.core.store;
        let people = if r.handle.trim().is_empty() {
            store.studied_people(None).await?
        } else {
            vec![self.person_named(&r.handle).await?]
        };
        let follows = store.follows().await?;
        let tz = store.program().await?.tz;
        let now = crate::clock::now();
        let window = now - chrono::Duration::days(crate::study::WINDOW_DAYS);
        let mut out = Vec::with_capacity(people.len());
        for p in people {
            let posts = store.study_posts(p.follow_id, window).await?;
            let next = store.next_fetch_of(p.follow_id).await?;
            let ch = changes(&p, &posts);
            let follow = follows.iter().find(|f| f.id == p.follow_id);
            let c = cadence(&posts, tz, now);
            out.push(v1::StudiedPerson {
                follow_id: p.follow_id,
                handle: p.handle.clone(),
                network: p.network.clone(),
                display_name: p.display_name.clone(),
                followers: p.followers,
                fetched_at: p.fetched_at.map(ts),
                state: p.state.clone(),
                next_fetch_at: next.map(ts),
                last_error: p.last_error.clone(),
                recent: posts.iter().take(RECENT_SHOWN).map(post_to_proto).collect(),
                best: best_posts(&posts, now - chrono::Duration::days(BEST_DAYS), BEST_SHOWN)
                    .iter()
                    .map(post_to_proto)
                    .collect(),
                cadence: Some(v1::Cadence {
                    posts: c.posts,
                    posts_per_week: c.posts_per_week,
                    hours: c.hours.to_vec(),
                    weekdays: c.weekdays.to_vec(),
                    threads: c.threads,
                    images: c.images,
                    replies: c.replies,
                }),
                changes: Some(v1::Changes {
                    looked_before: ch.looked_before,
                    looked_at: p.looked_at.map(ts),
                    new_posts: ch.new_posts,
                    engagement_gained: ch.engagement_gained,
                    followers_change: ch.followers_change,
                }),
                why: follow.map(|f| f.why.clone()).unwrap_or_default(),
                topic: follow.map(|f| f.topic.clone()).unwrap_or_default(),
            });
            if !r.keep_mark && p.fetched_at.is_some() {
                store.mark_looked(p.follow_id, now).await?;
            }
        }
        Ok(Response::new(v1::StudyResponse { people: out, tz: tz.name().to_string() }))
    }

    async fn refresh_study(
        &self,
        req: Request<v1::RefreshStudyRequest>,
    ) -> Result<Response<v1::RefreshStudyResponse>, Status> {
        let r = req.into_inner();
        let store = &self.core.store;
        store.enroll_study(crate::clock::now()).await?;
        let only = if r.handle.trim().is_empty() {
            None
        } else {
            Some(self.person_named(&r.handle).await?.follow_id)
        };
        let asked = store.refresh_study(only, crate::clock::now()).await?;
        if asked == 0 && store.studied_people(None).await?.is_empty() {
            return Err(Error::FailedPrecondition(
                "nobody to study: follow someone on Mastodon or Bluesky first, e.g. \
                 clout follow add @alice@mastodon.social -p mastodon"
                    .into(),
            )
            .into());
        }
        // Enrolment may have added study rows; the people asked for are the study task's now.
        self.core.changed();
        self.core.study.wake();
        Ok(Response::new(v1::RefreshStudyResponse { asked: asked.min(u64::from(u32::MAX)) as u32 }))
    }

    async fn get_stage(&self, _req: Request<v1::GetStageRequest>) -> Result<Response<v1::Stage>, Status> {
        let e = stage::evidence(&self.core.store, &self.core.store, crate::clock::now()).await?;
        let purpose = if e.learning { Purpose::Learn } else { Purpose::Influence };
        Ok(Response::new(v1::Stage {
            purpose: match purpose {
                Purpose::Learn => v1::Purpose::Learn,
                Purpose::Influence => v1::Purpose::Influence,
            } as i32,
            study_weeks: e.study_weeks,
            study_weeks_needed: STAGE_STUDY_WEEKS,
            consistency: e.consistency,
            consistency_needed: STAGE_CONSISTENCY,
            own: Some(rate(&e.own)),
            follows: Some(rate(&e.follows)),
            ratio: e.ratio,
            ratio_needed: STAGE_RATIO,
            ready: e.ready,
            missing: e.missing,
        }))
    }

    async fn suggest_slots(
        &self,
        req: Request<v1::SuggestSlotsRequest>,
    ) -> Result<Response<v1::SuggestSlotsResponse>, Status> {
        let r = req.into_inner();
        let count = if r.count == 0 { 3 } else { r.count };
        if count > MAX_SUGGESTIONS {
            return Err(invalid(format!("ask for at most {MAX_SUGGESTIONS} slots (one a day)")));
        }
        let store = &self.core.store;
        let now = crate::clock::now();
        let tz = store.program().await?.tz;
        let since = now - chrono::Duration::days(crate::study::WINDOW_DAYS);
        let own = store.own_results(since).await?;
        let mut theirs = Vec::new();
        for p in store.studied_people(None).await? {
            theirs.extend(store.study_posts(p.follow_id, since).await?);
        }
        // The hours of the week existing slots already hold.
        let mut taken = Vec::new();
        for s in store.slots().await? {
            if let Ok(sched) = Schedule::parse(&s.spec) {
                for t in sched.upcoming(now, tz, 50) {
                    let l = t.with_timezone(&tz);
                    if t - now <= chrono::Duration::days(7) {
                        taken.push((l.weekday().num_days_from_monday(), l.hour()));
                    }
                }
            }
        }
        let suggestions = study::suggest_slots(&own, &theirs, tz, &taken, count as usize);
        let mut added = Vec::new();
        if r.add {
            for s in &suggestions {
                let schedule = parse_schedule(&s.spec)?;
                let slot = store.add_slot(&schedule, now).await?;
                let next = schedule.upcoming(now, tz, 3).into_iter().map(ts).collect();
                added.push(v1::Slot { id: slot.id, spec: slot.spec, next });
            }
            if !added.is_empty() {
                self.core.changed();
            }
        }
        Ok(Response::new(v1::SuggestSlotsResponse {
            suggestions: suggestions
                .iter()
                .map(|s| v1::SlotSuggestion {
                    spec: s.spec.clone(),
                    score: s.score,
                    own_posts: s.own_posts,
                    own_per_post: s.own_per_post,
                    follows_posts: s.follows_posts,
                    follows_per_post: s.follows_per_post,
                    evidence: s.evidence.clone(),
                })
                .collect(),
            added,
            tz: tz.name().to_string(),
            own_posts: own.len() as u32,
            follows_posts: theirs.iter().filter(|p| !p.post.is_reply).count() as u32,
        }))
    }
}
