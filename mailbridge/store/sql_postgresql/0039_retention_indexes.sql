-- Housekeeping's retentions delete by age, every hour (mailbridge.housekeeping).
-- mail_events had no index on received_at: the retention's batch read every event
-- (100,000 events: a whole-table scan each hour, 50 ms on SQLite, for nothing once the
-- old ones are gone); now it reads the old ones alone.
CREATE INDEX mail_events_by_time ON mail_events (received_at);
-- An outbox row goes once no bounce names it (mailbridge.store.outbox_retention): the
-- check, and the foreign key's own check on each deleted row, read bounces by
-- outbox_id, which no index had (a whole-table read per row deleted).
CREATE INDEX bounces_by_outbox ON bounces (outbox_id);
