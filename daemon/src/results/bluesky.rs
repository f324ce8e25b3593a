//! Bluesky: `app.bsky.feed.getPosts` on an app view gives up to 25 posts
//! with their counts; a post it leaves out was deleted (or taken down).
//! A recorded post's URL may name its author by handle: the handle is
//! resolved to a DID first (`com.atproto.identity.resolveHandle`), since
//! the post is known by its DID.

use std::collections::HashMap;

use super::{counts, failed};
use crate::http::{Method, query_value};
use crate::publish::http::{Http, wait_hint};
use crate::store::results::{Fetched, ResultClaim};

/// Most posts one `getPosts` call takes.
pub const MAX_URIS: usize = 25;

/// Fetches the counts of up to [`MAX_URIS`] posts from `appview`.
pub async fn fetch(http: &Http, appview: &str, posts: &[&ResultClaim]) -> Vec<(i64, Fetched)> {
    let mut out = Vec::with_capacity(posts.len());
    // The URI each post is asked by: its own, with a handle resolved to a DID.
    let mut asked: Vec<(i64, String)> = Vec::with_capacity(posts.len());
    let mut dids: HashMap<String, Result<String, Fetched>> = HashMap::new();
    let mut down: Option<Fetched> = None;
    for c in posts {
        let Some((who, rest)) = c.remote_id.strip_prefix("at://").and_then(|r| r.split_once('/')) else {
            out.push((
                c.id,
                Fetched::Failed { message: format!("`{}` is not an at:// URI", c.remote_id), retry_at: None },
            ));
            continue;
        };
        if who.starts_with("did:") {
            asked.push((c.id, c.remote_id.clone()));
            continue;
        }
        if !dids.contains_key(who) {
            // An app view that does not answer is not asked again in this batch,
            // which so ends within its lease.
            let did = match &down {
                Some(f) => Err(f.clone()),
                None => match resolve(http, appview, who).await {
                    Ok(did) => Ok(did),
                    Err(Unresolved::NoAnswer(f)) => {
                        down = Some(f.clone());
                        Err(f)
                    }
                    Err(Unresolved::Refused(f)) => Err(f),
                },
            };
            dids.insert(who.to_string(), did);
        }
        match dids.get(who) {
            Some(Ok(did)) => asked.push((c.id, format!("at://{did}/{rest}"))),
            Some(Err(f)) => out.push((c.id, f.clone())),
            None => {}
        }
    }
    if asked.is_empty() {
        return out;
    }
    if let Some(f) = down {
        out.extend(asked.iter().map(|(id, _)| (*id, f.clone())));
        return out;
    }
    let query: Vec<String> = asked.iter().map(|(_, uri)| format!("uris={}", query_value(uri))).collect();
    let url = format!("{appview}/xrpc/app.bsky.feed.getPosts?{}", query.join("&"));
    let answer = match http.call(Method::GET, &url, None, &[], None).await {
        Ok(a) => a,
        Err(e) => {
            let f = failed(e.to_string(), None);
            out.extend(asked.iter().map(|(id, _)| (*id, f.clone())));
            return out;
        }
    };
    if !answer.ok() {
        let f = failed(answer.message(), wait_hint(&answer));
        out.extend(asked.iter().map(|(id, _)| (*id, f.clone())));
        return out;
    }
    let views = answer.body.get("posts").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    let mut by_uri: HashMap<&str, &serde_json::Value> = HashMap::new();
    for v in &views {
        if let Some(uri) = v.get("uri").and_then(serde_json::Value::as_str) {
            by_uri.insert(uri, v);
        }
    }
    for (id, uri) in &asked {
        out.push(match by_uri.get(uri.as_str()) {
            Some(v) => {
                (*id, Fetched::Counts(counts(v, "likeCount", "repostCount", "replyCount", "quoteCount")))
            }
            None => (*id, Fetched::Deleted),
        });
    }
    out
}

/// Why a handle has no DID: the app view gave no answer, or said no.
enum Unresolved {
    NoAnswer(Fetched),
    Refused(Fetched),
}

/// A handle's DID, from the app view.
async fn resolve(http: &Http, appview: &str, handle: &str) -> Result<String, Unresolved> {
    let url = format!("{appview}/xrpc/com.atproto.identity.resolveHandle?handle={}", query_value(handle));
    let answer = http
        .call(Method::GET, &url, None, &[], None)
        .await
        .map_err(|e| Unresolved::NoAnswer(failed(e.to_string(), None)))?;
    if answer.status == 400 {
        // The handle no longer resolves: the account moved or is gone.
        return Err(Unresolved::Refused(failed(
            format!("the handle `{handle}` does not resolve: {}", answer.message()),
            None,
        )));
    }
    if !answer.ok() {
        return Err(Unresolved::Refused(failed(answer.message(), wait_hint(&answer))));
    }
    let did = answer.str("did");
    if did.starts_with("did:") {
        Ok(did.to_string())
    } else {
        Err(Unresolved::Refused(failed(format!("the handle `{handle}` resolved to no DID"), None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded_for_the_query() {
        assert_eq!(
            query_value("at://did:plc:abc/app.bsky.feed.post/3k"),
            "at%3A%2F%2Fdid%3Aplc%3Aabc%2Fapp.bsky.feed.post%2F3k"
        );
    }
}
