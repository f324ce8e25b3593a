//! Accounts and publications: which drafts go to which accounts, the claims
//! the publisher takes on them, and each attempt's outcome.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{DraftRow, Pool, SELECT_DRAFT, Store};
use crate::error::{Error, Result};
use crate::model::{
    self, Account, AccountCheck, Network, NewAccount, Nudge, Publication, PublishAttempt, from_ms, to_ms,
};

/// Most accounts one program publishes to.
pub const MAX_ACCOUNTS: i64 = 32;

/// The draft of a claimed publication: title, text, visibility, content
/// warning, language, thread, no_card and images.
type ClaimedDraft = (String, String, String, String, String, String, i64, String);

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    name: String,
    network: String,
    server: String,
    handle: String,
    secret_file: String,
    secret: Option<String>,
    from_config: i64,
    remote_id: String,
    max_length: i64,
    image_size_limit: i64,
    image_types: String,
    checked_at: Option<i64>,
    check_error: String,
    created_at: i64,
    appview: String,
}

impl AccountRow {
    fn into_account(self) -> Result<Account> {
        let network = Network::parse(&self.network).ok_or_else(|| {
            Error::Corrupt(format!(
                "account {} has an unknown network `{}` in the database",
                self.name, self.network
            ))
        })?;
        Ok(Account {
            id: self.id,
            name: self.name,
            network,
            server: self.server,
            handle: self.handle,
            secret_file: self.secret_file,
            secret: self.secret.map(model::Secret),
            from_config: self.from_config != 0,
            remote_id: self.remote_id,
            max_length: self.max_length.clamp(0, i64::from(u32::MAX)) as u32,
            image_size_limit: self.image_size_limit.max(0) as u64,
            image_types: self.image_types.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
            checked_at: self.checked_at.map(from_ms),
            check_error: self.check_error,
            created_at: from_ms(self.created_at),
            appview: self.appview,
        })
    }
}

const ACCOUNT_COLUMNS: &str = "SELECT id, name, network, server, handle, secret_file, secret, from_config, remote_id, \
     max_length, image_size_limit, image_types, checked_at, check_error, created_at, appview FROM accounts";

#[derive(sqlx::FromRow)]
struct PublicationRow {
    id: i64,
    draft_id: i64,
    account_id: Option<i64>,
    account_name: String,
    network: String,
    state: String,
    idem_key: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    started_at: Option<i64>,
    url: String,
    remote_id: String,
    last_error: String,
    published_at: Option<i64>,
    differences: String,
    unsure_since: Option<i64>,
}

impl From<PublicationRow> for Publication {
    fn from(r: PublicationRow) -> Self {
        Publication {
            id: r.id,
            draft_id: r.draft_id,
            account_id: r.account_id,
            account: r.account_name,
            network: r.network,
            state: r.state,
            idem_key: r.idem_key,
            attempts: r.attempts.clamp(0, i64::from(u32::MAX)) as u32,
            next_attempt_at: r.next_attempt_at.map(from_ms),
            started_at: r.started_at.map(from_ms),
            url: r.url,
            remote_id: r.remote_id,
            last_error: r.last_error,
            published_at: r.published_at.map(from_ms),
            history: Vec::new(),
            parts: Vec::new(),
            differences: r.differences,
            unsure_since: r.unsure_since.map(from_ms),
        }
    }
}

const PUBLICATION_COLUMNS: &str = "SELECT id, draft_id, account_id, account_name, network, state, idem_key, \
     attempts, next_attempt_at, started_at, url, remote_id, last_error, published_at, differences, unsure_since FROM publications";

pub use crate::model::publication::{Claim, Outcome, idempotency_key};

