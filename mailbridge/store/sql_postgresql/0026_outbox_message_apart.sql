-- An outgoing message's bytes in a table of their own, written once (see sql/0026).
CREATE TABLE outbox_messages (
    outbox_id BIGINT PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
    message   BYTEA NOT NULL
);
INSERT INTO outbox_messages (outbox_id, message) SELECT id, message FROM outbox;
ALTER TABLE outbox DROP COLUMN message;
