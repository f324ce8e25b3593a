//! A post's snapshot time comes: the post is queued for the results fetcher,
//! which fetches its counts outside this transaction, so a slow or dead
//! server never holds up what fires beside it.

use super::{FireCtx, Fired};
use crate::error::Result;
use crate::store::DueRow;
use crate::store::tx::Tx;

pub async fn fire(tx: &mut Tx, row: &DueRow, _ctx: &FireCtx) -> Result<Fired> {
    // The fetcher puts the next snapshot (or a retry) on the schedule.
    tx.queue_result(row.ref_id).await?;
    Ok(Fired::default())
}
