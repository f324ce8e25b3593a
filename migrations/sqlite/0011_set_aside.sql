-- Items whose firing kept failing (a row the daemon cannot read, say) are
-- moved here out of the due-index, so everything else keeps firing. A
-- fire_failed nudge names each; rescheduling the item takes it back.
CREATE TABLE set_aside (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    ref_id       INTEGER  NOT NULL,
    due_at       INTEGER  NOT NULL,
    error        TEXT    NOT NULL,
    failures     INTEGER  NOT NULL,
    set_aside_at INTEGER  NOT NULL,
    UNIQUE (kind, ref_id)
);

-- Leases on schedule rows were never used: PostgreSQL's row locks
-- (FOR UPDATE SKIP LOCKED) hold a row while one daemon fires it.
ALTER TABLE schedule DROP COLUMN lease_owner;
ALTER TABLE schedule DROP COLUMN lease_until;
