//! ProgramService: the program, posting slots and people to learn from.

use clout_proto::{ts, v1};
use tonic::{Request, Response, Status};

use super::{Api, check_id, invalid};
use crate::model::account::check_server;
use crate::model::study::{self, StudyNetwork};
use crate::model::{Follow, Program, ProgramPatch, Purpose};
use crate::recurrence::{Schedule, parse_tz};

/// Most posts a week or engagements a day a goal may ask for.
const MAX_GOAL: u32 = 1000;

fn program_to_proto(p: Program) -> v1::Program {
    v1::Program {
        purpose: match p.purpose {
            Purpose::Learn => v1::Purpose::Learn,
            Purpose::Influence => v1::Purpose::Influence,
        } as i32,
        posts_per_week: p.posts_per_week,
        engagements_per_day: p.engagements_per_day,
        tz: p.tz.name().to_string(),
        paused: p.paused,
    }
}

pub(crate) fn follow_to_proto(f: Follow) -> v1::Follow {
    v1::Follow {
        id: f.id,
        handle: f.handle,
        platform: f.platform,
        why: f.why,
        topic: f.topic,
        created_at: Some(ts(f.created_at)),
        server: f.server,
    }
}

/// A schedule from user input, as an INVALID_ARGUMENT error naming the faulty field.
/// Nudging more often than once a minute is noise, not a rhythm: such schedules are refused.
pub(crate) fn parse_schedule(spec: &str) -> Result<Schedule, Status> {
    let s = Schedule::parse(spec).map_err(|e| invalid(e.to_string()))?;
    let next = s.upcoming(crate::clock::now(), chrono_tz::UTC, 4);
    if next.windows(2).any(|w| w[1] - w[0] < chrono::Duration::seconds(60)) {
        return Err(invalid(format!(
            "the schedule `{spec}` fires more than once a minute; use at most one occurrence a minute"
        )));
    }
    Ok(s)
}

/// An IANA zone from user input; the error suggests close matches.
pub(crate) fn parse_zone(name: &str) -> Result<chrono_tz::Tz, Status> {
    parse_tz(name).map_err(|e| invalid(e.to_string()))
}

/// A handle such as `@alice`, `@alice@mastodon.social` or `alice.bsky.social`.
pub(crate) fn check_handle(h: &str) -> Result<String, Status> {
    let h = h.trim();
    if h.is_empty() || h.len() > 256 || h.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "invalid handle `{h}`: use one word such as @alice or alice.bsky.social"
        )));
    }
    Ok(h.to_lowercase())
}

fn check_short(what: &str, s: &str, max: usize) -> Result<String, Status> {
    if s.len() > max || s.contains('\0') {
        return Err(invalid(format!("the {what} is longer than {max} bytes")));
    }
    Ok(s.trim().to_string())
}

#[tonic::async_trait]
impl v1::program_service_server::ProgramService for Api {
    async fn get_program(
        &self,
        _req: Request<v1::GetProgramRequest>,
    ) -> Result<Response<v1::Program>, Status> {
        Ok(Response::new(program_to_proto(self.core.store.program().await?)))
    }

    async fn set_program(
        &self,
        req: Request<v1::SetProgramRequest>,
    ) -> Result<Response<v1::Program>, Status> {
        let r = req.into_inner();
        let purpose = match r.purpose.map(v1::Purpose::try_from) {
            None => None,
            Some(Ok(v1::Purpose::Learn)) => Some(Purpose::Learn),
            Some(Ok(v1::Purpose::Influence)) => Some(Purpose::Influence),
            Some(_) => return Err(invalid("the purpose must be learn or influence")),
        };
        for (what, v) in
            [("posts per week", r.posts_per_week), ("engagements per day", r.engagements_per_day)]
        {
            if v.is_some_and(|v| v > MAX_GOAL) {
                return Err(invalid(format!("{what} must be at most {MAX_GOAL}")));
            }
        }
        let patch = ProgramPatch {
            purpose,
            posts_per_week: r.posts_per_week,
            engagements_per_day: r.engagements_per_day,
            tz: r.tz.as_deref().map(parse_zone).transpose()?,
        };
        let p = self.core.store.set_program(&patch, crate::clock::now()).await?;
        // The rule checks follow the program's zone.
        self.core.store.sync_checks(&self.core.policy(), crate::clock::now()).await?;
        self.core.changed();
        Ok(Response::new(program_to_proto(p)))
    }

