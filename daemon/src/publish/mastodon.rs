//! Mastodon: `POST /api/v1/statuses` with an `Idempotency-Key`, and the
//! account check (`verify_credentials` and the instance's limits).

use crate::http::Method;
use serde_json::{Value, json};

use super::http::{Answer, Http, wait_hint};
use super::{Checked, Failure, classify, text};
use crate::model::publication::{Claim, PostedPart, part_key};
use crate::model::{Account, Network};

fn failure(a: &Answer) -> Failure {
    classify(a.status, wait_hint(a), a.message())
}

fn unreachable(message: String) -> Failure {
    Failure::Temporary { http_status: 0, message, after: None }
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
/// before it), with that part's own Idempotency-Key.
pub async fn post_part(
    http: &Http,
    a: &Account,
    token: &str,
    claim: &Claim,
    position: u32,
    reply_to: Option<&PostedPart>,
) -> Result<PostedPart, Failure> {
    let url = format!("{}/api/v1/statuses", a.server);
    let key = part_key(Network::Mastodon, &claim.publication.idem_key, position);
    let text = claim.parts.get(position as usize).map_or("", String::as_str);
    let body = status_body(claim, text, reply_to);
    let answer = http
        .call(Method::POST, &url, Some(token), &[("Idempotency-Key", key.as_str())], Some(&body))
        .await
        .map_err(unreachable)?;
    if !answer.ok() {
        return Err(failure(&answer));
    }
    let id = answer.str("id");
    if id.is_empty() {
        // Never published without the server's confirmation.
        return Err(unreachable(format!(
            "{} answered {} without a status id",
            super::http::origin(&url),
            answer.status
        )));
    }
    let link = match answer.str("url") {
        "" => answer.str("uri"),
        u => u,
    };
    Ok(PostedPart {
        position,
        idem_key: key,
        remote_id: id.to_string(),
        cid: String::new(),
        url: link.to_string(),
    })
}

pub async fn check(http: &Http, a: &Account, token: &str) -> Result<Checked, Failure> {
    let me = http
        .call(
            Method::GET,
            &format!("{}/api/v1/accounts/verify_credentials", a.server),
            Some(token),
            &[],
            None,
        )
        .await
        .map_err(unreachable)?;
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
    // The instance's own limit; older servers lack v2 and the field.
    let max = match http.call(Method::GET, &format!("{}/api/v2/instance", a.server), None, &[], None).await {
        Ok(i) if i.ok() => i.body["configuration"]["statuses"]["max_characters"].as_u64(),
        _ => None,
    };
    let max = max.and_then(|m| u32::try_from(m).ok()).unwrap_or(text::MASTODON_DEFAULT_MAX as u32);
    Ok(Checked { handle: acct, remote_id: me.str("id").to_string(), max_length: max })
}
