//! Settings: command-line flags and environment over the config file over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::Invalid;

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
    /// A group (name or number) whose members may use the Unix socket too.
    pub allowed_group: Option<String>,
    /// A TCP address to serve on as well, such as `0.0.0.0:7478`.
    pub listen: Option<String>,
    /// PEM certificate (chain) for the TCP listener.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the TCP listener.
    pub tls_key: Option<PathBuf>,
    /// File (mode 0600) holding the bearer token TCP clients must send.
    pub token_file: Option<PathBuf>,
    /// Allow a plaintext TCP listener on a loopback address.
    pub insecure_loopback: Option<bool>,
    /// Rules, quiet hours, the daily cap, jitter and the missed-run policy.
    pub nudges: crate::rules::Policy,
    /// Sinks declared here are added at start-up (and on SIGHUP) when missing.
    pub sinks: Vec<SinkDecl>,
    /// Accounts to publish to, added or updated at start-up (and on SIGHUP).
    pub accounts: Vec<AccountDecl>,
    /// When cloutd calls itself unhealthy.
    pub health: HealthConfig,
    /// The calendar served over loopback HTTP for calendar apps to subscribe to.
    pub calendar: Option<CalendarFile>,
    /// When your posts' results are fetched.
    pub results: ResultsConfig,
}

/// The `[calendar]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarFile {
    /// A loopback address and port, such as `127.0.0.1:7479`.
    pub listen: String,
    /// File (mode 0600) holding the secret that is the first part of the URL's path.
    pub token_file: PathBuf,
}

/// The calendar listener: plain HTTP, on loopback only, behind a secret path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarConfig {
    pub listen: SocketAddr,
    pub token_file: PathBuf,
}

impl CalendarFile {
    fn resolve(&self) -> Result<CalendarConfig> {
        let listen: SocketAddr = self.listen.trim().parse().map_err(|_| {
            Error::Config(format!(
                "invalid config file: [calendar] listen = {:?}: give a loopback address and a port, such as \"127.0.0.1:7479\"",
                self.listen
            ))
        })?;
        if !listen.ip().is_loopback() {
            return Err(Error::Config(format!(
                "invalid config file: [calendar] listen = \"{listen}\": the calendar is plain HTTP, so it is served \
                 on a loopback address only, such as \"127.0.0.1:{}\"",
                listen.port()
            )));
        }
        Ok(CalendarConfig { listen, token_file: self.token_file.clone() })
    }
}

/// The `[results]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResultsConfig {
    /// How long after a post's publication each snapshot is taken, such as
    /// `["1h", "24h", "7d", "30d"]` (the default when empty).
    pub after: Vec<String>,
}

impl ResultsConfig {
    /// The offsets in ms, in increasing order.
    pub fn offsets(&self) -> std::result::Result<Vec<i64>, Invalid> {
        if self.after.is_empty() {
            return Ok(crate::model::results::DEFAULT_AFTER.to_vec());
        }
        if self.after.len() > 12 {
            return Err(Invalid::new("after", "give at most 12 snapshot times"));
        }
        let mut out = Vec::with_capacity(self.after.len());
        for s in &self.after {
            let ms = crate::model::results::parse_after(s)?;
            if out.last().is_some_and(|last| *last >= ms) {
                return Err(Invalid::new(
                    "after",
                    format!("`{s}` comes after a longer time: list the snapshot times from the shortest"),
                ));
            }
            out.push(ms);
        }
        Ok(out)
    }
}

/// The `[health]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Seconds an item may be due and unfired, or a loop busy on one turn,
    /// before cloutd reports NOT_SERVING.
    pub threshold_seconds: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { threshold_seconds: crate::health::DEFAULT_THRESHOLD.as_secs() }
    }
}

/// An `[[accounts]]` entry. The secret is given inline (`token`,
/// `app_password`) or as a file of mode 0600 (`token_file`,
/// `app_password_file`); keep an inline secret's config file private.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountDecl {
    pub name: String,
    /// mastodon or bluesky.
    pub network: String,
    /// Mastodon: the instance, e.g. https://mastodon.social.
    pub instance: String,
    /// Bluesky: the PDS; https://bsky.social when empty.
    pub pds: String,
    /// Bluesky: the handle to sign in with.
    pub handle: String,
    pub token: String,
    pub token_file: String,
    pub app_password: String,
    pub app_password_file: String,
    /// Bluesky: the app view asked for posts' results; the public one when empty.
    pub appview: String,
}

