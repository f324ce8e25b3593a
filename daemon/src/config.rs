//! Settings: command-line flags and environment over the config file over defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The optional TOML config file (`$XDG_CONFIG_HOME/clout/cloutd.toml`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Where the gRPC socket is created.
    pub socket: Option<PathBuf>,
    /// `sqlite://PATH` (the default) or `postgres://USER@HOST/DB`.
    pub database_url: Option<String>,
    /// A tracing filter such as `info` or `clout_daemon=debug`; `RUST_LOG` wins.
    pub log: Option<String>,
}

/// The effective settings the daemon runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub socket: PathBuf,
    pub database_url: String,
    pub log: String,
    pub config_file: Option<PathBuf>,
}

/// What the command line (or its environment variables) asked for.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub socket: Option<PathBuf>,
    pub database_url: Option<String>,
    pub config_file: Option<PathBuf>,
}

pub fn default_config_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("clout").join("cloutd.toml"))
}

pub fn default_database_url() -> Result<String> {
    let dir = dirs::data_dir().ok_or_else(|| {
        Error::Startup(
            "cannot find a data directory: set XDG_DATA_HOME or HOME, or pass --database-url".into(),
        )
    })?;
    Ok(format!("sqlite://{}", dir.join("clout").join("clout.db").display()))
}

pub fn read_file_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "cannot read the config file",
        path: path.into(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| Error::Startup(format!("invalid config file {}: {e}", path.display())))
}

impl Config {
    /// Resolves the settings. An explicit config file must exist; the default one is optional.
    pub fn load(o: Overrides) -> Result<Config> {
        let (file, config_file) = match o.config_file {
            Some(path) => (read_file_config(&path)?, Some(path)),
            None => match default_config_file() {
                Some(path) if path.exists() => (read_file_config(&path)?, Some(path)),
                _ => (FileConfig::default(), None),
            },
        };
        let socket = o.socket.or(file.socket).unwrap_or_else(clout_proto::default_socket_path);
        let database_url = match o.database_url.or(file.database_url) {
            Some(url) => url,
            None => default_database_url()?,
        };
        let log = file.log.unwrap_or_else(|| "info".into());
        Ok(Config { socket, database_url, log, config_file })
    }
}
