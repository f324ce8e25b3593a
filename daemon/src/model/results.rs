//! Results of your own posts: the engagement counts fetched for each post
//! cloutd published (or the person recorded with a Mastodon or Bluesky URL),
//! when they are fetched, and where a recorded URL points.

use chrono::{DateTime, Utc};

use super::{Invalid, Network};

/// When snapshots are taken, after a post's publication: 1 h, 24 h, 7 d, 30 d.
pub const DEFAULT_AFTER: [i64; 4] = [3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];

/// Engagement counts at one moment. `quotes` is `None` where the network
/// gives no quote count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Favourites on Mastodon, likes on Bluesky.
    pub likes: i64,
    /// Boosts on Mastodon, reposts on Bluesky.
    pub reposts: i64,
    pub replies: i64,
    pub quotes: Option<i64>,
}

impl Counts {
    /// Everything together: the one figure posts are ranked by.
    pub fn engagement(&self) -> i64 {
        self.likes + self.reposts + self.replies + self.quotes.unwrap_or(0)
    }
}

/// The counts of one post at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    pub counts: Counts,
}

/// Where a followed post stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultState {
    /// Waiting for its next snapshot time.
    Tracking,
    /// Due to be fetched, or being fetched.
    Fetching,
    /// Every scheduled snapshot is taken.
    Done,
    /// The server says the post is gone: no more fetches.
    Deleted,
}

impl ResultState {
    pub fn parse(s: &str) -> ResultState {
        match s {
            "queued" | "fetching" => ResultState::Fetching,
            "done" => ResultState::Done,
            "deleted" => ResultState::Deleted,
            _ => ResultState::Tracking,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResultState::Tracking => "tracking",
            ResultState::Fetching => "fetching",
            ResultState::Done => "done",
            ResultState::Deleted => "deleted",
        }
    }
}

/// One of your posts with its results: what `clout results` and the review
/// show, and what the stage and slot suggestions weigh.
#[derive(Debug, Clone, PartialEq)]
pub struct PostResult {
    /// The followed post (`result_posts.id`).
    pub id: i64,
    pub draft_id: i64,
    /// The draft's title, else the start of its text.
    pub label: String,
    pub network: Network,
    /// The account it went out on; "" for a post the person recorded.
    pub account: String,
    pub url: String,
    pub published_at: DateTime<Utc>,
    /// The draft's tags.
    pub tags: Vec<String>,
    /// Whether the draft is a thread (more than one part).
    pub thread: bool,
    /// The newest snapshot and the one before it.
    pub latest: Option<Snapshot>,
    pub previous: Option<Snapshot>,
    /// Snapshots taken so far.
    pub snapshots: u32,
    pub state: ResultState,
    /// The last fetch failure, until a fetch succeeds.
    pub last_error: String,
    pub last_error_at: Option<DateTime<Utc>>,
    /// When the next fetch is due, if one is.
    pub next_fetch_at: Option<DateTime<Utc>>,
}

impl PostResult {
    /// The latest counts, zero before the first snapshot.
    pub fn counts(&self) -> Counts {
        self.latest.map(|s| s.counts).unwrap_or_default()
    }

    /// Engagement gained since the snapshot before the latest.
    pub fn change(&self) -> Option<i64> {
        match (self.latest, self.previous) {
            (Some(l), Some(p)) => Some(l.counts.engagement() - p.counts.engagement()),
            _ => None,
        }
    }
}

/// Engagement of the posts that share a weekday, an hour, a tag or a shape,
/// with how many posts are behind the figure, so small samples show.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: String,
    pub posts: u32,
    pub engagement: i64,
}

impl Group {
    pub fn mean(&self) -> f64 {
        if self.posts == 0 { 0.0 } else { self.engagement as f64 / f64::from(self.posts) }
    }
}

/// What a period's results say: totals, the best and worst posts, and
/// engagement by weekday and hour (in the program's zone), by tag and by
/// thread against single post. Only posts with a snapshot count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub totals: Counts,
    /// Posts with at least one snapshot.
    pub measured: u32,
    /// Ids of the best and worst posts.
    pub best: Option<i64>,
    pub worst: Option<i64>,
    /// Monday first; only weekdays with posts.
    pub by_weekday: Vec<Group>,
    /// "09:00" and so on, in order; only hours with posts.
    pub by_hour: Vec<Group>,
    /// Best mean first.
    pub by_tag: Vec<Group>,
    /// "thread" and "single".
    pub by_shape: Vec<Group>,
}

