//! A snoozed nudge comes back, as a new nudge of the same kind, unless quiet
//! hours hold it back.

use super::{FireCtx, Fired};
use crate::error::Result;
use crate::model::Nudge;
use crate::store::DueRow;
use crate::store::tx::Tx;

pub async fn fire(tx: &mut Tx, row: &DueRow, ctx: &FireCtx) -> Result<Fired> {
    let mut fired = Fired::default();
    let Some((kind, message, draft_id, task_id)) = tx.snoozed(row.ref_id).await? else { return Ok(fired) };
    if let Some(until) = ctx.quiet_until() {
        fired.next_due = Some(until);
        return Ok(fired);
    }
    let n = Nudge { draft_id, task_id, ..ctx.nudge(&kind, format!("Snoozed: {message}"), row.due_at) };
    fired.nudges.extend(tx.insert_nudge(n, format!("snooze:{}:{}", row.ref_id, row.due_at)).await?);
    Ok(fired)
}
