//! Domain types shared by the store, the scheduler and the gRPC layer.

pub mod account;
pub mod publication;
pub mod results;
pub mod sink;
pub mod study;

/// A value that breaks a rule of the domain: the field it was given in, and
/// a sentence that says what is wrong and what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Invalid {
        Invalid { field, reason: reason.into() }
    }
}

impl From<Invalid> for crate::error::Error {
    fn from(e: Invalid) -> Self {
        crate::error::Error::Invalid(e.reason)
    }
}

use chrono::{DateTime, Utc};

/// Largest draft text accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Largest title accepted, in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Largest tag or platform name accepted, in bytes.
pub const MAX_LABEL_BYTES: usize = 64;
/// Most tags or platforms on one draft.
pub const MAX_LABELS: usize = 32;
/// Most parts in one thread, the first included.
pub const MAX_PARTS: usize = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftState {
    Draft,
    Scheduled,
    Due,
    Published,
    Skipped,
    /// Its time came and the daemon is publishing it to its accounts.
    Publishing,
    /// Published to some of its accounts; the others failed.
    Partial,
    /// Publishing failed on every account.
    Failed,
}

impl DraftState {
    pub fn as_str(self) -> &'static str {
        match self {
            DraftState::Draft => "draft",
            DraftState::Scheduled => "scheduled",
            DraftState::Due => "due",
            DraftState::Published => "published",
            DraftState::Skipped => "skipped",
            DraftState::Publishing => "publishing",
            DraftState::Partial => "partial",
            DraftState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DraftState> {
        Some(match s {
            "draft" => DraftState::Draft,
            "scheduled" => DraftState::Scheduled,
            "due" => DraftState::Due,
            "published" => DraftState::Published,
            "skipped" => DraftState::Skipped,
            "publishing" => DraftState::Publishing,
            "partial" => DraftState::Partial,
            "failed" => DraftState::Failed,
            _ => return None,
        })
    }

    /// Published and skipped drafts are done: they no longer change state.
    pub fn is_final(self) -> bool {
        matches!(self, DraftState::Published | DraftState::Skipped)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub id: i64,
    pub title: String,
    pub text: String,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub state: DraftState,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub fired_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub published_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub slotted: bool,
    pub visibility: String,
    pub content_warning: String,
    pub language: String,
    /// The parts after the first (`text`), in order: a thread. Empty for one post.
    pub thread: Vec<String>,
    /// No link card on Bluesky.
    pub no_card: bool,
    /// Images, in order, each on one part.
    pub images: Vec<crate::media::Image>,
    /// Where the daemon publishes it; empty for a draft the person posts.
    pub publications: Vec<Publication>,
    /// Why firing it kept failing, when it was set aside.
    pub fire_error: Option<String>,
}

impl Draft {
    /// Whether the draft has every tag of `tags`, and its title or text every
    /// word of `search` (any letter case).
    pub fn matches(&self, tags: &[String], search: &str) -> bool {
        let haystack = format!("{}\n{}", self.title, self.text).to_lowercase();
        tags.iter().all(|t| self.tags.iter().any(|d| d.eq_ignore_ascii_case(t.trim_start_matches('#'))))
            && search.split_whitespace().all(|w| haystack.contains(&w.to_lowercase()))
    }

    /// A short human label: the title, else the first line of the text.
    pub fn label(&self) -> String {
        label(&self.title, &self.text)
    }

    /// Every part in order: the text, then the thread.
    pub fn parts(&self) -> Vec<String> {
        parts(&self.text, &self.thread)
    }
}

/// The text followed by the rest of its thread.
pub fn parts(text: &str, thread: &[String]) -> Vec<String> {
    std::iter::once(text.to_string()).chain(thread.iter().cloned()).collect()
}

/// An instant as messages show it: in the program's zone, to the minute
/// (`Wed 02 Dec 10:00 CET`), the format `clout` uses on every screen.
pub fn local_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    clout_time::show_time(t, tz, crate::clock::now())
}

/// The title, else the first line of the text, cut to 60 characters.
pub fn label(title: &str, text: &str) -> String {
    let base = if title.trim().is_empty() { text.lines().next().unwrap_or("") } else { title };
    let base = base.trim();
    if base.chars().count() > 60 {
        let cut: String = base.chars().take(59).collect();
        format!("{cut}…")
    } else {
        base.to_string()
    }
}

/// What a new draft carries.
#[derive(Debug, Clone, Default)]
pub struct NewDraft {
    pub title: String,
    pub text: String,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub at: Option<DateTime<Utc>>,
    /// Place the draft in the next free posting slot.
    pub queue: bool,
    /// What to do if it comes due while nothing fires; `None` follows the config.
    pub if_missed: Option<crate::rules::MissedPolicy>,
    /// Names of the accounts to publish to.
    pub accounts: Vec<String>,
    pub visibility: String,
    pub content_warning: String,
    pub language: String,
    /// The parts after the first, in order.
    pub thread: Vec<String>,
    pub no_card: bool,
    pub images: Vec<crate::media::Image>,
}

/// Changes to a draft; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DraftPatch {
    pub title: Option<String>,
    pub text: Option<String>,
    pub platforms: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub accounts: Option<Vec<String>>,
    pub visibility: Option<String>,
    pub content_warning: Option<String>,
    pub language: Option<String>,
    /// Replaces the parts after the first.
    pub thread: Option<Vec<String>>,
    pub no_card: Option<bool>,
    /// Replaces the images.
    pub images: Option<Vec<crate::media::Image>>,
}

