use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clout_daemon::config::{Config, Overrides};

/// cloutd: holds your social media program's queue and fires each item on time.
///
/// Serves the clout.v1 gRPC API on a Unix socket; drive it with `clout`.
#[derive(Parser, Debug)]
#[command(name = "cloutd", version, about, long_about)]
struct Args {
    /// Unix socket to serve on [default: $XDG_RUNTIME_DIR/clout/cloutd.sock]
    #[arg(long, env = "CLOUT_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Database: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://$XDG_DATA_HOME/clout/clout.db]
    #[arg(long, env = "CLOUT_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// Config file (TOML) [default: $XDG_CONFIG_HOME/clout/cloutd.toml, if present]
    #[arg(long, env = "CLOUT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(Overrides {
        socket: args.socket,
        database_url: args.database_url,
        config_file: args.config,
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cloutd: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cloutd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(clout_daemon::run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloutd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    use std::io::IsTerminal;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(color);
    // Under systemd the journal stamps each line itself.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().with_ansi(false).init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        eprintln!("cloutd: cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
