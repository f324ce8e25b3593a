//! The account API, and the checks a draft meets before it may name accounts.

use clout_proto::{ts, v1};
use tonic::{Request, Response, Status};

use super::{Api, invalid};
use crate::model::{Account, AccountCheck, Network, NewAccount, Publication, Secret};
use crate::publish;

pub use crate::model::account::{BLUESKY_PDS, check_name};

/// Longest content warning accepted, in characters.
pub const MAX_CONTENT_WARNING: usize = 500;

/// Mastodon's visibilities; empty keeps the account's default.
pub fn check_visibility(v: &str) -> Result<String, Status> {
    let v = v.trim().to_lowercase();
    match v.as_str() {
        "" | "public" | "unlisted" | "private" | "direct" => Ok(v),
        _ => Err(invalid(format!("unknown visibility `{v}`: use public, unlisted, private or direct"))),
    }
}

/// An ISO 639 language code with an optional region, such as `en` or `pt-BR`.
pub fn check_language(l: &str) -> Result<String, Status> {
    let l = l.trim();
    let mut parts = l.split('-');
    let primary = parts.next().unwrap_or("");
    let ok = l.is_empty()
        || ((2..=3).contains(&primary.len())
            && primary.chars().all(|c| c.is_ascii_alphabetic())
            && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric())));
    if ok {
        Ok(l.to_string())
    } else {
        Err(invalid(format!("invalid language `{l}`: use a code such as en, de or pt-BR")))
    }
}

pub fn check_content_warning(cw: &str) -> Result<String, Status> {
    let cw = cw.trim();
    if cw.chars().count() > MAX_CONTENT_WARNING || cw.chars().any(char::is_control) {
        return Err(invalid(format!(
            "the content warning must be one line of at most {MAX_CONTENT_WARNING} characters"
        )));
    }
    Ok(cw.to_string())
}

/// Resolves account names and checks every part fits each account's limit.
pub async fn check_accounts(
    api: &Api,
    names: &[String],
    parts: &[String],
    content_warning: &str,
    images: &[crate::media::Image],
) -> Result<Vec<String>, Status> {
    let (out, accounts) = resolve_accounts(api, names).await?;
    for account in &accounts {
        publish::check_parts_fit(account, parts, content_warning).map_err(|e| invalid(e.reason))?;
        publish::images::check_images_fit(account, images).map_err(|e| invalid(e.reason))?;
    }
    Ok(out)
}

/// The accounts a draft names, each once, in the order given.
pub async fn resolve_accounts(api: &Api, names: &[String]) -> Result<(Vec<String>, Vec<Account>), Status> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim();
        if !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    if out.len() > crate::store::publish::MAX_ACCOUNTS as usize {
        return Err(invalid("too many accounts on one draft"));
    }
    let mut accounts = Vec::with_capacity(out.len());
    for name in &out {
        accounts.push(api.core.store.account_named(name).await?);
    }
    Ok((out, accounts))
}

impl From<Account> for v1::Account {
    fn from(a: Account) -> Self {
        let secret_source = match (&a.secret, a.secret_file.is_empty()) {
            (Some(_), _) => "kept by cloutd".to_string(),
            (None, true) => "config file".to_string(),
            (None, false) => format!("file {}", a.secret_file),
        };
        let image_size_limit = publish::images::image_limit(&a);
        let image_types = publish::images::known_types(&a).into_iter().map(str::to_string).collect();
        let max_length = match (a.max_length, a.network) {
            (0, Network::Mastodon) => publish::text::MASTODON_DEFAULT_MAX as u32,
            (0, Network::Bluesky) => publish::text::BLUESKY_MAX_GRAPHEMES as u32,
            (m, _) => m,
        };
        v1::Account {
            id: a.id,
            name: a.name,
            network: a.network.as_str().into(),
            server: a.server,
            handle: a.handle,
            secret_source,
            remote_id: a.remote_id,
            max_length,
            checked_at: a.checked_at.map(ts),
            check_error: a.check_error,
            created_at: Some(ts(a.created_at)),
            from_config: a.from_config,
            image_size_limit,
            image_types,
            appview: a.appview,
        }
    }
}

impl From<Publication> for v1::Publication {
    fn from(p: Publication) -> Self {
        v1::Publication {
            account: p.account,
            network: p.network,
            state: p.state,
            url: p.url,
            remote_id: p.remote_id,
            attempts: p.attempts,
            next_attempt_at: p.next_attempt_at.map(ts),
            published_at: p.published_at.map(ts),
            last_error: p.last_error,
            parts: p
                .parts
                .into_iter()
                .map(|x| v1::PublishedPart { number: x.position + 1, url: x.url, remote_id: x.remote_id })
                .collect(),
            differences: p.differences,
            history: p
                .history
                .into_iter()
                .map(|h| v1::PublishAttempt {
                    at: Some(ts(h.at)),
                    outcome: h.outcome,
                    http_status: u32::from(h.http_status),
                    message: h.message,
                })
                .collect(),
        }
    }
}

