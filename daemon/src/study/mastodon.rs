//! Mastodon: `GET /api/v1/accounts/lookup?acct=` for the account (its id
//! and `followers_count`), then `GET /api/v1/accounts/:id/statuses` page by
//! page (`max_id` of the oldest status seen), without boosts. Both are
//! public; a server that answers 401 (one that serves its API only to signed
//! in users) is asked again with the token of your account on that server.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{FetchError, MASTODON_PAGE, PAGES, WINDOW_DAYS};
use crate::Core;
use crate::http::Method;
use crate::http::query_value;
use crate::model::study::{Fetched, FetchedPost, excerpt};
use crate::model::{Account, Network};
use crate::publish::http::Answer;
use crate::store::study::StudyClaim;

/// Characters of a post kept.
const EXCERPT: usize = 280;

/// A GET that answers 401 is repeated once with the token of your Mastodon
/// account on the same server, if you have one.
struct Reader<'a> {
    core: &'a Core,
    server: &'a str,
    origin: &'a str,
    token: Option<String>,
    tried_token: bool,
}

impl Reader<'_> {
    async fn get(&mut self, url: &str, what: &str, now: DateTime<Utc>) -> Result<Answer, FetchError> {
        loop {
            let a = self
                .core
                .study
                .http
                .call(Method::GET, url, self.token.as_deref(), &[], None)
                .await
                .map_err(FetchError::unreachable)?;
            self.core.study.note_rate_limit(self.origin, &a, now);
            if a.status == 401 && !self.tried_token {
                self.tried_token = true;
                if let Some(t) = token_for(self.core, self.server).await {
                    self.token = Some(t);
                    continue;
                }
                return Err(FetchError::Permanent {
                    message: format!(
                        "{} answers only signed-in requests ({}): add your account there with `clout account add mastodon --instance {}`",
                        self.origin,
                        a.message(),
                        self.server
                    ),
                });
            }
            if !a.ok() {
                return Err(FetchError::from_answer(&a, what, now));
            }
            return Ok(a);
        }
    }
}

/// The token of a Mastodon account on `server`, if one is added.
async fn token_for(core: &Core, server: &str) -> Option<String> {
    let accounts = core.store.accounts().await.ok()?;
    let a = accounts.iter().find(|a| a.network == Network::Mastodon && same_server(&a.server, server))?;
    core.publish.secret(a).ok()
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/').eq_ignore_ascii_case(b.trim_end_matches('/'))
}

pub async fn fetch(
    core: &Core,
    server: &str,
    origin: &str,
    claim: &StudyClaim,
    now: DateTime<Utc>,
) -> Result<Fetched, FetchError> {
    let mut r = Reader { core, server, origin, token: None, tried_token: false };
    let acct = claim.handle.trim_start_matches('@');
    let url = format!("{server}/api/v1/accounts/lookup?acct={}", query_value(acct));
    let account = r.get(&url, &format!("looking up {}", claim.handle), now).await?.body;
    let Some(id) = account.get("id").and_then(Value::as_str).map(str::to_string) else {
        return Err(FetchError::Permanent {
            message: format!("{origin} answered the lookup of {} without an id", claim.handle),
        });
    };
    let mut fetched = Fetched {
        remote_id: id.clone(),
        display_name: account.get("display_name").and_then(Value::as_str).unwrap_or("").to_string(),
        followers: account.get("followers_count").and_then(Value::as_i64),
        posts: Vec::new(),
    };
    let oldest_wanted = now - chrono::Duration::days(WINDOW_DAYS);
    let mut max_id: Option<String> = None;
    let mut raw: Vec<Value> = Vec::new();
    for _ in 0..PAGES {
        let mut url = format!(
            "{server}/api/v1/accounts/{}/statuses?limit={MASTODON_PAGE}&exclude_reblogs=true",
            query_value(&id)
        );
        if let Some(m) = &max_id {
            url.push_str(&format!("&max_id={}", query_value(m)));
        }
        let a = r.get(&url, &format!("reading the posts of {}", claim.handle), now).await?;
        let page = a.body.as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else { break };
        max_id = last.get("id").and_then(Value::as_str).map(str::to_string);
        let older = page.iter().filter_map(created_at).min().is_some_and(|t| t < oldest_wanted);
        let full = page.len() >= MASTODON_PAGE;
        raw.extend(page);
        // Stop at the window's start, at the last page, or when the server has no requests left.
        if older || !full || max_id.is_none() || core.study.held_until(origin, crate::clock::now()).is_some()
        {
            break;
        }
    }
    fetched.posts = posts(&raw, &id);
    Ok(fetched)
}