    async fn add_slot(&self, req: Request<v1::AddSlotRequest>) -> Result<Response<v1::Slot>, Status> {
        let schedule = parse_schedule(&req.into_inner().spec)?;
        let now = crate::clock::now();
        let tz = self.core.store.program().await?.tz;
        let slot = self.core.store.add_slot(&schedule, now).await?;
        let next = schedule.upcoming(now, tz, 3).into_iter().map(ts).collect();
        Ok(Response::new(v1::Slot { id: slot.id, spec: slot.spec, next }))
    }

    async fn list_slots(
        &self,
        _req: Request<v1::ListSlotsRequest>,
    ) -> Result<Response<v1::ListSlotsResponse>, Status> {
        let now = crate::clock::now();
        let tz = self.core.store.program().await?.tz;
        let slots = self
            .core
            .store
            .slots()
            .await?
            .into_iter()
            .map(|s| {
                let next = Schedule::parse(&s.spec).map(|x| x.upcoming(now, tz, 3)).unwrap_or_default();
                v1::Slot { id: s.id, spec: s.spec, next: next.into_iter().map(ts).collect() }
            })
            .collect();
        Ok(Response::new(v1::ListSlotsResponse { slots, tz: tz.name().to_string() }))
    }

    async fn remove_slot(
        &self,
        req: Request<v1::RemoveSlotRequest>,
    ) -> Result<Response<v1::RemoveSlotResponse>, Status> {
        self.core.store.remove_slot(check_id(req.into_inner().id)?).await?;
        Ok(Response::new(v1::RemoveSlotResponse {}))
    }

    async fn add_follow(&self, req: Request<v1::AddFollowRequest>) -> Result<Response<v1::Follow>, Status> {
        let r = req.into_inner();
        let platform = r.platform.trim().to_lowercase();
        if platform.is_empty() || platform.len() > 64 || platform.contains(char::is_whitespace) {
            return Err(invalid("give the platform as one word, e.g. mastodon, bluesky, linkedin, x"));
        }
        let network = StudyNetwork::parse(&platform);
        let handle = match network {
            Some(n) => study::check_handle(n, &check_handle(&r.handle)?).map_err(|e| invalid(e.reason))?,
            None => check_handle(&r.handle)?,
        };
        let server = match (network, r.server.trim()) {
            (_, "") => String::new(),
            (Some(_), s) => check_server(s).map_err(|e| invalid(format!("--server: {}", e.reason)))?,
            (None, _) => {
                return Err(invalid(format!(
                    "--server is for follows on mastodon or bluesky, whose posts cloutd reads; not {platform}"
                )));
            }
        };
        let f = Follow {
            id: 0,
            handle,
            platform,
            why: check_short("reason", &r.why, 1024)?,
            topic: check_short("topic", &r.topic, 256)?,
            server,
            created_at: crate::clock::now(),
        };
        let f = self.core.store.add_follow(&f, crate::clock::now()).await?;
        if network.is_some() {
            self.core.store.enroll_study(crate::clock::now()).await?;
            self.core.changed();
        }
        Ok(Response::new(follow_to_proto(f)))
    }

    async fn list_follows(
        &self,
        _req: Request<v1::ListFollowsRequest>,
    ) -> Result<Response<v1::ListFollowsResponse>, Status> {
        let follows = self.core.store.follows().await?.into_iter().map(follow_to_proto).collect();
        Ok(Response::new(v1::ListFollowsResponse { follows }))
    }

    async fn remove_follow(
        &self,
        req: Request<v1::RemoveFollowRequest>,
    ) -> Result<Response<v1::RemoveFollowResponse>, Status> {
        self.core.store.remove_follow(check_id(req.into_inner().id)?).await?;
        Ok(Response::new(v1::RemoveFollowResponse {}))
    }
}