/// Sums up `posts` (see [`Summary`]).
pub fn summarize(posts: &[PostResult], tz: chrono_tz::Tz) -> Summary {
    use chrono::{Datelike, Timelike};
    let mut out = Summary::default();
    let measured: Vec<&PostResult> = posts.iter().filter(|p| p.latest.is_some()).collect();
    out.measured = measured.len() as u32;
    let add = |groups: &mut Vec<Group>, key: String, e: i64| match groups.iter_mut().find(|g| g.key == key) {
        Some(g) => {
            g.posts += 1;
            g.engagement += e;
        }
        None => groups.push(Group { key, posts: 1, engagement: e }),
    };
    let mut weekdays: Vec<(u32, Group)> = Vec::new();
    let mut hours: Vec<(u32, Group)> = Vec::new();
    for p in &measured {
        let c = p.counts();
        let e = c.engagement();
        out.totals.likes += c.likes;
        out.totals.reposts += c.reposts;
        out.totals.replies += c.replies;
        if let Some(q) = c.quotes {
            out.totals.quotes = Some(out.totals.quotes.unwrap_or(0) + q);
        }
        let local = p.published_at.with_timezone(&tz);
        let day = local.weekday().num_days_from_monday();
        match weekdays.iter_mut().find(|(d, _)| *d == day) {
            Some((_, g)) => {
                g.posts += 1;
                g.engagement += e;
            }
            None => {
                weekdays.push((day, Group { key: local.format("%a").to_string(), posts: 1, engagement: e }))
            }
        }
        let hour = local.hour();
        match hours.iter_mut().find(|(h, _)| *h == hour) {
            Some((_, g)) => {
                g.posts += 1;
                g.engagement += e;
            }
            None => hours.push((hour, Group { key: format!("{hour:02}:00"), posts: 1, engagement: e })),
        }
        for t in &p.tags {
            add(&mut out.by_tag, t.clone(), e);
        }
        add(&mut out.by_shape, if p.thread { "thread" } else { "single" }.to_string(), e);
    }
    weekdays.sort_by_key(|(d, _)| *d);
    hours.sort_by_key(|(h, _)| *h);
    out.by_weekday = weekdays.into_iter().map(|(_, g)| g).collect();
    out.by_hour = hours.into_iter().map(|(_, g)| g).collect();
    out.by_tag.sort_by(|a, b| b.mean().total_cmp(&a.mean()).then_with(|| a.key.cmp(&b.key)));
    out.by_shape.sort_by(|a, b| a.key.cmp(&b.key));
    // Ties go to the earlier post for the best, the later for the worst.
    out.best =
        measured.iter().max_by_key(|p| (p.counts().engagement(), std::cmp::Reverse(p.id))).map(|p| p.id);
    if measured.len() > 1 {
        out.worst =
            measured.iter().min_by_key(|p| (p.counts().engagement(), std::cmp::Reverse(p.id))).map(|p| p.id);
    }
    out
}

/// A post on a network that a URL names: the network, the server that
/// answers for it, and its id there (Mastodon's status id, or the Bluesky
/// post's at:// URI, whose authority may still be a handle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePost {
    pub network: Network,
    pub server: String,
    pub remote_id: String,
}

/// Reads a post's web address: `https://bsky.app/profile/HANDLE/post/RKEY`
/// for Bluesky, `https://HOST/@USER/ID` (or `/users/USER/statuses/ID`) for
/// Mastodon. Other addresses name no post whose results can be fetched.
pub fn remote_post(url: &str) -> Option<RemotePost> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = uri.authority()?.as_str().rsplit('@').next()?.to_string();
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let host = uri.host()?;
    if matches!(host, "bsky.app" | "staging.bsky.app") {
        if let ["profile", who, "post", rkey] = segments.as_slice()
            && !who.is_empty()
            && rkey.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Some(RemotePost {
                network: Network::Bluesky,
                server: String::new(),
                remote_id: format!("at://{who}/app.bsky.feed.post/{rkey}"),
            });
        }
        return None;
    }
    let id = match segments.as_slice() {
        [user, id] if user.starts_with('@') => *id,
        ["users", _, "statuses", id] => *id,
        _ => return None,
    };
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(RemotePost {
        network: Network::Mastodon,
        server: format!("{scheme}://{authority}"),
        remote_id: id.to_string(),
    })
}

