//! `clout draft …`, `clout posted` and `clout skip`.

use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Args, Subcommand};
use clout_proto::v1;

use super::Ctx;
use crate::call;
use crate::render::{self, BOLD, CYAN, DIM, GREEN, RED, Table, YELLOW};
use crate::when;

/// Largest text accepted, as in cloutd.
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Largest image cloutd keeps (16 MiB).
const MAX_IMAGE_BYTES: u64 = 16 * 1024 * 1024;

/// The parsed command line, for where each `--image`, `--alt`, `--part` and
/// `--thread` stood: an image belongs to the thread part before it.
pub static MATCHES: OnceLock<clap::ArgMatches> = OnceLock::new();

/// The positions on the command line of one option of `clout draft SUB`.
fn positions(sub: &str, id: &str) -> Vec<usize> {
    MATCHES
        .get()
        .and_then(|m| m.subcommand_matches("draft"))
        .and_then(|m| m.subcommand_matches(sub))
        .and_then(|m| m.indices_of(id))
        .map(|i| i.collect())
        .unwrap_or_default()
}

/// An image as the command line gives it: the part (1 is the first), the
/// file and its alt text.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    part: u32,
    path: PathBuf,
    alt: String,
}

/// Pairs each `--alt` and `--part` with the `--image` before it, and puts
/// each image on the part of the `--thread` before it (else the first).
fn place_images(sub: &str, a: &ImageArgs) -> Result<Vec<Wanted>> {
    let image_at = positions(sub, "image");
    let thread_at = positions(sub, "thread");
    let mut out: Vec<(usize, Wanted, bool)> = a
        .image
        .iter()
        .enumerate()
        .map(|(n, path)| {
            let at = image_at.get(n).copied().unwrap_or(n);
            let part = 1 + thread_at.iter().filter(|t| **t < at).count() as u32;
            (at, Wanted { part, path: path.clone(), alt: String::new() }, false)
        })
        .collect();
    let before = |out: &mut Vec<(usize, Wanted, bool)>, at: usize| -> Option<usize> {
        out.iter().rposition(|(i, _, _)| *i < at)
    };
    for (n, alt) in a.alt.iter().enumerate() {
        let at = positions(sub, "alt").get(n).copied().unwrap_or(usize::MAX);
        let Some(k) = before(&mut out, at) else {
            bail!("--alt \"{alt}\" gives the alt text of the --image before it: put it after an --image");
        };
        if !out[k].1.alt.is_empty() {
            bail!("the image {} has two --alt: give one", out[k].1.path.display());
        }
        out[k].1.alt = alt.trim().to_string();
    }
    for (n, part) in a.part.iter().enumerate() {
        let at = positions(sub, "part").get(n).copied().unwrap_or(usize::MAX);
        let Some(k) = before(&mut out, at) else {
            bail!("--part {part} says which part the --image before it goes on: put it after an --image");
        };
        if out[k].2 {
            bail!("the image {} has two --part: give one", out[k].1.path.display());
        }
        out[k].1.part = *part;
        out[k].2 = true;
    }
    Ok(out.into_iter().map(|(_, w, _)| w).collect())
}

/// Sends each image's bytes to cloutd, which keeps a copy, and warns (on
/// stderr) about images without alt text.
async fn send_images(cl: &crate::client::Client, wanted: &[Wanted]) -> Result<Vec<v1::DraftImage>> {
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let shown = w.path.display();
        let meta = std::fs::metadata(&w.path).with_context(|| format!("cannot read the image {shown}"))?;
        if !meta.is_file() {
            bail!("the image {shown} is not a file");
        }
        if meta.len() > MAX_IMAGE_BYTES {
            bail!(
                "the image {shown} is {} bytes; cloutd takes images of at most {MAX_IMAGE_BYTES} bytes (16 MiB): make it smaller",
                meta.len()
            );
        }
        let data = std::fs::read(&w.path).with_context(|| format!("cannot read the image {shown}"))?;
        let s = call!(cl, images, add_image, v1::AddImageRequest { data })
            .with_context(|| format!("the image {shown} was refused"))?;
        if w.alt.is_empty() {
            anstream::eprintln!(
                "{YELLOW}warning:{YELLOW:#} the image {shown} has no alt text: people who cannot see it will not know what it shows (add --alt \"…\" after it)"
            );
        }
        out.push(v1::DraftImage { part: w.part, sha256: s.sha256, alt: w.alt.clone(), ..Default::default() });
    }
    Ok(out)
}

