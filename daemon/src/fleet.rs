//! Several daemons on one PostgreSQL database.
//!
//! Each fire claims due rows with `FOR UPDATE SKIP LOCKED` inside the one
//! transaction that also writes the nudges (see `Store::fire_due_with`): the
//! claim is a row lock that lives exactly as long as the work, so a daemon that
//! dies mid-fire loses its claim the moment PostgreSQL ends its session, and
//! another daemon takes the rows over. No item fires twice: the rows are
//! locked, and every nudge has a unique occurrence key.
//!
//! LISTEN/NOTIFY tells the other daemons about writes (`clout_wake`) and new
//! nudges (`clout_nudges`), so an item added through any daemon fires on time
//! and every daemon's watchers see every nudge. Notifications are best-effort,
//! so the scheduler and the watchers also wake at least every
//! [`FALLBACK_WAKE`] on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;

use crate::Core;

pub const WAKE_CHANNEL: &str = "clout_wake";
pub const NUDGES_CHANNEL: &str = "clout_nudges";
/// The longest any daemon of a fleet sleeps without looking at the database.
pub const FALLBACK_WAKE: Duration = Duration::from_secs(15);

/// Relays this daemon's writes and nudges to the fleet, and the fleet's to it.
pub async fn run(core: Arc<Core>, pool: PgPool, mut shutdown: watch::Receiver<bool>) {
    let mut listener = loop {
        match listen(&pool).await {
            Ok(l) => break l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN on PostgreSQL; retrying (fallback wake-ups still run)");
                tokio::select! {
                    _ = tokio::time::sleep(FALLBACK_WAKE) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    let mut local_nudges = core.nudges.subscribe();
    // The highest nudge id learned from the fleet: never sent back out.
    let mut from_fleet = *core.nudges.borrow();
    loop {
        tokio::select! {
            n = listener.recv() => match n {
                Ok(n) if n.channel() == WAKE_CHANNEL => core.wake.notify_one(),
                Ok(n) if n.channel() == NUDGES_CHANNEL => {
                    if let Ok(id) = n.payload().parse::<i64>() {
                        from_fleet = from_fleet.max(id);
                        core.nudges.send_if_modified(|cur| {
                            let newer = id > *cur;
                            if newer {
                                *cur = id;
                            }
                            newer
                        });
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    // PgListener reconnects on the next recv; anything missed meanwhile
                    // is caught by the fallback wake-ups.
                    tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                    core.wake.notify_one();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = core.fleet_out.notified() => notify(&pool, WAKE_CHANNEL, "").await,
            changed = local_nudges.changed() => {
                if changed.is_err() {
                    return;
                }
                let id = *local_nudges.borrow_and_update();
                if id > from_fleet {
                    notify(&pool, NUDGES_CHANNEL, &id.to_string()).await;
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen_all([WAKE_CHANNEL, NUDGES_CHANNEL]).await?;
    Ok(l)
}

async fn notify(pool: &PgPool, channel: &str, payload: &str) {
    if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(pool).await {
        tracing::warn!(error = %e, channel, "NOTIFY failed; the fleet's fallback wake-ups will catch up");
    }
}
