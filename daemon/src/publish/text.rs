//! Pure text functions for publishing to Mastodon and Bluesky: lengths as
//! each service counts them, Bluesky rich-text facets (links, mentions, tags)
//! with UTF-8 byte offsets, atproto TIDs for record keys, and the headers
//! that say when a rate-limited request may be retried.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

/// Bluesky's post limit, in extended grapheme clusters.
pub const BLUESKY_MAX_GRAPHEMES: usize = 300;
/// Bluesky's post limit, in UTF-8 bytes.
pub const BLUESKY_MAX_BYTES: usize = 3000;
/// Mastodon's default status limit, when the instance does not say.
pub const MASTODON_DEFAULT_MAX: usize = 500;
/// What every http(s) URL counts for in a Mastodon status.
pub const MASTODON_URL_LENGTH: usize = 23;

/// The longest wait a Retry-After or ratelimit-reset header is trusted for.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The text of a status's HTML `content`: paragraphs and line breaks become
/// new lines, tags go, and the entities HTML escapes text with are decoded.
pub fn html_text(html: &str) -> String {
    let html = html.replace("</p><p>", "\n\n").replace("<br />", "\n").replace("<br>", "\n");
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// A text's words, one space apart: how a post is compared with a server's
/// rendering of it, which may wrap or collapse white space.
pub fn same_words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The number of extended grapheme clusters in `text`: what Bluesky's
/// 300 limit counts.
pub fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// The length of a status as Mastodon counts it: chars, except that every
/// http(s) URL counts as [`MASTODON_URL_LENGTH`] and a remote mention
/// `@user@domain` counts as `@user`; the content warning counts in full.
pub fn mastodon_length(text: &str, content_warning: &str) -> usize {
    let entities = scan(text, |prev, i, c| match c {
        'h' | 'H' if opens_entity(prev) => link_at(text, i).map(|end| (end, MASTODON_URL_LENGTH)),
        '@' if !prev.is_some_and(|p| is_word(p) || p == '=' || p == '/') => remote_mention_at(text, i),
        _ => None,
    });
    let plain = content_warning.chars().count() + text.chars().count();
    entities
        .into_iter()
        .fold(plain, |length, (start, end, counted)| length + counted - text[start..end].chars().count())
}

/// The entities `at` finds in `text`, left to right and not overlapping:
/// `at(previous char, byte offset, char)` gives an entity's end and what it
/// is, and the scan goes on after its end.
fn scan<T>(
    text: &str,
    mut at: impl FnMut(Option<char>, usize, char) -> Option<(usize, T)>,
) -> Vec<(usize, usize, T)> {
    let mut found = Vec::new();
    let mut before = None;
    let mut resume = 0;
    for (i, c) in text.char_indices() {
        let prev = before.replace(c);
        if i < resume {
            continue;
        }
        if let Some((end, what)) = at(prev, i, c) {
            found.push((i, end, what));
            resume = end;
        }
    }
    found
}

/// What a Bluesky facet marks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacetKind {
    /// A URL, as written.
    Link(String),
    /// A handle, without the `@`.
    Mention(String),
    /// A hashtag, without the `#`.
    Tag(String),
}

/// A span of a post's text, in UTF-8 byte offsets (`byte_end` exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    pub byte_start: usize,
    pub byte_end: usize,
    pub kind: FacetKind,
}

/// Finds the links, mentions and tags in a post, as Bluesky's rich-text
/// rules find them. The facets are sorted and do not overlap.
pub fn detect_facets(text: &str) -> Vec<Facet> {
    let found = scan(text, |prev, i, c| match c {
        'h' | 'H' if opens_entity(prev) => {
            link_at(text, i).map(|end| (end, FacetKind::Link(text[i..end].to_owned())))
        }
        '@' if opens_entity(prev) => {
            mention_at(text, i).map(|(end, handle)| (end, FacetKind::Mention(handle)))
        }
        '#' | '＃' if prev.is_none_or(char::is_whitespace) => {
            tag_at(text, i).map(|(end, tag)| (end, FacetKind::Tag(tag)))
        }
        _ => None,
    });
    found.into_iter().map(|(byte_start, byte_end, kind)| Facet { byte_start, byte_end, kind }).collect()
}