#[derive(Subcommand, Debug)]
pub enum DraftCmd {
    /// Add a draft; optionally schedule it with --at
    #[command(
        visible_alias = "new",
        after_help = "Examples:\n  clout draft add \"Shipping week: what I learned\" --at \"tomorrow 9am\"\n  clout draft add \"Notes on async Rust\" --queue --tag rust\n  clout draft add \"Launch day\" --thread \"Why we built it\" --account mastodon\n  clout draft add \"Our new office\" --image office.jpg --alt \"A bright room with six desks\"\n  clout draft add \"A thread\" --thread \"The chart\" --image chart.png --alt \"Sales doubled in May\"\n  clout draft add            # on a terminal: write it in $EDITOR"
    )]
    Add(AddArgs),
    /// List drafts, optionally only those in some states
    #[command(
        visible_alias = "ls",
        after_help = "Examples:\n  clout draft list\n  clout draft list --state draft --state scheduled\n  clout draft list --tag rust --search \"async traits\""
    )]
    List {
        /// Only drafts in this state (repeatable)
        #[arg(long, short, value_parser = ["draft", "scheduled", "due", "published", "skipped", "publishing", "partial", "failed"])]
        state: Vec<String>,
        /// Only drafts with this tag (repeatable: every one)
        #[arg(long, short, value_name = "TAG")]
        tag: Vec<String>,
        /// Only drafts whose title or text holds all these words
        #[arg(long, value_name = "WORDS")]
        search: Option<String>,
    },
    /// Show one draft in full, with each account's publishing attempts
    #[command(after_help = "Examples:\n  clout draft show 3\n  clout --json draft show 3")]
    Show {
        /// The draft id (`clout draft list` shows it)
        #[arg(add = crate::complete::draft_ids())]
        id: i64,
    },
    /// Change a draft's text, title, tags, platforms or images
    #[command(
        after_help = "Examples:\n  clout draft edit 3                 # opens $EDITOR on the text\n  clout draft edit 3 --title \"Shipping week\" --tag rust\n  echo \"New text\" | clout draft edit 3 --text -\n  clout draft edit 7 --image new.png --alt \"The new chart\"   # replaces the images\n  clout draft edit 7 --image chart.png --part 2\n  clout draft edit 7 --no-image"
    )]
    Edit(EditArgs),
    /// Delete a draft
    #[command(visible_alias = "delete", after_help = "Examples:\n  clout draft rm 3")]
    Rm {
        /// The draft id (`clout draft list` shows it)
        #[arg(add = crate::complete::draft_ids())]
        id: i64,
    },
    /// Schedule a draft for a time, or in the next free posting slot
    #[command(
        after_help = "Examples:\n  clout draft schedule 3 --at \"fri 17:30\"\n  clout draft schedule 3 --at \"tomorrow at 9\"\n  clout draft schedule 3 --queue     # the next free slot (clout slots)"
    )]
    Schedule {
        /// The draft id (`clout draft list` shows it)
        #[arg(add = crate::complete::draft_ids())]
        id: i64,
        /// When: `tomorrow 9am`, `fri 17:30`, `in 2h`, `2026-12-01 09:00`, RFC 3339
        #[arg(long, value_name = "WHEN", required_unless_present = "queue")]
        at: Option<String>,
        /// Put it in the next free posting slot (see `clout slots`)
        #[arg(long, conflicts_with = "at")]
        queue: bool,
    },
    /// Take a draft off the schedule (it stays a draft)
    #[command(after_help = "Examples:\n  clout draft unschedule 3")]
    Unschedule {
        /// The draft id (`clout draft list` shows it)
        #[arg(add = crate::complete::draft_ids())]
        id: i64,
    },
    /// Publish a partial or failed draft again, to the accounts that failed
    #[command(
        after_help = "Examples:\n  clout draft retry 3\n  clout draft show 3     # what failed, account by account"
    )]
    Retry {
        /// The draft id (`clout draft list --state failed` shows it)
        #[arg(add = crate::complete::draft_ids())]
        id: i64,
    },
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The text; `-` reads stdin; omit it on a terminal to write it in $EDITOR. From stdin or
    /// the editor, a line holding only `---` starts the next part of a thread
    text: Option<OsString>,
    /// The next part of a thread, published as a reply to the part before (repeatable, in order)
    #[arg(long, value_name = "TEXT")]
    thread: Vec<String>,
    /// Cut a part that is too long for the accounts (without accounts: for Bluesky's 300) into
    /// a thread, at sentence boundaries
    #[arg(long)]
    split: bool,
    /// Number the parts of a thread: `1/3` at the end of each
    #[arg(long)]
    number: bool,
    /// No link card on Bluesky (a post with a link gets one with the page's title and image)
    #[arg(long)]
    no_card: bool,
    #[command(flatten)]
    images: ImageArgs,
    /// A short title for lists
    #[arg(long)]
    title: Option<String>,
    /// Where it will go, e.g. mastodon, bluesky, linkedin (repeatable)
    #[arg(long, short)]
    platform: Vec<String>,
    /// A tag (repeatable)
    #[arg(long, short)]
    tag: Vec<String>,
    /// Schedule it: `tomorrow 9am`, `fri 17:30`, `in 2h`, `2026-12-01 09:00`, RFC 3339
    #[arg(long, value_name = "WHEN")]
    at: Option<String>,
    /// Put it in the next free posting slot (see `clout slots`)
    #[arg(long, conflicts_with = "at")]
    queue: bool,
    /// If it comes due while cloutd is down or paused [default: the config's, ask]
    #[arg(long, value_name = "POLICY", value_parser = ["catch-up", "skip", "next-slot", "ask"])]
    if_missed: Option<String>,
    #[command(flatten)]
    publish: PublishArgs,
}

