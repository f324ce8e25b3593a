-- Instants are Unix milliseconds (UTC) in INTEGER columns, the same on every backend.

CREATE TABLE drafts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    title         TEXT    NOT NULL DEFAULT '',
    body          TEXT    NOT NULL,
    platforms     TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    tags          TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    state         TEXT    NOT NULL,              -- draft | scheduled | due | published | skipped
    scheduled_at  INTEGER,
    fired_at      INTEGER,
    late          INTEGER NOT NULL DEFAULT 0,
    published_at  INTEGER,
    published_url TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX drafts_state ON drafts (state);

-- The one due-index: everything that happens at a time is a row here.
-- A row exists while its item is pending; firing deletes or advances it.
CREATE TABLE schedule (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,   -- post
    ref_id      INTEGER NOT NULL,   -- drafts.id for a post
    due_at      INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    UNIQUE (kind, ref_id)
);
CREATE INDEX schedule_due ON schedule (due_at);

-- The durable nudge log. item_key names the occurrence that fired, so one
-- occurrence can never enter the log twice.
CREATE TABLE nudges (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    due_at   INTEGER NOT NULL,
    fired_at INTEGER NOT NULL,
    draft_id INTEGER,
    late     INTEGER NOT NULL DEFAULT 0,
    item_key TEXT    NOT NULL UNIQUE
);
