//! Accounts: their names and the servers they live on.

use http::Uri;

use super::Invalid;

/// Bluesky's PDS for accounts that do not name their own.
pub const BLUESKY_PDS: &str = "https://bsky.social";
/// Bluesky's public app view, which answers `app.bsky.feed.getPosts` without signing in.
pub const BLUESKY_APPVIEW: &str = "https://public.api.bsky.app";

/// Account names: a short word, as in `--account work`.
pub fn check_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "name",
            format!("invalid account name `{name}`: use letters, digits, - _ . @ (at most 64)"),
        ))
    }
}

fn bad(reason: String) -> Invalid {
    Invalid::new("server", reason)
}

/// Checks a server URL for an account: https, or http to this machine (for
/// local test servers). Returns it without a trailing slash.
pub fn check_server(url: &str) -> Result<String, Invalid> {
    let url = url.trim().trim_end_matches('/');
    let uri: Uri = url
        .parse()
        .map_err(|_| bad(format!("`{url}` is not a URL; give one like https://mastodon.social")))?;
    let host = uri.host().unwrap_or("");
    if host.is_empty() {
        return Err(bad(format!("`{url}` has no host; give one like https://mastodon.social")));
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty()) {
        return Err(bad(format!("give the server's address only, like https://{host}, without a path")));
    }
    match uri.scheme_str() {
        Some("https") => Ok(url.to_string()),
        Some("http") if matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") => Ok(url.to_string()),
        Some("http") => Err(bad(format!(
            "`{url}` is plain http: secrets would cross the network unencrypted; use https://{host}"
        ))),
        _ => Err(bad(format!("`{url}` must start with https://"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_must_be_https_unless_local() {
        assert_eq!(check_server("https://mastodon.social/").expect("https"), "https://mastodon.social");
        assert!(check_server("http://127.0.0.1:8080").is_ok());
        assert!(check_server("http://mastodon.social").expect_err("plain").reason.contains("unencrypted"));
        assert!(check_server("ftp://x.org").is_err());
        assert!(check_server("https://x.org/api/v1").expect_err("path").reason.contains("without a path"));
        assert!(check_server("mastodon").is_err());
    }
}