/// Images: each `--alt` and `--part` belongs to the `--image` before it.
#[derive(Args, Debug)]
pub struct ImageArgs {
    /// An image (PNG, JPEG, WebP or GIF; at most 4 on a post; repeatable). It goes on the part
    /// of the `--thread` before it, else on the first part; cloutd keeps a copy
    #[arg(long, value_name = "PATH")]
    image: Vec<PathBuf>,
    /// The alt text of the `--image` before it, for people who cannot see it
    #[arg(long, value_name = "TEXT")]
    alt: Vec<String>,
    /// Put the `--image` before it on part N of the thread (1 is the first)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=25))]
    part: Vec<u32>,
}

/// Publishing by cloutd itself (see `clout account`).
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// cloutd publishes it to this account at its time (repeatable; see `clout account list`).
    /// Without one, you post it yourself when nudged and run `clout posted`
    #[arg(long, short = 'a', value_name = "NAME")]
    account: Vec<String>,
    /// Mastodon visibility
    #[arg(long, value_parser = ["public", "unlisted", "private", "direct"])]
    visibility: Option<String>,
    /// A content warning (Mastodon's spoiler text)
    #[arg(long, value_name = "TEXT")]
    cw: Option<String>,
    /// The language, e.g. en or pt-BR
    #[arg(long, value_name = "CODE")]
    lang: Option<String>,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    /// The draft id (`clout draft list` shows it)
    #[arg(add = crate::complete::draft_ids())]
    id: i64,
    /// New text; `-` reads stdin. With no change given, opens $EDITOR on the text. From stdin
    /// or the editor, a line holding only `---` starts the next part of a thread
    #[arg(long)]
    text: Option<OsString>,
    /// Replace the parts after the first (repeatable, in order)
    #[arg(long, value_name = "TEXT")]
    thread: Vec<String>,
    /// Make it a single post again: remove the parts after the first
    #[arg(long, conflicts_with = "thread")]
    no_thread: bool,
    /// No link card on Bluesky
    #[arg(long)]
    no_card: bool,
    /// A link card on Bluesky again (the default)
    #[arg(long, conflicts_with = "no_card")]
    card: bool,
    /// Replace the images with these (see `draft add --image`)
    #[command(flatten)]
    images: ImageArgs,
    /// Remove every image
    #[arg(long, conflicts_with = "image")]
    no_image: bool,
    /// New title
    #[arg(long)]
    title: Option<String>,
    /// Replace the platforms (repeatable)
    #[arg(long, short)]
    platform: Vec<String>,
    /// Replace the tags (repeatable)
    #[arg(long, short)]
    tag: Vec<String>,
    /// Remove every tag
    #[arg(long, conflicts_with = "tag")]
    clear_tags: bool,
    /// Publish to no account: you post it yourself
    #[arg(long, conflicts_with = "account")]
    no_account: bool,
    #[command(flatten)]
    publish: PublishArgs,
}

