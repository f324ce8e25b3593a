//! Mastodon: `POST /api/v1/statuses` with an `Idempotency-Key`, and the
//! account check (`verify_credentials` and the instance's limits).
//!
//! Not every server that speaks Mastodon's API remembers keys across a
//! restart, so before trying again after an attempt whose outcome is not
//! known, the account's recent statuses (`GET /api/v1/accounts/:id/statuses`)
//! are searched for the post (same text, same parent, made since that
//! attempt began); one found is adopted instead of posted again. What the
//! server answered is compared with what was asked: a dropped content warning
//! or another visibility is reported, not recorded silently as a success.

use crate::http::Method;
use serde_json::{Value, json};

use super::http::{Answer, Http, wait_hint};
use chrono::{DateTime, Utc};

use super::images::{Uploads, multipart};
use super::{Checked, Failure, Posted, classify, text};
use crate::media::Image;
use crate::model::publication::{Claim, PostedPart, part_key};
use crate::model::{Account, Network};

fn failure(a: &Answer) -> Failure {
    classify(a.status, wait_hint(a), a.message())
}

fn unreachable(why: impl std::fmt::Display) -> Failure {
    Failure::Temporary { http_status: 0, message: why.to_string(), after: None }
}

/// The status one part of a draft becomes; a later part of a thread replies
/// to the part before it, with the same visibility.
pub fn status_body(claim: &Claim, text: &str, reply_to: Option<&PostedPart>) -> Value {
    let mut body = json!({ "status": text });
    if let Some(parent) = reply_to {
        body["in_reply_to_id"] = json!(parent.remote_id);
    }
    if !claim.visibility.is_empty() {
        body["visibility"] = json!(claim.visibility);
    }
    if !claim.content_warning.is_empty() {
        body["spoiler_text"] = json!(claim.content_warning);
        body["sensitive"] = json!(true);
    }
    if !claim.language.is_empty() {
        body["language"] = json!(claim.language);
    }
    body
}

/// Posts part `position` of the draft, replying to `reply_to` (the part
/// before it), with that part's own Idempotency-Key. With `unsure_since`, an
/// earlier attempt at this part may have made it: it is looked for first.
/// Its images are uploaded first (or reused from an earlier attempt).
#[allow(clippy::too_many_arguments)]
pub async fn post_part(
    http: &Http,
    a: &Account,
    token: &str,
    claim: &Claim,
    position: u32,
    reply_to: Option<&PostedPart>,
    unsure_since: Option<DateTime<Utc>>,
    uploads: &Uploads<'_>,
) -> Result<Posted, Failure> {
    let url = format!("{}/api/v1/statuses", a.server);
    let key = part_key(Network::Mastodon, &claim.publication.idem_key, position);
    let text = claim.parts.get(position as usize).map_or("", String::as_str);
    if let Some(since) = unsure_since
        && let Some(status) = find_posted(http, a, token, text, reply_to, since).await?
    {
        return Ok(posted(claim, &status, position, key));
    }
    let mut body = status_body(claim, text, reply_to);
    let ids = media_ids(http, a, token, position, uploads).await?;
    if !ids.is_empty() {
        body["media_ids"] = json!(ids);
    }
    let answer = http
        .call(Method::POST, &url, Some(token), &[("Idempotency-Key", key.as_str())], Some(&body))
        .await
        .map_err(unreachable)?;
    if !answer.ok() {
        return Err(failure(&answer));
    }
    if answer.str("id").is_empty() {
        // Never published without the server's confirmation.
        return Err(unreachable(format!(
            "{} answered {} without a status id",
            super::http::origin(&url),
            answer.status
        )));
    }
    Ok(posted(claim, &answer.body, position, key))
}

/// Tries at `GET /api/v1/media/:id` while the server processes an image,
/// and how long the waiting may take in all.
const MEDIA_TRIES: u32 = 10;
const MEDIA_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where an uploaded image is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum MediaState {
    Ready,
    Processing,
    /// Not on the server (any more): upload it again.
    Gone,
}