impl std::fmt::Debug for AccountDecl {
    // Secrets stay out of logs and of `--check-config`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountDecl")
            .field("name", &self.name)
            .field("network", &self.network)
            .field("instance", &self.instance)
            .field("pds", &self.pds)
            .field("handle", &self.handle)
            .field("appview", &self.appview)
            .finish_non_exhaustive()
    }
}

impl AccountDecl {
    /// The account it declares, and its inline secret if it has one.
    pub fn resolve(&self) -> std::result::Result<(crate::model::NewAccount, Option<String>), Invalid> {
        use crate::model::Network;
        let network = Network::parse(self.network.trim()).ok_or_else(|| {
            Invalid::new(
                "network",
                format!("network `{}` is not supported: use mastodon or bluesky", self.network),
            )
        })?;
        let name = if self.name.trim().is_empty() {
            network.as_str().to_string()
        } else {
            self.name.trim().to_string()
        };
        crate::model::account::check_name(&name)?;
        let (server, inline, file) = match network {
            Network::Mastodon => {
                if self.instance.trim().is_empty() {
                    return Err(Invalid::new(
                        "instance",
                        format!("account `{name}` needs instance = \"https://…\""),
                    ));
                }
                (self.instance.as_str(), &self.token, &self.token_file)
            }
            Network::Bluesky => {
                if self.handle.trim().is_empty() {
                    return Err(Invalid::new(
                        "handle",
                        format!("account `{name}` needs handle = \"you.bsky.social\""),
                    ));
                }
                let pds = if self.pds.trim().is_empty() {
                    crate::model::account::BLUESKY_PDS
                } else {
                    self.pds.as_str()
                };
                (pds, &self.app_password, &self.app_password_file)
            }
        };
        let server = crate::model::account::check_server(server)
            .map_err(|e| Invalid::new(e.field, format!("account `{name}`: {}", e.reason)))?;
        let (secret, secret_file) = match (inline.trim().is_empty(), file.trim().is_empty()) {
            (false, true) => (Some(inline.trim().to_string()), String::new()),
            (true, false) => {
                let path = std::path::Path::new(file.trim());
                if !path.is_absolute() {
                    return Err(Invalid::new(
                        "secret_file",
                        format!("account `{name}`: the secret file must be an absolute path"),
                    ));
                }
                (None, file.trim().to_string())
            }
            _ => {
                let field = if network == Network::Mastodon { "token" } else { "app_password" };
                return Err(Invalid::new(
                    field,
                    format!("account `{name}` needs exactly one of {field} and {field}_file"),
                ));
            }
        };
        let appview = match self.appview.trim() {
            "" => String::new(),
            _ if network == Network::Mastodon => {
                return Err(Invalid::new(
                    "appview",
                    format!("account `{name}`: appview is for Bluesky accounts"),
                ));
            }
            url => crate::model::account::check_server(url)
                .map_err(|e| Invalid::new("appview", format!("account `{name}`: appview: {}", e.reason)))?,
        };
        let account = crate::model::NewAccount {
            name,
            network,
            server,
            handle: self.handle.trim().trim_start_matches('@').to_string(),
            secret_file,
            secret: None,
            from_config: true,
            appview,
        };
        Ok((account, secret))
    }
}

/// A `[[sinks]]` entry, as `clout sink add` takes it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinkDecl {
    /// webhook, command or desktop.
    pub kind: String,
    /// The webhook's URL or the command's program.
    pub target: String,
    /// A command's arguments.
    pub args: Vec<String>,
    /// json, ntfy or slack (webhooks).
    pub format: String,
    /// Nudge kinds or hook names (due, post, task, publish, miss, setback, lesson); empty = all.
    pub on: Vec<String>,
}