pub async fn run(ctx: &Ctx, cmd: DraftCmd) -> Result<()> {
    match cmd {
        DraftCmd::Add(a) => add(ctx, a).await,
        DraftCmd::List { state, tag, search } => list(ctx, state, tag, search.unwrap_or_default()).await,
        DraftCmd::Show { id } => {
            let cl = ctx.client().await?;
            let d = call!(cl, drafts, get_draft, v1::GetDraftRequest { id })?;
            show(ctx, &d);
            Ok(())
        }
        DraftCmd::Edit(e) => edit(ctx, e).await,
        DraftCmd::Rm { id } => {
            let cl = ctx.client().await?;
            call!(cl, drafts, delete_draft, v1::DeleteDraftRequest { id })?;
            if ctx.json {
                render::print_json(&serde_json::json!({ "id": id, "deleted": true }));
            } else {
                println!("Deleted draft {id}");
            }
            Ok(())
        }
        DraftCmd::Schedule { id, at, queue } => {
            let at = at.as_deref().map(|w| parse_when(ctx, w)).transpose()?;
            let cl = ctx.client().await?;
            let d = call!(
                cl,
                drafts,
                schedule_draft,
                v1::ScheduleDraftRequest { id, at: at.map(clout_proto::ts), queue }
            )?;
            done(ctx, &d, "Scheduled");
            Ok(())
        }
        DraftCmd::Unschedule { id } => {
            let cl = ctx.client().await?;
            let d = call!(cl, drafts, unschedule_draft, v1::UnscheduleDraftRequest { id })?;
            done(ctx, &d, "Unscheduled");
            Ok(())
        }
        DraftCmd::Retry { id } => {
            let cl = ctx.client().await?;
            let d = call!(cl, drafts, retry_draft, v1::RetryDraftRequest { id })?;
            done(ctx, &d, "Publishing again:");
            Ok(())
        }
    }
}

pub async fn posted(ctx: &Ctx, ids: &[i64], url: Option<String>) -> Result<()> {
    if ids.len() > 1 && url.is_some() {
        bail!("--url names where one post was published: give one draft id with it");
    }
    let cl = ctx.client().await?;
    let mut each = super::Each::new(ids);
    for &id in ids {
        let url = url.clone().unwrap_or_default();
        let r = call!(cl, drafts, mark_published, v1::MarkPublishedRequest { id, url });
        each.record(r.map(|d| done(ctx, &d, "Marked as published:")));
    }
    each.finish()
}

pub async fn skip(ctx: &Ctx, ids: &[i64]) -> Result<()> {
    let cl = ctx.client().await?;
    let mut each = super::Each::new(ids);
    for &id in ids {
        let r = call!(cl, drafts, skip_draft, v1::SkipDraftRequest { id });
        each.record(r.map(|d| done(ctx, &d, "Skipped")));
    }
    each.finish()
}

fn parse_when(ctx: &Ctx, phrase: &str) -> Result<chrono::DateTime<Utc>> {
    Ok(when::parse_when(phrase, Utc::now(), ctx.tz)?)
}