/// The `app.bsky.richtext.facet` objects for a post. Mentions carry the DID
/// that `resolve` gives for the handle; a mention it cannot resolve is left
/// as plain text.
pub fn facets_json(facets: &[Facet], resolve: &dyn Fn(&str) -> Option<String>) -> Vec<Value> {
    facets
        .iter()
        .filter_map(|f| {
            let feature = match &f.kind {
                FacetKind::Link(uri) => json!({"$type": "app.bsky.richtext.facet#link", "uri": uri}),
                FacetKind::Mention(handle) => {
                    json!({"$type": "app.bsky.richtext.facet#mention", "did": resolve(handle)?})
                }
                FacetKind::Tag(tag) => json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
            };
            Some(json!({
                "index": {"byteStart": f.byte_start, "byteEnd": f.byte_end},
                "features": [feature],
            }))
        })
        .collect()
}

/// Whether a link or mention may start after `prev` (None: start of text).
fn opens_entity(prev: Option<char>) -> bool {
    prev.is_none_or(|p| p.is_whitespace() || p == '(')
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The end of the http(s) URL starting at byte `start`, without trailing
/// punctuation or an unbalanced closing parenthesis.
fn link_at(text: &str, start: usize) -> Option<usize> {
    let rest = &text[start..];
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| rest.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)))?;
    let mut url = &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())];
    loop {
        if let Some(shorter) = url.strip_suffix(['.', ',', ';', ':', '!', '?']) {
            url = shorter;
        } else if url.ends_with(')') && url.matches(')').count() > url.matches('(').count() {
            url = &url[..url.len() - 1];
        } else {
            break;
        }
    }
    let after_scheme = url.get(scheme.len()..)?;
    let host = after_scheme.split(['/', '?', '#']).next().unwrap_or_default();
    host.chars().any(char::is_alphanumeric).then_some(start + url.len())
}

/// The end and handle of the mention whose `@` is at byte `start`.
fn mention_at(text: &str, start: usize) -> Option<(usize, String)> {
    let rest = &text[start + 1..];
    let run = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(rest.len());
    if rest[run..].starts_with('_') {
        return None;
    }
    let handle = rest[..run].trim_end_matches(['.', '-']);
    is_handle(handle).then(|| (start + 1 + handle.len(), handle.to_owned()))
}

/// A domain-like handle: two or more labels of letters, digits and inner
/// hyphens, the last not all digits.
fn is_handle(handle: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    handle.len() <= 253
        && handle.split('.').count() >= 2
        && handle.split('.').all(label_ok)
        && handle.rsplit('.').next().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Characters that end a hashtag although they are not whitespace.
const TAG_BREAKS: [char; 7] =
    ['\u{AD}', '\u{2060}', '\u{200A}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{20E2}'];
const TAG_MAX_CHARS: usize = 64;

/// The end and tag of the hashtag whose `#` (or `＃`) is at byte `start`.
fn tag_at(text: &str, start: usize) -> Option<(usize, String)> {
    let body = start + text[start..].chars().next()?.len_utf8();
    let rest = &text[body..];
    let run = rest.find(|c: char| c.is_whitespace() || TAG_BREAKS.contains(&c)).unwrap_or(rest.len());
    if rest.starts_with('\u{FE0F}') {
        return None; // a keycap emoji such as #️⃣
    }
    let tag = rest[..run].trim_end_matches(is_punctuation);
    let meaningful = tag.chars().any(|c| !c.is_ascii_digit() && !is_punctuation(c));
    (meaningful && tag.chars().count() <= TAG_MAX_CHARS).then(|| (body + tag.len(), tag.to_owned()))
}

/// Unicode punctuation (general category P) in ASCII, Latin-1 and the
/// general, CJK and fullwidth punctuation blocks: the blocks posts use, without
/// carrying Unicode's whole category table.
fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~');
    }
    matches!(c,
        '¡' | '§' | '«' | '¶' | '·' | '»' | '¿'
        | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{2043}' | '\u{2045}'..='\u{2051}' | '\u{2053}'..='\u{205E}'
        | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301F}' | '\u{30FB}'
        | '\u{FF01}'..='\u{FF03}' | '\u{FF05}'..='\u{FF0A}' | '\u{FF0C}'..='\u{FF0F}' | '\u{FF1A}' | '\u{FF1B}'
        | '\u{FF1F}' | '\u{FF20}' | '\u{FF3B}'..='\u{FF3D}' | '\u{FF3F}' | '\u{FF5B}' | '\u{FF5D}'
        | '\u{FF5F}'..='\u{FF65}')
}