/// The effective settings the daemon runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub socket: PathBuf,
    pub database_url: String,
    pub log: String,
    pub config_file: Option<PathBuf>,
    /// Members of this group (besides the daemon's own user) may use the socket.
    pub allowed_group: Option<String>,
    /// The optional TCP listener.
    pub tcp: Option<TcpConfig>,
    /// What the command line asked for, kept to re-resolve the settings on SIGHUP.
    pub overrides: Overrides,
    /// The `[nudges]` table: rules and the missed-run policy.
    pub policy: crate::rules::Policy,
    /// The `[[sinks]]` entries.
    pub sinks: Vec<SinkDecl>,
    /// The `[[accounts]]` entries.
    pub accounts: Vec<AccountDecl>,
    /// The `[health]` table.
    pub health: HealthConfig,
    /// The `[calendar]` table.
    pub calendar: Option<CalendarConfig>,
    /// `[results] after`: when results are fetched, in ms after a post's publication.
    pub result_after: Vec<i64>,
}

/// A TCP listener: always behind a bearer token, and behind TLS unless it is a
/// loopback address with `insecure_loopback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    pub addr: SocketAddr,
    /// Certificate and key; `None` only for an explicitly insecure loopback listener.
    pub tls: Option<TlsFiles>,
    pub token_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What the command line (or its environment variables) asked for.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub socket: Option<PathBuf>,
    pub database_url: Option<String>,
    pub config_file: Option<PathBuf>,
    pub allowed_group: Option<String>,
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    /// `--insecure-loopback` was given.
    pub insecure_loopback: bool,
}

pub fn default_config_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("clout").join("cloutd.toml"))
}

