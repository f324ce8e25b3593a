//! SIGHUP: read the config file again and apply what can change while running
//! (the log filter, the allowed group, the TCP token). A config that does not
//! load is logged and the running one kept; settings that need a restart
//! (socket, database, TCP listener, the calendar's listener) are reported as such. systemd hears
//! RELOADING=1 when a reload starts and READY=1 when it is applied.

use std::sync::{PoisonError, RwLock};

use tokio::sync::{mpsc, watch};

use crate::access::{PeerPolicy, SharedPolicy};
use crate::config::Config;
use crate::socket::Prepared;
use crate::tcp::SharedToken;

/// Replaces the log filter; `Err` says why it was not changed.
pub type LogFilterFn = Box<dyn Fn(&str) -> crate::Result<()> + Send + Sync>;

/// What a reload may change.
pub struct Live<'a> {
    pub config: RwLock<Config>,
    pub policy: SharedPolicy,
    pub socket: &'a Prepared,
    /// The TCP listener's token, when there is a listener.
    pub token: Option<SharedToken>,
    pub set_log_filter: Option<LogFilterFn>,
    /// For the `[nudges]` policy (rules, quiet hours, cap, missed runs).
    pub core: std::sync::Arc<crate::Core>,
}

/// Reloads on every message of `requests` until `stop` flips.
pub async fn serve(live: Live<'_>, requests: Option<mpsc::Receiver<()>>, mut stop: watch::Receiver<bool>) {
    let Some(mut requests) = requests else {
        return;
    };
    loop {
        // Await nothing inside select!: its output holds the watch guard.
        let request = tokio::select! {
            r = requests.recv() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        if request.is_none() {
            return;
        }
        // RELOADING=1 now, READY=1 once everything below is applied: with
        // Type=notify-reload (or `cloutd --reload` as ExecReload=) `systemctl
        // reload` returns only then.
        let generation = crate::systemd::reloading();
        if let Some(policy) = live.reload()
            && let Err(e) = live.core.set_policy(policy).await
        {
            tracing::error!("cannot apply the new [nudges] settings: {e}");
        }
        let config = live.config.read().unwrap_or_else(PoisonError::into_inner).clone();
        if let Err(e) = crate::add_config_accounts(&live.core, &config).await {
            tracing::error!("cannot add the config file's accounts: {e}");
        }
        if let Err(e) = crate::add_config_sinks(&live.core, &config).await {
            tracing::error!("cannot add the config file's sinks: {e}");
        }
        crate::systemd::reloaded(generation);
    }
}

impl Live<'_> {
    /// Re-reads the configuration and applies it, all or nothing. Returns the
    /// new `[nudges]` policy when it changed, for the caller to apply.
    pub fn reload(&self) -> Option<crate::rules::Policy> {
        let current = self.config.read().unwrap_or_else(PoisonError::into_inner).clone();
        let source = current
            .config_file
            .as_ref()
            .or(current.overrides.config_file.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "flags and environment (no config file)".into());
        tracing::info!(config = %source, "SIGHUP: reloading the configuration");
        let new = match current.reload() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot reload the configuration, keeping the current one: {e}");
                return None;
            }
        };
        // Check everything before changing anything.
        let policy = match PeerPolicy::new(clout_proto::current_uid(), new.allowed_group.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cannot reload the configuration, keeping the current one: {e}");
                return None;
            }
        };
        let token = match (&self.token, &new.tcp) {
            (Some(_), Some(tcp)) => match crate::tcp::read_token(tcp) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::error!("cannot reload the configuration, keeping the current one: {e}");
                    return None;
                }
            },
            _ => None,
        };

        let group_changed = {
            let mut p = self.policy.write().unwrap_or_else(PoisonError::into_inner);
            let changed = *p != policy;
            *p = policy.clone();
            changed
        };
        if group_changed && let Err(e) = self.socket.restrict(policy.group.as_ref()) {
            tracing::error!("cannot change the socket's access for the new allowed group: {e}");
        }
        if let (Some(shared), Some(t)) = (&self.token, token) {
            let mut cur = shared.write().unwrap_or_else(PoisonError::into_inner);
            if **cur != *t {
                *cur = t.into();
                tracing::info!("the TCP bearer token was replaced from the token file");
            }
        }
        if new.log != current.log
            && let Some(set) = &self.set_log_filter
        {
            match set(&new.log) {
                Ok(()) => tracing::info!(filter = %new.log, "log filter changed"),
                Err(e) => tracing::warn!("log filter not changed: {e}"),
            }
        }
        for (what, changed) in [
            ("socket", new.socket != current.socket),
            ("database_url", new.database_url != current.database_url),
            (
                "the TCP listener (listen, tls_cert, tls_key, insecure_loopback)",
                tcp_shape_changed(&current, &new),
            ),
            ("[calendar]", new.calendar != current.calendar),
        ] {
            if changed {
                tracing::warn!("{what} changed in the configuration; restart cloutd to apply it");
            }
        }
        let group = policy.group.as_ref().map(|g| g.name.as_str()).unwrap_or("none");
        tracing::info!(allowed_group = %group, log = %new.log, "configuration reloaded");
        if new.result_after != current.result_after {
            // Posts already followed keep the snapshot time they wait for; the next ones follow the new times.
            self.core.store.set_result_after(new.result_after.clone());
            tracing::info!("[results] snapshot times changed");
        }
        let policy = (new.policy != current.policy).then(|| new.policy.clone());
        if policy.is_some() {
            tracing::info!("[nudges] settings changed");
        }
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = new;
        policy
    }
}

/// Whether the TCP listener itself (not just its token file) differs.
fn tcp_shape_changed(a: &Config, b: &Config) -> bool {
    let shape = |c: &Config| c.tcp.as_ref().map(|t| (t.addr, t.tls.clone()));
    shape(a) != shape(b)
}