/// Reads one snapshot offset such as `1h`, `24h`, `7d`, `30s` (tests).
pub fn parse_after(s: &str) -> Result<i64, Invalid> {
    let ms = crate::clock::duration_ms(s).ok_or_else(|| {
        Invalid::new("after", format!("`{s}` is not a duration: give one like \"1h\", \"24h\" or \"7d\""))
    })?;
    if !(1_000..=366 * 86_400_000).contains(&ms) {
        return Err(Invalid::new(
            "after",
            format!("`{s}` is out of range: snapshots are taken between 1 s and 366 days after a post"),
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: i64, at: &str, likes: i64, tags: &[&str], thread: bool) -> PostResult {
        let published_at = DateTime::parse_from_rfc3339(at).expect("time").with_timezone(&Utc);
        PostResult {
            id,
            draft_id: id,
            label: format!("post {id}"),
            network: Network::Mastodon,
            account: String::new(),
            url: String::new(),
            published_at,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            thread,
            latest: Some(Snapshot { at: published_at, counts: Counts { likes, ..Counts::default() } }),
            previous: None,
            snapshots: 1,
            state: ResultState::Tracking,
            last_error: String::new(),
            last_error_at: None,
            next_fetch_at: None,
        }
    }

    #[test]
    fn a_summary_counts_the_posts_behind_each_figure() {
        let posts = [
            post(1, "2030-01-07T09:00:00Z", 10, &["rust"], true),
            post(2, "2030-01-07T17:00:00Z", 2, &["rust", "life"], false),
            post(3, "2030-01-09T09:30:00Z", 6, &[], false),
        ];
        let s = summarize(&posts, chrono_tz::UTC);
        assert_eq!((s.measured, s.best, s.worst, s.totals.likes), (3, Some(1), Some(2), 18));
        let days: Vec<(&str, u32, i64)> =
            s.by_weekday.iter().map(|g| (g.key.as_str(), g.posts, g.engagement)).collect();
        assert_eq!(days, [("Mon", 2, 12), ("Wed", 1, 6)]);
        let hours: Vec<(&str, u32)> = s.by_hour.iter().map(|g| (g.key.as_str(), g.posts)).collect();
        assert_eq!(hours, [("09:00", 2), ("17:00", 1)]);
        assert_eq!(s.by_tag[0].key, "rust");
        assert_eq!((s.by_tag[0].posts, s.by_tag[0].mean()), (2, 6.0));
        let shapes: Vec<(&str, u32)> = s.by_shape.iter().map(|g| (g.key.as_str(), g.posts)).collect();
        assert_eq!(shapes, [("single", 2), ("thread", 1)]);
    }

    #[test]
    fn post_urls_name_their_network_and_id() {
        let m = remote_post("https://mastodon.social/@me/109876543210").expect("mastodon");
        assert_eq!(m.network, Network::Mastodon);
        assert_eq!(m.server, "https://mastodon.social");
        assert_eq!(m.remote_id, "109876543210");
        let m = remote_post("http://127.0.0.1:8080/users/me/statuses/42").expect("local");
        assert_eq!(m.server, "http://127.0.0.1:8080");
        let b = remote_post("https://bsky.app/profile/me.bsky.social/post/3kabc2def").expect("bluesky");
        assert_eq!(b.network, Network::Bluesky);
        assert_eq!(b.remote_id, "at://me.bsky.social/app.bsky.feed.post/3kabc2def");
        for none in ["https://example.com/blog/post", "https://bsky.app/profile/me", "mailto:x@y", "", "x"] {
            assert_eq!(remote_post(none), None, "{none}");
        }
    }

    #[test]
    fn offsets_read_as_durations() {
        assert_eq!(parse_after("1h"), Ok(3_600_000));
        assert_eq!(parse_after("7d"), Ok(7 * 86_400_000));
        assert!(parse_after("soon").is_err());
        assert!(parse_after("0s").is_err());
    }
}
