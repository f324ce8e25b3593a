//! `clout init`: a short setup, one question at a time. Each answer is
//! written at once, through the same calls as the commands it stands for
//! (`clout program set`, `clout slots add`, `clout draft add`, `clout account
//! add`, `clout sink add`); an empty answer skips the step.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use clout_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::call;
use crate::client::Client;
use crate::render::{self, BOLD};

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Read the answers from standard input, one line per question (an empty line skips it),
    /// instead of asking on a terminal
    #[arg(long)]
    stdin: bool,
}

/// Where the answers come from: a person at a terminal, who may try again
/// after a wrong answer, or lines of standard input, where a wrong answer ends it.
struct Asker {
    lines: std::io::StdinLock<'static>,
    interactive: bool,
    done: bool,
}

impl Asker {
    /// The answer to `question`, trimmed; `None` when it is empty (or input ended).
    fn ask(&mut self, question: &str) -> Result<Option<String>> {
        if self.done {
            return Ok(None);
        }
        if self.interactive {
            let style = BOLD;
            anstream::eprint!("{style}{question}{style:#} ");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        if self.lines.read_line(&mut line).context("cannot read the answer")? == 0 {
            // End of input: every step left is skipped.
            self.done = true;
            if self.interactive {
                eprintln!();
            }
            return Ok(None);
        }
        let answer = line.trim();
        Ok((!answer.is_empty()).then(|| answer.to_string()))
    }

    /// Asks until `apply` takes the answer (on a terminal), or once (from stdin).
    async fn step<T>(
        &mut self,
        question: &str,
        mut apply: impl AsyncFnMut(String) -> Result<T>,
    ) -> Result<Option<T>> {
        loop {
            let Some(answer) = self.ask(question)? else { return Ok(None) };
            match apply(answer).await {
                Ok(v) => return Ok(Some(v)),
                Err(e) if self.interactive => {
                    let style = anstyle::AnsiColor::Red.on_default().bold();
                    anstream::eprintln!("{style}error:{style:#} {e:#}\n(an empty answer skips this step)");
                }
                Err(e) => {
                    return Err(e.context(format!("clout init: the answer to \u{201c}{question}\u{201d}")));
                }
            }
        }
    }
}

fn say(ctx: &Ctx, text: &str) {
    if !ctx.json {
        println!("{text}");
    }
}

fn number(answer: &str, what: &str) -> Result<u32> {
    answer.parse::<u32>().map_err(|_| anyhow::anyhow!("{what} is a whole number such as 3, not {answer:?}"))
}

async fn set_program(cl: &Client, req: v1::SetProgramRequest) -> Result<v1::Program> {
    call!(cl, program, set_program, req)
}

pub async fn run(ctx: &Ctx, a: InitArgs) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if !interactive && !a.stdin {
        bail!(
            "clout init asks a few questions, and standard input is not a terminal; run it in a terminal, \
             or pass --stdin to read the answers from standard input, one line each (an empty line skips \
             a question; `clout init --help` lists them)"
        );
    }
    let cl = ctx.client().await?;
    let mut asker = Asker { lines: std::io::stdin().lock(), interactive, done: false };
    let mut summary = json!({});
    if interactive {
        eprintln!(
            "Setting up your program. Each answer is saved at once; an empty answer skips the question \
             (Ctrl-D skips the rest).\n"
        );
    }

    // 1. Purpose and goals.
    let purpose = asker
        .step("Purpose: learn (follow, read and reply to people with influence) or influence (create and lead conversations)?", async |answer: String| {
            let purpose = match answer.to_ascii_lowercase().as_str() {
                "learn" | "l" => v1::Purpose::Learn,
                "influence" | "i" => v1::Purpose::Influence,
                _ => bail!("the purpose is learn or influence, not {answer:?}"),
            };
            set_program(&cl, v1::SetProgramRequest { purpose: Some(purpose as i32), ..Default::default() }).await
        })
        .await?;
    if let Some(p) = purpose {
        say(
            ctx,
            &format!(
                "Purpose: {}",
                if p.purpose == v1::Purpose::Influence as i32 { "influence" } else { "learn" }
            ),
        );
        summary["purpose"] =
            json!(if p.purpose == v1::Purpose::Influence as i32 { "influence" } else { "learn" });
    }
    let posts = asker
        .step("Posts a week you aim for (a number)?", async |answer: String| {
            let n = number(&answer, "posts a week")?;
            set_program(&cl, v1::SetProgramRequest { posts_per_week: Some(n), ..Default::default() }).await
        })
        .await?;
    if let Some(p) = posts {
        say(ctx, &format!("Goal: {} a week", render::plural(p.posts_per_week, "post", "posts")));
        summary["posts_per_week"] = json!(p.posts_per_week);
    }
    let engage = asker
        .step("Engagement tasks a day you aim for (replies, reading; a number)?", async |answer: String| {
            let n = number(&answer, "tasks a day")?;
            set_program(&cl, v1::SetProgramRequest { engagements_per_day: Some(n), ..Default::default() })
                .await
        })
        .await?;
    if let Some(p) = engage {
        say(ctx, &format!("Goal: {} a day", render::plural(p.engagements_per_day, "task", "tasks")));
        summary["engagements_per_day"] = json!(p.engagements_per_day);
    }

