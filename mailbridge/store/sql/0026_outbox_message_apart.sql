-- Issue 14: an outgoing message's bytes in a table of their own, written once, as the
-- inbound log's raw bytes (0025). Its outbox row changes three times after it is
-- queued (its VERP sender, its lease, sent), and SQLite wrote the whole row each time,
-- the composed message included: a moderation email of some 20 KB, four times.
CREATE TABLE outbox_messages (
    outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
    message   BLOB NOT NULL  -- the composed RFC 5322 message
);
INSERT INTO outbox_messages (outbox_id, message) SELECT id, message FROM outbox;
ALTER TABLE outbox DROP COLUMN message;
