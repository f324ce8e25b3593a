//! Learning from the people you follow: their handles, their recent posts,
//! their cadence, the evidence for moving from learning to influencing, and
//! posting slots suggested from what works. Pure values and arithmetic; the
//! fetching lives in `crate::study`, the queries in `store::study`.

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::{Invalid, from_ms};

/// Bluesky's public app view, which serves public posts without signing in.
pub const BLUESKY_APPVIEW: &str = "https://public.api.bsky.app";
/// Posts shown per person in `clout study`.
pub const RECENT_SHOWN: usize = 5;
/// Best posts shown per person, from the last [`BEST_DAYS`] days.
pub const BEST_SHOWN: usize = 3;
pub const BEST_DAYS: i64 = 30;
/// Weeks with a study task done before the stage can move on.
pub const STAGE_STUDY_WEEKS: u32 = 4;
/// Consistency score (last 28 days) before the stage can move on.
pub const STAGE_CONSISTENCY: u32 = 60;
/// Own posts with results before they count as evidence.
pub const STAGE_MIN_POSTS: u32 = 5;
/// Your engagement per 1,000 followers against the people you follow.
pub const STAGE_RATIO: f64 = 0.5;

/// The networks whose public posts cloutd can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyNetwork {
    Mastodon,
    Bluesky,
}

impl StudyNetwork {
    /// The network a follow's platform names, if cloutd can read it.
    pub fn parse(platform: &str) -> Option<StudyNetwork> {
        match platform {
            "mastodon" => Some(StudyNetwork::Mastodon),
            "bluesky" => Some(StudyNetwork::Bluesky),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StudyNetwork::Mastodon => "mastodon",
            StudyNetwork::Bluesky => "bluesky",
        }
    }
}

fn bad_handle(reason: String) -> Invalid {
    Invalid::new("handle", reason)
}

/// Checks a handle for its network and gives it in one form:
/// `@user@domain` on Mastodon, `name.domain` on Bluesky.
pub fn check_handle(network: StudyNetwork, handle: &str) -> Result<String, Invalid> {
    let h = handle.trim().trim_start_matches('@');
    match network {
        StudyNetwork::Mastodon => {
            let Some((user, domain)) = h.split_once('@') else {
                return Err(bad_handle(format!(
                    "`{handle}` names no server: give a Mastodon handle as @user@server, e.g. @alice@mastodon.social"
                )));
            };
            let user_ok = !user.is_empty()
                && user.len() <= 64
                && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
            if !user_ok {
                return Err(bad_handle(format!(
                    "`{user}` is not a Mastodon user name (letters, digits and _ only): give @user@server"
                )));
            }
            let domain = domain.to_ascii_lowercase();
            if !is_domain(&domain) {
                return Err(bad_handle(format!(
                    "`{domain}` is not a server name: give @user@server, e.g. @alice@mastodon.social"
                )));
            }
            // Mastodon finds user names in any letter case.
            Ok(format!("@{}@{domain}", user.to_ascii_lowercase()))
        }
        StudyNetwork::Bluesky => {
            let h = h.to_ascii_lowercase();
            if h.contains('@') || !is_domain(&h) {
                return Err(bad_handle(format!(
                    "`{handle}` is not a Bluesky handle: give one like alice.bsky.social"
                )));
            }
            Ok(h)
        }
    }
}

/// A DNS name of at least two labels of letters, digits and `-`.
fn is_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The server to ask about a handle when the follow names none.
pub fn default_server(network: StudyNetwork, handle: &str) -> String {
    match network {
        StudyNetwork::Mastodon => {
            let domain = handle.trim_start_matches('@').split_once('@').map_or("", |(_, d)| d);
            format!("https://{domain}")
        }
        StudyNetwork::Bluesky => BLUESKY_APPVIEW.to_string(),
    }
}

/// One post as a fetch found it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FetchedPost {
    pub remote_id: String,
    pub url: String,
    pub posted_at: DateTime<Utc>,
    pub excerpt: String,
    pub likes: i64,
    pub reposts: i64,
    pub replies: i64,
    pub quotes: i64,
    pub is_thread: bool,
    pub is_reply: bool,
    pub has_images: bool,
}

