//! Mastodon: `GET /api/v1/statuses/:id` gives a status with its counts.

use super::{counts, failed};
use crate::http::Method;
use crate::publish::http::{Http, origin, wait_hint};
use crate::store::results::{Fetched, ResultClaim};

/// Fetches one status's counts. `account` names the account whose token was
/// sent, for the advice when the token is refused.
pub async fn fetch(http: &Http, c: &ResultClaim, token: Option<&str>, account: Option<&str>) -> Fetched {
    if c.server.is_empty() || c.remote_id.is_empty() {
        return Fetched::Failed { message: "the post's server or id is not known".into(), retry_at: None };
    }
    let url = format!("{}/api/v1/statuses/{}", c.server, c.remote_id);
    let answer = match http.call(Method::GET, &url, token, &[], None).await {
        Ok(a) => a,
        Err(e) => return failed(e.to_string(), None),
    };
    match answer.status {
        200..=299 => {
            if answer.str("id").is_empty() {
                return failed(format!("{} answered without a status", origin(&url)), None);
            }
            Fetched::Counts(counts(
                &answer.body,
                "favourites_count",
                "reblogs_count",
                "replies_count",
                "quotes_count",
            ))
        }
        404 | 410 => Fetched::Deleted,
        401 | 403 => {
            let advice = match account {
                Some(name) => format!(
                    ": the token of account `{name}` was refused (expired or revoked); make a new access token, \
                     write it to its token file and run `clout account check {name}`"
                ),
                None => ": the server wants a signed-in request; add the account with `clout account add mastodon`".into(),
            };
            failed(format!("{}{advice}", answer.message()), wait_hint(&answer))
        }
        _ => failed(answer.message(), wait_hint(&answer)),
    }
}
