-- Publishing: accounts on open networks, and each draft's publication on each
-- account it names. Secrets are never stored here: secret_file names a file
-- (mode 0600) read when the secret is needed; accounts declared in the config
-- file keep their secret there.
CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    network     TEXT    NOT NULL,               -- mastodon | bluesky
    server      TEXT    NOT NULL,               -- instance or PDS URL
    handle      TEXT    NOT NULL DEFAULT '',
    secret_file TEXT    NOT NULL DEFAULT '',
    from_config INTEGER NOT NULL DEFAULT 0,
    remote_id   TEXT    NOT NULL DEFAULT '',    -- account id or DID
    max_length  INTEGER NOT NULL DEFAULT 0,     -- 0: the network's default
    checked_at  INTEGER,
    check_error TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

ALTER TABLE drafts ADD COLUMN visibility TEXT NOT NULL DEFAULT '';
ALTER TABLE drafts ADD COLUMN content_warning TEXT NOT NULL DEFAULT '';
ALTER TABLE drafts ADD COLUMN language TEXT NOT NULL DEFAULT '';

-- One row per draft and account. idem_key is fixed when the row is made: the
-- Mastodon Idempotency-Key or the Bluesky record key, so every retry of the
-- same publication carries the same key. The account's name and network are
-- kept so the history outlives the account.
CREATE TABLE publications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id        INTEGER NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    account_id      INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    account_name    TEXT    NOT NULL,
    network         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'waiting', -- waiting | pending | publishing | published | failed
    idem_key        TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,    -- every try, ever
    tries           INTEGER NOT NULL DEFAULT 0,    -- tries since the draft came due (or was retried)
    next_attempt_at INTEGER,
    started_at      INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER,
    url             TEXT    NOT NULL DEFAULT '',
    remote_id       TEXT    NOT NULL DEFAULT '',
    last_error      TEXT    NOT NULL DEFAULT '',
    published_at    INTEGER,
    UNIQUE (draft_id, account_name)
);
CREATE INDEX publications_due ON publications (state, next_attempt_at);

CREATE TABLE publish_attempts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
    at             INTEGER NOT NULL,
    outcome        TEXT    NOT NULL,               -- published | retry | failed | interrupted
    http_status    INTEGER NOT NULL DEFAULT 0,
    message        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX publish_attempts_publication ON publish_attempts (publication_id);
