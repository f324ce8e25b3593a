//! A `study` row comes due: its person is marked for fetching (the study
//! task does the network work, outside this transaction) and the row moves
//! on a day.

use super::{FireCtx, Fired};
use crate::error::Result;
use crate::store::DueRow;
use crate::store::tx::Tx;

/// How often the people you follow are read.
pub const EVERY_MS: i64 = 24 * 3600 * 1000;

pub async fn fire(tx: &mut Tx, row: &DueRow, ctx: &FireCtx) -> Result<Fired> {
    let studied = tx.mark_study_due(row.ref_id, ctx.now_ms).await?;
    // A row that fired late (cloutd was down) moves on from now, not in steps from its old time.
    let next = (row.due_at + EVERY_MS).max(ctx.now_ms + EVERY_MS);
    Ok(Fired { nudges: Vec::new(), next_due: studied.then_some(next) })
}
