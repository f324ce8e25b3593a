//! A task occurrence comes due: the one still open is recorded as missed
//! (said in the new occurrence's `task_due` nudge, or in a `task_missed` nudge
//! when the new one is skipped), occurrences that passed while nothing fired
//! are recorded as missed, and the current one nudges unless the missed-run
//! policy skips it. The row moves on to the next occurrence.

use super::{FireCtx, Fired, LATE_AFTER_MS};
use crate::error::Result;
use crate::model::{self, Nudge, from_ms};
use crate::rules::MissedPolicy;
use crate::store::tx::{Occurrence, Tx};
use crate::store::{DueRow, plan_fire, task_due_message};

/// Posts shown in a study task's digest.
const DIGEST_POSTS: i64 = 3;
/// Characters of each post in the digest.
const DIGEST_EXCERPT: usize = 100;

/// A study task's digest: the person's most engaging posts first seen since
/// the task's previous occurrence fired (or in the last week), so the task
/// says what to study. Empty when nothing new was fetched.
async fn digest(tx: &mut Tx, task: i64, about: &str, due_ms: i64, now_ms: i64) -> Result<String> {
    let since = match tx.previous_fire(task, due_ms).await? {
        Some(ms) => ms,
        None => now_ms - 7 * 86_400_000,
    };
    let (posts, all) = tx.study_digest(about, since, DIGEST_POSTS).await?;
    if all == 0 {
        return Ok(String::new());
    }
    let shown: Vec<String> = posts
        .iter()
        .map(|(text, engagement, url)| {
            let text = crate::model::study::excerpt(text, DIGEST_EXCERPT);
            let url = if url.is_empty() { String::new() } else { format!(" {url}") };
            format!("\u{201c}{text}\u{201d} ({engagement} engagements){url}")
        })
        .collect();
    let more =
        if all > posts.len() as i64 { format!(" (best {} shown)", posts.len()) } else { String::new() };
    Ok(format!(
        ". New from {about}: {all} post{}{more}: {}. More: clout study {about}",
        if all == 1 { "" } else { "s" },
        shown.join("; ")
    ))
}

pub async fn fire(tx: &mut Tx, row: &DueRow, ctx: &FireCtx) -> Result<Fired> {
    let mut fired = Fired::default();
    let Some(task) = tx.live_task(row.ref_id).await? else { return Ok(fired) };
    let now_ms = ctx.now_ms;
    let plan = plan_fire(task.spec.as_deref(), &task.tz, row.due_at, now_ms);
    // The occurrence still open when the next one fires was missed.
    let open = tx.miss_open_occurrences(row.ref_id, now_ms).await?;
    for &m in &plan.missed {
        let occ =
            Occurrence { due_ms: m, state: "missed", fired_ms: None, resolved_ms: Some(now_ms), late: true };
        tx.insert_occurrence(row.ref_id, &occ).await?;
    }
    let late = now_ms - plan.fire_at > LATE_AFTER_MS;
    let policy = task.missed_policy.as_deref().and_then(MissedPolicy::parse).unwrap_or(ctx.policy.missed);
    let too_late = now_ms - plan.fire_at > i64::from(ctx.policy.max_lateness_minutes) * 60_000;
    let skip = late && (policy == MissedPolicy::Skip || (policy == MissedPolicy::CatchUp && too_late));
    let occ = Occurrence {
        due_ms: plan.fire_at,
        state: if skip { "missed" } else { "due" },
        fired_ms: Some(now_ms),
        resolved_ms: skip.then_some(now_ms),
        late,
    };
    tx.insert_occurrence(row.ref_id, &occ).await?;
    if !skip {
        // One nudge: the occurrence that went by undone is told in the new one's.
        let mut message =
            task_due_message(&task.body, &task.about, plan.fire_at, now_ms, late, plan.missed.len());
        if let Some(&missed_at) = open.last() {
            message.push_str(&format!(
                "; the one due {} was not done and is recorded as missed",
                model::local_time(from_ms(missed_at), ctx.tz)
            ));
        }
        if !task.about.is_empty() {
            message.push_str(&digest(tx, row.ref_id, &task.about, plan.fire_at, now_ms).await?);
        }
        let n = Nudge { task_id: Some(row.ref_id), late, ..ctx.nudge("task_due", message, plan.fire_at) };
        fired.nudges.extend(tx.insert_nudge(n, format!("task:{}:{}", row.ref_id, plan.fire_at)).await?);
    } else if let Some(&missed_at) = open.last()
        && ctx.policy.rules.tasks_missed
        && !ctx.capped(tx, "task_missed").await?
    {
        let message = format!("Missed: {} (clout task list shows your record)", model::label("", &task.body));
        let n = Nudge { task_id: Some(row.ref_id), ..ctx.nudge("task_missed", message, missed_at) };
        fired.nudges.extend(tx.insert_nudge(n, format!("task_missed:{}:{}", row.ref_id, missed_at)).await?);
    }
    fired.next_due = plan.next;
    Ok(fired)
}
