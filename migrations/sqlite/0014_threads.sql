-- Threads: a draft's first part stays in `body`; the parts after it, in
-- order, are a JSON array of strings here ('[]' for a single post).
ALTER TABLE drafts ADD COLUMN thread TEXT NOT NULL DEFAULT '[]';
-- 1: no link card on Bluesky (`--no-card`).
ALTER TABLE drafts ADD COLUMN no_card INTEGER NOT NULL DEFAULT 0;

-- Each part of a publication that the server confirmed, kept as soon as it is
-- confirmed: a thread cut off half-way resumes after the last part here and
-- never posts a part again. idem_key is the part's own key (the Mastodon
-- Idempotency-Key or the Bluesky record key), derived from the publication's.
-- cid is the Bluesky record's CID, which the next part's reply reference needs.
CREATE TABLE publication_parts (
    publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,               -- 0 is the first part
    idem_key       TEXT    NOT NULL,
    remote_id      TEXT    NOT NULL,
    cid            TEXT    NOT NULL DEFAULT '',
    url            TEXT    NOT NULL DEFAULT '',
    published_at   INTEGER NOT NULL,
    PRIMARY KEY (publication_id, position)
);

-- What the server made differently from what was asked (a dropped content
-- warning, another visibility); empty when it made what was asked.
ALTER TABLE publications ADD COLUMN differences TEXT NOT NULL DEFAULT '';

-- Set when an attempt's outcome is not known (cut off, no answer): when that
-- attempt began. Before the next try cloutd looks on the server for a post
-- made since then, instead of trusting the server to remember the key.
ALTER TABLE publications ADD COLUMN unsure_since INTEGER;