/// The media ids of part `position`'s images, uploading each the server has
/// not taken yet (its id is kept as soon as the server answers) and waiting,
/// a bounded number of tries, until the server has processed it.
async fn media_ids(
    http: &Http,
    a: &Account,
    token: &str,
    position: u32,
    up: &Uploads<'_>,
) -> Result<Vec<String>, Failure> {
    let mut ids = Vec::new();
    for (idx, img) in up.of(position).into_iter().enumerate() {
        let idx = idx as u32;
        let mut have = None;
        if let Some(id) = up.earlier(position, idx, img) {
            match media_state(http, a, token, &id).await? {
                MediaState::Gone => up.forget(position, idx).await,
                state => have = Some((id, state)),
            }
        }
        let (id, state) = match have {
            Some(h) => h,
            None => {
                let bytes = up.bytes(position, idx, img).await?;
                let (id, state) = upload(http, a, token, img, bytes).await?;
                up.keep(position, idx, img, &id).await?;
                (id, state)
            }
        };
        if state == MediaState::Processing {
            wait_processed(http, a, token, &id, position, idx).await?;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// `POST /api/v2/media` with the file and its description: 200 when the
/// server processed it at once, 202 (its `url` null) while it processes it.
async fn upload(
    http: &Http,
    a: &Account,
    token: &str,
    img: &Image,
    bytes: Vec<u8>,
) -> Result<(String, MediaState), Failure> {
    let ext = img.mime.strip_prefix("image/").unwrap_or("png");
    let filename = format!("image.{ext}");
    let mut fields: Vec<super::images::Field<'_>> =
        vec![("file", Some((filename.as_str(), img.mime.as_str())), bytes.as_slice())];
    if !img.alt.is_empty() {
        fields.push(("description", None, img.alt.as_bytes()));
    }
    let (kind, body) = multipart(&fields);
    let url = format!("{}/api/v2/media", a.server);
    let answer = http.upload(&url, token, &kind, body).await.map_err(unreachable)?;
    if !answer.ok() {
        return Err(failure(&answer));
    }
    let id = answer.str("id").to_string();
    if id.is_empty() {
        return Err(unreachable(format!(
            "{} answered {} without a media id",
            super::http::origin(&url),
            answer.status
        )));
    }
    let ready = answer.status == 200 && answer.body["url"].is_string();
    Ok((id, if ready { MediaState::Ready } else { MediaState::Processing }))
}

/// `GET /api/v1/media/:id`: 200 with a `url` once processed, 206 while
/// processing, 404 when the server does not have it.
async fn media_state(http: &Http, a: &Account, token: &str, id: &str) -> Result<MediaState, Failure> {
    let url = format!("{}/api/v1/media/{id}", a.server);
    let answer = http.call(Method::GET, &url, Some(token), &[], None).await.map_err(unreachable)?;
    match answer.status {
        200 if answer.body["url"].is_string() => Ok(MediaState::Ready),
        200 | 206 => Ok(MediaState::Processing),
        404 => Ok(MediaState::Gone),
        _ => Err(failure(&answer)),
    }
}

/// Waits until the server has processed an image: a few tries, 250 ms
/// apart and then longer, within this attempt. Still processing after them
/// is a temporary failure; the next attempt reuses the upload.
async fn wait_processed(
    http: &Http,
    a: &Account,
    token: &str,
    id: &str,
    position: u32,
    idx: u32,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + MEDIA_WAIT;
    for n in 0..MEDIA_TRIES {
        let pause = std::time::Duration::from_millis(250u64 << n.min(3));
        if tokio::time::Instant::now() + pause > deadline {
            break;
        }
        tokio::time::sleep(pause).await;
        match media_state(http, a, token, id).await? {
            MediaState::Ready => return Ok(()),
            MediaState::Processing => {}
            MediaState::Gone => {
                return Err(unreachable(format!(
                    "the server lost image {} of part {} while processing it",
                    idx + 1,
                    position + 1
                )));
            }
        }
    }
    Err(unreachable(format!(
        "the server was still processing image {} of part {} after waiting for it; the next try looks again",
        idx + 1,
        position + 1
    )))
}

/// A status the server confirmed, and how it differs from what was asked.
fn posted(claim: &Claim, status: &Value, position: u32, key: String) -> Posted {
    let field = |name: &str| status.get(name).and_then(Value::as_str).unwrap_or("");
    let link = match field("url") {
        "" => field("uri"),
        u => u,
    };
    let part = PostedPart {
        position,
        idem_key: key,
        remote_id: field("id").to_string(),
        cid: String::new(),
        url: link.to_string(),
    };
    Posted { part, differences: differences(claim, status) }
}

/// What the server made differently from what the draft asked for.
pub fn differences(claim: &Claim, status: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let visibility = status.get("visibility").and_then(Value::as_str);
    if let Some(got) = visibility
        && !claim.visibility.is_empty()
        && got != claim.visibility
    {
        out.push(format!("the server made it {got}, not {}", claim.visibility));
    }
    let cw = status.get("spoiler_text").and_then(Value::as_str).unwrap_or("");
    if !claim.content_warning.is_empty() && cw != claim.content_warning {
        out.push(if cw.is_empty() {
            format!("the server dropped the content warning \u{201c}{}\u{201d}", claim.content_warning)
        } else {
            format!("the server changed the content warning to \u{201c}{cw}\u{201d}")
        });
    }
    out
}

/// Looks for the part among the account's recent statuses: the same text,
/// replying to the same status, made since `since` (less a minute for
/// clocks that disagree). Statuses come newest first.
async fn find_posted(
    http: &Http,
    a: &Account,
    token: &str,
    text: &str,
    reply_to: Option<&PostedPart>,
    since: DateTime<Utc>,
) -> Result<Option<Value>, Failure> {
    let id = if a.remote_id.is_empty() {
        let me = verify_credentials(http, a, token).await?;
        if !me.ok() {
            return Err(failure(&me));
        }
        me.str("id").to_string()
    } else {
        a.remote_id.clone()
    };
    let url = format!("{}/api/v1/accounts/{id}/statuses?limit=20", a.server);
    let answer = http.call(Method::GET, &url, Some(token), &[], None).await.map_err(unreachable)?;
    if !answer.ok() {
        return Err(failure(&answer));
    }
    let want = text::same_words(text);
    let parent = reply_to.map(|p| p.remote_id.as_str());
    let after = since - chrono::Duration::minutes(1);
    let found = answer.body.as_array().into_iter().flatten().find(|s| {
        let made =
            s.get("created_at").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let replies_to = s.get("in_reply_to_id").and_then(Value::as_str);
        let content = s.get("content").and_then(Value::as_str).unwrap_or("");
        made.is_some_and(|m| m >= after)
            && replies_to == parent
            && text::same_words(&text::html_text(content)) == want
    });
    Ok(found.cloned())
}

/// The server's answer about the token's account (any status), or no answer.
async fn verify_credentials(http: &Http, a: &Account, token: &str) -> Result<Answer, Failure> {
    let url = format!("{}/api/v1/accounts/verify_credentials", a.server);
    http.call(Method::GET, &url, Some(token), &[], None).await.map_err(unreachable)
}

pub async fn check(http: &Http, a: &Account, token: &str) -> Result<Checked, Failure> {
    let me = verify_credentials(http, a, token).await?;
    if !me.ok() {
        let f = failure(&me);
        return Err(match f {
            Failure::Permanent { http_status: s @ (401 | 403), message } => Failure::Permanent {
                http_status: s,
                message: format!(
                    "{message}: the token was refused; make a new access token and write it to the secret file"
                ),
            },
            other => other,
        });
    }
    let host = ::http::Uri::try_from(a.server.as_str())
        .ok()
        .and_then(|u| u.host().map(str::to_string))
        .unwrap_or_default();
    let acct = match me.str("acct") {
        "" => String::new(),
        acct if acct.contains('@') => acct.to_string(),
        acct => format!("{acct}@{host}"),
    };
    // The instance's own limits; older servers lack v2 and the fields.
    let instance =
        match http.call(Method::GET, &format!("{}/api/v2/instance", a.server), None, &[], None).await {
            Ok(i) if i.ok() => i.body,
            _ => Value::Null,
        };
    let config = &instance["configuration"];
    let max = config["statuses"]["max_characters"].as_u64();
    let max = max.and_then(|m| u32::try_from(m).ok()).unwrap_or(text::MASTODON_DEFAULT_MAX as u32);
    let media = &config["media_attachments"];
    let image_types: Vec<String> = media["supported_mime_types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| t.starts_with("image/"))
        .map(str::to_string)
        .collect();
    Ok(Checked {
        handle: acct,
        remote_id: me.str("id").to_string(),
        max_length: max,
        image_size_limit: media["image_size_limit"].as_u64().unwrap_or(0),
        image_types,
    })
}
