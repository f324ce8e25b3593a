//! Publishing: drafts that name accounts go out on their own, over Mastodon's
//! REST API and Bluesky's XRPC.
//!
//! When a draft with accounts comes due, the scheduler marks each of its
//! publications pending. The publisher claims pending publications (a lease
//! in the database, so a fleet publishes each once), makes one attempt each,
//! and records the outcome:
//!
//! - the server confirmed the post: published, with its URL and remote id;
//! - a temporary error (no answer, 5xx, 408, 429): tried again later, after
//!   the server's Retry-After or an exponential backoff;
//! - a permanent error (401, 403, 422, other 4xx): failed, with a nudge that
//!   says what to do.
//!
//! Every attempt at one publication carries the same key, fixed when the
//! publication was made: Mastodon's `Idempotency-Key` header, or the record
//! key of the Bluesky post. A retry after a lost answer, or after cloutd was
//! killed mid-request, can therefore never post twice: Mastodon answers with
//! the status it already made, and on Bluesky the publisher first looks the
//! record up by its key. Since some Mastodon-API servers forget keys (in
//! memory only, or after an hour), a retry after an attempt whose outcome is
//! not known also looks for the status among the account's recent ones.

mod bluesky;
pub mod card;
pub mod http;
pub mod images;
mod mastodon;
pub mod split;
pub mod text;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::Utc;
use clout_proto::PrivateFileError;
use tokio::sync::{Notify, watch};

use crate::Core;
use crate::model::Invalid;
use crate::model::publication::{Claim, Outcome, PostedPart};
use crate::model::{Account, AccountCheck, Network};

/// Tries per publication before a temporary error counts as permanent.
pub const MAX_TRIES: u32 = 8;
/// The first retry delay; it doubles with every try, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// How long a claim lasts without renewal. The daemon renews its claims every
/// third of this while their attempts run, so a daemon that dies loses its
/// claims this long after its last renewal.
pub const LEASE: Duration = Duration::from_secs(30);
/// Publications claimed (and published in parallel) at a time.
pub const BATCH: u32 = 8;

/// Why an attempt did not publish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// Worth another try, after `after` if the server said so.
    #[error("{message}")]
    Temporary { http_status: u16, message: String, after: Option<Duration> },
    /// Trying again would fail the same way; the message says what to do.
    #[error("{message}")]
    Permanent { http_status: u16, message: String },
}

/// A part the server confirmed, and what it made differently from what was
/// asked (a dropped content warning, another visibility).
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub part: PostedPart,
    pub differences: Vec<String>,
}

/// What a successful account check learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub handle: String,
    pub remote_id: String,
    pub max_length: u32,
    /// The largest image it takes, in bytes, and the image types it takes
    /// (0 and empty when the server did not say).
    pub image_size_limit: u64,
    pub image_types: Vec<String>,
}

impl From<Checked> for AccountCheck {
    fn from(c: Checked) -> Self {
        AccountCheck::Passed {
            handle: c.handle,
            remote_id: c.remote_id,
            max_length: c.max_length,
            image_size_limit: c.image_size_limit,
            image_types: c.image_types,
        }
    }
}

/// A Bluesky session: tokens for one account, refreshed when they expire.
#[derive(Debug, Clone)]
pub struct Session {
    pub did: String,
    pub handle: String,
    pub access: String,
    pub refresh: String,
}

