use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use clout_daemon::config::{Config, Overrides};

/// cloutd: holds your social media program's queue and fires each item on time.
///
/// Serves the clout.v1 gRPC API on a Unix socket (only to its own user and an
/// allowed group), optionally also on TCP with TLS and a bearer token; drive it
/// with `clout`. SIGTERM stops it cleanly, SIGHUP reloads the config file.
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
    /// Also let members of this group (name or number) use the socket (mode 0660)
    #[arg(long, env = "CLOUT_ALLOWED_GROUP", value_name = "GROUP")]
    allowed_group: Option<String>,
    /// Also serve on TCP, e.g. 0.0.0.0:7478; needs --tls-cert, --tls-key and --token-file
    #[arg(long, env = "CLOUT_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// TLS certificate (PEM, may hold the chain) for --listen
    #[arg(long, env = "CLOUT_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --listen
    #[arg(long, env = "CLOUT_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// File of mode 0600 holding the bearer token that TCP clients must send
    #[arg(long, env = "CLOUT_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Allow --listen without TLS on a loopback address (127.0.0.1, ::1) only
    #[arg(long)]
    insecure_loopback: bool,
    /// Check the configuration, print the effective settings, and exit
    #[arg(long)]
    check_config: bool,
    /// Print the man page (roff) and exit
    #[arg(long, hide = true)]
    man: bool,
    /// Send SIGHUP to the cloutd of this pid and wait until the reload is applied
    /// (`ExecReload=cloutd --reload $MAINPID`, for systemd without Type=notify-reload)
    #[arg(long, value_name = "PID")]
    reload: Option<u32>,
    /// Run as if this much later than the wall clock (25h, 7d, 30d1h): for
    /// trying out what a schedule does after a day or a week, and for tests
    #[arg(long, env = "CLOUTD_CLOCK_OFFSET", value_name = "DURATION", hide = true, value_parser = clout_daemon::clock::parse_offset)]
    clock_offset: Option<i64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let check_config = args.check_config;
    if args.man {
        return match clap_mangen::Man::new(Args::command()).render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cloutd: cannot print the man page: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(pid) = args.reload {
        // Within systemd's default TimeoutSec= (90 s) for the reload job.
        return match clout_daemon::systemd::reload_and_wait(pid, std::time::Duration::from_secs(80)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cloutd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(Overrides {
        socket: args.socket,
        database_url: args.database_url,
        config_file: args.config,
        allowed_group: args.allowed_group,
        listen: args.listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        token_file: args.token_file,
        insecure_loopback: args.insecure_loopback,
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cloutd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if check_config {
        return match print_effective(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cloutd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let set_log_filter = logging::init(&config.log);
    if let Some(ms) = args.clock_offset.filter(|ms| *ms > 0) {
        clout_daemon::clock::set_offset(ms);
        tracing::warn!(offset_ms = ms, now = %clout_daemon::clock::now(), "--clock-offset: running ahead of the wall clock");
    }
    // Before any other thread exists: this clears the LISTEN_* variables.
    let inherited = match clout_daemon::systemd::take_inherited_listener() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cloutd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cloutd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
        let launch =
            clout_daemon::Launch { inherited, reload: Some(reload_rx), set_log_filter: Some(set_log_filter) };
        let stop = signals(reload_tx);
        clout_daemon::run_with(config, stop, launch).await
    });
    // Tasks still running (a client that outstayed the grace period) are dropped here.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloutd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--check-config`: every setting as cloutd would run with it, and where it came from.
fn print_effective(c: &Config) -> clout_daemon::Result<()> {
    clout_daemon::config_sinks(c)?;
    let p = &c.policy;
    let file =
        c.config_file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "none (defaults)".into());
    println!("# cloutd {} — the configuration is valid", env!("CARGO_PKG_VERSION"));
    println!("# config file: {file}");
    println!("socket = {:?}", c.socket.display().to_string());
    println!("database_url = {:?}", clout_daemon::store::redact_url(&c.database_url));
    println!("log = {:?}", c.log);
    println!("allowed_group = {:?}", c.allowed_group.as_deref().unwrap_or(""));
    match &c.tcp {
        Some(t) => println!(
            "listen = {:?}  # TLS: {}",
            t.addr.to_string(),
            if t.tls.is_some() { "yes" } else { "no (loopback only)" }
        ),
        None => println!("# listen: no TCP listener"),
    }
    println!("\n[nudges]");
    println!("quiet_hours = {:?}", p.quiet_hours.as_deref().unwrap_or(""));
    println!("daily_cap = {}", p.daily_cap);
    println!("jitter_minutes = {}", p.jitter_minutes);
    println!("missed = {:?}", p.missed.as_str());
    println!("max_lateness_minutes = {}", p.max_lateness_minutes);
    println!("rules.tasks_missed = {}", p.rules.tasks_missed);
    println!("rules.lessons = {}", p.rules.lessons);
    for (name, r) in p.rule_list() {
        let days = r.days.map(|d| format!(", days = {d}")).unwrap_or_default();
        println!("rules.{name} = {{ enabled = {}, at = {:?}{days} }}", r.enabled, r.at);
    }
    for d in &c.sinks {
        println!(
            "\n[[sinks]]\nkind = {:?}\ntarget = {:?}\nargs = {:?}\nformat = {:?}\non = {:?}",
            d.kind, d.target, d.args, d.format, d.on
        );
    }
    for d in &c.accounts {
        if let Ok((a, inline)) = d.resolve() {
            let secret =
                if inline.is_some() { "(inline, not shown)".to_string() } else { a.secret_file.clone() };
            println!(
                "\n[[accounts]]\nname = {:?}\nnetwork = {:?}\nserver = {:?}\nhandle = {:?}\nsecret = {secret:?}",
                a.name,
                a.network.as_str(),
                a.server,
                a.handle
            );
        }
    }
    Ok(())
}

/// Completes on SIGTERM or SIGINT; each SIGHUP meanwhile asks for a reload.
/// The handlers are installed at once, before the daemon reports ready, so a
/// signal sent right after "ready" is never lost to the default action.
fn signals(reload: tokio::sync::mpsc::Sender<()>) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()));
    async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = handlers else {
            eprintln!("cloutd: cannot install signal handlers; stop with SIGKILL");
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = int.recv() => return,
                _ = hup.recv() => {
                    // Counted first, for `cloutd --reload`; a reload already
                    // queued covers this one too (it has not started yet).
                    clout_daemon::systemd::reload_requested();
                    let _ = reload.try_send(());
                }
            }
        }
    }
}

