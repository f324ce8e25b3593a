//! Bluesky over XRPC: `com.atproto.server.createSession` (and
//! `refreshSession` when the access token expires), then
//! `com.atproto.repo.createRecord` for an `app.bsky.feed.post` whose record
//! key is fixed per publication. Before any retry the record is looked up by
//! that key, so a post whose answer was lost is found, not made again.

use crate::http::Method;
use serde_json::{Value, json};

use super::http::{Answer, Http, wait_hint};
use super::images::Uploads;
use super::{Failure, Hub, Posted, Session, classify, text};
use crate::model::publication::{Claim, PostedPart, part_key};
use crate::model::{Account, Network};

const POST: &str = "app.bsky.feed.post";

fn failure(a: &Answer) -> Failure {
    classify(a.status, wait_hint(a), a.message())
}

fn unreachable(why: impl std::fmt::Display) -> Failure {
    Failure::Temporary { http_status: 0, message: why.to_string(), after: None }
}

/// An expired access token: XRPC answers 400 ExpiredToken (or 401).
fn expired(a: &Answer) -> bool {
    a.str("error") == "ExpiredToken" || a.status == 401
}

fn xrpc(a: &Account, method: &str) -> String {
    format!("{}/xrpc/{method}", a.server)
}

fn session_from(answer: &Answer) -> Option<Session> {
    let s = Session {
        did: answer.str("did").to_string(),
        handle: answer.str("handle").to_string(),
        access: answer.str("accessJwt").to_string(),
        refresh: answer.str("refreshJwt").to_string(),
    };
    (!s.did.is_empty() && !s.access.is_empty()).then_some(s)
}

pub async fn create_session(http: &Http, a: &Account, password: &str) -> Result<Session, Failure> {
    let body = json!({ "identifier": a.handle, "password": password });
    let answer = http
        .call(Method::POST, &xrpc(a, "com.atproto.server.createSession"), None, &[], Some(&body))
        .await
        .map_err(unreachable)?;
    if !answer.ok() {
        return Err(match failure(&answer) {
            Failure::Permanent { http_status: s @ (400 | 401), message } => Failure::Permanent {
                http_status: if s == 400 { 401 } else { s },
                message: format!("{message}: the handle or app password was refused"),
            },
            other => other,
        });
    }
    session_from(&answer).ok_or_else(|| unreachable("createSession answered without a session"))
}

async fn refresh_session(http: &Http, a: &Account, s: &Session) -> Option<Session> {
    let answer = http
        .call(Method::POST, &xrpc(a, "com.atproto.server.refreshSession"), Some(&s.refresh), &[], None)
        .await
        .ok()?;
    if !answer.ok() {
        return None;
    }
    let mut fresh = session_from(&answer)?;
    if fresh.handle.is_empty() {
        fresh.handle.clone_from(&s.handle);
    }
    Some(fresh)
}

/// The public web address of a post.
pub fn post_url(handle: &str, did: &str, rkey: &str) -> String {
    let who = if handle.is_empty() { did } else { handle };
    format!("https://bsky.app/profile/{who}/post/{rkey}")
}

/// A strong reference to a post: its at:// URI and CID.
fn strong_ref(p: &PostedPart) -> Value {
    json!({ "uri": p.remote_id, "cid": p.cid })
}