/// `sqlite://$XDG_DATA_HOME/clout/clout.db`; under a systemd unit with
/// `StateDirectory=`, `sqlite://$STATE_DIRECTORY/clout.db` instead.
pub fn default_database_url() -> Result<String> {
    if let Some(dir) = std::env::var("STATE_DIRECTORY").ok().and_then(|v| {
        // Several StateDirectory= entries arrive colon-separated; the first is cloutd's.
        v.split(':').next().filter(|d| !d.is_empty()).map(PathBuf::from)
    }) {
        return Ok(format!("sqlite://{}", dir.join("clout.db").display()));
    }
    let dir = dirs::data_dir().ok_or_else(|| {
        Error::Config(
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
    toml::from_str(&text).map_err(|e| Error::Config(format!("invalid config file {}: {e}", path.display())))
}

impl Config {
    /// Resolves the settings. An explicit config file must exist; the default one is optional.
    pub fn load(o: Overrides) -> Result<Config> {
        let (file, config_file) = match &o.config_file {
            Some(path) => (read_file_config(path)?, Some(path.clone())),
            None => match default_config_file() {
                Some(path) if path.exists() => (read_file_config(&path)?, Some(path)),
                _ => (FileConfig::default(), None),
            },
        };
        Config::resolve(o, file, config_file)
    }

    /// Resolves the settings from what the command line asked for and a parsed config file.
    pub fn resolve(o: Overrides, file: FileConfig, config_file: Option<PathBuf>) -> Result<Config> {
        let socket = o.socket.clone().or(file.socket).unwrap_or_else(clout_proto::default_socket_path);
        let database_url = match o.database_url.clone().or(file.database_url) {
            Some(url) => url,
            None => default_database_url()?,
        };
        let log = file.log.unwrap_or_else(|| "info".into());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(Error::Config(format!(
                "invalid log filter {log:?} in the config file: {e}; use a level such as \"info\" or directives such as \"clout_daemon=debug\""
            )));
        }
        let allowed_group = o.allowed_group.clone().or(file.allowed_group).filter(|g| !g.trim().is_empty());
        let tcp = tcp_config(
            o.listen.clone().or(file.listen),
            o.tls_cert.clone().or(file.tls_cert),
            o.tls_key.clone().or(file.tls_key),
            o.token_file.clone().or(file.token_file),
            o.insecure_loopback || file.insecure_loopback.unwrap_or(false),
        )?;
        file.nudges.validate().map_err(|e| Error::Config(format!("invalid config file: {e}")))?;
        let policy = file.nudges;
        let sinks = file.sinks;
        for (i, a) in file.accounts.iter().enumerate() {
            a.resolve()
                .map_err(|e| Error::Config(format!("invalid config file: [[accounts]] #{}: {e}", i + 1)))?;
        }
        let accounts = file.accounts;
        if !(1..=86_400).contains(&file.health.threshold_seconds) {
            return Err(Error::Config(format!(
                "invalid config file: [health] threshold_seconds = {} must be between 1 and 86400",
                file.health.threshold_seconds
            )));
        }
        let health = file.health;
        let calendar = file.calendar.as_ref().map(CalendarFile::resolve).transpose()?;
        let result_after = file
            .results
            .offsets()
            .map_err(|e| Error::Config(format!("invalid config file: [results] after: {e}")))?;
        Ok(Config {
            socket,
            database_url,
            log,
            config_file,
            allowed_group,
            tcp,
            overrides: o,
            policy,
            sinks,
            accounts,
            health,
            calendar,
            result_after,
        })
    }

    /// Reads the settings again (SIGHUP): the same flags, the config file as it is now.
    pub fn reload(&self) -> Result<Config> {
        let mut o = self.overrides.clone();
        if o.config_file.is_none() {
            // The file that was read at start, or the default one if it appeared since.
            o.config_file = self.config_file.clone();
        }
        Config::load(o)
    }
}

/// Checks a TCP listener's settings. Without TLS, cloutd listens on no address,
/// except a loopback one with an explicit `insecure_loopback`; a token is always required.
fn tcp_config(
    listen: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    token_file: Option<PathBuf>,
    insecure_loopback: bool,
) -> Result<Option<TcpConfig>> {
    let Some(listen) = listen.filter(|l| !l.trim().is_empty()) else {
        if insecure_loopback {
            return Err(Error::Config(
                "--insecure-loopback only makes sense with --listen 127.0.0.1:PORT; add --listen or drop it"
                    .into(),
            ));
        }
        return Ok(None);
    };
    let addr: SocketAddr = listen.trim().parse().map_err(|_| {
        Error::Config(format!(
            "invalid --listen address {listen:?}: give an IP address and a port, such as 127.0.0.1:7478 or [::]:7478"
        ))
    })?;
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (Some(_), None) => {
            return Err(Error::Config(
                "--tls-cert needs --tls-key: pass the certificate's private key too".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(Error::Config("--tls-key needs --tls-cert: pass the certificate too".into()));
        }
        (None, None) if insecure_loopback && addr.ip().is_loopback() => None,
        (None, None) if insecure_loopback => {
            return Err(Error::Config(format!(
                "refusing to listen on {addr} without TLS: --insecure-loopback allows only loopback addresses \
                 (127.0.0.1, ::1); for any other address pass --tls-cert FILE and --tls-key FILE"
            )));
        }
        (None, None) => {
            return Err(Error::Config(format!(
                "refusing to listen on {addr} without TLS: pass --tls-cert FILE and --tls-key FILE \
                 (PEM), or, for a loopback address only, --insecure-loopback"
            )));
        }
    };
    let token_file = token_file.ok_or_else(|| {
        Error::Config(format!(
            "--listen {addr} needs --token-file FILE: a file of mode 0600 holding the bearer token that \
             clients must send (for example: umask 077; openssl rand -hex 32 > FILE)"
        ))
    })?;
    Ok(Some(TcpConfig { addr, tls, token_file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o() -> Overrides {
        Overrides { database_url: Some("sqlite:///tmp/x.db".into()), ..Overrides::default() }
    }

    fn err(o: Overrides, file: FileConfig) -> String {
        match Config::resolve(o, file, None) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn tcp_without_tls_is_refused_unless_loopback_is_explicitly_insecure() {
        let listen = |addr: &str, insecure: bool| Overrides {
            listen: Some(addr.into()),
            token_file: Some("/t".into()),
            insecure_loopback: insecure,
            ..o()
        };
        let e = err(listen("127.0.0.1:0", false), FileConfig::default());
        assert!(
            e.contains("without TLS") && e.contains("--tls-cert") && e.contains("--insecure-loopback"),
            "{e}"
        );
        let e = err(listen("0.0.0.0:7478", true), FileConfig::default());
        assert!(e.contains("only loopback"), "{e}");
        let e = err(listen("192.168.1.2:7478", true), FileConfig::default());
        assert!(e.contains("only loopback"), "{e}");
        for ok in ["127.0.0.1:0", "[::1]:7478"] {
            let c = Config::resolve(listen(ok, true), FileConfig::default(), None).expect("loopback");
            assert_eq!(c.tcp.expect("tcp").tls, None);
        }
        let e = err(Overrides { insecure_loopback: true, ..o() }, FileConfig::default());
        assert!(e.contains("--listen"), "{e}");
    }

    #[test]
    fn tcp_needs_a_token_file_and_both_tls_files() {
        let base = Overrides { listen: Some("0.0.0.0:7478".into()), ..o() };
        let e = err(
            Overrides { tls_cert: Some("c".into()), tls_key: Some("k".into()), ..base.clone() },
            FileConfig::default(),
        );
        assert!(e.contains("--token-file"), "{e}");
        let e = err(Overrides { tls_cert: Some("c".into()), ..base.clone() }, FileConfig::default());
        assert!(e.contains("--tls-key"), "{e}");
        let e = err(Overrides { listen: Some("localhost".into()), ..o() }, FileConfig::default());
        assert!(e.contains("invalid --listen"), "{e}");
        // The file can hold the whole listener; flags win over it.
        let file = FileConfig {
            listen: Some("[::]:7478".into()),
            tls_cert: Some("/etc/clout/cert.pem".into()),
            tls_key: Some("/etc/clout/key.pem".into()),
            token_file: Some("/etc/clout/token".into()),
            ..FileConfig::default()
        };
        let c = Config::resolve(o(), file.clone(), None).expect("file");
        let tcp = c.tcp.expect("tcp");
        assert_eq!(tcp.addr.port(), 7478);
        assert_eq!(tcp.tls.expect("tls").cert, PathBuf::from("/etc/clout/cert.pem"));
        let c = Config::resolve(Overrides { listen: Some("127.0.0.1:9".into()), ..o() }, file, None)
            .expect("flag wins");
        assert_eq!(c.tcp.expect("tcp").addr.port(), 9);
    }

    #[test]
    fn results_snapshot_times_are_read_shortest_first() {
        let f: FileConfig = toml::from_str("[results]\nafter = [\"2s\", \"1h\"]\n").expect("parse");
        assert_eq!(Config::resolve(o(), f, None).expect("resolve").result_after, [2_000, 3_600_000]);
        let c = Config::resolve(o(), FileConfig::default(), None).expect("default");
        assert_eq!(c.result_after, crate::model::results::DEFAULT_AFTER);
        let f: FileConfig = toml::from_str("[results]\nafter = [\"1d\", \"1h\"]\n").expect("parse");
        assert!(err(o(), f).contains("shortest"));
        let f: FileConfig = toml::from_str("[results]\nafter = [\"soon\"]\n").expect("parse");
        assert!(err(o(), f).contains("[results] after"));
        let a: AccountDecl = toml::from_str(
            "network = \"mastodon\"\ninstance = \"https://x.org\"\ntoken = \"t\"\nappview = \"https://a.org\"\n",
        )
        .expect("parse");
        assert!(a.resolve().expect_err("mastodon").reason.contains("Bluesky"));
    }

    #[test]
    fn the_file_knows_the_new_keys_and_refuses_unknown_ones() {
        let f: FileConfig = toml::from_str(
            "allowed_group = \"clout\"\nlisten = \"127.0.0.1:7478\"\ntoken_file = \"/t\"\ninsecure_loopback = true\n",
        )
        .expect("parse");
        let c = Config::resolve(o(), f, None).expect("resolve");
        assert_eq!(c.allowed_group.as_deref(), Some("clout"));
        assert!(c.tcp.is_some());
        assert!(toml::from_str::<FileConfig>("alowed_group = \"x\"").is_err());
        let e = err(o(), FileConfig { log: Some("info,=[".into()), ..FileConfig::default() });
        assert!(e.contains("invalid log filter"), "{e}");
    }
}