mod logging {
    use std::fmt;
    use std::io::{self, Write};
    use std::os::unix::net::UnixDatagram;
    use std::sync::Arc;

    use clout_daemon::Error;
    use tracing::{Event, Level, Metadata, Subscriber};
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::fmt::format::{Format, Full, Writer};
    use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::registry::LookupSpan;

    /// journald's socket for the native protocol (systemd.journal-fields(7)).
    const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

    /// Installs the subscriber: `RUST_LOG` if set, else the config's filter,
    /// reloadable.
    ///
    /// - Under systemd with stderr connected to the journal (`JOURNAL_STREAM`
    ///   names stderr's device and inode), each event is sent to journald as
    ///   one entry over its native protocol, with its priority: a message of
    ///   several lines stays one entry (on the stream each line would be its
    ///   own entry, at the default priority).
    /// - Otherwise with `JOURNAL_STREAM` set (or when journald's socket is
    ///   absent), lines on stderr carry no timestamp (the journal stamps them)
    ///   and start with a `<N>` priority prefix.
    /// - Elsewhere, the usual timestamped lines on stderr.
    ///
    /// The entry text is the same line as on stderr (fields included), so
    /// `journalctl` shows everything without `-o verbose`.
    pub fn init(config_filter: &str) -> clout_daemon::reload::LogFilterFn {
        use std::io::IsTerminal;
        let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
        let filter = match &from_env {
            Some(v) => EnvFilter::try_new(v).unwrap_or_else(|e| {
                eprintln!("cloutd: ignoring RUST_LOG={v:?} ({e}); using {config_filter:?}");
                EnvFilter::new(config_filter)
            }),
            None => EnvFilter::new(config_filter),
        };
        let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
        let stream = std::env::var("JOURNAL_STREAM").ok().filter(|v| !v.is_empty());
        let native = stream.as_deref().filter(|s| stderr_is(s)).and_then(|_| Journal::connect());
        let journal = stream.is_some();
        let color = !journal
            && std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let untimed = || tracing_subscriber::fmt::format().without_time().with_target(false).with_ansi(false);
        let plain = (!journal).then(|| {
            tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(color)
        });
        let prefixed = (journal && native.is_none()).then(|| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .event_format(JournalFormat(untimed()))
        });
        let native = native.map(|j| {
            tracing_subscriber::fmt::layer().with_writer(j).with_ansi(false).event_format(untimed())
        });
        tracing_subscriber::registry().with(filter).with(plain).with(prefixed).with(native).init();
        Box::new(move |new: &str| {
            if std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty()) {
                return Err(Error::Config(
                    "RUST_LOG is set, and it wins over the config file's log filter".into(),
                ));
            }
            let f = EnvFilter::try_new(new)
                .map_err(|e| Error::Config(format!("invalid log filter {new:?}: {e}")))?;
            handle.reload(f).map_err(|e| Error::Startup(format!("cannot change the log filter: {e}")))
        })
    }

    /// Whether `JOURNAL_STREAM` (`DEVICE:INODE`) names our stderr, as
    /// systemd.exec(5) says a service should check before logging natively.
    fn stderr_is(stream: &str) -> bool {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
            return false;
        };
        let Ok(meta) = std::fs::File::from(fd).metadata() else {
            return false;
        };
        stream == format!("{}:{}", meta.dev(), meta.ino())
    }

    fn priority(level: &Level) -> u8 {
        match *level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        }
    }

    /// journald's native socket; each event becomes one datagram.
    #[derive(Clone)]
    struct Journal(Arc<UnixDatagram>);

    impl Journal {
        /// `None` when journald does not listen (then cloutd logs to stderr).
        fn connect() -> Option<Journal> {
            let socket = UnixDatagram::unbound().ok()?;
            socket.connect(JOURNAL_SOCKET).ok()?;
            // journald discards an empty datagram; an error says nobody listens.
            socket.send(&[]).ok()?;
            Some(Journal(Arc::new(socket)))
        }
    }

    impl<'a> MakeWriter<'a> for Journal {
        type Writer = Entry;

        fn make_writer(&'a self) -> Entry {
            Entry { socket: self.0.clone(), priority: 6, text: Vec::new() }
        }

        fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Entry {
            Entry { socket: self.0.clone(), priority: priority(meta.level()), text: Vec::new() }
        }
    }

    /// One event's formatted text, sent as one journal entry when dropped.
    struct Entry {
        socket: Arc<UnixDatagram>,
        priority: u8,
        text: Vec<u8>,
    }

    impl Write for Entry {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.text.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Entry {
        fn drop(&mut self) {
            let text = self.text.trim_ascii();
            if text.is_empty() {
                return;
            }
            let datagram = entry(self.priority, text);
            if self.socket.send(&datagram).is_err() {
                // Too large for a datagram, or journald went away: the stream
                // still reaches the journal, line by line.
                let mut err = io::stderr().lock();
                for line in text.split(|b| *b == b'\n') {
                    let _ = write!(err, "<{}>", self.priority);
                    let _ = err.write_all(line);
                    let _ = err.write_all(b"\n");
                }
            }
        }
    }

    /// A native-protocol entry: `KEY=value` lines; a value with a newline is
    /// sent as `KEY`, newline, its length (64-bit little-endian), the value, newline.
    fn entry(priority: u8, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(message.len() + 64);
        let mut field = |key: &str, value: &[u8]| {
            out.extend_from_slice(key.as_bytes());
            if value.contains(&b'\n') {
                out.push(b'\n');
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            } else {
                out.push(b'=');
            }
            out.extend_from_slice(value);
            out.push(b'\n');
        };
        field("PRIORITY", priority.to_string().as_bytes());
        field("SYSLOG_IDENTIFIER", b"cloutd");
        field("MESSAGE", message);
        out
    }

    /// The default line format behind a syslog priority prefix (`<3>` error …
    /// `<7>` debug), which journald turns into the entry's priority.
    struct JournalFormat(Format<Full, ()>);

    impl<S, N> FormatEvent<S, N> for JournalFormat
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(
            &self,
            ctx: &FmtContext<'_, S, N>,
            mut writer: Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            write!(writer, "<{}>", priority(event.metadata().level()))?;
            self.0.format_event(ctx, writer, event)
        }
    }
}