/// The post record for one part of a draft, with its link, mention and tag
/// facets; a later part of a thread replies to the part before it
/// (`parent`), under the first (`root`).
pub async fn record(
    http: &Http,
    a: &Account,
    claim: &Claim,
    text: &str,
    thread: &[PostedPart],
    embed: Option<Value>,
) -> Value {
    let facets = text::detect_facets(text);
    let mut dids = std::collections::HashMap::new();
    for f in &facets {
        if let text::FacetKind::Mention(handle) = &f.kind {
            let url = format!("{}?handle={handle}", xrpc(a, "com.atproto.identity.resolveHandle"));
            let did = match http.call(Method::GET, &url, None, &[], None).await {
                Ok(ans) if ans.ok() => Some(ans.str("did").to_string()).filter(|d| !d.is_empty()),
                _ => None,
            };
            dids.insert(handle.clone(), did);
        }
    }
    let resolve = |h: &str| dids.get(h).cloned().flatten();
    let facets = text::facets_json(&facets, &resolve);
    let mut rec = json!({
        "$type": POST,
        "text": text,
        "createdAt": crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if !facets.is_empty() {
        rec["facets"] = Value::Array(facets);
    }
    if !claim.language.is_empty() {
        rec["langs"] = json!([claim.language]);
    }
    if let Some(embed) = embed {
        rec["embed"] = embed;
    }
    if let (Some(root), Some(parent)) = (thread.first(), thread.last()) {
        rec["reply"] = json!({ "root": strong_ref(root), "parent": strong_ref(parent) });
    }
    rec
}

/// An `app.bsky.embed.external` card for the first link of `text`, with the
/// page's image uploaded as its thumbnail blob; None when the page gives no
/// card. Nothing here fails the post: a card that cannot be made is left out,
/// and a thumbnail that cannot be uploaded too.
async fn card_embed(hub: &Hub, a: &Account, session: &Session, text: &str) -> Option<Value> {
    let card = hub.cards.for_text(text).await?;
    let mut external = json!({ "uri": card.uri, "title": card.title, "description": card.description });
    if let Some((bytes, mime)) = card.thumb {
        let url = xrpc(a, "com.atproto.repo.uploadBlob");
        match hub.http.upload(&url, &session.access, mime, bytes).await {
            Ok(answer) if answer.ok() && answer.body["blob"].is_object() => {
                external["thumb"] = answer.body["blob"].clone();
            }
            Ok(answer) => {
                tracing::warn!(account = %a.name, "the link card's image was not uploaded: {}", answer.message())
            }
            Err(e) => tracing::warn!(account = %a.name, "the link card's image was not uploaded: {e}"),
        }
    }
    Some(json!({ "$type": "app.bsky.embed.external", "external": external }))
}

/// Signs in afresh after the access token expired: refreshSession, else createSession.
async fn renew(hub: &Hub, a: &Account, password: &str, s: &Session) -> Result<Session, Failure> {
    let fresh = match refresh_session(&hub.http, a, s).await {
        Some(s) => s,
        None => create_session(&hub.http, a, password).await?,
    };
    hub.set_session(a.id, Some(fresh.clone()));
    Ok(fresh)
}

/// The `app.bsky.embed.images` embed of part `position`: each image uploaded
/// with `com.atproto.repo.uploadBlob` (its blob reference kept as soon as the
/// PDS answers, and reused by a later attempt), with its alt text and its
/// aspect ratio. None when the part has no images.
async fn images_embed(
    hub: &Hub,
    a: &Account,
    password: &str,
    session: &mut Session,
    position: u32,
    up: &Uploads<'_>,
) -> Result<Option<Value>, Failure> {
    let images = up.of(position);
    if images.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(images.len());
    for (idx, img) in images.into_iter().enumerate() {
        let idx = idx as u32;
        let earlier = up
            .earlier(position, idx, img)
            .and_then(|r| serde_json::from_str::<Value>(&r).ok())
            .filter(Value::is_object);
        let blob = match earlier {
            Some(blob) => blob,
            None => {
                let bytes = up.bytes(position, idx, img).await?;
                let url = xrpc(a, "com.atproto.repo.uploadBlob");
                let mut answer = hub
                    .http
                    .upload(&url, &session.access, &img.mime, bytes.clone())
                    .await
                    .map_err(unreachable)?;
                if expired(&answer) {
                    *session = renew(hub, a, password, session).await?;
                    answer = hub
                        .http
                        .upload(&url, &session.access, &img.mime, bytes)
                        .await
                        .map_err(unreachable)?;
                }
                if !answer.ok() {
                    return Err(failure(&answer));
                }
                let blob = answer.body["blob"].clone();
                if !blob.is_object() {
                    return Err(unreachable("uploadBlob answered without a blob"));
                }
                up.keep(position, idx, img, &blob.to_string()).await?;
                blob
            }
        };
        out.push(json!({
            "alt": img.alt,
            "image": blob,
            "aspectRatio": { "width": img.width, "height": img.height },
        }));
    }
    Ok(Some(json!({ "$type": "app.bsky.embed.images", "images": out })))
}

/// Looks the post up by its record key; its URI and CID when it exists.
async fn existing(
    http: &Http,
    a: &Account,
    did: &str,
    rkey: &str,
) -> Result<Option<(String, String)>, Failure> {
    let url = format!("{}?repo={did}&collection={POST}&rkey={rkey}", xrpc(a, "com.atproto.repo.getRecord"));
    let answer = http.call(Method::GET, &url, None, &[], None).await.map_err(unreachable)?;
    if answer.ok() {
        return Ok(Some((answer.str("uri").to_string(), answer.str("cid").to_string())));
    }
    if answer.str("error") == "RecordNotFound" || answer.status == 404 {
        return Ok(None);
    }
    Err(failure(&answer))
}

/// Posts part `position` of the draft under the parts before it (`thread`,
/// confirmed already), with that part's own record key.
pub async fn post_part(
    hub: &Hub,
    a: &Account,
    password: &str,
    claim: &Claim,
    position: u32,
    thread: &[PostedPart],
    uploads: &Uploads<'_>,
) -> Result<Posted, Failure> {
    let http = &hub.http;
    let key = part_key(Network::Bluesky, &claim.publication.idem_key, position);
    let rkey = key.as_str();
    let text = claim.parts.get(position as usize).map_or("", String::as_str);
    let mut session = match hub.session(a.id) {
        Some(s) => s,
        None => {
            let s = create_session(http, a, password).await?;
            hub.set_session(a.id, Some(s.clone()));
            s
        }
    };
    let posted = |s: &Session, uri: String, cid: String| Posted {
        part: PostedPart {
            position,
            idem_key: key.clone(),
            url: post_url(&s.handle, &s.did, rkey),
            remote_id: if uri.is_empty() { format!("at://{}/{POST}/{rkey}", s.did) } else { uri },
            cid,
        },
        differences: Vec::new(),
    };
    // A retry: the earlier try may have made the post before its answer was lost.
    if claim.publication.attempts > 1
        && let Some((uri, cid)) = existing(http, a, &session.did, rkey).await?
    {
        return Ok(posted(&session, uri, cid));
    }
    // A post with images gets no link card.
    let with_images = !uploads.of(position).is_empty();
    let embed = match images_embed(hub, a, password, &mut session, position, uploads).await? {
        Some(images) => Some(images),
        None if claim.no_card => None,
        None => card_embed(hub, a, &session, text).await,
    };
    let rec = record(http, a, claim, text, thread, embed).await;
    let mut renewed = false;
    loop {
        let body = json!({ "repo": session.did, "collection": POST, "rkey": rkey, "record": rec });
        let answer = http
            .call(
                Method::POST,
                &xrpc(a, "com.atproto.repo.createRecord"),
                Some(&session.access),
                &[],
                Some(&body),
            )
            .await
            .map_err(unreachable)?;
        if answer.ok() {
            return Ok(posted(&session, answer.str("uri").to_string(), answer.str("cid").to_string()));
        }
        if expired(&answer) && !renewed {
            // Refresh the session, or sign in again, then try once more.
            renewed = true;
            session = match refresh_session(http, a, &session).await {
                Some(s) => s,
                None => create_session(http, a, password).await?,
            };
            hub.set_session(a.id, Some(session.clone()));
            continue;
        }
        // A record with this key may already exist (a PDS answers that with
        // an error, today a 500): if it does, the post is there.
        if !(200..300).contains(&answer.status)
            && answer.status != 401
            && let Ok(Some((uri, cid))) = existing(http, a, &session.did, rkey).await
        {
            return Ok(posted(&session, uri, cid));
        }
        if answer.status == 401 {
            hub.set_session(a.id, None);
        }
        // A blob kept from an earlier attempt that the PDS no longer has
        // (unused blobs are collected): upload the images again next time.
        if with_images && answer.status == 400 && answer.message().to_ascii_lowercase().contains("blob") {
            for idx in 0..uploads.of(position).len() as u32 {
                uploads.forget(position, idx).await;
            }
            return Err(Failure::Temporary { http_status: 400, message: answer.message(), after: None });
        }
        return Err(failure(&answer));
    }
}
