-- The outcome mailbridge_messages_received_total counts a message under: its first
-- one, set once and never changed (mailbridge.store.inbound.set_outcome). The
-- counter read the row's status, which changes: a message answered 451 counted as
-- 'received' was counted again under its outcome when processed, and 'received'
-- went down, as did 'held' or 'rejected' for a message reprocessed into another
-- outcome; Prometheus reads a counter going down as a reset.
ALTER TABLE inbound_messages ADD COLUMN counted_as TEXT;
UPDATE inbound_messages SET counted_as = status WHERE status <> 'received';
-- Read at each scrape, grouped: from this index, as the status's count was from
-- inbound_by_status, not by reading every row (headers and all). Partial: a message
-- not processed yet adds nothing to it.
CREATE INDEX inbound_by_counted_as ON inbound_messages (counted_as) WHERE counted_as IS NOT NULL;