async fn add(ctx: &Ctx, a: AddArgs) -> Result<()> {
    // Read and check everything before contacting the daemon.
    let at = a.at.as_deref().map(|w| parse_when(ctx, w)).transpose()?;
    let mut parts = match a.text {
        Some(t) if t == "-" => split_parts(&read_stdin()?),
        Some(t) => vec![os_text(t)?],
        None => {
            if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
                bail!("no text given: pass it as an argument, or `-` to read it from stdin");
            }
            split_parts(&edit_text("")?)
        }
    };
    parts.extend(a.thread);
    check_parts(&parts)?;
    let text = parts.remove(0);
    let wanted = place_images("add", &a.images)?;
    let cl = ctx.client().await?;
    let images = send_images(&cl, &wanted).await?;
    let d = call!(
        cl,
        drafts,
        add_draft,
        v1::AddDraftRequest {
            text,
            title: a.title.unwrap_or_default(),
            platforms: a.platform,
            tags: a.tag,
            at: at.map(clout_proto::ts),
            queue: a.queue,
            if_missed: a.if_missed.unwrap_or_default(),
            accounts: a.publish.account,
            visibility: a.publish.visibility.unwrap_or_default(),
            content_warning: a.publish.cw.unwrap_or_default(),
            language: a.publish.lang.unwrap_or_default(),
            thread: parts,
            split: a.split,
            number: a.number,
            no_card: a.no_card,
            images,
        }
    )?;
    done(ctx, &d, "Added");
    Ok(())
}

async fn edit(ctx: &Ctx, e: EditArgs) -> Result<()> {
    let cl = ctx.client().await?;
    let p = &e.publish;
    let nothing = e.text.is_none()
        && e.thread.is_empty()
        && !e.no_thread
        && !e.no_card
        && !e.card
        && e.images.image.is_empty()
        && !e.no_image
        && e.title.is_none()
        && e.platform.is_empty()
        && e.tag.is_empty()
        && !e.clear_tags
        && !e.no_account
        && p.account.is_empty()
        && p.visibility.is_none()
        && p.cw.is_none()
        && p.lang.is_none();
    // Text read from stdin or the editor carries the whole thread.
    let mut thread = (!e.thread.is_empty() || e.no_thread).then_some(e.thread);
    let whole = |all: String, thread: &mut Option<Vec<String>>| {
        let mut parts = split_parts(&all);
        let first = parts.remove(0);
        *thread = Some(parts);
        first
    };
    let text = match e.text {
        Some(t) if t == "-" => Some(whole(read_stdin()?, &mut thread)),
        Some(t) => Some(os_text(t)?),
        None if nothing => {
            if !std::io::stdin().is_terminal() {
                bail!("nothing to change: give --text, --thread, --title, --tag, --platform or --clear-tags");
            }
            let cur = call!(cl, drafts, get_draft, v1::GetDraftRequest { id: e.id })?;
            let old = join_parts(&cur.text, &cur.thread);
            let new = edit_text(&old)?;
            if new == old {
                println!("No change to draft {}", e.id);
                return Ok(());
            }
            Some(whole(new, &mut thread))
        }
        None => None,
    };
    if let Some(t) = &text {
        check_text(t)?;
    }
    for t in thread.iter().flatten() {
        check_text(t)?;
    }
    let wanted = place_images("edit", &e.images)?;
    let images = send_images(&cl, &wanted).await?;
    let d = call!(
        cl,
        drafts,
        update_draft,
        v1::UpdateDraftRequest {
            id: e.id,
            text,
            title: e.title,
            replace_platforms: !e.platform.is_empty(),
            platforms: e.platform,
            replace_tags: !e.tag.is_empty() || e.clear_tags,
            tags: e.tag,
            replace_accounts: !e.publish.account.is_empty() || e.no_account,
            accounts: e.publish.account,
            visibility: e.publish.visibility,
            content_warning: e.publish.cw,
            language: e.publish.lang,
            no_card: (e.no_card || e.card).then_some(e.no_card),
            replace_thread: thread.is_some(),
            thread: thread.unwrap_or_default(),
            replace_images: !images.is_empty() || e.no_image,
            images,
        }
    )?;
    done(ctx, &d, "Updated");
    Ok(())
}

