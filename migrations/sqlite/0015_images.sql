-- Images: a draft's images, as a JSON array of
-- {part, sha256, mime, bytes, width, height, alt} (part 0 is the first part).
-- The bytes live in cloutd's media directory as <sha256>.<ext>.
ALTER TABLE drafts ADD COLUMN images TEXT NOT NULL DEFAULT '[]';

-- What a Mastodon instance takes (configuration.media_attachments of
-- GET /api/v2/instance), read when the account is added or checked:
-- 0 and '' mean not known, and Mastodon's defaults apply.
ALTER TABLE accounts ADD COLUMN image_size_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN image_types TEXT NOT NULL DEFAULT '';

-- Each image a server took for a publication, kept as soon as it answers:
-- Mastodon's media id, or the Bluesky blob reference (JSON). A retry after an
-- attempt was cut off reuses it instead of uploading again; sha256 names the
-- image it is, so an image changed since is uploaded anew.
CREATE TABLE publication_media (
    publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,               -- the part; 0 is the first
    idx            INTEGER NOT NULL,               -- the image within the part
    sha256         TEXT    NOT NULL,
    remote         TEXT    NOT NULL,
    uploaded_at    INTEGER NOT NULL,
    PRIMARY KEY (publication_id, position, idx)
);

-- On PostgreSQL, every daemon of a fleet reads the images of drafts another
-- daemon took: their bytes are kept here too, by SHA-256, and copied into a
-- daemon's media directory the first time it needs one. A single daemon on
-- SQLite keeps them in its media directory only, and leaves this table empty.
CREATE TABLE media (
    sha256     TEXT    PRIMARY KEY,
    mime       TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