#[tonic::async_trait]
impl v1::account_service_server::AccountService for Api {
    async fn add_account(
        &self,
        req: Request<v1::AddAccountRequest>,
    ) -> Result<Response<v1::Account>, Status> {
        let peer = super::Peer::of(&req);
        let r = req.into_inner();
        let network = Network::parse(r.network.trim()).ok_or_else(|| {
            invalid(format!("network `{}` is not supported: use mastodon or bluesky", r.network))
        })?;
        let name =
            if r.name.trim().is_empty() { network.as_str().to_string() } else { r.name.trim().to_string() };
        check_name(&name).map_err(|e| invalid(e.reason))?;
        let server = match (network, r.server.trim()) {
            (Network::Mastodon, "") => {
                return Err(invalid(
                    "a Mastodon account needs its instance: --instance https://mastodon.social",
                ));
            }
            (Network::Bluesky, "") => BLUESKY_PDS.to_string(),
            (_, s) => s.to_string(),
        };
        let server = crate::model::account::check_server(&server).map_err(|e| invalid(e.reason))?;
        let handle = r.handle.trim().trim_start_matches('@').to_string();
        if network == Network::Bluesky && handle.is_empty() {
            return Err(invalid("a Bluesky account needs its handle: --handle you.bsky.social"));
        }
        if handle.len() > 253 || handle.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!("invalid handle `{handle}`")));
        }
        let (secret_file, secret) = match (r.secret_file.trim(), r.secret.trim()) {
            ("", "") => {
                return Err(invalid(match network {
                    Network::Mastodon => {
                        "give the access token: --token-file FILE (mode 0600) or --token-stdin"
                    }
                    Network::Bluesky => {
                        "give the app password: --app-password-file FILE (mode 0600) or --app-password-stdin"
                    }
                }));
            }
            (file, "") => {
                super::SECRET_FILE.check(peer)?;
                let path = std::path::Path::new(file);
                if !path.is_absolute() {
                    return Err(invalid("the secret file must be an absolute path"));
                }
                publish::read_secret_file(path).map_err(|e| invalid(e.to_string()))?;
                (path.display().to_string(), None)
            }
            ("", secret) => {
                publish::check_secret(secret).map_err(|e| invalid(format!("the secret {e}")))?;
                (String::new(), Some(Secret(secret.to_string())))
            }
            _ => return Err(invalid("give the secret either in a file or inline, not both")),
        };
        let appview = match r.appview.trim() {
            "" => String::new(),
            _ if network == Network::Mastodon => {
                return Err(invalid(
                    "--appview is for Bluesky accounts: Mastodon's results come from the instance",
                ));
            }
            url => crate::model::account::check_server(url)
                .map_err(|e| invalid(format!("--appview: {}", e.reason)))?,
        };
        let new =
            NewAccount { name, network, server, handle, secret_file, secret, from_config: false, appview };
        let store = &self.core.store;
        let now = crate::clock::now();
        if r.skip_check {
            return Ok(Response::new(store.add_account(&new, now).await?.into()));
        }
        // Sign in before keeping it, so a typo shows now and not at posting time.
        // A provisional id (no row has a negative one) for the session the check opens.
        let probe_id = -now.timestamp_micros().max(1);
        let probe = Account {
            id: probe_id,
            name: new.name.clone(),
            network,
            server: new.server.clone(),
            handle: new.handle.clone(),
            secret_file: new.secret_file.clone(),
            secret: new.secret.clone(),
            from_config: false,
            remote_id: String::new(),
            max_length: 0,
            image_size_limit: 0,
            image_types: Vec::new(),
            checked_at: None,
            check_error: String::new(),
            created_at: now,
            appview: new.appview.clone(),
        };
        let checked = self.core.publish.check(&probe).await.map_err(|e| {
            Status::failed_precondition(format!(
                "{e}. Nothing was added; fix it and run this again, or add --no-check to add it without signing in"
            ))
        })?;
        let added = store.add_account(&new, now).await?;
        self.core.publish.adopt_session(probe_id, added.id);
        let a = store.account_checked(added.id, &checked.into(), crate::clock::now()).await?;
        Ok(Response::new(a.into()))
    }

    async fn list_accounts(
        &self,
        _req: Request<v1::ListAccountsRequest>,
    ) -> Result<Response<v1::ListAccountsResponse>, Status> {
        let accounts = self.core.store.accounts().await?;
        Ok(Response::new(v1::ListAccountsResponse {
            accounts: accounts.into_iter().map(Into::into).collect(),
        }))
    }

    async fn remove_account(
        &self,
        req: Request<v1::RemoveAccountRequest>,
    ) -> Result<Response<v1::RemoveAccountResponse>, Status> {
        let r = req.into_inner();
        check_name(r.name.trim()).map_err(|e| invalid(e.reason))?;
        self.core.store.remove_account(r.name.trim(), r.force).await?;
        self.core.changed();
        Ok(Response::new(v1::RemoveAccountResponse {}))
    }

    async fn check_account(
        &self,
        req: Request<v1::CheckAccountRequest>,
    ) -> Result<Response<v1::Account>, Status> {
        let name = req.into_inner().name;
        check_name(name.trim()).map_err(|e| invalid(e.reason))?;
        let store = &self.core.store;
        let account = store.account_named(name.trim()).await?;
        let outcome = match self.core.publish.check(&account).await {
            Ok(checked) => checked.into(),
            Err(e) => AccountCheck::Failed { message: e.to_string() },
        };
        let a = store.account_checked(account.id, &outcome, crate::clock::now()).await?;
        Ok(Response::new(a.into()))
    }
}
