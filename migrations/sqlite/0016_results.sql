-- Results of your own posts. Each post cloutd published, or that the person
-- recorded with a Mastodon or Bluesky URL, is followed here; the due-index
-- holds one `result` row per followed post (ref_id = result_posts.id) at
-- its next snapshot time. Firing that row only queues the post (state
-- 'queued'); a fetcher claims queued posts under a lease, fetches the counts
-- outside any transaction and records a snapshot.

-- Bluesky: the app view that answers app.bsky.feed.getPosts ('' = the public one).
ALTER TABLE accounts ADD COLUMN appview TEXT NOT NULL DEFAULT '';

CREATE TABLE result_posts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id      INTEGER NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    account_id    INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    account_name  TEXT    NOT NULL DEFAULT '',
    network       TEXT    NOT NULL,                 -- mastodon | bluesky
    server        TEXT    NOT NULL DEFAULT '',      -- Mastodon: the instance that holds the status
    remote_id     TEXT    NOT NULL,                 -- Mastodon status id | Bluesky at:// URI
    url           TEXT    NOT NULL DEFAULT '',
    published_at  INTEGER NOT NULL,
    step          INTEGER NOT NULL DEFAULT 0,       -- scheduled snapshots taken so far
    state         TEXT    NOT NULL DEFAULT 'tracking', -- tracking | queued | fetching | done | deleted
    queued_by     TEXT    NOT NULL DEFAULT '',      -- schedule | refresh
    lease_owner   TEXT,
    lease_until   INTEGER,
    failures      INTEGER NOT NULL DEFAULT 0,       -- failed fetches in a row
    last_error    TEXT    NOT NULL DEFAULT '',
    last_error_at INTEGER,
    deleted_at    INTEGER,
    UNIQUE (draft_id, network, remote_id)
);
CREATE INDEX result_posts_state ON result_posts (state);

-- The counts of one post at one time. quotes is NULL where the network
-- gives none.
CREATE TABLE result_snapshots (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id  INTEGER NOT NULL REFERENCES result_posts (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    likes    INTEGER NOT NULL,
    reposts  INTEGER NOT NULL,
    replies  INTEGER NOT NULL,
    quotes   INTEGER,
    UNIQUE (post_id, at)
);