async fn list(ctx: &Ctx, states: Vec<String>, tags: Vec<String>, search: String) -> Result<()> {
    let states: Vec<i32> = states
        .iter()
        .map(|s| match s.as_str() {
            "draft" => v1::DraftState::Draft as i32,
            "scheduled" => v1::DraftState::Scheduled as i32,
            "due" => v1::DraftState::Due as i32,
            "published" => v1::DraftState::Published as i32,
            "publishing" => v1::DraftState::Publishing as i32,
            "partial" => v1::DraftState::Partial as i32,
            "failed" => v1::DraftState::Failed as i32,
            _ => v1::DraftState::Skipped as i32,
        })
        .collect();
    let cl = ctx.client().await?;
    let filtered = !states.is_empty() || !tags.is_empty() || !search.trim().is_empty();
    let r = call!(cl, drafts, list_drafts, v1::ListDraftsRequest { states, tags, search })?;
    if ctx.json {
        render::print_json(&serde_json::Value::Array(r.drafts.iter().map(render::draft_json).collect()));
        return Ok(());
    }
    if r.drafts.is_empty() && filtered {
        println!("No drafts match.");
        return Ok(());
    }
    if r.drafts.is_empty() {
        println!("No drafts. Add one with: clout draft add \"…\"");
        return Ok(());
    }
    let mut t = Table::new(vec!["ID", "STATE", "WHEN", "TO", "TAGS", "TITLE"]);
    for d in &r.drafts {
        let state = render::state_name(d.state);
        let style = match state {
            "due" | "publishing" | "partial" => YELLOW,
            "scheduled" => CYAN,
            "published" => GREEN,
            "skipped" => DIM,
            "failed" => RED,
            _ => anstyle::Style::new(),
        };
        let when = render::time(&d.scheduled_at).map(|t| render::local(t, ctx.tz)).unwrap_or_default();
        t.row(vec![
            (d.id.to_string(), BOLD),
            (state.to_string(), style),
            (when, anstyle::Style::new()),
            (
                d.publications.iter().map(|p| p.account.as_str()).collect::<Vec<_>>().join(","),
                anstyle::Style::new(),
            ),
            (d.tags.iter().map(|t| format!("#{t}")).collect::<Vec<_>>().join(" "), DIM),
            (render::label(&d.title, &d.text, 50), anstyle::Style::new()),
        ]);
    }
    t.print();
    Ok(())
}

