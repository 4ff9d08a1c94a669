-- Issue 14: a received message's raw bytes in a table of their own, written once.
-- In the inbound log's row they were rewritten by every later change to it (the
-- outcome, a redelivery's count): SQLite writes a changed row whole, so a reply
-- carrying an 8 MB photo wrote some 59 MB in all and held the one writer for 70 ms while
-- its outcome was set (bench/large_reply_bench.py, docs/performance.md).
CREATE TABLE inbound_raw (
    inbound_id INTEGER PRIMARY KEY REFERENCES inbound_messages(id) ON DELETE CASCADE,
    raw        BLOB NOT NULL
);
INSERT INTO inbound_raw (inbound_id, raw)
    SELECT id, raw FROM inbound_messages WHERE raw IS NOT NULL;
ALTER TABLE inbound_messages DROP COLUMN raw;