/// State shared by the publisher task and the gRPC service.
pub struct Hub {
    wake: Notify,
    pub http: http::Http,
    /// Bluesky sessions by account id.
    sessions: Mutex<HashMap<i64, Session>>,
    /// Secrets of accounts declared in the config file, by account name.
    config_secrets: RwLock<HashMap<String, String>>,
    /// Link cards' pages and images.
    pub cards: card::Cards,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        Hub {
            wake: Notify::new(),
            http: http::Http::new(),
            sessions: Mutex::new(HashMap::new()),
            config_secrets: RwLock::new(HashMap::new()),
            cards: card::Cards::new(),
        }
    }

    /// Something may be due to publish: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Replaces the secrets of config-file accounts (start-up and SIGHUP).
    pub fn set_config_secrets(&self, secrets: HashMap<String, String>) {
        if let Ok(mut s) = self.config_secrets.write() {
            *s = secrets;
        }
        if let Ok(mut s) = self.sessions.lock() {
            s.clear();
        }
    }

    /// Files a session made while checking a new account under its id.
    pub fn adopt_session(&self, probe: i64, account: i64) {
        if let Ok(mut s) = self.sessions.lock()
            && let Some(session) = s.remove(&probe)
        {
            s.insert(account, session);
        }
    }

    fn session(&self, account: i64) -> Option<Session> {
        self.sessions.lock().ok().and_then(|s| s.get(&account).cloned())
    }

    fn set_session(&self, account: i64, session: Option<Session>) {
        if let Ok(mut s) = self.sessions.lock() {
            match session {
                Some(v) => s.insert(account, v),
                None => s.remove(&account),
            };
        }
    }

    /// The account's secret: kept by cloutd, from its file (which must be
    /// private to its owner) or from the config file. Errors say what to do.
    pub fn secret(&self, a: &Account) -> Result<String, SecretError> {
        if let Some(kept) = &a.secret {
            return Ok(kept.0.clone());
        }
        if a.from_config && a.secret_file.is_empty() {
            return self
                .config_secrets
                .read()
                .ok()
                .and_then(|s| s.get(&a.name).cloned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| SecretError::NotInConfig(a.name.clone()));
        }
        Ok(read_secret_file(Path::new(&a.secret_file))?)
    }

    /// Signs in to the account's server with its secret and reads the
    /// server's limits.
    pub async fn check(&self, a: &Account) -> Result<Checked, CheckError> {
        let secret = self.secret(a)?;
        let checked = match a.network {
            Network::Mastodon => mastodon::check(&self.http, a, &secret).await?,
            Network::Bluesky => {
                let s = bluesky::create_session(&self.http, a, &secret).await?;
                let checked = Checked {
                    handle: s.handle.clone(),
                    remote_id: s.did.clone(),
                    max_length: text::BLUESKY_MAX_GRAPHEMES as u32,
                    image_size_limit: crate::media::BLUESKY_IMAGE_BYTES,
                    image_types: Vec::new(),
                };
                self.set_session(a.id, Some(s));
                checked
            }
        };
        Ok(checked)
    }
}

/// Why an account's secret cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the config file declares no secret for account `{0}`")]
    NotInConfig(String),
    #[error(transparent)]
    File(#[from] PrivateFileError),
}

/// Why signing in to an account failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Server(#[from] Failure),
}

/// Reads a secret file, refusing one that other users can read.
pub fn read_secret_file(path: &Path) -> Result<String, PrivateFileError> {
    let secret = clout_proto::read_private_file(path, "secret")?;
    check_secret(&secret).map_err(|invalid| PrivateFileError::Content {
        what: "secret",
        path: path.to_path_buf(),
        reason: invalid.reason,
    })?;
    Ok(secret)
}

/// Checks a token or app password: one line, not empty, at most 4 KiB. The
/// error reads after "the secret".
pub fn check_secret(secret: &str) -> Result<(), Invalid> {
    if secret.is_empty() {
        return Err(Invalid::new("secret", "is empty"));
    }
    if secret.len() > 4096 || secret.chars().any(char::is_control) {
        return Err(Invalid::new(
            "secret",
            "must hold one line of at most 4096 bytes: the token or app password",
        ));
    }
    Ok(())
}