fn show(ctx: &Ctx, d: &v1::Draft) {
    if ctx.json {
        render::print_json(&render::draft_json(d));
        return;
    }
    for line in &d.last_time {
        anstream::println!("{YELLOW}{line}{YELLOW:#}");
    }
    use std::io::Write;
    let mut out = anstream::stdout().lock();
    let _ = writeln!(out, "{BOLD}Draft {}{BOLD:#}  {}", d.id, render::state_name(d.state));
    if !d.title.is_empty() {
        let _ = writeln!(out, "Title:     {}", d.title);
    }
    if let Some(t) = render::time(&d.scheduled_at) {
        let _ = writeln!(out, "Due:       {} ({})", render::local(t, ctx.tz), render::relative(t));
    }
    if !d.fire_error.is_empty() {
        let _ = writeln!(
            out,
            "{RED}Set aside: firing it kept failing: {}{RED:#}\n           `clout draft schedule {} --at WHEN` tries again",
            d.fire_error, d.id
        );
    }
    if let Some(t) = render::time(&d.fired_at) {
        let late = if d.late { " (late)" } else { "" };
        let _ = writeln!(out, "Nudged:    {}{late}", render::local(t, ctx.tz));
    }
    if let Some(t) = render::time(&d.published_at) {
        let _ = writeln!(out, "Published: {} {}", render::local(t, ctx.tz), d.published_url);
    }
    if !d.platforms.is_empty() {
        let _ = writeln!(out, "Platforms: {}", d.platforms.join(", "));
    }
    if !d.tags.is_empty() {
        let _ = writeln!(
            out,
            "Tags:      {}",
            d.tags.iter().map(|t| format!("#{t}")).collect::<Vec<_>>().join(" ")
        );
    }
    if !d.content_warning.is_empty() {
        let _ = writeln!(out, "CW:        {}", d.content_warning);
    }
    let extra: Vec<String> = [("visibility", &d.visibility), ("language", &d.language)]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let mut extra = extra;
    if d.no_card {
        extra.push("no link card".into());
    }
    if !extra.is_empty() {
        let _ = writeln!(out, "Options:   {}", extra.join(", "));
    }
    let _ = writeln!(out);
    let images_of = |out: &mut dyn Write, part: u32| {
        for img in d.images.iter().filter(|i| i.part == part) {
            let kind = img.mime_type.strip_prefix("image/").unwrap_or(&img.mime_type).to_uppercase();
            let alt = if img.alt.is_empty() {
                format!("{YELLOW}no alt text{YELLOW:#}")
            } else {
                format!("alt: {}", img.alt)
            };
            let _ = writeln!(
                out,
                "{DIM}[image {kind} {}×{} {}]{DIM:#} {alt}",
                img.width,
                img.height,
                render::bytes(img.size)
            );
        }
    };
    if d.thread.is_empty() {
        let _ = writeln!(out, "{}", d.text);
        images_of(&mut out, 1);
    } else {
        let n = d.thread.len() + 1;
        for (i, part) in std::iter::once(&d.text).chain(&d.thread).enumerate() {
            if i > 0 {
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "{DIM}[{}/{n}]{DIM:#}\n{part}", i + 1);
            images_of(&mut out, i as u32 + 1);
        }
    }
    if d.publications.is_empty() {
        return;
    }
    let _ = writeln!(out);
    for p in &d.publications {
        let style = match p.state.as_str() {
            "published" => GREEN,
            "failed" => RED,
            "pending" | "publishing" => YELLOW,
            _ => DIM,
        };
        let _ = writeln!(
            out,
            "{BOLD}{}{BOLD:#} ({})  {style}{}{style:#}  {}",
            p.account, p.network, p.state, p.url
        );
        if !p.differences.is_empty() {
            let _ = writeln!(out, "  {YELLOW}not as asked: {}{YELLOW:#}", p.differences);
        }
        let n = d.thread.len() + 1;
        if n > 1 {
            for part in &p.parts {
                let _ = writeln!(out, "  part {}/{n}  {}", part.number, part.url);
            }
        }
        if let Some(t) = render::time(&p.next_attempt_at).filter(|_| p.state == "pending") {
            let _ = writeln!(out, "  next try {} ({})", render::local(t, ctx.tz), render::relative(t));
        }
        for h in &p.history {
            let at = render::time(&h.at).map(|t| render::local(t, ctx.tz)).unwrap_or_default();
            let status = if h.http_status > 0 { format!(" HTTP {}", h.http_status) } else { String::new() };
            let _ = writeln!(out, "  {DIM}{at}{DIM:#}  {}{status}  {}", h.outcome, h.message);
        }
    }
}

/// Prints the outcome of a change: a sentence, or the draft as JSON.
fn done(ctx: &Ctx, d: &v1::Draft, verb: &str) {
    if ctx.json {
        render::print_json(&render::draft_json(d));
        return;
    }
    let label = render::label(&d.title, &d.text, 40);
    for line in &d.last_time {
        anstream::println!("{YELLOW}{line}{YELLOW:#}");
    }
    match render::time(&d.scheduled_at).filter(|_| d.state == v1::DraftState::Scheduled as i32) {
        Some(t) => anstream::println!(
            "{verb} draft {BOLD}{}{BOLD:#} \u{201c}{label}\u{201d}, due {} ({})",
            d.id,
            render::local(t, ctx.tz),
            render::relative(t)
        ),
        None => anstream::println!("{verb} draft {BOLD}{}{BOLD:#} \u{201c}{label}\u{201d}", d.id),
    }
}