/// What one fetch learned about a person.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fetched {
    pub remote_id: String,
    pub display_name: String,
    pub followers: Option<i64>,
    pub posts: Vec<FetchedPost>,
}

/// A stored post of someone you follow: the post as fetched, and what
/// Clout knows of it since.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyPost {
    pub post: FetchedPost,
    pub first_seen_at: DateTime<Utc>,
    /// Its engagement when you last looked; `None`: not seen yet.
    pub looked_total: Option<i64>,
}

impl FetchedPost {
    /// Likes, reposts, replies and quotes together.
    pub fn engagement(&self) -> i64 {
        self.likes + self.reposts + self.replies + self.quotes
    }
}

impl StudyPost {
    pub fn engagement(&self) -> i64 {
        self.post.engagement()
    }
}

/// What is known of a followed person, besides their posts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Person {
    pub follow_id: i64,
    pub handle: String,
    pub network: String,
    pub server: String,
    pub display_name: String,
    pub followers: Option<i64>,
    pub fetched_at: Option<DateTime<Utc>>,
    pub last_error: String,
    pub state: String,
    pub looked_at: Option<DateTime<Utc>>,
    pub looked_followers: Option<i64>,
}

/// When and how someone posts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cadence {
    /// Posts behind the figures (their own posts, replies included).
    pub posts: u32,
    pub posts_per_week: f64,
    /// Posts by hour of day (0–23) and by weekday (0 = Monday), in the program's zone.
    pub hours: [u32; 24],
    pub weekdays: [u32; 7],
    /// Shares, 0.0–1.0.
    pub threads: f64,
    pub images: f64,
    pub replies: f64,
}

/// How `posts` spread over the clock in `tz`; the rate is over the span
/// from the oldest post to `now` (at least a week, so a burst is not a rate).
pub fn cadence(posts: &[StudyPost], tz: chrono_tz::Tz, now: DateTime<Utc>) -> Cadence {
    let mut c = Cadence { posts: posts.len() as u32, ..Cadence::default() };
    let Some(oldest) = posts.iter().map(|p| p.post.posted_at).min() else { return c };
    let weeks = ((now - oldest).num_milliseconds() as f64 / (7.0 * 86_400_000.0)).max(1.0);
    c.posts_per_week = posts.len() as f64 / weeks;
    for p in posts {
        let local = p.post.posted_at.with_timezone(&tz);
        c.hours[local.hour() as usize] += 1;
        c.weekdays[local.weekday().num_days_from_monday() as usize] += 1;
    }
    let share = |f: fn(&StudyPost) -> bool| posts.iter().filter(|p| f(p)).count() as f64 / posts.len() as f64;
    c.threads = share(|p| p.post.is_thread);
    c.images = share(|p| p.post.has_images);
    c.replies = share(|p| p.post.is_reply);
    c
}

/// The `n` most engaging posts since `since`, best first.
pub fn best_posts(posts: &[StudyPost], since: DateTime<Utc>, n: usize) -> Vec<StudyPost> {
    let mut best: Vec<StudyPost> = posts.iter().filter(|p| p.post.posted_at >= since).cloned().collect();
    best.sort_by(|a, b| b.engagement().cmp(&a.engagement()).then(b.post.posted_at.cmp(&a.post.posted_at)));
    best.truncate(n);
    best
}

/// What changed since you last looked at someone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    /// Whether you looked before; without a mark everything is new.
    pub looked_before: bool,
    pub new_posts: u32,
    /// Engagement their posts gained since you looked (new posts count whole).
    pub engagement_gained: i64,
    pub followers_change: Option<i64>,
}

pub fn changes(person: &Person, posts: &[StudyPost]) -> Changes {
    let mut c = Changes { looked_before: person.looked_at.is_some(), ..Changes::default() };
    for p in posts {
        match p.looked_total {
            None => {
                c.new_posts += 1;
                c.engagement_gained += p.engagement();
            }
            Some(seen) => c.engagement_gained += (p.engagement() - seen).max(0),
        }
    }
    if let (Some(now), Some(then)) = (person.followers, person.looked_followers) {
        c.followers_change = Some(now - then);
    }
    c
}

