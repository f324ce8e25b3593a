//! What happens when a row of the due-index comes due.
//!
//! [`fire_due`] claims due rows in one transaction and hands each to the
//! handler of its kind: [`post`], [`task`], [`lesson`], [`check`],
//! [`snooze`] and [`result`]. A handler reads and writes through the transaction's queries
//! ([`Tx`]), appends its nudges, and says when the row is due next; spent
//! rows are deleted together at the end of the batch. Everything commits
//! together or not at all.

pub mod check;
pub mod lesson;
pub mod post;
pub mod result;
pub mod snooze;
pub mod study;
pub mod task;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::model::{Nudge, from_ms, to_ms};
use crate::rules::{self, Policy};
use crate::store::tx::Tx;
use crate::store::{DueRow, Store, program_zone};

/// A fired occurrence is "late" when it fires this long after its time.
pub const LATE_AFTER_MS: i64 = 60_000;

/// What firing needs besides the row.
pub struct FireCtx {
    /// When the store was opened: items due before then came due while
    /// cloutd was not running; later ones are late because firing failed.
    pub opened_ms: i64,
    pub now_ms: i64,
    /// The program's zone and weekly posting goal.
    pub tz: chrono_tz::Tz,
    pub goal: u32,
    pub policy: Policy,
}

impl FireCtx {
    /// Whether the daily cap on consistency nudges is reached for a nudge of
    /// `kind` (0 = no cap). `streak_at_risk` and `behind_goal` come first:
    /// they count only each other, so missed tasks and lessons never crowd
    /// them out.
    async fn capped(&self, tx: &mut Tx, kind: &str) -> Result<bool> {
        if self.policy.daily_cap == 0 {
            return Ok(false);
        }
        let since = to_ms(rules::day_start(from_ms(self.now_ms), self.tz));
        let kinds = if rules::PRECEDENCE_KINDS.contains(&kind) {
            &rules::PRECEDENCE_KINDS[..]
        } else {
            &rules::CAPPED_KINDS[..]
        };
        Ok(tx.nudges_of_kinds_since(since, kinds).await? >= i64::from(self.policy.daily_cap))
    }

    /// Where quiet hours hold a nudge back: the end of the quiet time.
    fn quiet_until(&self) -> Option<i64> {
        self.policy.quiet_until(from_ms(self.now_ms), self.tz).map(to_ms)
    }

    /// A nudge fired now for the row.
    fn nudge(&self, kind: &str, message: String, due_ms: i64) -> Nudge {
        Nudge {
            id: 0,
            kind: kind.into(),
            message,
            due_at: from_ms(due_ms),
            fired_at: from_ms(self.now_ms),
            draft_id: None,
            task_id: None,
            late: false,
        }
    }
}

/// What a handler did with its row.
#[derive(Default)]
pub struct Fired {
    pub nudges: Vec<Nudge>,
    /// When the row is due again; `None` removes it.
    pub next_due: Option<i64>,
}

/// Fires up to `limit` items due at or before `now` (only schedule row
/// `only`, if given) in one transaction, under `policy`. Returns the nudges
/// written.
pub async fn fire_due(
    store: &Store,
    now: DateTime<Utc>,
    limit: u32,
    policy: &Policy,
    only: Option<i64>,
) -> Result<Vec<Nudge>> {
    Ok(fire_batch(store, now, limit, policy, only).await?.nudges)
}

/// What one batch of due rows gave: the nudges written, and which workers
/// have work from it.
#[derive(Debug, Default)]
pub struct Batch {
    pub nudges: Vec<Nudge>,
    /// A post fired: the publisher may have a draft to publish.
    pub posts: bool,
    /// A person is due to be read.
    pub study: bool,
    /// A post's snapshot is due.
    pub results: bool,
}

/// [`fire_due`], saying also which kinds of row fired.
pub async fn fire_batch(
    store: &Store,
    now: DateTime<Utc>,
    limit: u32,
    policy: &Policy,
    only: Option<i64>,
) -> Result<Batch> {
    let now_ms = to_ms(now);
    let mut tx = store.begin().await?;
    tx.lock_nudge_log().await?;
    let program = tx.program_state().await?;
    if program.paused {
        return Ok(Batch::default());
    }
    let ctx = FireCtx {
        opened_ms: store.opened_ms(),
        now_ms,
        tz: program_zone(&program.tz),
        goal: program.posts_per_week.clamp(0, i64::from(u32::MAX)) as u32,
        policy: policy.clone(),
    };
    let due = tx.claim_due(now_ms, limit, only).await?;
    let mut out = Batch { nudges: Vec::with_capacity(due.len()), ..Batch::default() };
    let mut gone = Vec::with_capacity(due.len());
    for row in due {
        match row.kind.as_str() {
            "post" => out.posts = true,
            "study" => out.study = true,
            "result" => out.results = true,
            _ => {}
        }
        let fired = fire_row(&mut tx, &row, &ctx).await?;
        out.nudges.extend(fired.nudges);
        match fired.next_due {
            Some(due) => tx.reschedule(row.id, due).await?,
            // Deleted together at the end of the batch: one statement instead of one per row.
            None => gone.push(row.id),
        }
    }
    tx.delete_schedule_rows(&gone).await?;
    tx.commit().await?;
    Ok(out)
}

async fn fire_row(tx: &mut Tx, row: &DueRow, ctx: &FireCtx) -> Result<Fired> {
    match row.kind.as_str() {
        "post" => post::fire(tx, row, ctx).await,
        "task" => task::fire(tx, row, ctx).await,
        "lesson" => lesson::fire(tx, row, ctx).await,
        "check" => check::fire(tx, row, ctx).await,
        "snooze" => snooze::fire(tx, row, ctx).await,
        "study" => study::fire(tx, row, ctx).await,
        "result" => result::fire(tx, row, ctx).await,
        other => {
            tracing::warn!(kind = other, "dropping a schedule row of an unknown kind");
            Ok(Fired::default())
        }
    }
}

/// [`fire_due`] of every due row under the default policy, for tools and tests.
pub async fn fire_due_default(store: &Store, now: DateTime<Utc>, limit: u32) -> Result<Vec<Nudge>> {
    fire_due(store, now, limit, &Policy::default(), None).await
}

/// [`fire_due`] of every due row under `policy`, for tools and tests.
pub async fn fire_due_with_policy(
    store: &Store,
    now: DateTime<Utc>,
    limit: u32,
    policy: &Policy,
) -> Result<Vec<Nudge>> {
    fire_due(store, now, limit, policy, None).await
}