fn os_text(t: OsString) -> Result<String> {
    t.into_string()
        .map_err(|_| anyhow::anyhow!("the text is not valid UTF-8; save it as UTF-8 and try again"))
}

fn read_stdin() -> Result<String> {
    let mut buf = Vec::new();
    std::io::stdin()
        .take(MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .context("cannot read the text from stdin")?;
    if buf.len() > MAX_TEXT_BYTES {
        bail!("the text on stdin is over {MAX_TEXT_BYTES} bytes (64 KiB); shorten it");
    }
    let text = String::from_utf8(buf).map_err(|_| {
        anyhow::anyhow!("the text on stdin is not valid UTF-8; save it as UTF-8 and try again")
    })?;
    Ok(text.trim_end_matches('\n').to_string())
}

/// The parts of a text from stdin or the editor: a line holding only `---`
/// separates them. Empty parts (a separator at the end) are dropped.
fn split_parts(all: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    for line in all.split('\n') {
        if line.trim_end() == "---" {
            parts.push(String::new());
            continue;
        }
        let cur = parts.last_mut().expect("one part at least");
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(line);
    }
    let mut parts: Vec<String> = parts
        .into_iter()
        .map(|p| p.trim_matches('\n').to_string())
        .filter(|p| !p.trim().is_empty())
        .collect();
    if parts.is_empty() {
        parts.push(String::new());
    }
    parts
}

/// The parts of a draft as the editor shows them.
fn join_parts(text: &str, thread: &[String]) -> String {
    std::iter::once(text).chain(thread.iter().map(String::as_str)).collect::<Vec<_>>().join("\n---\n")
}

fn check_parts(parts: &[String]) -> Result<()> {
    let n = parts.len();
    for (i, p) in parts.iter().enumerate() {
        check_text(p).map_err(|e| if n == 1 { e } else { anyhow::anyhow!("part {} of {n}: {e}", i + 1) })?;
    }
    Ok(())
}

fn check_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        bail!("the text is empty: write something to post");
    }
    if text.len() > MAX_TEXT_BYTES {
        bail!("the text is {} bytes; the limit is {MAX_TEXT_BYTES} bytes (64 KiB)", text.len());
    }
    Ok(())
}

/// Opens $VISUAL or $EDITOR (else vi) on `initial` and returns what was saved.
fn edit_text(initial: &str) -> Result<String> {
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .or_else(|| std::env::var("EDITOR").ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let file = tempfile::Builder::new().prefix("clout-draft-").suffix(".md").tempfile()?;
    std::fs::write(file.path(), format!("{initial}\n{EDITOR_TEMPLATE}"))?;
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    let status =
        std::process::Command::new(program).args(parts).arg(file.path()).status().with_context(|| {
            format!("cannot start the editor `{editor}`; set EDITOR to an installed editor")
        })?;
    if !status.success() {
        bail!("the editor `{editor}` failed ({status}); nothing was saved");
    }
    let bytes = std::fs::read(file.path())?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("the edited text is not valid UTF-8"))?;
    Ok(drop_comments(&text))
}

/// The commented lines under the text in `$EDITOR`; they are dropped on save.
const EDITOR_TEMPLATE: &str = "\
# Write the post above. Lines starting with \"# \" (or a lone \"#\") are dropped;
# #hashtags stay. Save and quit to add it; an empty text adds nothing.
";

/// The text written in `$EDITOR` without its comment lines (`# …` and a lone
/// `#`; a `#hashtag` line stays) and without trailing blank lines.
fn drop_comments(text: &str) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !(l.trim_end() == "#" || l.starts_with("# "))).collect();
    kept.join("\n").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_template_is_dropped_and_hashtags_stay() {
        let saved = format!("Shipping week\n\n#rust #buildinpublic\n\n{EDITOR_TEMPLATE}");
        assert_eq!(drop_comments(&saved), "Shipping week\n\n#rust #buildinpublic");
        assert_eq!(drop_comments(EDITOR_TEMPLATE), "");
        assert_eq!(drop_comments("a\n#\n# note\nb\n"), "a\nb");
    }
}
