-- Import matches records already present by their creation time (and text):
-- these indexes keep that a range read instead of a scan.
CREATE INDEX drafts_created ON drafts (created_at);
CREATE INDEX tasks_created ON tasks (created_at);
CREATE INDEX setbacks_created ON setbacks (created_at);