/// The end and counted length (`@user`) of a Mastodon remote mention
/// `@user@domain` whose first `@` is at byte `start`.
fn remote_mention_at(text: &str, start: usize) -> Option<(usize, usize)> {
    let rest = &text[start + 1..];
    let user_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(rest.len());
    let user = &rest[..user_len];
    let user_edge = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !user.starts_with(user_edge) || !user.ends_with(user_edge) {
        return None;
    }
    let after_user = rest[user_len..].strip_prefix('@')?;
    let run = after_user.find(|c: char| !(is_word(c) || c == '.' || c == '-')).unwrap_or(after_user.len());
    let domain = after_user[..run].trim_end_matches(['.', '-']);
    if !domain.starts_with(is_word) {
        return None;
    }
    let end = start + 1 + user_len + 1 + domain.len();
    let after = &text[end..];
    if after.starts_with(['@', '＠']) || after.starts_with("://") {
        return None;
    }
    Some((end, 1 + user.len()))
}

#[cfg(test)]
use crate::model::publication::{MICROS_MASK, S32, fnv1a};
pub use crate::model::publication::{derive_rkey, is_tid, tid};

/// How long an HTTP `Retry-After` value (delta-seconds or an HTTP-date) says
/// to wait, at most an hour; a past date means now, garbage means None.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Some(secs) = unsigned(value) {
        return Some(Duration::from_secs(secs).min(MAX_WAIT));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default().min(MAX_WAIT))
}

/// How long until Bluesky's `ratelimit-reset` (Unix seconds), at most an
/// hour; a past reset means now, garbage means None.
pub fn rate_limit_reset(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let reset = unsigned(value.trim())?;
    let wait_ms = i128::from(reset) * 1000 - i128::from(now.timestamp_millis());
    let max_ms = i128::from(MAX_WAIT.as_secs()) * 1000;
    Some(Duration::from_millis(u64::try_from(wait_ms.clamp(0, max_ms)).unwrap_or_default()))
}

/// How long until Mastodon's `X-RateLimit-Reset` (an ISO 8601 time), at
/// most an hour; a past reset means now, garbage means None.
pub fn rate_limit_reset_at(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let at = DateTime::parse_from_rfc3339(value.trim()).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default().min(MAX_WAIT))
}