/// Makes the draft's publications match `names`: new accounts get a row,
/// accounts no longer named lose theirs unless something went out there.
/// Fails (rolling back) on an unknown account name.
macro_rules! set_publications {
    ($tx:expr, $draft_id:expr, $names:expr, $now_ms:expr) => {{
        let draft_id: i64 = $draft_id;
        let names: &[String] = $names;
        let now_ms: i64 = $now_ms;
        let mut wanted: Vec<(i64, String, String)> = Vec::new();
        for name in names {
            let row: Option<(i64, String)> =
                sqlx::query_as("SELECT id, network FROM accounts WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&mut *$tx)
                    .await?;
            let (id, network) = row.ok_or_else(|| {
                Error::Invalid(format!(
                    "there is no account named `{name}`: `clout account list` shows them, `clout account add` adds one"
                ))
            })?;
            wanted.push((id, name.clone(), network));
        }
        let have: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, account_name, state FROM publications WHERE draft_id = $1")
                .bind(draft_id)
                .fetch_all(&mut *$tx)
                .await?;
        for (id, name, state) in &have {
            if !names.contains(name) && (state == "waiting" || state == "failed") {
                // A thread cut off half-way has parts out there already: forgetting
                // them would post them again if the account came back.
                let (out,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM publication_parts WHERE publication_id = $1")
                        .bind(id)
                        .fetch_one(&mut *$tx)
                        .await?;
                if out > 0 {
                    return Err(Error::FailedPrecondition(format!(
                        "{out} part{} of this thread {} already out on `{name}`: the account stays on the draft, \
                         so that adding it back can never post {} again. Finish the thread there with \
                         `clout draft retry {draft_id}`",
                        if out == 1 { "" } else { "s" },
                        if out == 1 { "is" } else { "are" },
                        if out == 1 { "it" } else { "them" },
                    )));
                }
                sqlx::query("DELETE FROM publications WHERE id = $1").bind(id).execute(&mut *$tx).await?;
            }
        }
        for (account_id, name, network) in wanted {
            let net = crate::model::Network::parse(&network).unwrap_or(crate::model::Network::Mastodon);
            sqlx::query(
                "INSERT INTO publications (draft_id, account_id, account_name, network, state, idem_key) \
                 VALUES ($1, $2, $3, $4, 'waiting', $5) ON CONFLICT (draft_id, account_name) DO NOTHING",
            )
            .bind(draft_id)
            .bind(account_id)
            .bind(&name)
            .bind(&network)
            .bind(crate::store::publish::idempotency_key(net, draft_id, account_id, now_ms))
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

impl Store {
    // ---- accounts ----------------------------------------------------------

    pub async fn add_account(&self, a: &NewAccount, now: DateTime<Utc>) -> Result<Account> {
        let id: i64 = in_tx!(self, |tx| {
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM accounts").fetch_one(&mut *tx).await?;
            if count >= MAX_ACCOUNTS {
                return Err(Error::FailedPrecondition(format!(
                    "there are {count} accounts already, the most cloutd publishes to; remove one first"
                )));
            }
            let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM accounts WHERE name = $1")
                .bind(&a.name)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "there is already an account named `{}`: pick another with --name, or `clout account rm {}` first",
                    a.name, a.name
                )));
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO accounts (name, network, server, handle, secret_file, secret, from_config, created_at, appview) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(&a.name)
            .bind(a.network.as_str())
            .bind(&a.server)
            .bind(&a.handle)
            .bind(&a.secret_file)
            .bind(a.secret.as_ref().map(|s| s.0.as_str()))
            .bind(i64::from(a.from_config))
            .bind(to_ms(now))
            .bind(&a.appview)
            .fetch_one(&mut *tx)
            .await?;
            id
        });
        self.account(id).await
    }

    /// Adds or updates an account declared in the config file.
    pub async fn upsert_config_account(&self, a: &NewAccount, now: DateTime<Utc>) -> Result<Account> {
        let existing: Option<(i64, i64)> =
            on_pool!(self, |p| sqlx::query_as("SELECT id, from_config FROM accounts WHERE name = $1")
                .bind(&a.name)
                .fetch_optional(p)
                .await)?;
        match existing {
            None => self.add_account(a, now).await,
            Some((_, 0)) => Err(Error::FailedPrecondition(format!(
                "the config file declares account `{}`, which `clout account add` already added; rename one of them",
                a.name
            ))),
            Some((id, _)) => {
                on_pool!(self, |p| {
                    sqlx::query(
                    "UPDATE accounts SET network = $1, server = $2, handle = $3, secret_file = $4, appview = $6 WHERE id = $5"
                )
                .bind(a.network.as_str())
                .bind(&a.server)
                .bind(&a.handle)
                .bind(&a.secret_file)
                .bind(id)
                .bind(&a.appview)
                .execute(p)
                .await
                .map(|_| ())
                })?;
                self.account(id).await
            }
        }
    }

    pub async fn account(&self, id: i64) -> Result<Account> {
        let sql = format!("{ACCOUNT_COLUMNS} WHERE id = $1");
        let row: Option<AccountRow> = on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(p)
            .await)?;
        row.ok_or(Error::NotFound { what: "account", id })?.into_account()
    }

    pub async fn account_named(&self, name: &str) -> Result<Account> {
        let sql = format!("{ACCOUNT_COLUMNS} WHERE name = $1");
        let row: Option<AccountRow> = on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(name)
            .fetch_optional(p)
            .await)?;
        row.ok_or_else(|| {
            Error::Invalid(format!(
                "there is no account named `{name}`: `clout account list` shows them, `clout account add` adds one"
            ))
        })?
        .into_account()
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let sql = format!("{ACCOUNT_COLUMNS} ORDER BY name");
        let rows: Vec<AccountRow> =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await)?;
        rows.into_iter().map(AccountRow::into_account).collect()
    }

    /// Removes an account. Drafts still to be published there keep it unless
    /// `force`, which marks those publications failed.
    pub async fn remove_account(&self, name: &str, force: bool) -> Result<()> {
        let account = self.account_named(name).await?;
        in_tx!(self, |tx| {
            let open: Vec<(i64,)> = sqlx::query_as(
                "SELECT draft_id FROM publications WHERE account_id = $1 \
                 AND state IN ('waiting', 'pending', 'publishing') ORDER BY draft_id",
            )
            .bind(account.id)
            .fetch_all(&mut *tx)
            .await?;
            if !open.is_empty() && !force {
                let ids: Vec<String> = open.iter().map(|(d,)| d.to_string()).collect();
                return Err(Error::FailedPrecondition(format!(
                    "draft(s) {} still wait to be published to `{name}`: edit them (clout draft edit ID --no-account), or pass --force to mark those publications failed",
                    ids.join(", ")
                )));
            }
            sqlx::query(
                "UPDATE publications SET state = 'failed', last_error = $2, lease_owner = NULL, lease_until = NULL \
                 WHERE account_id = $1 AND state IN ('waiting', 'pending', 'publishing')",
            )
            .bind(account.id)
            .bind(format!("the account `{name}` was removed"))
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM accounts WHERE id = $1").bind(account.id).execute(&mut *tx).await?;
        });
        Ok(())
    }

    /// Records a check of an account's credentials.
    pub async fn account_checked(
        &self,
        id: i64,
        outcome: &AccountCheck,
        now: DateTime<Utc>,
    ) -> Result<Account> {
        match outcome {
            AccountCheck::Passed { handle, remote_id, max_length, image_size_limit, image_types } => {
                on_pool!(self, |p| {
                    sqlx::query(
                    "UPDATE accounts SET handle = CASE WHEN $1 = '' THEN handle ELSE $1 END, remote_id = $2, \
                     max_length = $3, checked_at = $4, check_error = '', image_size_limit = $6, image_types = $7 WHERE id = $5"
                )
                .bind(handle)
                .bind(remote_id)
                .bind(i64::from(*max_length))
                .bind(to_ms(now))
                .bind(id)
                .bind(i64::try_from(*image_size_limit).unwrap_or(i64::MAX))
                .bind(image_types.join(","))
                .execute(p)
                .await
                .map(|_| ())
                })?;
            }
            AccountCheck::Failed { message } => {
                on_pool!(self, |p| sqlx::query(
                    "UPDATE accounts SET checked_at = $1, check_error = $2 WHERE id = $3"
                )
                .bind(to_ms(now))
                .bind(message)
                .bind(id)
                .execute(p)
                .await
                .map(|_| ()))?;
            }
        }
        self.account(id).await
    }

    // ---- publications ------------------------------------------------------

    /// A draft's publications with their attempt history.
    pub async fn publications_of(&self, draft_id: i64) -> Result<Vec<Publication>> {
        let sql = format!("{PUBLICATION_COLUMNS} WHERE draft_id = $1 ORDER BY id");
        let rows: Vec<PublicationRow> = on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(draft_id)
            .fetch_all(p)
            .await)?;
        let attempts: Vec<(i64, i64, String, i64, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT a.publication_id, a.at, a.outcome, a.http_status, a.message FROM publish_attempts a \
             JOIN publications p ON p.id = a.publication_id WHERE p.draft_id = $1 ORDER BY a.id"
        )
        .bind(draft_id)
        .fetch_all(p)
        .await)?;
        let mut out: Vec<Publication> = rows.into_iter().map(Publication::from).collect();
        for (pid, part) in self.posted_parts_of_draft(draft_id).await? {
            if let Some(p) = out.iter_mut().find(|p| p.id == pid) {
                p.parts.push(part);
            }
        }
        for (pid, at, outcome, status, message) in attempts {
            if let Some(p) = out.iter_mut().find(|p| p.id == pid) {
                p.history.push(PublishAttempt {
                    at: from_ms(at),
                    outcome,
                    http_status: status.clamp(0, i64::from(u16::MAX)) as u16,
                    message,
                });
            }
        }
        Ok(out)
    }

    /// Every draft's publications (without history), by draft id.
    pub async fn all_publications(&self) -> Result<HashMap<i64, Vec<Publication>>> {
        let sql = format!("{PUBLICATION_COLUMNS} ORDER BY id");
        let rows: Vec<PublicationRow> =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await)?;
        let mut out: HashMap<i64, Vec<Publication>> = HashMap::new();
        for r in rows {
            out.entry(r.draft_id).or_default().push(r.into());
        }
        Ok(out)
    }

    /// Extends `owner`'s claim on a publication; false when it no longer holds it.
    pub async fn renew_publication_claim(&self, id: i64, owner: &str, until: DateTime<Utc>) -> Result<bool> {
        let done = on_pool!(self, |p| {
            sqlx::query(
            "UPDATE publications SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'publishing'"
        )
        .bind(id)
        .bind(owner)
        .bind(to_ms(until))
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(done > 0)
    }

    /// Claims up to `limit` publications that are due (or whose claim ran out)
    /// for `owner` until `now + lease`.
    pub async fn claim_publications(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<Claim>> {
        let now_ms = to_ms(now);
        let until = to_ms(now + lease);
        let pick = if self.is_postgres() {
            "SELECT id, state, started_at FROM publications WHERE (state = 'pending' AND next_attempt_at <= $1) \
             OR (state = 'publishing' AND lease_until < $1) ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
        } else {
            "SELECT id, state, started_at FROM publications WHERE (state = 'pending' AND next_attempt_at <= $1) \
             OR (state = 'publishing' AND lease_until < $1) ORDER BY next_attempt_at, id LIMIT $2"
        };
        let picked: Vec<(i64, String, Option<i64>, i64)> = in_tx!(self, |tx| {
            let rows: Vec<(i64, String, Option<i64>)> =
                sqlx::query_as(pick).bind(now_ms).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, state, started) in rows {
                let interrupted = state == "publishing";
                if interrupted {
                    sqlx::query(
                        "INSERT INTO publish_attempts (publication_id, at, outcome, http_status, message) \
                         VALUES ($1, $2, 'interrupted', 0, $3)",
                    )
                    .bind(id)
                    .bind(now_ms)
                    .bind("cloutd stopped before the server answered; trying again with the same key")
                    .execute(&mut *tx)
                    .await?;
                    // Whether the server made the post is not known: look before posting again.
                    sqlx::query(
                        "UPDATE publications SET unsure_since = COALESCE(unsure_since, started_at) WHERE id = $1",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                let (tries,): (i64,) = sqlx::query_as(
                    "UPDATE publications SET state = 'publishing', lease_owner = $2, lease_until = $3, \
                     attempts = attempts + 1, tries = tries + 1, started_at = $4 WHERE id = $1 RETURNING tries",
                )
                .bind(id)
                .bind(owner)
                .bind(until)
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                out.push((id, state, started.filter(|_| interrupted), tries));
            }
            out
        });
        let mut claims = Vec::with_capacity(picked.len());
        for (id, state, started, tries) in picked {
            let sql = format!("{PUBLICATION_COLUMNS} WHERE id = $1");
            let row: Option<PublicationRow> =
                on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(id)
                    .fetch_optional(p)
                    .await)?;
            let Some(row) = row else { continue };
            let draft: Option<ClaimedDraft> = on_pool!(self, |p| {
                sqlx::query_as(
                    "SELECT title, body, visibility, content_warning, language, thread, no_card, images FROM drafts WHERE id = $1"
                )
                .bind(row.draft_id)
                .fetch_optional(p)
                .await
            })?;
            let Some((title, text, visibility, content_warning, language, thread, no_card, images)) = draft
            else {
                continue;
            };
            let thread: Vec<String> = serde_json::from_str(&thread).unwrap_or_default();
            let done = self.posted_parts(id).await?;
            claims.push(Claim {
                parts: model::parts(&text, &thread),
                done,
                no_card: no_card != 0,
                images: serde_json::from_str(&images).unwrap_or_default(),
                uploads: self.uploads(id).await?,
                publication: row.into(),
                interrupted: state == "publishing",
                interrupted_at: started.map(from_ms),
                tries: tries.clamp(0, i64::from(u32::MAX)) as u32,
                label: model::label(&title, &text),
                text,
                visibility,
                content_warning,
                language,
            });
        }
        Ok(claims)
    }

    /// Records how an attempt ended, moves the draft's state on, and appends
    /// a `published` or `publish_failed` nudge. Does nothing (returns no
    /// nudges) when `owner` no longer holds the claim.
    pub async fn finish_publication(
        &self,
        id: i64,
        owner: &str,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<Vec<Nudge>> {
        let now_ms = to_ms(now);
        let pg = self.is_postgres();
        let first_after = self.first_result_after();
        let nudges = in_tx!(self, |tx| {
            if pg {
                // Nudge ids must become visible in order: one writer of the log at a time.
                sqlx::query("SELECT pg_advisory_xact_lock(7263001)").execute(&mut *tx).await?;
            }
            let row: Option<(i64, String, i64, Option<String>)> = sqlx::query_as(
                "SELECT draft_id, account_name, attempts, lease_owner FROM publications WHERE id = $1 AND state = 'publishing'",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((draft_id, account, attempts, lease_owner)) = row else { return Ok(Vec::new()) };
            if lease_owner.as_deref() != Some(owner) {
                return Ok(Vec::new());
            }
            let (kind, status, message) = match outcome {
                Outcome::Published { url, .. } => ("published", 0u16, format!("published at {url}")),
                Outcome::Retry { http_status, message, .. } => ("retry", *http_status, message.clone()),
                Outcome::Failed { http_status, message } => ("failed", *http_status, message.clone()),
            };
            sqlx::query(
                "INSERT INTO publish_attempts (publication_id, at, outcome, http_status, message) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(now_ms)
            .bind(kind)
            .bind(i64::from(status))
            .bind(&message)
            .execute(&mut *tx)
            .await?;
            match outcome {
                Outcome::Published { url, remote_id } => {
                    sqlx::query(
                        "UPDATE publications SET state = 'published', url = $2, remote_id = $3, published_at = $4, \
                         last_error = '', lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, \
                         unsure_since = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(url)
                    .bind(remote_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    // Its results are fetched from now on, on the schedule.
                    let (account_id, network, server): (Option<i64>, String, String) = sqlx::query_as(
                        "SELECT p.account_id, p.network, COALESCE(a.server, '') FROM publications p \
                         LEFT JOIN accounts a ON a.id = p.account_id WHERE p.id = $1",
                    )
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if !remote_id.is_empty() {
                        track_post!(
                            tx,
                            draft_id,
                            account_id,
                            &account,
                            &network,
                            &server,
                            remote_id,
                            url,
                            now_ms,
                            first_after
                        );
                    }
                }
                Outcome::Retry { at, message, http_status } => {
                    // No answer: the server may have made the post; the next try looks first.
                    sqlx::query(
                        "UPDATE publications SET state = 'pending', next_attempt_at = $2, last_error = $3, \
                         lease_owner = NULL, lease_until = NULL, \
                         unsure_since = CASE WHEN $4 THEN COALESCE(unsure_since, started_at) ELSE unsure_since END \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(to_ms(*at))
                    .bind(message)
                    .bind(*http_status == 0)
                    .execute(&mut *tx)
                    .await?;
                }
                Outcome::Failed { message, .. } => {
                    sqlx::query(
                        "UPDATE publications SET state = 'failed', last_error = $2, lease_owner = NULL, \
                         lease_until = NULL, next_attempt_at = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(message)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            // The draft's state follows its publications.
            let states: Vec<(String, Option<i64>, String)> = sqlx::query_as(
                "SELECT state, published_at, url FROM publications WHERE draft_id = $1 ORDER BY id",
            )
            .bind(draft_id)
            .fetch_all(&mut *tx)
            .await?;
            let open = states.iter().any(|(s, _, _)| s == "pending" || s == "publishing");
            let published = states.iter().filter(|(s, _, _)| s == "published").count();
            let draft_state = if open {
                "publishing"
            } else if published == states.len() {
                "published"
            } else if published > 0 {
                "partial"
            } else {
                "failed"
            };
            let first = states
                .iter()
                .filter(|(s, _, _)| s == "published")
                .filter_map(|(_, at, url)| at.map(|a| (a, url)))
                .min_by_key(|(a, _)| *a);
            sqlx::query(
                "UPDATE drafts SET state = $2, published_at = $3, \
                 published_url = CASE WHEN published_url = '' THEN $4 ELSE published_url END, updated_at = $5 WHERE id = $1",
            )
            .bind(draft_id)
            .bind(draft_state)
            .bind(first.map(|(a, _)| a))
            .bind(first.map(|(_, u)| u.as_str()).unwrap_or(""))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            let (title, body): (String, String) =
                sqlx::query_as("SELECT title, body FROM drafts WHERE id = $1")
                    .bind(draft_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let label = model::label(&title, &body);
            let note = match outcome {
                Outcome::Published { url, .. } => Some((
                    "published",
                    format!("Published \u{201c}{label}\u{201d} to {account} at {url}"),
                    format!("published:{draft_id}:{account}"),
                )),
                Outcome::Failed { message, .. } => Some((
                    "publish_failed",
                    format!("Could not publish \u{201c}{label}\u{201d} to {account}: {message}"),
                    format!("publish_failed:{id}:{attempts}"),
                )),
                Outcome::Retry { .. } => None,
            };
            let mut notes: Vec<(&str, String, String)> = note.into_iter().collect();
            if let Outcome::Published { url, .. } = outcome {
                let (differences,): (String,) =
                    sqlx::query_as("SELECT differences FROM publications WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                if !differences.is_empty() {
                    notes.push((
                        "published_differently",
                        format!(
                            "Published \u{201c}{label}\u{201d} to {account} at {url}, but not as asked: {differences}. \
                             Look at it there, and edit or delete it if that matters"
                        ),
                        format!("published_differently:{draft_id}:{account}"),
                    ));
                }
            }
            let mut out = Vec::new();
            for (kind, message, key) in notes {
                let n = Nudge {
                    id: 0,
                    kind: kind.into(),
                    message,
                    due_at: now,
                    fired_at: now,
                    draft_id: Some(draft_id),
                    task_id: None,
                    late: false,
                };
                out.extend(insert_nudge!(tx, n, key));
            }
            out
        });
        Ok(nudges)
    }

    /// Publishes a partly published or failed draft again, to the accounts
    /// that failed.
    pub async fn retry_draft(&self, id: i64, now: DateTime<Utc>) -> Result<model::Draft> {
        let now_ms = to_ms(now);
        in_tx!(self, |tx| {
            let cur = draft_in!(tx, id);
            if !matches!(cur.state, model::DraftState::Partial | model::DraftState::Failed) {
                return Err(Error::FailedPrecondition(format!(
                    "draft {id} is {}; only partial or failed drafts can be retried",
                    cur.state.as_str()
                )));
            }
            let again = sqlx::query(
                "UPDATE publications SET state = 'pending', next_attempt_at = $2, tries = 0 \
                 WHERE draft_id = $1 AND state = 'failed' AND account_id IS NOT NULL",
            )
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if again.rows_affected() == 0 {
                return Err(Error::FailedPrecondition(format!(
                    "draft {id} has nothing to retry: the accounts it failed on were removed"
                )));
            }
            sqlx::query("UPDATE drafts SET state = 'publishing', updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        });
        self.get_draft(id).await
    }
}