fn created_at(s: &Value) -> Option<DateTime<Utc>> {
    let t = s.get("created_at")?.as_str()?;
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc))
}

/// The Status entities as posts: boosts left out; a reply to themselves is
/// part of a thread, and so is a status they replied to themselves.
fn posts(raw: &[Value], own_id: &str) -> Vec<FetchedPost> {
    let self_parents: Vec<&str> = raw
        .iter()
        .filter(|s| s.get("in_reply_to_account_id").and_then(Value::as_str) == Some(own_id))
        .filter_map(|s| s.get("in_reply_to_id").and_then(Value::as_str))
        .collect();
    let count = |s: &Value, f: &str| s.get(f).and_then(Value::as_i64).unwrap_or(0);
    let mut out = Vec::new();
    for s in raw {
        if s.get("reblog").is_some_and(|r| !r.is_null()) {
            continue;
        }
        let (Some(id), Some(posted_at)) = (s.get("id").and_then(Value::as_str), created_at(s)) else {
            continue;
        };
        let reply_to = s.get("in_reply_to_account_id").and_then(Value::as_str);
        let own_reply = reply_to == Some(own_id);
        let has_images = s
            .get("media_attachments")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|a| a.get("type").and_then(Value::as_str) == Some("image")));
        out.push(FetchedPost {
            remote_id: id.to_string(),
            url: s.get("url").and_then(Value::as_str).unwrap_or("").to_string(),
            posted_at,
            excerpt: excerpt(s.get("content").and_then(Value::as_str).unwrap_or(""), EXCERPT),
            likes: count(s, "favourites_count"),
            reposts: count(s, "reblogs_count"),
            replies: count(s, "replies_count"),
            quotes: count(s, "quotes_count"),
            is_thread: own_reply || self_parents.contains(&id),
            is_reply: reply_to.is_some() && !own_reply,
            has_images,
        });
    }
    out
}

/// Your account's followers: `verify_credentials` gives `followers_count`.
pub async fn own_followers(core: &Core, a: &Account) -> Option<i64> {
    let token = core.publish.secret(a).ok()?;
    let url = format!("{}/api/v1/accounts/verify_credentials", a.server);
    let ans = core.study.http.call(Method::GET, &url, Some(&token), &[], None).await.ok()?;
    if !ans.ok() {
        return None;
    }
    ans.body.get("followers_count").and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statuses_become_posts() {
        let raw = vec![
            json!({"id": "3", "created_at": "2026-12-03T09:00:00.000Z", "in_reply_to_id": "2",
                   "in_reply_to_account_id": "7", "content": "<p>part two</p>", "favourites_count": 1}),
            json!({"id": "2", "created_at": "2026-12-03T08:59:00.000Z", "content": "<p>part one</p>",
                   "favourites_count": 9, "reblogs_count": 2, "replies_count": 1, "quotes_count": 1,
                   "media_attachments": [{"type": "image"}]}),
            json!({"id": "1", "created_at": "2026-12-02T08:00:00.000Z", "in_reply_to_id": "x",
                   "in_reply_to_account_id": "99", "content": "<p>@carol yes</p>"}),
            json!({"id": "0", "created_at": "2026-12-01T08:00:00.000Z", "reblog": {"id": "z"}}),
        ];
        let p = posts(&raw, "7");
        assert_eq!(p.len(), 3);
        assert!(p[0].is_thread && !p[0].is_reply);
        assert!(p[1].is_thread && p[1].has_images);
        assert_eq!(p[1].likes + p[1].reposts + p[1].replies + p[1].quotes, 13);
        assert!(p[2].is_reply && !p[2].is_thread);
        assert_eq!(p[1].excerpt, "part one");
    }
}
