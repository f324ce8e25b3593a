-- The program: purpose, goals, zone, and the pause switch. Exactly one row.
CREATE TABLE program (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    purpose             TEXT    NOT NULL DEFAULT 'learn',  -- learn | influence
    posts_per_week      INTEGER NOT NULL DEFAULT 0,
    engagements_per_day INTEGER NOT NULL DEFAULT 0,
    tz                  TEXT    NOT NULL DEFAULT '',       -- IANA zone; '' = the daemon's local zone
    paused              INTEGER NOT NULL DEFAULT 0,
    paused_at           INTEGER,
    updated_at          INTEGER NOT NULL DEFAULT 0
);
INSERT INTO program (id) VALUES (1);

-- Posting slots, each a schedule read in the program's zone.
CREATE TABLE slots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    spec       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- A draft placed in a slot (clout draft add --queue) can be shuffled.
ALTER TABLE drafts ADD COLUMN slotted INTEGER NOT NULL DEFAULT 0;

-- Engagement tasks: recurring (spec) or once (once_at).
CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    body       TEXT    NOT NULL,
    spec       TEXT,
    tz         TEXT    NOT NULL,
    about      TEXT    NOT NULL DEFAULT '',
    once_at    INTEGER,
    removed_at INTEGER,
    created_at INTEGER NOT NULL
);

-- Each fired occurrence of a task and what became of it.
CREATE TABLE task_occurrences (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    state       TEXT    NOT NULL,  -- due | done | skipped | missed
    fired_at    INTEGER,
    resolved_at INTEGER,
    late        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (task_id, due_at)
);
CREATE INDEX task_occurrences_state ON task_occurrences (task_id, state);

-- People to learn from.
CREATE TABLE follows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    handle     TEXT    NOT NULL,
    platform   TEXT    NOT NULL,
    why        TEXT    NOT NULL DEFAULT '',
    topic      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (handle, platform)
);

ALTER TABLE nudges ADD COLUMN task_id INTEGER;