/// Checks that a draft fits an account: its post length limit (the error says
/// by how much it is over) and, on Bluesky, no content warning, which Bluesky
/// has no field for: posting without it would drop what the writer asked for.
pub fn check_fits(a: &Account, text: &str, content_warning: &str) -> Result<(), Invalid> {
    match a.network {
        Network::Mastodon => {
            let limit = if a.max_length == 0 { text::MASTODON_DEFAULT_MAX } else { a.max_length as usize };
            let n = text::mastodon_length(text, content_warning);
            if n > limit {
                return Err(too_long(format!(
                    "the draft is {n} characters for Mastodon account `{}` (links count as {}, the content warning counts too); the limit is {limit}: cut {}",
                    a.name,
                    text::MASTODON_URL_LENGTH,
                    n - limit
                )));
            }
        }
        Network::Bluesky => {
            if !content_warning.trim().is_empty() {
                return Err(too_long(format!(
                    "Bluesky has no content warnings for text posts, so Bluesky account `{}` cannot carry --cw: \
                     drop it (--cw \"\"), or give Bluesky a draft of its own",
                    a.name
                )));
            }
            let n = text::graphemes(text);
            if n > text::BLUESKY_MAX_GRAPHEMES {
                return Err(too_long(format!(
                    "the draft is {n} characters for Bluesky account `{}`; the limit is {}: cut {}",
                    a.name,
                    text::BLUESKY_MAX_GRAPHEMES,
                    n - text::BLUESKY_MAX_GRAPHEMES
                )));
            }
            if text.len() > text::BLUESKY_MAX_BYTES {
                return Err(too_long(format!(
                    "the draft is {} bytes for Bluesky account `{}`; the limit is {} bytes",
                    text.len(),
                    a.name,
                    text::BLUESKY_MAX_BYTES
                )));
            }
        }
    }
    Ok(())
}

/// A draft that does not fit an account.
fn too_long(reason: String) -> Invalid {
    Invalid::new("text", reason)
}

/// How long to wait before try number `tries + 1`.
pub fn backoff(tries: u32) -> Duration {
    let doublings = tries.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

/// This daemon as the owner of publishing claims.
pub(crate) fn owner(core: &Core) -> String {
    crate::leased::owner(core, "")
}

/// The publications to make, as a leased queue.
struct Publications;

impl crate::leased::Queue for Publications {
    type Claim = Claim;
    const WHAT: &'static str = "the publications";
    const BATCH: u32 = BATCH;
    const LEASE: Duration = LEASE;

    fn wake(core: &Core) -> &Notify {
        &core.publish.wake
    }

    fn turn(core: &Core) {
        core.health.publisher.turn();
    }

    async fn claim(
        core: &Core,
        me: &str,
        now: chrono::DateTime<Utc>,
        lease: chrono::Duration,
        room: u32,
    ) -> crate::error::Result<Vec<Claim>> {
        core.store.claim_publications(me, now, lease, room).await
    }

    async fn next_at(core: &Core) -> crate::error::Result<Option<chrono::DateTime<Utc>>> {
        core.store.next_claim_at(crate::store::Leased::Publications).await
    }

    fn work(
        core: Arc<Core>,
        me: String,
        claim: Claim,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        publish_one(core, me, claim)
    }
}

/// Publishes due publications until `shutdown` flips. Requests in flight at
/// shutdown are abandoned; their claims run out, or this daemon takes them
/// back when it starts again.
pub async fn run(core: Arc<Core>, shutdown: watch::Receiver<bool>) {
    let me = owner(&core);
    if let Err(e) = core.store.release_claims(crate::store::Leased::Publications, &me).await {
        tracing::error!(error = %e, "cannot release this daemon's earlier publishing claims");
    }
    crate::leased::run::<Publications>(core, me, shutdown, "the publisher").await;
}

async fn publish_one(core: Arc<Core>, me: String, claim: Claim) {
    let _busy = core.health.publisher.busy();
    let p = &claim.publication;
    let work = attempt(&core, &me, &claim);
    tokio::pin!(work);
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            () = tokio::time::sleep(LEASE / 3) => {
                let until = crate::clock::now() + chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(30));
                match core.store.renew_publication_claim(p.id, &me, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // Another daemon took it over (this one stalled): its attempt counts.
                        tracing::warn!(draft = p.draft_id, account = %p.account, "lost the publishing claim; leaving it to the daemon that took it");
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew a publishing claim"),
                }
            }
        }
    };
    match &outcome {
        Outcome::Published { url, .. } => {
            tracing::info!(draft = p.draft_id, account = %p.account, url = %url, "published")
        }
        Outcome::Retry { at, message, .. } => {
            tracing::warn!(draft = p.draft_id, account = %p.account, retry_at = %at.to_rfc3339(), "publishing failed for now: {message}")
        }
        Outcome::Failed { message, .. } => {
            tracing::error!(draft = p.draft_id, account = %p.account, "publishing failed: {message}")
        }
    }
    match core.store.finish_publication(p.id, &me, &outcome, crate::clock::now()).await {
        Ok(nudges) => {
            if matches!(outcome, Outcome::Published { .. }) {
                // Its first results snapshot is now on the schedule: the scheduler sleeps until the earliest.
                core.wake.notify_one();
                core.fleet_out.notify_one();
            }
            if !nudges.is_empty()
                && let Err(e) = core.nudged().await
            {
                tracing::error!(error = %e, "cannot announce the publishing nudge");
            }
        }
        Err(e) => tracing::error!(error = %e, draft = p.draft_id, "cannot record the publishing outcome"),
    }
}

