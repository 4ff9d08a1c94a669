-- mailbridge: foreign_keys off
-- Ids of the inbound log are never given twice. Since inbound.keep_days deletes old
-- rows, a log emptied by a quiet spell (no mail for keep_days) gave its deleted highest
-- id to the next message; a reply is filed as a comment named by that id
-- (comments.source_ref, unique in its thread), so a new reply on a thread that had a
-- comment filed from the deleted row was answered 250 and filed as nothing: the
-- commenter's words were lost, with "awaits moderation" said. As sql/0027 did for
-- addresses, comments and outbox: rebuilt with AUTOINCREMENT (the runner turns foreign
-- keys off around this transaction and checks them before it commits); the rows copied
-- with their ids start sqlite_sequence at max(id). Every index is created again.
CREATE TABLE new_inbound_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key   TEXT UNIQUE,
    stage       TEXT NOT NULL CHECK (stage IN ('rcpt', 'data')),
    message_id  TEXT,
    received_at TEXT NOT NULL,
    peer        TEXT NOT NULL,
    helo        TEXT NOT NULL,
    mail_from   TEXT NOT NULL,
    rcpt_to     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    headers     TEXT,
    address_id  INTEGER REFERENCES addresses(id),
    status      TEXT NOT NULL CHECK (status IN (
                    'received', 'accepted', 'held', 'rejected', 'dropped', 'bounce', 'refused',
                    'unsubscribed', 'postmaster')),
    reason      TEXT,
    detail      TEXT,
    checks      TEXT NOT NULL DEFAULT '{}',
    comment_id  INTEGER REFERENCES comments(id),
    deliveries  INTEGER NOT NULL DEFAULT 1,
    counted_as  TEXT
);
INSERT INTO new_inbound_messages (id, dedup_key, stage, message_id, received_at, peer, helo,
        mail_from, rcpt_to, size, headers, address_id, status, reason, detail, checks,
        comment_id, deliveries, counted_as)
    SELECT id, dedup_key, stage, message_id, received_at, peer, helo,
        mail_from, rcpt_to, size, headers, address_id, status, reason, detail, checks,
        comment_id, deliveries, counted_as
    FROM inbound_messages;
DROP TABLE inbound_messages;
ALTER TABLE new_inbound_messages RENAME TO inbound_messages;
CREATE INDEX inbound_by_time ON inbound_messages (received_at);
CREATE INDEX inbound_by_address ON inbound_messages (address_id, received_at);
CREATE INDEX inbound_by_status ON inbound_messages (status, reason);
CREATE INDEX inbound_by_comment ON inbound_messages (comment_id);
CREATE INDEX inbound_data_by_address ON inbound_messages (address_id, received_at, stage)
    WHERE stage = 'data';
CREATE INDEX inbound_by_counted_as ON inbound_messages (counted_as) WHERE counted_as IS NOT NULL;
