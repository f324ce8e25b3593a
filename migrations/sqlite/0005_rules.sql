-- Nudges a person has seen (clout nudge ack / snooze).
ALTER TABLE nudges ADD COLUMN acked_at INTEGER;

-- What to do when an item came due while cloutd was down or the queue was
-- paused: catch-up | skip | next-slot | ask; NULL follows the config's default.
ALTER TABLE drafts ADD COLUMN missed_policy TEXT;
ALTER TABLE tasks ADD COLUMN missed_policy TEXT;