/// One attempt at one publication.
async fn attempt(core: &Core, me: &str, claim: &Claim) -> Outcome {
    let p = &claim.publication;
    let now = crate::clock::now();
    let failed = |message: String| Outcome::Failed { http_status: 0, message };
    let account = match p.account_id {
        Some(id) => match core.store.account(id).await {
            Ok(a) => a,
            Err(_) => return failed(format!("the account `{}` was removed", p.account)),
        },
        None => return failed(format!("the account `{}` was removed", p.account)),
    };
    // Checked when the draft was added, but an import or a lower instance limit
    // since then could make it unfit: never post what would be cut or lose its warning.
    if let Err(e) = check_parts_fit(&account, &claim.parts, &claim.content_warning)
        .and_then(|()| images::check_images_fit(&account, &claim.images))
    {
        return failed(format!("{e}; then run `clout draft retry {}`", p.draft_id));
    }
    let secret = match core.publish.secret(&account) {
        Ok(s) => s,
        Err(e) => return failed(format!("{e}; then run `clout draft retry {}`", p.draft_id)),
    };
    match post_thread(core, me, &account, &secret, claim).await {
        Ok(first) => Outcome::Published { url: first.url, remote_id: first.remote_id },
        Err(Failure::Permanent { http_status, message }) => Outcome::Failed {
            http_status,
            message: format!("{message}{}", what_to_do(&account, http_status, p.draft_id)),
        },
        Err(Failure::Temporary { http_status, message, after }) => {
            if claim.tries >= MAX_TRIES {
                Outcome::Failed {
                    http_status,
                    message: format!(
                        "gave up after {} tries: {message}; run `clout draft retry {}` to try again",
                        claim.tries, p.draft_id
                    ),
                }
            } else {
                let wait = after.unwrap_or_else(|| backoff(claim.tries));
                let at =
                    now + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(5));
                Outcome::Retry { at, http_status, message }
            }
        }
    }
}

