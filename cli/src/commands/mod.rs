pub mod account;
pub mod backup;
pub mod completions;
pub mod draft;
pub mod init;
pub mod nudges;
pub mod program;
pub mod queue;
pub mod results;
pub mod review;
pub mod sink;
pub mod status;
pub mod study;
pub mod task;

/// What every command gets: the connection target, the output mode and the zone for display.
pub struct Ctx {
    pub socket: std::path::PathBuf,
    pub json: bool,
    pub tz: chrono_tz::Tz,
}

impl Ctx {
    pub async fn client(&self) -> anyhow::Result<crate::client::Client> {
        crate::client::Client::connect(&self.socket).await
    }
}

/// The outcome of a command given several ids (`clout posted 3 4 5`): each id
/// is tried in turn, and the failures are reported together at the end.
pub struct Each {
    ids: usize,
    failed: Vec<anyhow::Error>,
}

impl Each {
    pub fn new(ids: &[i64]) -> Each {
        Each { ids: ids.len(), failed: Vec::new() }
    }

    pub fn record(&mut self, r: anyhow::Result<()>) {
        if let Err(e) = r {
            self.failed.push(e);
        }
    }

    /// One id: its own error. Several: one sentence naming every failure.
    pub fn finish(mut self) -> anyhow::Result<()> {
        match self.failed.len() {
            0 => Ok(()),
            1 if self.ids == 1 => Err(self.failed.remove(0)),
            n => {
                let each: Vec<String> = self.failed.iter().map(|e| format!("{e:#}")).collect();
                anyhow::bail!("{n} of {} failed: {}", self.ids, each.join("; "))
            }
        }
    }
}
