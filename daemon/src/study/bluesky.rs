//! Bluesky, on the app view (public, no sign-in):
//! `app.bsky.actor.getProfile` for the DID and `followersCount`, then
//! `app.bsky.feed.getAuthorFeed` page by page (`cursor`), leaving reposts out.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{BLUESKY_PAGE, FetchError, PAGES, WINDOW_DAYS};
use crate::Core;
use crate::http::Method;
use crate::http::query_value;
use crate::model::study::{BLUESKY_APPVIEW, Fetched, FetchedPost, excerpt};
use crate::model::{Account, Network};
use crate::publish::http::Answer;
use crate::store::study::StudyClaim;

const EXCERPT: usize = 300;

async fn get(
    core: &Core,
    origin: &str,
    url: &str,
    what: &str,
    now: DateTime<Utc>,
) -> Result<Answer, FetchError> {
    let a = core.study.http.call(Method::GET, url, None, &[], None).await.map_err(FetchError::unreachable)?;
    core.study.note_rate_limit(origin, &a, now);
    if !a.ok() {
        return Err(FetchError::from_answer(&a, what, now));
    }
    Ok(a)
}

pub async fn fetch(
    core: &Core,
    appview: &str,
    origin: &str,
    claim: &StudyClaim,
    now: DateTime<Utc>,
) -> Result<Fetched, FetchError> {
    let actor = query_value(&claim.handle);
    let url = format!("{appview}/xrpc/app.bsky.actor.getProfile?actor={actor}");
    let profile = get(core, origin, &url, &format!("looking up {}", claim.handle), now).await?.body;
    let did = profile.get("did").and_then(Value::as_str).unwrap_or("").to_string();
    let mut fetched = Fetched {
        remote_id: did.clone(),
        display_name: profile.get("displayName").and_then(Value::as_str).unwrap_or("").to_string(),
        followers: profile.get("followersCount").and_then(Value::as_i64),
        posts: Vec::new(),
    };
    let oldest_wanted = now - chrono::Duration::days(WINDOW_DAYS);
    let mut cursor: Option<String> = None;
    let mut items: Vec<Value> = Vec::new();
    for _ in 0..PAGES {
        let mut url =
            format!("{appview}/xrpc/app.bsky.feed.getAuthorFeed?actor={actor}&limit={BLUESKY_PAGE}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", query_value(c)));
        }
        let a = get(core, origin, &url, &format!("reading the posts of {}", claim.handle), now).await?;
        let page = a.body.get("feed").and_then(Value::as_array).cloned().unwrap_or_default();
        cursor = a.body.get("cursor").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_string);
        let older =
            page.iter().filter_map(|i| created_at(i.get("post")?)).min().is_some_and(|t| t < oldest_wanted);
        let empty = page.is_empty();
        items.extend(page);
        if empty || older || cursor.is_none() || core.study.held_until(origin, crate::clock::now()).is_some()
        {
            break;
        }
    }
    fetched.posts = posts(&items, &did, &claim.handle);
    Ok(fetched)
}

fn created_at(post: &Value) -> Option<DateTime<Utc>> {
    let t = post.pointer("/record/createdAt").or_else(|| post.get("indexedAt"))?.as_str()?;
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc))
}

/// The DID of an at:// URI (`at://DID/collection/rkey`).
fn uri_did(uri: &str) -> &str {
    uri.strip_prefix("at://").and_then(|r| r.split('/').next()).unwrap_or("")
}

