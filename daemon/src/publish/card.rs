//! Link cards for Bluesky, which shows no preview for a bare link: at publish
//! time the page of a post's first link is read for its Open Graph title,
//! description and image (`og:title`, `og:description`, `og:image`, else
//! `<title>`), within a few seconds and a few hundred KiB, through the one
//! HTTP module. A card that cannot be made is left out: it never holds up
//! the post.

use std::time::Duration;

use crate::http::{Client, Limits, Method, Oversize, Request};

use super::text;

/// How long the page, and then its image, may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How much of the page is read: the Open Graph tags are in its head.
pub const PAGE_BYTES: usize = 256 * 1024;
/// Bluesky's limit on a card's thumbnail (the blob limit of the lexicon).
pub const THUMB_BYTES: usize = 1_000_000;
/// Longest title and description kept, in characters.
const TITLE_CHARS: usize = 300;
const DESCRIPTION_CHARS: usize = 1000;

/// What a card shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub uri: String,
    pub title: String,
    pub description: String,
    /// The image's bytes and MIME type, when the page names one that loads.
    pub thumb: Option<(Vec<u8>, &'static str)>,
}

/// The two clients cards are fetched with: pages (cut at [`PAGE_BYTES`]) and
/// images (refused over [`THUMB_BYTES`]).
pub struct Cards {
    page: Client,
    image: Client,
}

impl Default for Cards {
    fn default() -> Self {
        Self::new()
    }
}

impl Cards {
    pub fn new() -> Cards {
        Cards {
            page: Client::new(
                "link cards",
                Limits { timeout: TIMEOUT, body_bytes: PAGE_BYTES, oversize: Oversize::Truncate },
            ),
            image: Client::new(
                "link card images",
                Limits { timeout: TIMEOUT, body_bytes: THUMB_BYTES, oversize: Oversize::Refuse },
            ),
        }
    }

    /// The card of the first link in `text`, if it has one and its page
    /// answers with a title or description.
    pub async fn for_text(&self, text: &str) -> Option<Card> {
        let uri = first_link(text)?;
        if !fetchable(&uri) {
            return None;
        }
        let page =
            self.page.send(Request::new(Method::GET, &uri).header("Accept", "text/html")).await.ok()?;
        if !page.status.is_success() {
            return None;
        }
        let html = String::from_utf8_lossy(&page.body);
        let og = open_graph(&html);
        if og.title.is_empty() && og.description.is_empty() {
            return None;
        }
        let mut thumb = None;
        if let Some(src) = og.image.and_then(|i| reqwest::Url::parse(&uri).ok()?.join(&i).ok())
            && fetchable(src.as_str())
            && let Ok(img) = self.image.send(Request::new(Method::GET, src.as_str())).await
            && img.status.is_success()
        {
            thumb = image_type(&img.body).map(|mime| (img.body, mime));
        }
        Some(Card { uri, title: og.title, description: og.description, thumb })
    }
}

/// The first link of a text, as Bluesky's facets find it.
pub fn first_link(text: &str) -> Option<String> {
    text::detect_facets(text).into_iter().find_map(|f| match f.kind {
        text::FacetKind::Link(uri) => Some(uri),
        _ => None,
    })
}

/// Pages are read over https, or plain http on this machine only.
fn fetchable(url: &str) -> bool {
    match url.parse::<::http::Uri>() {
        Ok(u) => match u.scheme_str() {
            Some("https") => true,
            Some("http") => matches!(u.host(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1")),
            _ => false,
        },
        Err(_) => false,
    }
}

/// What a page's head says about itself.
#[derive(Debug, Default, PartialEq)]
pub struct OpenGraph {
    pub title: String,
    pub description: String,
    pub image: Option<String>,
}

/// Reads `og:title`, `og:description` and `og:image` (then the `twitter:`
/// and plain `description` names, and `<title>`) from a page.
pub fn open_graph(html: &str) -> OpenGraph {
    let lower = html.to_ascii_lowercase();
    let mut metas: Vec<(String, String)> = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<meta") {
        let start = at + i;
        let end = lower[start..].find('>').map_or(html.len(), |e| start + e);
        let tag = &html[start..end];
        let key = attr(tag, "property").or_else(|| attr(tag, "name")).map(|k| k.to_ascii_lowercase());
        if let (Some(k), Some(v)) = (key, attr(tag, "content")) {
            metas.push((k, v));
        }
        at = end;
    }
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| metas.iter().find(|(k, v)| k == n && !v.trim().is_empty()).map(|(_, v)| v.clone()))
    };
    let title = first(&["og:title", "twitter:title"]).or_else(|| {
        let s = lower.find("<title")?;
        let open = s + lower[s..].find('>')? + 1;
        let close = open + lower[open..].find("</title")?;
        Some(html[open..close].to_string())
    });
    OpenGraph {
        title: clean(&title.unwrap_or_default(), TITLE_CHARS),
        description: clean(
            &first(&["og:description", "twitter:description", "description"]).unwrap_or_default(),
            DESCRIPTION_CHARS,
        ),
        image: first(&["og:image", "og:image:url", "twitter:image"]).map(|i| text::html_text(i.trim())),
    }
}

/// An attribute's value in a tag: `name="v"`, `name='v'` or `name=v`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let start = from + i;
        from = start + name.len();
        let before = lower[..start].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else { continue };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
            _ => rest.split(|c: char| c.is_whitespace() || c == '>' || c == '/').next().unwrap_or(""),
        };
        return Some(value.to_string());
    }
    None
}

/// Decoded, on one line, at most `max` characters.
fn clean(s: &str, max: usize) -> String {
    let s = text::same_words(&text::html_text(s));
    if s.chars().count() > max { format!("{}…", s.chars().take(max - 1).collect::<String>()) } else { s }
}

/// The MIME type of an image, by its first bytes: PNG, JPEG, WebP or GIF.
pub fn image_type(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_graph_tags_are_read_in_any_form() {
        let html = r#"<html><head><title>Fallback &amp; more</title>
            <meta property="og:title" content="The &quot;real&quot; title">
            <META name='og:description' content='Two  lines
            of text'>
            <meta content="/img/a.png" property="og:image" />
            </head><body><meta property="og:title" content="ignored"></body></html>"#;
        let og = open_graph(html);
        assert_eq!(og.title, "The \"real\" title");
        assert_eq!(og.description, "Two lines of text");
        assert_eq!(og.image.as_deref(), Some("/img/a.png"));
        let og = open_graph("<title>Only &lt;this&gt;</title>");
        assert_eq!((og.title.as_str(), og.description.as_str(), og.image), ("Only <this>", "", None));
    }

    #[test]
    fn links_and_images_are_recognised() {
        assert_eq!(
            first_link("see https://example.com/a. and http://b.example").as_deref(),
            Some("https://example.com/a")
        );
        assert_eq!(first_link("no link here"), None);
        assert!(fetchable("https://example.com/") && fetchable("http://127.0.0.1:8080/p"));
        assert!(!fetchable("http://example.com/") && !fetchable("file:///etc/passwd"));
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<html>"), None);
    }
}