    // 2. The zone.
    let here = call!(cl, program, get_program, v1::GetProgramRequest {})?.tz;
    let zone = asker
        .step(&format!("Time zone (an IANA name; empty keeps {here})?"), async |answer: String| {
            set_program(&cl, v1::SetProgramRequest { tz: Some(answer), ..Default::default() }).await
        })
        .await?;
    if let Some(p) = zone {
        say(ctx, &format!("Zone: {}", p.tz));
        summary["tz"] = json!(p.tz);
    }

    // 3. Posting slots.
    let slot = asker
        .step(
            "Posting slots, e.g. mon,wed,fri 09:00 (more later with clout slots add)?",
            async |answer: String| call!(cl, program, add_slot, v1::AddSlotRequest { spec: answer }),
        )
        .await?;
    if let Some(s) = &slot {
        let next = s.next.first().and_then(clout_proto::from_ts).map(|t| render::local(t, ctx.tz));
        say(
            ctx,
            &format!("Slot {}: {}{}", s.id, s.spec, next.map(|n| format!(", next {n}")).unwrap_or_default()),
        );
        summary["slot"] = json!({ "id": s.id, "spec": s.spec });
    }

    // 4. A first draft: into the next slot when there is one.
    let slots = call!(cl, program, list_slots, v1::ListSlotsRequest {})?.slots.len();
    let draft = asker
        .step("A first post to draft (its text)?", async |answer: String| {
            let req = v1::AddDraftRequest { text: answer, queue: slots > 0, ..Default::default() };
            call!(cl, drafts, add_draft, req)
        })
        .await?;
    if let Some(d) = &draft {
        let when = render::time(&d.scheduled_at)
            .map(|t| format!(", queued for {}", render::local(t, ctx.tz)))
            .unwrap_or_else(|| {
                format!(" (schedule it: clout draft schedule {} --at \"tomorrow 9am\")", d.id)
            });
        say(ctx, &format!("Draft {}: \u{201c}{}\u{201d}{when}", d.id, render::label(&d.title, &d.text, 40)));
        summary["draft"] = json!({ "id": d.id, "scheduled_at": render::rfc3339(&d.scheduled_at) });
    }

    // 5. An account cloutd publishes to.
    let account = asker
        .step(
            "An account for cloutd to publish to: mastodon or bluesky (empty: you post yourself when nudged)?",
            async |answer: String| match answer.to_ascii_lowercase().as_str() {
                n @ ("mastodon" | "bluesky") => Ok(n.to_string()),
                _ => bail!("the account is mastodon or bluesky, not {answer:?}"),
            },
        )
        .await?;
    if let Some(network) = account {
        let (server_q, secret_q) = if network == "mastodon" {
            ("Mastodon server, e.g. https://mastodon.social?", "File (mode 0600) holding the access token?")
        } else {
            ("Bluesky handle, e.g. you.bsky.social?", "File (mode 0600) holding an app password?")
        };
        if let Some(server) = asker.ask(server_q)? {
            let added = asker
                .step(secret_q, async |file: String| {
                    let (secret_file, secret) = super::account::secret_source(Some(PathBuf::from(&file)))?;
                    let (server, handle) = if network == "mastodon" {
                        (server.clone(), String::new())
                    } else {
                        (String::new(), server.clone())
                    };
                    let req = v1::AddAccountRequest {
                        network: network.clone(),
                        server,
                        handle,
                        secret_file,
                        secret,
                        ..Default::default()
                    };
                    call!(cl, accounts, add_account, req)
                })
                .await?;
            if let Some(acc) = added {
                say(
                    ctx,
                    &format!(
                        "Account {}: drafts with --account {} are published by cloutd",
                        acc.name, acc.name
                    ),
                );
                summary["account"] = json!(acc.name);
            }
        }
    }

    // 6. Where nudges reach you.
    let sink = asker
        .step(
            "Where nudges should reach you: a webhook URL (e.g. https://ntfy.sh/my-topic) or desktop (empty: clout watch only)?",
            async |answer: String| {
                let req = if answer.eq_ignore_ascii_case("desktop") {
                    v1::AddSinkRequest { kind: "desktop".into(), ..Default::default() }
                } else {
                    v1::AddSinkRequest { kind: "webhook".into(), target: answer, ..Default::default() }
                };
                call!(cl, sinks, add_sink, req)
            },
        )
        .await?;
    if let Some(s) = &sink {
        let target = if s.target.is_empty() { String::new() } else { format!(" {}", s.target) };
        say(ctx, &format!("Sink {}: {}{target} (try it: clout sink test {})", s.id, s.kind, s.id));
        summary["sink"] = json!({ "id": s.id, "kind": s.kind });
    }

    if ctx.json {
        render::print_json(&summary);
    } else {
        println!(
            "\nDone. Next: clout queue (what is coming), clout watch (nudges as they fire), clout review."
        );
    }
    Ok(())
}