/// Feed items as posts: reposts (a `reason`, or another author) left out; a
/// reply to themselves is part of a thread, and so is a post they replied to.
fn posts(items: &[Value], did: &str, handle: &str) -> Vec<FetchedPost> {
    let own = |p: &Value| p.pointer("/author/did").and_then(Value::as_str) == Some(did);
    let mine: Vec<&Value> = items
        .iter()
        .filter(|i| i.get("reason").is_none_or(Value::is_null))
        .filter_map(|i| i.get("post"))
        .filter(|p| own(p))
        .collect();
    let self_parents: Vec<&str> = mine
        .iter()
        .filter_map(|p| p.pointer("/record/reply/parent/uri").and_then(Value::as_str))
        .filter(|u| uri_did(u) == did)
        .collect();
    let count = |p: &Value, f: &str| p.get(f).and_then(Value::as_i64).unwrap_or(0);
    let mut out = Vec::new();
    for p in mine {
        let (Some(uri), Some(posted_at)) = (p.get("uri").and_then(Value::as_str), created_at(p)) else {
            continue;
        };
        let parent = p.pointer("/record/reply/parent/uri").and_then(Value::as_str);
        let own_reply = parent.is_some_and(|u| uri_did(u) == did);
        let embed = p.pointer("/embed/$type").and_then(Value::as_str).unwrap_or("");
        let media = p.pointer("/embed/media/$type").and_then(Value::as_str).unwrap_or("");
        let rkey = uri.rsplit('/').next().unwrap_or("");
        out.push(FetchedPost {
            remote_id: uri.to_string(),
            url: format!("https://bsky.app/profile/{handle}/post/{rkey}"),
            posted_at,
            excerpt: excerpt(p.pointer("/record/text").and_then(Value::as_str).unwrap_or(""), EXCERPT),
            likes: count(p, "likeCount"),
            reposts: count(p, "repostCount"),
            replies: count(p, "replyCount"),
            quotes: count(p, "quoteCount"),
            is_thread: own_reply || self_parents.contains(&uri),
            is_reply: parent.is_some() && !own_reply,
            has_images: embed.starts_with("app.bsky.embed.images")
                || media.starts_with("app.bsky.embed.images"),
        });
    }
    out
}

/// Your account's followers, from `getProfile` on the account's app view
/// (`--appview`), else the one your Bluesky follows are read from, else the
/// public one.
pub async fn own_followers(core: &Core, a: &Account) -> Option<i64> {
    let people = core.store.studied_people(None).await.ok()?;
    let appview = if a.appview.is_empty() {
        people
            .iter()
            .find(|p| p.network == Network::Bluesky.as_str() && !p.server.is_empty())
            .map_or(BLUESKY_APPVIEW.to_string(), |p| p.server.clone())
    } else {
        a.appview.clone()
    };
    let actor = if a.remote_id.is_empty() { &a.handle } else { &a.remote_id };
    let url = format!("{appview}/xrpc/app.bsky.actor.getProfile?actor={}", query_value(actor));
    let ans = core.study.http.call(Method::GET, &url, None, &[], None).await.ok()?;
    if !ans.ok() {
        return None;
    }
    ans.body.get("followersCount").and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn feed_items_become_posts() {
        let did = "did:plc:bob";
        let item = |rkey: &str, at: &str, extra: Value| {
            let mut post = json!({"uri": format!("at://{did}/app.bsky.feed.post/{rkey}"), "author": {"did": did},
                "record": {"text": rkey, "createdAt": at}, "likeCount": 3, "repostCount": 1});
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    if k == "reply" {
                        post["record"]["reply"] = v;
                    } else {
                        post[k] = v;
                    }
                }
            }
            json!({ "post": post })
        };
        let items = vec![
            item(
                "b",
                "2026-12-03T09:01:00Z",
                json!({"reply": {"parent": {"uri": format!("at://{did}/app.bsky.feed.post/a")}}}),
            ),
            item("a", "2026-12-03T09:00:00Z", json!({"embed": {"$type": "app.bsky.embed.images#view"}})),
            item(
                "c",
                "2026-12-02T09:00:00Z",
                json!({"reply": {"parent": {"uri": "at://did:plc:carol/app.bsky.feed.post/x"}}}),
            ),
            json!({"post": {"uri": "at://did:plc:carol/app.bsky.feed.post/y", "author": {"did": "did:plc:carol"},
                   "record": {"text": "theirs", "createdAt": "2026-12-01T00:00:00Z"}},
                   "reason": {"$type": "app.bsky.feed.defs#reasonRepost"}}),
        ];
        let p = posts(&items, did, "bob.test");
        assert_eq!(p.len(), 3);
        assert!(p[0].is_thread && p[1].is_thread && p[1].has_images);
        assert!(p[2].is_reply && !p[2].is_thread);
        assert_eq!(p[1].url, "https://bsky.app/profile/bob.test/post/a");
        assert_eq!(p[1].likes + p[1].reposts, 4);
    }
}
