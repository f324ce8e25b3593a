pub mod account;
pub mod backup;
pub mod completions;
pub mod draft;
pub mod nudges;
pub mod program;
pub mod queue;
pub mod review;
pub mod sink;
pub mod status;
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