/// One of your own posts and how it did (from the results of your posts).
#[derive(Debug, Clone, PartialEq)]
pub struct OwnResult {
    pub published_at: DateTime<Utc>,
    pub network: String,
    pub likes: i64,
    pub reposts: i64,
    pub replies: i64,
    pub quotes: i64,
    pub is_thread: bool,
}

impl OwnResult {
    pub fn engagement(&self) -> i64 {
        self.likes + self.reposts + self.replies + self.quotes
    }
}

/// Engagement per post, and per 1,000 followers where the size is known.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rate {
    pub posts: u32,
    pub per_post: f64,
    pub per_thousand: Option<f64>,
}

/// The evidence for moving from learning to influencing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageEvidence {
    pub learning: bool,
    /// Weeks (Monday to Sunday, in the program's zone) with a study task done.
    pub study_weeks: u32,
    /// The consistency score of the last 28 days.
    pub consistency: u32,
    pub own: Rate,
    pub follows: Rate,
    /// `own.per_thousand / follows.per_thousand`, when both are known.
    pub ratio: Option<f64>,
    pub ready: bool,
    /// Why it is not ready yet, one sentence each.
    pub missing: Vec<String>,
}

/// The people you follow: engagement per post over every studied post, and
/// the median person's engagement per 1,000 followers.
pub fn follows_rate(people: &[(Option<i64>, Vec<i64>)]) -> Rate {
    let all: Vec<i64> = people.iter().flat_map(|(_, e)| e.iter().copied()).collect();
    let mut per_k: Vec<f64> = people
        .iter()
        .filter_map(|(f, e)| match f {
            Some(f) if *f > 0 && !e.is_empty() => {
                Some(e.iter().sum::<i64>() as f64 / e.len() as f64 * 1000.0 / *f as f64)
            }
            _ => None,
        })
        .collect();
    per_k.sort_by(f64::total_cmp);
    Rate {
        posts: all.len() as u32,
        per_post: if all.is_empty() { 0.0 } else { all.iter().sum::<i64>() as f64 / all.len() as f64 },
        per_thousand: median(&per_k),
    }
}

