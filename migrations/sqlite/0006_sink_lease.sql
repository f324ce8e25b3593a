-- Several daemons on one database deliver each sink through one daemon at a
-- time: the daemon that delivers holds the sink's lease and renews it after
-- each nudge; when it dies the lease runs out and another daemon takes over.
ALTER TABLE sinks ADD COLUMN lease_owner TEXT;
ALTER TABLE sinks ADD COLUMN lease_until INTEGER;
