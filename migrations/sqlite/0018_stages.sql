-- Each change of the program's stage (its purpose: learn → influence or back),
-- with the date it changed, for the review.
CREATE TABLE stage_changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    from_purpose TEXT    NOT NULL,
    to_purpose   TEXT    NOT NULL,
    changed_at   INTEGER NOT NULL
);
CREATE INDEX stage_changes_at ON stage_changes (changed_at);
