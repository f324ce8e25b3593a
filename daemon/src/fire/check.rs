//! A rule check comes due (queue dry, behind goal, streak at risk, weekly
//! review): the facts are read now, the rule decides whether to nudge, and
//! the check moves to its next time. A check that fires late (cloutd was
//! down) is simply evaluated now, once.

use super::{FireCtx, Fired};
use crate::error::Result;
use crate::model::{from_ms, to_ms};
use crate::rules::{self, Check, Facts};
use crate::store::DueRow;
use crate::store::tx::Tx;

pub async fn fire(tx: &mut Tx, row: &DueRow, ctx: &FireCtx) -> Result<Fired> {
    let mut fired = Fired::default();
    let Some(check) = Check::from_id(row.ref_id) else { return Ok(fired) };
    if let Some(until) = ctx.quiet_until() {
        fired.next_due = Some(until);
        return Ok(fired);
    }
    let facts = facts(tx, ctx).await?;
    if let Some(message) = rules::check_message(check, &facts)
        && !ctx.capped(tx, check.kind()).await?
    {
        let n = ctx.nudge(check.kind(), message, row.due_at);
        fired.nudges.extend(tx.insert_nudge(n, format!("check:{}:{}", row.ref_id, row.due_at)).await?);
    }
    fired.next_due = ctx.policy.next_check(check, from_ms(ctx.now_ms), ctx.tz).map(to_ms);
    Ok(fired)
}

/// What the rule checks look at, read inside the firing transaction.
async fn facts(tx: &mut Tx, ctx: &FireCtx) -> Result<Facts> {
    let now_ms = ctx.now_ms;
    let week = to_ms(rules::week_start(from_ms(now_ms), ctx.tz));
    let last_week = to_ms(rules::week_start(from_ms(week - 1), ctx.tz));
    let dry_days = ctx.policy.rules.queue_dry.days.unwrap_or(2);
    let this_week = tx.published_between(week, now_ms, true).await?;
    let last = tx.published_between(last_week, week, false).await?;
    let soon = tx.posts_queued_between(now_ms, now_ms + i64::from(dry_days) * 86_400_000).await?;
    Ok(Facts {
        goal: ctx.goal,
        this_week: this_week.max(0) as u32,
        last_week: last.max(0) as u32,
        queued_soon: soon.max(0) as u32,
        dry_days,
    })
}