/// A network the daemon publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Mastodon,
    Bluesky,
}

impl Network {
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Mastodon => "mastodon",
            Network::Bluesky => "bluesky",
        }
    }

    pub fn parse(s: &str) -> Option<Network> {
        Some(match s {
            "mastodon" => Network::Mastodon,
            "bluesky" | "bsky" => Network::Bluesky,
            _ => return None,
        })
    }
}

/// A token or app password that cloutd keeps itself. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An account the daemon publishes to. Its secret is read from
/// `secret_file` or the config file when needed, unless cloutd keeps it
/// (`secret`, given inline by a client that may not name cloutd's files).
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub network: Network,
    pub server: String,
    pub handle: String,
    pub secret_file: String,
    pub secret: Option<Secret>,
    pub from_config: bool,
    pub remote_id: String,
    /// The server's limit; 0 means the network's default.
    pub max_length: u32,
    /// The largest image the server takes, in bytes; 0 means the network's default.
    pub image_size_limit: u64,
    /// The image types it takes; empty means the network's default.
    pub image_types: Vec<String>,
    pub checked_at: Option<DateTime<Utc>>,
    pub check_error: String,
    pub created_at: DateTime<Utc>,
    /// Bluesky: the app view that answers for posts' results; "" means
    /// [`account::BLUESKY_APPVIEW`].
    pub appview: String,
}

/// What a new account carries.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub network: Network,
    pub server: String,
    pub handle: String,
    pub secret_file: String,
    pub secret: Option<Secret>,
    pub from_config: bool,
    /// Bluesky: the app view for results; "" for the public one.
    pub appview: String,
}

/// The outcome of signing in to an account, as recorded on it.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountCheck {
    /// Signed in: what the server said about the account.
    Passed {
        handle: String,
        remote_id: String,
        max_length: u32,
        image_size_limit: u64,
        image_types: Vec<String>,
    },
    /// Refused or unreachable: the sentence shown with the account.
    Failed { message: String },
}

/// A draft's publication on one account.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub id: i64,
    pub draft_id: i64,
    pub account_id: Option<i64>,
    pub account: String,
    pub network: String,
    /// waiting | pending | publishing | published | failed
    pub state: String,
    pub idem_key: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub url: String,
    pub remote_id: String,
    pub last_error: String,
    pub published_at: Option<DateTime<Utc>>,
    pub history: Vec<PublishAttempt>,
    /// The parts of a thread the server confirmed so far, in order.
    pub parts: Vec<publication::PostedPart>,
    /// What the server made differently from what was asked; empty if nothing.
    pub differences: String,
    /// When an attempt whose outcome is not known (cut off, no answer) began:
    /// the next try looks on the server for a post made since then.
    pub unsure_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PublishAttempt {
    pub at: DateTime<Utc>,
    pub outcome: String,
    pub http_status: u16,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Nudge {
    pub id: i64,
    pub kind: String,
    pub message: String,
    pub due_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    pub draft_id: Option<i64>,
    pub task_id: Option<i64>,
    pub late: bool,
}

/// One upcoming entry on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub id: i64,
    pub title: String,
    pub text: String,
    pub about: String,
    pub slotted: bool,
}

pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The stage a person is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Learn,
    Influence,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Learn => "learn",
            Purpose::Influence => "influence",
        }
    }

    pub fn parse(s: &str) -> Purpose {
        if s == "influence" { Purpose::Influence } else { Purpose::Learn }
    }
}

/// A change of the program's stage, with when it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct StageChange {
    pub from: Purpose,
    pub to: Purpose,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub purpose: Purpose,
    pub posts_per_week: u32,
    pub engagements_per_day: u32,
    /// The zone in force: the stored one, else the daemon's local zone.
    pub tz: chrono_tz::Tz,
    pub paused: bool,
    pub paused_at: Option<DateTime<Utc>>,
}

/// Changes to the program; `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct ProgramPatch {
    pub purpose: Option<Purpose>,
    pub posts_per_week: Option<u32>,
    pub engagements_per_day: Option<u32>,
    pub tz: Option<chrono_tz::Tz>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub id: i64,
    pub spec: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Follow {
    pub id: i64,
    pub handle: String,
    pub platform: String,
    pub why: String,
    pub topic: String,
    /// The server asked about them ('' = the one their handle names).
    pub server: String,
    pub created_at: DateTime<Utc>,
}

/// A new engagement task: recurring (`every`) or once (`once_at`).
#[derive(Debug, Clone)]
pub struct NewTask {
    pub text: String,
    pub every: Option<crate::recurrence::Schedule>,
    pub once_at: Option<DateTime<Utc>>,
    pub tz: chrono_tz::Tz,
    pub about: String,
    /// What to do if it comes due while nothing fires; `None` follows the config.
    pub if_missed: Option<crate::rules::MissedPolicy>,
}

/// When an edited task happens: on a new schedule, or once at a time.
#[derive(Debug, Clone)]
pub enum TaskWhen {
    Every(crate::recurrence::Schedule),
    Once(DateTime<Utc>),
}

/// A change to a task (`clout task edit`): each `Some` replaces that field.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub text: Option<String>,
    pub when: Option<TaskWhen>,
    pub tz: Option<chrono_tz::Tz>,
    /// `Some("")` clears it.
    pub about: Option<String>,
    pub if_missed: Option<crate::rules::MissedPolicy>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: i64,
    pub text: String,
    pub every: String,
    pub tz: String,
    pub about: String,
    pub once_at: Option<DateTime<Utc>>,
    pub next_due_at: Option<DateTime<Utc>>,
    pub current_due_at: Option<DateTime<Utc>>,
    pub done: u32,
    pub skipped: u32,
    pub missed: u32,
    pub created_at: DateTime<Utc>,
}

/// The zone this machine runs in: `TZ`, else the system's, else UTC.
pub use clout_time::local_tz;

#[derive(Debug, Clone, PartialEq)]
pub struct Setback {
    pub id: i64,
    pub text: String,
    pub tags: Vec<String>,
    pub draft_id: Option<i64>,
    pub task_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub lessons: Vec<Lesson>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    pub id: i64,
    pub setback_id: i64,
    pub text: String,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub next_at: Option<DateTime<Utc>>,
    pub setback: String,
}

/// A day of activity, for the heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct DayActivity {
    pub date: chrono::NaiveDate,
    pub posts: u32,
    pub tasks: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OverdueItem {
    pub kind: &'static str,
    pub id: i64,
    pub text: String,
    pub due_at: DateTime<Utc>,
}

/// Goals against what happened in a period. Computed by the daemon in one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub program: Program,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub posts_published: u32,
    pub tasks_done: u32,
    pub tasks_skipped: u32,
    pub tasks_missed: u32,
    pub current_streak_weeks: u32,
    pub best_streak_weeks: u32,
    pub consistency: u32,
    pub queue_covered_until: Option<DateTime<Utc>>,
    pub queued_posts: u32,
    pub overdue: Vec<OverdueItem>,
    pub setbacks: Vec<Setback>,
    pub lessons: Vec<Lesson>,
    pub activity: Vec<DayActivity>,
    /// The stage changes in the period, oldest first.
    pub stage_changes: Vec<StageChange>,
    /// When the program entered its present stage (its last change, at any time).
    pub stage_since: Option<DateTime<Utc>>,
    /// The people added to follow in the period.
    pub follows_added: Vec<Follow>,
}

impl Review {
    pub fn days(&self) -> f64 {
        ((self.until - self.since).num_milliseconds() as f64 / 86_400_000.0).max(0.0)
    }
}
