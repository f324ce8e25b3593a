//! The program's stage: the evidence for moving from learning to
//! influencing, and the `stage_ready` nudge, written once ever.

use chrono::{DateTime, Utc};

use super::results::OwnResults;
use crate::Core;
use crate::error::Result;
use crate::model::study::{self, StageEvidence, distinct_weeks, follows_rate, judge, own_rate};
use crate::model::{Nudge, Purpose};
use crate::store::Store;

/// How far back results and the consistency score are read.
pub const PERIOD_DAYS: i64 = 28;
/// The nudge's occurrence key: one `stage_ready` nudge, ever.
pub const NUDGE_KEY: &str = "stage_ready";

/// Gathers the evidence at `now`.
pub async fn evidence(store: &Store, results: &impl OwnResults, now: DateTime<Utc>) -> Result<StageEvidence> {
    let program = store.program().await?;
    let since = now - chrono::Duration::days(PERIOD_DAYS);
    let done = store.study_tasks_done().await?;
    let review = store.review(since, now, 0).await?;
    let own = results.own_results(since).await?;
    let mut people = Vec::new();
    for p in store.studied_people(None).await? {
        let posts = store.study_posts(p.follow_id, since).await?;
        let e: Vec<i64> =
            posts.iter().filter(|p| !p.post.is_reply).map(study::StudyPost::engagement).collect();
        people.push((p.followers, e));
    }
    Ok(judge(StageEvidence {
        learning: program.purpose == Purpose::Learn,
        study_weeks: distinct_weeks(&done, program.tz),
        consistency: review.consistency,
        own: own_rate(&own, store.own_followers().await?),
        follows: follows_rate(&people),
        ..StageEvidence::default()
    }))
}

/// Writes the `stage_ready` nudge when the evidence is there, once ever.
pub async fn check(store: &Store, results: &impl OwnResults, now: DateTime<Utc>) -> Result<Option<Nudge>> {
    let e = evidence(store, results, now).await?;
    if !e.ready {
        return Ok(None);
    }
    let message = format!(
        "Ready to influence: {} weeks of study, consistency {}, and your posts reach {:.0} % of the engagement \
         per 1,000 followers of the people you follow. Move on with: clout program set --purpose influence",
        e.study_weeks,
        e.consistency,
        e.ratio.unwrap_or(0.0) * 100.0
    );
    let n = Nudge {
        id: 0,
        kind: "stage_ready".into(),
        message,
        due_at: now,
        fired_at: now,
        draft_id: None,
        task_id: None,
        late: false,
    };
    store.nudge_once(n, NUDGE_KEY).await
}

/// [`check`] with the daemon's own results; errors are logged.
pub async fn nudge_when_ready(core: &Core) {
    match check(&core.store, &core.store, crate::clock::now()).await {
        Ok(Some(n)) => {
            tracing::info!(nudge = n.id, "{}", n.message);
            if let Err(e) = core.nudged().await {
                tracing::error!(error = %e, "cannot announce the stage nudge");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot judge the stage"),
    }
}