/// A run of ASCII digits as a number, saturating when it is too large.
fn unsigned(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_html_reads_back_as_its_text() {
        let html = "<p>Tom &amp; Jerry&#39;s &lt;show&gt;<br />line two</p><p><a href=\"https://x.example/\"><span class=\"invisible\">https://</span>x.example/</a></p>";
        assert_eq!(html_text(html), "Tom & Jerry's <show>\nline two\n\nhttps://x.example/");
        assert_eq!(
            same_words(&html_text(html)),
            same_words("Tom & Jerry's <show> line two\n\n https://x.example/")
        );
    }
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().expect("time")
    }

    /// The facets of `text` as (covered text, kind) pairs, checking the
    /// offsets are char boundaries, sorted and disjoint.
    fn spans(text: &str) -> Vec<(&str, FacetKind)> {
        let facets = detect_facets(text);
        let mut last_end = 0;
        facets
            .into_iter()
            .map(|f| {
                assert!(f.byte_start >= last_end && f.byte_start < f.byte_end, "{f:?} in {text:?}");
                last_end = f.byte_end;
                let covered = text.get(f.byte_start..f.byte_end).expect("char boundaries");
                (covered, f.kind)
            })
            .collect()
    }

    fn link(s: &str) -> FacetKind {
        FacetKind::Link(s.to_owned())
    }
    fn mention(s: &str) -> FacetKind {
        FacetKind::Mention(s.to_owned())
    }
    fn tag(s: &str) -> FacetKind {
        FacetKind::Tag(s.to_owned())
    }

    fn decode_tid(s: &str) -> u64 {
        s.bytes().fold(0, |v, b| (v << 5) | S32.iter().position(|&c| c == b).expect("alphabet") as u64)
    }

    #[test]
    fn graphemes_count_what_a_reader_sees() {
        assert_eq!(graphemes("👨‍👩‍👧‍👦"), 1);
        assert_eq!(graphemes("👋🏽"), 1);
        assert_eq!(graphemes("🇩🇪"), 1);
        assert_eq!(graphemes("e\u{301}"), 1);
        assert_eq!(graphemes("日本語 ok"), 6);
        assert_eq!(graphemes(""), 0);
        assert_eq!("👨‍👩‍👧‍👦".chars().count(), 7);
    }

    #[test]
    fn mastodon_counts_chars_and_adds_the_content_warning() {
        assert_eq!(mastodon_length("héllo 日本", ""), 8);
        assert_eq!(mastodon_length("👨‍👩‍👧‍👦", ""), 7);
        assert_eq!(mastodon_length("abc", "spoiler"), 10);
        assert_eq!(mastodon_length("", "cw https://example.com/a/very/long/path/indeed"), 46);
        assert_eq!(mastodon_length("", ""), 0);
    }

    #[test]
    fn mastodon_counts_every_url_as_23() {
        let long = format!("https://example.com/{}", "a".repeat(100));
        assert_eq!(mastodon_length(&format!("see {long}"), ""), 4 + 23);
        assert_eq!(mastodon_length("http://a.co", ""), 23);
        assert_eq!(mastodon_length("Read https://example.com/ä?x=1.", ""), 5 + 23 + 1);
        assert_eq!(mastodon_length("(https://example.com/x) and http://b.org", ""), 1 + 23 + 1 + 5 + 23);
        assert_eq!(mastodon_length("👋🏽 https://例え.jp/パス 👋🏽", ""), 2 + 1 + 23 + 1 + 2);
        // Not a URL: no host, or glued to a word.
        assert_eq!(mastodon_length("https://", ""), 8);
        assert_eq!(mastodon_length("xhttps://example.com/long/path", ""), 30);
    }

    #[test]
    fn mastodon_counts_remote_mentions_as_the_local_part() {
        assert_eq!(mastodon_length("hi @alice@mastodon.social!", ""), "hi @alice!".len());
        assert_eq!(mastodon_length("@bob", ""), 4);
        assert_eq!(mastodon_length("@a_b@example.co.uk. Ok", ""), "@a_b. Ok".len());
        assert_eq!(mastodon_length("(@bob@müller.example)", ""), "(@bob)".len());
        // An email address is not a mention, nor is a username ending in a dot.
        assert_eq!(mastodon_length("mail a@b.com", ""), 12);
        assert_eq!(mastodon_length("@bob.@b.com", ""), 11);
        assert_eq!(mastodon_length("@bob@b.com@c", ""), 12);
        // The URL wins over a mention inside it.
        assert_eq!(mastodon_length("https://x.social/@bob@y.social", ""), 23);
        assert_eq!(mastodon_length("@alice@example.com https://example.com/", "cw"), 2 + 6 + 1 + 23);
    }

    #[test]
    fn facets_in_mixed_script_text_slice_to_what_they_mark() {
        let text = "Grüße 👋🏽 @alice.bsky.social — read https://example.com/ä?x=1. #rust";
        assert_eq!(
            spans(text),
            vec![
                ("@alice.bsky.social", mention("alice.bsky.social")),
                ("https://example.com/ä?x=1", link("https://example.com/ä?x=1")),
                ("#rust", tag("rust")),
            ]
        );
        let family = "👨‍👩‍👧‍👦 家族 #家族旅行 と @bob.example.jp、 https://例え.jp/パス?q=日本 #café, 👩🏽‍💻";
        assert_eq!(
            spans(family),
            vec![
                ("#家族旅行", tag("家族旅行")),
                ("@bob.example.jp", mention("bob.example.jp")),
                ("https://例え.jp/パス?q=日本", link("https://例え.jp/パス?q=日本")),
                ("#café", tag("café")),
            ]
        );
        assert_eq!(spans("👩🏽‍💻 @bob.example.jp 👩🏽‍💻"), vec![("@bob.example.jp", mention("bob.example.jp"))]);
        // Glued to CJK punctuation, a URL is not a link (no whitespace before it).
        assert_eq!(spans("見て、https://example.com"), vec![]);
        let facets = detect_facets(text);
        assert_eq!(facets[0].byte_start, "Grüße 👋🏽 ".len());
        assert_eq!(facets[2].byte_end, text.len());
    }

    #[test]
    fn mentions_need_a_boundary_and_a_domain_like_handle() {
        assert_eq!(spans("(@alice.bsky.social)"), vec![("@alice.bsky.social", mention("alice.bsky.social"))]);
        assert_eq!(
            spans("cc @Alice.Bsky.Social."),
            vec![("@Alice.Bsky.Social", mention("Alice.Bsky.Social"))]
        );
        assert_eq!(spans("@a-b.c-d.io's post"), vec![("@a-b.c-d.io", mention("a-b.c-d.io"))]);
        assert_eq!(
            spans("@alice.bsky.socialさん"),
            vec![("@alice.bsky.social", mention("alice.bsky.social"))]
        );
        for none in [
            "mail bob@alice.bsky.social",
            "@alice",
            "@alice.",
            "@alice.123",
            "@-bad.com",
            "@bad-.com",
            "@a..com",
            "@alice.bsky.social_x",
            "@",
            "@ alice.bsky.social",
        ] {
            assert_eq!(spans(none), vec![], "{none:?}");
        }
        let long_label = format!("@{}.com", "a".repeat(64));
        assert_eq!(spans(&long_label), vec![]);
        assert_eq!(spans("@1.2.x9"), vec![("@1.2.x9", mention("1.2.x9"))]);
    }

    #[test]
    fn links_drop_trailing_punctuation_and_unbalanced_parens() {
        let wiki = "https://en.wikipedia.org/wiki/Rust_(programming_language)";
        assert_eq!(spans(&format!("(see {wiki})")), vec![(wiki, link(wiki))]);
        assert_eq!(
            spans("(https://example.com)."),
            vec![("https://example.com", link("https://example.com"))]
        );
        assert_eq!(
            spans("https://example.com/foo?!"),
            vec![("https://example.com/foo", link("https://example.com/foo"))]
        );
        assert_eq!(spans("go: http://a.co/x,;:"), vec![("http://a.co/x", link("http://a.co/x"))]);
        assert_eq!(spans("HTTPS://EXAMPLE.COM"), vec![("HTTPS://EXAMPLE.COM", link("HTTPS://EXAMPLE.COM"))]);
        assert_eq!(spans("a\u{3000}https://b.jp"), vec![("https://b.jp", link("https://b.jp"))]);
        for none in
            ["xhttps://a.com", "https://", "https://.", "ftp://a.com", "\"https://a.com\"", "http:/a.com"]
        {
            assert_eq!(spans(none), vec![], "{none:?}");
        }
    }

    #[test]
    fn tags_follow_blueskys_rules() {
        assert_eq!(spans("#rust!"), vec![("#rust", tag("rust"))]);
        assert_eq!(
            spans("I ♥ #1st #c++ and #rust's"),
            vec![("#1st", tag("1st")), ("#c++", tag("c++")), ("#rust's", tag("rust's"))]
        );
        assert_eq!(spans("＃日本。"), vec![("＃日本", tag("日本"))]);
        assert_eq!(spans("#tag\u{200B}x"), vec![("#tag", tag("tag"))]);
        assert_eq!(spans("#a#b"), vec![("#a#b", tag("a#b"))]);
        let max = "é".repeat(64);
        assert_eq!(spans(&format!("#{max}")), vec![(format!("#{max}").as_str(), tag(&max))]);
        for none in ["#123", "#2024!", "a#b", "#", "# rust", "#!!!", "#️⃣", "(#rust)", "x.#rust"] {
            assert_eq!(spans(none), vec![], "{none:?}");
        }
        assert_eq!(spans(&format!("#{}", "a".repeat(65))), vec![]);
    }

    #[test]
    fn facet_offsets_are_boundaries_for_every_prefix_and_suffix() {
        let samples = [
            "Grüße 👋🏽 @alice.bsky.social — read https://example.com/ä?x=1. #rust",
            "👨‍👩‍👧‍👦#家族 (https://a.jp/(x)) @b.c.d. ＃タグ #️⃣ @@x.y ##z",
            "\u{200D}#\u{FE0F}x @\u{301}a.b https://\u{200B}.com",
        ];
        for text in samples {
            for (i, _) in text.char_indices() {
                spans(&text[i..]);
                spans(&text[..i]);
                mastodon_length(&text[i..], &text[..i]);
            }
        }
    }

    #[test]
    fn facets_json_has_the_lexicon_shape_and_drops_unresolved_mentions() {
        let text = "@alice.bsky.social @ghost.example https://example.com #rust";
        let resolve = |h: &str| (h == "alice.bsky.social").then(|| "did:plc:alice".to_owned());
        let json = facets_json(&detect_facets(text), &resolve);
        assert_eq!(
            json,
            vec![
                serde_json::json!({"index": {"byteStart": 0, "byteEnd": 18},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}]}),
                serde_json::json!({"index": {"byteStart": 34, "byteEnd": 53},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com"}]}),
                serde_json::json!({"index": {"byteStart": 54, "byteEnd": 59},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "rust"}]}),
            ]
        );
        assert_eq!(&text[34..53], "https://example.com");
        assert!(facets_json(&[], &resolve).is_empty());
    }

    #[test]
    fn tids_encode_timestamp_and_clock_sortably() {
        assert_eq!(tid(0, 0), "2222222222222");
        assert_eq!(tid(0, 1), "2222222222223");
        assert_eq!(tid(0, 1024), "2222222222222", "the clock id is 10 bits");
        assert_eq!(tid(1 << 53, 0), "2222222222222", "the timestamp is 53 bits");
        let max = tid(u64::MAX, u16::MAX);
        assert_eq!(max, "bzzzzzzzzzzzz", "the top bit stays zero");
        assert_eq!(decode_tid(&max), u64::MAX >> 1);
        // The atproto spec's example TID.
        let example = decode_tid("3jzfcijpj2z2a");
        assert_eq!(tid(example >> 10, (example & 1023) as u16), "3jzfcijpj2z2a");
        let micros = i64::try_from(example >> 10).expect("fits");
        let when = DateTime::from_timestamp_micros(micros).expect("time");
        assert!(when > at(2022, 1, 1, 0, 0, 0) && when < at(2024, 1, 1, 0, 0, 0), "{when}");

        let micros = [0, 1, 31, 32, 1_000_000, 1_700_000_000_000_000, 1_700_000_000_000_001, MICROS_MASK];
        for pair in micros.windows(2) {
            let (a, b) = (tid(pair[0], 1023), tid(pair[1], 0));
            assert!(a < b, "{a} !< {b}");
            assert!(is_tid(&a) && is_tid(&b));
            assert_eq!(decode_tid(&b) >> 10, pair[1]);
        }
        assert!(tid(5, 1) < tid(5, 2));
    }

    #[test]
    fn tid_syntax() {
        for ok in ["3jzfcijpj2z2a", "7777777777777", "3zzzzzzzzzzzz", "2222222222222", "jzzzzzzzzzzzz"] {
            assert!(is_tid(ok), "{ok}");
        }
        for bad in [
            "",
            "3jzfcijpj2z21",
            "0000000000000",
            "3JZFCIJPJ2Z2A",
            "3jzfcijpj2z2aa",
            "3jzfcijpj2z2",
            "3jzf-cij-pj2z-2a",
            "zzzzzzzzzzzzz",
            "kjzfcijpj2z2a",
            "3jzfcijpj2z2é",
        ] {
            assert!(!is_tid(bad), "{bad}");
        }
    }

    #[test]
    fn derived_rkeys_are_stable_distinct_and_carry_the_seed() {
        let seed = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let key = derive_rkey(seed, 42, 7);
        assert_eq!(key, derive_rkey(seed, 42, 7));
        assert!(is_tid(&key), "{key}");
        let value = decode_tid(&key);
        assert_eq!(value >> 10, 1_767_225_600_000_000 + (42 * 7919 + 7) % 1000);
        assert_eq!(value & 1023, fnv1a([42i64.to_be_bytes(), 7i64.to_be_bytes()].concat()) % 1024);

        let mut keys = std::collections::HashSet::new();
        for draft in 1..=300 {
            for account in 1..=6 {
                assert!(keys.insert(derive_rkey(seed, draft, account)), "draft {draft} account {account}");
            }
        }
        assert_ne!(derive_rkey(seed, 1, 2), derive_rkey(seed, 2, 1));
        assert!(derive_rkey(seed, 1, 1) < derive_rkey(seed + 1, 1, 1));
        for (s, d, a) in [(i64::MIN, i64::MIN, i64::MIN), (i64::MAX, i64::MAX, i64::MAX), (-1, -5, -9)] {
            assert!(is_tid(&derive_rkey(s, d, a)));
        }
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a([]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = at(2015, 10, 21, 7, 27, 0);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after("7200", now), Some(MAX_WAIT));
        assert_eq!(retry_after("99999999999999999999999", now), Some(MAX_WAIT));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 09:28:00 +0200", now), Some(Duration::from_secs(60)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("Thu, 22 Oct 2015 07:28:00 GMT", now), Some(MAX_WAIT));
        for bad in ["", "soon", "-5", "+5", "1.5", "12 s", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn rate_limit_reset_at_reads_an_iso_time() {
        let now = at(2026, 1, 1, 0, 0, 0);
        assert_eq!(rate_limit_reset_at("2026-01-01T00:05:00.000Z", now), Some(Duration::from_secs(300)));
        assert_eq!(rate_limit_reset_at("2025-12-31T23:00:00Z", now), Some(Duration::ZERO));
        assert_eq!(rate_limit_reset_at("2026-01-02T00:00:00Z", now), Some(MAX_WAIT));
        assert_eq!(rate_limit_reset_at("soon", now), None);
    }

    #[test]
    fn rate_limit_reset_reads_unix_seconds() {
        let now = at(2026, 1, 1, 0, 0, 0) + chrono::Duration::milliseconds(250);
        let t = now.timestamp();
        assert_eq!(rate_limit_reset(&(t + 30).to_string(), now), Some(Duration::from_millis(29_750)));
        assert_eq!(rate_limit_reset(&format!(" {} ", t - 30), now), Some(Duration::ZERO));
        assert_eq!(rate_limit_reset(&(t + 86_400).to_string(), now), Some(MAX_WAIT));
        assert_eq!(rate_limit_reset("99999999999999999999999", now), Some(MAX_WAIT));
        for bad in ["", "later", "-1", "1.7e9", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            assert_eq!(rate_limit_reset(bad, now), None, "{bad:?}");
        }
    }
}
