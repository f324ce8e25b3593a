-- The queue and the status read the schedule by kind in time order.
CREATE INDEX schedule_kind_due ON schedule (kind, due_at);
