//! `clout`: the command line for a social media program run by `cloutd`.

mod client;
mod commands;
mod complete;
mod render;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use commands::Ctx;

const AFTER_HELP: &str = "\
Start the daemon first (`cloutd`), then for example:
  clout draft add \"Shipping week: what I learned\" --at \"tomorrow 9am\"
  clout queue
  clout watch

WHEN phrases: `in 2h`, `tomorrow 9am`, `tomorrow at 9`, `monday morning`, `fri 17:30`,
`Dec 24`, `next week`, `eod`, `2026-12-01 09:00`, RFC 3339 (README: \"Time phrases\").";

/// clout: keep the rhythm of your social media program.
///
/// Drafts posts, queues them for a time and shows the nudges that cloutd
/// fires when they come due.
#[derive(Parser, Debug)]
#[command(name = "clout", version, about, long_about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// cloutd's socket [default: $XDG_RUNTIME_DIR/clout/cloutd.sock]
    #[arg(long, global = true, help_heading = "Global options", env = "CLOUT_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Reach cloutd over TCP instead: https://HOST:PORT (cloutd --listen); wins over --socket
    #[arg(long, global = true, help_heading = "Global options", env = "CLOUT_ENDPOINT", value_name = "URL")]
    endpoint: Option<String>,
    /// File (mode 0600) with the bearer token for --endpoint
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "CLOUT_TOKEN_FILE",
        value_name = "FILE"
    )]
    token_file: Option<PathBuf>,
    /// CA certificate (PEM) to trust for --endpoint [default: the system's roots]
    #[arg(long, global = true, help_heading = "Global options", env = "CLOUT_CA", value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Print JSON instead of text (one object per line for `watch`)
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Set up your program in a few questions: purpose, goals, zone, a slot, a first draft,
    /// an account, a sink (each can be skipped)
    #[command(
        after_help = "Examples:\n  clout init\n  printf 'learn\\n3\\n2\\nEurope/Berlin\\nmon,wed,fri 09:00\\nHello!\\n\\n\\n' | clout init --stdin\n\nThe questions, in order (one line each with --stdin; an empty line skips one):\n  1 purpose: learn or influence       5 a posting slot: mon,wed,fri 09:00\n  2 posts a week: 3                   6 a first draft's text (queued into the slot)\n  3 engagement tasks a day: 2         7 an account: mastodon or bluesky, then its\n  4 time zone: Europe/Berlin            server or handle, then its secret file\n                                      8 a sink: a webhook URL, or desktop\nEach answer is saved at once, as the command for it would (clout program set, slots add,\ndraft add, account add, sink add); run it again to add more."
    )]
    Init(commands::init::InitArgs),
    /// Write, list, edit and schedule drafts
    #[command(
        subcommand,
        after_help = "Examples:\n  clout draft add \"Shipping week: what I learned\" --at \"tomorrow 9am\"\n  clout draft list\n  clout draft show 3\n  clout draft schedule 3 --queue"
    )]
    Draft(commands::draft::DraftCmd),
    /// Record that drafts were published (optionally where); acknowledges their due nudges
    #[command(
        after_help = "Examples:\n  clout posted 3 --url https://mastodon.social/@me/1\n  clout posted 3 4 5"
    )]
    Posted {
        /// The draft ids (`clout draft list` shows them)
        #[arg(value_name = "ID", required = true, add = crate::complete::draft_ids())]
        ids: Vec<i64>,
        /// Where it was published (with one ID)
        #[arg(long)]
        url: Option<String>,
    },
    /// Skip drafts: they will not be posted
    #[command(after_help = "Examples:\n  clout skip 3\n  clout skip 3 4")]
    Skip {
        /// The draft ids (`clout draft list` shows them)
        #[arg(value_name = "ID", required = true, add = crate::complete::draft_ids())]
        ids: Vec<i64>,
    },
    /// Mastodon and Bluesky accounts cloutd publishes drafts to
    #[command(
        subcommand,
        after_help = "Examples:\n  clout account add mastodon --instance https://mastodon.social --token-file ~/.config/clout/mastodon.token\n  clout account list\n  clout account check"
    )]
    Account(commands::account::AccountCmd),
    /// Show what is coming (posts and tasks), or shuffle, pause and resume the queue
    #[command(
        after_help = "Examples:\n  clout queue\n  clout queue --days 7\n  clout queue pause\n  clout queue resume"
    )]
    Queue(commands::queue::QueueArgs),
    /// Engagement tasks on a rhythm: add, list, done, skip, rm (alone: list)
    #[command(
        after_help = "Examples:\n  clout task\n  clout task add \"Reply to 3 posts\" --every \"weekdays 10:00\"\n  clout task done 1\n  clout task done 1 --next"
    )]
    Task {
        #[command(subcommand)]
        cmd: Option<commands::task::TaskCmd>,
    },
    /// Your purpose, goals and time zone (alone: show)
    #[command(
        after_help = "Examples:\n  clout program\n  clout program set --purpose learn --posts-per-week 3 --tz Europe/Berlin"
    )]
    Program {
        #[command(subcommand)]
        cmd: Option<commands::program::ProgramCmd>,
    },
    /// Posting slots: the times your queued drafts go into (alone: list)
    #[command(
        after_help = "Examples:\n  clout slots\n  clout slots add \"mon,wed,fri 09:00\"\n  clout slots rm 2"
    )]
    Slots {
        #[command(subcommand)]
        cmd: Option<commands::program::SlotsCmd>,
    },
    /// People to learn from (alone: list)
    #[command(
        after_help = "Examples:\n  clout follow\n  clout follow add @alice@mastodon.social -p mastodon --why \"clear threads\"\n  clout follow rm 1"
    )]
    Follow {
        #[command(subcommand)]
        cmd: Option<commands::program::FollowCmd>,
    },
    /// What the people you follow post: cadence, best posts, what changed (refresh: read now)
    #[command(
        after_help = "Examples:\n  clout study\n  clout study @alice@mastodon.social\n  clout study refresh\n  clout --json study alice.bsky.social"
    )]
    Study(commands::study::StudyArgs),
    /// Goals against what happened: streaks, consistency, queue, heatmap
    #[command(
        after_help = "Examples:\n  clout review\n  clout review --month\n  clout review --since yesterday\n  clout review --format markdown"
    )]
    Review(commands::review::ReviewArgs),
    /// How your posts did: counts over time, the best and worst, what worked
    #[command(
        after_help = "Examples:\n  clout results\n  clout results --days 7\n  clout --json results\n  clout results refresh"
    )]
    Results(commands::results::ResultsArgs),
    /// Record a setback (and the lesson in it)
    #[command(
        after_help = "Examples:\n  clout setback \"Launch thread got no replies\" --lesson \"Post threads in the morning\" --tag threads"
    )]
    Setback(commands::review::SetbackArgs),
    /// Add the lesson of a setback
    #[command(subcommand, after_help = "Examples:\n  clout lesson add 4 \"Post threads in the morning\"")]
    Lesson(commands::review::LessonCmd),
    /// List lessons, by tag or words
    #[command(
        after_help = "Examples:\n  clout lessons\n  clout lessons --tag threads\n  clout lessons --search morning"
    )]
    Lessons(commands::review::LessonsArgs),
    /// Export the program: `--json FILE` for backups and moves, `--ical FILE` for calendars
    #[command(after_help = "Examples:\n  clout export --json backup.json\n  clout export --ical clout.ics")]
    Export(commands::backup::ExportArgs),
    /// Import a JSON export (one transaction; importing twice adds nothing)
    #[command(
        after_help = "Examples:\n  clout import backup.json\n  clout export --json - | ssh other clout import -"
    )]
    Import {
        /// The file written by `clout export --json` (`-` for stdin)
        file: PathBuf,
    },
    /// Print nudges as they fire (reconnects and resumes if cloutd restarts)
    #[command(after_help = "Examples:\n  clout watch\n  clout --json watch --after 120\n  clout watch -n 1")]
    Watch {
        /// Resume after this nudge id: every later nudge is printed first
        #[arg(long, value_name = "ID")]
        after: Option<i64>,
        /// Stop after this many nudges
        #[arg(long, short = 'n', value_name = "N")]
        count: Option<u64>,
    },
    /// Show the nudge log
    #[command(after_help = "Examples:\n  clout nudges\n  clout nudges --unread\n  clout nudges --all")]
    Nudges {
        /// The whole log, oldest first
        #[arg(long)]
        all: bool,
        /// Only nudges not acknowledged or snoozed yet
        #[arg(long)]
        unread: bool,
        /// How many of the newest nudges
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Where nudges are delivered: webhooks, command hooks, desktop notifications
    #[command(
        subcommand,
        after_help = "Examples:\n  clout sink add webhook https://ntfy.sh/my-topic --format ntfy\n  clout sink list\n  clout sink test 1"
    )]
    Sink(commands::sink::SinkCmd),
    /// Acknowledge or snooze a nudge
    #[command(
        subcommand,
        after_help = "Examples:\n  clout nudge ack 12 13\n  clout nudge ack --all\n  clout nudge snooze 12 --for tomorrow"
    )]
    Nudge(commands::nudges::NudgeCmd),
    /// Show the daemon's version, database, socket and next due item
    #[command(after_help = "Examples:\n  clout status\n  clout --json status")]
    Status,
    /// Print shell completions: bash, zsh, fish, elvish, powershell (ids come from cloutd)
    #[command(
        after_help = "Examples:\n  clout completions bash > ~/.local/share/bash-completion/completions/clout\n  clout completions zsh > ~/.zfunc/_clout\n  clout completions fish > ~/.config/fish/completions/clout.fish\n  echo 'source <(clout completions bash)' >> ~/.bashrc\n\nThe script calls back into clout as you type (COMPLETE=SHELL clout -- …), so `clout draft show <TAB>`\noffers the ids of your drafts, `clout task done <TAB>` your tasks and `clout nudge ack <TAB>` the\nunread nudges, asked of cloutd; when cloutd is not running they complete to nothing."
    )]
    Completions {
        /// The shell to write the script for
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): clout's, or a command's (`clout man task done | man -l -`)
    #[command(after_help = "Examples:\n  clout man | man -l -\n  clout man task done | man -l -")]
    Man {
        /// The command, e.g. `draft add` or `task`
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    quiet_on_closed_output();
    // `COMPLETE=bash clout -- clout draft show ''`: the shell asks for completions.
    complete::answer_if_asked();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let _ = commands::draft::MATCHES.set(matches);
    if let Some(endpoint) = &cli.endpoint
        && !matches!(cli.command, Command::Completions { .. } | Command::Man { .. })
        && let Err(e) = client::use_endpoint(endpoint, cli.token_file.as_deref(), cli.ca.as_deref())
    {
        let style = anstyle::AnsiColor::Red.on_default().bold();
        anstream::eprintln!("{style}error:{style:#} {e:#}");
        return ExitCode::FAILURE;
    }
    let ctx = Ctx {
        // With --endpoint, messages name the endpoint where they would name the socket.
        socket: match &cli.endpoint {
            Some(endpoint) => PathBuf::from(endpoint),
            None => cli.socket.clone().unwrap_or_else(clout_proto::default_socket_path),
        },
        json: cli.json,
        tz: when::local_tz(),
    };
    let result = match cli.command {
        Command::Completions { shell } => complete::registration(shell),
        Command::Man { command } => commands::completions::man(&command),
        command => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(dispatch(&ctx, command)),
            Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A plain sentence, whatever RUST_BACKTRACE says.
            let style = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{style}error:{style:#} {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Makes `clout status | head -1` end quietly once the reader has gone: killed
/// by SIGPIPE (status 141 in the shell), as git, ls and cat are.
///
/// Rust starts every program with SIGPIPE ignored, so a closed pipe becomes an
/// EPIPE error, which `println!` panics on ("failed printing to stdout: Broken
/// pipe") and which a loop like `clout watch` might never notice. The plain fix,
/// SIGPIPE back to its default action, would also kill clout without a word
/// when cloutd closes the gRPC socket under it (a rejected peer, a daemon that
/// stops): Unix stream sockets raise SIGPIPE too. So the handler looks at which
/// side broke: when stdout or stderr is a pipe (or socket) with no reader, it
/// dies of SIGPIPE as the default action would; otherwise it returns, the write
/// fails with EPIPE, and clout reports the lost connection as before.
fn quiet_on_closed_output() {
    #[allow(unsafe_code)]
    // SAFETY: the handler only calls poll, signal and raise, which are
    // async-signal-safe; this runs first in main, before any other thread.
    unsafe {
        libc::signal(libc::SIGPIPE, on_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

extern "C" fn on_sigpipe(_: libc::c_int) {
    let mut fds = [1, 2].map(|fd| libc::pollfd { fd, events: libc::POLLOUT, revents: 0 });
    #[allow(unsafe_code)]
    // SAFETY: poll on a local array of the right length; async-signal-safe.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if ready > 0 && fds.iter().any(|p| p.revents & (libc::POLLERR | libc::POLLHUP) != 0) {
        #[allow(unsafe_code)]
        // SAFETY: signal and raise are async-signal-safe.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init(a) => commands::init::run(ctx, a).await,
        Command::Draft(cmd) => commands::draft::run(ctx, cmd).await,
        Command::Posted { ids, url } => commands::draft::posted(ctx, &ids, url).await,
        Command::Skip { ids } => commands::draft::skip(ctx, &ids).await,
        Command::Account(cmd) => commands::account::run(ctx, cmd).await,
        Command::Queue(a) => commands::queue::run(ctx, a).await,
        Command::Task { cmd } => commands::task::run(ctx, cmd.unwrap_or(commands::task::TaskCmd::List)).await,
        Command::Program { cmd } => {
            commands::program::program(ctx, cmd.unwrap_or(commands::program::ProgramCmd::Show)).await
        }
        Command::Slots { cmd } => {
            commands::program::slots(ctx, cmd.unwrap_or(commands::program::SlotsCmd::List)).await
        }
        Command::Follow { cmd } => {
            commands::program::follow(ctx, cmd.unwrap_or(commands::program::FollowCmd::List)).await
        }
        Command::Review(a) => commands::review::review(ctx, a).await,
        Command::Study(a) => commands::study::study(ctx, a).await,
        Command::Results(a) => commands::results::run(ctx, a).await,
        Command::Setback(a) => commands::review::setback(ctx, a).await,
        Command::Lesson(cmd) => commands::review::lesson(ctx, cmd).await,
        Command::Lessons(a) => commands::review::lessons(ctx, a).await,
        Command::Export(a) => commands::backup::export(ctx, a).await,
        Command::Import { file } => commands::backup::import(ctx, file).await,
        Command::Watch { after, count } => commands::nudges::watch(ctx, after, count).await,
        Command::Nudges { all, unread, limit } => commands::nudges::list(ctx, all, unread, limit).await,
        Command::Nudge(cmd) => commands::nudges::nudge(ctx, cmd).await,
        Command::Sink(cmd) => commands::sink::run(ctx, cmd).await,
        Command::Status => commands::status::run(ctx).await,
        Command::Completions { .. } | Command::Man { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command below `clout` has examples in its help, and every
    /// argument (an `<ID>`, a `<TEXT>`) says what it is.
    #[test]
    fn every_command_has_examples_and_described_arguments() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let after = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
                if !after.contains("Examples:") {
                    missing.push(format!("{path}: no examples"));
                }
                for arg in sub.get_positionals() {
                    if arg.get_help().is_none() {
                        missing.push(format!("{path}: <{}> has no description", arg.get_id()));
                    }
                }
                walk(sub, &path, missing);
            }
        }
        let mut cmd = super::Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "clout", &mut missing);
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
