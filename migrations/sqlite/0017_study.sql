-- Learning from the people you follow.
--
-- The server to ask about a follow, when it is not the one its handle names
-- ('' = https://DOMAIN for Mastodon, the public app view for Bluesky).
ALTER TABLE follows ADD COLUMN server TEXT NOT NULL DEFAULT '';

-- One row per follow on Mastodon or Bluesky: the fetch queue (a `study` row
-- of the schedule fires and marks it pending; the study task claims it
-- under a lease and fetches outside any transaction) and what the last
-- fetch learned about the person.
CREATE TABLE study_people (
    follow_id        INTEGER PRIMARY KEY REFERENCES follows (id) ON DELETE CASCADE,
    state            TEXT    NOT NULL DEFAULT 'idle',   -- idle | pending | fetching
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    tries            INTEGER NOT NULL DEFAULT 0,
    remote_id        TEXT    NOT NULL DEFAULT '',       -- Mastodon account id, Bluesky DID
    display_name     TEXT    NOT NULL DEFAULT '',
    followers        INTEGER,                           -- NULL: the network did not say
    fetched_at       INTEGER,
    last_error       TEXT    NOT NULL DEFAULT '',
    looked_at        INTEGER,                           -- when you last ran `clout study` on them
    looked_followers INTEGER
);
CREATE INDEX study_people_due ON study_people (state, next_attempt_at);

-- Their recent public posts. looked_total is likes + reposts + replies +
-- quotes when you last looked (NULL: not seen yet).
CREATE TABLE study_posts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    follow_id     INTEGER NOT NULL REFERENCES follows (id) ON DELETE CASCADE,
    remote_id     TEXT    NOT NULL,
    url           TEXT    NOT NULL DEFAULT '',
    posted_at     INTEGER NOT NULL,
    excerpt       TEXT    NOT NULL DEFAULT '',
    likes         INTEGER NOT NULL DEFAULT 0,
    reposts       INTEGER NOT NULL DEFAULT 0,
    replies       INTEGER NOT NULL DEFAULT 0,
    quotes        INTEGER NOT NULL DEFAULT 0,
    is_thread     INTEGER NOT NULL DEFAULT 0,
    is_reply      INTEGER NOT NULL DEFAULT 0,
    has_images    INTEGER NOT NULL DEFAULT 0,
    first_seen_at INTEGER NOT NULL,
    looked_total  INTEGER,
    UNIQUE (follow_id, remote_id)
);
CREATE INDEX study_posts_time ON study_posts (follow_id, posted_at);

-- Your own accounts' follower counts, read by the same task, so your results
-- can be set against the people you follow per 1,000 followers.
CREATE TABLE study_self (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    followers  INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL
);
