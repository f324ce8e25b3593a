//! SinkService: where nudges are delivered.

use clout_proto::{ts, v1};
use tonic::{Request, Response, Status};

use super::{Api, check_id, invalid};
use crate::sinks::{Sink, SinkKind, test_nudge};

fn sink_to_proto(s: Sink, backlog: u64) -> v1::Sink {
    v1::Sink {
        id: s.id,
        kind: s.kind.as_str().to_string(),
        target: s.target,
        args: s.args,
        format: s.format.as_str().to_string(),
        kinds: s.kinds,
        cursor: s.cursor,
        backlog,
        healthy: s.failures == 0,
        last_error: s.last_error,
        last_attempt_at: s.last_attempt_at.map(ts),
        next_attempt_at: s.next_attempt_at.filter(|_| s.failures > 0).map(ts),
        failures: s.failures,
        created_at: Some(ts(s.created_at)),
    }
}

#[tonic::async_trait]
impl v1::sink_service_server::SinkService for Api {
    async fn add_sink(&self, req: Request<v1::AddSinkRequest>) -> Result<Response<v1::Sink>, Status> {
        if SinkKind::parse(req.get_ref().kind.trim()) == Some(SinkKind::Command) {
            super::COMMAND_HOOK.check(super::Peer::of(&req))?;
        }
        let r = req.into_inner();
        let new = crate::sinks::admit(&r.kind, &r.target, r.args, &r.format, &r.kinds)
            .map_err(|e| invalid(e.reason))?;
        let sink = self.core.store.add_sink(&new, crate::clock::now()).await?;
        self.core.sinks.changed();
        tracing::info!(sink = sink.id, kind = sink.kind.as_str(), "sink added");
        Ok(Response::new(sink_to_proto(sink, 0)))
    }

    async fn list_sinks(
        &self,
        _req: Request<v1::ListSinksRequest>,
    ) -> Result<Response<v1::ListSinksResponse>, Status> {
        let store = &self.core.store;
        let mut sinks = Vec::new();
        for s in store.sinks().await? {
            let backlog = store.sink_backlog(s.cursor, &s.kinds).await?;
            sinks.push(sink_to_proto(s, backlog));
        }
        Ok(Response::new(v1::ListSinksResponse { sinks }))
    }

    async fn remove_sink(
        &self,
        req: Request<v1::RemoveSinkRequest>,
    ) -> Result<Response<v1::RemoveSinkResponse>, Status> {
        let id = check_id(req.into_inner().id)?;
        self.core.store.remove_sink(id).await?;
        self.core.sinks.changed();
        tracing::info!(sink = id, "sink removed");
        Ok(Response::new(v1::RemoveSinkResponse {}))
    }

    async fn test_sink(
        &self,
        req: Request<v1::TestSinkRequest>,
    ) -> Result<Response<v1::TestSinkResponse>, Status> {
        let id = check_id(req.into_inner().id)?;
        let sink = self.core.store.get_sink(id).await?;
        let now = crate::clock::now();
        match self.core.sinks.deliver(&sink, &test_nudge(id)).await {
            Ok(()) => {
                // It works now: healthy again, and a sink waiting out a
                // backoff is tried again at once.
                if sink.failures > 0 {
                    self.core.store.sink_delivered(id, sink.cursor, now).await?;
                    self.core.sinks.changed();
                }
                Ok(Response::new(v1::TestSinkResponse { ok: true, error: String::new() }))
            }
            Err(e) => {
                // `clout sink list` shows it failing, with this error; the
                // delivery loop keeps its own schedule.
                let error = e.to_string();
                let failures = sink.failures.saturating_add(1);
                let next = sink.next_attempt_at.unwrap_or(now);
                self.core.store.sink_failed(id, &error, failures, now, next).await?;
                Ok(Response::new(v1::TestSinkResponse { ok: false, error }))
            }
        }
    }
}
