-- A received message's raw bytes in a table of their own, written once (see sql/0025).
CREATE TABLE inbound_raw (
    inbound_id BIGINT PRIMARY KEY REFERENCES inbound_messages(id) ON DELETE CASCADE,
    raw        BYTEA NOT NULL
);
INSERT INTO inbound_raw (inbound_id, raw)
    SELECT id, raw FROM inbound_messages WHERE raw IS NOT NULL;
ALTER TABLE inbound_messages DROP COLUMN raw;
