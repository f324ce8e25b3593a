//! A lesson resurfaces: a `lesson` nudge (unless quiet hours hold it back,
//! or the daily cap is reached), then the next stage from now, so a long
//! outage does not replay every stage.

use super::{FireCtx, Fired};
use crate::error::Result;
use crate::store::tx::Tx;
use crate::store::{DueRow, lesson_message, resurface_after};

pub async fn fire(tx: &mut Tx, row: &DueRow, ctx: &FireCtx) -> Result<Fired> {
    let mut fired = Fired::default();
    let Some((body, setback, stage)) = tx.lesson(row.ref_id).await? else { return Ok(fired) };
    if let Some(until) = ctx.quiet_until() {
        fired.next_due = Some(until);
        return Ok(fired);
    }
    if ctx.policy.rules.lessons && !ctx.capped(tx, "lesson").await? {
        let n = ctx.nudge("lesson", lesson_message(&body, &setback), row.due_at);
        fired.nudges.extend(tx.insert_nudge(n, format!("lesson:{}:{}", row.ref_id, row.due_at)).await?);
    }
    tx.advance_lesson(row.ref_id).await?;
    fired.next_due = Some(resurface_after(stage + 1, ctx.now_ms.max(row.due_at)));
    Ok(fired)
}
