//! A fake social network for the end-to-end tests: one HTTP server on
//! 127.0.0.1 that speaks the part of the Mastodon REST API and of the Bluesky
//! (atproto XRPC) API that `cloutd` uses, records every request, and can be
//! scripted to fail or to hang.
//!
//! Documented behaviours it follows:
//!
//! - Mastodon (docs.joinmastodon.org): bearer-token auth, a bad token answers
//!   401 `{"error":"The access token is invalid"}`; `POST /api/v1/statuses`
//!   takes JSON or form parameters, and a repeated `Idempotency-Key` answers
//!   the status first created for that key without creating another; the
//!   length limit is `configuration.statuses.max_characters` of
//!   `GET /api/v2/instance`, every URL counts as `characters_reserved_per_url`
//!   (23), a remote mention `@user@domain` counts as `@user`, and the content
//!   warning counts too; a content warning makes the status sensitive;
//!   validation failures answer 422 `{"error":"Validation failed: ..."}`;
//!   `in_reply_to_id` makes a reply (kept in the Status entity's field of that
//!   name), and an id that names no status answers 404 (Mastodon's
//!   `statuses.errors.in_reply_not_found`);
//!   `GET /api/v1/accounts/:id/statuses` lists the account's statuses newest
//!   first, `limit` 20 by default and 40 at most. Media (methods/media):
//!   `POST /api/v2/media` takes `multipart/form-data` with `file` and an
//!   optional `description`, and answers 202 with `url` null while the file
//!   is processed (200 with the `url` when processed at once); `GET
//!   /api/v1/media/:id` answers 206 while processing and 200 once done, 404
//!   for media that is not the account's or already attached; the instance's
//!   `configuration.media_attachments` gives `supported_mime_types` and
//!   `image_size_limit`, and a larger image is refused with 422; a status
//!   takes up to 4 `media_ids` (422 beyond, and 422 "Cannot attach files that
//!   have not finished processing" for media still processing) and shows them
//!   as `media_attachments`. Two modes copy servers that
//!   differ from Mastodon: one forgets Idempotency-Keys on a restart (they are
//!   kept in memory), one makes statuses without `spoiler_text` or turns
//!   `unlisted` into `public`.
//! - Bluesky (docs.bsky.app, atproto.com/specs): XRPC errors are
//!   `{"error","message"}`; procedures need `Content-Type: application/json`;
//!   `com.atproto.server.createSession` issues an access and a refresh token,
//!   `refreshSession` (authorised by the refresh token) replaces both and the
//!   old refresh token stops working; an expired access token answers 400
//!   `ExpiredToken`; `com.atproto.repo.createRecord` checks the
//!   `app.bsky.feed.post` record (`$type`, `text` of at most 3000 bytes and 300
//!   graphemes, an atproto datetime `createdAt`, facet byte ranges, reply
//!   references) and that the record key is a TID; a record key already taken
//!   answers 500, as the reference PDS does. `com.atproto.repo.uploadBlob`
//!   takes the blob as the body with its MIME type as Content-Type and
//!   answers `{"blob": {"$type":"blob","ref":{"$link":CID},"mimeType","size"}}`;
//!   an `app.bsky.embed.external` embed needs `external` with `uri`, `title`
//!   and `description`, and its optional `thumb` must be an uploaded image blob
//!   of at most 1,000,000 bytes. An `app.bsky.embed.images` embed (lexicon
//!   app.bsky.embed.images) holds 1 to 4 `images`, each with an `image` blob
//!   of an image (`image/*`, at most 1,000,000 bytes) uploaded before, a
//!   string `alt`, and an optional `aspectRatio` of positive `width` and
//!   `height`. `reply` holds `root` and `parent` strong
//!   references (`uri`, `cid`). [`Fake::serve`] serves web pages for link cards.
//!
//! - Results: Mastodon's `GET /api/v1/statuses/:id` answers the Status
//!   entity with `favourites_count`, `reblogs_count`, `replies_count` and
//!   (Mastodon 4.5) `quotes_count`; a deleted status is 404. Bluesky's
//!   `app.bsky.feed.getPosts` takes up to 25 `uris` and answers the post views
//!   (`likeCount`, `repostCount`, `replyCount`, `quoteCount`) of those that
//!   exist, leaving out deleted ones. Counts grow with every read.
//! - People to study (docs.joinmastodon.org/methods/accounts, docs.bsky.app):
//!   `GET /api/v1/accounts/lookup?acct=` answers the Account entity (`id`,
//!   `acct`, `display_name`, `followers_count`) or 404 `Record not found`;
//!   `GET /api/v1/accounts/:id/statuses` is public, newest first, `limit`
//!   20 by default and 40 at most, `max_id` returns only older statuses,
//!   `exclude_reblogs` drops boosts, and a `Link` header names the next
//!   page; Status entities carry `favourites_count`, `reblogs_count`,
//!   `replies_count`, `quotes_count`, `in_reply_to_id`,
//!   `in_reply_to_account_id`, `media_attachments` and `reblog`. Mastodon's
//!   rate-limit headers are `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//!   `X-RateLimit-Reset` (an ISO 8601 time), and a spent limit answers 429.
//!   A server in "signed-in only" mode answers 401 to requests without a
//!   token. `app.bsky.actor.getProfile?actor=` answers the profile (`did`,
//!   `handle`, `displayName`, `followersCount`); `app.bsky.feed.getAuthorFeed
//!   ?actor=&limit=&cursor=` answers `{feed: [{post, reply?, reason?}],
//!   cursor?}` with `limit` 50 by default and 100 at most, and no `cursor`
//!   on the last page; a post view holds `uri`, `cid`, `author`, `record`
//!   (`text`, `createdAt`, `reply`), `embed`, `likeCount`, `repostCount`,
//!   `replyCount`, `quoteCount`, `indexedAt`. Bluesky's rate-limit headers
//!   are `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset`
//!   (Unix seconds).
//!
//! Scripting: [`Fake::fail_next`] answers the next request to a path with a
//! canned response and does not apply it; [`Fake::hold_next`] applies the next
//! one and never answers it; [`Fake::fail_request`] and [`Fake::hold_request`]
//! do the same to the Nth request to a path (part N of a thread).

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body's bytes (an uploaded image is not text).
    pub raw: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// The first value of a header (the name is matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, or `Null`.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The first value of a query parameter, percent-decoded.
    fn param(&self, name: &str) -> Option<String> {
        parse_form(&self.query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// The fake server; it stops when dropped.
pub struct Fake {
    state: Shared,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    pub const MASTODON_TOKEN: &'static str = "mastodon-token-ok";
    pub const BSKY_HANDLE: &'static str = "alice.test";
    pub const BSKY_DID: &'static str = "did:plc:alice000000000000000000";
    pub const BSKY_PASSWORD: &'static str = "app-pass-ok";

    /// Binds 127.0.0.1 on a free port and serves from a thread of its own.
    pub fn start() -> Fake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
        listener.set_nonblocking(true).expect("make the fake server's listener non-blocking");
        let addr = listener.local_addr().expect("address of the fake server");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime for the fake server");
        let state = Arc::new(Mutex::new(State::new(format!("http://{addr}"))));
        let (tx, rx) = oneshot::channel();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("fake-social".into())
            .spawn(move || runtime.block_on(serve(listener, shared, rx)))
            .expect("spawn the fake server's thread");
        Fake { state, addr, shutdown: Some(tx), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The instance's `max_characters` (500 unless set).
    pub fn set_max_characters(&self, n: u64) {
        self.state().max_characters = n;
    }

    /// From now on every authenticated Mastodon call answers 401.
    pub fn revoke_mastodon_token(&self) {
        self.state().mastodon_revoked = true;
    }

    /// Forgets every Idempotency-Key, as a server that keeps them in memory
    /// does when it restarts.
    pub fn forget_idempotency_keys(&self) {
        self.state().idempotency.clear();
    }

    /// From now on statuses are made without their `spoiler_text`, as servers
    /// that have no content warnings make them.
    pub fn ignore_spoiler_text(&self) {
        self.state().ignore_spoiler = true;
    }

    /// From now on `unlisted` statuses are made `public`, as servers without
    /// that visibility make them.
    pub fn without_unlisted(&self) {
        self.state().no_unlisted = true;
    }

    /// Serves `body` with `content_type` at `path` (a web page for link
    /// cards, or its image) to any GET.
    /// How many `GET /api/v1/media/:id` answer 206 before 200 (0: uploads are processed at once, 200).
    pub fn set_media_processing(&self, gets: u32) {
        self.state().media_processing = gets;
    }

    /// The instance's `image_size_limit`.
    pub fn set_image_size_limit(&self, bytes: u64) {
        self.state().image_size_limit = bytes;
    }

    /// Every media attachment uploaded, in order (with `status_id` once attached).
    pub fn media(&self) -> Vec<Value> {
        self.state().media.iter().map(|m| m.entity.clone()).collect()
    }

    pub fn serve(&self, path: &str, content_type: &str, body: &[u8]) {
        self.state().pages.insert(path.to_string(), (content_type.to_string(), body.to_vec()));
    }

    /// The blobs uploaded with `uploadBlob`: (CID, MIME type, size).
    pub fn blobs(&self) -> Vec<(String, String, usize)> {
        self.state().blobs.clone()
    }

    /// Drops every blob no record references, as a PDS collects uploads
    /// left unreferenced for a while (AT Protocol blob spec: "temporary"
    /// blobs not referenced within a time window may be deleted).
    pub fn collect_unused_blobs(&self) {
        let mut st = self.state();
        let used: Vec<String> = st
            .records
            .iter()
            .flat_map(|r| {
                let images =
                    r.value.pointer("/embed/images").and_then(Value::as_array).cloned().unwrap_or_default();
                let thumb = r.value.pointer("/embed/external/thumb/ref/$link").cloned();
                images
                    .into_iter()
                    .filter_map(|i| i.pointer("/image/ref/$link").cloned())
                    .chain(thumb)
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .collect();
        st.blobs.retain(|(cid, _, _)| used.contains(cid));
    }

    /// The statuses created, in order.
    pub fn statuses(&self) -> Vec<Value> {
        self.state().statuses.clone()
    }

    /// Makes `handle` resolve to `did`.
    pub fn add_handle(&self, handle: &str, did: &str) {
        self.state().handles.insert(handle.to_ascii_lowercase(), did.to_string());
    }

    /// Deletes a status (by id) or a Bluesky post (by record key): reading it
    /// answers 404 on Mastodon, and `getPosts` leaves it out.
    pub fn delete_post(&self, id: &str) {
        self.state().deleted.insert(id.to_string());
    }

    /// How often a post's counts were read (status id or record key).
    pub fn reads_of(&self, id: &str) -> i64 {
        self.state().reads.get(id).copied().unwrap_or(0)
    }

    /// Every access token issued so far now answers `ExpiredToken`.
    pub fn expire_access_tokens(&self) {
        self.state().access.values_mut().for_each(|expired| *expired = true);
    }

    /// The `app.bsky.feed.post` records created, in order, with their record keys.
    pub fn records(&self) -> Vec<(String, Value)> {
        self.state().records.iter().map(|r| (r.rkey.clone(), r.value.clone())).collect()
    }

    /// Answers the next request to `path` with this response instead of handling it
    /// (nothing is created). Several queue up, first in first out.
    pub fn fail_next(&self, path: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        assert!(StatusCode::from_u16(status).is_ok(), "fail_next: {status} is not an HTTP status");
        let mut all: Vec<(String, String)> = Vec::new();
        for (name, value) in headers {
            assert!(
                HeaderName::from_bytes(name.as_bytes()).is_ok() && HeaderValue::from_str(value).is_ok(),
                "fail_next: invalid header {name}: {value}"
            );
            all.push((name.to_string(), value.to_string()));
        }
        if !all.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            let looks_json = body.trim_start().starts_with(['{', '[']);
            let kind = if looks_json { "application/json" } else { "text/plain; charset=utf-8" };
            all.push(("content-type".into(), kind.into()));
        }
        let reply = Reply { status, headers: all, body: body.as_bytes().to_vec() };
        self.state().canned.entry(path.to_string()).or_default().push_back(reply);
    }

    /// The next request to `path` is handled (a post is created) but never answered:
    /// its connection hangs until the client gives up or the fake is dropped.
    pub fn hold_next(&self, path: &str) {
        *self.state().holds.entry(path.to_string()).or_default() += 1;
    }

    /// The `nth` request to `path` (1 is the first since the fake started) is
    /// handled but never answered, like [`Fake::hold_next`].
    pub fn hold_request(&self, path: &str, nth: usize) {
        self.state().holds_at.insert((path.to_string(), nth));
    }

    /// The `nth` request to `path` (1 is the first since the fake started) is
    /// answered with this status and JSON body and not applied, like [`Fake::fail_next`].
    pub fn fail_request(&self, path: &str, nth: usize, status: u16, body: &str) {
        let reply = Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        };
        self.state().canned_at.insert((path.to_string(), nth), reply);
    }

    /// Adds someone to study on the Mastodon side: `acct` (`bob@host`) with
    /// `posts` public statuses, one every 5 hours back from now (the newest
    /// is a reply to their own previous one, the third a reply to someone
    /// else, the fourth has an image). Returns the account id.
    pub fn add_mastodon_author(&self, acct: &str, followers: u64, posts: usize) -> String {
        let mut st = self.state();
        let id = (2000 + st.authors.len()).to_string();
        let now = SystemTime::now();
        let base = st.base.clone();
        let user = acct.split('@').next().unwrap_or(acct).to_string();
        let mut statuses = Vec::new();
        let sid =
            |i: usize| format!("{}", 300_000_000_000_000u64 + (st_len(&id) * 10_000 + (posts - i)) as u64);
        for i in 0..posts {
            let at = now - Duration::from_secs(3600 * (5 * i as u64 + 1));
            let mut s = json!({
                "id": sid(i),
                "created_at": rfc3339(at),
                "url": format!("{base}/@{user}/{}", sid(i)),
                "content": format!("<p>Post {i} by {user} &amp; friends</p>"),
                "favourites_count": 10 + (i * 7) % 13,
                "reblogs_count": i % 3,
                "replies_count": i % 2,
                "quotes_count": 0,
                "in_reply_to_id": null,
                "in_reply_to_account_id": null,
                "media_attachments": [],
                "reblog": null,
                "account": { "id": id, "acct": acct },
            });
            if i == 0 && posts > 1 {
                s["in_reply_to_id"] = json!(sid(1));
                s["in_reply_to_account_id"] = json!(id);
            }
            if i == 2 {
                s["in_reply_to_id"] = json!("1");
                s["in_reply_to_account_id"] = json!("999");
            }
            if i == 3 {
                s["media_attachments"] =
                    json!([{ "id": "m1", "type": "image", "url": format!("{base}/m1.png") }]);
            }
            statuses.push(s);
        }
        let account = json!({
            "id": id, "username": user, "acct": acct, "display_name": format!("{user} (fake)"),
            "followers_count": followers, "url": format!("{base}/@{user}"),
        });
        st.authors.push(Author {
            key: acct.to_ascii_lowercase(),
            id: id.clone(),
            profile: account,
            posts: statuses,
        });
        id
    }

    /// Adds someone to study on the Bluesky side: `handle` with `posts` posts,
    /// one every 5 hours back from now (the newest replies to their own
    /// previous one, the third to someone else, the fourth has images), and
    /// a repost of someone else's post in their feed. Returns the DID.
    pub fn add_bluesky_author(&self, handle: &str, followers: u64, posts: usize) -> String {
        let mut st = self.state();
        let did = format!("did:plc:author{:020}", st.authors.len());
        let now = SystemTime::now();
        let uri = |i: usize| format!("at://{did}/app.bsky.feed.post/3k{:011}", posts - i);
        let mut feed = Vec::new();
        for i in 0..posts {
            let at = rfc3339(now - Duration::from_secs(3600 * (5 * i as u64 + 1)));
            let mut post = json!({
                "uri": uri(i), "cid": format!("bafyreipost{i}"),
                "author": { "did": did, "handle": handle },
                "record": { "$type": "app.bsky.feed.post", "text": format!("Skeet {i} by {handle}"), "createdAt": at },
                "likeCount": 20 + (i * 5) % 17, "repostCount": i % 4, "replyCount": i % 2, "quoteCount": i % 2,
                "indexedAt": at,
            });
            if i == 0 && posts > 1 {
                post["record"]["reply"] = json!({ "root": { "uri": uri(1) }, "parent": { "uri": uri(1) } });
            }
            if i == 2 {
                let other = "at://did:plc:someoneelse/app.bsky.feed.post/3kzzz";
                post["record"]["reply"] = json!({ "root": { "uri": other }, "parent": { "uri": other } });
            }
            if i == 3 {
                post["embed"] = json!({ "$type": "app.bsky.embed.images#view", "images": [] });
            }
            feed.push(json!({ "post": post }));
            if i == 1 {
                feed.push(json!({
                    "post": { "uri": "at://did:plc:someoneelse/app.bsky.feed.post/3kyyy", "cid": "bafyreiother",
                              "author": { "did": "did:plc:someoneelse", "handle": "other.test" },
                              "record": { "text": "not theirs", "createdAt": at }, "likeCount": 999, "indexedAt": at },
                    "reason": { "$type": "app.bsky.feed.defs#reasonRepost", "by": { "did": did }, "indexedAt": at },
                }));
            }
        }
        let profile = json!({ "did": did, "handle": handle, "displayName": format!("{handle} (fake)"),
                              "followersCount": followers, "followsCount": 10, "postsCount": posts });
        st.authors.push(Author { key: handle.to_ascii_lowercase(), id: did.clone(), profile, posts: feed });
        did
    }

    /// Adds `n` likes to every post of the author `key` (acct or handle).
    pub fn add_likes(&self, key: &str, n: u64) {
        let mut st = self.state();
        if let Some(a) = st.authors.iter_mut().find(|a| a.key == key.to_ascii_lowercase()) {
            for p in &mut a.posts {
                for field in ["/favourites_count", "/post/likeCount"] {
                    if let Some(v) = p.pointer_mut(field) {
                        *v = json!(v.as_u64().unwrap_or(0) + n);
                    }
                }
            }
        }
    }

    /// From now on the public Mastodon endpoints answer 401 without the
    /// token, as a server that serves its API to signed-in users only.
    pub fn require_sign_in(&self) {
        self.state().sign_in_only = true;
    }

    /// The public endpoints (people to study) allow `n` more requests, then
    /// answer 429, until `reset_in` from now; every answer carries the
    /// network's rate-limit headers.
    pub fn limit_requests(&self, n: u64, reset_in: Duration) {
        let mut st = self.state();
        st.rate_remaining = Some(n);
        st.rate_reset = SystemTime::now() + reset_in;
    }

    /// When the rate limit set by [`Fake::limit_requests`] resets, as Unix seconds.
    pub fn rate_reset_unix(&self) -> u64 {
        self.state().rate_reset.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The requests received for `path` (without query), in order.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.state().requests.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits until at least `n` requests to `path` arrived and returns them all;
    /// panics, listing what did arrive, when they do not within `timeout`.
    pub fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.requests_to(path);
            if found.len() >= n {
                return found;
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = self
                    .requests()
                    .iter()
                    .map(|r| {
                        let query = if r.query.is_empty() { String::new() } else { format!("?{}", r.query) };
                        format!("  {} {}{query}", r.method, r.path)
                    })
                    .collect();
                panic!(
                    "fake server: expected {n} request(s) to {path} within {timeout:?}, got {}; all requests:\n{}",
                    found.len(),
                    if seen.is_empty() { "  (none)".to_string() } else { seen.join("\n") }
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An HTTP answer before it becomes a hyper response.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value))
            {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

fn json_reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
        body: body.to_string().into_bytes(),
    }
}

/// A Mastodon error: `{"error": message}`.
fn mastodon_error(status: u16, message: &str) -> Reply {
    json_reply(status, json!({ "error": message }))
}

/// An XRPC error: `{"error": name, "message": message}`.
fn xrpc_error(status: u16, name: &str, message: &str) -> Reply {
    json_reply(status, json!({ "error": name, "message": message }))
}

fn invalid_request(message: &str) -> Reply {
    xrpc_error(400, "InvalidRequest", message)
}

fn invalid_post(message: &str) -> Reply {
    invalid_request(&format!("Invalid app.bsky.feed.post record: {message}"))
}

const POST_COLLECTION: &str = "app.bsky.feed.post";
const FIRST_STATUS_ID: u64 = 109_000_000_000_000_001;
const FIRST_MEDIA_ID: u64 = 110_000_000_000_000_001;
const URL_LENGTH: usize = 23;
const VISIBILITIES: [&str; 4] = ["public", "unlisted", "private", "direct"];
const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
/// The largest thumbnail `app.bsky.embed.external` takes (its lexicon's maxSize).
const BLOB_LIMIT: usize = 1_000_000;
const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Media types the fake instance takes (a part of Mastodon's list).
const MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

struct StoredMedia {
    entity: Value,
    /// GETs left that answer 206.
    processing: u32,
    attached: bool,
}

struct StoredRecord {
    rkey: String,
    cid: String,
    value: Value,
}

/// Someone to study: a Mastodon account (statuses) or a Bluesky profile (feed items).
struct Author {
    /// acct or handle, lowercase.
    key: String,
    /// Account id or DID.
    id: String,
    profile: Value,
    posts: Vec<Value>,
}

fn st_len(id: &str) -> usize {
    id.parse::<usize>().unwrap_or(0)
}

struct State {
    base: String,
    authors: Vec<Author>,
    sign_in_only: bool,
    rate_remaining: Option<u64>,
    rate_reset: SystemTime,
    requests: Vec<Recorded>,
    canned: HashMap<String, VecDeque<Reply>>,
    holds: HashMap<String, usize>,
    /// (path, ordinal) of requests to hold, and to answer with a canned reply.
    holds_at: HashSet<(String, usize)>,
    canned_at: HashMap<(String, usize), Reply>,
    // Mastodon
    max_characters: u64,
    mastodon_revoked: bool,
    next_status_id: u64,
    statuses: Vec<Value>,
    idempotency: HashMap<String, Value>,
    ignore_spoiler: bool,
    no_unlisted: bool,
    media: Vec<StoredMedia>,
    media_processing: u32,
    image_size_limit: u64,
    // Bluesky
    handles: HashMap<String, String>,
    next_token: u64,
    /// Access token -> expired.
    access: HashMap<String, bool>,
    refresh: HashSet<String>,
    records: Vec<StoredRecord>,
    /// Uploaded blobs: (CID, MIME type, size).
    blobs: Vec<(String, String, usize)>,
    /// Pages and images served by `serve`: path -> (content type, body).
    pages: HashMap<String, (String, Vec<u8>)>,
    last_tid: u64,
    next_cid: u64,
    // Results: how often each post's counts were read, and the posts deleted.
    reads: HashMap<String, i64>,
    deleted: HashSet<String>,
}

impl State {
    fn new(base: String) -> State {
        State {
            base,
            authors: Vec::new(),
            sign_in_only: false,
            rate_remaining: None,
            rate_reset: UNIX_EPOCH,
            requests: Vec::new(),
            canned: HashMap::new(),
            holds: HashMap::new(),
            holds_at: HashSet::new(),
            canned_at: HashMap::new(),
            max_characters: 500,
            mastodon_revoked: false,
            next_status_id: FIRST_STATUS_ID,
            statuses: Vec::new(),
            idempotency: HashMap::new(),
            ignore_spoiler: false,
            no_unlisted: false,
            media: Vec::new(),
            media_processing: 1,
            image_size_limit: 16 * 1024 * 1024,
            handles: HashMap::from([(Fake::BSKY_HANDLE.to_string(), Fake::BSKY_DID.to_string())]),
            next_token: 1,
            access: HashMap::new(),
            refresh: HashSet::new(),
            records: Vec::new(),
            blobs: Vec::new(),
            pages: HashMap::new(),
            last_tid: 0,
            next_cid: 1,
            reads: HashMap::new(),
            deleted: HashSet::new(),
        }
    }

    /// Consumes one `hold_next` or `hold_request` for `path`, if any.
    fn take_hold(&mut self, path: &str) -> bool {
        let nth = self.requests.iter().filter(|r| r.path == path).count();
        if self.holds_at.remove(&(path.to_string(), nth)) {
            return true;
        }
        match self.holds.get_mut(path) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    // ---- Mastodon ----

    /// Runs `handler` when the request carries the (unrevoked) Mastodon token.
    fn mastodon(&mut self, req: &Recorded, handler: fn(&mut State, &Recorded) -> Reply) -> Reply {
        if self.mastodon_revoked || bearer(req) != Some(Fake::MASTODON_TOKEN) {
            let mut reply = mastodon_error(401, "The access token is invalid");
            reply.headers.push((
                "www-authenticate".into(),
                "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"The access token is invalid\"".into(),
            ));
            return reply;
        }
        handler(self, req)
    }

    fn instance(&mut self, _req: &Recorded) -> Reply {
        json_reply(
            200,
            json!({
                "domain": "127.0.0.1",
                "title": "Fake",
                "version": "4.3.0",
                "configuration": {
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": URL_LENGTH,
                    },
                    "media_attachments": {
                        "supported_mime_types": MEDIA_TYPES,
                        "image_size_limit": self.image_size_limit,
                        "image_matrix_limit": 33_177_600,
                        "video_size_limit": 103_809_024,
                        "video_frame_rate_limit": 120,
                        "video_matrix_limit": 8_294_400,
                    },
                },
            }),
        )
    }

    fn account(&self) -> Value {
        json!({
            "id": "1",
            "username": "alice",
            "acct": "alice",
            "display_name": "Alice",
            "followers_count": 200,
            "url": format!("{}/@alice", self.base),
        })
    }

    fn verify_credentials(&mut self, _req: &Recorded) -> Reply {
        json_reply(200, self.account())
    }

    fn create_status(&mut self, req: &Recorded) -> Reply {
        let key = req.header("idempotency-key").map(str::to_string);
        if let Some(status) = key.as_ref().and_then(|k| self.idempotency.get(k)) {
            return json_reply(200, status.clone());
        }
        let params = match mastodon_params(req) {
            Ok(params) => params,
            Err(reply) => return reply,
        };
        let text = param_str(&params, "status");
        let mut spoiler = param_str(&params, "spoiler_text");
        if self.ignore_spoiler {
            spoiler.clear();
        }
        let mut visibility = param_str(&params, "visibility");
        if visibility.is_empty() || (self.no_unlisted && visibility == "unlisted") {
            visibility = "public".into();
        }
        let media_ids: Vec<String> = match params.get("media_ids").or_else(|| params.get("media_ids[]")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => {
                ids.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()
            }
            Some(Value::String(id)) => vec![id.clone()],
            Some(other) => vec![other.to_string()],
        };
        if text.trim().is_empty() && media_ids.is_empty() {
            return mastodon_error(422, "Validation failed: Text can't be blank");
        }
        if media_ids.len() > 4 {
            return mastodon_error(422, "Cannot attach more than 4 files");
        }
        let mut attachments = Vec::new();
        for id in &media_ids {
            match self.media.iter().find(|m| m.entity["id"] == *id.as_str() && !m.attached) {
                None => return mastodon_error(422, "Validation failed: Media attachments are invalid"),
                Some(m) if m.entity["url"].is_null() => {
                    return mastodon_error(
                        422,
                        "Cannot attach files that have not finished processing. Try again in a moment!",
                    );
                }
                Some(m) => attachments.push(m.entity.clone()),
            }
        }
        if !VISIBILITIES.contains(&visibility.as_str()) {
            return mastodon_error(422, "Validation failed: Visibility is not included in the list");
        }
        let length = mastodon_length(&text) + spoiler.chars().count();
        if length as u64 > self.max_characters {
            let message =
                format!("Validation failed: Text character limit of {} exceeded", self.max_characters);
            return mastodon_error(422, &message);
        }
        let language = Some(param_str(&params, "language")).filter(|l| !l.is_empty());
        // A reply names the status it answers; an unknown one is 404, as Mastodon's set_thread answers.
        let in_reply_to = Some(param_str(&params, "in_reply_to_id")).filter(|r| !r.is_empty());
        if let Some(parent) = &in_reply_to
            && !self.statuses.iter().any(|s| s["id"] == *parent)
        {
            return mastodon_error(404, "The post you are trying to reply to does not appear to exist.");
        }
        let id = self.next_status_id.to_string();
        self.next_status_id += 1;
        let status = json!({
            "id": id,
            "created_at": rfc3339(SystemTime::now()),
            "uri": format!("{}/users/alice/statuses/{id}", self.base),
            "url": format!("{}/@alice/{id}", self.base),
            "visibility": visibility,
            "spoiler_text": spoiler,
            "sensitive": param_bool(&params, "sensitive") || !spoiler.is_empty(),
            "language": language,
            "in_reply_to_id": in_reply_to,
            "content": status_html(&text),
            "account": self.account(),
            "media_attachments": attachments,
        });
        for m in self.media.iter_mut().filter(|m| media_ids.iter().any(|id| m.entity["id"] == *id.as_str())) {
            m.attached = true;
            m.entity["status_id"] = json!(id);
        }
        self.statuses.push(status.clone());
        if let Some(key) = key {
            self.idempotency.insert(key, status.clone());
        }
        json_reply(200, status)
    }

    /// `GET /api/v1/accounts/:id/statuses`: the account's statuses, newest
    /// first, at most `limit` (default 20, at most 40); an unknown id is 404.
    fn account_statuses(&mut self, req: &Recorded) -> Reply {
        if req.path != "/api/v1/accounts/1/statuses" {
            return mastodon_error(404, "Record not found");
        }
        let limit = req.param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).clamp(1, 40);
        json_reply(200, Value::Array(self.statuses.iter().rev().take(limit).cloned().collect()))
    }

    /// `POST /api/v2/media`: a `multipart/form-data` body with `file` (and
    /// an optional `description`); 202 with `url` null while processing.
    fn create_media(&mut self, req: &Recorded) -> Reply {
        let content_type = req.header("content-type").unwrap_or_default().to_string();
        let Some(fields) = multipart_fields(&content_type, &req.raw) else {
            return mastodon_error(422, "Validation failed: File can't be blank");
        };
        let Some(file) = fields.iter().find(|f| f.name == "file" && f.filename.is_some()) else {
            return mastodon_error(422, "Validation failed: File can't be blank");
        };
        let kind = sniff_image(&file.value).unwrap_or("application/octet-stream");
        if !MEDIA_TYPES.contains(&kind) {
            return mastodon_error(422, &format!("Validation failed: File content type is invalid ({kind})"));
        }
        if file.value.len() as u64 > self.image_size_limit {
            return mastodon_error(
                422,
                &format!(
                    "Validation failed: File file size must be less than {} Bytes",
                    self.image_size_limit
                ),
            );
        }
        let description = fields
            .iter()
            .find(|f| f.name == "description")
            .map(|f| String::from_utf8_lossy(&f.value).into_owned());
        let id = (FIRST_MEDIA_ID + self.media.len() as u64).to_string();
        let url = format!("{}/media/{id}.{}", self.base, kind.trim_start_matches("image/"));
        let processing = self.media_processing;
        let entity = json!({
            "id": id,
            "type": "image",
            "url": if processing == 0 { Value::String(url) } else { Value::Null },
            "preview_url": format!("{}/media/{id}-small.png", self.base),
            "description": description,
            "meta": {},
            "blurhash": null,
            "status_id": null,
        });
        self.media.push(StoredMedia { entity: entity.clone(), processing, attached: false });
        json_reply(if processing == 0 { 200 } else { 202 }, entity)
    }

    /// `GET /api/v1/media/:id`: 206 while processing, then 200 with the `url`.
    fn get_media(&mut self, req: &Recorded) -> Reply {
        let id = req.path.trim_start_matches("/api/v1/media/").to_string();
        let base = self.base.clone();
        let Some(m) = self.media.iter_mut().find(|m| m.entity["id"] == *id.as_str() && !m.attached) else {
            return mastodon_error(404, "Record not found");
        };
        if m.processing > 0 {
            m.processing -= 1;
            return json_reply(206, m.entity.clone());
        }
        if m.entity["url"].is_null() {
            m.entity["url"] = json!(format!("{base}/media/{id}"));
        }
        json_reply(200, m.entity.clone())
    }

    /// `GET /api/v1/statuses/:id`: the status with its counts, which grow
    /// with every read (read N: N×3 favourites, N boosts, N−1 replies, one
    /// quote). Public statuses need no token, but a token that is sent must
    /// be valid (401 otherwise); a deleted or unknown status is 404
    /// `{"error":"Record not found"}`.
    fn get_status(&mut self, req: &Recorded) -> Reply {
        if bearer(req).is_some() && (self.mastodon_revoked || bearer(req) != Some(Fake::MASTODON_TOKEN)) {
            return mastodon_error(401, "The access token is invalid");
        }
        let id = req.path.trim_start_matches("/api/v1/statuses/").to_string();
        if self.deleted.contains(&id) {
            return mastodon_error(404, "Record not found");
        }
        let Some(mut status) = self.statuses.iter().find(|s| s["id"] == id.as_str()).cloned() else {
            return mastodon_error(404, "Record not found");
        };
        let n = self.reads.entry(id).or_insert(0);
        *n += 1;
        let n = *n;
        status["favourites_count"] = json!(n * 3);
        status["reblogs_count"] = json!(n);
        status["replies_count"] = json!(n - 1);
        status["quotes_count"] = json!(1);
        json_reply(200, status)
    }

    // ---- People to study ----

    /// Applies the rate limit: `Err` is the 429 once it is spent; `Ok` holds
    /// the headers every answer carries (Mastodon's or Bluesky's names).
    fn rate_limit(&mut self, bluesky: bool) -> Result<Vec<(String, String)>, Reply> {
        let Some(left) = self.rate_remaining else { return Ok(Vec::new()) };
        let reset_unix = self.rate_reset.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let after = left.saturating_sub(1);
        let headers = |remaining: u64| -> Vec<(String, String)> {
            if bluesky {
                vec![
                    ("ratelimit-limit".into(), "3000".into()),
                    ("ratelimit-remaining".into(), remaining.to_string()),
                    ("ratelimit-reset".into(), reset_unix.to_string()),
                    ("ratelimit-policy".into(), "3000;w=300".into()),
                ]
            } else {
                vec![
                    ("x-ratelimit-limit".into(), "300".into()),
                    ("x-ratelimit-remaining".into(), remaining.to_string()),
                    ("x-ratelimit-reset".into(), rfc3339(self.rate_reset)),
                ]
            }
        };
        if SystemTime::now() >= self.rate_reset {
            self.rate_remaining = None;
            return Ok(Vec::new());
        }
        if left == 0 {
            let mut reply = if bluesky {
                xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            } else {
                mastodon_error(429, "Too many requests")
            };
            reply.headers.extend(headers(0));
            return Err(reply);
        }
        self.rate_remaining = Some(after);
        Ok(headers(after))
    }

    /// Runs a public Mastodon `handler`: 401 without the token on a
    /// signed-in-only server, 429 once the rate limit is spent.
    fn public(&mut self, req: &Recorded, handler: fn(&mut State, &Recorded) -> Reply) -> Reply {
        if self.sign_in_only && bearer(req) != Some(Fake::MASTODON_TOKEN) {
            return mastodon_error(401, "This API requires an authenticated user");
        }
        match self.rate_limit(false) {
            Err(reply) => reply,
            Ok(headers) => {
                let mut reply = handler(self, req);
                reply.headers.extend(headers);
                reply
            }
        }
    }

    fn public_xrpc(&mut self, req: &Recorded, handler: fn(&mut State, &Recorded) -> Reply) -> Reply {
        match self.rate_limit(true) {
            Err(reply) => reply,
            Ok(headers) => {
                let mut reply = handler(self, req);
                reply.headers.extend(headers);
                reply
            }
        }
    }

    fn lookup(&mut self, req: &Recorded) -> Reply {
        let acct = req.param("acct").unwrap_or_default().trim_start_matches('@').to_ascii_lowercase();
        match self.authors.iter().find(|a| a.key == acct) {
            Some(a) => json_reply(200, a.profile.clone()),
            None => mastodon_error(404, "Record not found"),
        }
    }

    fn author_statuses(&mut self, req: &Recorded) -> Reply {
        let id = req.path.trim_start_matches("/api/v1/accounts/").trim_end_matches("/statuses").to_string();
        let Some(a) = self.authors.iter().find(|a| a.id == id) else {
            return mastodon_error(404, "Record not found");
        };
        let limit = req.param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).clamp(1, 40);
        let max_id = req.param("max_id").and_then(|m| m.parse::<u64>().ok());
        let page: Vec<Value> = a
            .posts
            .iter()
            .filter(|s| {
                max_id.is_none_or(|m| s["id"].as_str().and_then(|i| i.parse::<u64>().ok()).unwrap_or(0) < m)
            })
            .take(limit)
            .cloned()
            .collect();
        let mut reply = json_reply(200, Value::Array(page.clone()));
        if page.len() == limit
            && let Some(last) = page.last().and_then(|s| s["id"].as_str())
        {
            let next = format!("<{}{}?limit={limit}&max_id={last}>; rel=\"next\"", self.base, req.path);
            reply.headers.push(("link".into(), next));
        }
        reply
    }

    fn get_profile(&mut self, req: &Recorded) -> Reply {
        let actor = req.param("actor").unwrap_or_default().to_ascii_lowercase();
        if actor == Fake::BSKY_HANDLE || actor == Fake::BSKY_DID {
            return json_reply(
                200,
                json!({ "did": Fake::BSKY_DID, "handle": Fake::BSKY_HANDLE, "followersCount": 100 }),
            );
        }
        match self.authors.iter().find(|a| a.key == actor || a.id.to_ascii_lowercase() == actor) {
            Some(a) => json_reply(200, a.profile.clone()),
            None => invalid_request("Profile not found"),
        }
    }

    fn author_feed(&mut self, req: &Recorded) -> Reply {
        let actor = req.param("actor").unwrap_or_default().to_ascii_lowercase();
        let Some(a) = self.authors.iter().find(|a| a.key == actor || a.id.to_ascii_lowercase() == actor)
        else {
            return invalid_request("Profile not found");
        };
        let limit = req.param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(50).clamp(1, 100);
        let start =
            req.param("cursor").and_then(|c| c.strip_prefix("page:").and_then(|n| n.parse::<usize>().ok()));
        let start = start.unwrap_or(0);
        let page: Vec<Value> = a.posts.iter().skip(start).take(limit).cloned().collect();
        let mut body = json!({ "feed": page });
        if start + limit < a.posts.len() {
            body["cursor"] = json!(format!("page:{}", start + limit));
        }
        json_reply(200, body)
    }

    // ---- Bluesky ----

    /// `app.bsky.feed.getPosts?uris=…&uris=…` (app view, no auth): the post
    /// views of the posts that exist, in the order asked, each with counts
    /// that grow with every read (read N: N×2 likes, N reposts, N replies,
    /// N−1 quotes); more than 25 uris is 400 InvalidRequest.
    fn get_posts(&mut self, req: &Recorded) -> Reply {
        let uris: Vec<String> =
            parse_form(&req.query).into_iter().filter(|(k, _)| k == "uris").map(|(_, v)| v).collect();
        if uris.len() > 25 {
            return invalid_request("uris must not have more than 25 elements");
        }
        let mut posts = Vec::new();
        for uri in uris {
            let prefix = format!("at://{}/{POST_COLLECTION}/", Fake::BSKY_DID);
            let Some(rkey) = uri.strip_prefix(&prefix) else { continue };
            if self.deleted.contains(rkey) {
                continue;
            }
            let Some(record) = self.records.iter().find(|r| r.rkey == rkey) else { continue };
            let (cid, value) = (record.cid.clone(), record.value.clone());
            let n = self.reads.entry(rkey.to_string()).or_insert(0);
            *n += 1;
            let n = *n;
            posts.push(json!({
                "uri": uri,
                "cid": cid,
                "author": { "did": Fake::BSKY_DID, "handle": Fake::BSKY_HANDLE },
                "record": value,
                "likeCount": n * 2,
                "repostCount": n,
                "replyCount": n,
                "quoteCount": n - 1,
                "indexedAt": rfc3339(SystemTime::now()),
            }));
        }
        json_reply(200, json!({ "posts": posts }))
    }

    fn issue_tokens(&mut self) -> Value {
        let n = self.next_token;
        self.next_token += 1;
        let (access, refresh) = (format!("access-{n}"), format!("refresh-{n}"));
        self.access.insert(access.clone(), false);
        self.refresh.insert(refresh.clone());
        json!({
            "did": Fake::BSKY_DID,
            "handle": Fake::BSKY_HANDLE,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": true,
        })
    }

    /// Runs `handler` when the request carries a live access token.
    fn bluesky(&mut self, req: &Recorded, handler: fn(&mut State, &Recorded) -> Reply) -> Reply {
        match bearer(req).and_then(|token| self.access.get(token)) {
            None => xrpc_error(401, "AuthenticationRequired", "Authentication Required"),
            Some(true) => xrpc_error(400, "ExpiredToken", "Token has expired"),
            Some(false) => handler(self, req),
        }
    }

    fn create_session(&mut self, req: &Recorded) -> Reply {
        let input = match xrpc_input(req) {
            Ok(input) => input,
            Err(reply) => return reply,
        };
        let (identifier, password) = match (input_str(&input, "identifier"), input_str(&input, "password")) {
            (Ok(i), Ok(p)) => (i, p),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        };
        let known = identifier.eq_ignore_ascii_case(Fake::BSKY_HANDLE) || identifier == Fake::BSKY_DID;
        if !known || password != Fake::BSKY_PASSWORD {
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password");
        }
        json_reply(200, self.issue_tokens())
    }

    fn refresh_session(&mut self, req: &Recorded) -> Reply {
        match bearer(req) {
            None => xrpc_error(401, "AuthenticationRequired", "Authentication Required"),
            Some(token) if self.refresh.remove(token) => json_reply(200, self.issue_tokens()),
            Some(_) => xrpc_error(400, "ExpiredToken", "Token has expired"),
        }
    }

    fn get_session(&mut self, _req: &Recorded) -> Reply {
        json_reply(200, json!({ "did": Fake::BSKY_DID, "handle": Fake::BSKY_HANDLE, "active": true }))
    }

    fn is_own_repo(repo: &str) -> bool {
        repo == Fake::BSKY_DID || repo.eq_ignore_ascii_case(Fake::BSKY_HANDLE)
    }

    fn create_record(&mut self, req: &Recorded) -> Reply {
        let input = match xrpc_input(req) {
            Ok(input) => input,
            Err(reply) => return reply,
        };
        let (repo, collection) = match (input_str(&input, "repo"), input_str(&input, "collection")) {
            (Ok(r), Ok(c)) => (r, c),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        };
        if !State::is_own_repo(&repo) {
            return invalid_request(&format!("Invalid repo: {repo}"));
        }
        if collection != POST_COLLECTION {
            return invalid_request(&format!("Invalid collection: {collection}"));
        }
        let rkey = match input.get("rkey") {
            None | Some(Value::Null) => None,
            Some(Value::String(rkey)) if is_tid(rkey) => Some(rkey.clone()),
            Some(_) => return invalid_request("Invalid record key"),
        };
        let Some(record) = input.get("record") else {
            return invalid_request("Input must have the property \"record\"");
        };
        if let Err(reply) = check_post(record) {
            return reply;
        }
        // A thumbnail or image must be a blob this repository holds, of the type it was uploaded as.
        let images = record.pointer("/embed/images").and_then(Value::as_array).cloned().unwrap_or_default();
        let blobs =
            record.pointer("/embed/external/thumb").into_iter().chain(images.iter().map(|i| &i["image"]));
        for blob in blobs {
            let cid = blob.pointer("/ref/$link").and_then(Value::as_str).unwrap_or("");
            let mime = blob.get("mimeType").and_then(Value::as_str).unwrap_or("");
            if !self.blobs.iter().any(|(c, m, _)| c == cid && m == mime) {
                return invalid_post(&format!("Could not find blob: {cid}"));
            }
        }
        let rkey = match rkey {
            Some(rkey) if self.records.iter().any(|r| r.rkey == rkey) => {
                return xrpc_error(500, "InternalServerError", "Internal Server Error");
            }
            Some(rkey) => rkey,
            None => loop {
                let rkey = self.next_tid();
                if !self.records.iter().any(|r| r.rkey == rkey) {
                    break rkey;
                }
            },
        };
        let cid = self.next_cid();
        let commit = json!({ "cid": self.next_cid(), "rev": self.next_tid() });
        let uri = format!("at://{}/{POST_COLLECTION}/{rkey}", Fake::BSKY_DID);
        self.records.push(StoredRecord { rkey, cid: cid.clone(), value: record.clone() });
        json_reply(200, json!({ "uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid" }))
    }

    fn get_record(&mut self, req: &Recorded) -> Reply {
        let mut params = Vec::new();
        for name in ["repo", "collection", "rkey"] {
            match req.param(name) {
                Some(value) => params.push(value),
                None => return invalid_request(&format!("Params must have the property \"{name}\"")),
            }
        }
        let [repo, collection, rkey] = [&params[0], &params[1], &params[2]];
        if !State::is_own_repo(repo) {
            return invalid_request(&format!("Could not find repo: {repo}"));
        }
        let uri = format!("at://{}/{collection}/{rkey}", Fake::BSKY_DID);
        let found = self.records.iter().find(|r| collection == POST_COLLECTION && &r.rkey == rkey);
        match found {
            Some(r) => json_reply(200, json!({ "uri": uri, "cid": r.cid, "value": r.value })),
            None => xrpc_error(400, "RecordNotFound", &format!("Could not locate record: {uri}")),
        }
    }

    fn resolve_handle(&mut self, req: &Recorded) -> Reply {
        let Some(handle) = req.param("handle") else {
            return invalid_request("Params must have the property \"handle\"");
        };
        match self.handles.get(&handle.to_ascii_lowercase()) {
            Some(did) => json_reply(200, json!({ "did": did })),
            None => invalid_request("Unable to resolve handle"),
        }
    }

    /// `com.atproto.repo.uploadBlob`: the body is the blob, its Content-Type
    /// its MIME type; answers the blob reference records embed.
    fn upload_blob(&mut self, req: &Recorded) -> Reply {
        let mime = req.header("content-type").unwrap_or("").to_string();
        if req.raw.len() > BLOB_LIMIT {
            return xrpc_error(400, "BlobTooLarge", "This file is too large");
        }
        let cid = self.next_cid();
        self.blobs.push((cid.clone(), mime.clone(), req.raw.len()));
        let blob =
            json!({ "$type": "blob", "ref": { "$link": cid }, "mimeType": mime, "size": req.raw.len() });
        json_reply(200, json!({ "blob": blob }))
    }

    /// A fresh TID: microseconds since the epoch, 10 bits of clock id, strictly increasing.
    fn next_tid(&mut self) -> String {
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        let value = ((micros << 10) & (u64::MAX >> 1)).max(self.last_tid + 1);
        self.last_tid = value;
        (0..13).rev().map(|i| TID_ALPHABET[((value >> (i * 5)) & 31) as usize] as char).collect()
    }

    /// A unique CID-looking string (`bafyrei` and 52 base32 characters).
    fn next_cid(&mut self) -> String {
        let n = self.next_cid;
        self.next_cid += 1;
        let mut x = n ^ 0x9e37_79b9_7f4a_7c15;
        let mut cid = String::from("bafyrei");
        for _ in 0..39 {
            x = splitmix64(x);
            cid.push(BASE32_ALPHABET[(x >> 59) as usize] as char);
        }
        // The counter in the last 13 characters keeps every CID unique.
        cid.extend((0..13).rev().map(|i| BASE32_ALPHABET[((n >> (i * 5)) & 31) as usize] as char));
        cid
    }
}

/// The one routing function: what each (method, path) does.
fn route(st: &mut State, req: &Recorded) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v2/instance") => st.instance(req),
        ("POST", "/api/v2/media") => st.mastodon(req, State::create_media),
        ("GET", p) if p.starts_with("/api/v1/media/") => st.mastodon(req, State::get_media),
        ("GET", "/api/v1/accounts/verify_credentials") => st.mastodon(req, State::verify_credentials),
        ("POST", "/api/v1/statuses") => st.mastodon(req, State::create_status),
        ("GET", "/api/v1/accounts/lookup") => st.public(req, State::lookup),
        ("GET", "/api/v1/accounts/1/statuses") => st.mastodon(req, State::account_statuses),
        ("GET", p) if p.starts_with("/api/v1/accounts/") && p.ends_with("/statuses") => {
            st.public(req, State::author_statuses)
        }
        ("GET", p) if p.starts_with("/api/v1/statuses/") => st.get_status(req),
        ("GET", "/xrpc/app.bsky.feed.getPosts") => st.get_posts(req),
        ("GET", "/xrpc/app.bsky.actor.getProfile") => st.public_xrpc(req, State::get_profile),
        ("GET", "/xrpc/app.bsky.feed.getAuthorFeed") => st.public_xrpc(req, State::author_feed),
        ("POST", "/xrpc/com.atproto.server.createSession") => st.create_session(req),
        ("POST", "/xrpc/com.atproto.server.refreshSession") => st.refresh_session(req),
        ("GET", "/xrpc/com.atproto.server.getSession") => st.bluesky(req, State::get_session),
        ("POST", "/xrpc/com.atproto.repo.createRecord") => st.bluesky(req, State::create_record),
        ("GET", "/xrpc/com.atproto.repo.getRecord") => st.get_record(req),
        ("GET", "/xrpc/com.atproto.identity.resolveHandle") => st.resolve_handle(req),
        ("POST", "/xrpc/com.atproto.repo.uploadBlob") => st.bluesky(req, State::upload_blob),
        ("GET", p) if st.pages.contains_key(p) => {
            let (kind, body) = st.pages[p].clone();
            Reply { status: 200, headers: vec![("content-type".into(), kind)], body }
        }
        _ => xrpc_error(404, "MethodNotImplemented", "Method Not Implemented"),
    }
}

async fn serve(listener: std::net::TcpListener, state: Shared, mut shutdown: oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("fake server listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

async fn handle(state: Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        raw: body.to_vec(),
        at: Instant::now(),
    };
    let (reply, hold) = {
        let mut st = lock(&state);
        st.requests.push(recorded.clone());
        let nth = st.requests.iter().filter(|r| r.path == recorded.path).count();
        let at = st.canned_at.remove(&(recorded.path.clone(), nth));
        match at.or_else(|| st.canned.get_mut(&recorded.path).and_then(VecDeque::pop_front)) {
            Some(canned) => (canned, false),
            None => {
                let hold = st.take_hold(&recorded.path);
                (route(&mut st, &recorded), hold)
            }
        }
    };
    if hold {
        // Applied, never answered: the connection hangs until either side drops it.
        std::future::pending::<()>().await;
    }
    Ok(reply.into_response())
}

// ---- Request helpers ----

/// The token of `Authorization: Bearer TOKEN`.
fn bearer(req: &Recorded) -> Option<&str> {
    let (scheme, token) = req.header("authorization")?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Mastodon's parameters: the query, then a JSON or form body on top.
fn mastodon_params(req: &Recorded) -> Result<Map<String, Value>, Reply> {
    let mut params: Map<String, Value> =
        parse_form(&req.query).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let content_type = req.header("content-type").unwrap_or_default().to_ascii_lowercase();
    if content_type.contains("json") {
        match serde_json::from_str::<Value>(&req.body) {
            Ok(Value::Object(body)) => params.extend(body),
            _ => return Err(mastodon_error(400, "Error occurred while parsing request parameters")),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(parse_form(&req.body).into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    Ok(params)
}

fn param_str(params: &Map<String, Value>, name: &str) -> String {
    match params.get(name) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Rails' notion of a true parameter.
fn param_bool(params: &Map<String, Value>, name: &str) -> bool {
    match params.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "1" | "t" | "true" | "on"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// The JSON object input of an XRPC procedure.
fn xrpc_input(req: &Recorded) -> Result<Map<String, Value>, Reply> {
    let Some(content_type) = req.header("content-type") else {
        return Err(invalid_request("Request encoding (Content-Type) required but not provided"));
    };
    if !content_type.to_ascii_lowercase().starts_with("application/json") {
        return Err(invalid_request(&format!("Wrong request encoding (Content-Type): {content_type}")));
    }
    match serde_json::from_str::<Value>(&req.body) {
        Ok(Value::Object(input)) => Ok(input),
        Ok(_) => Err(invalid_request("Input must be an object")),
        Err(e) => Err(invalid_request(&format!("Invalid JSON body: {e}"))),
    }
}

fn input_str(input: &Map<String, Value>, name: &str) -> Result<String, Reply> {
    match input.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid_request(&format!("Input/{name} must be a string"))),
        None => Err(invalid_request(&format!("Input must have the property \"{name}\""))),
    }
}

/// `application/x-www-form-urlencoded` pairs (also query strings), decoded.
fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` and `+`; a malformed escape is kept as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One field of a `multipart/form-data` body.
struct FormField {
    name: String,
    filename: Option<String>,
    value: Vec<u8>,
}

/// The fields of a `multipart/form-data` body (RFC 7578), or None when it is not one.
fn multipart_fields(content_type: &str, body: &[u8]) -> Option<Vec<FormField>> {
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return None;
    }
    let boundary = content_type.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?;
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
    };
    let mut fields = Vec::new();
    let mut at = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(fields);
        }
        let head_start = at + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]).into_owned();
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), head_end + 4)?;
        let disposition = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
        let param = |key: &str| {
            disposition
                .split(';')
                .find_map(|p| p.trim().strip_prefix(key).map(|v| v.trim_matches('"').to_string()))
        };
        fields.push(FormField {
            name: param("name=")?,
            filename: param("filename="),
            value: body[head_end + 4..next].to_vec(),
        });
        at = next + 2 + delimiter.len();
    }
}

/// The MIME type of an image by its first bytes, as Mastodon's upload checks it.
fn sniff_image(b: &[u8]) -> Option<&'static str> {
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

// ---- Mastodon text ----

/// The length Mastodon counts: characters, with each URL as 23 and
/// `@user@domain` as `@user`.
fn mastodon_length(text: &str) -> usize {
    text.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let word = piece.trim_end_matches(char::is_whitespace);
            word_length(word) + piece[word.len()..].chars().count()
        })
        .sum()
}

fn word_length(word: &str) -> usize {
    let start = word.find(|c: char| c.is_alphanumeric() || c == '@').unwrap_or(word.len());
    let (prefix, rest) = word.split_at(start);
    let prefix_len = prefix.chars().count();
    if let Some(tail) = url_tail(rest) {
        return prefix_len + URL_LENGTH + tail.chars().count();
    }
    match mention_length(rest) {
        Some(n) => prefix_len + n,
        None => word.chars().count(),
    }
}

/// For a word that is a URL, the punctuation after it.
fn url_tail(word: &str) -> Option<&str> {
    let after_scheme = word.strip_prefix("https://").or_else(|| word.strip_prefix("http://"))?;
    let scheme_len = word.len() - after_scheme.len();
    let end = word.trim_end_matches(['.', ',', ':', ';', '!', '?', ')', ']', '}', '\'', '"']).len();
    (end > scheme_len).then(|| &word[end..])
}

/// The counted length of a word that is a remote mention `@user@domain`.
fn mention_length(word: &str) -> Option<usize> {
    let (user, rest) = word.strip_prefix('@')?.split_once('@')?;
    let name_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '-');
    if user.is_empty() || !user.chars().all(name_char) {
        return None;
    }
    let domain_end = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
    let domain = rest[..domain_end].trim_end_matches(['.', '-']);
    if domain.is_empty() {
        return None;
    }
    Some(1 + user.chars().count() + rest[domain.len()..].chars().count())
}

/// Plain text as Mastodon renders it: escaped, paragraphs on blank lines, `<br />` within.
fn status_html(text: &str) -> String {
    let escaped = text
        .replace("\r\n", "\n")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let paragraphs: Vec<String> = escaped
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br />")))
        .collect();
    if paragraphs.is_empty() { "<p></p>".into() } else { paragraphs.concat() }
}

// ---- Bluesky records ----

/// Checks an `app.bsky.feed.post` record as the PDS's lexicon validation does.
fn check_post(record: &Value) -> Result<(), Reply> {
    let Some(record) = record.as_object() else {
        return Err(invalid_post("Record must be an object"));
    };
    match record.get("$type") {
        Some(Value::String(t)) if t == POST_COLLECTION => {}
        Some(Value::String(t)) => {
            return Err(invalid_request(&format!("Invalid $type: expected {POST_COLLECTION}, got {t}")));
        }
        _ => return Err(invalid_post("Record/$type must be a string")),
    }
    let text = match record.get("text") {
        Some(Value::String(text)) => text,
        Some(_) => return Err(invalid_post("Record/text must be a string")),
        None => return Err(invalid_post("Record must have the property \"text\"")),
    };
    if text.len() > 3000 {
        return Err(invalid_post("Record/text must not be longer than 3000 bytes"));
    }
    if min_graphemes(text) > 300 {
        return Err(invalid_post("Record/text must not be longer than 300 graphemes"));
    }
    match record.get("createdAt") {
        Some(Value::String(at)) if is_datetime(at) => {}
        Some(_) => {
            return Err(invalid_post(
                "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
            ));
        }
        None => return Err(invalid_post("Record must have the property \"createdAt\"")),
    }
    if let Some(facets) = record.get("facets") {
        check_facets(text, facets)?;
    }
    if let Some(embed) = record.get("embed") {
        if embed["$type"] == "app.bsky.embed.images" {
            check_images(embed)?;
        } else {
            check_external(embed)?;
        }
    }
    if let Some(reply) = record.get("reply") {
        check_reply(reply)?;
    }
    Ok(())
}

fn check_facets(text: &str, facets: &Value) -> Result<(), Reply> {
    let Some(facets) = facets.as_array() else {
        return Err(invalid_post("Record/facets must be an array"));
    };
    for (i, facet) in facets.iter().enumerate() {
        let start = facet.pointer("/index/byteStart").and_then(Value::as_u64);
        let end = facet.pointer("/index/byteEnd").and_then(Value::as_u64);
        let fits = |n: u64| usize::try_from(n).is_ok_and(|n| n <= text.len() && text.is_char_boundary(n));
        let valid = matches!((start, end), (Some(s), Some(e)) if s < e && fits(s) && fits(e));
        if !valid {
            return Err(invalid_request("Invalid facet index"));
        }
        if !facet.get("features").is_some_and(Value::is_array) {
            return Err(invalid_post(&format!("Record/facets/{i} must have the property \"features\"")));
        }
    }
    Ok(())
}

/// An `app.bsky.embed.external`: `external` with string `uri`, `title` and
/// `description`, and an optional `thumb` blob of an image of at most 1,000,000 bytes.
fn check_external(embed: &Value) -> Result<(), Reply> {
    if embed["$type"] != "app.bsky.embed.external" {
        return Err(invalid_post("Record/embed has an unknown $type"));
    }
    for field in ["uri", "title", "description"] {
        if !embed["external"].get(field).is_some_and(Value::is_string) {
            return Err(invalid_post(&format!("Record/embed/external must have the property \"{field}\"")));
        }
    }
    if let Some(thumb) = embed["external"].get("thumb") {
        let image = thumb["mimeType"].as_str().is_some_and(|m| m.starts_with("image/"));
        let size = thumb["size"].as_u64().unwrap_or(u64::MAX);
        if thumb["$type"] != "blob" || !image || size > BLOB_LIMIT as u64 {
            return Err(invalid_post(
                "Record/embed/external/thumb must be an image blob of at most 1000000 bytes",
            ));
        }
    }
    Ok(())
}

/// An `app.bsky.embed.images`: 1 to 4 `images`, each an `image` blob of an
/// image of at most 1,000,000 bytes, a string `alt`, and an optional
/// `aspectRatio` of positive whole `width` and `height`.
fn check_images(embed: &Value) -> Result<(), Reply> {
    let Some(images) = embed.get("images").and_then(Value::as_array) else {
        return Err(invalid_post("Record/embed must have the property \"images\""));
    };
    if images.is_empty() || images.len() > 4 {
        return Err(invalid_post("Record/embed/images must not have more than 4 elements"));
    }
    for (i, img) in images.iter().enumerate() {
        let blob = &img["image"];
        let image = blob["mimeType"].as_str().is_some_and(|m| m.starts_with("image/"));
        let size = blob["size"].as_u64().unwrap_or(u64::MAX);
        if blob["$type"] != "blob" || !image || size > BLOB_LIMIT as u64 {
            return Err(invalid_post(&format!(
                "Record/embed/images/{i}/image must be an image blob of at most 1000000 bytes"
            )));
        }
        if !img.get("alt").is_some_and(Value::is_string) {
            return Err(invalid_post(&format!("Record/embed/images/{i} must have the property \"alt\"")));
        }
        if let Some(ratio) = img.get("aspectRatio") {
            let ok = ["width", "height"].iter().all(|k| ratio[k].as_u64().is_some_and(|n| n >= 1));
            if !ok {
                return Err(invalid_post(&format!(
                    "Record/embed/images/{i}/aspectRatio must have positive width and height"
                )));
            }
        }
    }
    Ok(())
}

fn check_reply(reply: &Value) -> Result<(), Reply> {
    for side in ["root", "parent"] {
        for field in ["uri", "cid"] {
            if !reply.get(side).and_then(|r| r.get(field)).is_some_and(Value::is_string) {
                return Err(invalid_post(&format!("Record/reply/{side} must have the property \"{field}\"")));
            }
        }
    }
    Ok(())
}

/// A TID record key: 13 base32-sortable characters, the first with the top bit clear.
fn is_tid(s: &str) -> bool {
    s.len() == 13
        && s.bytes().all(|b| TID_ALPHABET.contains(&b))
        && s.bytes().next().is_some_and(|b| TID_ALPHABET[..16].contains(&b))
}

/// An atproto datetime: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, not `-00:00`.
fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let matches_shape = b.len() > shape.len()
        && shape
            .iter()
            .zip(b)
            .all(|(want, got)| if *want == b'd' { got.is_ascii_digit() } else { want == got });
    if !matches_shape {
        return false;
    }
    let num = |from: usize| u32::from(b[from] - b'0') * 10 + u32::from(b[from + 1] - b'0');
    let in_range = (1..=12).contains(&num(5))
        && (1..=31).contains(&num(8))
        && num(11) < 24
        && num(14) < 60
        && num(17) <= 60;
    let mut rest = &s[shape.len()..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    let zone = match rest.as_bytes() {
        [b'Z'] => true,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) && !(*sign == b'-' && rest == "-00:00")
        }
        _ => false,
    };
    in_range && zone
}

/// A lower bound on the grapheme clusters in `text`: counts only characters that
/// always begin a cluster (ASCII, common letters and symbols, CJK, emoji) unless
/// the character before could join them. Never more than the true count, so a
/// text it finds over the limit is over it.
fn min_graphemes(text: &str) -> usize {
    let mut count = 0;
    let mut prev: Option<char> = None;
    for c in text.chars() {
        let joined = prev.is_some_and(|p| {
            (p == '\r' && c == '\n')
                || p == '\u{200D}'
                || may_prepend(p)
                || matches!(p, '\u{1100}'..='\u{115F}' | '\u{A960}'..='\u{A97C}')
        });
        if !joined && always_starts_cluster(c) {
            count += 1;
        }
        prev = Some(c);
    }
    count
}

/// Characters that are never Extend, SpacingMark, ZWJ or a regional indicator.
fn always_starts_cluster(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{2FF}'
        | '\u{370}'..='\u{482}'
        | '\u{48A}'..='\u{52F}'
        | '\u{5D0}'..='\u{5EA}'
        | '\u{621}'..='\u{64A}'
        | '\u{2010}'..='\u{2027}'
        | '\u{2030}'..='\u{205E}'
        | '\u{2100}'..='\u{23FF}'
        | '\u{2460}'..='\u{27BF}'
        | '\u{3000}'..='\u{3029}'
        | '\u{3030}'..='\u{3096}'
        | '\u{309B}'..='\u{30FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7A3}'
        | '\u{FF01}'..='\u{FF9D}'
        | '\u{1F300}'..='\u{1F3FA}'
        | '\u{1F400}'..='\u{1F64F}'
        | '\u{1F680}'..='\u{1F6FF}'
        | '\u{1F900}'..='\u{1F9FF}'
        | '\u{1FA70}'..='\u{1FAFF}')
}

/// Grapheme_Cluster_Break=Prepend characters, which join the character after them.
fn may_prepend(c: char) -> bool {
    matches!(c,
        '\u{600}'..='\u{605}'
        | '\u{6DD}'
        | '\u{70F}'
        | '\u{890}'..='\u{891}'
        | '\u{8E2}'
        | '\u{D4E}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{111C2}'..='\u{111C3}'
        | '\u{1193F}'
        | '\u{11941}'
        | '\u{11A3A}'
        | '\u{11A84}'..='\u{11A89}'
        | '\u{11D46}'
        | '\u{11F02}')
}

// ---- Small utilities ----

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// One raw HTTP/1.1 request; returns the status, the response headers and the body as JSON.
    fn call(
        fake: &Fake,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, Value) {
        let mut stream = TcpStream::connect(fake.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            fake.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_ascii_lowercase(), serde_json::from_str(body).unwrap_or(Value::Null))
    }

    const JSON: (&str, &str) = ("Content-Type", "application/json");
    const MASTODON_AUTH: (&str, &str) = ("Authorization", "Bearer mastodon-token-ok");

    fn post_status(fake: &Fake, key: Option<&str>, text: &str) -> (u16, String, Value) {
        let mut headers = vec![JSON, MASTODON_AUTH];
        if let Some(key) = key {
            headers.push(("Idempotency-Key", key));
        }
        call(fake, "POST", "/api/v1/statuses", &headers, &json!({ "status": text }).to_string())
    }

    fn session(fake: &Fake) -> Value {
        let input = json!({ "identifier": Fake::BSKY_HANDLE, "password": Fake::BSKY_PASSWORD });
        let (status, _, body) =
            call(fake, "POST", "/xrpc/com.atproto.server.createSession", &[JSON], &input.to_string());
        assert_eq!(status, 200, "{body}");
        body
    }

    fn create_post(fake: &Fake, access: &str, rkey: Option<&str>, text: &str) -> (u16, Value) {
        let mut input = json!({
            "repo": Fake::BSKY_DID,
            "collection": "app.bsky.feed.post",
            "record": { "$type": "app.bsky.feed.post", "text": text, "createdAt": "2025-01-02T03:04:05.678Z" },
        });
        if let Some(rkey) = rkey {
            input["rkey"] = json!(rkey);
        }
        let auth = format!("Bearer {access}");
        let headers = [JSON, ("Authorization", auth.as_str())];
        let (status, _, body) =
            call(fake, "POST", "/xrpc/com.atproto.repo.createRecord", &headers, &input.to_string());
        (status, body)
    }

    #[test]
    fn fake_status_with_same_idempotency_key_is_created_once() {
        let fake = Fake::start();
        let (s1, _, first) = post_status(&fake, Some("key-1"), "hello <world>");
        let (s2, _, second) = post_status(&fake, Some("key-1"), "hello <world>");
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(first["id"], "109000000000000001");
        assert_eq!(first["id"], second["id"]);
        assert_eq!(first["content"], "<p>hello &lt;world&gt;</p>");
        assert_eq!(fake.statuses().len(), 1);
        let (_, _, third) = post_status(&fake, Some("key-2"), "again");
        assert_eq!(third["id"], "109000000000000002");
        assert_eq!(fake.requests_to("/api/v1/statuses").len(), 3);
        assert_eq!(fake.requests_to("/api/v1/statuses")[1].header("Idempotency-Key"), Some("key-1"));
    }

    #[test]
    fn fake_fail_next_answers_canned_then_succeeds() {
        let fake = Fake::start();
        fake.fail_next("/api/v1/statuses", 503, &[("Retry-After", "7")], r#"{"error":"busy"}"#);
        let (status, head, body) = post_status(&fake, Some("k"), "hi");
        assert_eq!(status, 503);
        assert!(head.contains("retry-after: 7"), "{head}");
        assert_eq!(body["error"], "busy");
        assert!(fake.statuses().is_empty());
        let (status, _, body) = post_status(&fake, Some("k"), "hi");
        assert_eq!(status, 200, "{body}");
        assert_eq!(fake.statuses().len(), 1);
        assert_eq!(fake.wait_for("/api/v1/statuses", 2, Duration::from_secs(1)).len(), 2);
    }

    #[test]
    fn fake_mastodon_validation_and_revocation() {
        let fake = Fake::start();
        fake.set_max_characters(30);
        let (status, _, body) = post_status(&fake, None, "  ");
        assert_eq!((status, body["error"].as_str()), (422, Some("Validation failed: Text can't be blank")));
        // 6 + 23 for the URL = 29 fits; 8 + 23 = 31 does not.
        assert_eq!(post_status(&fake, None, "look: https://example.com/a/very/long/path").0, 200);
        let (status, _, body) = post_status(&fake, None, "look!!: https://example.com/a/very/long/path");
        assert_eq!(status, 422);
        assert_eq!(body["error"], "Validation failed: Text character limit of 30 exceeded");
        let (_, _, instance) = call(&fake, "GET", "/api/v2/instance", &[], "");
        assert_eq!(instance["configuration"]["statuses"]["max_characters"], 30);
        fake.revoke_mastodon_token();
        let (status, _, body) =
            call(&fake, "GET", "/api/v1/accounts/verify_credentials", &[MASTODON_AUTH], "");
        assert_eq!((status, body["error"].as_str()), (401, Some("The access token is invalid")));
    }

    #[test]
    fn fake_create_record_with_taken_rkey_answers_500() {
        let fake = Fake::start();
        let access = session(&fake)["accessJwt"].as_str().unwrap().to_string();
        let (status, body) = create_post(&fake, &access, Some("3jzfcijpj2z2a"), "first");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["uri"], format!("at://{}/app.bsky.feed.post/3jzfcijpj2z2a", Fake::BSKY_DID));
        let (status, body) = create_post(&fake, &access, Some("3jzfcijpj2z2a"), "second");
        assert_eq!((status, body["error"].as_str()), (500, Some("InternalServerError")));
        assert_eq!(fake.records().len(), 1);
        assert_eq!(fake.records()[0].1["text"], "first");
        let (status, body) = create_post(&fake, &access, None, "generated key");
        assert_eq!(status, 200, "{body}");
        assert!(is_tid(&fake.records()[1].0));
        let (status, _, got) = call(
            &fake,
            "GET",
            "/xrpc/com.atproto.repo.getRecord?repo=alice.test&collection=app.bsky.feed.post&rkey=3jzfcijpj2z2a",
            &[],
            "",
        );
        assert_eq!((status, got["value"]["text"].as_str()), (200, Some("first")));
        let (status, body) = create_post(&fake, &access, Some("not-a-tid"), "x");
        assert_eq!((status, body["message"].as_str()), (400, Some("Invalid record key")));
        let (status, body) = create_post(&fake, &access, None, &"a".repeat(301));
        assert_eq!((status, body["error"].as_str()), (400, Some("InvalidRequest")));
    }

    #[test]
    fn fake_expired_token_then_refresh_session() {
        let fake = Fake::start();
        let tokens = session(&fake);
        let access = tokens["accessJwt"].as_str().unwrap();
        let refresh = tokens["refreshJwt"].as_str().unwrap();
        fake.expire_access_tokens();
        let (status, body) = create_post(&fake, access, None, "hi");
        assert_eq!((status, body["error"].as_str()), (400, Some("ExpiredToken")));
        let auth = format!("Bearer {refresh}");
        let refresh_path = "/xrpc/com.atproto.server.refreshSession";
        let (status, _, fresh) = call(&fake, "POST", refresh_path, &[("Authorization", &auth)], "");
        assert_eq!(status, 200, "{fresh}");
        let (status, body) = create_post(&fake, fresh["accessJwt"].as_str().unwrap(), None, "hi");
        assert_eq!(status, 200, "{body}");
        let (status, _, body) = call(&fake, "POST", refresh_path, &[("Authorization", &auth)], "");
        assert_eq!((status, body["error"].as_str()), (400, Some("ExpiredToken")));
        let (status, body) = create_post(&fake, "nonsense", None, "hi");
        assert_eq!((status, body["error"].as_str()), (401, Some("AuthenticationRequired")));
    }

    #[test]
    fn fake_hold_next_applies_and_never_answers() {
        let fake = Fake::start();
        fake.hold_next("/api/v1/statuses");
        let mut stream = TcpStream::connect(fake.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let body = r#"{"status":"held"}"#;
        let request = format!(
            "POST /api/v1/statuses HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Authorization: Bearer mastodon-token-ok\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        assert!(stream.read(&mut buf).is_err(), "a held request must get no answer");
        assert_eq!(fake.statuses().len(), 1);
        assert_eq!(post_status(&fake, None, "next").0, 200);
    }

    #[test]
    fn fake_text_helpers() {
        assert_eq!(percent_decode("a%20b+c%2Fd%zz"), "a b c/d%zz");
        assert_eq!(mastodon_length("hi @bob@example.social!"), "hi @bob!".chars().count());
        assert_eq!(mastodon_length("(https://example.com/x)."), 1 + 23 + 2);
        assert_eq!(min_graphemes("e\u{301}👍🏽👨\u{200D}👩\r\n"), 4);
        assert!(is_datetime("2025-01-02T03:04:05Z") && is_datetime("2025-01-02T03:04:05.123+01:00"));
        assert!(!is_datetime("2025-01-02 03:04:05Z") && !is_datetime("2025-01-02T03:04:05-00:00"));
        assert!(!is_datetime("2025-01-02T03:04:05"));
        assert!(is_datetime(&rfc3339(SystemTime::now())));
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_250)), "2000-02-29T00:00:00.250Z");
    }
}
