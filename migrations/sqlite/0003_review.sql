-- Setbacks, and the lessons drawn from them.
CREATE TABLE setbacks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    body       TEXT    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    draft_id   INTEGER,
    task_id    INTEGER,
    created_at INTEGER NOT NULL
);

-- A lesson resurfaces on a spaced schedule (stage 0: after 1 day, 1: 1 week,
-- 2: 1 month, 3 and later: every 6 months); its schedule row has kind 'lesson'.
CREATE TABLE lessons (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    setback_id  INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    stage       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX lessons_setback ON lessons (setback_id);

-- For reviews: what was published when, and what was done when.
CREATE INDEX drafts_published ON drafts (published_at);
CREATE INDEX task_occurrences_resolved ON task_occurrences (state, resolved_at);
