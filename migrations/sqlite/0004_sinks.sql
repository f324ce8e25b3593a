-- Sinks: where nudges are delivered (webhook, command hook, desktop).
-- Each reads the nudge log with its own durable cursor (the id of the last
-- nudge delivered or skipped by its filter).
CREATE TABLE sinks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,              -- webhook | command | desktop
    target          TEXT    NOT NULL DEFAULT '',   -- URL or program
    args            TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    format          TEXT    NOT NULL DEFAULT 'json', -- json | ntfy | slack
    kinds           TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings; empty = every nudge
    cursor          INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    failures        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL
);