fn median(sorted: &[f64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Your posts' rate; `followers` is the sum of your accounts' followers, if known.
pub fn own_rate(results: &[OwnResult], followers: Option<i64>) -> Rate {
    let n = results.len();
    let per_post =
        if n == 0 { 0.0 } else { results.iter().map(OwnResult::engagement).sum::<i64>() as f64 / n as f64 };
    Rate {
        posts: n as u32,
        per_post,
        per_thousand: followers.filter(|f| *f > 0 && n > 0).map(|f| per_post * 1000.0 / f as f64),
    }
}

/// Judges the evidence: enough weeks of study, a steady rhythm, and your
/// posts doing at least half as well for your size as theirs do for theirs.
pub fn judge(mut e: StageEvidence) -> StageEvidence {
    e.ratio = match (e.own.per_thousand, e.follows.per_thousand) {
        (Some(own), Some(theirs)) if theirs > 0.0 => Some(own / theirs),
        _ => None,
    };
    let mut missing = Vec::new();
    if e.study_weeks < STAGE_STUDY_WEEKS {
        missing.push(format!(
            "{} of {STAGE_STUDY_WEEKS} weeks with a study task done (clout task add … --about @handle)",
            e.study_weeks
        ));
    }
    if e.consistency < STAGE_CONSISTENCY {
        missing.push(format!("consistency {} of the {STAGE_CONSISTENCY} needed", e.consistency));
    }
    if e.own.posts < STAGE_MIN_POSTS {
        missing.push(format!("{} of {STAGE_MIN_POSTS} of your posts with results", e.own.posts));
    } else {
        match e.ratio {
            Some(r) if r >= STAGE_RATIO => {}
            Some(r) => missing.push(format!(
                "your posts reach {:.0} % of the engagement per 1,000 followers of the people you follow; {:.0} % is enough",
                r * 100.0,
                STAGE_RATIO * 100.0
            )),
            None => missing.push(
                "follower counts are not known yet, so your results cannot be set against theirs (clout study refresh)"
                    .to_string(),
            ),
        }
    }
    e.ready = e.learning && missing.is_empty();
    e.missing = missing;
    e
}

/// Number of distinct weeks (Monday to Sunday in `tz`) among `done` instants.
pub fn distinct_weeks(done: &[DateTime<Utc>], tz: chrono_tz::Tz) -> u32 {
    let mut weeks: Vec<(i32, u32)> = done
        .iter()
        .map(|t| {
            let w = t.with_timezone(&tz).iso_week();
            (w.year(), w.week())
        })
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    weeks.len() as u32
}

/// A proposed posting slot and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotSuggestion {
    /// A slot spec `clout slots add` takes, e.g. `wed 09:00`.
    pub spec: String,
    pub weekday: u32,
    pub hour: u32,
    pub score: f64,
    /// Your posts in this hour of the week, and their mean engagement.
    pub own_posts: u32,
    pub own_per_post: f64,
    /// Posts by the people you follow in this hour of the week, and their mean engagement.
    pub follows_posts: u32,
    pub follows_per_post: f64,
    pub evidence: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES: [&str; 7] =
    ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"];

/// Posts and engagement by weekday and by hour of day, apart: with a few
/// dozen posts an hour of the week holds one or none, while a weekday and an
/// hour each hold enough to tell.
#[derive(Default)]
struct Spread {
    day_n: [u32; 7],
    day_e: [f64; 7],
    hour_n: [u32; 24],
    hour_e: [f64; 24],
    total: f64,
}

impl Spread {
    fn add(&mut self, at: DateTime<Utc>, tz: chrono_tz::Tz, engagement: f64) {
        let l = at.with_timezone(&tz);
        let (d, h) = (l.weekday().num_days_from_monday() as usize, l.hour() as usize);
        self.day_n[d] += 1;
        self.day_e[d] += engagement;
        self.hour_n[h] += 1;
        self.hour_e[h] += engagement;
        self.total += engagement;
    }

    /// The share of all engagement that falls on day `d` at hour `h`, if
    /// days and hours were independent.
    fn share(&self, d: usize, h: usize) -> f64 {
        if self.total <= 0.0 { 0.0 } else { self.day_e[d] / self.total * self.hour_e[h] / self.total }
    }

    fn mean(e: f64, n: u32) -> f64 {
        if n == 0 { 0.0 } else { e / f64::from(n) }
    }
}

/// Proposes up to `n` slots, at most one a day, from your results and the
/// cadence of the people you follow. Each hour of the week scores the share
/// of engagement its weekday and its hour of day hold: yours (when you have
/// results) weighs double theirs, which counts where the people you learn
/// from post and are answered (each post counts one more than its
/// engagement, so posting there counts too). Hours already taken by
/// `taken` (weekday, hour) are left out.
pub fn suggest_slots(
    own: &[OwnResult],
    follows: &[StudyPost],
    tz: chrono_tz::Tz,
    taken: &[(u32, u32)],
    n: usize,
) -> Vec<SlotSuggestion> {
    let mut mine = Spread::default();
    for r in own {
        mine.add(r.published_at, tz, r.engagement() as f64);
    }
    let mut theirs = Spread::default();
    for p in follows.iter().filter(|p| !p.post.is_reply) {
        theirs.add(p.post.posted_at, tz, (p.engagement() + 1) as f64);
    }
    let mut all = Vec::new();
    for d in 0..7 {
        for h in 0..24 {
            let seen = |s: &Spread| s.day_n[d] > 0 && s.hour_n[h] > 0;
            if taken.contains(&(d as u32, h as u32)) || !(seen(&mine) || seen(&theirs)) {
                continue;
            }
            let score = 2.0 * mine.share(d, h) + theirs.share(d, h);
            let mut why = Vec::new();
            if seen(&mine) {
                why.push(format!(
                    "your posts on {} averaged {:.1} engagements ({}), at {h:02}:00 {:.1} ({})",
                    DAY_NAMES[d],
                    Spread::mean(mine.day_e[d], mine.day_n[d]),
                    mine.day_n[d],
                    Spread::mean(mine.hour_e[h], mine.hour_n[h]),
                    mine.hour_n[h]
                ));
            }
            if seen(&theirs) {
                let mean = |e: f64, k: u32| Spread::mean(e - f64::from(k), k);
                why.push(format!(
                    "people you follow post on {} {} times ({:.1} engagements each) and at {h:02}:00 {} times ({:.1})",
                    DAY_NAMES[d],
                    theirs.day_n[d],
                    mean(theirs.day_e[d], theirs.day_n[d]),
                    theirs.hour_n[h],
                    mean(theirs.hour_e[h], theirs.hour_n[h])
                ));
            }
            let own_posts = mine.day_n[d].min(mine.hour_n[h]);
            all.push(SlotSuggestion {
                spec: format!("{} {h:02}:00", DAYS[d]),
                weekday: d as u32,
                hour: h as u32,
                score,
                own_posts,
                own_per_post: Spread::mean(mine.hour_e[h], mine.hour_n[h]),
                follows_posts: theirs.day_n[d].min(theirs.hour_n[h]),
                follows_per_post: Spread::mean(
                    theirs.hour_e[h] - f64::from(theirs.hour_n[h]),
                    theirs.hour_n[h],
                ),
                evidence: why.join("; "),
            });
        }
    }
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.weekday.cmp(&b.weekday)).then(a.hour.cmp(&b.hour)));
    let mut out: Vec<SlotSuggestion> = Vec::new();
    for s in all {
        if out.len() == n {
            break;
        }
        if out.iter().all(|o| o.weekday != s.weekday) {
            out.push(s);
        }
    }
    out
}

