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