/// Posts the parts not yet confirmed, in order, each replying to the one
/// before, and keeps each as soon as the server confirms it: a thread cut off
/// resumes at its first unconfirmed part and never posts a part twice or out
/// of order. Answers the first part, which the thread is known by.
async fn post_thread(
    core: &Core,
    me: &str,
    account: &Account,
    secret: &str,
    claim: &Claim,
) -> Result<PostedPart, Failure> {
    let p = &claim.publication;
    let mut thread: Vec<PostedPart> = Vec::with_capacity(claim.parts.len());
    // Only the first part this attempt sends can have been made by an attempt
    // whose outcome is not known: the parts after it were never sent.
    let mut unsure = p.unsure_since;
    let uploads = images::Uploads::new(core, claim);
    for position in 0..claim.parts.len() as u32 {
        if let Some(done) = claim.done.iter().find(|d| d.position == position) {
            thread.push(done.clone());
            continue;
        }
        let http = &core.publish.http;
        let posted = match account.network {
            Network::Mastodon => {
                mastodon::post_part(
                    http,
                    account,
                    secret,
                    claim,
                    position,
                    thread.last(),
                    unsure.take(),
                    &uploads,
                )
                .await
            }
            Network::Bluesky => {
                bluesky::post_part(&core.publish, account, secret, claim, position, &thread, &uploads).await
            }
        }?;
        unsure = None;
        let Posted { part: posted, differences } = posted;
        match core.store.record_posted_part(p.id, me, &posted, &differences, crate::clock::now()).await {
            Ok(true) => {}
            // Another daemon took the claim over; it goes on from what it finds.
            Ok(false) => {
                return Err(Failure::Temporary {
                    http_status: 0,
                    message: "another daemon took this publication over".into(),
                    after: None,
                });
            }
            Err(e) => {
                return Err(Failure::Temporary {
                    http_status: 0,
                    message: format!("cannot record part {} as published: {e}", position + 1),
                    after: None,
                });
            }
        }
        thread.push(posted);
    }
    thread.into_iter().next().ok_or_else(|| Failure::Permanent {
        http_status: 0,
        message: "the draft has no text to publish".into(),
    })
}

/// Checks every part of a thread against an account; the error names the part.
pub fn check_parts_fit(a: &Account, parts: &[String], content_warning: &str) -> Result<(), Invalid> {
    for (i, part) in parts.iter().enumerate() {
        check_fits(a, part, content_warning).map_err(|e| {
            if parts.len() == 1 {
                e
            } else {
                Invalid::new(e.field, format!("part {} of {}: {}", i + 1, parts.len(), e.reason))
            }
        })?;
    }
    Ok(())
}

/// The advice that follows a permanent error.
fn what_to_do(a: &Account, status: u16, draft: i64) -> String {
    let secret = if a.from_config && a.secret_file.is_empty() {
        "the config file".to_string()
    } else {
        a.secret_file.clone()
    };
    match (a.network, status) {
        (Network::Mastodon, 401 | 403) => format!(
            ". The token was refused (expired or revoked): make a new access token, write it to {secret}, run `clout account check {}`, then `clout draft retry {draft}`",
            a.name
        ),
        (Network::Bluesky, 401 | 403) => format!(
            ". The app password was refused: make a new app password, write it to {secret}, run `clout account check {}`, then `clout draft retry {draft}`",
            a.name
        ),
        (_, 400 | 413 | 422) => {
            format!(". Edit the draft (clout draft edit {draft}), then run `clout draft retry {draft}`")
        }
        _ => format!(". Run `clout draft retry {draft}` once it is fixed"),
    }
}

/// Classifies an HTTP error answer. `message` is the server's own words.
pub fn classify(status: u16, retry_after: Option<Duration>, message: String) -> Failure {
    match status {
        408 | 425 | 429 | 500..=599 => {
            Failure::Temporary { http_status: status, message, after: retry_after }
        }
        _ => Failure::Permanent { http_status: status, message },
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn errors_are_classified() {
        for s in [408, 429, 500, 502, 503] {
            assert!(matches!(classify(s, None, String::new()), Failure::Temporary { .. }), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(matches!(classify(s, None, String::new()), Failure::Permanent { .. }), "{s}");
        }
        let Failure::Temporary { after, .. } =
            classify(429, Some(Duration::from_secs(7)), "slow down".into())
        else {
            panic!("429 is temporary")
        };
        assert_eq!(after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn secret_files_must_be_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("token");
        std::fs::write(&f, "abc\n").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = read_secret_file(&f).expect_err("world-readable");
        assert!(matches!(e, PrivateFileError::Shared { mode: 0o644, .. }), "{e:?}");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_secret_file(&f).expect("private"), "abc");
        std::fs::write(&f, "").expect("write");
        let e = read_secret_file(&f).expect_err("empty");
        assert!(matches!(e, PrivateFileError::Content { .. }) && e.to_string().contains("empty"), "{e}");
        let e = read_secret_file(&dir.path().join("missing")).expect_err("missing");
        assert!(
            matches!(&e, PrivateFileError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{e}"
        );
    }
}