/// An excerpt of a post's text: tags dropped (Mastodon sends HTML), the
/// common entities read, white space folded, at most `max` characters.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in text.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let t = tag.trim_start_matches('/').to_ascii_lowercase();
                if t.starts_with('p') || t.starts_with("br") {
                    plain.push(' ');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => plain.push(c),
        }
    }
    let plain = plain
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ");
    let folded: Vec<&str> = plain.split_whitespace().collect();
    let folded = folded.join(" ");
    if folded.chars().count() <= max {
        folded
    } else {
        let mut cut: String = folded.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Unix ms of a stored instant, for queries.
pub fn ms(t: DateTime<Utc>) -> i64 {
    super::to_ms(t)
}

/// A stored instant.
pub fn at(ms: i64) -> DateTime<Utc> {
    from_ms(ms)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn post(at: DateTime<Utc>, likes: i64) -> StudyPost {
        StudyPost {
            post: FetchedPost {
                remote_id: at.timestamp().to_string(),
                posted_at: at,
                likes,
                ..FetchedPost::default()
            },
            first_seen_at: at,
            looked_total: None,
        }
    }

    #[test]
    fn handles_take_one_form_per_network() {
        let m = StudyNetwork::Mastodon;
        assert_eq!(check_handle(m, "@Bob@Mastodon.Social").expect("ok"), "@bob@mastodon.social");
        assert_eq!(check_handle(m, "bob@example.org").expect("ok"), "@bob@example.org");
        assert!(check_handle(m, "@bob").is_err());
        assert!(check_handle(m, "@bob@localhost").is_err());
        assert!(check_handle(m, "@b o@x.org").is_err());
        let b = StudyNetwork::Bluesky;
        assert_eq!(check_handle(b, "@Bob.Bsky.Social").expect("ok"), "bob.bsky.social");
        assert!(check_handle(b, "bob").is_err());
        assert!(check_handle(b, "@bob@bsky.social").is_err());
        assert_eq!(default_server(m, "@bob@example.org"), "https://example.org");
        assert_eq!(default_server(b, "bob.bsky.social"), BLUESKY_APPVIEW);
    }

    #[test]
    fn cadence_counts_hours_and_days_in_the_zone() {
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().expect("zone");
        let now = Utc.with_ymd_and_hms(2026, 12, 14, 8, 0, 0).single().expect("time");
        // Mondays 08:00 UTC = 09:00 in Berlin, over two weeks.
        let posts = vec![
            post(Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).single().expect("t"), 1),
            post(Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).single().expect("t"), 1),
        ];
        let c = cadence(&posts, tz, now);
        assert_eq!(c.hours[9], 2);
        assert_eq!(c.weekdays[0], 2);
        assert!((c.posts_per_week - 2.0 / 2.0).abs() < 0.01, "{}", c.posts_per_week);
    }

    #[test]
    fn the_stage_needs_every_part_of_the_evidence() {
        let base = StageEvidence {
            learning: true,
            study_weeks: 4,
            consistency: 70,
            own: Rate { posts: 6, per_post: 5.0, per_thousand: Some(10.0) },
            follows: Rate { posts: 40, per_post: 100.0, per_thousand: Some(12.0) },
            ..StageEvidence::default()
        };
        let e = judge(base.clone());
        assert!(e.ready, "{:?}", e.missing);
        let e = judge(StageEvidence { study_weeks: 3, ..base.clone() });
        assert!(!e.ready && e.missing[0].contains("3 of 4 weeks"), "{:?}", e.missing);
        let e = judge(StageEvidence {
            own: Rate { per_thousand: Some(1.0), ..base.own.clone() },
            ..base.clone()
        });
        assert!(!e.ready && e.missing[0].contains("8 %"), "{:?}", e.missing);
        let e = judge(StageEvidence { learning: false, ..base });
        assert!(!e.ready);
    }

    #[test]
    fn follows_rate_is_the_median_person_per_thousand() {
        let r = follows_rate(&[(Some(1000), vec![10, 30]), (Some(10_000), vec![100]), (None, vec![5])]);
        assert_eq!(r.posts, 4);
        assert_eq!(r.per_thousand, Some(15.0));
    }

    #[test]
    fn slots_come_from_where_engagement_is_one_a_day() {
        let tz = chrono_tz::UTC;
        let wed9 = Utc.with_ymd_and_hms(2026, 12, 2, 9, 10, 0).single().expect("t");
        let wed17 = Utc.with_ymd_and_hms(2026, 12, 2, 17, 0, 0).single().expect("t");
        let fri12 = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).single().expect("t");
        let follows = vec![post(wed9, 50), post(wed9, 40), post(wed17, 60), post(fri12, 10)];
        let s = suggest_slots(&[], &follows, tz, &[], 3);
        assert_eq!(s.iter().map(|s| s.spec.as_str()).collect::<Vec<_>>(), ["wed 09:00", "fri 09:00"]);
        assert!(
            s[0].evidence.contains("people you follow post on Wednesdays 3 times (50.0 engagements each) and at 09:00 2 times (45.0)"),
            "{}",
            s[0].evidence
        );
        let s = suggest_slots(&[], &follows, tz, &[(2, 9)], 3);
        assert_eq!(s[0].spec, "wed 17:00");
        // Your own results weigh double: a Friday noon that worked for you wins.
        let mine = vec![OwnResult {
            published_at: fri12,
            network: "mastodon".into(),
            likes: 30,
            reposts: 0,
            replies: 0,
            quotes: 0,
            is_thread: false,
        }];
        let s = suggest_slots(&mine, &follows, tz, &[], 1);
        assert_eq!(s[0].spec, "fri 12:00", "{s:?}");
        assert!(
            s[0].evidence.starts_with("your posts on Fridays averaged 30.0 engagements (1)"),
            "{}",
            s[0].evidence
        );
    }

    #[test]
    fn excerpts_drop_html() {
        assert_eq!(
            excerpt("<p>Hello &amp; <a href=\"x\">welcome</a></p><p>two</p>", 100),
            "Hello & welcome two"
        );
        assert_eq!(excerpt("abcdef", 4), "abc…");
    }
}
