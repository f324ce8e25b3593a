//! `clout account …`: the Mastodon and Bluesky accounts cloutd publishes to.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use clout_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, DIM, GREEN, RED, Table};

const AFTER_ADD: &str = "\
Examples:
  clout account add mastodon --instance https://mastodon.social --token-file ~/.config/clout/mastodon.token
  clout account add bluesky --handle you.bsky.social --app-password-file ~/.config/clout/bluesky.pw
  pass show bluesky | clout account add bluesky --handle you.bsky.social --app-password-stdin

With --token-file / --app-password-file the secret stays in its file (mode 0600: run
`chmod 600 FILE`) and cloutd reads it when it publishes; only cloutd's own user may name a
file. With --token-stdin / --app-password-stdin the secret is read from standard input and
kept by cloutd (members of allowed_group and TCP clients use this). cloutd never shows it,
and signs in once before adding the account.

Mastodon: make a token under Preferences → Development → New application, with the
scope write:statuses (and read:accounts for `clout account check`).
Bluesky: make an app password under Settings → Privacy and security → App passwords.";

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Add an account: `mastodon --instance URL --token-file F` or `bluesky --handle H --app-password-file F`
    #[command(subcommand, after_help = AFTER_ADD)]
    Add(AddCmd),
    /// List accounts (secrets are never shown)
    #[command(
        visible_alias = "ls",
        after_help = "Examples:\n  clout account list\n  clout --json account list"
    )]
    List,
    /// Remove an account
    #[command(after_help = "Examples:\n  clout account rm mastodon\n  clout account rm bluesky --force")]
    Rm {
        /// The account's name (`clout account list` shows it)
        name: String,
        /// Also when drafts still wait to be published there (they are marked failed)
        #[arg(long)]
        force: bool,
    },
    /// Sign in with the stored secret and read the server's limits (every account without NAME)
    #[command(after_help = "Examples:\n  clout account check\n  clout account check mastodon")]
    Check {
        /// The account's name (`clout account list` shows it) [default: every account]
        name: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AddCmd {
    /// A Mastodon account (or any server with Mastodon's API)
    #[command(after_help = AFTER_ADD)]
    Mastodon {
        /// The instance, e.g. https://mastodon.social
        #[arg(long, value_name = "URL")]
        instance: String,
        /// File (mode 0600) holding the access token; cloutd reads it when it publishes
        #[arg(long, value_name = "FILE", required_unless_present = "token_stdin")]
        token_file: Option<PathBuf>,
        /// Read the access token from standard input; cloutd keeps it
        #[arg(long, conflicts_with = "token_file")]
        token_stdin: bool,
        /// The name drafts use in --account [default: mastodon]
        #[arg(long)]
        name: Option<String>,
        /// Add it without signing in first
        #[arg(long)]
        no_check: bool,
    },
    /// A Bluesky account (or any atproto PDS)
    #[command(after_help = AFTER_ADD)]
    Bluesky {
        /// The handle, e.g. you.bsky.social
        #[arg(long)]
        handle: String,
        /// File (mode 0600) holding an app password; cloutd reads it when it publishes
        #[arg(long, value_name = "FILE", required_unless_present = "app_password_stdin")]
        app_password_file: Option<PathBuf>,
        /// Read the app password from standard input; cloutd keeps it
        #[arg(long, conflicts_with = "app_password_file")]
        app_password_stdin: bool,
        /// The PDS [default: https://bsky.social]
        #[arg(long, value_name = "URL")]
        pds: Option<String>,
        /// The app view asked for your posts' results [default: https://public.api.bsky.app]
        #[arg(long, value_name = "URL")]
        appview: Option<String>,
        /// The name drafts use in --account [default: bluesky]
        #[arg(long)]
        name: Option<String>,
        /// Add it without signing in first
        #[arg(long)]
        no_check: bool,
    },
}

/// Where cloutd gets the secret: `(secret_file, secret)`. A file is passed
/// by its absolute path (cloutd reads it, from its own directory); `--…-stdin`
/// reads one line from standard input.
pub(crate) fn secret_source(file: Option<PathBuf>) -> Result<(String, String)> {
    if let Some(file) = file {
        let path = std::fs::canonicalize(&file)
            .with_context(|| format!("cannot find the secret file {}", file.display()))?;
        return Ok((path.display().to_string(), String::new()));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("cannot read the secret from standard input")?;
    let secret = line.trim();
    if secret.is_empty() {
        bail!("standard input held no secret: pipe the token or app password in, e.g. `< FILE`");
    }
    Ok((String::new(), secret.to_string()))
}

pub async fn run(ctx: &Ctx, cmd: AccountCmd) -> Result<()> {
    match cmd {
        AccountCmd::Add(add) => {
            let req = match add {
                AddCmd::Mastodon { instance, token_file, token_stdin: _, name, no_check } => {
                    let (secret_file, secret) = secret_source(token_file)?;
                    v1::AddAccountRequest {
                        network: "mastodon".into(),
                        name: name.unwrap_or_default(),
                        server: instance,
                        handle: String::new(),
                        secret_file,
                        secret,
                        skip_check: no_check,
                        appview: String::new(),
                    }
                }
                AddCmd::Bluesky {
                    handle,
                    app_password_file,
                    app_password_stdin: _,
                    pds,
                    appview,
                    name,
                    no_check,
                } => {
                    let (secret_file, secret) = secret_source(app_password_file)?;
                    v1::AddAccountRequest {
                        network: "bluesky".into(),
                        name: name.unwrap_or_default(),
                        server: pds.unwrap_or_default(),
                        handle,
                        secret_file,
                        secret,
                        skip_check: no_check,
                        appview: appview.unwrap_or_default(),
                    }
                }
            };
            let cl = ctx.client().await?;
            let a = call!(cl, accounts, add_account, req)?;
            if ctx.json {
                render::print_json(&render::account_json(&a));
            } else {
                let who = if a.handle.is_empty() { String::new() } else { format!(" as {}", a.handle) };
                anstream::println!(
                    "Added {} account {BOLD}{}{BOLD:#}{who}. Publish with: clout draft add \"…\" --at WHEN --account {}",
                    a.network,
                    a.name,
                    a.name
                );
            }
            Ok(())
        }
        AccountCmd::List => {
            let cl = ctx.client().await?;
            let r = call!(cl, accounts, list_accounts, v1::ListAccountsRequest {})?;
            if ctx.json {
                render::print_json(&json!(r.accounts.iter().map(render::account_json).collect::<Vec<_>>()));
                return Ok(());
            }
            if r.accounts.is_empty() {
                println!(
                    "No accounts: drafts are posted by you. Add one with: clout account add mastodon --instance URL --token-file FILE"
                );
                return Ok(());
            }
            let mut t = Table::new(vec!["NAME", "NETWORK", "SERVER", "HANDLE", "LIMIT", "CHECK", "SECRET"]);
            for a in &r.accounts {
                let check = match (&a.checked_at, a.check_error.is_empty()) {
                    (None, _) => ("never".to_string(), DIM),
                    (Some(_), true) => ("ok".to_string(), GREEN),
                    (Some(_), false) => (render::cut(&a.check_error, 40), RED),
                };
                t.row(vec![
                    (a.name.clone(), BOLD),
                    (a.network.clone(), anstyle::Style::new()),
                    (a.server.clone(), anstyle::Style::new()),
                    (a.handle.clone(), anstyle::Style::new()),
                    (format!("{} chars, images {}", a.max_length, render::bytes(a.image_size_limit)), DIM),
                    check,
                    (a.secret_source.clone(), DIM),
                ]);
            }
            t.print();
            Ok(())
        }
        AccountCmd::Rm { name, force } => {
            let cl = ctx.client().await?;
            call!(cl, accounts, remove_account, v1::RemoveAccountRequest { name: name.clone(), force })?;
            if ctx.json {
                render::print_json(&json!({ "name": name, "removed": true }));
            } else {
                println!("Removed account {name}");
            }
            Ok(())
        }
        AccountCmd::Check { name } => {
            let cl = ctx.client().await?;
            let names = match name {
                Some(n) => vec![n],
                None => call!(cl, accounts, list_accounts, v1::ListAccountsRequest {})?
                    .accounts
                    .into_iter()
                    .map(|a| a.name)
                    .collect(),
            };
            let mut failed = 0;
            let mut out = Vec::new();
            for n in names {
                let a = call!(cl, accounts, check_account, v1::CheckAccountRequest { name: n })?;
                if !a.check_error.is_empty() {
                    failed += 1;
                }
                if ctx.json {
                    out.push(render::account_json(&a));
                } else if a.check_error.is_empty() {
                    anstream::println!(
                        "{GREEN}ok{GREEN:#}    {BOLD}{}{BOLD:#} ({}) signed in as {}; posts up to {} characters, images up to {}",
                        a.name,
                        a.network,
                        a.handle,
                        a.max_length,
                        render::bytes(a.image_size_limit)
                    );
                } else {
                    anstream::println!(
                        "{RED}failed{RED:#} {BOLD}{}{BOLD:#} ({}): {}",
                        a.name,
                        a.network,
                        a.check_error
                    );
                }
            }
            if ctx.json {
                render::print_json(&json!(out));
            }
            if failed > 0 {
                anyhow::bail!(
                    "{failed} account(s) failed the check; fix the secret file and run `clout account check` again"
                );
            }
            Ok(())
        }
    }
}
